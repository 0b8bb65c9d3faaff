-- Notes and tags (issue 20 items 5 and 6).
--
-- Notes: a `notes` row is one note on a patient (who wrote it first, when, what it links to);
-- its text lives in `note_versions`, one row per version, never updated or deleted: a
-- correction is a new version (the history is the record). `notes.body`, `kind`, `data` and
-- `version` mirror the latest version so the timeline and the search read one row.
ALTER TABLE notes ADD COLUMN kind TEXT NOT NULL DEFAULT 'free';
ALTER TABLE notes ADD COLUMN data TEXT;
ALTER TABLE notes ADD COLUMN discipline TEXT;
ALTER TABLE notes ADD COLUMN answer_id INTEGER REFERENCES answers(id);
ALTER TABLE notes ADD COLUMN escalation_id INTEGER REFERENCES escalations(id);
ALTER TABLE notes ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE notes ADD COLUMN updated_at INTEGER;
UPDATE notes SET updated_at = created_at WHERE updated_at IS NULL;

CREATE TABLE note_versions (
    id          INTEGER PRIMARY KEY,
    note_id     INTEGER NOT NULL REFERENCES notes(id),
    version     INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    body        TEXT NOT NULL,
    data        TEXT,
    author_id   INTEGER NOT NULL REFERENCES users(id),
    discipline  TEXT,
    reason      TEXT,
    created_at  INTEGER NOT NULL,
    UNIQUE (note_id, version)
);
CREATE TRIGGER note_versions_no_update BEFORE UPDATE ON note_versions
BEGIN SELECT RAISE(ABORT, 'note versions are append-only: add a new version'); END;
CREATE TRIGGER note_versions_no_delete BEFORE DELETE ON note_versions
BEGIN SELECT RAISE(ABORT, 'note versions are append-only: add a new version'); END;
INSERT INTO note_versions (note_id, version, kind, body, author_id, created_at)
    SELECT id, 1, 'free', body, author_id, created_at FROM notes;

-- Search over the latest text of each note, like transcript_fts: trigrams match any substring
-- of three or more characters in Chinese and English alike.
CREATE VIRTUAL TABLE note_fts USING fts5(
    body, content = 'notes', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO note_fts(note_fts) VALUES ('rebuild');
CREATE TRIGGER notes_fts_insert AFTER INSERT ON notes BEGIN
    INSERT INTO note_fts(rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER notes_fts_update AFTER UPDATE OF body ON notes BEGIN
    INSERT INTO note_fts(note_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO note_fts(rowid, body) VALUES (new.id, new.body);
END;

-- Tags: a removed tag keeps its row (removed_at set) so a rule that fires again on the same,
-- unchanged answers does not put it back; only an answer saved after the removal with a new
-- value that the rule reads re-adds it (service::rule_tags). Who removed it is also audited.
ALTER TABLE patient_tags ADD COLUMN added_at INTEGER;
ALTER TABLE patient_tags ADD COLUMN rule_id TEXT;
ALTER TABLE patient_tags ADD COLUMN answer_id INTEGER;
ALTER TABLE patient_tags ADD COLUMN removed_at INTEGER;
ALTER TABLE patient_tags ADD COLUMN removed_by INTEGER REFERENCES users(id);
CREATE INDEX patient_tags_tag ON patient_tags(tag) WHERE removed_at IS NULL;
