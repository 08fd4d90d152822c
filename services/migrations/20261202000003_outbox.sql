-- Mails promised by what happened, written in the same transaction, sent by the
-- periodic pass (services::outbox). kind 'text' carries its subject and body; kind
-- 'receipt' is the accusé de réception, made from the closed dossier when it is sent.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT,
    dossier_id TEXT,
    created_at BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    sent_at BIGINT,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox (sent_at, due_at);
CREATE INDEX outbox_dossier ON outbox (dossier_id);
