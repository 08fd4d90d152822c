-- Scans that reached clamd but got no verdict (a timeout, a lost answer): after a few,
-- the file is « erreur d'analyse », and until then it goes after the files that never
-- failed, so one file clamd cannot finish never holds up the others.
ALTER TABLE attachments ADD COLUMN scan_attempts BIGINT NOT NULL DEFAULT 0;
