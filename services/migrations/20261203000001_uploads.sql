-- Resumable uploads (tus 1.0): one row per upload under way. Its bytes wait in the
-- shared store under tus/{id}/, one object per PATCH (upload_parts), so a resumed
-- PATCH may reach any server; when the last byte arrives the parts are read back as
-- one file through the same checks as a form upload, and the row and parts go.
CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    dossier_id TEXT NOT NULL REFERENCES dossiers (id) ON DELETE CASCADE,
    piece_code TEXT NOT NULL,
    file_name TEXT NOT NULL,
    length BIGINT NOT NULL,
    received BIGINT NOT NULL DEFAULT 0,
    -- The first bytes (hex) until there are enough to tell the kind.
    head TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- Until when one server is turning the parts into a file (others leave it).
    finishing_until BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX uploads_dossier ON uploads (dossier_id, created_at);
CREATE INDEX uploads_expiry ON uploads (expires_at);

CREATE TABLE upload_parts (
    upload_id TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    start BIGINT NOT NULL,
    size BIGINT NOT NULL,
    storage_key TEXT NOT NULL,
    PRIMARY KEY (upload_id, start)
);
