//! Rows for the FHIR API (issue 17 item 6): one generic search over a per-type SELECT, so
//! every resource type filters and pages the same way (`patient`, `date`, `_lastUpdated`,
//! `_count`/`_offset`, newest change first). Each SELECT yields `fid, patient_id, date_at,
//! updated_at` and then the type's own columns; `fhir::resources`/`fhir::clinical` turn the
//! rows into JSON.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, Row};

use super::StoreError;
use crate::fhir::clinical::{
    AnswerItem, DocumentRow, FlagRow, LabRow, MeasurementRow, QuestionnaireResponseRow,
};
use crate::fhir::resources::{CarePlanRow, CommunicationRow, EncounterRow, PatientRow, TaskRow};
use crate::fhir::search::{Range, Search};
use crate::fhir::{FhirRow, ResourceType};
use crate::followup::script::AnswerValue;

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

const PATIENTS: &str = "SELECT CAST(id AS TEXT) AS fid, id AS patient_id,
        CAST(strftime('%s', birth_date) AS INTEGER) AS date_at, updated_at,
        mrn, name, sex, birth_date, phone, deceased
    FROM patients";
const ENCOUNTERS: &str =
    "SELECT CAST(x.id AS TEXT) AS fid, x.patient_id, x.discharged_at AS date_at,
        COALESCE(x.cancelled_at, x.created_at) AS updated_at,
        x.visit_number, d.code, x.disposition, x.cancelled_at IS NOT NULL,
        (SELECT group_concat(icd10, ' ') FROM discharge_diagnoses WHERE discharge_id = x.id)
    FROM discharges x LEFT JOIN departments d ON d.id = x.department_id";
const CARE_PLANS: &str = "SELECT CAST(id AS TEXT) AS fid, patient_id, enrolled_at AS date_at,
        enrolled_at AS updated_at, discharge_id, pathway_code, pathway_version, status
    FROM enrollments";
const TASKS: &str = "SELECT CAST(id AS TEXT) AS fid, patient_id, due_at AS date_at, updated_at,
        enrollment_id, step_name, status, last_disposition, due_at, window_start_at,
        window_end_at, created_at
    FROM followup_tasks";
const CALLS: &str = "SELECT c.id AS fid, c.patient_id, c.started_at AS date_at,
        COALESCE(c.ended_at, c.started_at) AS updated_at,
        c.task_id, c.direction, c.ended_at, c.disposition, r.id, r.duration_ms
    FROM calls c LEFT JOIN recordings r ON r.id =
        (SELECT MIN(id) FROM recordings WHERE call_id = c.id AND purged_at IS NULL)
    WHERE c.patient_id IS NOT NULL";
const RESPONSES: &str = "SELECT CAST(a.task_id AS TEXT) AS fid, t.patient_id,
        MAX(a.answered_at) AS date_at, MAX(a.updated_at) AS updated_at,
        MIN(a.script_code), t.status = 'completed'
    FROM answers a JOIN followup_tasks t ON t.id = a.task_id GROUP BY a.task_id";
const OBSERVATIONS: &str = "SELECT 'm' || id AS fid, patient_id, measured_at AS date_at,
        measured_at AS updated_at, 'm', kind, NULL, NULL, value, NULL, NULL, '',
        NULL, NULL, '', '', 'final'
    FROM measurements
    UNION ALL
    SELECT 'l' || id, patient_id, observed_at, received_at, 'l', code, code_text, code_system,
        value, comparator, value_text, unit, range_low, range_high, range_text, flags, status
    FROM lab_observations WHERE replaced_by IS NULL";
const FLAGS: &str = "SELECT CAST(id AS TEXT) AS fid, patient_id, opened_at AS date_at, updated_at,
        rule_id, script_code, severity, status, resolved_at
    FROM escalations";
const DOCUMENTS: &str = "SELECT 'r' || r.id AS fid, c.patient_id, r.created_at AS date_at,
        COALESCE(r.finalized_at, r.created_at) AS updated_at, 'r', r.call_id,
        r.status <> 'recording', NULL
    FROM recordings r JOIN calls c ON c.id = r.call_id
    WHERE c.patient_id IS NOT NULL AND r.purged_at IS NULL
    UNION ALL
    SELECT 't' || t.id, c.patient_id, t.created_at, COALESCE(t.completed_at, t.created_at), 't',
        r.call_id, t.status = 'done', t.language
    FROM transcripts t JOIN recordings r ON r.id = t.recording_id JOIN calls c ON c.id = r.call_id
    WHERE c.patient_id IS NOT NULL";

fn sql_of(t: ResourceType) -> &'static str {
    match t {
        ResourceType::Patient => PATIENTS,
        ResourceType::Encounter => ENCOUNTERS,
        ResourceType::CarePlan => CARE_PLANS,
        ResourceType::Task => TASKS,
        ResourceType::Communication => CALLS,
        ResourceType::QuestionnaireResponse => RESPONSES,
        ResourceType::Observation => OBSERVATIONS,
        ResourceType::Flag => FLAGS,
        ResourceType::DocumentReference => DOCUMENTS,
    }
}

fn row(t: ResourceType, r: &Row) -> rusqlite::Result<FhirRow> {
    let fid: String = r.get(0)?;
    let num = |s: &str| {
        s.trim_start_matches(['m', 'l', 'r', 't'])
            .parse::<i64>()
            .unwrap_or(0)
    };
    let patient_id: i64 = r.get(1)?;
    let updated = ts(r.get(3)?);
    Ok(match t {
        ResourceType::Patient => FhirRow::Patient(PatientRow {
            id: patient_id,
            mrn: r.get(4)?,
            name: r.get(5)?,
            sex: r.get(6)?,
            birth_date: r
                .get::<_, Option<String>>(7)?
                .and_then(|b| NaiveDate::parse_from_str(&b, "%Y-%m-%d").ok()),
            phone: r.get(8)?,
            deceased: r.get(9)?,
            updated_at: updated,
        }),
        ResourceType::Encounter => FhirRow::Encounter(EncounterRow {
            id: num(&fid),
            patient_id,
            discharged_at: ts(r.get(2)?),
            visit_number: r.get(4)?,
            department: r.get(5)?,
            disposition: r.get(6)?,
            cancelled: r.get(7)?,
            diagnoses: r
                .get::<_, Option<String>>(8)?
                .map(|d| d.split(' ').map(str::to_string).collect())
                .unwrap_or_default(),
            created_at: updated,
        }),
        ResourceType::CarePlan => FhirRow::CarePlan(CarePlanRow {
            id: num(&fid),
            patient_id,
            discharge_id: r.get(4)?,
            pathway_code: r.get(5)?,
            pathway_version: r.get(6)?,
            status: r.get(7)?,
            enrolled_at: updated,
        }),
        ResourceType::Task => FhirRow::Task(TaskRow {
            id: num(&fid),
            patient_id,
            enrollment_id: r.get(4)?,
            step_name: r.get(5)?,
            status: r.get(6)?,
            last_disposition: r.get(7)?,
            due_at: ts(r.get(8)?),
            window_start: ts(r.get(9)?),
            window_end: ts(r.get(10)?),
            created_at: ts(r.get(11)?),
            updated_at: updated,
        }),
        ResourceType::Communication => {
            let ended_at: Option<i64> = r.get(6)?;
            let recording: Option<i64> = r.get(8)?;
            FhirRow::Communication(CommunicationRow {
                id: fid,
                patient_id,
                task_id: r.get(4)?,
                direction: r.get(5)?,
                ended: ended_at.is_some(),
                started_at: ts(r.get(2)?),
                ended_at: ended_at.map(ts),
                disposition: r.get(7)?,
                recording: recording.map(|id| (id, r.get::<_, Option<i64>>(9).ok().flatten())),
            })
        }
        ResourceType::QuestionnaireResponse => {
            FhirRow::QuestionnaireResponse(QuestionnaireResponseRow {
                task_id: num(&fid),
                patient_id,
                script_code: r.get(4)?,
                task_completed: r.get(5)?,
                authored: ts(r.get(2)?),
                items: Vec::new(),
            })
        }
        ResourceType::Observation => {
            if r.get::<_, String>(4)? == "m" {
                FhirRow::Measurement(MeasurementRow {
                    id: num(&fid),
                    patient_id,
                    kind: r.get(5)?,
                    value: r.get(8)?,
                    measured_at: ts(r.get(2)?),
                })
            } else {
                FhirRow::Lab(LabRow {
                    id: num(&fid),
                    patient_id,
                    code: r.get(5)?,
                    code_text: r.get(6)?,
                    code_system: r.get(7)?,
                    value: r.get(8)?,
                    comparator: r.get(9)?,
                    value_text: r.get(10)?,
                    unit: r.get(11)?,
                    range_low: r.get(12)?,
                    range_high: r.get(13)?,
                    range_text: r.get(14)?,
                    flags: r.get(15)?,
                    status: r.get(16)?,
                    observed_at: ts(r.get(2)?),
                    received_at: updated,
                })
            }
        }
        ResourceType::Flag => FhirRow::Flag(FlagRow {
            id: num(&fid),
            patient_id,
            rule_id: r.get(4)?,
            script_code: r.get(5)?,
            severity: r.get(6)?,
            status: r.get(7)?,
            opened_at: ts(r.get(2)?),
            resolved_at: r.get::<_, Option<i64>>(8)?.map(ts),
            updated_at: updated,
        }),
        ResourceType::DocumentReference => {
            let (created_at, call_id): (DateTime<Utc>, String) = (ts(r.get(2)?), r.get(5)?);
            let done: bool = r.get(6)?;
            if r.get::<_, String>(4)? == "r" {
                FhirRow::Document(DocumentRow::Recording {
                    id: num(&fid),
                    patient_id,
                    call_id,
                    complete: done,
                    created_at,
                    updated_at: updated,
                })
            } else {
                FhirRow::Document(DocumentRow::Transcript {
                    id: num(&fid),
                    patient_id,
                    call_id,
                    language: r.get(7)?,
                    done,
                    created_at,
                    updated_at: updated,
                })
            }
        }
    })
}

fn bounds(column: &str, ranges: &[Range], clauses: &mut Vec<String>, params: &mut Vec<Sql>) {
    for r in ranges {
        if let Some(from) = r.from {
            clauses.push(format!("{column} >= ?"));
            params.push(Sql::Integer(from.timestamp()));
        }
        if let Some(until) = r.until {
            clauses.push(format!("{column} < ?"));
            params.push(Sql::Integer(until.timestamp()));
        }
    }
}

/// The answers of the tasks in `rows`, as items (the question text is the caller's to add).
fn fill_items(conn: &Connection, rows: &mut [FhirRow]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT question_id, value FROM answers WHERE task_id = ?1 ORDER BY answered_at, id",
    )?;
    for row in rows.iter_mut() {
        let FhirRow::QuestionnaireResponse(qr) = row else {
            continue;
        };
        for item in stmt.query_map([qr.task_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })? {
            let (question_id, value) = item?;
            let value: AnswerValue = serde_json::from_str(&value)
                .map_err(|e| StoreError::Invalid(format!("stored answer {question_id}: {e}")))?;
            qr.items.push(AnswerItem {
                question_id,
                text: None,
                value,
            });
        }
    }
    Ok(())
}

/// One page of a search, and how many rows match in all.
pub fn search(
    conn: &Connection,
    t: ResourceType,
    s: &Search,
) -> Result<(Vec<FhirRow>, u64), StoreError> {
    let (mut clauses, mut params) = (Vec::new(), Vec::new());
    if let Some(p) = s.patient {
        clauses.push("patient_id = ?".to_string());
        params.push(Sql::Integer(p));
    }
    bounds("date_at", &s.date, &mut clauses, &mut params);
    bounds("updated_at", &s.last_updated, &mut clauses, &mut params);
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let base = sql_of(t);
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM ({base}){filter}"),
        rusqlite::params_from_iter(params.iter()),
        |r| r.get(0),
    )?;
    params.push(Sql::Integer(i64::from(s.count)));
    params.push(Sql::Integer(i64::from(s.offset)));
    let mut stmt = conn.prepare(&format!(
        "SELECT * FROM ({base}){filter} ORDER BY updated_at DESC, fid LIMIT ? OFFSET ?"
    ))?;
    let mut rows = stmt
        .query_map(rusqlite::params_from_iter(params.iter()), |r| row(t, r))?
        .collect::<Result<Vec<_>, _>>()?;
    fill_items(conn, &mut rows)?;
    Ok((rows, total.max(0) as u64))
}

/// One resource by its FHIR id.
pub fn read(conn: &Connection, t: ResourceType, id: &str) -> Result<FhirRow, StoreError> {
    let base = sql_of(t);
    let mut stmt = conn.prepare(&format!("SELECT * FROM ({base}) WHERE fid = ?1"))?;
    let mut rows = stmt
        .query_map([id], |r| row(t, r))?
        .collect::<Result<Vec<_>, _>>()?;
    fill_items(conn, &mut rows)?;
    rows.pop()
        .ok_or_else(|| StoreError::NotFound(format!("{}/{id}", t.as_str())))
}
