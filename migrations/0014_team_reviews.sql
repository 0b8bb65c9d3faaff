-- Team reviews (issue 20 item 4): the day-14/30 multidisciplinary review of a heart-failure
-- patient is its own workflow, not the nurse's script handed to a doctor. One review per
-- team-review task; each discipline signs its assessment once; actions record what the team
-- decided (a follow-up task it created, a pathway step it moved or cancelled). Statuses and
-- action kinds are the enums of followup::review; the CHECKs only keep stray strings out.
CREATE TABLE team_reviews (
    id             INTEGER PRIMARY KEY,
    task_id        INTEGER NOT NULL UNIQUE REFERENCES followup_tasks(id),
    patient_id     INTEGER NOT NULL REFERENCES patients(id),
    script_code    TEXT NOT NULL,
    script_version INTEGER NOT NULL,
    -- JSON array of the discipline codes that must sign (from the script when opened)
    required       TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('open', 'signing', 'closed')),
    opened_by      INTEGER NOT NULL REFERENCES users(id),
    opened_at      INTEGER NOT NULL,
    closed_by      INTEGER REFERENCES users(id),
    closed_at      INTEGER
);
CREATE INDEX team_reviews_patient ON team_reviews(patient_id);
CREATE INDEX team_reviews_unclosed ON team_reviews(status) WHERE status <> 'closed';

CREATE TABLE team_review_assessments (
    id          INTEGER PRIMARY KEY,
    review_id   INTEGER NOT NULL REFERENCES team_reviews(id),
    discipline  TEXT NOT NULL,
    author_id   INTEGER NOT NULL REFERENCES users(id),
    text        TEXT NOT NULL,
    answers     TEXT NOT NULL,          -- JSON object: question id -> validated answer
    signed_at   INTEGER NOT NULL,
    UNIQUE (review_id, discipline)
);

CREATE TABLE team_review_actions (
    id          INTEGER PRIMARY KEY,
    review_id   INTEGER NOT NULL REFERENCES team_reviews(id),
    kind        TEXT NOT NULL CHECK (kind IN ('follow_up_task', 'adjust_pathway')),
    detail      TEXT NOT NULL,          -- JSON of followup::review::ReviewAction
    -- the follow-up task this action created, or the pathway task it changed
    task_id     INTEGER REFERENCES followup_tasks(id),
    author_id   INTEGER NOT NULL REFERENCES users(id),
    discipline  TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX team_review_actions_review ON team_review_actions(review_id);
