-- What the service's list searches, filters and sorts on, in columns beside the
-- answers (JSON), so that listing an exam of 50,000 dossiers reads no JSON: written with
-- the dossier (`dossiers::ListKeys`); rows made before this are filled at start-up
-- (`dossiers::fill_list_keys`), and read from their answers until then.
ALTER TABLE dossiers ADD COLUMN usage_key TEXT;
ALTER TABLE dossiers ADD COLUMN phone_key TEXT;
ALTER TABLE dossiers ADD COLUMN voie TEXT;
ALTER TABLE dossiers ADD COLUMN accommodation BIGINT NOT NULL DEFAULT 0;

-- An exam's dossiers in the order of their numbers (its list, its exports), without
-- reading the other exams' (a Centre keeps several years).
CREATE INDEX dossiers_exam_number ON dossiers (exam_slug, number);
-- The reminders' pass, every few minutes: the open dossiers not reminded yet, not a
-- scan of every dossier ever made.
CREATE INDEX dossiers_reminder_due ON dossiers (exam_slug) WHERE status = 'open' AND reminded_at IS NULL;
-- The files a list flags (infected, not analysed): a few rows, found without reading
-- every file row of the exam at each page.
CREATE INDEX attachments_flagged ON attachments (dossier_id) WHERE scan IN ('infected', 'pending', 'error');
