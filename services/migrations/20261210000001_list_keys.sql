-- What the service's list searches, filters and sorts on, in columns beside the
-- answers (JSON), so that listing an exam of 50,000 dossiers reads no JSON: written with
-- the dossier (`dossiers::ListKeys`); rows made before this are filled at start-up
-- (`dossiers::fill_list_keys`), and read from their answers until then.
ALTER TABLE dossiers ADD COLUMN usage_key TEXT;
ALTER TABLE dossiers ADD COLUMN phone_key TEXT;
ALTER TABLE dossiers ADD COLUMN voie TEXT;
ALTER TABLE dossiers ADD COLUMN accommodation BIGINT NOT NULL DEFAULT 0;
