-- The instruction of closed dossiers by the service concours: the review of the pièces
-- (complete, or incomplete with the missing items), the decision's reason, and a
-- reopening that lets the candidate add or replace files until an instant.
ALTER TABLE dossiers ADD COLUMN review TEXT CHECK (review IN ('complete', 'incomplete'));
ALTER TABLE dossiers ADD COLUMN review_note TEXT;
ALTER TABLE dossiers ADD COLUMN decision_reason TEXT;
ALTER TABLE dossiers ADD COLUMN decided_at BIGINT;
ALTER TABLE dossiers ADD COLUMN reopened_until BIGINT;
