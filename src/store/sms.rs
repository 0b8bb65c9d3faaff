//! The SMS outbox (`sms_messages`), its delivery reports, inbound SMS and opt-outs.

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::StoreError;
use crate::followup::sms::outbox::SendCheck;
use crate::followup::sms::{DeliveryState, MessageKind};

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewSms<'a> {
    pub patient_id: i64,
    pub link_id: Option<i64>,
    pub kind: MessageKind,
    pub to_number: &'a str,
    pub body: &'a str,
}

/// Queues a message for the outbox worker; returns its id.
pub fn enqueue(tx: &Transaction, m: &NewSms<'_>, now: DateTime<Utc>) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO sms_messages (patient_id, link_id, kind, to_number, body, next_attempt_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6)",
        params![m.patient_id, m.link_id, m.kind.as_str(), m.to_number, m.body, now.timestamp()],
    )?;
    Ok(tx.last_insert_rowid())
}

/// A queued message whose attempt is due, with what decides whether it may still go.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub to_number: String,
    pub body: String,
    pub attempts: u32,
    pub check: SendCheck,
}

/// Queued messages due at `now`, oldest first.
pub fn due(conn: &Connection, now: DateTime<Utc>, limit: i64) -> Result<Vec<Due>, StoreError> {
    let t = now.timestamp();
    let mut stmt = conn.prepare_cached(
        "SELECT m.id, m.to_number, m.body, m.attempts,
                EXISTS (SELECT 1 FROM sms_opt_outs o WHERE o.patient_id = m.patient_id),
                COALESCE((SELECT t.status = 'pending' FROM patient_links l JOIN followup_tasks t ON t.id = l.task_id
                          WHERE l.id = m.link_id), 1),
                COALESCE((SELECT l.revoked_at IS NULL AND l.locked_at IS NULL AND l.expires_at > ?1
                          FROM patient_links l WHERE l.id = m.link_id), 1)
         FROM sms_messages m WHERE m.state = 'queued' AND m.next_attempt_at <= ?1
         ORDER BY m.next_attempt_at, m.id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![t, limit], |r| {
        Ok(Due {
            id: r.get(0)?,
            to_number: r.get(1)?,
            body: r.get(2)?,
            attempts: r.get(3)?,
            check: SendCheck {
                opted_out: r.get(4)?,
                task_pending: r.get(5)?,
                link_usable: r.get(6)?,
            },
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// smsbox accepted it: from now on its state comes from delivery reports. `stored_body` is
/// the text without the link's token.
pub fn record_submitted(
    tx: &Transaction,
    id: i64,
    attempts: u32,
    stored_body: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE sms_messages SET state = 'submitted', attempts = ?2, body = ?3, submitted_at = ?4,
             last_error = NULL, updated_at = ?4 WHERE id = ?1 AND state = 'queued'",
        params![id, attempts, stored_body, now.timestamp()],
    )?;
    Ok(())
}

/// This attempt did not go through; the next one is at `next_at`.
pub fn record_retry(
    tx: &Transaction,
    id: i64,
    attempts: u32,
    next_at: DateTime<Utc>,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE sms_messages SET attempts = ?2, next_attempt_at = ?3, last_error = ?4, updated_at = ?5
         WHERE id = ?1 AND state = 'queued'",
        params![id, attempts, next_at.timestamp(), error, now.timestamp()],
    )?;
    Ok(())
}

/// The message will not be sent (refused, given up, or withheld); `stored_body` as in
/// [`record_submitted`].
pub fn record_failed(
    tx: &Transaction,
    id: i64,
    attempts: u32,
    error: &str,
    stored_body: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE sms_messages SET state = 'failed', attempts = ?2, last_error = ?3, body = ?4, updated_at = ?5
         WHERE id = ?1 AND state = 'queued'",
        params![id, attempts, error, stored_body, now.timestamp()],
    )?;
    Ok(())
}

/// What a delivery report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOutcome {
    /// No such message.
    Unknown,
    /// Stored; the message's state moved from the first to the second.
    Moved(DeliveryState, DeliveryState),
    /// Stored; the state stays (a late intermediate report, a repeat).
    Kept(DeliveryState),
}

/// Stores a delivery report and moves the message's state when the report may
/// (`DeliveryState::may_move_to`).
pub fn record_report(
    tx: &Transaction,
    id: i64,
    code: &str,
    answer: &str,
    state: Option<DeliveryState>,
    now: DateTime<Utc>,
) -> Result<(ReportOutcome, Option<i64>), StoreError> {
    let current: Option<(String, i64)> = tx
        .query_row(
            "SELECT state, patient_id FROM sms_messages WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((current, patient_id)) = current else {
        return Ok((ReportOutcome::Unknown, None));
    };
    let current = DeliveryState::parse(&current)
        .ok_or_else(|| StoreError::Invalid(format!("sms message {id} has state {current}")))?;
    let answer: String = answer.chars().take(200).collect();
    tx.execute(
        "INSERT INTO sms_delivery_reports (message_id, code, answer, received_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, code, answer, now.timestamp()],
    )?;
    let outcome = match state {
        Some(to) if current.may_move_to(to) && to != current => {
            tx.execute(
                "UPDATE sms_messages SET state = ?2, updated_at = ?3,
                     delivered_at = CASE WHEN ?2 = 'delivered' THEN ?3 ELSE delivered_at END,
                     last_error = CASE WHEN ?2 = 'failed' THEN ?4 ELSE last_error END
                 WHERE id = ?1",
                params![
                    id,
                    to.as_str(),
                    now.timestamp(),
                    format!("delivery report {code} {answer}")
                ],
            )?;
            ReportOutcome::Moved(current, to)
        }
        _ => ReportOutcome::Kept(current),
    };
    Ok((outcome, Some(patient_id)))
}

/// The patients whose phone (or alternate phone) is `e164`.
pub fn patients_with_phone(conn: &Connection, e164: &str) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT id FROM patients WHERE phone = ?1 OR alt_phone = ?1 ORDER BY id")?;
    let rows = stmt.query_map([e164], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Stores an inbound SMS; returns its id.
pub fn record_inbound(
    tx: &Transaction,
    patient_id: Option<i64>,
    from: &str,
    body: &str,
    opt_out: bool,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO sms_inbound (patient_id, from_number, body, kind, received_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![patient_id, from, body, if opt_out { "opt_out" } else { "reply" }, now.timestamp()],
    )?;
    Ok(tx.last_insert_rowid())
}

/// The patient wants no more SMS; queued messages to them are failed. Returns whether this
/// is new (false when they had opted out before).
pub fn opt_out(
    tx: &Transaction,
    patient_id: i64,
    inbound_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = tx.execute(
        "INSERT OR IGNORE INTO sms_opt_outs (patient_id, opted_out_at, inbound_id) VALUES (?1, ?2, ?3)",
        params![patient_id, now.timestamp(), inbound_id],
    )?;
    tx.execute(
        "UPDATE sms_messages SET state = 'failed', last_error = 'not sent: the patient opted out of SMS',
             updated_at = ?2 WHERE patient_id = ?1 AND state = 'queued'",
        params![patient_id, now.timestamp()],
    )?;
    Ok(n == 1)
}

pub fn is_opted_out(conn: &Connection, patient_id: i64) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sms_opt_outs WHERE patient_id = ?1",
            [patient_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// An SMS as the console lists it (the stored body never holds a live token once sent).
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: i64,
    pub direction: &'static str,
    pub kind: String,
    pub state: Option<String>,
    pub body: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A patient's SMS in and out, newest first, and whether they opted out.
pub fn of_patient(conn: &Connection, patient_id: i64) -> Result<Vec<MessageView>, StoreError> {
    let mut out: Vec<MessageView> = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT id, kind, state, body, attempts, last_error, created_at, delivered_at
         FROM sms_messages WHERE patient_id = ?1",
    )?;
    for row in stmt.query_map([patient_id], |r| {
        let state: String = r.get(2)?;
        let body: String = r.get(3)?;
        Ok(MessageView {
            id: r.get(0)?,
            direction: "out",
            kind: r.get(1)?,
            // a queued message still carries its link's token: the console never shows it
            body: if state == "queued" {
                "…".into()
            } else {
                body
            },
            state: Some(state),
            attempts: r.get(4)?,
            last_error: r.get(5)?,
            at: ts(r.get(6)?),
            delivered_at: r.get::<_, Option<i64>>(7)?.map(ts),
        })
    })? {
        out.push(row?);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT id, kind, body, received_at FROM sms_inbound WHERE patient_id = ?1",
    )?;
    for row in stmt.query_map([patient_id], |r| {
        Ok(MessageView {
            id: r.get(0)?,
            direction: "in",
            kind: r.get(1)?,
            state: None,
            body: r.get(2)?,
            attempts: 0,
            last_error: None,
            at: ts(r.get(3)?),
            delivered_at: None,
        })
    })? {
        out.push(row?);
    }
    out.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
    Ok(out)
}
