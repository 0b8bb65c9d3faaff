-- Lab results from ORU^R01 (issue 17 item 4). One row per OBX the lab catalogue maps, in the
-- catalogue's unit (converted only where the conversion is exact; a value in any other unit
-- is refused with the message, never stored). What was sent is kept beside it.
-- A later result for the same patient, lab, order, OBX sub-id and observation time replaces
-- the earlier one (a final after a preliminary, a correction after a final): the earlier row
-- stays for the record with `replaced_by` set, and trends and rules read only rows without it.
CREATE TABLE lab_observations (
    id            INTEGER PRIMARY KEY,
    patient_id    INTEGER NOT NULL REFERENCES patients(id),
    lab           TEXT NOT NULL,                 -- canonical name: k, ntprobnp, …
    value         REAL,                          -- in `unit`; NULL for a text result
    comparator    TEXT CHECK (comparator IN ('<', '<=', '>', '>=')),
    value_text    TEXT,                          -- a result that is not one number
    unit          TEXT NOT NULL,
    sent_value    TEXT NOT NULL,                 -- OBX-5 as sent
    sent_unit     TEXT NOT NULL,                 -- OBX-6 as sent
    range_text    TEXT NOT NULL,                 -- OBX-7 as sent
    range_low     REAL,                          -- its bounds in `unit`, when numeric
    range_high    REAL,
    flags         TEXT NOT NULL,                 -- OBX-8 codes joined with ~ (H, LL, …)
    status        TEXT NOT NULL CHECK (status IN ('final', 'corrected', 'preliminary')),
    observed_at   INTEGER NOT NULL,              -- OBX-14, else OBR-7
    received_at   INTEGER NOT NULL,
    code          TEXT NOT NULL,                 -- OBX-3 identifier^text^system as sent
    code_text     TEXT NOT NULL,
    code_system   TEXT NOT NULL,
    sub_id        TEXT NOT NULL,                 -- OBX-4
    order_number  TEXT NOT NULL,                 -- OBR-3 filler, else OBR-2 placer
    panel_code    TEXT NOT NULL,                 -- OBR-4
    obx           INTEGER NOT NULL,              -- position of the OBX in its message
    control_id    TEXT NOT NULL,                 -- MSH-10 of the message
    message_id    INTEGER REFERENCES hl7_messages(id),
    replaced_by   INTEGER REFERENCES lab_observations(id)
);
CREATE INDEX lab_observations_current
    ON lab_observations(patient_id, lab, observed_at) WHERE replaced_by IS NULL;
CREATE INDEX lab_observations_key
    ON lab_observations(patient_id, lab, order_number, sub_id, observed_at);
