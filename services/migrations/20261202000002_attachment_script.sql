-- A PDF that declares JavaScript is kept (a candidate must not be refused a form
-- exported by some tool), but staff are warned and it is never shown inline.
ALTER TABLE attachments ADD COLUMN script INTEGER NOT NULL DEFAULT 0;
