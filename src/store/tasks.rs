//! The daily queue over follow-up tasks: build, claim (a lease), release, disposition.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::{optional, StoreError};
use crate::followup::pathway::MAX_WINDOW_BEFORE_DAYS;
use crate::followup::retry::{
    decide, AttemptState, Disposition, DispositionError, Locale, RetryPolicy, TaskStatus,
};

/// A task as nurses see it in the queue.
#[derive(Debug, Clone, Serialize)]
pub struct TaskView {
    pub id: i64,
    pub rank: Option<i64>,
    pub patient_id: i64,
    pub patient_name: String,
    pub step_name: String,
    /// The step's Chinese name (`None` for tasks of a pathway that no longer names it).
    pub step_name_zh: Option<String>,
    pub script_code: Option<String>,
    pub role: String,
    pub priority: i64,
    pub due_at: DateTime<Utc>,
    pub window_end_at: DateTime<Utc>,
    pub days_overdue: i64,
    pub status: String,
    pub attempts_total: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub use_alt_contact: bool,
    pub lease_owner: Option<i64>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub last_disposition: Option<String>,
    pub flagged: Option<String>,
}

/// `execute` through the connection's statement cache: the claim and disposition paths run the
/// same few statements thousands of times, and parsing them each time was a third of their cost.
fn exec(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// `query_row` through the statement cache.
fn row<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

const VIEW_SELECT: &str =
    "SELECT t.id, q.rank, t.patient_id, p.name, t.step_name, t.script_code, t.role,
        t.priority, t.due_at, t.window_end_at, t.status, t.attempts_total, t.next_attempt_at,
        t.use_alt_contact, t.lease_owner, t.lease_expires_at, t.last_disposition, t.flagged,
        t.step_name_zh
    FROM followup_tasks t JOIN patients p ON p.id = t.patient_id
    LEFT JOIN queue_entries q ON q.task_id = t.id";

fn view(row: &rusqlite::Row, now: DateTime<Utc>) -> rusqlite::Result<TaskView> {
    let due: i64 = row.get(8)?;
    Ok(TaskView {
        id: row.get(0)?,
        rank: row.get(1)?,
        patient_id: row.get(2)?,
        patient_name: row.get(3)?,
        step_name: row.get(4)?,
        step_name_zh: row.get(18)?,
        script_code: row.get(5)?,
        role: row.get(6)?,
        priority: row.get(7)?,
        due_at: ts(due),
        window_end_at: ts(row.get(9)?),
        days_overdue: ((now.timestamp() - due) / 86_400).max(0),
        status: row.get(10)?,
        attempts_total: row.get(11)?,
        next_attempt_at: ts(row.get(12)?),
        use_alt_contact: row.get(13)?,
        lease_owner: row.get(14)?,
        lease_expires_at: row.get::<_, Option<i64>>(15)?.map(ts),
        last_disposition: row.get(16)?,
        flagged: row.get(17)?,
    })
}

pub fn get_task(conn: &Connection, id: i64, now: DateTime<Utc>) -> Result<TaskView, StoreError> {
    optional(row(
        conn,
        &format!("{VIEW_SELECT} WHERE t.id = ?1"),
        [id],
        |r| view(r, now),
    ))?
    .ok_or_else(|| StoreError::NotFound(format!("task {id}")))
}

/// Summary of a queue build.
#[derive(Debug, Clone, Serialize)]
pub struct QueueBuild {
    pub entries: i64,
    pub newly_missed: usize,
}

/// Rebuilds the daily queue: pending tasks whose window is open (a step's `window_before_days`
/// opens it before the due day: the task may be worked early), for patients who may be called,
/// ranked by clinical priority, then due before early, days overdue (most first) and attempts
/// (fewest first). Tasks whose window closed unworked become `missed` and are flagged.
pub fn build_queue(tx: &Transaction, now: DateTime<Utc>) -> Result<QueueBuild, StoreError> {
    let horizon = (now + Duration::days(i64::from(MAX_WINDOW_BEFORE_DAYS))).timestamp();
    let now = now.timestamp();
    let newly_missed = exec(
        tx,
        "UPDATE followup_tasks SET status = 'missed', flagged = 'missed', updated_at = ?1
         WHERE status = 'pending' AND window_end_at < ?1",
        [now],
    )?;
    exec(tx, "DELETE FROM queue_entries", [])?;
    let entries = exec(
        tx,
        "INSERT INTO queue_entries (rank, task_id, built_at)
         SELECT row_number() OVER (ORDER BY t.priority DESC, t.due_at > ?1,
                    (?1 - t.due_at) / 86400 DESC, t.attempts_total ASC, t.due_at ASC, t.id ASC),
                t.id, ?1
         FROM followup_tasks t INDEXED BY followup_tasks_due JOIN patients p ON p.id = t.patient_id
         WHERE t.status = 'pending' AND t.due_at <= ?2 AND t.window_start_at <= ?1
           AND t.window_end_at >= ?1 AND p.do_not_call = 0 AND p.deceased = 0
           AND t.mode = 'nurse'",
        [now, horizon],
    )?;
    Ok(QueueBuild {
        entries: entries as i64,
        newly_missed,
    })
}

/// The queue in rank order (one page), with claimable state as of `now`.
pub fn list_queue(
    conn: &Connection,
    now: DateTime<Utc>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<TaskView>, i64), StoreError> {
    list_queue_tagged(conn, now, None, limit, offset)
}

/// The queue in rank order, only patients carrying `tag` when given (issue 20 item 6).
pub fn list_queue_tagged(
    conn: &Connection,
    now: DateTime<Utc>,
    tag: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<TaskView>, i64), StoreError> {
    let tagged = super::tags::filter_sql("t.patient_id", "?1");
    let total: i64 = conn.query_row(
        &format!(
            "SELECT COUNT(*) FROM queue_entries q JOIN followup_tasks t ON t.id = q.task_id
             WHERE {tagged}"
        ),
        [tag],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "{VIEW_SELECT} WHERE q.rank IS NOT NULL AND {tagged} ORDER BY q.rank LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = stmt.query_map(params![tag, limit, offset], |r| view(r, now))?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

/// How long a due call-back is kept for the nurse who took the request before any nurse may
/// claim it: the patient asked to speak again (often with her), but must not wait for long.
pub const CALLBACK_FIRST_OFFER: Duration = Duration::minutes(30);

/// Why a claim gave nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum NoClaim {
    OutsideCallingHours,
    QueueEmpty,
}

/// Claims the next task for `user_id` (a lease of `lease` length). A user who already holds an
/// unexpired lease gets that task back, so a retried request never claims two.
pub fn claim_next(
    tx: &Transaction,
    user_id: i64,
    role: &str,
    locale: &Locale,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Result<TaskView, NoClaim>, StoreError> {
    if !locale.within_calling_hours(now) {
        return Ok(Err(NoClaim::OutsideCallingHours));
    }
    let t = now.timestamp();
    let held: Option<i64> = row(
        tx,
        "SELECT id FROM followup_tasks WHERE lease_owner = ?1 AND lease_expires_at > ?2
               AND status = 'pending' LIMIT 1",
        params![user_id, t],
        |r| r.get(0),
    )
    .optional()?;
    // A call-back that fell due goes to the nurse who took the request, before her queue.
    let callback: Option<i64> = match held {
        Some(_) => None,
        None => row(
            tx,
            "SELECT t.id FROM followup_tasks t INDEXED BY followup_tasks_callback_nurse
                   JOIN queue_entries q ON q.task_id = t.id JOIN patients p ON p.id = t.patient_id
                 WHERE t.callback_nurse_id = ?1 AND t.status = 'pending' AND t.role = ?2
                   AND t.next_attempt_at <= ?3 AND t.window_end_at >= ?3
                   AND (t.lease_expires_at IS NULL OR t.lease_expires_at <= ?3)
                   AND p.do_not_call = 0 AND p.deceased = 0
                 ORDER BY t.next_attempt_at, t.id LIMIT 1",
            params![user_id, role, t],
            |r| r.get(0),
        )
        .optional()?,
    };
    let task_id = match held.or(callback) {
        Some(id) => Some(id),
        None => row(
            tx,
            // CROSS JOIN pins the join order: walk queue_entries by rank and stop at the
            // first claimable task. Left to itself the planner scans every pending task and
            // sorts (1.7 s instead of 0.1 ms on a million tasks).
            "SELECT t.id FROM queue_entries q CROSS JOIN followup_tasks t ON t.id = q.task_id
                   CROSS JOIN patients p ON p.id = t.patient_id
                 WHERE t.status = 'pending' AND t.role = ?1 AND t.next_attempt_at <= ?2
                   AND t.window_end_at >= ?2
                   AND (t.lease_expires_at IS NULL OR t.lease_expires_at <= ?2)
                   AND p.do_not_call = 0 AND p.deceased = 0
                   AND (t.callback_nurse_id IS NULL OR t.callback_nurse_id = ?3
                        OR t.next_attempt_at <= ?4)
                 ORDER BY q.rank LIMIT 1",
            params![role, t, user_id, t - CALLBACK_FIRST_OFFER.num_seconds()],
            |r| r.get(0),
        )
        .optional()?,
    };
    let Some(task_id) = task_id else {
        return Ok(Err(NoClaim::QueueEmpty));
    };
    exec(tx,
        "UPDATE followup_tasks SET lease_owner = ?2, lease_expires_at = ?3, updated_at = ?4 WHERE id = ?1",
        params![task_id, user_id, (now + lease).timestamp(), t],
    )?;
    Ok(Ok(get_task(tx, task_id, now)?))
}

fn require_lease(tx: &Transaction, task_id: i64, user_id: i64, now: i64) -> Result<(), StoreError> {
    let owner: Option<(Option<i64>, Option<i64>, String)> = row(
        tx,
        "SELECT lease_owner, lease_expires_at, status FROM followup_tasks WHERE id = ?1",
        [task_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()?;
    match owner {
        None => Err(StoreError::NotFound(format!("task {task_id}"))),
        Some((_, _, status)) if status != "pending" => Err(StoreError::Conflict(format!(
            "task {task_id} is already {status}"
        ))),
        Some((Some(owner), Some(expires), _)) if owner == user_id && expires > now => Ok(()),
        Some(_) => Err(StoreError::Conflict(format!(
            "you do not hold task {task_id} (claim it first; a lease expires if not renewed)"
        ))),
    }
}

/// Extends the caller's lease (the console calls this while the nurse works the task).
pub fn renew_lease(
    tx: &Transaction,
    task_id: i64,
    user_id: i64,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    require_lease(tx, task_id, user_id, now.timestamp())?;
    exec(
        tx,
        "UPDATE followup_tasks SET lease_expires_at = ?2 WHERE id = ?1",
        params![task_id, (now + lease).timestamp()],
    )?;
    Ok(())
}

/// Gives a claimed task back to the queue untouched.
pub fn release(
    tx: &Transaction,
    task_id: i64,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    require_lease(tx, task_id, user_id, now.timestamp())?;
    exec(tx,
        "UPDATE followup_tasks SET lease_owner = NULL, lease_expires_at = NULL, updated_at = ?2 WHERE id = ?1",
        params![task_id, now.timestamp()],
    )?;
    Ok(())
}

/// Errors of recording a disposition that are the caller's to fix.
#[derive(Debug)]
pub enum DispositionFailure {
    Store(StoreError),
    Rule(DispositionError),
}

impl From<StoreError> for DispositionFailure {
    fn from(e: StoreError) -> Self {
        DispositionFailure::Store(e)
    }
}

/// For callers with no user to show a rule refusal to (benchmarks, tests): it becomes `Invalid`.
impl From<DispositionFailure> for StoreError {
    fn from(e: DispositionFailure) -> Self {
        match e {
            DispositionFailure::Store(s) => s,
            DispositionFailure::Rule(r) => StoreError::Invalid(r.to_string()),
        }
    }
}

impl From<rusqlite::Error> for DispositionFailure {
    fn from(e: rusqlite::Error) -> Self {
        DispositionFailure::Store(e.into())
    }
}

/// Input of [`record_disposition`].
pub struct DispositionInput<'a> {
    pub task_id: i64,
    pub user_id: i64,
    pub disposition: Disposition,
    pub callback_at: Option<DateTime<Utc>>,
    pub note: Option<&'a str>,
    pub call_id: Option<&'a str>,
}

/// Records the outcome of an attempt on a task the caller holds, applies the retry policy and
/// ends the lease. Returns the task afterwards.
pub fn record_disposition(
    tx: &Transaction,
    input: &DispositionInput,
    policy: &RetryPolicy,
    locale: &Locale,
    now: DateTime<Utc>,
) -> Result<TaskView, DispositionFailure> {
    require_lease(tx, input.task_id, input.user_id, now.timestamp())?;
    dispose(tx, input, Some(input.user_id), policy, locale, now)
}

/// Records the outcome of a robot call's attempt (issue 24): the same retry policy and
/// dispositions as a nurse's, without a lease (robot tasks are never in the nurses' queue;
/// the dialer's own `robot_calls` row keeps a task from being dialled twice). The task must
/// still be pending. `input.user_id` is not used: no user made the attempt.
pub fn record_robot_disposition(
    tx: &Transaction,
    input: &DispositionInput,
    policy: &RetryPolicy,
    locale: &Locale,
    now: DateTime<Utc>,
) -> Result<TaskView, DispositionFailure> {
    let (_, status) = patient_and_status(tx, input.task_id)?;
    if status != "pending" {
        return Err(
            StoreError::Conflict(format!("task {} is already {status}", input.task_id)).into(),
        );
    }
    dispose(tx, input, None, policy, locale, now)
}

/// Applies a disposition made by `by` (a nurse; `None`: the robot).
fn dispose(
    tx: &Transaction,
    input: &DispositionInput,
    by: Option<i64>,
    policy: &RetryPolicy,
    locale: &Locale,
    now: DateTime<Utc>,
) -> Result<TaskView, DispositionFailure> {
    let t = now.timestamp();
    let (patient_id, total, today, day, use_alt, has_alt, window_end): (i64, u32, u32, Option<String>, bool, bool, i64) =
        row(tx,
            "SELECT t.patient_id, t.attempts_total, t.attempts_today, t.attempts_day, t.use_alt_contact,
                    p.alt_phone IS NOT NULL, t.window_end_at
             FROM followup_tasks t JOIN patients p ON p.id = t.patient_id WHERE t.id = ?1",
            [input.task_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )?;
    let state = AttemptState {
        attempts_total: total,
        attempts_today: today,
        attempts_day: day.and_then(|d| d.parse::<NaiveDate>().ok()),
        use_alt_contact: use_alt,
        has_alt_contact: has_alt,
        window_end: ts(window_end),
    };
    let d = decide(
        policy,
        locale,
        &state,
        input.disposition,
        input.callback_at,
        now,
    )
    .map_err(DispositionFailure::Rule)?;
    exec(
        tx,
        "INSERT INTO task_attempts (task_id, user_id, call_id, disposition, contact, note, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            input.task_id,
            by,
            input.call_id,
            input.disposition.as_str(),
            if use_alt { "alternate" } else { "primary" },
            input.note,
            t
        ],
    )?;
    exec(
        tx,
        "UPDATE followup_tasks SET status = ?2, attempts_total = ?3, attempts_today = ?4,
             attempts_day = ?5, next_attempt_at = ?6, use_alt_contact = ?7, window_end_at = ?8,
             callback_at = ?9, last_disposition = ?10, flagged = COALESCE(?11, flagged),
             lease_owner = NULL, lease_expires_at = NULL, updated_at = ?12, callback_nurse_id = ?13
         WHERE id = ?1",
        params![
            input.task_id,
            d.status.as_str(),
            d.attempts_total,
            d.attempts_today,
            d.attempts_day.to_string(),
            d.next_attempt_at.timestamp(),
            d.use_alt_contact,
            d.window_end.timestamp(),
            d.callback_at.map(|c| c.timestamp()),
            input.disposition.as_str(),
            d.flag.map(|f| f.as_str()),
            t,
            // the call-back is offered to the nurse who took the request first (claim_next)
            by.filter(|_| input.disposition == Disposition::CallbackRequested),
        ],
    )?;
    if d.status != TaskStatus::Pending {
        exec(
            tx,
            "DELETE FROM queue_entries WHERE task_id = ?1",
            [input.task_id],
        )?;
    }
    if d.stop_all_calls_to_patient {
        exec(
            tx,
            "UPDATE patients SET deceased = 1, do_not_call = 1, updated_at = ?2 WHERE id = ?1",
            params![patient_id, t],
        )?;
        exec(
            tx,
            "UPDATE followup_tasks SET status = 'cancelled', updated_at = ?2
             WHERE patient_id = ?1 AND status IN ('pending', 'paused')",
            params![patient_id, t],
        )?;
        exec(tx,
            "UPDATE enrollments SET status = 'cancelled' WHERE patient_id = ?1 AND status = 'active'",
            [patient_id],
        )?;
        exec(tx,
            "DELETE FROM queue_entries WHERE task_id IN (SELECT id FROM followup_tasks WHERE patient_id = ?1)",
            [patient_id],
        )?;
    }
    Ok(get_task(tx, input.task_id, now)?)
}

/// Tasks flagged for the supervisor (unreachable, wrong number, missed window, deceased),
/// most recently changed first.
pub fn flagged(
    conn: &Connection,
    now: DateTime<Utc>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<TaskView>, i64), StoreError> {
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM followup_tasks WHERE flagged IS NOT NULL",
        [],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "{VIEW_SELECT} WHERE t.flagged IS NOT NULL ORDER BY t.updated_at DESC, t.id DESC LIMIT ?1 OFFSET ?2"
    ))?;
    let rows = stmt.query_map(params![limit, offset], |r| view(r, now))?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

/// Tasks of one patient, newest due first.
pub fn tasks_of_patient(
    conn: &Connection,
    patient_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<TaskView>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{VIEW_SELECT} WHERE t.patient_id = ?1 ORDER BY t.due_at DESC"
    ))?;
    let rows = stmt.query_map([patient_id], |r| view(r, now))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A follow-up task made outside a pathway's plan (a team review's action).
#[derive(Debug, Clone)]
pub struct NewTask<'a> {
    pub enrollment_id: Option<i64>,
    pub patient_id: i64,
    pub step_name: &'a str,
    pub step_name_zh: &'a str,
    pub script_code: &'a str,
    pub role: &'a str,
    pub priority: i64,
    pub due_at: DateTime<Utc>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
}

/// Inserts a pending task; the queue offers it from `window_start` on, like a pathway step.
pub fn insert_task(
    tx: &Transaction,
    t: &NewTask<'_>,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    exec(
        tx,
        "INSERT INTO followup_tasks (enrollment_id, patient_id, step_name, script_code, role, priority,
             due_at, window_start_at, window_end_at, created_at, updated_at, step_name_zh)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)",
        params![
            t.enrollment_id,
            t.patient_id,
            t.step_name,
            t.script_code,
            t.role,
            t.priority,
            t.due_at.timestamp(),
            t.window_start.timestamp(),
            t.window_end.timestamp(),
            now.timestamp(),
            t.step_name_zh,
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// The patient and status of a task, for changes made on a patient's behalf.
fn patient_and_status(tx: &Transaction, task_id: i64) -> Result<(i64, String), StoreError> {
    optional(row(
        tx,
        "SELECT patient_id, status FROM followup_tasks WHERE id = ?1",
        [task_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    ))?
    .ok_or_else(|| StoreError::NotFound(format!("task {task_id}")))
}

/// Moves a pending task of `patient_id` (due day and window) `days` later, or cancels it
/// (`days = None`): a team review's decision about the patient's pathway. Any lease ends.
pub fn reschedule_or_cancel(
    tx: &Transaction,
    task_id: i64,
    patient_id: i64,
    days: Option<u32>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (owner, status) = patient_and_status(tx, task_id)?;
    if owner != patient_id {
        return Err(StoreError::Invalid(format!(
            "task_id: task {task_id} is another patient's"
        )));
    }
    if status != "pending" {
        return Err(StoreError::Conflict(format!(
            "task {task_id} is already {status}"
        )));
    }
    match days {
        Some(d) => exec(
            tx,
            "UPDATE followup_tasks SET due_at = due_at + ?2, window_start_at = window_start_at + ?2,
                 window_end_at = window_end_at + ?2, lease_owner = NULL, lease_expires_at = NULL,
                 updated_at = ?3 WHERE id = ?1",
            params![task_id, i64::from(d) * 86_400, now.timestamp()],
        )?,
        None => exec(
            tx,
            "UPDATE followup_tasks SET status = 'cancelled', lease_owner = NULL,
                 lease_expires_at = NULL, updated_at = ?2 WHERE id = ?1",
            params![task_id, now.timestamp()],
        )?,
    };
    exec(
        tx,
        "DELETE FROM queue_entries WHERE task_id = ?1",
        [task_id],
    )?;
    Ok(())
}

/// Completes a team-review task when its review closes (no call, so no attempt is recorded).
pub fn complete_by_review(
    tx: &Transaction,
    task_id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    exec(
        tx,
        "UPDATE followup_tasks SET status = 'completed', last_disposition = 'completed',
             lease_owner = NULL, lease_expires_at = NULL, updated_at = ?2
         WHERE id = ?1 AND status = 'pending'",
        params![task_id, now.timestamp()],
    )?;
    exec(
        tx,
        "DELETE FROM queue_entries WHERE task_id = ?1",
        [task_id],
    )?;
    Ok(())
}

#[cfg(test)]
#[path = "tasks_tests.rs"]
mod tests;
