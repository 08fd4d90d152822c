-- Each dossier's conversation between its candidate and the service concours
-- (services::messages). A message's file is an attachment of the reserved pièce code
-- '_message' (no exam's code can hold '_'): checked, stored, scanned and served as
-- pièces are. A correction request is the service's message that names pièces and a
-- date; the pièces it reopens are kept on the dossier's row (below).
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    dossier_id TEXT NOT NULL REFERENCES dossiers (id) ON DELETE CASCADE,
    author TEXT NOT NULL,
    staff_id TEXT REFERENCES staff (id),
    body TEXT NOT NULL,
    attachment_id TEXT,
    -- A correction request: the pièces' codes (comma-separated) and until when.
    pieces TEXT,
    until_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX messages_dossier ON messages (dossier_id, created_at);

-- The pièces a closed dossier takes files for again, as JSON
-- ([{"piece", "until", "reason"}]): read with the dossier, so deciding whether a file
-- may change costs no query more.
ALTER TABLE dossiers ADD COLUMN corrections TEXT;
