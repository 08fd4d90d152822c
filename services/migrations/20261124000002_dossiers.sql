-- Dossiers (one candidate's registration for one exam: also the espace sécurisé
-- account, whose identifiant is the dossier number), wizard drafts, sessions, login
-- failures and password-reset tokens. Secrets are stored only as SHA-256 or argon2id.

CREATE TABLE dossiers (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    exam_slug TEXT NOT NULL REFERENCES exams (slug),
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'accepted', 'rejected')),
    -- Lowercased birth name + first names + birth date: one dossier per person per exam.
    identity_key TEXT NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    -- Every answer of the préinscription, as JSON (the typed Registration).
    answers TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    closed_at BIGINT,
    UNIQUE (exam_slug, identity_key)
);

CREATE INDEX dossiers_email_key ON dossiers (email_key);

-- One draft per browser and exam: starting another exam's préinscription keeps this one.
CREATE TABLE drafts (
    token_hash TEXT NOT NULL,
    exam_slug TEXT NOT NULL REFERENCES exams (slug) ON DELETE CASCADE,
    -- The raw answers typed so far and the messages of the last check, as JSON.
    answers TEXT NOT NULL,
    errors TEXT NOT NULL,
    password_hash TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (token_hash, exam_slug)
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    dossier_id TEXT NOT NULL REFERENCES dossiers (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX sessions_dossier ON sessions (dossier_id);

CREATE TABLE login_failures (
    scope TEXT NOT NULL,
    at BIGINT NOT NULL
);

CREATE INDEX login_failures_scope ON login_failures (scope, at);

CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    dossier_id TEXT NOT NULL REFERENCES dossiers (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
