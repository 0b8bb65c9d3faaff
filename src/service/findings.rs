//! Recording findings as escalations, whatever found them (an answer during the call, a red-flag
//! phrase in its transcript afterwards): open or update the escalation, write its event, and
//! queue the webhook, all in the caller's transaction. Pushing to consoles is the caller's job
//! once that transaction has committed ([`super::notify::publish_recorded`]).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction};

use crate::followup::escalation::webhook::{payload, WebhookEvent};
use crate::followup::escalation::FindingContext;
use crate::followup::rules::Finding;
use crate::store::escalations::{self, webhooks, Change, Recorded};
use crate::store::StoreError;

/// How findings are routed besides the finding itself: whether webhooks are queued, and the
/// hospital calendar (time zone, holidays) duty shifts are evaluated in.
#[derive(Debug, Clone, Copy)]
pub struct Routing<'a> {
    /// Queue a webhook delivery for opened and raised escalations.
    pub webhooks_enabled: bool,
    /// Time zone and holidays of the duty shifts.
    pub calendar: &'a crate::followup::pathway::Calendar,
}

/// The department whose roster answers for this patient: that of the latest discharge.
pub fn patient_department(tx: &Transaction, patient_id: i64) -> Result<String, StoreError> {
    let code: Option<String> = tx
        .query_row(
            "SELECT d.code FROM discharges x JOIN departments d ON d.id = x.department_id
             WHERE x.patient_id = ?1 ORDER BY x.discharged_at DESC LIMIT 1",
            [patient_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(code.unwrap_or_else(|| "general".into()))
}

/// Records `finding` for the patient in `ctx` and queues its webhook when one is configured.
pub fn record(
    tx: &Transaction,
    finding: &Finding,
    ctx: &FindingContext,
    roster: &crate::followup::escalation::Roster,
    webhooks_enabled: bool,
    now: DateTime<Utc>,
) -> Result<Recorded, StoreError> {
    let r = escalations::record_finding(tx, finding, ctx, roster, now)?;
    if webhooks_enabled {
        let event = match r.change {
            Change::Opened => Some(WebhookEvent::Opened),
            Change::Raised => Some(WebhookEvent::Raised),
            Change::Updated | Change::Unchanged => None,
        };
        if let (Some(event), Some(event_id)) = (event, r.event_id) {
            let e = escalations::get(tx, r.id.clone())?;
            webhooks::enqueue(
                tx,
                &r.id,
                event_id,
                &payload(&e, event, &r.notify, now),
                now,
            )?;
        }
    }
    Ok(r)
}
