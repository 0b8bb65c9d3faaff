//! Lab results (migration 0018): storing an ORU^R01's results for its patient, and reading
//! them back as the rules' history and the charts' series.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::StoreError;
use crate::followup::lab::{flags_of_text, flags_text, LabName, LabPoint, ResultStatus};
use crate::hl7::oru::{LabReport, LabResult, LabValue};

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// The patient an MRN names.
pub fn patient_by_mrn(conn: &Connection, mrn: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_row("SELECT id FROM patients WHERE mrn = ?1", [mrn], |r| {
            r.get(0)
        })
        .optional()?)
}

/// One result as stored now.
#[derive(Debug, Clone)]
pub struct StoredLab {
    pub id: i64,
    pub lab: LabName,
    /// Whether rules read it: final or corrected, numeric, and not older than a result it
    /// did not replace (a preliminary arriving after the final is kept, hidden).
    pub current: bool,
}

/// Stores the report's results for `patient_id`. A result replaces the earlier results of the
/// same lab, order, sub-id and observation time (final after preliminary, corrected after
/// final), except that a preliminary never replaces a final: it is kept, already replaced.
pub fn insert_report(
    tx: &Transaction,
    patient_id: i64,
    report: &LabReport,
    control_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<StoredLab>, StoreError> {
    let mut out = Vec::new();
    for r in &report.results {
        out.push(insert_one(tx, patient_id, r, control_id, now)?);
    }
    Ok(out)
}

fn insert_one(
    tx: &Transaction,
    patient_id: i64,
    r: &LabResult,
    control_id: &str,
    now: DateTime<Utc>,
) -> Result<StoredLab, StoreError> {
    let earlier: Vec<(i64, String)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT id, status FROM lab_observations
             WHERE patient_id = ?1 AND lab = ?2 AND order_number = ?3 AND sub_id = ?4
               AND observed_at = ?5 AND replaced_by IS NULL",
        )?;
        let rows = stmt.query_map(
            params![
                patient_id,
                r.lab.as_str(),
                r.order_number,
                r.sub_id,
                r.observed_at.timestamp()
            ],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        rows.collect::<Result<_, _>>()?
    };
    let final_before = earlier
        .iter()
        .find(|(_, s)| ResultStatus::parse(s).is_some_and(ResultStatus::is_final));
    let kept_hidden = match (r.status, final_before) {
        (ResultStatus::Preliminary, Some((id, _))) => Some(*id),
        _ => None,
    };
    let (value, comparator, text) = match &r.value {
        LabValue::Number { value, comparator } => {
            (Some(*value), comparator.map(|c| c.as_str()), None)
        }
        LabValue::Text(t) => (None, None, Some(t.as_str())),
    };
    tx.execute(
        "INSERT INTO lab_observations (patient_id, lab, value, comparator, value_text, unit,
             sent_value, sent_unit, range_text, range_low, range_high, flags, status,
             observed_at, received_at, code, code_text, code_system, sub_id, order_number,
             panel_code, obx, control_id, replaced_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
             ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
        params![
            patient_id,
            r.lab.as_str(),
            value,
            comparator,
            text,
            r.unit,
            r.sent_value,
            r.sent_unit,
            r.range_text,
            r.range_low,
            r.range_high,
            flags_text(&r.flags),
            r.status.as_str(),
            r.observed_at.timestamp(),
            now.timestamp(),
            r.code,
            r.code_text,
            r.code_system,
            r.sub_id,
            r.order_number,
            r.panel_code,
            r.obx as i64,
            control_id,
            kept_hidden,
        ],
    )?;
    let id = tx.last_insert_rowid();
    if kept_hidden.is_none() {
        for (old, _) in &earlier {
            tx.execute(
                "UPDATE lab_observations SET replaced_by = ?2 WHERE id = ?1",
                params![old, id],
            )?;
        }
    }
    Ok(StoredLab {
        id,
        lab: r.lab.clone(),
        current: kept_hidden.is_none() && r.status.is_final() && value.is_some(),
    })
}

/// Points the stored results at their message once the message row exists (it is written
/// after its effect, in the same transaction).
pub fn link_message(tx: &Transaction, ids: &[i64], message_id: i64) -> Result<(), StoreError> {
    for id in ids {
        tx.execute(
            "UPDATE lab_observations SET message_id = ?2 WHERE id = ?1",
            params![id, message_id],
        )?;
    }
    Ok(())
}

/// The patient's current final numeric results of these labs observed since `since`, oldest
/// first: what lab rules read.
pub fn history(
    conn: &Connection,
    patient_id: i64,
    labs: &[LabName],
    since: DateTime<Utc>,
) -> Result<Vec<LabPoint>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, lab, value, unit, flags, status, observed_at FROM lab_observations
         WHERE patient_id = ?1 AND lab = ?2 AND observed_at >= ?3 AND replaced_by IS NULL
           AND value IS NOT NULL AND status IN ('final', 'corrected')
         ORDER BY observed_at, id",
    )?;
    let mut out = Vec::new();
    for lab in labs {
        let rows = stmt.query_map(params![patient_id, lab.as_str(), since.timestamp()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, f64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })?;
        for row in rows {
            let (id, lab, value, unit, flags, status, at) = row?;
            let status = ResultStatus::parse(&status)
                .ok_or_else(|| StoreError::Invalid(format!("lab observation {id}: status")))?;
            out.push(LabPoint {
                id,
                lab: LabName(lab),
                value,
                unit,
                flags: flags_of_text(&flags),
                status,
                observed_at: ts(at),
            });
        }
    }
    out.sort_by_key(|p| (p.observed_at, p.id));
    Ok(out)
}

/// One point of a lab's chart.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesPoint {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub value: f64,
    pub comparator: Option<String>,
    pub flags: Vec<String>,
    pub status: ResultStatus,
    pub range_low: Option<f64>,
    pub range_high: Option<f64>,
    pub message_id: Option<i64>,
}

/// A lab's series for the patient's trend charts.
#[derive(Debug, Clone, Serialize)]
pub struct LabSeries {
    pub unit: String,
    pub points: Vec<SeriesPoint>,
}

/// The patient's lab series by lab name, oldest first: numeric results not replaced
/// (preliminary ones included, marked by their status).
pub fn series(
    conn: &Connection,
    patient_id: i64,
) -> Result<BTreeMap<String, LabSeries>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, lab, unit, value, comparator, flags, status, observed_at, range_low,
                range_high, message_id
         FROM lab_observations
         WHERE patient_id = ?1 AND replaced_by IS NULL AND value IS NOT NULL
         ORDER BY observed_at, id",
    )?;
    let rows = stmt.query_map([patient_id], |r| {
        Ok((
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            SeriesPoint {
                id: r.get(0)?,
                value: r.get(3)?,
                comparator: r.get(4)?,
                flags: r
                    .get::<_, String>(5)?
                    .split('~')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                status: ResultStatus::parse(&r.get::<_, String>(6)?)
                    .unwrap_or(ResultStatus::Preliminary),
                at: ts(r.get(7)?),
                range_low: r.get(8)?,
                range_high: r.get(9)?,
                message_id: r.get(10)?,
            },
        ))
    })?;
    let mut out: BTreeMap<String, LabSeries> = BTreeMap::new();
    for row in rows {
        let (lab, unit, point) = row?;
        out.entry(lab)
            .or_insert_with(|| LabSeries {
                unit,
                points: Vec::new(),
            })
            .points
            .push(point);
    }
    Ok(out)
}

/// The patient's results for the timeline, every row including replaced and text ones: when
/// observed, and the row as JSON.
pub fn timeline(
    conn: &Connection,
    patient_id: i64,
) -> Result<Vec<(i64, serde_json::Value)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, lab, value, comparator, value_text, unit, range_text, flags, status,
                observed_at, message_id, control_id, replaced_by, sent_value, sent_unit
         FROM lab_observations WHERE patient_id = ?1 ORDER BY observed_at, id",
    )?;
    let rows = stmt.query_map([patient_id], |r| {
        let at: i64 = r.get(9)?;
        Ok((
            at,
            serde_json::json!({
                "kind": "lab",
                "observation_id": r.get::<_, i64>(0)?,
                "lab": r.get::<_, String>(1)?,
                "value": r.get::<_, Option<f64>>(2)?,
                "comparator": r.get::<_, Option<String>>(3)?,
                "value_text": r.get::<_, Option<String>>(4)?,
                "unit": r.get::<_, String>(5)?,
                "reference_range": r.get::<_, String>(6)?,
                "flags": r.get::<_, String>(7)?.split('~').filter(|s| !s.is_empty()).map(str::to_string).collect::<Vec<_>>(),
                "status": r.get::<_, String>(8)?,
                "message_id": r.get::<_, Option<i64>>(10)?,
                "control_id": r.get::<_, String>(11)?,
                "replaced_by": r.get::<_, Option<i64>>(12)?,
                "sent_value": r.get::<_, String>(13)?,
                "sent_unit": r.get::<_, String>(14)?,
            }),
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The scripts of the patient's active enrolments (their lab rules run when a result
/// arrives), and the discharge time of the latest active enrolment (the baseline's anchor).
pub fn active_scripts(
    conn: &Connection,
    patient_id: i64,
) -> Result<(Vec<String>, Option<DateTime<Utc>>), StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT t.script_code FROM followup_tasks t
         JOIN enrollments e ON e.id = t.enrollment_id
         WHERE e.patient_id = ?1 AND e.status = 'active' AND t.script_code IS NOT NULL
         ORDER BY t.script_code",
    )?;
    let scripts = stmt
        .query_map([patient_id], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let discharged: Option<i64> = conn.query_row(
        "SELECT MAX(d.discharged_at) FROM discharges d JOIN enrollments e ON e.discharge_id = d.id
         WHERE e.patient_id = ?1 AND e.status = 'active'",
        [patient_id],
        |r| r.get(0),
    )?;
    Ok((scripts, discharged.map(ts)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::followup::lab::LabCatalog;
    use crate::hl7::message::parse;
    use chrono::TimeZone;

    fn report(obx: &str) -> LabReport {
        let text = format!(
            "MSH|^~\\&|LIS|H|S|H|20261207||ORU^R01|1|P|2.5\rPID|1||M1\rOBR|1||FL-1|BMP|||20261207083000\r{obx}"
        );
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap();
        crate::hl7::oru::lab_report(
            &parse(&text).unwrap(),
            &LabCatalog::defaults(),
            chrono_tz::Asia::Shanghai,
            now,
        )
        .unwrap()
    }

    /// A correction replaces the final; a preliminary arriving after the final is kept, hidden;
    /// rules and charts read only the current value.
    #[test]
    fn a_correction_replaces_and_a_late_preliminary_does_not() {
        let (_dir, store) = crate::store::temp_store();
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap();
        let out = store
            .write_blocking(move |tx| {
                tx.execute_batch(
                    "INSERT INTO patients (id, mrn, name, phone, created_at, updated_at)
                         VALUES (1, 'M1', 'p', '+8613800000000', 0, 0);",
                )?;
                let mut ids = Vec::new();
                for obx in [
                    "OBX|1|NM|2823-3^K^LN||6.1|mmol/L|3.5-5.3|HH|||F",
                    "OBX|1|NM|2823-3^K^LN||4.1|mmol/L|3.5-5.3|N|||C",
                    "OBX|1|NM|2823-3^K^LN||9.9|mmol/L|||||P",
                ] {
                    ids.push(insert_report(tx, 1, &report(obx), "c", now)?);
                }
                let history = history(tx, 1, &[LabName("k".into())], DateTime::UNIX_EPOCH)?;
                let series = series(tx, 1)?;
                let rows = timeline(tx, 1)?;
                Ok((ids, history, series, rows))
            })
            .unwrap();
        let (ids, history, series, rows) = out;
        assert!(ids[0][0].current && ids[1][0].current && !ids[2][0].current);
        assert_eq!(history.len(), 1);
        assert_eq!(
            (history[0].value, history[0].status),
            (4.1, ResultStatus::Corrected)
        );
        let k = &series["k"];
        assert_eq!(k.points.len(), 1, "{k:?}");
        assert_eq!(k.points[0].value, 4.1);
        // all three stay on the record, the first and the last marked replaced
        assert_eq!(rows.len(), 3);
        let replaced: Vec<bool> = rows
            .iter()
            .map(|(_, r)| !r["replaced_by"].is_null())
            .collect();
        assert_eq!(replaced, [true, false, true]);
    }
}
