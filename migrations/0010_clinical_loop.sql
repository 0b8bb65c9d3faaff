-- Scripts a nurse added to a task in hand (issue 20: symptom triage on a call-back, e.g. the
-- chest-pain script, which no pathway step names). The task's own script stays in
-- followup_tasks.script_code; answers keep their script_code, and the scripts of one task never
-- share a question id (checked when one is added), so answers' UNIQUE (task_id, question_id)
-- still holds.
CREATE TABLE task_scripts (
    task_id      INTEGER NOT NULL REFERENCES followup_tasks(id),
    script_code  TEXT NOT NULL,
    added_by     INTEGER NOT NULL REFERENCES users(id),
    added_at     INTEGER NOT NULL,
    PRIMARY KEY (task_id, script_code)
) WITHOUT ROWID;

-- The nurse who took a patient's call-back request (issue 20 item 7): when the call-back falls
-- due it is offered to her first (store::tasks::claim_next), to anyone once her turn has passed,
-- so the patient hears the nurse they spoke to without being left waiting.
ALTER TABLE followup_tasks ADD COLUMN callback_nurse_id INTEGER REFERENCES users(id);
CREATE INDEX followup_tasks_callback_nurse ON followup_tasks(callback_nurse_id)
    WHERE callback_nurse_id IS NOT NULL;
