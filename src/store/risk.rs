//! LACE scores of discharges (issue 18 item 2): gathered from the stay the discharge ended,
//! its diagnoses and the patient's earlier emergency visits; computed by
//! [`crate::followup::risk`]; stored in `risk_scores` (migration 0020).

use chrono::{DateTime, Duration, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::StoreError;
use crate::followup::pathway::Calendar;
use crate::followup::risk::{lace, Lace, LaceInput};

/// Admission types (HL7 table 0007) of an emergent stay: accident, emergency, urgent.
const EMERGENT_TYPES: &[&str] = &["A", "E", "U"];
/// "ED visits in the previous 6 months" (van Walraven 2010), as days.
const ED_LOOKBACK_DAYS: i64 = 182;
/// The emergency visit that led to the admission is not a previous one (Alberta's H2H LACE
/// guide: "not including the emergency department visit immediately preceding the current
/// admission").
const ED_LEADING_VISIT_HOURS: i64 = 24;

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// Computes and stores the LACE index of `discharge_id` when its stay is known: an admission
/// this discharge ended, with an admission type (the acuity). `None` when the data are not
/// there; recomputing replaces the stored score.
pub fn score_discharge(
    tx: &Transaction,
    discharge_id: i64,
    enrollment_id: Option<i64>,
    calendar: &Calendar,
    now: DateTime<Utc>,
) -> Result<Option<Lace>, StoreError> {
    let stay: Option<(i64, i64, i64, i64, String)> = tx
        .query_row(
            "SELECT a.id, a.patient_id, a.admitted_at, d.discharged_at, a.admission_type
             FROM admissions a JOIN discharges d ON d.id = a.ended_by_discharge_id
             WHERE a.ended_by_discharge_id = ?1 AND a.cancelled_at IS NULL AND a.stay = 1
               AND a.admission_type IS NOT NULL
             ORDER BY a.admitted_at LIMIT 1",
            [discharge_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((admission_id, patient_id, admitted_at, discharged_at, admission_type)) = stay else {
        return Ok(None);
    };
    let day = |t: i64| ts(t).with_timezone(&calendar.tz).date_naive();
    let length_of_stay_days = (day(discharged_at) - day(admitted_at)).num_days();
    let icd10: Vec<String> = tx
        .prepare_cached("SELECT icd10 FROM discharge_diagnoses WHERE discharge_id = ?1")?
        .query_map([discharge_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let ed_visits: u32 = tx.query_row(
        "SELECT COUNT(*) FROM admissions WHERE patient_id = ?1 AND patient_class = 'E'
           AND cancelled_at IS NULL AND admitted_at >= ?2 AND admitted_at < ?3",
        params![
            patient_id,
            admitted_at - Duration::days(ED_LOOKBACK_DAYS).num_seconds(),
            admitted_at - Duration::hours(ED_LEADING_VISIT_HOURS).num_seconds()
        ],
        |r| r.get(0),
    )?;
    let input = LaceInput {
        length_of_stay_days,
        emergent: EMERGENT_TYPES.contains(&admission_type.as_str()),
        icd10,
        ed_visits_6_months: ed_visits,
    };
    let score = lace(&input);
    let conditions = serde_json::to_string(&score.conditions)
        .map_err(|e| StoreError::Invalid(format!("conditions: {e}")))?;
    tx.execute(
        "INSERT OR REPLACE INTO risk_scores (discharge_id, patient_id, enrollment_id, admission_id,
             lace, l_points, a_points, c_points, e_points, length_of_stay_days, emergent, charlson,
             conditions, ed_visits_6_months, computed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        params![
            discharge_id,
            patient_id,
            enrollment_id,
            admission_id,
            score.total,
            score.l_points,
            score.a_points,
            score.c_points,
            score.e_points,
            length_of_stay_days,
            input.emergent,
            score.charlson,
            conditions,
            ed_visits,
            now.timestamp()
        ],
    )?;
    Ok(Some(score))
}

/// A stored score, as the patient page and the printed report show it.
#[derive(Debug, Clone, Serialize)]
pub struct RiskView {
    pub discharge_id: i64,
    pub discharged_at: DateTime<Utc>,
    pub lace: i64,
    pub high_risk: bool,
    pub l_points: i64,
    pub a_points: i64,
    pub c_points: i64,
    pub e_points: i64,
    pub length_of_stay_days: i64,
    pub emergent: bool,
    pub charlson: i64,
    pub conditions: serde_json::Value,
    pub ed_visits_6_months: i64,
    pub computed_at: DateTime<Utc>,
}

/// A patient's scores, newest discharge first.
pub fn for_patient(conn: &Connection, patient_id: i64) -> Result<Vec<RiskView>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.discharge_id, d.discharged_at, r.lace, r.l_points, r.a_points, r.c_points,
                r.e_points, r.length_of_stay_days, r.emergent, r.charlson, r.conditions,
                r.ed_visits_6_months, r.computed_at
         FROM risk_scores r JOIN discharges d ON d.id = r.discharge_id
         WHERE r.patient_id = ?1 ORDER BY d.discharged_at DESC, d.id DESC",
    )?;
    let rows = stmt.query_map([patient_id], |r| {
        let lace: i64 = r.get(2)?;
        Ok(RiskView {
            discharge_id: r.get(0)?,
            discharged_at: ts(r.get(1)?),
            lace,
            high_risk: lace >= i64::from(crate::followup::risk::HIGH_RISK_LACE),
            l_points: r.get(3)?,
            a_points: r.get(4)?,
            c_points: r.get(5)?,
            e_points: r.get(6)?,
            length_of_stay_days: r.get(7)?,
            emergent: r.get(8)?,
            charlson: r.get(9)?,
            conditions: serde_json::from_str(&r.get::<_, String>(10)?)
                .unwrap_or(serde_json::Value::Null),
            ed_visits_6_months: r.get(11)?,
            computed_at: ts(r.get(12)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
#[path = "risk_tests.rs"]
mod tests;
