//! Call summaries (issue 18 item 5): gathers what a completed follow-up task's record holds,
//! composes the summary with [`crate::followup::summary`], checks every sentence's evidence
//! against this database and saves it in `call_summaries` (migration 0020) only when the
//! check passes.

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::StoreError;
use crate::followup::escalation::{EvidenceEntry, Source};
use crate::followup::script::{AnswerValue, QuestionKind, ScriptCatalog, Severity};
use crate::followup::summary::{
    check, compose, AnswerFact, Evidence, EvidenceStore, FindingFact, LabFact, NextContact,
    NoteFact, Sentence, SummaryError, SummaryInput, TranscriptFact,
};

/// Abnormal lab results this long before the call are part of its summary.
const LAB_WINDOW_DAYS: i64 = 30;

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// The database as the evidence checker asks it.
pub struct DbEvidence<'a>(pub &'a Connection);

impl EvidenceStore for DbEvidence<'_> {
    fn holds(&self, e: &Evidence) -> bool {
        let exists = |sql: &str, id: i64| {
            self.0
                .query_row(sql, [id], |_| Ok(()))
                .optional()
                .ok()
                .flatten()
                .is_some()
        };
        match *e {
            Evidence::Answer { id } => exists("SELECT 1 FROM answers WHERE id = ?1", id),
            Evidence::Finding { id } => exists("SELECT 1 FROM escalations WHERE id = ?1", id),
            Evidence::Transcript { id, offset_ms } => self
                .0
                .query_row(
                    "SELECT 1 FROM transcript_segments WHERE id = ?1 AND start_ms = ?2",
                    [id, offset_ms],
                    |_| Ok(()),
                )
                .optional()
                .ok()
                .flatten()
                .is_some(),
            Evidence::Lab { id } => exists("SELECT 1 FROM lab_observations WHERE id = ?1", id),
            Evidence::Note { id } => exists("SELECT 1 FROM notes WHERE id = ?1", id),
            Evidence::Task { id } => exists("SELECT 1 FROM followup_tasks WHERE id = ?1", id),
        }
    }
}

fn severity(name: &str) -> Severity {
    match name {
        "emergency" => Severity::Emergency,
        "urgent" => Severity::Urgent,
        "high" => Severity::High,
        _ => Severity::Routine,
    }
}

/// What the record of `task_id` holds for its summary, as of `now`.
pub fn gather(
    conn: &Connection,
    task_id: i64,
    scripts: &ScriptCatalog,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<(i64, Option<String>, SummaryInput), StoreError> {
    let (patient_id, enrollment_id): (i64, Option<i64>) = conn
        .query_row(
            "SELECT patient_id, enrollment_id FROM followup_tasks WHERE id = ?1",
            [task_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("task {task_id}")))?;
    let call_id: Option<String> = conn.query_row(
        "SELECT COALESCE(
            (SELECT call_id FROM task_attempts WHERE task_id = ?1 AND call_id IS NOT NULL ORDER BY at DESC, id DESC LIMIT 1),
            (SELECT call_id FROM answers WHERE task_id = ?1 AND call_id IS NOT NULL ORDER BY id DESC LIMIT 1))",
        [task_id],
        |r| r.get(0),
    )?;
    let mut input = SummaryInput::default();
    // answers, in the order they were first saved
    let mut first_answer_at: Option<i64> = None;
    let mut answer_ids = std::collections::BTreeMap::new();
    let mut stmt = conn.prepare(
        "SELECT id, script_code, question_id, value, answered_at FROM answers
         WHERE task_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([task_id], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
        ))
    })?;
    for row in rows {
        let (id, script, question, value, at) = row?;
        first_answer_at = Some(first_answer_at.map_or(at, |f: i64| f.min(at)));
        answer_ids.insert((script.clone(), question.clone()), id);
        let q = scripts.get(&script).and_then(|s| s.question(&question));
        let shown = match serde_json::from_str::<AnswerValue>(&value) {
            Ok(v) => match (q.map(|q| &q.kind), &v) {
                (Some(QuestionKind::Number { unit, .. }), AnswerValue::Number(_)) => {
                    format!("{v} {unit}")
                }
                _ => v.to_string(),
            },
            Err(_) => value.clone(),
        };
        input.answers.push(AnswerFact {
            id,
            question_zh: q.map_or(question.clone(), |q| q.text.zh.clone()),
            question_en: q.map_or(question.clone(), |q| q.text.en.clone()),
            value: shown,
        });
    }
    // findings: escalations the task's answers (or its call's transcript) raised since the first
    // answer
    let since = first_answer_at.unwrap_or(now.timestamp());
    let mut stmt = conn.prepare(
        "SELECT id, script_code, rule_id, severity, evidence FROM escalations
         WHERE patient_id = ?1 AND opened_at >= ?2 AND opened_at <= ?3 ORDER BY opened_at, id",
    )?;
    let rows = stmt.query_map(params![patient_id, since, now.timestamp()], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    for row in rows {
        let (id, script, rule_id, sev, evidence) = row?;
        let entries: Vec<EvidenceEntry> = serde_json::from_str(&evidence).unwrap_or_default();
        let mut ids: Vec<i64> = Vec::new();
        let mut of_this_call = false;
        for e in &entries {
            for (q, _, _) in &e.evidence.answers {
                if let Some(&a) = answer_ids.get(&(script.clone(), q.0.clone())) {
                    of_this_call = true;
                    if !ids.contains(&a) {
                        ids.push(a);
                    }
                }
            }
            if let Source::Transcript {
                call,
                segment: Some(text),
                ..
            } = &e.source
            {
                if call_id.as_deref() == Some(call.0.as_str()) {
                    of_this_call = true;
                    let segment: Option<(i64, i64)> = conn
                        .query_row(
                            "SELECT s.id, s.start_ms FROM transcript_segments s
                             JOIN transcripts t ON t.id = s.transcript_id
                             JOIN recordings r ON r.id = t.recording_id
                             WHERE r.call_id = ?1 AND s.channel = 'patient' AND s.text = ?2
                             ORDER BY s.start_ms LIMIT 1",
                            params![call.0, text],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )
                        .optional()?;
                    if let Some((segment_id, start_ms)) = segment {
                        input.transcript.push(TranscriptFact {
                            segment_id,
                            start_ms,
                            text: text.clone(),
                            finding_id: id,
                        });
                    }
                }
            }
        }
        if !of_this_call {
            continue;
        }
        let advice = entries.iter().rev().find_map(|e| e.advice.clone());
        input.findings.push(FindingFact {
            id,
            rule_id,
            severity: severity(&sev),
            answer_ids: ids,
            advice_zh: advice.as_ref().map(|a| a.zh.clone()),
            advice_en: advice.map(|a| a.en),
        });
    }
    // abnormal final labs of the last 30 days
    let mut stmt = conn.prepare(
        "SELECT id, lab, COALESCE(comparator, '') || COALESCE(CAST(value AS TEXT), value_text, ''),
                unit, flags FROM lab_observations
         WHERE patient_id = ?1 AND flags <> '' AND flags <> 'N' AND status IN ('final', 'corrected')
           AND observed_at >= ?2 AND observed_at <= ?3 ORDER BY observed_at, id",
    )?;
    let from = (now - Duration::days(LAB_WINDOW_DAYS)).timestamp();
    let rows = stmt.query_map(params![patient_id, from, now.timestamp()], |r| {
        Ok(LabFact {
            id: r.get(0)?,
            lab: r.get(1)?,
            value: format!(
                "{} {} {}",
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?
            ),
        })
    })?;
    for row in rows {
        input.labs.push(row?);
    }
    // the notes written on this task, its call or one of its answers
    let mut stmt = conn.prepare(
        "SELECT id, body FROM notes WHERE patient_id = ?1
           AND (task_id = ?2 OR (call_id IS NOT NULL AND call_id = ?3)
                OR answer_id IN (SELECT id FROM answers WHERE task_id = ?2))
         ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map(params![patient_id, task_id, call_id], |r| {
        Ok(NoteFact {
            id: r.get(0)?,
            body: r.get(1)?,
        })
    })?;
    for row in rows {
        input.notes.push(row?);
    }
    // the next pending contact of the same enrolment
    input.next = conn
        .query_row(
            "SELECT id, step_name, COALESCE(step_name_zh, step_name), due_at FROM followup_tasks
             WHERE enrollment_id = ?1 AND id <> ?2 AND status = 'pending' AND due_at >= ?3
             ORDER BY due_at, id LIMIT 1",
            params![enrollment_id, task_id, now.timestamp()],
            |r| {
                Ok(NextContact {
                    task_id: r.get(0)?,
                    step_en: r.get(1)?,
                    step_zh: r.get(2)?,
                    due: ts(r.get(3)?).with_timezone(&tz).date_naive(),
                })
            },
        )
        .optional()?;
    Ok((patient_id, call_id, input))
}

/// Composes, checks and saves the summary of a completed task. `Ok(Err(_))`: the checker
/// refused it and nothing was saved.
pub fn summarize_task(
    tx: &Transaction,
    task_id: i64,
    scripts: &ScriptCatalog,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Result<Vec<Sentence>, SummaryError>, StoreError> {
    let (patient_id, call_id, input) = gather(tx, task_id, scripts, tz, now)?;
    let sentences = compose(&input);
    Ok(save(tx, task_id, patient_id, call_id.as_deref(), &sentences, now)?.map(|()| sentences))
}

/// Saves `sentences` as the task's summary if the checker passes them against the database.
pub fn save(
    tx: &Transaction,
    task_id: i64,
    patient_id: i64,
    call_id: Option<&str>,
    sentences: &[Sentence],
    now: DateTime<Utc>,
) -> Result<Result<(), SummaryError>, StoreError> {
    if let Err(e) = check(sentences, &DbEvidence(tx)) {
        return Ok(Err(e));
    }
    let json = serde_json::to_string(sentences)
        .map_err(|e| StoreError::Invalid(format!("summary: {e}")))?;
    tx.execute(
        "INSERT OR REPLACE INTO call_summaries (task_id, patient_id, call_id, sentences, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![task_id, patient_id, call_id, json, now.timestamp()],
    )?;
    Ok(Ok(()))
}

/// A stored summary.
#[derive(Debug, Clone, Serialize)]
pub struct CallSummary {
    pub task_id: i64,
    pub call_id: Option<String>,
    pub created_at: i64,
    pub sentences: Vec<Sentence>,
}

/// A patient's summaries, newest first.
pub fn for_patient(conn: &Connection, patient_id: i64) -> Result<Vec<CallSummary>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT task_id, call_id, created_at, sentences FROM call_summaries
         WHERE patient_id = ?1 ORDER BY created_at DESC, task_id DESC",
    )?;
    let rows = stmt.query_map([patient_id], |r| {
        Ok(CallSummary {
            task_id: r.get(0)?,
            call_id: r.get(1)?,
            created_at: r.get(2)?,
            sentences: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Re-checks a stored summary against the database as it is now (evidence may have gone).
pub fn verify(conn: &Connection, task_id: i64) -> Result<Result<(), SummaryError>, StoreError> {
    let json: String = conn
        .query_row(
            "SELECT sentences FROM call_summaries WHERE task_id = ?1",
            [task_id],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("summary of task {task_id}")))?;
    let sentences: Vec<Sentence> =
        serde_json::from_str(&json).map_err(|e| StoreError::Invalid(format!("summary: {e}")))?;
    Ok(check(&sentences, &DbEvidence(conn)))
}

#[cfg(test)]
#[path = "summaries_tests.rs"]
mod tests;
