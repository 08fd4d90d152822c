-- The antivirus: each file's state (domain::antivirus::VirusScan's codes). Files
-- stored before there was one, or on a server without clamd, are « non analysé ».
ALTER TABLE attachments ADD COLUMN scan TEXT NOT NULL DEFAULT 'none';
-- The virus's name, or clamd's error.
ALTER TABLE attachments ADD COLUMN scan_detail TEXT;
ALTER TABLE attachments ADD COLUMN scanned_at BIGINT;
-- Until when one server is scanning it (the others leave it).
ALTER TABLE attachments ADD COLUMN scan_claimed_until BIGINT NOT NULL DEFAULT 0;

CREATE INDEX attachments_pending_scan ON attachments (created_at) WHERE scan = 'pending';
