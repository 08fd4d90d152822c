-- Files deposited for a pièce. The file is written to storage first and this row is
-- committed after: a crash in between leaves an orphan file (swept), never a row
-- without its file.
CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    dossier_id TEXT NOT NULL REFERENCES dossiers (id) ON DELETE CASCADE,
    piece_code TEXT NOT NULL,
    -- Random name in storage; the candidate's file name is display metadata only.
    storage_key TEXT NOT NULL UNIQUE,
    original_name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('pdf', 'jpeg')),
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX attachments_dossier ON attachments (dossier_id, piece_code);
