-- The service's checklist: each pièce of a dossier marked « conforme » or « à
-- corriger » by an agent (the last mark counts; the journal keeps them all).
CREATE TABLE piece_checks (
    dossier_id TEXT NOT NULL REFERENCES dossiers (id) ON DELETE CASCADE,
    piece_code TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('conforme', 'a-corriger')),
    staff_id TEXT NOT NULL REFERENCES staff (id),
    at BIGINT NOT NULL,
    PRIMARY KEY (dossier_id, piece_code)
);
