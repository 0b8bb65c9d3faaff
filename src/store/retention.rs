//! Recording retention in the database: which recordings' audio may be deleted, marking them
//! deleted with an audit row, and holds that keep a recording whatever its age.
//!
//! Only the audio goes: the row keeps its SHA-256 and duration, and the call, transcript and
//! answers stay in the patient record. The file is deleted after the row is marked (see
//! `service::retention`), so the audit log never misses a deletion.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::audit::{append, Actor};
use super::StoreError;

/// A recording whose audio is due for deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    pub id: i64,
    pub call_id: String,
    /// As stored: relative to the recordings folder, or absolute.
    pub path: String,
    pub sha256: Option<String>,
    pub duration_ms: Option<i64>,
    pub created_at: i64,
}

/// Recordings created before `created_before` (Unix seconds) whose audio may go, oldest first,
/// at most `limit`. Kept whatever their age: recordings still being written, calls not ended,
/// recordings on hold, recordings whose patient has an unresolved escalation (the audio may be
/// its evidence), and recordings still queued or being transcribed.
pub fn expired(
    conn: &Connection,
    created_before: i64,
    limit: i64,
) -> Result<Vec<Expired>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT r.id, r.call_id, r.path, r.sha256, r.duration_ms, r.created_at
         FROM recordings r JOIN calls c ON c.id = r.call_id
         WHERE r.purged_at IS NULL
           AND r.created_at < ?1
           AND r.status IN ('complete', 'repaired')
           AND r.hold_reason IS NULL
           AND c.ended_at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM escalations e
                           WHERE e.patient_id = c.patient_id AND e.status != 'resolved')
           AND NOT EXISTS (SELECT 1 FROM transcripts t
                           WHERE t.recording_id = r.id AND t.status IN ('queued', 'running'))
         ORDER BY r.created_at, r.id
         LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![created_before, limit], |r| {
        Ok(Expired {
            id: r.get(0)?,
            call_id: r.get(1)?,
            path: r.get(2)?,
            sha256: r.get(3)?,
            duration_ms: r.get(4)?,
            created_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Marks `rec` deleted by the retention policy and writes the audit row. Returns false (and
/// writes nothing) if it was already marked.
pub fn mark_purged(
    tx: &Transaction,
    rec: &Expired,
    retention_days: u32,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = tx.execute(
        "UPDATE recordings SET purged_at = ?2 WHERE id = ?1 AND purged_at IS NULL",
        params![rec.id, now],
    )?;
    if changed == 0 {
        return Ok(false);
    }
    append(
        tx,
        &Actor::system("retention"),
        "purge_audio",
        "recording",
        Some(&rec.id.to_string()),
        &format!(
            "call={} sha256={} duration_ms={} created_at={} retention_days={retention_days}",
            rec.call_id,
            rec.sha256.as_deref().unwrap_or("-"),
            rec.duration_ms.unwrap_or(0),
            rec.created_at,
        ),
        now,
    )?;
    Ok(true)
}

/// Files of recordings marked deleted since `since`: a crash between marking and deleting
/// leaves the file behind, and the next sweep deletes it.
pub fn recently_purged(conn: &Connection, since: i64) -> Result<Vec<(i64, String)>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT id, path FROM recordings WHERE purged_at >= ?1 ORDER BY id")?;
    let rows = stmt.query_map([since], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Retention facts of one recording, for the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionState {
    /// When its audio was deleted (Unix seconds), if it was.
    pub purged_at: Option<i64>,
    /// Why it is on hold, if it is.
    pub hold_reason: Option<String>,
    pub hold_by: Option<i64>,
}

pub fn state(conn: &Connection, id: i64) -> Result<RetentionState, StoreError> {
    conn.query_row(
        "SELECT purged_at, hold_reason, hold_by FROM recordings WHERE id = ?1",
        [id],
        |r| {
            Ok(RetentionState {
                purged_at: r.get(0)?,
                hold_reason: r.get(1)?,
                hold_by: r.get(2)?,
            })
        },
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("recording {id}")))
}

/// Puts a recording on hold (`reason` set) or releases it (`None`), with an audit row. A
/// recording whose audio is already deleted cannot be held.
pub fn set_hold(
    tx: &Transaction,
    actor: &Actor,
    id: i64,
    reason: Option<&str>,
    now: i64,
) -> Result<RetentionState, StoreError> {
    let current = state(tx, id)?;
    if current.purged_at.is_some() && reason.is_some() {
        return Err(StoreError::Conflict(format!(
            "recording {id}'s audio was already deleted by the retention policy"
        )));
    }
    tx.execute(
        "UPDATE recordings SET hold_reason = ?2, hold_by = ?3 WHERE id = ?1",
        params![id, reason, reason.and(actor.id)],
    )?;
    let (action, detail) = match reason {
        Some(r) => ("hold", format!("reason={r}")),
        None => (
            "release_hold",
            format!("was={}", current.hold_reason.unwrap_or_default()),
        ),
    };
    append(
        tx,
        actor,
        action,
        "recording",
        Some(&id.to_string()),
        &detail,
        now,
    )?;
    state(tx, id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// A store with one patient, one ended call and its complete recording made at `created`.
    fn seeded(created: i64) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db"), 0).expect("open");
        store
            .write_blocking(move |tx| {
                tx.execute_batch(
                    "INSERT INTO departments (id, code, name_en, name_zh) VALUES (1, 'cardio', 'Cardiology', '心内科');",
                )?;
                tx.execute(
                    "INSERT INTO patients (id, mrn, name, phone, created_at, updated_at)
                     VALUES (1, 'M1', 'Zhang San', '13800000000', 0, 0)",
                    [],
                )?;
                tx.execute(
                    "INSERT INTO calls (id, patient_id, direction, state, started_at, ended_at)
                     VALUES ('c1', 1, 'outbound', 'ended', ?1, ?1)",
                    [created],
                )?;
                tx.execute(
                    "INSERT INTO recordings (id, call_id, path, status, sha256, duration_ms, created_at)
                     VALUES (7, 'c1', '2026/01/01/c1.wav', 'complete', 'abc', 5000, ?1)",
                    [created],
                )?;
                Ok(())
            })
            .expect("seed");
        (dir, store)
    }

    fn due(store: &Store, before: i64) -> Vec<i64> {
        store
            .read_blocking(move |c| expired(c, before, 100))
            .expect("expired")
            .into_iter()
            .map(|e| e.id)
            .collect()
    }

    #[test]
    fn only_recordings_older_than_the_cutoff_are_due_and_marking_is_audited_once() {
        let (_dir, store) = seeded(1_000);
        assert!(due(&store, 1_000).is_empty(), "not older than the cutoff");
        let rec = store
            .read_blocking(|c| expired(c, 2_000, 10))
            .expect("expired")
            .remove(0);
        assert_eq!((rec.id, rec.sha256.as_deref()), (7, Some("abc")));
        let r = rec.clone();
        let first = store
            .write_blocking(move |tx| mark_purged(tx, &r, 30, 5_000))
            .expect("mark");
        let again = store
            .write_blocking(move |tx| mark_purged(tx, &rec, 30, 6_000))
            .expect("mark again");
        assert!(first && !again);
        assert!(
            due(&store, 10_000).is_empty(),
            "a purged recording is not due again"
        );
        let audited: i64 = store
            .read_blocking(|c| {
                Ok(c.query_row(
                    "SELECT COUNT(*) FROM audit_log WHERE action = 'purge_audio' AND entity_id = '7'",
                    [],
                    |r| r.get(0),
                )?)
            })
            .expect("count");
        assert_eq!(audited, 1);
        let st = store.read_blocking(|c| state(c, 7)).expect("state");
        assert_eq!(st.purged_at, Some(5_000));
        assert_eq!(
            store
                .read_blocking(|c| recently_purged(c, 4_000))
                .expect("recent"),
            vec![(7, "2026/01/01/c1.wav".to_string())]
        );
    }

    #[test]
    fn holds_open_escalations_and_pending_transcription_keep_a_recording() {
        let (_dir, store) = seeded(1_000);
        let nurse = Actor {
            id: None,
            name: "qa".into(),
        };
        let n = nurse.clone();
        store
            .write_blocking(move |tx| set_hold(tx, &n, 7, Some("complaint #12"), 1_500))
            .expect("hold");
        assert!(due(&store, 2_000).is_empty(), "on hold");
        store
            .write_blocking(move |tx| set_hold(tx, &nurse, 7, None, 1_600))
            .expect("release");
        assert_eq!(due(&store, 2_000), vec![7]);

        store
            .write_blocking(|tx| {
                tx.execute(
                    "INSERT INTO transcripts (recording_id, model, status, created_at)
                     VALUES (7, 'tiny', 'queued', 1)",
                    [],
                )?;
                Ok(())
            })
            .expect("job");
        assert!(due(&store, 2_000).is_empty(), "still to be transcribed");
        store
            .write_blocking(|tx| {
                tx.execute("UPDATE transcripts SET status = 'done'", [])?;
                Ok(())
            })
            .expect("done");
        assert_eq!(due(&store, 2_000), vec![7]);
    }

    #[test]
    fn an_unresolved_escalation_of_the_patient_keeps_the_recording() {
        let (_dir, store) = seeded(1_000);
        store
            .write_blocking(|tx| {
                tx.execute(
                    "INSERT INTO escalations (id, patient_id, script_code, rule_id, department_code,
                        route, severity, ack_sla_minutes, level, status, ack_due_at, opened_at,
                        updated_at, notified, evidence)
                     VALUES (1, 1, 'hf', 'weight_gain', 'cardio', '{}', 'urgent', 30, 'primary',
                        'acknowledged', 0, 0, 0, '[]', '[]')",
                    [],
                )?;
                Ok(())
            })
            .expect("escalation");
        assert!(
            due(&store, 2_000).is_empty(),
            "evidence of an open escalation"
        );
        store
            .write_blocking(|tx| {
                tx.execute("UPDATE escalations SET status = 'resolved'", [])?;
                Ok(())
            })
            .expect("resolve");
        assert_eq!(due(&store, 2_000), vec![7]);
    }

    #[test]
    fn a_deleted_recording_cannot_be_put_on_hold() {
        let (_dir, store) = seeded(1_000);
        let rec = store
            .read_blocking(|c| expired(c, 2_000, 10))
            .expect("expired")
            .remove(0);
        store
            .write_blocking(move |tx| mark_purged(tx, &rec, 1, 3_000))
            .expect("mark");
        let err = store
            .write_blocking(|tx| set_hold(tx, &Actor::system("t"), 7, Some("too late"), 4_000))
            .expect_err("held a deleted recording");
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    }
}
