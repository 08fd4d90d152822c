-- A staff form the server refused (a date in the past, no pièce ticked): what the
-- agent typed, kept for the page that shows the refusal, so nothing is typed twice.
CREATE TABLE kept_forms (
    staff_id TEXT NOT NULL REFERENCES staff (id),
    dossier_id TEXT NOT NULL REFERENCES dossiers (id) ON DELETE CASCADE,
    form TEXT NOT NULL,
    fields TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (staff_id, dossier_id, form)
);
