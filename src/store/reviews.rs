//! Team reviews in the database (migration 0014): one review per team-review task, one signed
//! assessment per discipline, the actions the team took. The rules (who signs as what, when a
//! review may close, what an action may ask) are `followup::review`'s; this module loads the
//! state they need, applies the outcome and writes it in the caller's transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use serde_json::Value;

use super::tasks::{self, NewTask};
use super::users::User;
use super::{optional, StoreError};
use crate::followup::discipline::Discipline;
use crate::followup::pathway::Calendar;
use crate::followup::review::{
    self, follow_up_name, follow_up_window, PathwayChange, ReviewAction, ReviewError, ReviewStatus,
};
use crate::followup::script::{validate_answer, Script, ScriptCatalog};

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// One discipline's signed assessment.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    pub id: i64,
    pub discipline: Discipline,
    pub author_id: i64,
    pub author_name: String,
    pub text: String,
    /// Question id → validated answer (`followup::script::AnswerValue` JSON).
    pub answers: Value,
    pub signed_at: DateTime<Utc>,
}

/// One recorded action.
#[derive(Debug, Clone, Serialize)]
pub struct ActionView {
    pub id: i64,
    pub action: ReviewAction,
    /// The task it created or changed.
    pub task_id: Option<i64>,
    pub author_id: i64,
    pub discipline: Option<Discipline>,
    pub created_at: DateTime<Utc>,
}

/// A review with everything signed and decided so far.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewView {
    pub id: i64,
    pub task_id: i64,
    pub patient_id: i64,
    pub patient_name: String,
    pub step_name: String,
    pub step_name_zh: Option<String>,
    pub script_code: String,
    pub script_version: i64,
    pub status: ReviewStatus,
    /// Disciplines that must sign before the review closes.
    pub required: Vec<Discipline>,
    /// Required disciplines that have not signed yet.
    pub missing: Vec<Discipline>,
    pub opened_by: i64,
    pub opened_at: DateTime<Utc>,
    pub closed_by: Option<i64>,
    pub closed_at: Option<DateTime<Utc>>,
    pub assessments: Vec<Assessment>,
    pub actions: Vec<ActionView>,
}

/// A failure of a review change: the team's rule said no, or the store failed.
pub type Outcome<T> = Result<Result<T, ReviewError>, StoreError>;

const SELECT: &str = "SELECT r.id, r.task_id, r.patient_id, p.name, t.step_name, t.step_name_zh,
        r.script_code, r.script_version, r.status, r.required, r.opened_by, r.opened_at,
        r.closed_by, r.closed_at
    FROM team_reviews r JOIN patients p ON p.id = r.patient_id
    JOIN followup_tasks t ON t.id = r.task_id";

fn bad(what: &str, e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(format!("stored {what}: {e}").into())
}

fn head(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReviewView> {
    let status: String = r.get(8)?;
    let required: String = r.get(9)?;
    Ok(ReviewView {
        id: r.get(0)?,
        task_id: r.get(1)?,
        patient_id: r.get(2)?,
        patient_name: r.get(3)?,
        step_name: r.get(4)?,
        step_name_zh: r.get(5)?,
        script_code: r.get(6)?,
        script_version: r.get(7)?,
        status: ReviewStatus::parse(&status).ok_or_else(|| bad("review status", &status))?,
        required: serde_json::from_str(&required).map_err(|e| bad("required disciplines", e))?,
        missing: Vec::new(),
        opened_by: r.get(10)?,
        opened_at: ts(r.get(11)?),
        closed_by: r.get(12)?,
        closed_at: r.get::<_, Option<i64>>(13)?.map(ts),
        assessments: Vec::new(),
        actions: Vec::new(),
    })
}

/// The review with this id, assessments and actions included.
pub fn get(conn: &Connection, id: i64) -> Result<ReviewView, StoreError> {
    let mut review = optional(
        conn.prepare_cached(&format!("{SELECT} WHERE r.id = ?1"))?
            .query_row([id], head),
    )?
    .ok_or_else(|| StoreError::NotFound(format!("review {id}")))?;
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, a.discipline, a.author_id, u.display_name, a.text, a.answers, a.signed_at
         FROM team_review_assessments a JOIN users u ON u.id = a.author_id
         WHERE a.review_id = ?1 ORDER BY a.signed_at, a.id",
    )?;
    review.assessments = stmt
        .query_map([id], |r| {
            let discipline: String = r.get(1)?;
            Ok(Assessment {
                id: r.get(0)?,
                discipline: Discipline::parse_code(&discipline)
                    .map_err(|e| bad("discipline", e))?,
                author_id: r.get(2)?,
                author_name: r.get(3)?,
                text: r.get(4)?,
                answers: serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or(Value::Null),
                signed_at: ts(r.get(6)?),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT id, detail, task_id, author_id, discipline, created_at FROM team_review_actions
         WHERE review_id = ?1 ORDER BY id",
    )?;
    review.actions = stmt
        .query_map([id], |r| {
            let detail: String = r.get(1)?;
            Ok(ActionView {
                id: r.get(0)?,
                action: serde_json::from_str(&detail).map_err(|e| bad("review action", e))?,
                task_id: r.get(2)?,
                author_id: r.get(3)?,
                discipline: r
                    .get::<_, Option<String>>(4)?
                    .and_then(|d| Discipline::parse_code(&d).ok()),
                created_at: ts(r.get(5)?),
            })
        })?
        .collect::<Result<_, _>>()?;
    let signed = signed(&review);
    review.missing = review::missing(&review.required, &signed);
    Ok(review)
}

fn signed(review: &ReviewView) -> Vec<Discipline> {
    review
        .assessments
        .iter()
        .map(|a| a.discipline.clone())
        .collect()
}

/// Reviews, newest first: the unclosed ones (`closed = false`) or the closed ones, optionally
/// of one patient.
pub fn list(
    conn: &Connection,
    closed: bool,
    patient_id: Option<i64>,
) -> Result<Vec<ReviewView>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM team_reviews WHERE (status = 'closed') = ?1
           AND (?2 IS NULL OR patient_id = ?2) ORDER BY opened_at DESC, id DESC LIMIT 200",
    )?;
    let ids: Vec<i64> = stmt
        .query_map(params![closed, patient_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    ids.into_iter().map(|id| get(conn, id)).collect()
}

/// The review of a team-review task, opened now if it has none. Returns it and whether it was
/// created (the caller audits creation).
pub fn open_for_task(
    tx: &Transaction,
    scripts: &ScriptCatalog,
    task_id: i64,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<(ReviewView, bool), StoreError> {
    let existing: Option<i64> = tx
        .query_row(
            "SELECT id FROM team_reviews WHERE task_id = ?1",
            [task_id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        return Ok((get(tx, id)?, false));
    }
    let task = tasks::get_task(tx, task_id, now)?;
    let script = task
        .script_code
        .as_deref()
        .and_then(|c| scripts.get(c))
        .filter(|s| !s.required_disciplines.is_empty())
        .ok_or_else(|| {
            StoreError::Invalid(format!(
                "task: task {task_id} is not a team review (its script is {})",
                task.script_code.as_deref().unwrap_or("none")
            ))
        })?;
    let required = serde_json::to_string(&script.required_disciplines)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    tx.execute(
        "INSERT INTO team_reviews (task_id, patient_id, script_code, script_version, required,
             status, opened_by, opened_at) VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7)",
        params![
            task_id,
            task.patient_id,
            script.code.0,
            script.version,
            required,
            user_id,
            now.timestamp()
        ],
    )?;
    Ok((get(tx, tx.last_insert_rowid())?, true))
}

fn script_of<'a>(
    scripts: &'a ScriptCatalog,
    review: &ReviewView,
) -> Result<&'a Script, StoreError> {
    scripts.get(&review.script_code).ok_or_else(|| {
        StoreError::Invalid(format!(
            "script: the review's script {} is no longer loaded",
            review.script_code
        ))
    })
}

/// Disciplines a review involves: the required ones, then any its questions name.
pub fn involved(script: &Script) -> Vec<Discipline> {
    let mut out = script.required_disciplines.clone();
    for d in script
        .questions
        .iter()
        .filter_map(|q| q.discipline.as_ref())
    {
        if !out.contains(d) {
            out.push(d.clone());
        }
    }
    out
}

/// What a discipline signs: its assessment text and its answers to the script's questions for
/// that discipline (or shared questions).
#[derive(Debug, Clone)]
pub struct Signature {
    pub text: String,
    pub answers: BTreeMap<String, Value>,
}

/// Signs `user`'s discipline's assessment; returns the review afterwards.
pub fn sign(
    tx: &Transaction,
    scripts: &ScriptCatalog,
    review_id: i64,
    user: &User,
    signature: Signature,
    now: DateTime<Utc>,
) -> Outcome<ReviewView> {
    let review = get(tx, review_id)?;
    let script = script_of(scripts, &review)?;
    let decided = review::signer(user.role, user.discipline.as_ref(), &involved(script))
        .and_then(|d| review::sign(review.status, &signed(&review), &d).map(|s| (d, s)));
    let (d, status) = match decided {
        Ok(x) => x,
        Err(e) => return Ok(Err(e)),
    };
    let mut answers = serde_json::Map::new();
    for (qid, value) in signature.answers {
        let Some(q) = script.question(&qid) else {
            return Err(StoreError::Invalid(format!(
                "answers.{qid}: the script {} has no such question",
                script.code
            )));
        };
        if let Some(qd) = q.discipline.as_ref().filter(|qd| **qd != d) {
            return Err(StoreError::Invalid(format!(
                "answers.{qid}: this question is for {qd}, you sign as {d}"
            )));
        }
        let v = validate_answer(script, &qid, value)
            .map_err(|e| StoreError::Invalid(format!("answers.{qid}: {e}")))?;
        answers.insert(
            qid,
            serde_json::to_value(v).map_err(|e| StoreError::Invalid(e.to_string()))?,
        );
    }
    tx.execute(
        "INSERT INTO team_review_assessments (review_id, discipline, author_id, text, answers,
             signed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            review_id,
            d.as_str(),
            user.id,
            signature.text,
            Value::Object(answers).to_string(),
            now.timestamp()
        ],
    )?;
    tx.execute(
        "UPDATE team_reviews SET status = ?2 WHERE id = ?1",
        params![review_id, status.as_str()],
    )?;
    Ok(Ok(get(tx, review_id)?))
}

/// Records an action and applies it: a follow-up task is inserted (due on its day, in the
/// queue from then), a pathway task is postponed or cancelled. Returns the action.
pub fn add_action(
    tx: &Transaction,
    scripts: &ScriptCatalog,
    calendar: &Calendar,
    review_id: i64,
    user: &User,
    action: ReviewAction,
    now: DateTime<Utc>,
) -> Outcome<ActionView> {
    let review = get(tx, review_id)?;
    if let Err(e) = action.check(review.status) {
        return Ok(Err(e));
    }
    let task_id = match &action {
        ReviewAction::FollowUpTask {
            script,
            role,
            in_days,
            assignee,
        } => {
            if scripts.get(script).is_none() {
                return Err(StoreError::Invalid(format!(
                    "script: no script `{script}` is loaded"
                )));
            }
            let review_task = tasks::get_task(tx, review.task_id, now)?;
            let enrollment: Option<i64> = tx.query_row(
                "SELECT enrollment_id FROM followup_tasks WHERE id = ?1",
                [review.task_id],
                |r| r.get(0),
            )?;
            let (en, zh) = follow_up_name(assignee.as_ref(), review_id);
            let today = now.with_timezone(&calendar.tz).date_naive();
            let (due_at, window_start, window_end) =
                follow_up_window(|d| calendar.local_midnight(d), today, *in_days);
            Some(tasks::insert_task(
                tx,
                &NewTask {
                    enrollment_id: enrollment,
                    patient_id: review.patient_id,
                    step_name: &en,
                    step_name_zh: &zh,
                    script_code: script,
                    role: role.as_str(),
                    priority: review_task.priority,
                    due_at,
                    window_start,
                    window_end,
                },
                now,
            )?)
        }
        ReviewAction::AdjustPathway { task_id, change } => {
            if *task_id == review.task_id {
                return Err(StoreError::Invalid(
                    "task_id: this is the review's own task; close the review instead".into(),
                ));
            }
            let days = match change {
                PathwayChange::Postpone { days } => Some(*days),
                PathwayChange::Cancel => None,
            };
            tasks::reschedule_or_cancel(tx, *task_id, review.patient_id, days, now)?;
            Some(*task_id)
        }
    };
    let detail = serde_json::to_string(&action).map_err(|e| StoreError::Invalid(e.to_string()))?;
    tx.execute(
        "INSERT INTO team_review_actions (review_id, kind, detail, task_id, author_id, discipline,
             created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            review_id,
            action.kind(),
            detail,
            task_id,
            user.id,
            user.discipline.as_ref().map(|d| d.as_str()),
            now.timestamp()
        ],
    )?;
    Ok(Ok(ActionView {
        id: tx.last_insert_rowid(),
        action,
        task_id,
        author_id: user.id,
        discipline: user.discipline.clone(),
        created_at: now,
    }))
}

/// Closes the review once every required discipline has signed; its task is completed.
pub fn close(
    tx: &Transaction,
    review_id: i64,
    user_id: i64,
    now: DateTime<Utc>,
) -> Outcome<ReviewView> {
    let review = get(tx, review_id)?;
    if let Err(e) = review::close(review.status, &review.required, &signed(&review)) {
        return Ok(Err(e));
    }
    tx.execute(
        "UPDATE team_reviews SET status = 'closed', closed_by = ?2, closed_at = ?3 WHERE id = ?1",
        params![review_id, user_id, now.timestamp()],
    )?;
    tasks::complete_by_review(tx, review.task_id, now)?;
    Ok(Ok(get(tx, review_id)?))
}

#[cfg(test)]
#[path = "reviews_tests.rs"]
mod tests;
