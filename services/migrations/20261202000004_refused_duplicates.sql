-- A préinscription refused because a dossier already exists for the same identity on
-- the same exam: kept so that staff, on the existing dossier, can reach the person who
-- was refused (their identity may have been used by someone else first).
CREATE TABLE refused_duplicates (
    id TEXT PRIMARY KEY,
    exam_slug TEXT NOT NULL REFERENCES exams (slug) ON DELETE CASCADE,
    identity_key TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX refused_duplicates_identity ON refused_duplicates (exam_slug, identity_key);
