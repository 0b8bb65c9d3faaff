-- Results back to the EMR (issue 17 item 5) and API tokens for FHIR system clients (item 6).

-- Whether completed follow-ups are queued for the EMR: one row, written at every start from
-- `[hl7.results]` (enabled when it names a target). Off, nothing is queued, so turning it on
-- later does not flood the EMR with the history.
CREATE TABLE hl7_results_switch (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    enabled  INTEGER NOT NULL CHECK (enabled IN (0, 1))
);
INSERT INTO hl7_results_switch (id, enabled) VALUES (1, 0);

-- The outbox: one row per completed follow-up task. The row is inserted by the trigger below
-- in the very transaction that completes the task, whichever path completes it (a nurse's
-- disposition, the call center's, a team review's close), so a completion is never committed
-- without its result queued. The message itself is built by the sender when it first takes the
-- row (`message` and `control_id` are then fixed: a retry resends the same bytes with the same
-- MSH-10, so the EMR can de-duplicate).
CREATE TABLE hl7_outbox (
    id               INTEGER PRIMARY KEY,
    task_id          INTEGER NOT NULL UNIQUE REFERENCES followup_tasks(id),
    patient_id       INTEGER NOT NULL REFERENCES patients(id),
    queued_at        INTEGER NOT NULL,
    kind             TEXT CHECK (kind IN ('ORU^R01', 'MDM^T02')),   -- set when built
    control_id       TEXT UNIQUE,                                  -- MSH-10 sent
    message          BLOB,                                         -- the message as sent
    status           TEXT NOT NULL CHECK (status IN ('queued', 'delivered', 'rejected')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,                                         -- why the last try failed
    ack_code         TEXT,                                         -- MSA-1 of the last ACK
    sent_at          INTEGER,                                      -- last try
    delivered_at     INTEGER
);
CREATE INDEX hl7_outbox_due ON hl7_outbox(next_attempt_at) WHERE status = 'queued';

CREATE TRIGGER hl7_outbox_on_completion
AFTER UPDATE OF status ON followup_tasks
WHEN NEW.status = 'completed' AND OLD.status <> 'completed'
     AND (SELECT enabled FROM hl7_results_switch WHERE id = 1) = 1
BEGIN
    INSERT OR IGNORE INTO hl7_outbox (task_id, patient_id, queued_at, status, next_attempt_at)
    VALUES (NEW.id, NEW.patient_id, NEW.updated_at, 'queued', NEW.updated_at);
END;

-- API tokens for system clients (the FHIR API): created by an admin, shown once, stored as
-- SHA-256 of the secret (the secret is 256 random bits, so a fast hash is enough), scoped to
-- the FHIR resource types it may read (space-separated, e.g. `Patient Observation`).
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_used_at INTEGER
);
