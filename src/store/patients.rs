//! Patients, discharges and enrolment in pathways.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::admissions::{end_stays, record_admission, AdmissionSource};
use super::departments::require_department;
use super::StoreError;
use crate::followup::import::{ImportRow, LineError};
use crate::followup::pathway::{Calendar, PathwayCatalog};
use crate::followup::patient::{NewDischarge, ValidPatient};

/// A patient as the API returns it (the API masks phones for nurses).
#[derive(Debug, Clone, Serialize)]
pub struct PatientView {
    pub id: i64,
    pub mrn: String,
    pub name: String,
    pub sex: Option<String>,
    pub birth_date: Option<String>,
    pub phone: String,
    pub alt_phone: Option<String>,
    pub alt_contact_name: Option<String>,
    pub alt_contact_relation: Option<String>,
    pub language: String,
    pub do_not_call: bool,
    pub deceased: bool,
    pub owner_nurse_id: Option<i64>,
    pub tags: Vec<String>,
}

/// What recording a discharge did.
#[derive(Debug, Clone, Serialize)]
pub struct DischargeOutcome {
    pub discharge_id: i64,
    pub pathway: Option<String>,
    pub enrollment_id: Option<i64>,
    pub tasks_created: usize,
    /// Tasks of an enrolment this discharge superseded (the patient was readmitted).
    pub tasks_superseded: usize,
}

pub use super::departments::department_id;

pub fn insert_patient(
    tx: &Transaction,
    p: &ValidPatient,
    owner_nurse_id: Option<i64>,
    now: i64,
) -> Result<i64, StoreError> {
    let exists: Option<i64> = tx
        .query_row("SELECT id FROM patients WHERE mrn = ?1", [&p.mrn], |r| {
            r.get(0)
        })
        .optional()?;
    if exists.is_some() {
        return Err(StoreError::Conflict(format!(
            "a patient with MRN `{}` already exists",
            p.mrn
        )));
    }
    tx.execute(
        "INSERT INTO patients (mrn, name, sex, birth_date, phone, alt_phone, alt_contact_name,
             alt_contact_relation, language, do_not_call, owner_nurse_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
        params![
            p.mrn,
            p.name,
            p.sex.map(|s| format!("{s:?}")),
            p.birth_date.map(|d| d.to_string()),
            p.phone.as_str(),
            p.alt_phone.as_ref().map(|x| x.as_str().to_string()),
            p.alt_contact_name,
            p.alt_contact_relation,
            p.language.as_str(),
            p.do_not_call,
            owner_nurse_id,
            now
        ],
    )?;
    let id = tx.last_insert_rowid();
    for tag in &p.tags {
        add_tag(tx, id, tag, "manual")?;
    }
    Ok(id)
}

fn add_tag(tx: &Transaction, patient_id: i64, tag: &str, source: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT OR IGNORE INTO patient_tags (patient_id, tag, source) VALUES (?1, ?2, ?3)",
        params![patient_id, tag, source],
    )?;
    Ok(())
}

/// Records a discharge, tags the patient from its diagnoses and department, and enrols the
/// patient in the matching pathway (creating its tasks). A discharge that ends a stay (an
/// admission after an earlier discharge) supersedes the enrolment the stay interrupted
/// (`admissions::end_stays`).
pub fn record_discharge(
    tx: &Transaction,
    patient_id: i64,
    d: &NewDischarge,
    catalog: &PathwayCatalog,
    calendar: &Calendar,
    now: DateTime<Utc>,
) -> Result<DischargeOutcome, StoreError> {
    let department_id = match &d.department {
        Some(code) => Some(require_department(tx, code)?),
        None => None,
    };
    tx.execute(
        "INSERT INTO discharges (patient_id, department_id, discharged_at, visit_number, attending,
             disposition, summary, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            patient_id,
            department_id,
            d.discharged_at.timestamp(),
            d.visit_number,
            d.attending,
            d.disposition,
            d.summary,
            now.timestamp()
        ],
    )?;
    let discharge_id = tx.last_insert_rowid();
    for dx in &d.diagnoses {
        tx.execute(
            "INSERT OR IGNORE INTO discharge_diagnoses (discharge_id, icd10, kind) VALUES (?1, ?2, ?3)",
            params![discharge_id, dx.icd10, format!("{:?}", dx.kind)],
        )?;
        // Auto tag by ICD-10 category (three characters), e.g. `icd10:I50`.
        add_tag(
            tx,
            patient_id,
            &format!("icd10:{}", &dx.icd10[..3.min(dx.icd10.len())]),
            "diagnosis",
        )?;
    }
    if let Some(code) = &d.department {
        add_tag(tx, patient_id, &format!("dept:{code}"), "department")?;
    }
    let codes: Vec<String> = d.diagnoses.iter().map(|x| x.icd10.clone()).collect();
    let Some(pathway) = catalog.match_discharge(&codes, d.department.as_deref()) else {
        let tasks_superseded = end_stays(tx, patient_id, discharge_id, d.discharged_at, None, now)?;
        return Ok(DischargeOutcome {
            discharge_id,
            pathway: None,
            enrollment_id: None,
            tasks_created: 0,
            tasks_superseded,
        });
    };
    tx.execute(
        "INSERT INTO enrollments (patient_id, discharge_id, pathway_code, pathway_version, enrolled_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![patient_id, discharge_id, pathway.code, pathway.version, now.timestamp()],
    )?;
    let enrollment_id = tx.last_insert_rowid();
    add_tag(
        tx,
        patient_id,
        &format!("pathway:{}", pathway.code),
        "pathway",
    )?;
    let plan = calendar.plan(pathway, d.discharged_at);
    let mut insert = tx.prepare_cached(
        "INSERT INTO followup_tasks (enrollment_id, patient_id, step_name, script_code, role, priority,
             due_at, window_start_at, window_end_at, created_at, updated_at, step_name_zh, mode)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?12)",
    )?;
    for task in &plan {
        insert.execute(params![
            enrollment_id,
            patient_id,
            task.step_name,
            task.script,
            task.role.as_str(),
            task.priority,
            task.due_at.timestamp(),
            task.window_start.timestamp(),
            task.window_end.timestamp(),
            now.timestamp(),
            task.step_name_zh,
            task.mode.as_str(),
        ])?;
    }
    drop(insert);
    let tasks_superseded = end_stays(
        tx,
        patient_id,
        discharge_id,
        d.discharged_at,
        Some(enrollment_id),
        now,
    )?;
    Ok(DischargeOutcome {
        discharge_id,
        pathway: Some(pathway.code.clone()),
        enrollment_id: Some(enrollment_id),
        tasks_created: plan.len(),
        tasks_superseded,
    })
}

/// Gives tasks made before step names were bilingual (migration 0009) the Chinese name their
/// pathway's step has now; returns how many changed.
pub fn fill_step_names_zh(tx: &Transaction, catalog: &PathwayCatalog) -> Result<usize, StoreError> {
    let mut fill = tx.prepare_cached(
        "UPDATE followup_tasks SET step_name_zh = ?3
         WHERE step_name_zh IS NULL AND step_name = ?2
           AND enrollment_id IN (SELECT id FROM enrollments WHERE pathway_code = ?1)",
    )?;
    let mut changed = 0;
    for pathway in catalog.pathways.values() {
        for step in &pathway.steps {
            changed += fill.execute(params![pathway.code, step.name.en, step.name.zh])?;
        }
    }
    Ok(changed)
}

/// Imports validated CSV rows in the caller's transaction. Rows that the database rejects
/// (duplicate MRN, unknown department) are all collected with their line into
/// `StoreError::Rejected`, which rolls the transaction back: an import is all or nothing.
/// A row's admission is recorded in time order with its discharge: before it, the stay the
/// discharge ends; after it, a readmission. `planned_types` is
/// `[outcomes] planned_admission_types`.
pub fn import_rows(
    tx: &Transaction,
    rows: &[ImportRow],
    catalog: &PathwayCatalog,
    calendar: &Calendar,
    planned_types: &[String],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut errors = Vec::new();
    for row in rows {
        let line_err = |field: &str, message: String| LineError {
            line: row.line,
            field: field.into(),
            message,
        };
        let id = match insert_patient(tx, &row.patient, None, now.timestamp()) {
            Ok(id) => id,
            Err(StoreError::Conflict(m)) => {
                errors.push(line_err("mrn", m));
                continue;
            }
            Err(e) => return Err(e),
        };
        let admit = |tx: &Transaction, a| {
            record_admission(tx, id, a, AdmissionSource::Import, planned_types, now).map(|_| ())
        };
        let admitted_first = match (&row.admission, &row.discharge) {
            (Some(a), Some(d)) => a.admitted_at <= d.discharged_at,
            (Some(_), None) => true,
            _ => false,
        };
        let mut steps: Vec<Result<(), StoreError>> = Vec::new();
        if let (true, Some(a)) = (admitted_first, &row.admission) {
            steps.push(admit(tx, a));
        }
        if let Some(d) = &row.discharge {
            steps.push(record_discharge(tx, id, d, catalog, calendar, now).map(|_| ()));
        }
        if let (false, Some(a)) = (admitted_first, &row.admission) {
            steps.push(admit(tx, a));
        }
        for step in steps {
            match step {
                Ok(()) => {}
                Err(StoreError::Invalid(m)) => errors.push(line_err("department", m)),
                Err(e) => return Err(e),
            }
        }
    }
    if errors.is_empty() {
        Ok(rows.len())
    } else {
        Err(StoreError::Rejected(errors))
    }
}

fn view_from_row(conn: &Connection, row: &rusqlite::Row) -> Result<PatientView, StoreError> {
    let id: i64 = row.get("id")?;
    let mut tags_stmt = conn.prepare_cached(
        "SELECT tag FROM patient_tags WHERE patient_id = ?1 AND removed_at IS NULL ORDER BY tag",
    )?;
    let tags = tags_stmt
        .query_map([id], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(PatientView {
        id,
        mrn: row.get("mrn")?,
        name: row.get("name")?,
        sex: row.get("sex")?,
        birth_date: row.get("birth_date")?,
        phone: row.get("phone")?,
        alt_phone: row.get("alt_phone")?,
        alt_contact_name: row.get("alt_contact_name")?,
        alt_contact_relation: row.get("alt_contact_relation")?,
        language: row.get("language")?,
        do_not_call: row.get("do_not_call")?,
        deceased: row.get("deceased")?,
        owner_nurse_id: row.get("owner_nurse_id")?,
        tags,
    })
}

pub fn get_patient(conn: &Connection, id: i64) -> Result<PatientView, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT * FROM patients WHERE id = ?1")?;
    let mut rows = stmt.query([id])?;
    match rows.next()? {
        Some(row) => view_from_row(conn, row),
        None => Err(StoreError::NotFound(format!("patient {id}"))),
    }
}

/// A page of patients, optionally filtered by a name/MRN substring.
pub fn list_patients(
    conn: &Connection,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<PatientView>, i64), StoreError> {
    let pattern = format!("%{}%", search.unwrap_or(""));
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM patients WHERE name LIKE ?1 OR mrn LIKE ?1",
        [&pattern],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(
        "SELECT * FROM patients WHERE name LIKE ?1 OR mrn LIKE ?1 ORDER BY id LIMIT ?2 OFFSET ?3",
    )?;
    let mut rows = stmt.query(params![pattern, limit, offset])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(view_from_row(conn, row)?);
    }
    Ok((out, total))
}

pub fn set_do_not_call(tx: &Transaction, id: i64, value: bool, now: i64) -> Result<(), StoreError> {
    let n = tx.execute(
        "UPDATE patients SET do_not_call = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, value, now],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("patient {id}")));
    }
    Ok(())
}
