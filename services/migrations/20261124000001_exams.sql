-- One migration folder for SQLite and PostgreSQL: portable types only (TEXT, BIGINT),
-- natural keys instead of auto-increment, instants as milliseconds since the epoch.

CREATE TABLE exams (
    slug TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('concours', 'examen_professionnel')),
    session TEXT NOT NULL,
    -- Comma-separated voie codes, in the order the exam offers them.
    voies TEXT NOT NULL,
    -- Last day of registration (AAAA-MM-JJ) and the instant it closes: midnight
    -- Europe/Paris at the end of that day. Both are kept so SQL can compare instants.
    deadline_day TEXT NOT NULL,
    closes_at BIGINT NOT NULL,
    instruction_cutoff TEXT NOT NULL,
    published BIGINT NOT NULL DEFAULT 1 CHECK (published IN (0, 1)),
    updated_at BIGINT NOT NULL
);

CREATE TABLE pieces (
    exam_slug TEXT NOT NULL REFERENCES exams (slug) ON DELETE CASCADE,
    code TEXT NOT NULL,
    position BIGINT NOT NULL,
    label TEXT NOT NULL,
    help TEXT NOT NULL,
    requirement TEXT NOT NULL CHECK (requirement IN ('mandatory', 'may_follow', 'optional')),
    voies TEXT NOT NULL,
    condition TEXT,
    kinds TEXT NOT NULL,
    max_size_bytes BIGINT NOT NULL,
    max_files BIGINT NOT NULL,
    PRIMARY KEY (exam_slug, code)
);
