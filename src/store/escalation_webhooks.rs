//! The outbound webhook queue and its visible delivery log.

use super::*;

/// Where a delivery is: waiting for its next attempt, done, or given up (dead-lettered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Dead,
}

impl DeliveryStatus {
    /// The name stored in `webhook_deliveries.status` and shown in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
        }
    }

    fn parse(s: &str) -> rusqlite::Result<DeliveryStatus> {
        [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Dead,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
        .ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                4,
                rusqlite::types::Type::Text,
                format!("unknown webhook delivery status {s:?}").into(),
            )
        })
    }
}

/// One delivery as shown in the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// Row id.
    pub id: i64,
    /// Escalation it reports.
    pub escalation_id: i64,
    /// Event it reports.
    pub event_id: i64,
    /// JSON body to sign and POST.
    pub body: String,
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// When to try next (pending only).
    pub next_attempt_at: DateTime<Utc>,
    /// Last HTTP status seen.
    pub last_http_status: Option<u16>,
    /// Last transport error.
    pub last_error: Option<String>,
}

fn delivery(r: &rusqlite::Row) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: r.get(0)?,
        escalation_id: r.get(1)?,
        event_id: r.get(2)?,
        body: r.get(3)?,
        status: DeliveryStatus::parse(&r.get::<_, String>(4)?)?,
        attempts: r.get(5)?,
        next_attempt_at: ts(r.get(6)?),
        last_http_status: r.get(7)?,
        last_error: r.get(8)?,
    })
}

const SELECT: &str = "SELECT id, escalation_id, event_id, body, status, attempts,
    next_attempt_at, last_http_status, last_error FROM webhook_deliveries";

/// Queues a delivery of `body` for an escalation event, due now.
pub fn enqueue(
    tx: &Transaction,
    escalation: &EscalationId,
    event_id: i64,
    body: &str,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO webhook_deliveries (escalation_id, event_id, body, status,
            next_attempt_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'pending', ?4, ?4, ?4)",
        params![escalation.0, event_id, body, now.timestamp()],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Pending deliveries due at `now`, oldest first.
pub fn due(conn: &Connection, now: DateTime<Utc>, limit: u32) -> Result<Vec<Delivery>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "{SELECT} WHERE status = 'pending' AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![now.timestamp(), limit], delivery)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The delivery log, newest first.
pub fn log(conn: &Connection, limit: u32) -> Result<Vec<Delivery>, StoreError> {
    let mut stmt = conn.prepare(&format!("{SELECT} ORDER BY id DESC LIMIT ?1"))?;
    let rows = stmt.query_map([limit], delivery)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Records an attempt (`http_status` = None when there was no response) and schedules the
/// next one by `policy`, or dead-letters it.
pub fn record_attempt(
    tx: &Transaction,
    id: i64,
    http_status: Option<u16>,
    error: Option<&str>,
    policy: &RetryPolicy,
    now: DateTime<Utc>,
) -> Result<Delivery, StoreError> {
    let attempts: u32 = optional(tx.query_row(
        "SELECT attempts FROM webhook_deliveries WHERE id = ?1 AND status = 'pending'",
        [id],
        |r| r.get(0),
    ))?
    .ok_or_else(|| StoreError::Conflict(format!("webhook delivery {id} is not pending")))?;
    let attempts = attempts + 1;
    let (status, next) = match outcome(http_status) {
        Outcome::Delivered => (DeliveryStatus::Delivered, now),
        Outcome::Rejected => (DeliveryStatus::Dead, now),
        Outcome::Retry => match policy.after_failure(attempts) {
            NextAttempt::After(d) => (DeliveryStatus::Pending, now + d),
            NextAttempt::DeadLetter => (DeliveryStatus::Dead, now),
        },
    };
    tx.execute(
        "UPDATE webhook_deliveries SET status = ?2, attempts = ?3, next_attempt_at = ?4,
            last_http_status = ?5, last_error = ?6, updated_at = ?7 WHERE id = ?1",
        params![
            id,
            status.as_str(),
            attempts,
            next.timestamp(),
            http_status,
            error,
            now.timestamp()
        ],
    )?;
    tx.query_row(&format!("{SELECT} WHERE id = ?1"), [id], delivery)
        .map_err(StoreError::from)
}
