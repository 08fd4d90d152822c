-- Export models: the columns of the dossiers' export, picked and ordered by an agent
-- and named (« Convocations », « Tiers-temps »), shared by the service.
CREATE TABLE export_models (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- Lowercased name: one model per name, whatever its case.
    name_key TEXT NOT NULL UNIQUE,
    -- The columns' codes, in order, separated by commas.
    columns TEXT NOT NULL,
    staff_id TEXT NOT NULL REFERENCES staff (id),
    updated_at BIGINT NOT NULL
);
