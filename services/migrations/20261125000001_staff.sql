-- The service concours: staff accounts (apart from candidates: a dossier is never a
-- staff account), their sessions, and the audit log of what staff do to dossiers.

CREATE TABLE staff (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    -- Lowercased address: the login identifier, whatever case is typed.
    email_key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE staff_sessions (
    token_hash TEXT PRIMARY KEY,
    staff_id TEXT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);

-- Who did what, when: every state change and every file download by staff. Rows are
-- only ever added.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    staff_id TEXT NOT NULL REFERENCES staff (id),
    dossier_id TEXT REFERENCES dossiers (id) ON DELETE CASCADE,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);

CREATE INDEX audit_log_dossier ON audit_log (dossier_id, at);
