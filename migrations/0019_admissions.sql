-- suifang: foreign-keys-off
-- (The line above makes the migration runner apply this file with foreign keys off and check
-- them before it commits: two tables are rebuilt, SQLite's documented way to change a CHECK.)
--
-- Admissions and readmissions (issue 17 item 3, issue 18 item 1).
--
-- An admission (HL7 A01/A04, POST /api/v1/patients/{id}/admissions, the CSV `admitted_at`
-- column) of a patient with open follow-up tasks pauses them: a paused task is not queued,
-- claimed, dialled or retried (every worker selects `status = 'pending'`). The admission is
-- recorded against the index discharge as a readmission. The next discharge ends the stay:
-- its new enrolment supersedes the old one, whose paused tasks close as `superseded`.
-- A11 (cancel admit) takes the admission back: its paused tasks are pending again.

CREATE TABLE admissions (
    id              INTEGER PRIMARY KEY,
    patient_id      INTEGER NOT NULL REFERENCES patients(id),
    admitted_at     INTEGER NOT NULL,
    visit_number    TEXT,
    department_id   INTEGER REFERENCES departments(id),
    -- PV1-2 (HL7 table 0004) and PV1-4 (table 0007) as codes, e.g. 'I' and 'E'
    patient_class   TEXT NOT NULL,
    -- a stay in hospital (inpatient, obstetrics, unspecified): pauses follow-up, counts as a
    -- readmission; an emergency or outpatient visit is recorded only
    stay            INTEGER NOT NULL,
    admission_type  TEXT,
    -- an admission of a type in `[outcomes] planned_admission_types` (elective by default)
    planned         INTEGER NOT NULL DEFAULT 0,
    source          TEXT NOT NULL CHECK (source IN ('hl7', 'api', 'import')),
    -- the discharge that ended this stay (NULL while the patient is in hospital)
    ended_by_discharge_id INTEGER REFERENCES discharges(id),
    cancelled_at    INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX admissions_patient ON admissions(patient_id, admitted_at);
-- one live admission per visit: an A01 sent again under a new control id admits once
CREATE UNIQUE INDEX admissions_visit ON admissions(patient_id, visit_number)
    WHERE visit_number IS NOT NULL AND cancelled_at IS NULL;

-- A readmission: an admission after a discharge of the same patient, with the facts the
-- outcome report needs, fixed when the admission is recorded.
CREATE TABLE readmissions (
    admission_id          INTEGER PRIMARY KEY REFERENCES admissions(id),
    index_discharge_id    INTEGER NOT NULL REFERENCES discharges(id),
    -- the index discharge's enrolment and its pathway and department, when it had one
    enrollment_id         INTEGER REFERENCES enrollments(id),
    pathway_code          TEXT,
    department_id         INTEGER REFERENCES departments(id),
    days_since_discharge  INTEGER NOT NULL,
    -- a completed follow-up contact between the index discharge and the admission
    contacted_before      INTEGER NOT NULL,
    last_contact_at       INTEGER,
    days_contact_before   INTEGER,
    planned               INTEGER NOT NULL,
    -- A11 took the admission back: kept for the record, not counted
    cancelled_at          INTEGER
);
CREATE INDEX readmissions_index ON readmissions(index_discharge_id);

-- An A11 that arrived before its A01 (feeds are not always in order): the admission, when it
-- comes, is recorded cancelled if it happened before the cancellation.
CREATE TABLE hl7_cancelled_admissions (
    mrn           TEXT NOT NULL,
    visit_number  TEXT NOT NULL,
    cancelled_at  INTEGER NOT NULL,
    PRIMARY KEY (mrn, visit_number)
) WITHOUT ROWID;

-- A40: the prior patient's history moved to the surviving one; the row stays for the record.
ALTER TABLE patients ADD COLUMN merged_into INTEGER REFERENCES patients(id);

-- enrollments: + 'superseded' (a readmission's next discharge started a fresh enrolment)
CREATE TABLE enrollments_new (
    id               INTEGER PRIMARY KEY,
    patient_id       INTEGER NOT NULL REFERENCES patients(id),
    discharge_id     INTEGER NOT NULL REFERENCES discharges(id),
    pathway_code     TEXT NOT NULL,
    pathway_version  INTEGER NOT NULL,
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN
                       ('active', 'completed', 'cancelled', 'superseded')),
    enrolled_at      INTEGER NOT NULL,
    superseded_by    INTEGER REFERENCES enrollments(id)
);
INSERT INTO enrollments_new (id, patient_id, discharge_id, pathway_code, pathway_version, status,
                             enrolled_at)
    SELECT id, patient_id, discharge_id, pathway_code, pathway_version, status, enrolled_at
    FROM enrollments;
DROP TABLE enrollments;
ALTER TABLE enrollments_new RENAME TO enrollments;
CREATE INDEX enrollments_patient ON enrollments(patient_id);
CREATE INDEX enrollments_discharge ON enrollments(discharge_id);

-- followup_tasks: + 'paused' (the patient is in hospital) and 'superseded' (closed by the
-- enrolment that replaced its own), + paused_by_admission
CREATE TABLE followup_tasks_new (
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
                         'missed', 'cancelled', 'paused', 'superseded')),
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
    updated_at        INTEGER NOT NULL,
    step_name_zh      TEXT,
    callback_nurse_id INTEGER REFERENCES users(id),
    paused_by_admission INTEGER REFERENCES admissions(id)
);
INSERT INTO followup_tasks_new (id, enrollment_id, patient_id, step_name, script_code, role,
        priority, due_at, window_start_at, window_end_at, status, attempts_total, attempts_today,
        attempts_day, next_attempt_at, use_alt_contact, callback_at, lease_owner,
        lease_expires_at, last_disposition, flagged, created_at, updated_at, step_name_zh,
        callback_nurse_id)
    SELECT id, enrollment_id, patient_id, step_name, script_code, role, priority, due_at,
        window_start_at, window_end_at, status, attempts_total, attempts_today, attempts_day,
        next_attempt_at, use_alt_contact, callback_at, lease_owner, lease_expires_at,
        last_disposition, flagged, created_at, updated_at, step_name_zh, callback_nurse_id
    FROM followup_tasks;
DROP TABLE followup_tasks;
ALTER TABLE followup_tasks_new RENAME TO followup_tasks;
CREATE INDEX followup_tasks_patient ON followup_tasks(patient_id);
CREATE INDEX followup_tasks_open ON followup_tasks(status, window_end_at) WHERE status = 'pending';
CREATE INDEX followup_tasks_due ON followup_tasks(status, due_at) WHERE status = 'pending';
CREATE INDEX followup_tasks_lease ON followup_tasks(lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX followup_tasks_callback_nurse ON followup_tasks(callback_nurse_id)
    WHERE callback_nurse_id IS NOT NULL;
CREATE INDEX followup_tasks_paused ON followup_tasks(paused_by_admission)
    WHERE paused_by_admission IS NOT NULL;
