-- Personal data kept no longer than allowed: an exam's dossiers are erased
-- `retention_months` after its deadline (domain::Deadline::purges_at); what stays of
-- them is counted in exam_purges, with no one's name.
ALTER TABLE exams ADD COLUMN retention_months BIGINT NOT NULL DEFAULT 24;

CREATE TABLE exam_purges (
    exam_slug TEXT PRIMARY KEY REFERENCES exams (slug) ON DELETE CASCADE,
    -- The last pass that erased dossiers of the exam.
    at BIGINT NOT NULL,
    dossiers BIGINT NOT NULL,
    files BIGINT NOT NULL,
    -- Anonymous counts for the exam's statistics (services::dossiers::retention::Counts), JSON.
    counts TEXT NOT NULL
);

-- A désistement: the candidate withdrew the dossier (before the deadline) or the
-- service recorded their request to (after it).
ALTER TABLE dossiers ADD COLUMN withdrawn_at BIGINT;
