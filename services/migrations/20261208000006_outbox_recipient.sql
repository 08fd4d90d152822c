-- The followers' mails about files are limited per recipient and half hour: that
-- check runs on each file a followed dossier takes, so it reads an index, never the
-- whole outbox.
CREATE INDEX outbox_recipient ON outbox (recipient, created_at);
