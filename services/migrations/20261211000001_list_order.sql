-- A list's length, and the rows of one status a stage filter reads (index only).
CREATE INDEX dossiers_exam_status ON dossiers (exam_slug, status);
-- The few dossiers with a correction request: their stage needs their files' dates,
-- found without reading every dossier.
CREATE INDEX dossiers_corrected ON dossiers (exam_slug) WHERE corrections IS NOT NULL;
