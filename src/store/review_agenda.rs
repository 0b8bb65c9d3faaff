//! The agenda of a team review, built from the patient's record since the latest discharge:
//! every answer with its per-question trend, open and resolved escalations, calls with links to
//! their recording and transcript, and adherence (which contacts were done, missed, pending).
//! One read; the handler only shapes the response.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Connection;
use serde::Serialize;

use super::escalations::for_patient;
use super::tasks::tasks_of_patient;
use super::StoreError;
use crate::followup::escalation::{Escalation, PatientId, Status};
use crate::followup::review::{trend, Trend};
use crate::followup::script::{AnswerValue, ScriptCatalog};

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// One answer in a question's series.
#[derive(Debug, Clone, Serialize)]
pub struct AgendaValue {
    pub task_id: i64,
    pub step_name: String,
    pub step_name_zh: Option<String>,
    pub value: AnswerValue,
    /// The answer as the console shows it (`72.5`, `yes`, `150/90 mmHg`).
    pub display: String,
    pub answered_at: DateTime<Utc>,
}

/// One question asked since discharge, its answers oldest first and their trend.
#[derive(Debug, Clone, Serialize)]
pub struct AgendaQuestion {
    pub script_code: String,
    pub question_id: String,
    pub question_zh: Option<String>,
    pub question_en: Option<String>,
    pub unit: Option<String>,
    pub values: Vec<AgendaValue>,
    pub trend: Trend,
}

/// A call with where to hear and read it.
#[derive(Debug, Clone, Serialize)]
pub struct AgendaCall {
    pub id: String,
    pub task_id: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub state: String,
    pub disposition: Option<String>,
    /// `/api/v1/recordings/{id}/audio` while the audio is kept.
    pub audio: Option<String>,
    /// `/api/v1/calls/{id}/transcript` when a transcript is done.
    pub transcript: Option<String>,
}

/// A contact of the plan and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct AdherenceTask {
    pub id: i64,
    pub step_name: String,
    pub step_name_zh: Option<String>,
    pub due_at: DateTime<Utc>,
    pub status: String,
}

/// Contacts done, missed and still to come since discharge.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Adherence {
    pub done: usize,
    pub missed: usize,
    pub pending: usize,
    /// Unreachable, refused, wrong number, cancelled.
    pub other: usize,
    pub tasks: Vec<AdherenceTask>,
}

/// Everything the team looks at.
#[derive(Debug, Clone, Serialize)]
pub struct Agenda {
    pub patient_id: i64,
    /// The latest discharge (the start of the period reviewed).
    pub since: Option<DateTime<Utc>>,
    pub answers: Vec<AgendaQuestion>,
    pub open_escalations: Vec<Escalation>,
    pub resolved_escalations: Vec<Escalation>,
    pub calls: Vec<AgendaCall>,
    pub adherence: Adherence,
}

/// The agenda of `patient_id` as of `now`.
pub fn agenda(
    conn: &Connection,
    scripts: &ScriptCatalog,
    patient_id: i64,
    now: DateTime<Utc>,
) -> Result<Agenda, StoreError> {
    let since: Option<i64> = conn.query_row(
        "SELECT MAX(discharged_at) FROM discharges WHERE patient_id = ?1 AND discharged_at <= ?2",
        rusqlite::params![patient_id, now.timestamp()],
        |r| r.get(0),
    )?;
    let from = since.unwrap_or(0);

    let mut by_question: BTreeMap<(String, String), Vec<AgendaValue>> = BTreeMap::new();
    let mut stmt = conn.prepare(
        "SELECT a.task_id, t.step_name, t.step_name_zh, a.script_code, a.question_id, a.value,
                a.updated_at
         FROM answers a JOIN followup_tasks t ON t.id = a.task_id
         WHERE a.patient_id = ?1 AND a.updated_at >= ?2 ORDER BY a.updated_at, a.id",
    )?;
    let rows = stmt.query_map(rusqlite::params![patient_id, from], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, i64>(6)?,
        ))
    })?;
    for row in rows {
        let (task_id, step_name, step_name_zh, script, question, raw, at) = row?;
        let value: AnswerValue = serde_json::from_str(&raw)
            .map_err(|e| StoreError::Invalid(format!("stored answer of task {task_id}: {e}")))?;
        by_question
            .entry((script, question))
            .or_default()
            .push(AgendaValue {
                task_id,
                step_name,
                step_name_zh,
                display: value.to_string(),
                value,
                answered_at: ts(at),
            });
    }
    let answers = by_question
        .into_iter()
        .map(|((script_code, question_id), values)| {
            let q = scripts
                .get(&script_code)
                .and_then(|s| s.question(&question_id));
            let unit = q.and_then(|q| match &q.kind {
                crate::followup::script::QuestionKind::Number { unit, .. } => Some(unit.clone()),
                crate::followup::script::QuestionKind::BloodPressure => Some("mmHg".into()),
                _ => None,
            });
            let series: Vec<AnswerValue> = values.iter().map(|v| v.value.clone()).collect();
            AgendaQuestion {
                question_zh: q.map(|q| q.text.zh.clone()),
                question_en: q.map(|q| q.text.en.clone()),
                unit,
                trend: trend(&series),
                script_code,
                question_id,
                values,
            }
        })
        .collect();

    let (mut open_escalations, mut resolved_escalations) = (Vec::new(), Vec::new());
    for e in for_patient(conn, PatientId(patient_id))? {
        if e.opened_at.timestamp() < from {
            continue;
        }
        if matches!(e.status, Status::Resolved { .. }) {
            resolved_escalations.push(e);
        } else {
            open_escalations.push(e);
        }
    }

    let mut stmt = conn.prepare(
        "SELECT c.id, c.task_id, c.started_at, c.state, c.disposition,
                (SELECT r.id FROM recordings r WHERE r.call_id = c.id AND r.purged_at IS NULL
                   AND r.status <> 'recording' ORDER BY r.id DESC LIMIT 1),
                (SELECT tr.id FROM recordings r JOIN transcripts tr ON tr.recording_id = r.id
                   WHERE r.call_id = c.id AND tr.status = 'done' LIMIT 1)
         FROM calls c WHERE c.patient_id = ?1 AND c.started_at >= ?2 ORDER BY c.started_at",
    )?;
    let calls = stmt
        .query_map(rusqlite::params![patient_id, from], |r| {
            let id: String = r.get(0)?;
            let recording: Option<i64> = r.get(5)?;
            let transcript: Option<i64> = r.get(6)?;
            Ok(AgendaCall {
                task_id: r.get(1)?,
                started_at: ts(r.get(2)?),
                state: r.get(3)?,
                disposition: r.get(4)?,
                audio: recording.map(|rec| format!("/api/v1/recordings/{rec}/audio")),
                transcript: transcript.map(|_| format!("/api/v1/calls/{id}/transcript")),
                id,
            })
        })?
        .collect::<Result<_, _>>()?;

    let mut adherence = Adherence::default();
    let mut plan = tasks_of_patient(conn, patient_id, now)?;
    plan.reverse(); // oldest first
    for t in plan
        .into_iter()
        .filter(|t| t.window_end_at.timestamp() >= from)
    {
        // a window that closed unworked is missed even before the next queue build marks it
        let status = if t.status == "pending" && t.window_end_at < now {
            "missed".to_owned()
        } else {
            t.status
        };
        match status.as_str() {
            "completed" => adherence.done += 1,
            "missed" => adherence.missed += 1,
            "pending" => adherence.pending += 1,
            _ => adherence.other += 1,
        }
        adherence.tasks.push(AdherenceTask {
            id: t.id,
            step_name: t.step_name,
            step_name_zh: t.step_name_zh,
            due_at: t.due_at,
            status,
        });
    }

    Ok(Agenda {
        patient_id,
        since: since.map(ts),
        answers,
        open_escalations,
        resolved_escalations,
        calls,
        adherence,
    })
}
