-- Recording retention (issue 4). Audio older than `[recordings] retention_days` is deleted;
-- the row, its SHA-256 and duration, the transcript and the call stay in the patient record,
-- and every deletion is in the audit log. A recording is never deleted while its patient has
-- an unresolved escalation (it may be the evidence) or while someone has put it on hold.
ALTER TABLE recordings ADD COLUMN purged_at INTEGER;
ALTER TABLE recordings ADD COLUMN hold_reason TEXT;
ALTER TABLE recordings ADD COLUMN hold_by INTEGER REFERENCES users(id);
CREATE INDEX recordings_retention ON recordings(created_at) WHERE purged_at IS NULL;
