-- Every exam counted by stage (the staff's home) from this index alone, not from the
-- dossiers' rows and their answers: a Centre keeps several years of exams. The last
-- column is always NULL here; SQLite reads the index alone only if it names every
-- column the query does.
CREATE INDEX dossiers_stage_counts ON dossiers (exam_slug, status, review, withdrawn_at, corrections) WHERE corrections IS NULL;
