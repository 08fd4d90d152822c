-- « Suivi par »: the agents who follow a dossier (themselves, or assigned by a
-- colleague). The lists filter on « mes dossiers »; the followers hear by mail when
-- the candidate writes or sends a file.
CREATE TABLE dossier_followers (
    dossier_id TEXT NOT NULL REFERENCES dossiers (id) ON DELETE CASCADE,
    staff_id TEXT NOT NULL REFERENCES staff (id),
    since BIGINT NOT NULL,
    PRIMARY KEY (dossier_id, staff_id)
);
CREATE INDEX dossier_followers_staff ON dossier_followers (staff_id);
