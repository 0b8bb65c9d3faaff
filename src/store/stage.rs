//! The facts of a patient's stage summary (issue 18 item 6) from the database: measurement
//! series, follow-up tasks with their due time, escalations and unplanned readmissions. The
//! comparison is [`crate::followup::stage`].

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Connection;

use super::StoreError;
use crate::followup::stage::{stage_summary, StageFacts, StageSummary};

/// The period a printed report and the timeline summarise: 30 days against the 30 before.
pub const STAGE_DAYS: i64 = 30;

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// Everything of `patient_id` a stage summary reads (all periods; the summary picks).
pub fn facts(conn: &Connection, patient_id: i64) -> Result<StageFacts, StoreError> {
    let mut f = StageFacts::default();
    let mut stmt = conn.prepare_cached(
        "SELECT kind, measured_at, value FROM measurements WHERE patient_id = ?1 ORDER BY measured_at, id",
    )?;
    for row in stmt.query_map([patient_id], |r| {
        Ok((r.get::<_, String>(0)?, ts(r.get(1)?), r.get::<_, f64>(2)?))
    })? {
        f.measurements.push(row?);
    }
    // contacts a nurse was to make: cancelled and superseded tasks were never due
    let mut stmt = conn.prepare_cached(
        "SELECT due_at, status = 'completed' FROM followup_tasks
         WHERE patient_id = ?1 AND status NOT IN ('cancelled', 'superseded')",
    )?;
    for row in stmt.query_map([patient_id], |r| Ok((ts(r.get(0)?), r.get::<_, bool>(1)?)))? {
        f.tasks.push(row?);
    }
    let mut stmt =
        conn.prepare_cached("SELECT opened_at FROM escalations WHERE patient_id = ?1")?;
    for row in stmt.query_map([patient_id], |r| Ok(ts(r.get(0)?)))? {
        f.escalations.push(row?);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT a.admitted_at FROM readmissions r JOIN admissions a ON a.id = r.admission_id
         WHERE a.patient_id = ?1 AND r.planned = 0 AND r.cancelled_at IS NULL
           AND a.cancelled_at IS NULL",
    )?;
    for row in stmt.query_map([patient_id], |r| Ok(ts(r.get(0)?)))? {
        f.readmissions.push(row?);
    }
    Ok(f)
}

/// The last `days` before `now` against the `days` before them.
pub fn for_patient(
    conn: &Connection,
    patient_id: i64,
    now: DateTime<Utc>,
    days: StageDays,
) -> Result<StageSummary, StoreError> {
    Ok(stage_summary(&facts(conn, patient_id)?, now, days.get()))
}

/// The length of a stage summary's period: [`STAGE_DAYS`] unless asked, 7 to 365 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageDays(i64);

impl StageDays {
    pub const MIN: i64 = 7;
    pub const MAX: i64 = 365;

    /// `None` is the default period; anything outside 7..=365 days is refused with why.
    pub fn new(days: Option<i64>) -> Result<StageDays, String> {
        match days {
            None => Ok(StageDays(STAGE_DAYS)),
            Some(d) if (Self::MIN..=Self::MAX).contains(&d) => Ok(StageDays(d)),
            Some(d) => Err(format!(
                "a stage summary covers {} to {} days, not {d}",
                Self::MIN,
                Self::MAX
            )),
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl Default for StageDays {
    fn default() -> Self {
        StageDays(STAGE_DAYS)
    }
}
