-- Attempts are counted before they are evaluated (see services::throttle): each row is
-- one attempt in one scope, the attempt's id ties its rows together so that a refused
-- or forgiven attempt can be taken back. Replaces login_failures.
DROP TABLE login_failures;

CREATE TABLE attempts (
    id TEXT NOT NULL,
    scope TEXT NOT NULL,
    at BIGINT NOT NULL
);

CREATE INDEX attempts_scope ON attempts (scope, at);
CREATE INDEX attempts_id ON attempts (id);
