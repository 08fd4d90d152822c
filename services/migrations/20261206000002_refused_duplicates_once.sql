-- A refused préinscription is kept once per (exam, identity, e-mail address), with how
-- many times and when last: someone retrying, or a script, adds no row.
CREATE TABLE refused_duplicates_once (
    id TEXT PRIMARY KEY,
    exam_slug TEXT NOT NULL REFERENCES exams (slug) ON DELETE CASCADE,
    identity_key TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT NOT NULL,
    first_at BIGINT NOT NULL,
    at BIGINT NOT NULL,
    times BIGINT NOT NULL
);
INSERT INTO refused_duplicates_once (id, exam_slug, identity_key, name, email, phone, first_at, at, times)
    SELECT MIN(id), exam_slug, identity_key, MAX(name), email, MAX(phone), MIN(at), MAX(at), COUNT(*)
    FROM refused_duplicates GROUP BY exam_slug, identity_key, email;
DROP TABLE refused_duplicates;
ALTER TABLE refused_duplicates_once RENAME TO refused_duplicates;
CREATE UNIQUE INDEX refused_duplicates_one ON refused_duplicates (exam_slug, identity_key, email);
CREATE INDEX refused_duplicates_at ON refused_duplicates (at);
