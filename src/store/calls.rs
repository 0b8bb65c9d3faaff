//! Calls and their recordings: one row per call (outbound to a patient or inbound from one),
//! a log of what happened during it, and the WAV it produced.
//!
//! A call row is written before the first SIP packet leaves and a recording row before the
//! first sample is written, so after a crash the start-up sweep knows every call that was live
//! and every file that may need its header repaired.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::recording_files::RecordingsRoot;
use super::StoreError;

/// A call as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CallView {
    pub id: String,
    pub task_id: Option<i64>,
    pub patient_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub direction: String,
    pub contact: Option<String>,
    pub state: String,
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
    pub disposition: Option<String>,
    pub sip_status: Option<u16>,
    /// Where the agent took the call: `browser` (her agent line) or `desk_phone`.
    pub agent_device: Option<String>,
    pub recording: Option<RecordingView>,
}

/// A call's recording.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecordingView {
    pub id: i64,
    pub path: String,
    pub status: String,
    pub sha256: Option<String>,
    pub duration_ms: Option<i64>,
    /// When the retention policy deleted the audio (Unix seconds); the row stays.
    pub purged_at: Option<i64>,
    /// Why the file stops before the call did (disk full, I/O error), if it does.
    pub failure: Option<String>,
}

/// One entry of a call's log.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CallEventView {
    pub at: i64,
    pub kind: String,
    pub detail: Option<String>,
}

/// A call about to be placed or answered.
#[derive(Debug, Clone)]
pub struct NewCall<'a> {
    pub id: &'a str,
    pub task_id: Option<i64>,
    pub patient_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub direction: &'a str,
    pub remote_number: Option<&'a str>,
    pub contact: Option<&'a str>,
    pub state: &'a str,
}

pub fn insert(tx: &Transaction, call: &NewCall, now: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO calls (id, task_id, patient_id, agent_id, direction, remote_number, contact,
                            state, started_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            call.id,
            call.task_id,
            call.patient_id,
            call.agent_id,
            call.direction,
            call.remote_number,
            call.contact,
            call.state,
            now
        ],
    )?;
    log(tx, call.id, "state", Some(call.state), now)
}

/// Appends to the call's log.
pub fn log(
    tx: &Transaction,
    call_id: &str,
    kind: &str,
    detail: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO call_events (call_id, at, kind, detail) VALUES (?1, ?2, ?3, ?4)",
        params![call_id, now, kind, detail],
    )?;
    Ok(())
}

/// Moves a live call to `state` (ringing, answered, held, voicemail…).
pub fn set_state(tx: &Transaction, call_id: &str, state: &str, now: i64) -> Result<(), StoreError> {
    // A voicemail is an answered SIP call too (200 OK sent): its answer time is when the
    // greeting started, so reports can tell taken messages from calls that never connected.
    let answered = matches!(state, "answered" | "voicemail");
    let changed = tx.execute(
        "UPDATE calls SET state = ?2,
                answered_at = CASE WHEN ?3 AND answered_at IS NULL THEN ?4 ELSE answered_at END
         WHERE id = ?1 AND ended_at IS NULL",
        params![call_id, state, answered, now],
    )?;
    if changed == 0 {
        return Ok(());
    }
    log(tx, call_id, "state", Some(state), now)
}

/// Reassigns a live call to another agent (transfer).
pub fn set_agent(tx: &Transaction, call_id: &str, agent_id: i64) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE calls SET agent_id = ?2 WHERE id = ?1",
        params![call_id, agent_id],
    )?;
    Ok(())
}

/// Records where the agent takes the call (`browser` or `desk_phone`).
pub fn set_agent_device(tx: &Transaction, call_id: &str, device: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE calls SET agent_device = ?2 WHERE id = ?1",
        params![call_id, device],
    )?;
    Ok(())
}

/// How a call ended.
#[derive(Debug, Clone)]
pub struct CallEnd<'a> {
    pub reason: &'a str,
    pub disposition: Option<&'a str>,
    pub sip_status: Option<u16>,
}

pub fn end(tx: &Transaction, call_id: &str, end: &CallEnd, now: i64) -> Result<(), StoreError> {
    let changed = tx.execute(
        "UPDATE calls SET state = 'ended', ended_at = ?2, end_reason = ?3,
                disposition = COALESCE(?4, disposition), sip_status = COALESCE(?5, sip_status)
         WHERE id = ?1 AND ended_at IS NULL",
        params![call_id, now, end.reason, end.disposition, end.sip_status],
    )?;
    if changed == 0 {
        return Ok(()); // already ended: the first end is the one that counts
    }
    log(tx, call_id, "ended", Some(end.reason), now)
}

/// Records that the call's WAV is being written at `path` (stored in `root`'s form); returns
/// the recording id.
pub fn recording_started(
    tx: &Transaction,
    root: &RecordingsRoot,
    call_id: &str,
    path: &Path,
    now: i64,
) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO recordings (call_id, path, status, created_at) VALUES (?1, ?2, 'recording', ?3)",
        params![call_id, root.stored(path), now],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Closes the recording at `path` with its checksum and length.
#[allow(clippy::too_many_arguments)]
pub fn recording_finished(
    tx: &Transaction,
    root: &RecordingsRoot,
    call_id: &str,
    path: &Path,
    sha256: &str,
    duration_ms: i64,
    status: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let path = root.stored(path);
    let updated = tx.execute(
        "UPDATE recordings SET status = ?3, sha256 = ?4, duration_ms = ?5, finalized_at = ?6
         WHERE call_id = ?1 AND path = ?2",
        params![call_id, path, status, sha256, duration_ms, now],
    )?;
    if updated == 0 {
        // the start was never recorded (the engine reported both at once)
        tx.execute(
            "INSERT INTO recordings (call_id, path, status, sha256, duration_ms, created_at, finalized_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![call_id, path, status, sha256, duration_ms, now],
        )?;
    }
    let id = tx.query_row(
        "SELECT id FROM recordings WHERE call_id = ?1 AND path = ?2",
        params![call_id, path],
        |r| r.get(0),
    )?;
    Ok(id)
}

/// Recordings left `recording` by a previous process, with their files.
pub fn unfinished_recordings(
    conn: &Connection,
    root: &RecordingsRoot,
) -> Result<Vec<(i64, String, PathBuf)>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT id, call_id, path FROM recordings WHERE status = 'recording'")?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, root.resolve(r.get::<_, String>(2)?)))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Marks a recording repaired after a crash (or lost, when the file is gone).
pub fn recording_repaired(
    tx: &Transaction,
    id: i64,
    outcome: Result<(&str, i64), &str>,
    now: i64,
) -> Result<(), StoreError> {
    match outcome {
        Ok((sha256, duration_ms)) => tx.execute(
            "UPDATE recordings SET status = 'repaired', sha256 = ?2, duration_ms = ?3,
                    finalized_at = ?4 WHERE id = ?1",
            params![id, sha256, duration_ms, now],
        )?,
        // keep the row (and its path) as evidence; 'repaired' with no checksum means unusable
        Err(_) => tx.execute(
            "UPDATE recordings SET status = 'repaired', finalized_at = ?2 WHERE id = ?1",
            params![id, now],
        )?,
    };
    if let Err(why) = outcome {
        let call_id: String =
            tx.query_row("SELECT call_id FROM recordings WHERE id = ?1", [id], |r| {
                r.get(0)
            })?;
        log(tx, &call_id, "recording_lost", Some(why), now)?;
    }
    Ok(())
}

/// The recording at `path` could not be written to the end: marks it with why and, if the file
/// could be repaired up to there (`repaired`: SHA-256 and length), closes it as `repaired`.
pub fn recording_failed(
    tx: &Transaction,
    root: &RecordingsRoot,
    call_id: &str,
    path: &Path,
    failure: &str,
    repaired: Option<(&str, i64)>,
    now: i64,
) -> Result<(), StoreError> {
    let stored = root.stored(path);
    tx.execute(
        "UPDATE recordings SET failure = ?3 WHERE call_id = ?1 AND path = ?2",
        params![call_id, stored, failure],
    )?;
    if let Some((sha256, duration_ms)) = repaired {
        tx.execute(
            "UPDATE recordings SET status = 'repaired', sha256 = ?3, duration_ms = ?4,
                    finalized_at = ?5 WHERE call_id = ?1 AND path = ?2",
            params![call_id, stored, sha256, duration_ms, now],
        )?;
    }
    log(tx, call_id, "recording_failed", Some(failure), now)
}

/// Ends every call a previous process left live: it was cut off by the crash.
pub fn end_interrupted(tx: &Transaction, now: i64) -> Result<Vec<String>, StoreError> {
    let ids: Vec<String> = {
        let mut stmt = tx.prepare("SELECT id FROM calls WHERE ended_at IS NULL")?;
        let rows = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rows
    };
    for id in &ids {
        end(
            tx,
            id,
            &CallEnd {
                reason: "interrupted_by_server_restart",
                disposition: None,
                sip_status: None,
            },
            now,
        )?;
    }
    Ok(ids)
}

const CALL_COLUMNS: &str = "c.id, c.task_id, c.patient_id, c.agent_id, c.direction, c.contact,
    c.state, c.started_at, c.answered_at, c.ended_at, c.end_reason, c.disposition, c.sip_status,
    r.id, r.path, r.status, r.sha256, r.duration_ms, r.purged_at, c.agent_device, r.failure";

fn call_from_row(r: &rusqlite::Row) -> rusqlite::Result<CallView> {
    let recording = match r.get::<_, Option<i64>>(13)? {
        Some(id) => Some(RecordingView {
            id,
            path: r.get(14)?,
            status: r.get(15)?,
            sha256: r.get(16)?,
            duration_ms: r.get(17)?,
            purged_at: r.get(18)?,
            failure: r.get(20)?,
        }),
        None => None,
    };
    Ok(CallView {
        id: r.get(0)?,
        task_id: r.get(1)?,
        patient_id: r.get(2)?,
        agent_id: r.get(3)?,
        direction: r.get(4)?,
        contact: r.get(5)?,
        state: r.get(6)?,
        started_at: r.get(7)?,
        answered_at: r.get(8)?,
        ended_at: r.get(9)?,
        end_reason: r.get(10)?,
        disposition: r.get(11)?,
        sip_status: r.get(12)?,
        agent_device: r.get(19)?,
        recording,
    })
}

/// The newest recording per call (a call has one; a re-recorded call would have more).
const JOIN_RECORDING: &str = "LEFT JOIN recordings r ON r.id =
    (SELECT MAX(id) FROM recordings WHERE call_id = c.id)";

pub fn get(conn: &Connection, id: &str) -> Result<Option<CallView>, StoreError> {
    let sql = format!("SELECT {CALL_COLUMNS} FROM calls c {JOIN_RECORDING} WHERE c.id = ?1");
    Ok(conn.query_row(&sql, [id], call_from_row).optional()?)
}

/// Live calls (not ended), oldest first; or the most recent `limit` calls of a patient.
pub fn list(
    conn: &Connection,
    live_only: bool,
    patient_id: Option<i64>,
    limit: i64,
) -> Result<Vec<CallView>, StoreError> {
    let sql = format!(
        "SELECT {CALL_COLUMNS} FROM calls c {JOIN_RECORDING}
         WHERE (?1 = 0 OR c.ended_at IS NULL) AND (?2 IS NULL OR c.patient_id = ?2)
         ORDER BY c.started_at DESC, c.rowid DESC LIMIT ?3"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(params![live_only, patient_id, limit], call_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn events(conn: &Connection, call_id: &str) -> Result<Vec<CallEventView>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT at, kind, detail FROM call_events WHERE call_id = ?1 ORDER BY id")?;
    let rows = stmt
        .query_map([call_id], |r| {
            Ok(CallEventView {
                at: r.get(0)?,
                kind: r.get(1)?,
                detail: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut conn, 0).unwrap();
        conn
    }

    #[test]
    fn a_call_lives_and_ends_with_its_recording_and_log() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let new = NewCall {
            id: "c1",
            task_id: None,
            patient_id: None,
            agent_id: None,
            direction: "outbound",
            remote_number: Some("+8613800000000"),
            contact: Some("primary"),
            state: "dialing",
        };
        insert(&tx, &new, 10).unwrap();
        set_state(&tx, "c1", "answered", 12).unwrap();
        set_state(&tx, "c1", "held", 13).unwrap();
        set_state(&tx, "c1", "answered", 14).unwrap();
        recording_started(&tx, &root(), "c1", Path::new("/r/c1.wav"), 12).unwrap();
        tx.commit().unwrap();
        assert_eq!(list(&conn, true, None, 10).unwrap().len(), 1);

        let tx = conn.transaction().unwrap();
        let end_info = CallEnd {
            reason: "remote_hangup",
            disposition: None,
            sip_status: Some(200),
        };
        end(&tx, "c1", &end_info, 20).unwrap();
        recording_finished(
            &tx,
            &root(),
            "c1",
            Path::new("/r/c1.wav"),
            "ab",
            8000,
            "complete",
            20,
        )
        .unwrap();
        // ending twice changes nothing
        end(
            &tx,
            "c1",
            &CallEnd {
                reason: "again",
                ..end_info
            },
            30,
        )
        .unwrap();
        tx.commit().unwrap();

        let call = get(&conn, "c1").unwrap().unwrap();
        assert_eq!(call.state, "ended");
        assert_eq!(call.answered_at, Some(12), "the first answer counts");
        assert_eq!(call.end_reason.as_deref(), Some("remote_hangup"));
        assert_eq!(call.recording.unwrap().status, "complete");
        assert!(list(&conn, true, None, 10).unwrap().is_empty());
        let kinds: Vec<_> = events(&conn, "c1")
            .unwrap()
            .into_iter()
            .map(|e| e.detail.unwrap_or_default())
            .collect();
        assert_eq!(
            kinds,
            ["dialing", "answered", "held", "answered", "remote_hangup"]
        );
    }

    fn root() -> RecordingsRoot {
        RecordingsRoot::new(Path::new("/r"))
    }

    #[test]
    fn the_sweep_ends_live_calls_and_lists_unfinished_recordings() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        for id in ["a", "b"] {
            let new = NewCall {
                id,
                task_id: None,
                patient_id: None,
                agent_id: None,
                direction: "outbound",
                remote_number: None,
                contact: None,
                state: "answered",
            };
            insert(&tx, &new, 1).unwrap();
        }
        let rec = recording_started(&tx, &root(), "a", Path::new("/r/a.wav"), 1).unwrap();
        end(
            &tx,
            "b",
            &CallEnd {
                reason: "x",
                disposition: None,
                sip_status: None,
            },
            2,
        )
        .unwrap();
        tx.commit().unwrap();
        let unfinished = unfinished_recordings(&conn, &root()).unwrap();
        assert_eq!(unfinished.len(), 1);
        assert_eq!(
            unfinished[0].2,
            Path::new("/r/a.wav"),
            "resolved in the folder"
        );
        let tx = conn.transaction().unwrap();
        assert_eq!(end_interrupted(&tx, 5).unwrap(), vec!["a".to_string()]);
        recording_repaired(&tx, rec, Err("file missing"), 5).unwrap();
        tx.commit().unwrap();
        assert!(unfinished_recordings(&conn, &root()).unwrap().is_empty());
        let a = get(&conn, "a").unwrap().unwrap();
        assert_eq!(
            a.end_reason.as_deref(),
            Some("interrupted_by_server_restart")
        );
        assert!(events(&conn, "a")
            .unwrap()
            .iter()
            .any(|e| e.kind == "recording_lost"));
    }
}
