-- Disciplines (issue 20 item 2): besides the login role (what a user may do), a clinician has a
-- discipline (who they are in the multidisciplinary team): cardiology, pharmacy, rehabilitation,
-- nutrition, psychology, social_work, nursing, or one the hospital adds in config. It is what
-- escalation routes and team-review sign-offs name. NULL: no discipline (admins, supervisors).
-- Codes are checked by followup::discipline::Discipline, not by the schema, because the list is
-- extensible.
ALTER TABLE users ADD COLUMN discipline TEXT;
CREATE INDEX users_discipline ON users(discipline) WHERE discipline IS NOT NULL;
