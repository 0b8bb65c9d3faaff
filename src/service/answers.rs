//! Autosave of one answer: validate by type and range, store (idempotent per task + question),
//! update the patient's measurement series, evaluate the script's rules against this call's
//! answers and the patient's history, and open or update escalations.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;
use serde_json::Value;

use super::ServiceError;
use crate::followup::escalation::{CallId, DepartmentCode, FindingContext, PatientId, Source};
use crate::followup::rules::{
    evaluate, measurements_from_answers, visible_questions, Answers, Finding, Measurement,
};
use crate::followup::script::{
    validate_answer, AnswerValue, MeasurementKind, QuestionId, ScriptCatalog,
};
use crate::store::audit::{append, Actor};
use crate::store::escalations::{self, Recorded};
use crate::store::users::User;
use crate::store::StoreError;

/// How far back earlier measurements count for trend rules ("2 kg within 3 days").
const HISTORY_DAYS: i64 = 60;

/// An answer to save.
pub struct SaveAnswer {
    pub task_id: i64,
    pub question_id: String,
    pub value: Value,
    pub call_id: Option<String>,
}

/// A saved answer as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredAnswer {
    pub id: i64,
    pub task_id: i64,
    pub question_id: String,
    pub value: AnswerValue,
    pub script_code: String,
    pub script_version: u32,
    pub answered_at: DateTime<Utc>,
}

/// What one save did.
#[derive(Debug, Clone, Serialize)]
pub struct Saved {
    pub answer: StoredAnswer,
    pub escalations: Vec<Recorded>,
    /// Tags the rules that fired put on the patient (or left off: see `followup::tag::decide`).
    pub tags: Vec<super::rule_tags::TagChange>,
}

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// The task's answers so far, by question, with their row ids.
fn task_answers(
    tx: &Transaction,
    task_id: i64,
) -> Result<(Answers, BTreeMap<QuestionId, i64>), ServiceError> {
    let mut stmt =
        tx.prepare_cached("SELECT id, question_id, value FROM answers WHERE task_id = ?1")?;
    let rows = stmt.query_map([task_id], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut answers = Answers::new();
    let mut ids = BTreeMap::new();
    for row in rows {
        let (id, q, v) = row?;
        let value: AnswerValue = serde_json::from_str(&v)
            .map_err(|e| StoreError::Invalid(format!("stored answer {id}: {e}")))?;
        answers.insert(QuestionId(q.clone()), value);
        ids.insert(QuestionId(q), id);
    }
    Ok((answers, ids))
}

/// The patient's measurements from other tasks, for trend rules.
fn history(
    tx: &Transaction,
    patient_id: i64,
    task_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Measurement>, ServiceError> {
    let mut stmt = tx.prepare_cached(
        "SELECT kind, value, measured_at FROM measurements
         WHERE patient_id = ?1 AND measured_at >= ?2
           AND (answer_id IS NULL OR answer_id NOT IN (SELECT id FROM answers WHERE task_id = ?3))
         ORDER BY measured_at",
    )?;
    let rows = stmt.query_map(
        params![
            patient_id,
            (now - Duration::days(HISTORY_DAYS)).timestamp(),
            task_id
        ],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, f64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        },
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (kind, value, at) = row?;
        if let Some(kind) = MeasurementKind::parse(&kind) {
            out.push(Measurement {
                kind,
                value,
                taken_at: ts(at),
            });
        }
    }
    Ok(out)
}

/// patient, script, lease owner, lease expiry, status
type TaskRow = (i64, Option<String>, Option<i64>, Option<i64>, String);

/// Who saves an answer.
#[derive(Debug, Clone, Copy)]
pub enum Answerer<'a> {
    /// A nurse (or other clinician) holding the task's lease.
    Staff(&'a User),
    /// The robot, on its call `SaveAnswer::call_id`, which must be live on the task (issue 24).
    Robot,
    /// The patient, on an SMS link bound to this task (issue 19); the caller checked the link.
    PatientLink { link_id: i64 },
}

/// Saves one answer and escalates what it makes abnormal. The caller must hold the task.
pub fn save_answer(
    tx: &Transaction,
    scripts: &ScriptCatalog,
    user: &User,
    input: &SaveAnswer,
    webhooks_enabled: bool,
    calendar: &crate::followup::pathway::Calendar,
    now: DateTime<Utc>,
) -> Result<Saved, ServiceError> {
    save_answer_as(
        tx,
        scripts,
        Answerer::Staff(user),
        input,
        webhooks_enabled,
        calendar,
        now,
    )
}

/// [`save_answer`] for any [`Answerer`]: the same validation, rules and escalations whoever
/// answers; only the lease check, `answered_by`, the finding's source and the audit actor differ.
pub fn save_answer_as(
    tx: &Transaction,
    scripts: &ScriptCatalog,
    answerer: Answerer<'_>,
    input: &SaveAnswer,
    webhooks_enabled: bool,
    calendar: &crate::followup::pathway::Calendar,
    now: DateTime<Utc>,
) -> Result<Saved, ServiceError> {
    let t = now.timestamp();
    let task: Option<TaskRow> = tx
        .query_row(
            "SELECT patient_id, script_code, lease_owner, lease_expires_at, status FROM followup_tasks WHERE id = ?1",
            [input.task_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let (patient_id, script_code, owner, expires, status) =
        task.ok_or_else(|| StoreError::NotFound(format!("task {}", input.task_id)))?;
    let holds = match answerer {
        Answerer::Staff(user) => {
            owner == Some(user.id) && expires.is_some_and(|e| e > t) && status == "pending"
        }
        Answerer::Robot => {
            let live = robot_call_live(tx, input)?;
            if status != "pending" || !live {
                return Err(StoreError::Conflict(format!(
                    "task {} is {status} and {} a live robot call: the robot may not answer for it",
                    input.task_id,
                    if live { "has" } else { "has not" }
                ))
                .into());
            }
            true
        }
        // the link was checked to be this task's; a patient answers only a pending task
        Answerer::PatientLink { .. } => status == "pending",
    };
    if !holds {
        return Err(StoreError::Conflict(format!(
            "claim task {} before answering its script (answers are saved only by the nurse working it)",
            input.task_id
        ))
        .into());
    }
    save_unchecked(
        tx,
        scripts,
        answerer,
        input,
        (patient_id, script_code),
        webhooks_enabled,
        calendar,
        now,
    )
}

/// Saves an answer the robot took on its call `input.call_id` (issue 24), through the same
/// validation, measurements, rules and escalations as a nurse's; `answered_by` stays empty and
/// the audit names the robot. The task must be pending and that robot call live on it.
pub fn save_robot_answer(
    tx: &Transaction,
    scripts: &ScriptCatalog,
    input: &SaveAnswer,
    webhooks_enabled: bool,
    calendar: &crate::followup::pathway::Calendar,
    now: DateTime<Utc>,
) -> Result<Saved, ServiceError> {
    save_answer_as(
        tx,
        scripts,
        Answerer::Robot,
        input,
        webhooks_enabled,
        calendar,
        now,
    )
}

/// Whether the robot call `input.call_id` is live on the task.
fn robot_call_live(tx: &Transaction, input: &SaveAnswer) -> Result<bool, StoreError> {
    Ok(tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM robot_calls WHERE task_id = ?1 AND call_id = ?2
                        AND ended_at IS NULL)",
        params![input.task_id, input.call_id],
        |r| r.get(0),
    )?)
}

/// The save itself, once the caller's right to answer for the task is checked; `task` is the
/// task's patient and script.
#[allow(clippy::too_many_arguments)] // one call per caller; a struct would only rename them
fn save_unchecked(
    tx: &Transaction,
    scripts: &ScriptCatalog,
    answerer: Answerer<'_>,
    input: &SaveAnswer,
    task: (i64, Option<String>),
    webhooks_enabled: bool,
    calendar: &crate::followup::pathway::Calendar,
    now: DateTime<Utc>,
) -> Result<Saved, ServiceError> {
    let t = now.timestamp();
    let (patient_id, script_code) = task;
    // The question belongs to the task's own script or to one a nurse added (chest-pain on a
    // call-back); scripts of one task never share a question id (task_scripts::add_script).
    let on_task = super::task_scripts::scripts_of_task(tx, input.task_id)?;
    let script = match super::task_scripts::script_asking(scripts, &on_task, &input.question_id) {
        Some(s) => s,
        None => {
            let own = script_code.ok_or(ServiceError::NoScript(input.task_id))?;
            scripts
                .get(&own)
                .ok_or_else(|| ServiceError::UnknownScript(own.clone()))?
        }
    };
    let value = validate_answer(script, &input.question_id, input.value.clone())?;
    let stored = serde_json::to_string(&value).map_err(|e| StoreError::Invalid(e.to_string()))?;
    // Whether this save brings a new or changed value: a staff member's removal of a rule's tag
    // stands until one does (followup::tag::decide).
    let previous: Option<String> = tx
        .query_row(
            "SELECT value FROM answers WHERE task_id = ?1 AND question_id = ?2",
            params![input.task_id, input.question_id],
            |r| r.get(0),
        )
        .optional()?;
    let changed = previous.as_deref() != Some(stored.as_str());
    tx.execute(
        "INSERT INTO answers (task_id, patient_id, call_id, script_code, script_version, question_id, value,
             answered_by, answered_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
         ON CONFLICT (task_id, question_id) DO UPDATE SET value = excluded.value,
             script_version = excluded.script_version, call_id = COALESCE(excluded.call_id, answers.call_id),
             answered_by = excluded.answered_by, updated_at = excluded.updated_at",
        params![input.task_id, patient_id, input.call_id, script.code.0, script.version, input.question_id, stored, answerer.user_id(), t],
    )?;
    let (answers, answer_ids) = task_answers(tx, input.task_id)?;
    let answer_id = answer_ids
        .get(&QuestionId(input.question_id.clone()))
        .copied()
        .unwrap_or_default();

    // The measurement series: what this call's answers say now, attributed to the answer that
    // gave it; a value whose question became hidden (an earlier answer changed) is removed.
    let current = measurements_from_answers(script, &answers, now);
    tx.execute(
        "DELETE FROM measurements WHERE answer_id IN
             (SELECT id FROM answers WHERE task_id = ?1 AND script_code = ?2)",
        params![input.task_id, script.code.0],
    )?;
    for (question, id) in &answer_ids {
        for kind in script.measurement_kinds(question.as_str()) {
            if let Some(m) = current.iter().find(|m| m.kind == kind) {
                tx.execute(
                    "INSERT INTO measurements (patient_id, kind, value, measured_at, answer_id) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![patient_id, kind.as_str(), m.value, t, id],
                )?;
            }
        }
    }

    let history = history(tx, patient_id, input.task_id, now)?;
    let findings = evaluate(script, &answers, &history, now);
    let ctx = FindingContext {
        patient: PatientId(patient_id),
        department: DepartmentCode(super::findings::patient_department(tx, patient_id)?),
        source: match answerer {
            Answerer::Staff(_) | Answerer::Robot => Source::Answer {
                call: input.call_id.clone().map(CallId),
            },
            Answerer::PatientLink { link_id } => Source::PatientLink { link: link_id },
        },
    };
    let roster = escalations::load_roster_at(tx, now, calendar)?;
    let mut recorded = Vec::new();
    for finding in &findings {
        recorded.push(super::findings::record(
            tx,
            finding,
            &ctx,
            &roster,
            webhooks_enabled,
            now,
        )?);
    }
    let actor = answerer.actor();
    let question = QuestionId(input.question_id.clone());
    let tags = super::rule_tags::apply(
        tx,
        script,
        &findings,
        &super::rule_tags::SavedAnswer {
            patient_id,
            answer_id,
            question: &question,
            changed,
        },
        &actor,
        now,
    )?;
    append(
        tx,
        &actor,
        "answer",
        "task",
        Some(&input.task_id.to_string()),
        &input.question_id,
        t,
    )?;
    Ok(Saved {
        answer: StoredAnswer {
            id: answer_id,
            task_id: input.task_id,
            question_id: input.question_id.clone(),
            value,
            script_code: script.code.0.clone(),
            script_version: script.version,
            answered_at: now,
        },
        escalations: recorded,
        tags,
    })
}

impl Answerer<'_> {
    fn user_id(&self) -> Option<i64> {
        match self {
            Answerer::Staff(user) => Some(user.id),
            Answerer::Robot | Answerer::PatientLink { .. } => None,
        }
    }

    /// Who the audit log names: the user, the robot, or the link (the patient has no account).
    pub fn actor(&self) -> Actor {
        match self {
            Answerer::Staff(user) => Actor {
                id: Some(user.id),
                name: user.username.clone(),
            },
            Answerer::Robot => Actor::system("robot"),
            Answerer::PatientLink { link_id } => Actor::system(&format!("patient link {link_id}")),
        }
    }
}

/// A task's answers with their question ids (for the console's form).
pub fn answers_of_task(
    conn: &rusqlite::Connection,
    task_id: i64,
) -> Result<Vec<Value>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT question_id, value, script_code, script_version, updated_at FROM answers WHERE task_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([task_id], |r| {
        let value: String = r.get(1)?;
        Ok(serde_json::json!({
            "question_id": r.get::<_, String>(0)?,
            "value": serde_json::from_str::<Value>(&value).unwrap_or(Value::Null),
            "script_code": r.get::<_, String>(2)?,
            "script_version": r.get::<_, i64>(3)?,
            "updated_at": ts(r.get(4)?),
        }))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Where a task's answers stand for `script`: which shown questions are still unanswered, and
/// what the rules find over the answers and the patient's history now (the same evaluation
/// [`save_answer`] runs). A patient link completes its task on this (issue 19 item 4).
pub fn task_standing(
    tx: &Transaction,
    script: &crate::followup::script::Script,
    task_id: i64,
    patient_id: i64,
    now: DateTime<Utc>,
) -> Result<(Vec<QuestionId>, Vec<Finding>), ServiceError> {
    let (answers, _) = task_answers(tx, task_id)?;
    let unanswered = visible_questions(script, &answers)
        .into_iter()
        .filter(|q| !answers.contains_key(q))
        .collect();
    let history = history(tx, patient_id, task_id, now)?;
    Ok((unanswered, evaluate(script, &answers, &history, now)))
}
