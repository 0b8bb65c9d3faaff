-- Transcription jobs (issue 6): a `transcripts` row is the durable job for one recording and one
-- model; it survives restarts. A row found 'running' at start-up was interrupted by a crash and is
-- queued again (up to the configured number of attempts). Re-transcribing with another model adds
-- a row; old transcripts are kept.
ALTER TABLE transcripts ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE transcripts ADD COLUMN started_at INTEGER;
-- Higher first: a supervisor's re-transcription overtakes the backlog of finished calls.
ALTER TABLE transcripts ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE transcripts ADD COLUMN requested_by INTEGER REFERENCES users(id);

CREATE INDEX transcripts_recording ON transcripts(recording_id, id);
CREATE INDEX transcripts_queued ON transcripts(priority DESC, id) WHERE status = 'queued';
CREATE INDEX transcript_segments_transcript ON transcript_segments(transcript_id, start_ms);
CREATE INDEX recordings_finished ON recordings(id) WHERE status IN ('complete', 'repaired');

-- transcript_fts is an external-content index: keep it in step when segments go away.
CREATE TRIGGER transcript_segments_fts_delete AFTER DELETE ON transcript_segments BEGIN
    INSERT INTO transcript_fts(transcript_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
