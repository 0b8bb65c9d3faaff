//! The results outbox (issue 17 item 5): rows the completion trigger of migration 0021 queued,
//! what the sender needs to build each message, and the outcome of every try.
//!
//! A row is `queued` until the EMR answers AA (`delivered`) or AE/AR (`rejected`, kept with
//! its error until an admin queues it again). The message bytes and MSH-10 are fixed the first
//! time the sender takes the row, so every retry sends the same message.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::StoreError;
use crate::followup::escalation::{EvidenceEntry, Source};
use crate::followup::script::{AnswerValue, Severity};
use crate::hl7::results::{ResultNote, ResultPatient};

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// Writes `[hl7.results]`'s on/off into the row the completion trigger reads.
pub fn set_enabled(tx: &Transaction, enabled: bool) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE hl7_results_switch SET enabled = ?1 WHERE id = 1",
        [enabled],
    )?;
    Ok(())
}

/// A row due for a try.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub task_id: i64,
    /// Set once built: the message and its MSH-10, resent as they are.
    pub built: Option<(String, Vec<u8>)>,
    pub attempts: u32,
}

/// The oldest queued row whose time has come.
pub fn next_due(conn: &Connection, now: DateTime<Utc>) -> Result<Option<Due>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, task_id, control_id, message, attempts FROM hl7_outbox
             WHERE status = 'queued' AND next_attempt_at <= ?1
             ORDER BY next_attempt_at, id LIMIT 1",
            [now.timestamp()],
            |r| {
                let control: Option<String> = r.get(2)?;
                let message: Option<Vec<u8>> = r.get(3)?;
                Ok(Due {
                    id: r.get(0)?,
                    task_id: r.get(1)?,
                    built: control.zip(message),
                    attempts: r.get(4)?,
                })
            },
        )
        .optional()?)
}

/// When the next queued row falls due (the sender sleeps until then, or until woken).
pub fn next_due_at(conn: &Connection) -> Result<Option<DateTime<Utc>>, StoreError> {
    let at: Option<i64> = conn.query_row(
        "SELECT MIN(next_attempt_at) FROM hl7_outbox WHERE status = 'queued'",
        [],
        |r| r.get(0),
    )?;
    Ok(at.map(ts))
}

/// An answer of the task as stored.
#[derive(Debug, Clone)]
pub struct StoredAnswer {
    pub question_id: String,
    pub script_code: String,
    pub value: AnswerValue,
    pub answered_at: DateTime<Utc>,
}

/// What a completed task's result is built from (the script's wording is the sender's to add).
#[derive(Debug, Clone)]
pub struct TaskResult {
    pub task_id: i64,
    pub step_name: String,
    pub script_code: Option<String>,
    pub patient: ResultPatient,
    pub visit_number: Option<String>,
    pub completed_at: DateTime<Utc>,
    pub answers: Vec<StoredAnswer>,
    pub notes: Vec<ResultNote>,
    /// The rules whose escalations this task's answers took part in (for OBX-8).
    pub fired: Vec<FiredRule>,
}

/// A rule that fired on the task's answers, with the questions its evidence quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiredRule {
    pub script_code: String,
    pub rule_id: String,
    /// The highest severity it had on these answers.
    pub severity: Severity,
    pub questions: Vec<String>,
}

/// Reads a completed task for its result message.
pub fn task_result(conn: &Connection, task_id: i64) -> Result<TaskResult, StoreError> {
    let (patient_id, step_name, script_code, completed_at, visit_number) = conn
        .query_row(
            "SELECT t.patient_id, t.step_name, t.script_code, t.updated_at, d.visit_number
             FROM followup_tasks t
             LEFT JOIN enrollments e ON e.id = t.enrollment_id
             LEFT JOIN discharges d ON d.id = e.discharge_id
             WHERE t.id = ?1",
            [task_id],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            },
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("task {task_id}")))?;
    let patient = conn.query_row(
        "SELECT mrn, name, birth_date, sex FROM patients WHERE id = ?1",
        [patient_id],
        |r| {
            Ok(ResultPatient {
                mrn: r.get(0)?,
                name: r.get(1)?,
                birth_date: r
                    .get::<_, Option<String>>(2)?
                    .and_then(|b| NaiveDate::parse_from_str(&b, "%Y-%m-%d").ok()),
                sex: r.get(3)?,
            })
        },
    )?;
    let mut stmt = conn.prepare_cached(
        "SELECT question_id, script_code, value, answered_at FROM answers
         WHERE task_id = ?1 ORDER BY answered_at, id",
    )?;
    let mut answers = Vec::new();
    for row in stmt.query_map([task_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })? {
        let (question_id, script_code, value, at) = row?;
        let value: AnswerValue = serde_json::from_str(&value).map_err(|e| {
            StoreError::Invalid(format!(
                "stored answer {question_id} of task {task_id}: {e}"
            ))
        })?;
        answers.push(StoredAnswer {
            question_id,
            script_code,
            value,
            answered_at: ts(at),
        });
    }
    let mut stmt = conn.prepare_cached(
        // notes on the task or on its calls, and what the nurse wrote with each disposition
        "SELECT body, created_at FROM notes
         WHERE task_id = ?1 OR call_id IN (SELECT id FROM calls WHERE task_id = ?1)
         UNION ALL
         SELECT note, at FROM task_attempts WHERE task_id = ?1 AND note IS NOT NULL AND note <> ''
         ORDER BY 2",
    )?;
    let notes = stmt
        .query_map([task_id], |r| {
            Ok(ResultNote {
                body: r.get(0)?,
                at: ts(r.get(1)?),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let fired = fired_rules(conn, patient_id, &answers)?;
    Ok(TaskResult {
        task_id,
        step_name,
        script_code,
        patient,
        visit_number,
        completed_at: ts(completed_at),
        answers,
        notes,
        fired,
    })
}

/// The escalations this task's answers took part in: evidence from an answer (not a transcript
/// or a lab), added no earlier than the task's first answer, naming one of its questions.
fn fired_rules(
    conn: &Connection,
    patient_id: i64,
    answers: &[StoredAnswer],
) -> Result<Vec<FiredRule>, StoreError> {
    let mut fired = Vec::new();
    let Some(first) = answers.iter().map(|a| a.answered_at).min() else {
        return Ok(fired);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT script_code, rule_id, evidence FROM escalations
         WHERE patient_id = ?1 AND updated_at >= ?2 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![patient_id, first.timestamp()], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (script_code, rule_id, evidence) = row?;
        let entries: Vec<EvidenceEntry> = serde_json::from_str(&evidence)
            .map_err(|e| StoreError::Invalid(format!("escalation evidence: {e}")))?;
        let mut rule = FiredRule {
            script_code,
            rule_id,
            severity: Severity::Routine,
            questions: Vec::new(),
        };
        for entry in entries {
            if entry.at < first || !matches!(entry.source, Source::Answer { .. }) {
                continue;
            }
            rule.severity = rule.severity.max(entry.severity);
            for (question, _, _) in &entry.evidence.answers {
                if answers.iter().any(|a| a.question_id == question.0)
                    && !rule.questions.contains(&question.0)
                {
                    rule.questions.push(question.0.clone());
                }
            }
        }
        if !rule.questions.is_empty() {
            fired.push(rule);
        }
    }
    Ok(fired)
}

/// Fixes the message of a row the first time it is built (a row built before keeps its own).
pub fn set_message(
    tx: &Transaction,
    id: i64,
    kind: &str,
    control_id: &str,
    message: &[u8],
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE hl7_outbox SET kind = ?2, control_id = ?3, message = ?4
         WHERE id = ?1 AND message IS NULL",
        params![id, kind, control_id, message],
    )?;
    Ok(())
}

/// What became of one try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TryOutcome {
    Delivered {
        ack_code: String,
    },
    Refused {
        ack_code: String,
        error: String,
    },
    Retry {
        error: String,
        next_attempt_at: DateTime<Utc>,
    },
}

/// Records a try. A row no longer queued (an admin acted meanwhile) is left alone.
pub fn record_try(
    tx: &Transaction,
    id: i64,
    outcome: &TryOutcome,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let t = now.timestamp();
    match outcome {
        TryOutcome::Delivered { ack_code } => tx.execute(
            "UPDATE hl7_outbox SET status = 'delivered', ack_code = ?2, attempts = attempts + 1,
                 sent_at = ?3, delivered_at = ?3, last_error = NULL
             WHERE id = ?1 AND status = 'queued'",
            params![id, ack_code, t],
        )?,
        TryOutcome::Refused { ack_code, error } => tx.execute(
            "UPDATE hl7_outbox SET status = 'rejected', ack_code = NULLIF(?2, ''), attempts = attempts + 1,
                 sent_at = ?3, last_error = ?4
             WHERE id = ?1 AND status = 'queued'",
            params![id, ack_code, t, error],
        )?,
        TryOutcome::Retry {
            error,
            next_attempt_at,
        } => tx.execute(
            "UPDATE hl7_outbox SET attempts = attempts + 1, sent_at = ?2, last_error = ?3,
                 next_attempt_at = ?4
             WHERE id = ?1 AND status = 'queued'",
            params![id, t, error, next_attempt_at.timestamp()],
        )?,
    };
    Ok(())
}

/// Queues a refused (or waiting) row to go at once, e.g. after the EMR's mapping was fixed.
/// Returns whether there was such a row.
pub fn requeue(tx: &Transaction, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let n = tx.execute(
        "UPDATE hl7_outbox SET status = 'queued', next_attempt_at = ?2
         WHERE id = ?1 AND status IN ('queued', 'rejected')",
        params![id, now.timestamp()],
    )?;
    Ok(n == 1)
}

/// One row as the admins' interfaces page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub task_id: i64,
    pub patient_id: i64,
    pub mrn: String,
    pub kind: Option<String>,
    pub control_id: Option<String>,
    pub status: String,
    pub attempts: u32,
    pub queued_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub ack_code: Option<String>,
    pub last_error: Option<String>,
}

/// The newest rows, optionally of one status (`queued`, `delivered`, `rejected`).
pub fn list(
    conn: &Connection,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT o.id, o.task_id, o.patient_id, p.mrn, o.kind, o.control_id, o.status, o.attempts,
                o.queued_at, o.next_attempt_at, o.sent_at, o.delivered_at, o.ack_code, o.last_error
         FROM hl7_outbox o JOIN patients p ON p.id = o.patient_id
         WHERE ?1 IS NULL OR o.status = ?1
         ORDER BY o.id DESC LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![status, limit], |r| {
            Ok(OutboxRow {
                id: r.get(0)?,
                task_id: r.get(1)?,
                patient_id: r.get(2)?,
                mrn: r.get(3)?,
                kind: r.get(4)?,
                control_id: r.get(5)?,
                status: r.get(6)?,
                attempts: r.get(7)?,
                queued_at: ts(r.get(8)?),
                next_attempt_at: ts(r.get(9)?),
                sent_at: r.get::<_, Option<i64>>(10)?.map(ts),
                delivered_at: r.get::<_, Option<i64>>(11)?.map(ts),
                ack_code: r.get(12)?,
                last_error: r.get(13)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Rows per status, for the interfaces page's summary.
pub fn counts(conn: &Connection) -> Result<BTreeMap<String, i64>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT status, COUNT(*) FROM hl7_outbox GROUP BY status")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    Ok(rows)
}

#[cfg(test)]
#[path = "hl7_outbox_tests.rs"]
mod tests;
