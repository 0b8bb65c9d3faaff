-- Risk at discharge (issue 18 item 2): the LACE index of a discharge, computed at enrolment
-- when its stay is known (the admission the discharge ended, with its admission type), with
-- its parts so a reader can check the sum. `followup::risk` has the definitions and sources.
CREATE TABLE risk_scores (
    discharge_id          INTEGER PRIMARY KEY REFERENCES discharges(id),
    patient_id            INTEGER NOT NULL REFERENCES patients(id),
    enrollment_id         INTEGER REFERENCES enrollments(id),
    admission_id          INTEGER NOT NULL REFERENCES admissions(id),
    lace                  INTEGER NOT NULL CHECK (lace BETWEEN 0 AND 19),
    l_points              INTEGER NOT NULL,
    a_points              INTEGER NOT NULL,
    c_points              INTEGER NOT NULL,
    e_points              INTEGER NOT NULL,
    length_of_stay_days   INTEGER NOT NULL,
    emergent              INTEGER NOT NULL,
    charlson              INTEGER NOT NULL,
    -- JSON array of followup::risk::charlson::Condition names
    conditions            TEXT NOT NULL,
    ed_visits_6_months    INTEGER NOT NULL,
    computed_at           INTEGER NOT NULL
);
CREATE INDEX risk_scores_patient ON risk_scores(patient_id);
-- the queue reads a task's risk through its enrolment
CREATE INDEX risk_scores_enrollment ON risk_scores(enrollment_id);

-- Call summaries with evidence (issue 18 item 5): one per completed follow-up task, made by
-- followup::summary's templates and saved only when its evidence checker passed against this
-- database. `sentences`: JSON array of followup::summary::Sentence (zh, en, evidence pointers).
CREATE TABLE call_summaries (
    task_id     INTEGER PRIMARY KEY REFERENCES followup_tasks(id),
    patient_id  INTEGER NOT NULL REFERENCES patients(id),
    call_id     TEXT,
    sentences   TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX call_summaries_patient ON call_summaries(patient_id, created_at);
