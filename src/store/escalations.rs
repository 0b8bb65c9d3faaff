//! Escalations in SQLite: the rows behind [`crate::followup::escalation`]'s pure decisions.
//!
//! Every function runs inside the caller's transaction (the store's single writer thread runs
//! them one at a time), so "load unresolved → decide → insert/update" cannot interleave between
//! two concurrent answer saves; the partial unique index on (patient, script, rule) of unresolved
//! rows is the backstop. The SLA timer is the `ack_due_at` column: [`run_reescalations`] called at
//! start-up and periodically fires whatever is overdue, once per level, across restarts.

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, Transaction};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::json;

use super::{optional, StoreError};
use crate::followup::escalation::webhook::{outcome, NextAttempt, Outcome, RetryPolicy};
use crate::followup::escalation::{
    decide, due_reescalations, Action, Decision, DedupeKey, DepartmentCode, DepartmentRoster,
    Escalation, EscalationError, EscalationId, FindingContext, Notified, PatientId, Reescalation,
    Roster, Status, UserId,
};
use crate::followup::rules::Finding;
use crate::followup::script::{Bilingual, QuestionId, Route, RuleId, ScriptCode, Severity};

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// snake_case name of a serde enum (`Severity::Urgent` → `urgent`), as stored in TEXT columns.
fn name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(e) => e.to_string(),
    }
}

fn conversion(col: usize, e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(e))
}

fn from_name<T: DeserializeOwned>(col: usize, s: String) -> rusqlite::Result<T> {
    serde_json::from_value(serde_json::Value::String(s)).map_err(|e| conversion(col, e))
}

fn from_json<T: DeserializeOwned>(col: usize, s: String) -> rusqlite::Result<T> {
    serde_json::from_str(&s).map_err(|e| conversion(col, e))
}

fn to_json<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// Which roster slot of a department.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DutySlot {
    /// Doctor on duty.
    OnDuty,
    /// Backup doctor.
    Backup,
    /// Department head.
    Head,
}

/// Puts `user` in a roster slot of the department with this code.
pub fn set_duty(
    tx: &Transaction,
    department: &str,
    slot: DutySlot,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let dept = super::patients::department_id(tx, department)?
        .ok_or_else(|| StoreError::NotFound(format!("department {department}")))?;
    tx.execute(
        "INSERT INTO duty_roster (department_id, slot, user_id, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (department_id, slot) DO UPDATE SET user_id = ?3, updated_at = ?4",
        params![dept, name(&slot), user.0, now.timestamp()],
    )?;
    Ok(())
}

/// Adds `user` to a named group (`group = true`) or role of script routes.
pub fn add_group_member(
    tx: &Transaction,
    group: bool,
    group_name: &str,
    user: UserId,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT OR IGNORE INTO escalation_groups (kind, name, user_id) VALUES (?1, ?2, ?3)",
        params![if group { "group" } else { "role" }, group_name, user.0],
    )?;
    Ok(())
}

/// The roster for routing at `now`: [`load_roster`] plus who of each discipline is on shift then
/// (hospital local time and holidays from `calendar`) and every department's care team.
pub fn load_roster_at(
    conn: &Connection,
    now: DateTime<Utc>,
    calendar: &crate::followup::pathway::Calendar,
) -> Result<Roster, StoreError> {
    let mut roster = load_roster(conn)?;
    super::care_teams::fill_roster(conn, &mut roster, now, calendar)?;
    Ok(roster)
}

/// The roster as it stands, without shifts and care teams: duty slots, active supervisors,
/// groups and roles.
pub fn load_roster(conn: &Connection) -> Result<Roster, StoreError> {
    let mut roster = Roster::default();
    let mut stmt = conn.prepare(
        "SELECT d.code, r.slot, r.user_id FROM duty_roster r
         JOIN departments d ON d.id = r.department_id JOIN users u ON u.id = r.user_id
         WHERE u.active = 1",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            from_name::<DutySlot>(1, r.get(1)?)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (code, slot, user) = row?;
        let d: &mut DepartmentRoster = roster.departments.entry(DepartmentCode(code)).or_default();
        let user = Some(UserId(user));
        match slot {
            DutySlot::OnDuty => d.on_duty = user,
            DutySlot::Backup => d.backup = user,
            DutySlot::Head => d.head = user,
        }
    }
    let mut stmt =
        conn.prepare("SELECT id FROM users WHERE role = 'supervisor' AND active = 1 ORDER BY id")?;
    roster.supervisors = stmt
        .query_map([], |r| r.get(0).map(UserId))?
        .collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare(
        "SELECT g.kind, g.name, g.user_id FROM escalation_groups g JOIN users u ON u.id = g.user_id
         WHERE u.active = 1 ORDER BY g.user_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (kind, group, user) = row?;
        let map = if kind == "group" {
            &mut roster.groups
        } else {
            &mut roster.roles
        };
        map.entry(group).or_default().push(UserId(user));
    }
    Ok(roster)
}

const SELECT: &str = "SELECT id, patient_id, script_code, rule_id, department_code, route,
    severity, ack_sla_minutes, level, status, ack_due_at, opened_at, acknowledged_by,
    acknowledged_at, resolved_by, resolved_at, resolution_action, resolution_note, notified,
    evidence FROM escalations";

fn row(r: &rusqlite::Row) -> rusqlite::Result<Escalation> {
    let status: String = r.get(9)?;
    let status = match status.as_str() {
        "open" => Status::Open,
        "acknowledged" => Status::Acknowledged {
            by: UserId(r.get(12)?),
            at: ts(r.get(13)?),
        },
        _ => Status::Resolved {
            by: UserId(r.get(14)?),
            at: ts(r.get(15)?),
            action: from_name(16, r.get(16)?)?,
            note: r.get(17)?,
        },
    };
    Ok(Escalation {
        id: EscalationId(r.get(0)?),
        key: DedupeKey {
            patient: PatientId(r.get(1)?),
            script: ScriptCode(r.get(2)?),
            rule: RuleId(r.get(3)?),
        },
        department: DepartmentCode(r.get(4)?),
        route: from_json(5, r.get(5)?)?,
        severity: from_name(6, r.get(6)?)?,
        ack_sla_minutes: r.get(7)?,
        level: from_name(8, r.get(8)?)?,
        status,
        ack_due_at: ts(r.get(10)?),
        opened_at: ts(r.get(11)?),
        notified: from_json(18, r.get(18)?)?,
        evidence: from_json(19, r.get(19)?)?,
    })
}

fn query(
    conn: &Connection,
    filter: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<Escalation>, StoreError> {
    let mut stmt = conn.prepare(&format!("{SELECT} {filter}"))?;
    let rows = stmt.query_map(args, row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One escalation.
pub fn get(conn: &Connection, id: EscalationId) -> Result<Escalation, StoreError> {
    optional(conn.query_row(&format!("{SELECT} WHERE id = ?1"), [id.0], row))?
        .ok_or_else(|| StoreError::NotFound(format!("escalation {id}")))
}

/// A patient's escalations, newest first (patient timeline).
pub fn for_patient(conn: &Connection, patient: PatientId) -> Result<Vec<Escalation>, StoreError> {
    query(
        conn,
        "WHERE patient_id = ?1 ORDER BY opened_at DESC, id DESC",
        [patient.0],
    )
}

/// All unresolved escalations, most severe and oldest first (doctor and supervisor consoles).
pub fn unresolved(conn: &Connection) -> Result<Vec<Escalation>, StoreError> {
    query(
        conn,
        "WHERE status != 'resolved' ORDER BY CASE severity WHEN 'emergency' THEN 0
         WHEN 'urgent' THEN 1 WHEN 'high' THEN 2 ELSE 3 END, opened_at, id",
        [],
    )
}

fn save(tx: &Transaction, e: &Escalation, now: DateTime<Utc>) -> Result<(), StoreError> {
    let (ack_by, ack_at, res_by, res_at, action, note) = match &e.status {
        Status::Open => (None, None, None, None, None, None),
        Status::Acknowledged { by, at } => {
            (Some(by.0), Some(at.timestamp()), None, None, None, None)
        }
        Status::Resolved {
            by,
            at,
            action,
            note,
        } => (
            None,
            None,
            Some(by.0),
            Some(at.timestamp()),
            Some(name(action)),
            Some(note.clone()),
        ),
    };
    let status = match e.status {
        Status::Open => "open",
        Status::Acknowledged { .. } => "acknowledged",
        Status::Resolved { .. } => "resolved",
    };
    tx.execute(
        "UPDATE escalations SET severity = ?2, ack_sla_minutes = ?3, level = ?4, status = ?5,
            ack_due_at = ?6, updated_at = ?7,
            acknowledged_by = COALESCE(?8, acknowledged_by),
            acknowledged_at = COALESCE(?9, acknowledged_at),
            resolved_by = ?10, resolved_at = ?11, resolution_action = ?12, resolution_note = ?13,
            notified = ?14, evidence = ?15
         WHERE id = ?1",
        params![
            e.id.0,
            name(&e.severity),
            e.ack_sla_minutes,
            name(&e.level),
            status,
            e.ack_due_at.timestamp(),
            now.timestamp(),
            ack_by,
            ack_at,
            res_by,
            res_at,
            action,
            note,
            to_json(&e.notified)?,
            to_json(&e.evidence)?,
        ],
    )?;
    Ok(())
}

fn event(
    tx: &Transaction,
    id: &EscalationId,
    kind: &str,
    actor: Option<&UserId>,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO escalation_events (escalation_id, kind, actor_id, detail, at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            id.0,
            kind,
            actor.map(|a| a.0),
            detail.to_string(),
            now.timestamp()
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// What recording a finding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A new escalation was opened.
    Opened,
    /// Evidence was added to the unresolved one.
    Updated,
    /// Its severity went up and it was re-opened and re-notified.
    Raised,
    /// The same evidence was already there (a retried save).
    Unchanged,
}

/// Result of [`record_finding`]: what to push, and to whom.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recorded {
    /// The escalation.
    pub id: EscalationId,
    /// What happened.
    pub change: Change,
    /// People to notify now (live push and webhook).
    pub notify: Vec<Notified>,
    /// The event row written, if any (webhook deliveries reference it).
    pub event_id: Option<i64>,
    /// The rule that fired, its severity and its advice: the live event carries them so every
    /// console that shows the escalation can show what the patient must be told. Flattened in
    /// JSON: `{id, change, notify, event_id, script, rule, severity, route, advice, …}`.
    #[serde(flatten)]
    pub finding: FindingSummary,
}

/// What a finding says, without its evidence: enough for the nurse's console to show the advice
/// next to the question that triggered it, and for the saved-answer response (issue 20: not only
/// ids).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingSummary {
    /// Script code.
    pub script: ScriptCode,
    /// The rule.
    pub rule: RuleId,
    /// How urgent this finding is (the escalation keeps the highest seen).
    pub severity: Severity,
    /// To whom it goes.
    pub route: Route,
    /// Minutes to acknowledge.
    pub ack_sla_minutes: u32,
    /// What the nurse tells the patient now (zh and en), if the rule gives advice.
    pub advice: Option<Bilingual>,
    /// The questions whose answers made it fire.
    pub questions: Vec<QuestionId>,
}

impl From<&Finding> for FindingSummary {
    fn from(f: &Finding) -> Self {
        FindingSummary {
            script: f.script.clone(),
            rule: f.rule.clone(),
            severity: f.severity,
            route: f.route.clone(),
            ack_sla_minutes: f.ack_sla_minutes,
            advice: f.advice(),
            questions: f.questions(),
        }
    }
}

/// Records one finding of [`crate::followup::rules::evaluate`]: opens, updates or leaves alone the
/// patient's escalation for that rule, and writes the event.
pub fn record_finding(
    tx: &Transaction,
    finding: &Finding,
    ctx: &FindingContext,
    roster: &Roster,
    now: DateTime<Utc>,
) -> Result<Recorded, StoreError> {
    let existing = query(
        tx,
        "WHERE patient_id = ?1 AND script_code = ?2 AND rule_id = ?3 AND status != 'resolved'",
        params![ctx.patient.0, finding.script.0, finding.rule.0],
    )?;
    match decide(&existing, finding, ctx, roster, now) {
        Decision::Nothing(id) => Ok(Recorded {
            id,
            change: Change::Unchanged,
            notify: Vec::new(),
            event_id: None,
            finding: finding.into(),
        }),
        Decision::Open(new) => {
            tx.execute(
                "INSERT INTO escalations (patient_id, script_code, rule_id, department_code, route,
                    severity, ack_sla_minutes, level, status, ack_due_at, opened_at, updated_at,
                    notified, evidence)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'open', ?9, ?10, ?10, ?11, ?12)",
                params![
                    new.key.patient.0,
                    new.key.script.0,
                    new.key.rule.0,
                    new.department.0,
                    to_json(&new.route)?,
                    name(&new.severity),
                    new.ack_sla_minutes,
                    name(&new.level),
                    new.ack_due_at.timestamp(),
                    now.timestamp(),
                    to_json(&new.notify)?,
                    to_json(&[&new.evidence])?,
                ],
            )?;
            let id = EscalationId(tx.last_insert_rowid());
            let detail = json!({"severity": new.severity, "level": new.level,
                "notify": new.notify, "evidence": new.evidence});
            let event_id = event(tx, &id, "opened", None, detail, now)?;
            Ok(Recorded {
                id,
                change: Change::Opened,
                notify: new.notify,
                event_id: Some(event_id),
                finding: finding.into(),
            })
        }
        Decision::Update(update) => {
            let mut e = get(tx, update.id.clone())?;
            e.apply(&update);
            save(tx, &e, now)?;
            let (kind, change, notify) = match &update.raised {
                Some(r) => ("raised", Change::Raised, r.notify.clone()),
                None => ("updated", Change::Updated, Vec::new()),
            };
            let detail = json!({"evidence": update.evidence, "raised": update.raised});
            let event_id = event(tx, &e.id, kind, None, detail, now)?;
            Ok(Recorded {
                id: e.id,
                change,
                notify,
                event_id: Some(event_id),
                finding: finding.into(),
            })
        }
    }
}

fn refused(e: EscalationError) -> StoreError {
    match e {
        EscalationError::EmptyNote => StoreError::Invalid(e.to_string()),
        other => StoreError::Conflict(other.to_string()),
    }
}

/// A doctor acknowledges: stops re-escalation. Conflict if someone else already did.
pub fn acknowledge(
    tx: &Transaction,
    id: EscalationId,
    by: UserId,
    now: DateTime<Utc>,
) -> Result<Escalation, StoreError> {
    let mut e = get(tx, id)?;
    let was_open = e.awaits_ack();
    e.acknowledge(by.clone(), now).map_err(refused)?;
    if was_open {
        save(tx, &e, now)?;
        event(tx, &e.id, "acknowledged", Some(&by), json!({}), now)?;
    }
    Ok(e)
}

/// A doctor resolves with an action and a note (required).
pub fn resolve(
    tx: &Transaction,
    id: EscalationId,
    by: UserId,
    action: Action,
    note: &str,
    now: DateTime<Utc>,
) -> Result<Escalation, StoreError> {
    let mut e = get(tx, id)?;
    e.resolve(by.clone(), action, note, now).map_err(refused)?;
    save(tx, &e, now)?;
    let detail = json!({"action": action, "note": note.trim()});
    event(tx, &e.id, "resolved", Some(&by), detail, now)?;
    Ok(e)
}

/// The SLA timer: moves every overdue, unacknowledged escalation to its next level, persists it
/// and returns who to notify. Safe to call at start-up and on every tick: a level is used once.
pub fn run_reescalations(
    tx: &Transaction,
    roster: &Roster,
    now: DateTime<Utc>,
) -> Result<Vec<Reescalation>, StoreError> {
    let due = query(
        tx,
        "WHERE status = 'open' AND ack_due_at <= ?1 ORDER BY ack_due_at, id",
        [now.timestamp()],
    )?;
    let out = due_reescalations(&due, roster, now);
    for r in &out {
        if let Some(mut e) = due.iter().find(|e| e.id == r.id).cloned() {
            e.apply_reescalation(r);
            save(tx, &e, now)?;
            let detail = json!({"from": r.from, "to": r.to, "notify": r.notify,
                "ack_due_at": r.ack_due_at});
            event(tx, &e.id, "reescalated", None, detail, now)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "escalations_tests.rs"]
mod tests;

#[path = "escalation_webhooks.rs"]
pub mod webhooks;
