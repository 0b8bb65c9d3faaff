//! Rows of patient links (`patient_links`) and of the browsers that passed a link's identity
//! check (`patient_link_sessions`). Tokens arrive here already hashed.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::StoreError;
use crate::followup::link::LinkRow;

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// A link with what the page and the identity check need of its patient and task.
#[derive(Debug, Clone)]
pub struct LinkRecord {
    pub id: i64,
    pub patient_id: i64,
    pub task_id: i64,
    pub row: LinkRow,
    pub identity_failures: u32,
    pub birth_date: Option<NaiveDate>,
    pub mrn: String,
    pub language: String,
    pub owner_nurse_id: Option<i64>,
    pub script_code: Option<String>,
    pub task_status: String,
    pub verified: bool,
}

const RECORD_SELECT: &str = "SELECT l.id, l.patient_id, l.task_id, l.expires_at, l.revoked_at IS NOT NULL,
        l.locked_at IS NOT NULL, l.completed_at IS NOT NULL, l.identity_failures, p.birth_date, p.mrn,
        p.language, p.owner_nurse_id, t.script_code, t.status, l.verified_at IS NOT NULL
    FROM patient_links l JOIN patients p ON p.id = l.patient_id JOIN followup_tasks t ON t.id = l.task_id";

fn record(r: &rusqlite::Row<'_>) -> rusqlite::Result<LinkRecord> {
    let birth: Option<String> = r.get(8)?;
    Ok(LinkRecord {
        id: r.get(0)?,
        patient_id: r.get(1)?,
        task_id: r.get(2)?,
        row: LinkRow {
            expires_at: ts(r.get(3)?),
            revoked: r.get(4)?,
            locked: r.get(5)?,
            completed: r.get(6)?,
        },
        identity_failures: r.get(7)?,
        birth_date: birth.and_then(|b| b.parse().ok()),
        mrn: r.get(9)?,
        language: r.get(10)?,
        owner_nurse_id: r.get(11)?,
        script_code: r.get(12)?,
        task_status: r.get(13)?,
        verified: r.get(14)?,
    })
}

/// The link whose token hashes to `token_hash`.
pub fn by_token_hash(
    conn: &Connection,
    token_hash: &str,
) -> Result<Option<LinkRecord>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("{RECORD_SELECT} WHERE l.token_hash = ?1"))?
        .query_row([token_hash], record)
        .optional()?)
}

/// The link with this id.
pub fn by_id(conn: &Connection, id: i64) -> Result<Option<LinkRecord>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("{RECORD_SELECT} WHERE l.id = ?1"))?
        .query_row([id], record)
        .optional()?)
}

/// A new link; returns its id.
pub fn insert(
    tx: &Transaction,
    token_hash: &str,
    patient_id: i64,
    task_id: i64,
    created_by: Option<i64>,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO patient_links (token_hash, patient_id, task_id, created_by, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![token_hash, patient_id, task_id, created_by, now.timestamp(), expires_at.timestamp()],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Revokes every open link of a task (a new link replaces them; a nurse took the task back).
pub fn revoke_of_task(
    tx: &Transaction,
    task_id: i64,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    Ok(tx.execute(
        "UPDATE patient_links SET revoked_at = ?2 WHERE task_id = ?1 AND revoked_at IS NULL",
        params![task_id, now.timestamp()],
    )?)
}

/// Revokes one link; false when it was revoked already.
pub fn revoke(tx: &Transaction, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let n = tx.execute(
        "UPDATE patient_links SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, now.timestamp()],
    )?;
    tx.execute("DELETE FROM patient_link_sessions WHERE link_id = ?1", [id])?;
    Ok(n == 1)
}

/// Notes the first time the link was opened.
pub fn record_open(tx: &Transaction, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE patient_links SET first_opened_at = COALESCE(first_opened_at, ?2) WHERE id = ?1",
        params![id, now.timestamp()],
    )?;
    Ok(())
}

/// Stores a wrong identity answer's count, and the lock when it reached the limit.
pub fn record_wrong_answer(
    tx: &Transaction,
    id: i64,
    failures: u32,
    lock: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE patient_links SET identity_failures = ?2,
             locked_at = CASE WHEN ?3 THEN COALESCE(locked_at, ?4) ELSE locked_at END
         WHERE id = ?1",
        params![id, failures, lock, now.timestamp()],
    )?;
    if lock {
        tx.execute("DELETE FROM patient_link_sessions WHERE link_id = ?1", [id])?;
    }
    Ok(())
}

/// The identity check passed: a session for this browser on this link.
pub fn record_verified(
    tx: &Transaction,
    id: i64,
    session_hash: &str,
    session_expires: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE patient_links SET verified_at = COALESCE(verified_at, ?2) WHERE id = ?1",
        params![id, now.timestamp()],
    )?;
    tx.execute(
        "INSERT INTO patient_link_sessions (token_hash, link_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![session_hash, id, now.timestamp(), session_expires.timestamp()],
    )?;
    Ok(())
}

/// The link a live session cookie opens (`None`: no such session, expired, or another link's).
pub fn session_link(
    conn: &Connection,
    session_hash: &str,
    link_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM patient_link_sessions WHERE token_hash = ?1 AND link_id = ?2 AND expires_at > ?3",
        )?
        .query_row(params![session_hash, link_id, now.timestamp()], |_| Ok(()))
        .optional()?
        .is_some())
}

/// All answered: the link is done (its page shows the summary).
pub fn record_completed(tx: &Transaction, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE patient_links SET completed_at = COALESCE(completed_at, ?2) WHERE id = ?1",
        params![id, now.timestamp()],
    )?;
    Ok(())
}

/// A link as the console lists it.
#[derive(Debug, Clone, Serialize)]
pub struct LinkStatus {
    pub id: i64,
    pub task_id: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub locked_at: Option<DateTime<Utc>>,
    pub identity_failures: u32,
    pub first_opened_at: Option<DateTime<Utc>>,
    pub verified_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub reminded_at: Option<DateTime<Utc>>,
}

/// A patient's links, newest first.
pub fn of_patient(conn: &Connection, patient_id: i64) -> Result<Vec<LinkStatus>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, task_id, created_at, expires_at, revoked_at, locked_at, identity_failures,
                first_opened_at, verified_at, completed_at, reminded_at
         FROM patient_links WHERE patient_id = ?1 ORDER BY id DESC",
    )?;
    let opt = |v: Option<i64>| v.map(ts);
    let rows = stmt.query_map([patient_id], |r| {
        Ok(LinkStatus {
            id: r.get(0)?,
            task_id: r.get(1)?,
            created_at: ts(r.get(2)?),
            expires_at: ts(r.get(3)?),
            revoked_at: opt(r.get(4)?),
            locked_at: opt(r.get(5)?),
            identity_failures: r.get(6)?,
            first_opened_at: opt(r.get(7)?),
            verified_at: opt(r.get(8)?),
            completed_at: opt(r.get(9)?),
            reminded_at: opt(r.get(10)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Links whose first SMS went out and that have had no reminder, not done and still usable:
/// (link id, when its link SMS was accepted).
pub fn reminder_candidates(
    conn: &Connection,
    now: DateTime<Utc>,
) -> Result<Vec<(i64, DateTime<Utc>)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT l.id, MIN(m.submitted_at) FROM patient_links l
         JOIN sms_messages m ON m.link_id = l.id AND m.kind = 'link' AND m.submitted_at IS NOT NULL
         JOIN followup_tasks t ON t.id = l.task_id AND t.status = 'pending'
         WHERE l.reminded_at IS NULL AND l.completed_at IS NULL AND l.revoked_at IS NULL
           AND l.locked_at IS NULL AND l.expires_at > ?1
         GROUP BY l.id",
    )?;
    let rows = stmt.query_map([now.timestamp()], |r| Ok((r.get(0)?, ts(r.get(1)?))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The one reminder was queued.
pub fn record_reminded(tx: &Transaction, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE patient_links SET reminded_at = ?2 WHERE id = ?1",
        params![id, now.timestamp()],
    )?;
    Ok(())
}
