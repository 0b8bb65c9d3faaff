-- SMS links to patients (issue 19): links per task, the SMS outbox, inbound SMS, opt-outs.

-- One link per task sent to its patient: `/f/<token>`. Only the token's SHA-256 is kept.
CREATE TABLE patient_links (
    id                 INTEGER PRIMARY KEY,
    token_hash         TEXT NOT NULL UNIQUE,
    patient_id         INTEGER NOT NULL REFERENCES patients(id),
    task_id            INTEGER NOT NULL REFERENCES followup_tasks(id),
    created_by         INTEGER REFERENCES users(id),
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    revoked_at         INTEGER,
    -- wrong identity answers so far; at sms.max_identity_failures the link locks
    identity_failures  INTEGER NOT NULL DEFAULT 0,
    locked_at          INTEGER,
    first_opened_at    INTEGER,
    verified_at        INTEGER,
    completed_at       INTEGER,
    reminded_at        INTEGER
);
CREATE INDEX patient_links_task ON patient_links(task_id);
CREATE INDEX patient_links_patient ON patient_links(patient_id);

-- A browser that passed a link's identity check: its cookie's SHA-256, for that link only.
CREATE TABLE patient_link_sessions (
    token_hash  TEXT PRIMARY KEY,
    link_id     INTEGER NOT NULL REFERENCES patient_links(id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

-- The durable outbox and the delivery state of every SMS sent. `body` holds the text with
-- the link; once smsbox accepted it the link's token is cut out of the stored copy.
CREATE TABLE sms_messages (
    id               INTEGER PRIMARY KEY,
    patient_id       INTEGER NOT NULL REFERENCES patients(id),
    link_id          INTEGER REFERENCES patient_links(id),
    kind             TEXT NOT NULL CHECK (kind IN ('link', 'reminder')),
    to_number        TEXT NOT NULL,
    body             TEXT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'queued'
                       CHECK (state IN ('queued', 'submitted', 'buffered', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    submitted_at     INTEGER,
    delivered_at     INTEGER,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX sms_messages_due ON sms_messages(state, next_attempt_at);
CREATE INDEX sms_messages_patient ON sms_messages(patient_id);

-- Every delivery report as it came (several per message, in any order).
CREATE TABLE sms_delivery_reports (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL REFERENCES sms_messages(id),
    code        TEXT NOT NULL,
    answer      TEXT,
    received_at INTEGER NOT NULL
);

-- SMS from patients (smsbox get-url). patient_id is NULL when the number is nobody's.
CREATE TABLE sms_inbound (
    id           INTEGER PRIMARY KEY,
    patient_id   INTEGER REFERENCES patients(id),
    from_number  TEXT NOT NULL,
    body         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('opt_out', 'reply')),
    received_at  INTEGER NOT NULL,
    read_at      INTEGER
);
CREATE INDEX sms_inbound_patient ON sms_inbound(patient_id);

-- Patients who answered TD/STOP/退订: no SMS goes to them.
CREATE TABLE sms_opt_outs (
    patient_id     INTEGER PRIMARY KEY REFERENCES patients(id),
    opted_out_at   INTEGER NOT NULL,
    inbound_id     INTEGER REFERENCES sms_inbound(id)
);
