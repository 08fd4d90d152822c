-- A candidate's message the service read and that needs no answer (« marquer comme
-- traité »): no longer « sans réponse » in the lists.
ALTER TABLE messages ADD COLUMN handled_at BIGINT;
