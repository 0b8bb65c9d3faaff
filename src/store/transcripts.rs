//! Transcription jobs and transcripts in SQLite.
//!
//! A `transcripts` row is the durable job for one recording and one model: `queued` → `running`
//! (claimed, `attempts` + 1) → `done` with its segments, or `failed` with a reason. Rows live
//! across restarts, so a crash mid-job leaves a `running` row that [`requeue_interrupted`] puts
//! back in the queue at the next start. Segments are written in the same transaction that marks
//! the job done, so a transcript is either whole or absent.

use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::StoreError;
use crate::followup::rules::Speaker;

/// A `transcripts` row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TranscriptId(pub i64);

impl std::fmt::Display for TranscriptId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A `recordings` row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct RecordingId(pub i64);

impl std::fmt::Display for RecordingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobStatus {
    fn parse(s: &str) -> rusqlite::Result<JobStatus> {
        Ok(match s {
            "queued" => JobStatus::Queued,
            "running" => JobStatus::Running,
            "done" => JobStatus::Done,
            "failed" => JobStatus::Failed,
            other => {
                return Err(rusqlite::Error::FromSqlConversionFailure(
                    0,
                    rusqlite::types::Type::Text,
                    format!("unknown transcript status {other:?}").into(),
                ))
            }
        })
    }
}

/// Priority of jobs queued automatically for finished recordings.
pub const PRIORITY_BACKLOG: i64 = 0;
/// Priority of jobs a person asked for (re-transcription): they overtake the backlog.
pub const PRIORITY_REQUESTED: i64 = 10;

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

fn speaker_name(s: Speaker) -> &'static str {
    match s {
        Speaker::Agent => "agent",
        Speaker::Patient => "patient",
    }
}

fn speaker_of(s: &str) -> Speaker {
    if s == "patient" {
        Speaker::Patient
    } else {
        Speaker::Agent
    }
}

/// Queues a job with `model` for every finished (`complete` or `repaired`) recording that has no
/// transcript job yet; returns how many were queued.
pub fn enqueue_finished(
    tx: &Transaction,
    model: &str,
    language: &str,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let n = tx
        .prepare_cached(
            "INSERT INTO transcripts (recording_id, model, language, status, created_at, priority)
             SELECT r.id, ?1, ?2, 'queued', ?3, ?4 FROM recordings r
             WHERE r.status IN ('complete', 'repaired')
               AND NOT EXISTS (SELECT 1 FROM transcripts t WHERE t.recording_id = r.id)
             ORDER BY r.id",
        )?
        .execute(params![model, language, now.timestamp(), PRIORITY_BACKLOG])?;
    Ok(n)
}

/// What start-up recovery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Interrupted jobs queued again.
    pub requeued: usize,
    /// Interrupted jobs that had used up their attempts and were failed.
    pub failed: usize,
}

/// Jobs left `running` by a crash: queued again, or failed once they were interrupted
/// `max_attempts` times (a recording that crashes whisper must not crash-loop the server).
/// Call once at start-up, before claiming.
pub fn requeue_interrupted(
    tx: &Transaction,
    max_attempts: u32,
    now: DateTime<Utc>,
) -> Result<Recovered, StoreError> {
    let failed = tx.execute(
        "UPDATE transcripts SET status = 'failed', completed_at = ?2,
             error = 'interrupted ' || attempts || ' times (server stopped mid-job); not retried'
         WHERE status = 'running' AND attempts >= ?1",
        params![max_attempts, now.timestamp()],
    )?;
    let requeued = tx.execute(
        "UPDATE transcripts SET status = 'queued', started_at = NULL WHERE status = 'running'",
        [],
    )?;
    Ok(Recovered { requeued, failed })
}

/// A claimed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: TranscriptId,
    pub recording: RecordingId,
    pub call_id: String,
    pub path: PathBuf,
    pub model: String,
    pub attempts: u32,
}

/// Claims the most urgent queued job (highest priority, then oldest): marks it running.
pub fn claim_next(tx: &Transaction, now: DateTime<Utc>) -> Result<Option<Job>, StoreError> {
    let job = tx
        .prepare_cached(
            "SELECT t.id, t.recording_id, r.call_id, r.path, t.model, t.attempts
             FROM transcripts t JOIN recordings r ON r.id = t.recording_id
             WHERE t.status = 'queued' ORDER BY t.priority DESC, t.id LIMIT 1",
        )?
        .query_row([], |r| {
            Ok(Job {
                id: TranscriptId(r.get(0)?),
                recording: RecordingId(r.get(1)?),
                call_id: r.get(2)?,
                path: PathBuf::from(r.get::<_, String>(3)?),
                model: r.get(4)?,
                attempts: r.get::<_, u32>(5)? + 1,
            })
        })
        .optional()?;
    if let Some(job) = &job {
        tx.execute(
            "UPDATE transcripts SET status = 'running', started_at = ?2, attempts = attempts + 1
             WHERE id = ?1",
            params![job.id.0, now.timestamp()],
        )?;
    }
    Ok(job)
}

/// One segment to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSegment {
    pub speaker: Speaker,
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    pub confidence: f32,
}

/// Stores a finished job's segments and marks it done, in the caller's transaction.
pub fn complete(
    tx: &Transaction,
    id: TranscriptId,
    language: &str,
    segments: &[NewSegment],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    // A job is run again only after a crash before its commit, so nothing is there; clearing
    // keeps a re-run from doubling segments all the same.
    tx.execute(
        "DELETE FROM transcript_segments WHERE transcript_id = ?1",
        [id.0],
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO transcript_segments (transcript_id, channel, start_ms, end_ms, text, confidence)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for s in segments {
        insert.execute(params![
            id.0,
            speaker_name(s.speaker),
            s.start_ms as i64,
            s.end_ms as i64,
            s.text,
            f64::from(s.confidence)
        ])?;
    }
    let n = tx.execute(
        "UPDATE transcripts SET status = 'done', language = ?2, error = NULL, completed_at = ?3
         WHERE id = ?1",
        params![id.0, language, now.timestamp()],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("transcript {id}")));
    }
    Ok(())
}

/// Marks a job failed with a reason a supervisor can act on.
pub fn fail(
    tx: &Transaction,
    id: TranscriptId,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE transcripts SET status = 'failed', error = ?2, completed_at = ?3 WHERE id = ?1",
        params![id.0, error, now.timestamp()],
    )?;
    Ok(())
}

/// A recording as the API serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recording {
    pub id: RecordingId,
    pub call_id: String,
    pub path: PathBuf,
    pub status: String,
    pub duration_ms: Option<i64>,
}

/// One recording.
pub fn recording(conn: &Connection, id: RecordingId) -> Result<Recording, StoreError> {
    conn.prepare_cached(
        "SELECT id, call_id, path, status, duration_ms FROM recordings WHERE id = ?1",
    )?
    .query_row([id.0], |r| {
        Ok(Recording {
            id: RecordingId(r.get(0)?),
            call_id: r.get(1)?,
            path: PathBuf::from(r.get::<_, String>(2)?),
            status: r.get(3)?,
            duration_ms: r.get(4)?,
        })
    })
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("recording {id}")))
}

/// Queues a job for `recording` with `model` (re-transcription). Earlier transcripts are kept.
pub fn request(
    tx: &Transaction,
    recording: RecordingId,
    model: &str,
    language: &str,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<TranscriptId, StoreError> {
    let status: Option<String> = tx
        .query_row(
            "SELECT status FROM recordings WHERE id = ?1",
            [recording.0],
            |r| r.get(0),
        )
        .optional()?;
    match status.as_deref() {
        None => return Err(StoreError::NotFound(format!("recording {recording}"))),
        Some("complete" | "repaired") => {}
        Some(other) => {
            return Err(StoreError::Conflict(format!(
                "recording {recording} is still {other}: it is transcribed once the call ends"
            )))
        }
    }
    let pending: Option<i64> = tx
        .query_row(
            "SELECT id FROM transcripts WHERE recording_id = ?1 AND model = ?2
             AND status IN ('queued', 'running')",
            params![recording.0, model],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = pending {
        return Err(StoreError::Conflict(format!(
            "transcript {id} of recording {recording} with model {model} is already queued or running"
        )));
    }
    tx.execute(
        "INSERT INTO transcripts (recording_id, model, language, status, created_at, priority, requested_by)
         VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6)",
        params![recording.0, model, language, now.timestamp(), PRIORITY_REQUESTED, by],
    )?;
    Ok(TranscriptId(tx.last_insert_rowid()))
}

/// A job as listed with a call's transcript.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobInfo {
    pub id: TranscriptId,
    pub recording_id: RecordingId,
    pub model: String,
    pub language: Option<String>,
    pub status: JobStatus,
    pub error: Option<String>,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// A stored segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredSegment {
    pub id: i64,
    pub speaker: Speaker,
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    pub confidence: Option<f64>,
}

/// Every transcript job of a call's recordings, newest first.
pub fn jobs_of_call(conn: &Connection, call_id: &str) -> Result<Vec<JobInfo>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.recording_id, t.model, t.language, t.status, t.error, t.attempts,
                t.created_at, t.completed_at
         FROM transcripts t JOIN recordings r ON r.id = t.recording_id
         WHERE r.call_id = ?1 ORDER BY t.id DESC",
    )?;
    let rows = stmt.query_map([call_id], |r| {
        Ok(JobInfo {
            id: TranscriptId(r.get(0)?),
            recording_id: RecordingId(r.get(1)?),
            model: r.get(2)?,
            language: r.get(3)?,
            status: JobStatus::parse(&r.get::<_, String>(4)?)?,
            error: r.get(5)?,
            attempts: r.get(6)?,
            created_at: ts(r.get(7)?),
            completed_at: r.get::<_, Option<i64>>(8)?.map(ts),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether a call exists.
pub fn call_exists(conn: &Connection, call_id: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM calls WHERE id = ?1")?
        .exists([call_id])?)
}

/// A transcript's segments in time order (both channels interleaved).
pub fn segments(conn: &Connection, id: TranscriptId) -> Result<Vec<StoredSegment>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, channel, start_ms, end_ms, text, confidence FROM transcript_segments
         WHERE transcript_id = ?1 ORDER BY start_ms, end_ms, id",
    )?;
    let rows = stmt.query_map([id.0], |r| {
        Ok(StoredSegment {
            id: r.get(0)?,
            speaker: speaker_of(&r.get::<_, String>(1)?),
            start_ms: r.get::<_, i64>(2)?.max(0) as u64,
            end_ms: r.get::<_, i64>(3)?.max(0) as u64,
            text: r.get(4)?,
            confidence: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The call a transcript job belongs to, with the patient and the follow-up script (from the
/// call's task), for the red-flag scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    pub call_id: String,
    pub patient_id: Option<i64>,
    pub script_code: Option<String>,
    /// The call's task, whose added scripts (chest-pain on a call-back) are scanned too.
    pub task_id: Option<i64>,
}

/// See [`CallContext`].
pub fn call_context(conn: &Connection, call_id: &str) -> Result<CallContext, StoreError> {
    conn.prepare_cached(
        "SELECT c.id, COALESCE(c.patient_id, t.patient_id), t.script_code, t.id
         FROM calls c LEFT JOIN followup_tasks t ON t.id = c.task_id WHERE c.id = ?1",
    )?
    .query_row([call_id], |r| {
        Ok(CallContext {
            call_id: r.get(0)?,
            patient_id: r.get(1)?,
            script_code: r.get(2)?,
            task_id: r.get(3)?,
        })
    })
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("call {call_id}")))
}

#[cfg(test)]
#[path = "transcripts_tests.rs"]
mod tests;
