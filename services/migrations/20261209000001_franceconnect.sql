-- FranceConnect: flows in progress, certified drafts and dossiers, sessions that end
-- at the provider too.

-- One sign-in at the provider in progress: its state (hashed) and nonce, the browser it
-- is bound to (the hash of its cookie), what it is for. Deleted when the provider comes
-- back (single use) or after ten minutes.
CREATE TABLE franceconnect_flows (
    state_hash TEXT PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    nonce TEXT NOT NULL,
    -- 'connexion', 'inscription', 'lien', or 'choix' (a verified identity choosing
    -- among its dossiers: subject and id_token then set).
    purpose TEXT NOT NULL,
    exam_slug TEXT,
    dossier_id TEXT,
    subject TEXT,
    id_token TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX franceconnect_flows_created ON franceconnect_flows (created_at);

-- A préinscription started with FranceConnect: the pairwise subject and the certified
-- identity (JSON), whose fields the wizard locks.
ALTER TABLE drafts ADD COLUMN franceconnect_sub TEXT;
ALTER TABLE drafts ADD COLUMN certified TEXT;
-- The id_token of that sign-in: the dossier's first session ends at the provider too.
ALTER TABLE drafts ADD COLUMN franceconnect_id_token TEXT;

-- A dossier created with FranceConnect ('inscription') or linked to it ('lien'): its
-- pairwise subject, when, and the identity FranceConnect gave (JSON, for staff).
ALTER TABLE dossiers ADD COLUMN franceconnect_sub TEXT;
ALTER TABLE dossiers ADD COLUMN franceconnect_via TEXT;
ALTER TABLE dossiers ADD COLUMN franceconnect_at BIGINT;
ALTER TABLE dossiers ADD COLUMN certified TEXT;
-- One FranceConnect identity, one dossier per exam.
CREATE UNIQUE INDEX dossiers_franceconnect ON dossiers (franceconnect_sub, exam_slug);

-- The id_token of a session opened through FranceConnect, for its logout there.
ALTER TABLE sessions ADD COLUMN franceconnect_id_token TEXT;
