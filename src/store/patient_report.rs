//! The printable patient follow-up report: one read gathering the stage summary (discharges,
//! pathway progress, answers with their questions, measurement series, escalations, closed team
//! reviews).

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Connection;
use serde::Serialize;
use serde_json::Value;

use super::escalations::for_patient;
use super::patients::{get_patient, PatientView};
use super::tasks::{tasks_of_patient, TaskView};
use super::StoreError;
use crate::followup::escalation::{Escalation, PatientId};
use crate::followup::script::ScriptCatalog;

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

#[derive(Debug, Clone, Serialize)]
pub struct DischargeInfo {
    pub id: i64,
    pub discharged_at: DateTime<Utc>,
    pub department: Option<String>,
    pub department_zh: Option<String>,
    pub attending: Option<String>,
    pub summary: Option<String>,
    pub diagnoses: Vec<String>,
    /// Pathways the discharge enrolled the patient in (`code` v`version`, status).
    pub pathways: Vec<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportAnswer {
    pub task_id: i64,
    pub step_name: String,
    pub step_name_zh: Option<String>,
    pub script_code: String,
    pub question_id: String,
    /// Question text from the loaded script (`None` if the script changed since).
    pub question_zh: Option<String>,
    pub question_en: Option<String>,
    pub value: Value,
    pub answered_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub value: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PatientReport {
    pub patient: PatientView,
    pub discharges: Vec<DischargeInfo>,
    pub tasks: Vec<TaskView>,
    pub answers: Vec<ReportAnswer>,
    /// Measurement series by kind (`weight_kg`, `sbp`, …), oldest first.
    pub measurements: std::collections::BTreeMap<String, Vec<Point>>,
    /// Lab result series by lab name (`k`, `ntprobnp`, …; HL7 ORU^R01), oldest first, in the
    /// lab catalogue's unit, with flags, status and reference range per point.
    pub labs: std::collections::BTreeMap<String, super::labs::LabSeries>,
    pub escalations: Vec<Escalation>,
    /// Closed team reviews (issue 20 item 4), newest first: who signed what, what was decided.
    pub reviews: Vec<super::reviews::ReviewView>,
    /// Clinical notes, newest first, each with its versions (issue 20 item 5).
    pub notes: Vec<super::notes::Note>,
    /// Active tags with their source (issue 20 item 6).
    pub tags: Vec<super::tags::PatientTag>,
    /// LACE risk at each discharge whose stay is known (issue 18 item 2), newest first.
    pub risk: Vec<super::risk::RiskView>,
    /// The last 30 days against the 30 before (issue 18 item 6).
    pub stage: crate::followup::stage::StageSummary,
    pub generated_at: DateTime<Utc>,
}

pub fn patient_report(
    conn: &Connection,
    scripts: &ScriptCatalog,
    id: i64,
    now: DateTime<Utc>,
    stage_days: super::stage::StageDays,
) -> Result<PatientReport, StoreError> {
    let patient = get_patient(conn, id)?;
    let mut stmt = conn.prepare(
        "SELECT d.id, d.discharged_at, dep.name_en, dep.name_zh, d.attending, d.summary
         FROM discharges d LEFT JOIN departments dep ON dep.id = d.department_id
         WHERE d.patient_id = ?1 ORDER BY d.discharged_at DESC",
    )?;
    let mut discharges = stmt
        .query_map([id], |r| {
            Ok(DischargeInfo {
                id: r.get(0)?,
                discharged_at: ts(r.get(1)?),
                department: r.get(2)?,
                department_zh: r.get(3)?,
                attending: r.get(4)?,
                summary: r.get(5)?,
                diagnoses: Vec::new(),
                pathways: Vec::new(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for d in &mut discharges {
        let mut stmt = conn.prepare_cached(
            "SELECT icd10 FROM discharge_diagnoses WHERE discharge_id = ?1 ORDER BY kind, icd10",
        )?;
        d.diagnoses = stmt
            .query_map([d.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut stmt = conn.prepare_cached(
            "SELECT pathway_code, pathway_version, status FROM enrollments WHERE discharge_id = ?1",
        )?;
        d.pathways = stmt
            .query_map([d.id], |r| {
                Ok(serde_json::json!({"code": r.get::<_, String>(0)?,
                    "version": r.get::<_, i64>(1)?, "status": r.get::<_, String>(2)?}))
            })?
            .collect::<Result<_, _>>()?;
    }
    let mut tasks = tasks_of_patient(conn, id, now)?;
    tasks.reverse(); // oldest first: the pathway's order
    let mut stmt = conn.prepare(
        "SELECT a.task_id, t.step_name, a.script_code, a.question_id, a.value, a.updated_at,
                t.step_name_zh
         FROM answers a JOIN followup_tasks t ON t.id = a.task_id
         WHERE a.patient_id = ?1 ORDER BY t.due_at, a.id",
    )?;
    let answers = stmt
        .query_map([id], |r| {
            let script_code: String = r.get(2)?;
            let question_id: String = r.get(3)?;
            let question = scripts
                .get(&script_code)
                .and_then(|s| s.question(&question_id));
            Ok(ReportAnswer {
                task_id: r.get(0)?,
                step_name: r.get(1)?,
                step_name_zh: r.get(6)?,
                question_zh: question.map(|q| q.text.zh.clone()),
                question_en: question.map(|q| q.text.en.clone()),
                script_code,
                question_id,
                value: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or(Value::Null),
                answered_at: ts(r.get(5)?),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut measurements = std::collections::BTreeMap::<String, Vec<Point>>::new();
    let mut stmt = conn.prepare(
        "SELECT kind, value, measured_at FROM measurements WHERE patient_id = ?1 ORDER BY measured_at",
    )?;
    for row in stmt.query_map([id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, f64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })? {
        let (kind, value, at) = row?;
        measurements
            .entry(kind)
            .or_default()
            .push(Point { at: ts(at), value });
    }
    Ok(PatientReport {
        patient,
        discharges,
        tasks,
        answers,
        measurements,
        labs: super::labs::series(conn, id)?,
        escalations: for_patient(conn, PatientId(id))?,
        reviews: super::reviews::list(conn, true, Some(id))?,
        notes: super::notes::for_patient(conn, id)?,
        tags: super::tags::of_patient(conn, id)?,
        risk: super::risk::for_patient(conn, id)?,
        stage: super::stage::for_patient(conn, id, now, stage_days)?,
        generated_at: now,
    })
}
