-- The supervisor console (issue 7): quality review of calls.
-- A supervisor scores a call on a fixed rubric (0-2 per criterion: not done / partly / fully),
-- so scores compare across reviewers and months; re-reviewing a call adds a row (history kept),
-- and every review is also written to the audit log.
CREATE TABLE call_reviews (
    id                  INTEGER PRIMARY KEY,
    call_id             TEXT NOT NULL REFERENCES calls(id),
    reviewer_id         INTEGER NOT NULL REFERENCES users(id),
    identity_checked    INTEGER NOT NULL CHECK (identity_checked BETWEEN 0 AND 2),
    consent_announced   INTEGER NOT NULL CHECK (consent_announced BETWEEN 0 AND 2),
    script_followed     INTEGER NOT NULL CHECK (script_followed BETWEEN 0 AND 2),
    red_flags_handled   INTEGER NOT NULL CHECK (red_flags_handled BETWEEN 0 AND 2),
    communication       INTEGER NOT NULL CHECK (communication BETWEEN 0 AND 2),
    documentation       INTEGER NOT NULL CHECK (documentation BETWEEN 0 AND 2),
    comment             TEXT NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL
);
CREATE INDEX call_reviews_call ON call_reviews(call_id, created_at);

-- Reports and the recordings browser filter calls by start time and agent.
CREATE INDEX console_calls_started ON calls(started_at);
CREATE INDEX console_calls_agent ON calls(agent_id, started_at);
