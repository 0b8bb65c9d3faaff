//! What supervisors watch and report on: the live wallboard and the period report. Gathers the
//! inputs with SQL; the metric definitions live in [`crate::followup::metrics`].

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rusqlite::{params, Connection};
use serde::Serialize;

use super::StoreError;
use crate::followup::metrics::{rate, reached_names, within_business_days, Summary};
use crate::followup::pathway::Calendar;

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// `'completed','refused',…` for SQL (names from the typed enum, never user input).
fn reached_sql() -> String {
    reached_names()
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Local midnight of `date` in the calendar's zone, as Unix seconds.
pub fn local_midnight(calendar: &Calendar, date: NaiveDate) -> i64 {
    calendar
        .tz
        .from_local_datetime(&date.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map(|t| t.timestamp())
        .unwrap_or_else(|| date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp())
}

/// What an agent is doing now, as far as the database tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// No live session.
    Offline,
    /// Logged in, no call and no call awaiting its disposition.
    Idle,
    /// A call of theirs has not ended.
    OnCall,
    /// Holds a task whose call ended and whose attempt is not recorded yet.
    WrapUp,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentStatus {
    pub user_id: i64,
    pub name: String,
    pub state: AgentState,
    pub task_id: Option<i64>,
    pub call_id: Option<String>,
    pub attempts_today: i64,
    pub completed_today: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueDepth {
    /// In today's queue, not held by anyone.
    pub waiting: i64,
    /// Held under a live lease.
    pub claimed: i64,
    /// Waiting and past their due day.
    pub overdue: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Today {
    pub attempted: i64,
    pub reached: i64,
    pub completed: i64,
    pub live_calls: i64,
}

/// Unresolved escalations by how long they have been open.
#[derive(Debug, Clone, Serialize, Default)]
pub struct EscalationAges {
    pub under_1h: i64,
    pub h1_to_4: i64,
    pub h4_to_24: i64,
    pub over_24h: i64,
    /// Open (not acknowledged) past their acknowledgement deadline.
    pub overdue_ack: i64,
    pub acknowledged: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Wallboard {
    pub at: DateTime<Utc>,
    pub agents: Vec<AgentStatus>,
    pub queue: QueueDepth,
    pub today: Today,
    pub escalations: EscalationAges,
}

/// A call older than this without an end is stale (a crash), not a live call.
const LIVE_CALL_MAX_SECS: i64 = 4 * 3600;

pub fn wallboard(
    conn: &Connection,
    calendar: &Calendar,
    now: DateTime<Utc>,
) -> Result<Wallboard, StoreError> {
    let t = now.timestamp();
    let day_start = local_midnight(calendar, now.with_timezone(&calendar.tz).date_naive());
    let reached = reached_sql();
    let mut stmt = conn.prepare(&format!(
        "SELECT u.id, u.display_name,
            EXISTS(SELECT 1 FROM sessions s WHERE s.user_id = u.id AND s.expires_at > ?1),
            (SELECT c.id FROM calls c WHERE c.agent_id = u.id AND c.ended_at IS NULL
                AND c.state != 'ended' AND c.started_at > ?1 - {LIVE_CALL_MAX_SECS}
                ORDER BY c.started_at DESC LIMIT 1),
            (SELECT t.id FROM followup_tasks t WHERE t.lease_owner = u.id AND t.lease_expires_at > ?1
                ORDER BY t.lease_expires_at DESC LIMIT 1),
            (SELECT COUNT(*) FROM task_attempts a WHERE a.user_id = u.id AND a.at >= ?2),
            (SELECT COUNT(*) FROM task_attempts a WHERE a.user_id = u.id AND a.at >= ?2
                AND a.disposition = 'completed')
         FROM users u WHERE u.role = 'nurse' AND u.active = 1 ORDER BY u.display_name"
    ))?;
    let rows = stmt.query_map(params![t, day_start], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, bool>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<i64>>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, i64>(6)?,
        ))
    })?;
    let mut agents = Vec::new();
    for row in rows {
        let (user_id, name, online, call, task, attempts_today, completed_today) = row?;
        // wrap-up: the held task had a call of theirs that ended after the last recorded attempt
        let wrap_up = match (&call, task) {
            (None, Some(task_id)) => conn.query_row(
                "SELECT EXISTS(SELECT 1 FROM calls c WHERE c.task_id = ?1 AND c.agent_id = ?2
                    AND c.ended_at IS NOT NULL AND c.ended_at >=
                    COALESCE((SELECT MAX(at) FROM task_attempts WHERE task_id = ?1), 0))",
                params![task_id, user_id],
                |r| r.get::<_, bool>(0),
            )?,
            _ => false,
        };
        let state = match (&call, wrap_up, online) {
            (Some(_), _, _) => AgentState::OnCall,
            (None, true, _) => AgentState::WrapUp,
            (None, false, true) => AgentState::Idle,
            (None, false, false) => AgentState::Offline,
        };
        agents.push(AgentStatus {
            user_id,
            name,
            state,
            task_id: task,
            call_id: call,
            attempts_today,
            completed_today,
        });
    }
    let queue = conn.query_row(
        "SELECT
            COALESCE(SUM(t.lease_expires_at IS NULL OR t.lease_expires_at <= ?1), 0),
            COALESCE(SUM(t.lease_expires_at > ?1), 0),
            COALESCE(SUM((t.lease_expires_at IS NULL OR t.lease_expires_at <= ?1) AND t.due_at < ?2), 0)
         FROM queue_entries q JOIN followup_tasks t ON t.id = q.task_id WHERE t.status = 'pending'",
        params![t, day_start],
        |r| {
            Ok(QueueDepth {
                waiting: r.get(0)?,
                claimed: r.get(1)?,
                overdue: r.get(2)?,
            })
        },
    )?;
    let today = conn.query_row(
        &format!(
            "SELECT COUNT(*), COALESCE(SUM(disposition IN ({reached})), 0),
                COALESCE(SUM(disposition = 'completed'), 0),
                (SELECT COUNT(*) FROM calls WHERE ended_at IS NULL AND state != 'ended'
                    AND started_at > ?2 - {LIVE_CALL_MAX_SECS})
             FROM task_attempts WHERE at >= ?1"
        ),
        params![day_start, t],
        |r| {
            Ok(Today {
                attempted: r.get(0)?,
                reached: r.get(1)?,
                completed: r.get(2)?,
                live_calls: r.get(3)?,
            })
        },
    )?;
    let mut escalations = EscalationAges::default();
    let mut stmt = conn.prepare(
        "SELECT status, opened_at, ack_due_at FROM escalations WHERE status != 'resolved'",
    )?;
    for row in stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })? {
        let (status, opened, due) = row?;
        let age_h = (t - opened) / 3600;
        match age_h {
            0 => escalations.under_1h += 1,
            1..=3 => escalations.h1_to_4 += 1,
            4..=23 => escalations.h4_to_24 += 1,
            _ => escalations.over_24h += 1,
        }
        if status == "open" && due < t {
            escalations.overdue_ack += 1;
        }
        if status == "acknowledged" {
            escalations.acknowledged += 1;
        }
    }
    Ok(Wallboard {
        at: now,
        agents,
        queue,
        today,
        escalations,
    })
}

/// The period report (see [`crate::followup::metrics`] for the definitions).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub from: NaiveDate,
    /// Inclusive.
    pub to: NaiveDate,
    /// Only patients carrying this tag, when given.
    pub tag: Option<String>,
    pub discharges: i64,
    pub discharges_attempted: i64,
    pub coverage: Option<f64>,
    pub tasks_due: i64,
    pub tasks_attempted: i64,
    pub tasks_reached: i64,
    pub tasks_completed: i64,
    pub reach_rate: Option<f64>,
    pub completion_rate: Option<f64>,
    pub dials: i64,
    pub completed_contacts: i64,
    pub dials_per_completed_contact: Option<f64>,
    pub hours_to_first_contact: Summary,
    pub reached_within_2_business_days: i64,
    pub share_reached_within_2_business_days: Option<f64>,
    pub escalations_opened: i64,
    pub escalations_acknowledged: i64,
    pub minutes_to_acknowledge: Summary,
}

pub fn report(
    conn: &Connection,
    calendar: &Calendar,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Report, StoreError> {
    report_tagged(conn, calendar, from, to, None)
}

/// The period report over the patients carrying `tag` (all patients when `None`).
pub fn report_tagged(
    conn: &Connection,
    calendar: &Calendar,
    from: NaiveDate,
    to: NaiveDate,
    tag: Option<&str>,
) -> Result<Report, StoreError> {
    let start = local_midnight(calendar, from);
    let end = local_midnight(calendar, to.succ_opt().unwrap_or(to));
    let reached = reached_sql();
    let tagged = |col: &str| super::tags::filter_sql(col, "?3");
    let (d_tag, t_tag, e_tag) = (
        tagged("d.patient_id"),
        tagged("t.patient_id"),
        tagged("patient_id"),
    );

    // discharges of the period with their first attempt and first reached attempt
    let mut stmt = conn.prepare(&format!(
        "SELECT d.discharged_at,
            (SELECT MIN(a.at) FROM task_attempts a JOIN followup_tasks t ON t.id = a.task_id
                JOIN enrollments e ON e.id = t.enrollment_id WHERE e.discharge_id = d.id),
            (SELECT MIN(a.at) FROM task_attempts a JOIN followup_tasks t ON t.id = a.task_id
                JOIN enrollments e ON e.id = t.enrollment_id WHERE e.discharge_id = d.id
                AND a.disposition IN ({reached}))
         FROM discharges d WHERE d.discharged_at >= ?1 AND d.discharged_at < ?2 AND {d_tag}"
    ))?;
    let (mut discharges, mut attempted, mut within) = (0, 0, 0);
    let mut hours = Vec::new();
    for row in stmt.query_map(params![start, end, tag], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, Option<i64>>(1)?,
            r.get::<_, Option<i64>>(2)?,
        ))
    })? {
        let (discharged, first_attempt, first_reached) = row?;
        discharges += 1;
        attempted += i64::from(first_attempt.is_some());
        if let Some(at) = first_reached {
            hours.push((at - discharged) as f64 / 3600.0);
            within += i64::from(within_business_days(calendar, ts(discharged), ts(at), 2));
        }
    }

    // a task the patient's readmission paused or superseded was never due for a call
    let (tasks_due, tasks_attempted, tasks_reached, tasks_completed) = conn.query_row(
        &format!(
            "SELECT COUNT(*), COALESCE(SUM(attempts_total > 0), 0),
                COALESCE(SUM(EXISTS(SELECT 1 FROM task_attempts a WHERE a.task_id = t.id
                    AND a.disposition IN ({reached}))), 0),
                COALESCE(SUM(status = 'completed'), 0)
             FROM followup_tasks t WHERE due_at >= ?1 AND due_at < ?2
               AND status NOT IN ('cancelled', 'paused', 'superseded') AND {t_tag}"
        ),
        params![start, end, tag],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let (dials, completed_contacts) = conn.query_row(
        &format!(
            "SELECT COUNT(*), COALESCE(SUM(a.disposition = 'completed'), 0)
             FROM task_attempts a JOIN followup_tasks t ON t.id = a.task_id
             WHERE a.at >= ?1 AND a.at < ?2 AND {t_tag}"
        ),
        params![start, end, tag],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
    )?;
    let mut stmt = conn.prepare(&format!(
        "SELECT opened_at, acknowledged_at FROM escalations
         WHERE opened_at >= ?1 AND opened_at < ?2 AND {e_tag}"
    ))?;
    let (mut opened, mut minutes) = (0, Vec::new());
    for row in stmt.query_map(params![start, end, tag], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?))
    })? {
        let (o, ack) = row?;
        opened += 1;
        if let Some(a) = ack {
            minutes.push((a - o) as f64 / 60.0);
        }
    }
    Ok(Report {
        from,
        to,
        tag: tag.map(str::to_owned),
        discharges,
        discharges_attempted: attempted,
        coverage: rate(attempted, discharges),
        tasks_due,
        tasks_attempted,
        tasks_reached,
        tasks_completed,
        reach_rate: rate(tasks_reached, tasks_attempted),
        completion_rate: rate(tasks_completed, tasks_due),
        dials,
        completed_contacts,
        dials_per_completed_contact: rate(dials, completed_contacts),
        hours_to_first_contact: Summary::of(&hours),
        reached_within_2_business_days: within,
        share_reached_within_2_business_days: rate(within, discharges),
        escalations_opened: opened,
        escalations_acknowledged: minutes.len() as i64,
        minutes_to_acknowledge: Summary::of(&minutes),
    })
}

/// The report as CSV rows `metric,value` (empty value = not enough data).
pub fn report_csv(r: &Report) -> Result<String, StoreError> {
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_default();
    let rows: Vec<(&str, String)> = vec![
        ("from", r.from.to_string()),
        ("to", r.to.to_string()),
        ("tag", r.tag.clone().unwrap_or_default()),
        ("discharges", r.discharges.to_string()),
        ("discharges_attempted", r.discharges_attempted.to_string()),
        ("coverage", opt(r.coverage)),
        ("tasks_due", r.tasks_due.to_string()),
        ("tasks_attempted", r.tasks_attempted.to_string()),
        ("tasks_reached", r.tasks_reached.to_string()),
        ("tasks_completed", r.tasks_completed.to_string()),
        ("reach_rate", opt(r.reach_rate)),
        ("completion_rate", opt(r.completion_rate)),
        ("dials", r.dials.to_string()),
        ("completed_contacts", r.completed_contacts.to_string()),
        (
            "dials_per_completed_contact",
            opt(r.dials_per_completed_contact),
        ),
        (
            "hours_to_first_contact_median",
            opt(r.hours_to_first_contact.median),
        ),
        (
            "hours_to_first_contact_mean",
            opt(r.hours_to_first_contact.mean),
        ),
        (
            "hours_to_first_contact_p90",
            opt(r.hours_to_first_contact.p90),
        ),
        (
            "reached_within_2_business_days",
            r.reached_within_2_business_days.to_string(),
        ),
        (
            "share_reached_within_2_business_days",
            opt(r.share_reached_within_2_business_days),
        ),
        ("escalations_opened", r.escalations_opened.to_string()),
        (
            "escalations_acknowledged",
            r.escalations_acknowledged.to_string(),
        ),
        (
            "minutes_to_acknowledge_median",
            opt(r.minutes_to_acknowledge.median),
        ),
        (
            "minutes_to_acknowledge_mean",
            opt(r.minutes_to_acknowledge.mean),
        ),
        (
            "minutes_to_acknowledge_p90",
            opt(r.minutes_to_acknowledge.p90),
        ),
    ];
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["metric", "value"])
        .map_err(|e| StoreError::Invalid(format!("csv: {e}")))?;
    for (k, v) in rows {
        w.write_record([k, v.as_str()])
            .map_err(|e| StoreError::Invalid(format!("csv: {e}")))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| StoreError::Invalid(format!("csv: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
