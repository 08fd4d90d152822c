-- A staff member who leaves the service is disabled, not deleted: the audit log keeps
-- naming who did what. NULL while the account may log in.
ALTER TABLE staff ADD COLUMN disabled_at BIGINT;
