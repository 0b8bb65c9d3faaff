-- Inbound HL7 v2 messages (issue 17). Every message is stored as received (bytes, before
-- decoding) in the same transaction as its effect, and only then ACKed: an ACKed message is
-- never lost, and one that failed is kept with its error for an admin to fix and replay.
-- De-duplication key: sending application + facility + MSH-10. A resend of an applied message
-- gets the same acknowledgement and changes nothing; a resend of a failed one is tried again.
CREATE TABLE hl7_messages (
    id                   INTEGER PRIMARY KEY,
    received_at          INTEGER NOT NULL,
    peer                 TEXT NOT NULL,
    sending_application  TEXT NOT NULL,
    sending_facility     TEXT NOT NULL,
    control_id           TEXT NOT NULL,
    message_type         TEXT NOT NULL,            -- MSH-9.1^9.2, e.g. ADT^A03
    charset              TEXT,                     -- MSH-18 as decoded; NULL when undecodable
    raw                  BLOB NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('applied', 'failed', 'rejected')),
    ack_code             TEXT NOT NULL,            -- AA AE AR CA CE CR, as sent
    error                TEXT,
    patient_id           INTEGER REFERENCES patients(id),
    attempts             INTEGER NOT NULL DEFAULT 1,
    applied_at           INTEGER
);
CREATE UNIQUE INDEX hl7_messages_key
    ON hl7_messages(sending_application, sending_facility, control_id) WHERE control_id <> '';
CREATE INDEX hl7_messages_open ON hl7_messages(received_at) WHERE status <> 'applied';

-- ADT^A13 (cancel discharge) takes a discharge back: the discharge stays for the record,
-- marked, its enrolment is cancelled and its tasks not yet worked are cancelled. A discharge
-- sent later for the same visit is a new one and enrols again.
ALTER TABLE discharges ADD COLUMN cancelled_at INTEGER;
-- A cancellation that arrived before its discharge (feeds are not always in order): the
-- discharge, when it comes, enrols nobody if it happened before the cancellation.
CREATE TABLE hl7_cancelled_visits (
    mrn           TEXT NOT NULL,
    visit_number  TEXT NOT NULL,
    cancelled_at  INTEGER NOT NULL,
    PRIMARY KEY (mrn, visit_number)
) WITHOUT ROWID;
