-- Robot follow-up calls (issue 24).
--
-- A pathway step says who works its tasks: a nurse (the default, every existing task), the
-- robot, or the robot first and a nurse when it does not reach the patient or does not finish
-- (`robot_then_nurse`). Robot tasks are never in the nurses' queue; the robot dialer takes them.
ALTER TABLE followup_tasks ADD COLUMN mode TEXT NOT NULL DEFAULT 'nurse'
    CHECK (mode IN ('nurse', 'robot', 'robot_then_nurse'));
-- the dialer's scan: pending robot tasks by due time
CREATE INDEX robot_tasks_due ON followup_tasks(due_at)
    WHERE status = 'pending' AND mode <> 'nurse';

-- One row per robot call attempt. `ended_at` NULL: the call is live (the dialer does not dial
-- the task again); start-up recovery closes rows a crash left open.
CREATE TABLE robot_calls (
    call_id     TEXT PRIMARY KEY,
    task_id     INTEGER NOT NULL REFERENCES followup_tasks(id),
    lang        TEXT NOT NULL CHECK (lang IN ('zh', 'en')),
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    -- the conversation's outcome (JSON of robot::dialog::Outcome), or why the call ended before
    outcome     TEXT
);
CREATE INDEX robot_calls_task ON robot_calls(task_id);
CREATE INDEX robot_calls_live ON robot_calls(task_id) WHERE ended_at IS NULL;

-- The per-question log supervisors read: when each prompt started and the answer came (ms
-- into the call = the offset in its recording), the keys, the value taken, re-asks.
CREATE TABLE robot_question_log (
    id            INTEGER PRIMARY KEY,
    call_id       TEXT NOT NULL REFERENCES robot_calls(call_id),
    question      TEXT NOT NULL,
    prompt_at_ms  INTEGER NOT NULL,
    answer_at_ms  INTEGER,
    keys          TEXT NOT NULL,
    -- JSON of the answer value taken, NULL when none
    value         TEXT,
    attempts      INTEGER NOT NULL,
    status        TEXT NOT NULL CHECK (status IN
                    ('answered', 'unconfirmed', 'skipped', 'nurse_requested', 'hung_up', 'not_saved')),
    logged_at     INTEGER NOT NULL
);
CREATE INDEX robot_question_log_call ON robot_question_log(call_id);
