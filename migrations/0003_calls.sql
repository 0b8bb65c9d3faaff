-- Call lifecycle details: which contact was dialled, the final SIP status, and a per-call
-- event log (state changes, DTMF, supervision, transfer) for supervisors and audits.
ALTER TABLE calls ADD COLUMN contact TEXT CHECK (contact IN ('primary', 'alternate'));
ALTER TABLE calls ADD COLUMN sip_status INTEGER;
CREATE INDEX calls_live ON calls(started_at) WHERE ended_at IS NULL;
CREATE INDEX calls_task ON calls(task_id);
CREATE INDEX recordings_unfinished ON recordings(id) WHERE status = 'recording';

CREATE TABLE call_events (
    id       INTEGER PRIMARY KEY,
    call_id  TEXT NOT NULL REFERENCES calls(id),
    at       INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    detail   TEXT
);
CREATE INDEX call_events_call ON call_events(call_id);
