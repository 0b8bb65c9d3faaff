//! The patient's side of a link (issue 19 items 2–4): open it, prove who they are, answer the
//! task's script through the same answer service as a nurse, and finish — a normal report
//! completes the task, an abnormal one leaves its escalations open and adds a nurse call-back.
//! Every open, identity answer and submission is audited.

use chrono::{DateTime, Duration, Utc};
use rusqlite::Transaction;
use serde_json::Value;

use super::answers::{save_answer_as, task_standing, Answerer, SaveAnswer, Saved};
use super::ServiceError;
use crate::followup::link::{self, IdentityCheck, SelfReport, Standing};
use crate::followup::pathway::Calendar;
use crate::followup::script::{QuestionId, ScriptCatalog};
use crate::store::audit::{append, Actor};
use crate::store::links::{self, LinkRecord};
use crate::store::tasks::{insert_task, NewTask};
use crate::store::StoreError;

fn actor(link_id: i64) -> Actor {
    Actor::system(&format!("patient link {link_id}"))
}

/// The link whose token is `token`, with its standing at `now` (`Gone` covers unknown,
/// expired and revoked alike).
pub fn resolve(
    conn: &rusqlite::Connection,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(Standing, Option<LinkRecord>), StoreError> {
    if !link::looks_like_token(token) {
        return Ok((Standing::Gone, None));
    }
    let record = links::by_token_hash(conn, &crate::auth::token_hash(token))?;
    let standing = link::standing(record.as_ref().map(|r| r.row), now);
    Ok(match standing {
        Standing::Gone => (Standing::Gone, None),
        s => (s, record),
    })
}

/// Notes that the page was opened (audited each time; the first open is kept on the link).
pub fn record_open(
    tx: &Transaction,
    link_id: i64,
    client: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    links::record_open(tx, link_id, now)?;
    append(
        tx,
        &actor(link_id),
        "patient_link.open",
        "patient_link",
        Some(&link_id.to_string()),
        &format!("from {client}"),
        now.timestamp(),
    )
}

/// The identity answer's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// Right: this browser gets a session for the link (the raw cookie value).
    Verified { session: String },
    /// Wrong; `left` more tries before the link locks.
    Wrong { left: u32 },
    /// Wrong, and that was the last try: the link is locked now (the nurse was given a
    /// call-back task: `call_back_task`).
    LockedNow { call_back_task: i64 },
    /// Locked before this answer.
    Locked,
}

/// Checks an identity answer on an open link.
#[allow(clippy::too_many_arguments)]
pub fn check_identity(
    tx: &Transaction,
    record: &LinkRecord,
    check: IdentityCheck,
    given: &str,
    max_failures: u32,
    session_hours: i64,
    client: &str,
    now: DateTime<Utc>,
) -> Result<Identity, StoreError> {
    if record.row.locked {
        return Ok(Identity::Locked);
    }
    let expected = check.expected(record.birth_date, &record.mrn);
    let right = expected.is_some_and(|e| check.matches(&e, given));
    let id = record.id;
    if right {
        let session = crate::auth::new_session_token();
        let expires = (now + Duration::hours(session_hours)).min(record.row.expires_at);
        links::record_verified(tx, id, &crate::auth::token_hash(&session), expires, now)?;
        append(
            tx,
            &actor(id),
            "patient_link.verify",
            "patient_link",
            Some(&id.to_string()),
            &format!("identity confirmed ({}) from {client}", check.as_str()),
            now.timestamp(),
        )?;
        return Ok(Identity::Verified { session });
    }
    let (failures, lock) = link::after_wrong_answer(record.identity_failures, max_failures);
    links::record_wrong_answer(tx, id, failures, lock, now)?;
    append(
        tx,
        &actor(id),
        if lock {
            "patient_link.lock"
        } else {
            "patient_link.wrong_identity"
        },
        "patient_link",
        Some(&id.to_string()),
        &format!(
            "wrong {} ({failures} of {max_failures}) from {client}",
            check.as_str()
        ),
        now.timestamp(),
    )?;
    if !lock {
        return Ok(Identity::Wrong {
            left: max_failures.saturating_sub(failures),
        });
    }
    // the nurse hears of it through her queue: someone may be trying another patient's link
    let task = call_back(
        tx,
        record,
        "Call patient: SMS link locked after wrong identity answers",
        "短信链接身份核对多次错误已锁定，请致电患者",
        30,
        now,
    )?;
    Ok(Identity::LockedNow {
        call_back_task: task,
    })
}

/// A nurse call-back task for the link's patient, `boost` above the link task's priority.
fn call_back(
    tx: &Transaction,
    record: &LinkRecord,
    step: &str,
    step_zh: &str,
    boost: i64,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let (enrollment, priority, script): (Option<i64>, i64, Option<String>) = tx.query_row(
        "SELECT enrollment_id, priority, script_code FROM followup_tasks WHERE id = ?1",
        [record.task_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    new_call_back(
        tx,
        record,
        enrollment,
        priority + boost,
        script,
        step,
        step_zh,
        now,
    )
}

#[allow(clippy::too_many_arguments)]
fn new_call_back(
    tx: &Transaction,
    record: &LinkRecord,
    enrollment: Option<i64>,
    priority: i64,
    script: Option<String>,
    step: &str,
    step_zh: &str,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let task = insert_task(
        tx,
        &NewTask {
            enrollment_id: enrollment,
            patient_id: record.patient_id,
            step_name: step,
            step_name_zh: step_zh,
            script_code: script.as_deref().unwrap_or(""),
            role: "nurse",
            priority,
            due_at: now,
            window_start: now,
            window_end: now + Duration::days(2),
        },
        now,
    )?;
    append(
        tx,
        &actor(record.id),
        "patient_link.call_back",
        "task",
        Some(&task.to_string()),
        &format!(
            "{step} (patient {}, link task {})",
            record.patient_id, record.task_id
        ),
        now.timestamp(),
    )?;
    Ok(task)
}

/// Whether `session` (the cookie's raw value) opens `record`.
pub fn session_opens(
    conn: &rusqlite::Connection,
    record: &LinkRecord,
    session: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    match session {
        Some(s) if !s.is_empty() && s.len() <= 128 => {
            links::session_link(conn, &crate::auth::token_hash(s), record.id, now)
        }
        _ => Ok(false),
    }
}

/// Saves one answer from the patient: the task's own script, the same validation, rules and
/// escalations as a nurse's answer; the finding's source is the link.
#[allow(clippy::too_many_arguments)]
pub fn save(
    tx: &Transaction,
    scripts: &ScriptCatalog,
    record: &LinkRecord,
    question: &str,
    value: Value,
    webhooks_enabled: bool,
    calendar: &Calendar,
    now: DateTime<Utc>,
) -> Result<Saved, ServiceError> {
    // only the task's own script: a link does not reach questions a nurse added on a call
    let own = record
        .script_code
        .as_deref()
        .and_then(|c| scripts.get(c))
        .ok_or(ServiceError::NoScript(record.task_id))?;
    if own.question(question).is_none() {
        return Err(StoreError::NotFound(format!("question {question}")).into());
    }
    save_answer_as(
        tx,
        scripts,
        Answerer::PatientLink { link_id: record.id },
        &SaveAnswer {
            task_id: record.task_id,
            question_id: question.to_string(),
            value,
            call_id: None,
        },
        webhooks_enabled,
        calendar,
        now,
    )
}

/// What a submission did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Submitted {
    /// Questions still to answer.
    Incomplete { unanswered: Vec<QuestionId> },
    /// All normal: the task is completed (source = patient link).
    Completed,
    /// Abnormal: the task is completed as a report, its escalations stay open, a nurse calls.
    CallBack {
        severity: crate::followup::script::Severity,
        call_back_task: i64,
    },
}

/// The patient pressed "send": decide the self-report and close the task.
pub fn submit(
    tx: &Transaction,
    scripts: &ScriptCatalog,
    record: &LinkRecord,
    now: DateTime<Utc>,
) -> Result<Submitted, ServiceError> {
    let script = record
        .script_code
        .as_deref()
        .and_then(|c| scripts.get(c))
        .ok_or(ServiceError::NoScript(record.task_id))?;
    let (unanswered, findings) = task_standing(tx, script, record.task_id, record.patient_id, now)?;
    // free text ("anything else?") is the patient's to leave empty; no rule reads it
    let unanswered: Vec<QuestionId> = unanswered
        .into_iter()
        .filter(|q| {
            !matches!(
                script.question(q.as_str()).map(|q| &q.kind),
                Some(crate::followup::script::QuestionKind::Text { .. })
            )
        })
        .collect();
    let (enrollment, priority): (Option<i64>, i64) = tx.query_row(
        "SELECT enrollment_id, priority FROM followup_tasks WHERE id = ?1",
        [record.task_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let severities: Vec<_> = findings.iter().map(|f| f.severity).collect();
    let outcome = match link::self_report(unanswered.len(), &severities, priority) {
        SelfReport::Incomplete => return Ok(Submitted::Incomplete { unanswered }),
        SelfReport::Normal => Submitted::Completed,
        SelfReport::Abnormal {
            worst,
            call_back_priority,
        } => {
            let task = new_call_back(
                tx,
                record,
                enrollment,
                call_back_priority,
                Some(script.code.0.clone()),
                "Call back: abnormal answers on the SMS link",
                "短信链接自报异常，请回电",
                now,
            )?;
            Submitted::CallBack {
                severity: worst,
                call_back_task: task,
            }
        }
    };
    let t = now.timestamp();
    let changed = tx.execute(
        "UPDATE followup_tasks SET status = 'completed', last_disposition = 'patient_link',
             lease_owner = NULL, lease_expires_at = NULL, updated_at = ?2
         WHERE id = ?1 AND status = 'pending'",
        rusqlite::params![record.task_id, t],
    )?;
    if changed == 0 {
        return Err(
            StoreError::Conflict(format!("task {} is no longer pending", record.task_id)).into(),
        );
    }
    tx.execute(
        "DELETE FROM queue_entries WHERE task_id = ?1",
        [record.task_id],
    )?;
    links::record_completed(tx, record.id, now)?;
    append(
        tx,
        &actor(record.id),
        "patient_link.submit",
        "task",
        Some(&record.task_id.to_string()),
        &match &outcome {
            Submitted::CallBack { severity, call_back_task } => format!(
                "completed by the patient on the link; {} finding(s), worst {}; call-back task {call_back_task}",
                findings.len(),
                severity.as_str()
            ),
            _ => "completed by the patient on the link; all normal".into(),
        },
        t,
    )?;
    Ok(outcome)
}
