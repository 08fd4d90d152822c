-- What the candidate did to the dossier's files, for its journal beside the staff's
-- audit_log: each file deposited or deleted, its name and SHA-256 kept even once the
-- file is gone (a correction's replaced file leaves a trace).
CREATE TABLE dossier_events (
    id TEXT PRIMARY KEY,
    dossier_id TEXT NOT NULL REFERENCES dossiers (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX dossier_events_dossier ON dossier_events (dossier_id, at);
