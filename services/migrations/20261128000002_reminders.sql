-- The reminder mailed two days before the deadline to a dossier not yet closed: when
-- it was claimed for sending (NULL until then). Claiming is a conditional update, so
-- several server instances never send it twice.
ALTER TABLE dossiers ADD COLUMN reminded_at BIGINT;
