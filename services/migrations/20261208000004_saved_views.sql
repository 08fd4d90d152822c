-- Saved views: a list of an exam's dossiers as an agent searched, filtered and sorted
-- it (its address, `app::staff::ListQuery`), named, for that agent only.
CREATE TABLE saved_views (
    id TEXT PRIMARY KEY,
    staff_id TEXT NOT NULL REFERENCES staff (id),
    exam_slug TEXT NOT NULL,
    name TEXT NOT NULL,
    -- Lowercased name: one view per name, agent and exam.
    name_key TEXT NOT NULL,
    query TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (staff_id, exam_slug, name_key)
);
