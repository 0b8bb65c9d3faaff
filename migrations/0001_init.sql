-- suifang schema, first cut (DESIGN.md "Data model").
-- Times are INTEGER seconds since the Unix epoch, UTC (columns ending in `_at`);
-- read them in the sqlite3 shell with datetime(col, 'unixepoch').

CREATE TABLE departments (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name_en     TEXT NOT NULL,
    name_zh     TEXT NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('nurse', 'supervisor', 'doctor', 'admin')),
    password_hash TEXT NOT NULL,
    department_id INTEGER REFERENCES departments(id),
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
);

-- Session tokens are stored hashed: a copy of the database does not yield live sessions.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE patients (
    id                   INTEGER PRIMARY KEY,
    mrn                  TEXT NOT NULL UNIQUE,
    name                 TEXT NOT NULL,
    sex                  TEXT CHECK (sex IN ('F', 'M', 'U')),
    birth_date           TEXT,
    phone                TEXT NOT NULL,
    alt_phone            TEXT,
    alt_contact_name     TEXT,
    alt_contact_relation TEXT,
    language             TEXT NOT NULL DEFAULT 'zh',
    do_not_call          INTEGER NOT NULL DEFAULT 0,
    deceased             INTEGER NOT NULL DEFAULT 0,
    owner_nurse_id       INTEGER REFERENCES users(id),
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX patients_phone ON patients(phone);
CREATE INDEX patients_alt_phone ON patients(alt_phone);

CREATE TABLE patient_tags (
    patient_id  INTEGER NOT NULL REFERENCES patients(id),
    tag         TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('manual', 'diagnosis', 'department', 'pathway', 'rule', 'queue')),
    PRIMARY KEY (patient_id, tag)
) WITHOUT ROWID;

CREATE TABLE discharges (
    id             INTEGER PRIMARY KEY,
    patient_id     INTEGER NOT NULL REFERENCES patients(id),
    department_id  INTEGER REFERENCES departments(id),
    discharged_at  INTEGER NOT NULL,
    visit_number   TEXT,
    attending      TEXT,
    disposition    TEXT,
    summary        TEXT,
    created_at     INTEGER NOT NULL
);
CREATE INDEX discharges_patient ON discharges(patient_id);

CREATE TABLE discharge_diagnoses (
    discharge_id  INTEGER NOT NULL REFERENCES discharges(id),
    icd10         TEXT NOT NULL,
    kind          TEXT NOT NULL DEFAULT 'F' CHECK (kind IN ('A', 'W', 'F')),
    PRIMARY KEY (discharge_id, icd10)
) WITHOUT ROWID;

CREATE TABLE enrollments (
    id               INTEGER PRIMARY KEY,
    patient_id       INTEGER NOT NULL REFERENCES patients(id),
    discharge_id     INTEGER NOT NULL REFERENCES discharges(id),
    pathway_code     TEXT NOT NULL,
    pathway_version  INTEGER NOT NULL,
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'cancelled')),
    enrolled_at      INTEGER NOT NULL
);
CREATE INDEX enrollments_patient ON enrollments(patient_id);

-- One row per scheduled follow-up contact. A claim is a lease (lease_owner + lease_expires_at):
-- an expired lease needs no sweeper, the next claim simply ignores it.
CREATE TABLE followup_tasks (
    id                INTEGER PRIMARY KEY,
    enrollment_id     INTEGER REFERENCES enrollments(id),
    patient_id        INTEGER NOT NULL REFERENCES patients(id),
    step_name         TEXT NOT NULL,
    script_code       TEXT,
    role              TEXT NOT NULL DEFAULT 'nurse',
    priority          INTEGER NOT NULL DEFAULT 0,
    due_at            INTEGER NOT NULL,
    window_start_at   INTEGER NOT NULL,
    window_end_at     INTEGER NOT NULL,
    status            TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
                        ('pending', 'completed', 'unreachable', 'refused', 'wrong_number',
                         'missed', 'cancelled')),
    attempts_total    INTEGER NOT NULL DEFAULT 0,
    attempts_today    INTEGER NOT NULL DEFAULT 0,
    attempts_day      TEXT,
    next_attempt_at   INTEGER NOT NULL DEFAULT 0,
    use_alt_contact   INTEGER NOT NULL DEFAULT 0,
    callback_at       INTEGER,
    lease_owner       INTEGER REFERENCES users(id),
    lease_expires_at  INTEGER,
    last_disposition  TEXT,
    flagged           TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX followup_tasks_patient ON followup_tasks(patient_id);
-- Pending tasks by window end: finds the ones whose window just closed (to mark them missed).
CREATE INDEX followup_tasks_open ON followup_tasks(status, window_end_at) WHERE status = 'pending';
-- Pending tasks by due time: once closed windows are marked missed, "pending and due" is the
-- queue, so building it is a narrow range scan however many future tasks there are.
CREATE INDEX followup_tasks_due ON followup_tasks(status, due_at) WHERE status = 'pending';
-- "which task does this nurse hold" on every claim: without it a claim scans every pending task.
CREATE INDEX followup_tasks_lease ON followup_tasks(lease_owner) WHERE lease_owner IS NOT NULL;

-- The daily queue, materialised by `build_queue`: rank follows clinical priority, days overdue,
-- attempts. Claims walk it in rank order through the primary key, so a claim costs an index
-- seek whatever the number of tasks.
CREATE TABLE queue_entries (
    rank      INTEGER PRIMARY KEY,
    task_id   INTEGER NOT NULL UNIQUE REFERENCES followup_tasks(id),
    built_at  INTEGER NOT NULL
);

CREATE TABLE task_attempts (
    id           INTEGER PRIMARY KEY,
    task_id      INTEGER NOT NULL REFERENCES followup_tasks(id),
    user_id      INTEGER REFERENCES users(id),
    call_id      TEXT,
    disposition  TEXT NOT NULL,
    contact      TEXT NOT NULL CHECK (contact IN ('primary', 'alternate')),
    note         TEXT,
    at           INTEGER NOT NULL
);
CREATE INDEX task_attempts_task ON task_attempts(task_id);

CREATE TABLE calls (
    id            TEXT PRIMARY KEY,
    task_id       INTEGER REFERENCES followup_tasks(id),
    patient_id    INTEGER REFERENCES patients(id),
    agent_id      INTEGER REFERENCES users(id),
    direction     TEXT NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    remote_number TEXT,
    state         TEXT NOT NULL,
    sip_call_id   TEXT,
    started_at    INTEGER NOT NULL,
    answered_at   INTEGER,
    ended_at      INTEGER,
    end_reason    TEXT,
    disposition   TEXT
);
CREATE INDEX calls_patient ON calls(patient_id);

CREATE TABLE recordings (
    id           INTEGER PRIMARY KEY,
    call_id      TEXT NOT NULL REFERENCES calls(id),
    path         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('recording', 'complete', 'repaired')),
    sha256       TEXT,
    duration_ms  INTEGER,
    created_at   INTEGER NOT NULL,
    finalized_at INTEGER
);
CREATE INDEX recordings_call ON recordings(call_id);

CREATE TABLE transcripts (
    id            INTEGER PRIMARY KEY,
    recording_id  INTEGER NOT NULL REFERENCES recordings(id),
    model         TEXT NOT NULL,
    language      TEXT,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    error         TEXT,
    created_at    INTEGER NOT NULL,
    completed_at  INTEGER
);

CREATE TABLE transcript_segments (
    id             INTEGER PRIMARY KEY,
    transcript_id  INTEGER NOT NULL REFERENCES transcripts(id),
    channel        TEXT NOT NULL CHECK (channel IN ('agent', 'patient')),
    start_ms       INTEGER NOT NULL,
    end_ms         INTEGER NOT NULL,
    text           TEXT NOT NULL,
    confidence     REAL
);
-- trigram tokenizer: works for Chinese (no word breaks) and English alike.
CREATE VIRTUAL TABLE transcript_fts USING fts5(
    text, content = 'transcript_segments', content_rowid = 'id', tokenize = 'trigram'
);
CREATE TRIGGER transcript_segments_fts AFTER INSERT ON transcript_segments BEGIN
    INSERT INTO transcript_fts(rowid, text) VALUES (new.id, new.text);
END;

CREATE TABLE answers (
    id              INTEGER PRIMARY KEY,
    task_id         INTEGER NOT NULL REFERENCES followup_tasks(id),
    patient_id      INTEGER NOT NULL REFERENCES patients(id),
    call_id         TEXT,
    script_code     TEXT NOT NULL,
    script_version  INTEGER NOT NULL,
    question_id     TEXT NOT NULL,
    value           TEXT NOT NULL,
    answered_by     INTEGER REFERENCES users(id),
    answered_at     INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (task_id, question_id)
);
CREATE INDEX answers_patient ON answers(patient_id);

CREATE TABLE measurements (
    id           INTEGER PRIMARY KEY,
    patient_id   INTEGER NOT NULL REFERENCES patients(id),
    kind         TEXT NOT NULL,
    value        REAL NOT NULL,
    measured_at  INTEGER NOT NULL,
    answer_id    INTEGER REFERENCES answers(id),
    UNIQUE (answer_id, kind)
);
CREATE INDEX measurements_patient ON measurements(patient_id, kind, measured_at);

CREATE TABLE notes (
    id          INTEGER PRIMARY KEY,
    patient_id  INTEGER NOT NULL REFERENCES patients(id),
    task_id     INTEGER REFERENCES followup_tasks(id),
    call_id     TEXT,
    author_id   INTEGER NOT NULL REFERENCES users(id),
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX notes_patient ON notes(patient_id);

-- Append-only and hash-chained: hash = SHA-256(prev_hash || canonical row). The triggers stop
-- casual edits; `suifang audit verify` catches the rest (someone who drops the triggers).
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor_id   INTEGER,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  TEXT,
    detail     TEXT NOT NULL DEFAULT '',
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
