//! A lab result arriving (ORU^R01, issue 17 item 4): stored for its patient, then judged at
//! once by the `lab()` rules of the scripts of the patient's active enrolments, and escalated
//! like an answer (same escalation engine, routes and SLA), with the result as the evidence.
//! All of it in the caller's transaction: the HL7 listener ACKs only after it commits, and a
//! message sent again is not applied (nor escalated) twice.

use chrono::{DateTime, Utc};
use rusqlite::Transaction;

use super::findings::{self, Routing};
use crate::followup::escalation::{DepartmentCode, FindingContext, PatientId, Source};
use crate::followup::lab::LabName;
use crate::followup::rules::evaluate_labs;
use crate::followup::script::ScriptCatalog;
use crate::hl7::message::{ErrorCode, Hl7Error};
use crate::hl7::oru::LabReport;
use crate::store::audit::{append, Actor};
use crate::store::escalations::{self, Recorded};
use crate::store::labs as db;
use crate::store::StoreError;

/// What a report did.
#[derive(Debug, Clone)]
pub struct LabsApplied {
    pub patient_id: i64,
    /// `lab_observations.id` of the rows stored.
    pub observations: Vec<i64>,
    pub escalations: Vec<Recorded>,
}

/// Stores `report` and escalates what its results make abnormal. A report for an MRN suifang
/// does not know is refused (AE 204 at PID-3) and kept by the caller for a replay once the
/// patient is known: a result creates nobody.
pub fn apply_report(
    tx: &Transaction,
    report: &LabReport,
    control_id: &str,
    scripts: &ScriptCatalog,
    routing: Routing,
    sender: &str,
    now: DateTime<Utc>,
) -> Result<Result<LabsApplied, Hl7Error>, StoreError> {
    let Some(patient_id) = db::patient_by_mrn(tx, &report.mrn)? else {
        return Ok(Err(Hl7Error::at(
            ErrorCode::UnknownKey,
            "PID",
            3,
            format!(
                "no patient with MRN `{}` (a result creates nobody; replay it once the patient is known)",
                report.mrn
            ),
        )));
    };
    let stored = db::insert_report(tx, patient_id, report, control_id, now)?;
    let mut arrived: Vec<LabName> = Vec::new();
    for s in stored.iter().filter(|s| s.current) {
        if !arrived.contains(&s.lab) {
            arrived.push(s.lab.clone());
        }
    }
    let mut recorded = Vec::new();
    if !arrived.is_empty() {
        let (codes, discharged_at) = db::active_scripts(tx, patient_id)?;
        let roster = escalations::load_roster_at(tx, now, routing.calendar)?;
        for script in codes.iter().filter_map(|c| scripts.get(c)) {
            let reads = script.labs();
            if !reads.iter().any(|l| arrived.contains(l)) {
                continue;
            }
            let history = db::history(tx, patient_id, &reads, DateTime::UNIX_EPOCH)?;
            let found = evaluate_labs(script, &arrived, &history, discharged_at, now);
            for finding in &found {
                let observation = finding
                    .evidence
                    .labs
                    .iter()
                    .find(|l| arrived.contains(&l.lab))
                    .map(|l| l.observation)
                    .or_else(|| stored.first().map(|s| s.id))
                    .unwrap_or_default();
                let ctx = FindingContext {
                    patient: PatientId(patient_id),
                    department: DepartmentCode(findings::patient_department(tx, patient_id)?),
                    source: Source::Lab {
                        observation,
                        control_id: control_id.to_string(),
                    },
                };
                recorded.push(findings::record(
                    tx,
                    finding,
                    &ctx,
                    &roster,
                    routing.webhooks_enabled,
                    now,
                )?);
            }
        }
    }
    let actor = Actor {
        id: None,
        name: format!("hl7:{sender}"),
    };
    append(
        tx,
        &actor,
        "hl7_lab_result",
        "patient",
        Some(&patient_id.to_string()),
        &format!(
            "mrn={} results={} unmapped={} not_results={} escalations={}",
            report.mrn,
            stored.len(),
            report.unmapped.join(","),
            report.not_results,
            recorded.len()
        ),
        now.timestamp(),
    )?;
    Ok(Ok(LabsApplied {
        patient_id,
        observations: stored.iter().map(|s| s.id).collect(),
        escalations: recorded,
    }))
}
