-- Exams edited in the browser by the service concours. An exam's `source` says where
-- it is defined: its file (imported at every start) or the service's form, after which
-- its file no longer overwrites it.
ALTER TABLE exams ADD COLUMN source TEXT NOT NULL DEFAULT 'file';

-- What a staff member typed in the exam form and has not saved yet (a refused or
-- checked form), so the page shows it again after the redirect, on any instance.
CREATE TABLE exam_drafts (
    staff_id TEXT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    -- The exam's slug, or '' for a new exam.
    target TEXT NOT NULL,
    form TEXT NOT NULL,
    message TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (staff_id, target)
);
