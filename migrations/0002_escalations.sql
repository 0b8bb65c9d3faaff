-- Escalations (issue 3): an abnormal answer must reach a doctor who acknowledges it.
-- Times are INTEGER Unix seconds, UTC. Enum columns hold the snake_case names used by
-- src/followup/escalation (Severity, Level, Status, Action).

-- Who is called, per department: the on-duty doctor, the backup and the head. Supervisors are
-- users with role 'supervisor'. Named groups and roles of script routes live in escalation_groups.
CREATE TABLE duty_roster (
    department_id  INTEGER NOT NULL REFERENCES departments(id),
    slot           TEXT NOT NULL CHECK (slot IN ('on_duty', 'backup', 'head')),
    user_id        INTEGER NOT NULL REFERENCES users(id),
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (department_id, slot)
) WITHOUT ROWID;

CREATE TABLE escalation_groups (
    kind     TEXT NOT NULL CHECK (kind IN ('group', 'role')),
    name     TEXT NOT NULL,
    user_id  INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (kind, name, user_id)
) WITHOUT ROWID;

CREATE TABLE escalations (
    id                 INTEGER PRIMARY KEY,
    patient_id         INTEGER NOT NULL REFERENCES patients(id),
    script_code        TEXT NOT NULL,
    rule_id            TEXT NOT NULL,
    department_code    TEXT NOT NULL,
    route              TEXT NOT NULL,          -- JSON of followup::script::Route
    severity           TEXT NOT NULL CHECK (severity IN ('routine', 'high', 'urgent', 'emergency')),
    ack_sla_minutes    INTEGER NOT NULL CHECK (ack_sla_minutes > 0),
    level              TEXT NOT NULL CHECK (level IN ('primary', 'backup', 'head', 'supervisor')),
    status             TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    ack_due_at         INTEGER NOT NULL,       -- the SLA timer: survives restarts
    opened_at          INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    acknowledged_by    INTEGER REFERENCES users(id),
    acknowledged_at    INTEGER,
    resolved_by        INTEGER REFERENCES users(id),
    resolved_at        INTEGER,
    resolution_action  TEXT CHECK (resolution_action IN
                           ('call_patient', 'advise_er', 'adjust_medication', 'book_visit', 'other')),
    resolution_note    TEXT,
    notified           TEXT NOT NULL,          -- JSON array of Notified
    evidence           TEXT NOT NULL           -- JSON array of EvidenceEntry
);
-- Same rule + same patient while unresolved → one escalation (backstop for the writer thread).
CREATE UNIQUE INDEX escalations_one_unresolved
    ON escalations(patient_id, script_code, rule_id) WHERE status != 'resolved';
CREATE INDEX escalations_due ON escalations(ack_due_at) WHERE status = 'open';
CREATE INDEX escalations_patient ON escalations(patient_id, opened_at);

-- Append-only history of each escalation (FHIR DetectedIssue + its mitigation over time).
CREATE TABLE escalation_events (
    id             INTEGER PRIMARY KEY,
    escalation_id  INTEGER NOT NULL REFERENCES escalations(id),
    kind           TEXT NOT NULL CHECK (kind IN
                       ('opened', 'updated', 'raised', 'reescalated', 'acknowledged', 'resolved')),
    actor_id       INTEGER REFERENCES users(id),
    detail         TEXT NOT NULL,              -- JSON
    at             INTEGER NOT NULL
);
CREATE INDEX escalation_events_escalation ON escalation_events(escalation_id, id);

-- Outbound webhook deliveries, with their visible log: retried with backoff, dead after N.
CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY,
    escalation_id    INTEGER NOT NULL REFERENCES escalations(id),
    event_id         INTEGER NOT NULL REFERENCES escalation_events(id),
    body             TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_http_status INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';
