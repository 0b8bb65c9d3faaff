-- Care teams and duty shifts (issue 20 items 2 and 3).
--
-- A care team is the multidisciplinary team that follows a department's patients (the heart-
-- failure team of cardiology: cardiologist, pharmacist, dietitian, rehabilitation, psychology,
-- social work, nurse). One team per department: a patient's care team is that of the department
-- of her latest discharge, the same department whose duty roster answers for her. `pathway`
-- names the pathway the team runs (shown, not used for routing). Members carry the discipline
-- they serve in this team, and one member may lead it (the second step of a discipline route).
CREATE TABLE care_teams (
    id             INTEGER PRIMARY KEY,
    department_id  INTEGER NOT NULL UNIQUE REFERENCES departments(id),
    pathway        TEXT,
    name_en        TEXT NOT NULL,
    name_zh        TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE care_team_members (
    team_id     INTEGER NOT NULL REFERENCES care_teams(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    discipline  TEXT NOT NULL,           -- checked by followup::discipline::Discipline
    lead        INTEGER NOT NULL DEFAULT 0 CHECK (lead IN (0, 1)),
    added_at    INTEGER NOT NULL,
    PRIMARY KEY (team_id, user_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX care_team_one_lead ON care_team_members(team_id) WHERE lead = 1;
CREATE INDEX care_team_members_discipline ON care_team_members(discipline, team_id);

-- Recurring duty shifts in hospital local time: who of a discipline is on shift when. Evaluated
-- at `now` by followup::escalation::shift (weekday pattern, over-midnight windows, holidays from
-- hospital.holidays). The department duty_roster (on-duty / backup / head) stays as it was.
CREATE TABLE duty_shifts (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    discipline    TEXT NOT NULL,
    weekdays      INTEGER NOT NULL CHECK (weekdays BETWEEN 1 AND 127),  -- bit 0 = Monday
    start_minute  INTEGER NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute    INTEGER NOT NULL CHECK (end_minute BETWEEN 0 AND 1439),  -- <= start: next day
    holidays      TEXT NOT NULL DEFAULT 'skip' CHECK (holidays IN ('skip', 'also', 'only')),
    created_at    INTEGER NOT NULL
);
CREATE INDEX duty_shifts_discipline ON duty_shifts(discipline);
