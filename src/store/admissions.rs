//! Admissions, readmissions and what they do to follow-up (migration 0019).
//!
//! One function records an admission whatever brought it (HL7 A01/A04, the REST endpoint, the
//! CSV import): [`record_admission`]. A stay pauses the patient's open tasks and, after a
//! discharge, is recorded as a readmission against it. The next discharge ends the stay
//! ([`end_stays`], called by `patients::record_discharge`): its fresh enrolment supersedes the
//! old one, whose paused tasks close as superseded (kept, with the admission that paused
//! them). [`cancel_admission`] (A11) takes an admission back: its paused tasks are pending
//! again. [`merge_patients`] (A40) moves a patient's follow-up history to another.

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;

use super::departments::require_department;
use super::StoreError;
use crate::followup::admission::{IndexDischarge, NewAdmission, ReadmissionFacts};
use crate::followup::retry::{Disposition, TaskStatus};

/// Where an admission came from (the `source` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdmissionSource {
    Hl7,
    Api,
    Import,
}

impl AdmissionSource {
    fn as_str(self) -> &'static str {
        match self {
            AdmissionSource::Hl7 => "hl7",
            AdmissionSource::Api => "api",
            AdmissionSource::Import => "import",
        }
    }
}

/// A readmission as recorded: the admission and the discharge it follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readmission {
    pub index_discharge_id: i64,
    pub pathway: Option<String>,
    #[serde(flatten)]
    pub facts: ReadmissionFacts,
}

/// What recording an admission did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdmissionOutcome {
    pub admission_id: i64,
    /// False when this visit was admitted before (the message was sent again): nothing changed.
    pub recorded: bool,
    pub readmission: Option<Readmission>,
    pub tasks_paused: usize,
    /// Paused tasks closed at once because a discharge after this admission was already in.
    pub tasks_superseded: usize,
}

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// Records an admission of `patient_id`. A stay pauses the patient's pending tasks (those of
/// enrolments from discharges up to the admission, and tasks outside any enrolment) and,
/// when a discharge precedes it, is recorded as a readmission of that discharge. An admission
/// of a visit already admitted (or, without a visit number, at the same moment) changes
/// nothing. `planned_types` is
/// `[outcomes] planned_admission_types`.
pub fn record_admission(
    tx: &Transaction,
    patient_id: i64,
    a: &NewAdmission,
    source: AdmissionSource,
    planned_types: &[String],
    now: DateTime<Utc>,
) -> Result<AdmissionOutcome, StoreError> {
    let department = match &a.department {
        Some(code) => Some(require_department(tx, code)?),
        None => None,
    };
    // the same visit, or without a visit number the same moment: a request sent twice
    let seen: Option<i64> = tx
        .query_row(
            "SELECT id FROM admissions
             WHERE patient_id = ?1 AND cancelled_at IS NULL
               AND (visit_number = ?2 OR (?2 IS NULL AND visit_number IS NULL AND admitted_at = ?3))",
            params![patient_id, a.visit_number, a.admitted_at.timestamp()],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(admission_id) = seen {
        return Ok(AdmissionOutcome {
            admission_id,
            recorded: false,
            readmission: None,
            tasks_paused: 0,
            tasks_superseded: 0,
        });
    }
    let planned = a.planned(planned_types);
    let stay = a.patient_class.is_stay();
    let admitted_at = a.admitted_at.timestamp();
    tx.execute(
        "INSERT INTO admissions (patient_id, admitted_at, visit_number, department_id,
             patient_class, stay, admission_type, planned, source, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            patient_id,
            admitted_at,
            a.visit_number,
            department,
            a.patient_class.code(),
            stay,
            a.admission_type.as_ref().map(|t| t.code().to_string()),
            planned,
            source.as_str(),
            now.timestamp()
        ],
    )?;
    let admission_id = tx.last_insert_rowid();
    let mut outcome = AdmissionOutcome {
        admission_id,
        recorded: true,
        readmission: None,
        tasks_paused: 0,
        tasks_superseded: 0,
    };
    if !stay {
        return Ok(outcome);
    }
    outcome.readmission = record_readmission(tx, patient_id, admission_id, a, planned)?;
    outcome.tasks_paused = tx.execute(
        "UPDATE followup_tasks SET status = ?4, paused_by_admission = ?2, lease_owner = NULL,
             lease_expires_at = NULL, updated_at = ?3
         WHERE patient_id = ?1 AND status = ?5
           AND (enrollment_id IS NULL OR enrollment_id IN
                (SELECT e.id FROM enrollments e JOIN discharges d ON d.id = e.discharge_id
                 WHERE e.patient_id = ?1 AND d.discharged_at <= ?6))",
        params![
            patient_id,
            admission_id,
            now.timestamp(),
            TaskStatus::Paused.as_str(),
            TaskStatus::Pending.as_str(),
            admitted_at
        ],
    )?;
    tx.execute(
        "DELETE FROM queue_entries WHERE task_id IN
             (SELECT id FROM followup_tasks WHERE paused_by_admission = ?1)",
        [admission_id],
    )?;
    // feeds are not always in order: the discharge that ended this stay may be in already
    let ended: Option<(i64, i64)> = tx
        .query_row(
            "SELECT id, discharged_at FROM discharges
             WHERE patient_id = ?1 AND cancelled_at IS NULL AND discharged_at > ?2
             ORDER BY discharged_at, id LIMIT 1",
            params![patient_id, admitted_at],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((discharge_id, discharged_at)) = ended {
        let enrollment: Option<i64> = tx
            .query_row(
                "SELECT id FROM enrollments WHERE discharge_id = ?1 AND status = 'active'
                 ORDER BY id DESC LIMIT 1",
                [discharge_id],
                |r| r.get(0),
            )
            .optional()?;
        outcome.tasks_superseded = end_stays(
            tx,
            patient_id,
            discharge_id,
            ts(discharged_at),
            enrollment,
            now,
        )?;
    }
    Ok(outcome)
}

/// The readmission facts of a stay: against the newest live discharge before it, if any.
fn record_readmission(
    tx: &Transaction,
    patient_id: i64,
    admission_id: i64,
    a: &NewAdmission,
    planned: bool,
) -> Result<Option<Readmission>, StoreError> {
    let admitted_at = a.admitted_at.timestamp();
    let index: Option<(i64, i64, Option<i64>)> = tx
        .query_row(
            "SELECT id, discharged_at, department_id FROM discharges
             WHERE patient_id = ?1 AND cancelled_at IS NULL AND discharged_at <= ?2
             ORDER BY discharged_at DESC, id DESC LIMIT 1",
            params![patient_id, admitted_at],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((discharge_id, discharged_at, department)) = index else {
        return Ok(None);
    };
    let last_contact_at: Option<i64> = tx.query_row(
        "SELECT MAX(a.at) FROM task_attempts a JOIN followup_tasks t ON t.id = a.task_id
         WHERE t.patient_id = ?1 AND a.disposition = ?2 AND a.at >= ?3 AND a.at <= ?4",
        params![
            patient_id,
            Disposition::Completed.as_str(),
            discharged_at,
            admitted_at
        ],
        |r| r.get(0),
    )?;
    let Some(facts) = ReadmissionFacts::of(
        IndexDischarge {
            discharged_at: ts(discharged_at),
            last_contact_at: last_contact_at.map(ts),
        },
        a.admitted_at,
        planned,
    ) else {
        return Ok(None);
    };
    let enrollment: Option<(i64, String)> = tx
        .query_row(
            "SELECT id, pathway_code FROM enrollments WHERE discharge_id = ?1
             ORDER BY id DESC LIMIT 1",
            [discharge_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    tx.execute(
        "INSERT INTO readmissions (admission_id, index_discharge_id, enrollment_id, pathway_code,
             department_id, days_since_discharge, contacted_before, last_contact_at,
             days_contact_before, planned)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            admission_id,
            discharge_id,
            enrollment.as_ref().map(|e| e.0),
            enrollment.as_ref().map(|e| e.1.clone()),
            department,
            facts.days_since_discharge,
            facts.contacted_before,
            last_contact_at,
            facts.days_contact_before,
            facts.planned
        ],
    )?;
    Ok(Some(Readmission {
        index_discharge_id: discharge_id,
        pathway: enrollment.map(|e| e.1),
        facts,
    }))
}

/// A discharge at `discharged_at` ends the patient's open stays admitted before it. With a
/// fresh enrolment (`new_enrollment`), the enrolments those stays interrupted are superseded
/// and their paused tasks close as superseded; without one (no pathway matched the new
/// discharge) the paused tasks simply resume. Returns the number of tasks superseded.
pub fn end_stays(
    tx: &Transaction,
    patient_id: i64,
    discharge_id: i64,
    discharged_at: DateTime<Utc>,
    new_enrollment: Option<i64>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let open: Vec<(i64, i64)> = tx
        .prepare_cached(
            "SELECT id, admitted_at FROM admissions
             WHERE patient_id = ?1 AND stay = 1 AND cancelled_at IS NULL
               AND ended_by_discharge_id IS NULL AND admitted_at <= ?2",
        )?
        .query_map(params![patient_id, discharged_at.timestamp()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut superseded = 0;
    for (admission_id, admitted_at) in open {
        tx.execute(
            "UPDATE admissions SET ended_by_discharge_id = ?2 WHERE id = ?1",
            params![admission_id, discharge_id],
        )?;
        let Some(enrollment) = new_enrollment else {
            resume(tx, admission_id, now)?;
            continue;
        };
        tx.execute(
            "UPDATE enrollments SET status = 'superseded', superseded_by = ?2
             WHERE patient_id = ?1 AND status = 'active' AND id <> ?2
               AND (id IN (SELECT enrollment_id FROM followup_tasks WHERE paused_by_admission = ?3)
                    OR discharge_id IN (SELECT id FROM discharges
                                        WHERE patient_id = ?1 AND discharged_at <= ?4))",
            params![patient_id, enrollment, admission_id, admitted_at],
        )?;
        superseded += tx.execute(
            "UPDATE followup_tasks SET status = ?3, updated_at = ?2
             WHERE paused_by_admission = ?1 AND status = ?4",
            params![
                admission_id,
                now.timestamp(),
                TaskStatus::Superseded.as_str(),
                TaskStatus::Paused.as_str()
            ],
        )?;
    }
    Ok(superseded)
}

fn resume(tx: &Transaction, admission_id: i64, now: DateTime<Utc>) -> Result<usize, StoreError> {
    Ok(tx.execute(
        "UPDATE followup_tasks SET status = ?3, paused_by_admission = NULL, updated_at = ?2
         WHERE paused_by_admission = ?1 AND status = ?4",
        params![
            admission_id,
            now.timestamp(),
            TaskStatus::Pending.as_str(),
            TaskStatus::Paused.as_str()
        ],
    )?)
}

/// The live admission of a visit.
pub fn admission_of_visit(
    tx: &Transaction,
    patient_id: i64,
    visit_number: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(tx
        .query_row(
            "SELECT id FROM admissions
             WHERE patient_id = ?1 AND visit_number = ?2 AND cancelled_at IS NULL",
            params![patient_id, visit_number],
            |r| r.get(0),
        )
        .optional()?)
}

/// A11: the admission did not happen. It stays for the record, marked cancelled with its
/// readmission (no longer counted); tasks it paused are pending again, unless a discharge
/// already superseded them. Returns the number of tasks resumed.
pub fn cancel_admission(
    tx: &Transaction,
    admission_id: i64,
    cancelled_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    tx.execute(
        "UPDATE admissions SET cancelled_at = ?2 WHERE id = ?1 AND cancelled_at IS NULL",
        params![admission_id, cancelled_at.timestamp()],
    )?;
    tx.execute(
        "UPDATE readmissions SET cancelled_at = ?2 WHERE admission_id = ?1",
        params![admission_id, cancelled_at.timestamp()],
    )?;
    resume(tx, admission_id, now)
}

/// An admission as the patient's page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct AdmissionView {
    pub id: i64,
    pub admitted_at: DateTime<Utc>,
    pub visit_number: Option<String>,
    pub department: Option<String>,
    pub patient_class: String,
    pub admission_type: Option<String>,
    pub stay: bool,
    pub planned: bool,
    pub source: String,
    pub ended_by_discharge_id: Option<i64>,
    pub cancelled: bool,
    pub readmission: Option<ReadmissionView>,
}

/// A readmission's recorded facts.
#[derive(Debug, Clone, Serialize)]
pub struct ReadmissionView {
    pub index_discharge_id: i64,
    pub pathway: Option<String>,
    pub days_since_discharge: i64,
    pub contacted_before: bool,
    pub days_contact_before: Option<i64>,
    pub planned: bool,
}

/// A patient's admissions, newest first.
pub fn admissions_of_patient(
    conn: &rusqlite::Connection,
    patient_id: i64,
) -> Result<Vec<AdmissionView>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, a.admitted_at, a.visit_number, d.code, a.patient_class, a.admission_type,
                a.stay, a.planned, a.source, a.ended_by_discharge_id, a.cancelled_at,
                r.index_discharge_id, r.pathway_code, r.days_since_discharge,
                r.contacted_before, r.days_contact_before, r.planned
         FROM admissions a LEFT JOIN departments d ON d.id = a.department_id
              LEFT JOIN readmissions r ON r.admission_id = a.id
         WHERE a.patient_id = ?1 ORDER BY a.admitted_at DESC, a.id DESC",
    )?;
    let rows = stmt.query_map([patient_id], |r| {
        let index: Option<i64> = r.get(11)?;
        Ok(AdmissionView {
            id: r.get(0)?,
            admitted_at: ts(r.get(1)?),
            visit_number: r.get(2)?,
            department: r.get(3)?,
            patient_class: r.get(4)?,
            admission_type: r.get(5)?,
            stay: r.get(6)?,
            planned: r.get(7)?,
            source: r.get(8)?,
            ended_by_discharge_id: r.get(9)?,
            cancelled: r.get::<_, Option<i64>>(10)?.is_some(),
            readmission: match index {
                None => None,
                Some(index_discharge_id) => Some(ReadmissionView {
                    index_discharge_id,
                    pathway: r.get(12)?,
                    days_since_discharge: r.get(13)?,
                    contacted_before: r.get(14)?,
                    days_contact_before: r.get(15)?,
                    planned: r.get(16)?,
                }),
            },
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Tables whose rows belong to a patient, moved by a merge (tags are merged apart).
const PATIENT_HISTORY: &[&str] = &[
    "discharges",
    "enrollments",
    "followup_tasks",
    "calls",
    "answers",
    "measurements",
    "notes",
    "escalations",
    "team_reviews",
    "admissions",
    "hl7_messages",
];

/// A40: `prior`'s follow-up history (discharges, enrolments, tasks, calls, answers,
/// measurements, notes, escalations, reviews, admissions, tags) moves to `surviving`; the
/// prior row stays, marked merged and not to be called. Returns the rows moved.
pub fn merge_patients(
    tx: &Transaction,
    prior: i64,
    surviving: i64,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    if prior == surviving {
        return Ok(0);
    }
    let mut moved = 0;
    for table in PATIENT_HISTORY {
        moved += tx.execute(
            &format!("UPDATE {table} SET patient_id = ?2 WHERE patient_id = ?1"),
            params![prior, surviving],
        )?;
    }
    // a tag both carry stays once, the surviving patient's
    moved += tx.execute(
        "INSERT OR IGNORE INTO patient_tags (patient_id, tag, source, added_at, rule_id,
             answer_id, removed_at, removed_by)
         SELECT ?2, tag, source, added_at, rule_id, answer_id, removed_at, removed_by
         FROM patient_tags WHERE patient_id = ?1",
        params![prior, surviving],
    )?;
    tx.execute("DELETE FROM patient_tags WHERE patient_id = ?1", [prior])?;
    tx.execute(
        "UPDATE patients SET merged_into = ?2, do_not_call = 1, updated_at = ?3 WHERE id = ?1",
        params![prior, surviving, now.timestamp()],
    )?;
    // anything merged into the prior patient before follows it
    tx.execute(
        "UPDATE patients SET merged_into = ?2 WHERE merged_into = ?1",
        params![prior, surviving],
    )?;
    Ok(moved)
}

#[cfg(test)]
#[path = "admissions_tests.rs"]
mod tests;
