//! What `lab(NAME)` and `baseline` mean (issue 17 item 4), over the patient's stored results.
//!
//! - `lab(NAME[, WINDOW])`: the latest **final or corrected** numeric result of that lab whose
//!   observation time is within WINDOW before `now` (default 30 days). Preliminary results
//!   are shown but never read: a rule must not page a doctor on a value the laboratory has not
//!   released. No result in the window: unknown, and the rule does not fire.
//! - `baseline`: the value the latest result is compared with, anchored at the discharge of
//!   the patient's active enrolment: the **first** final result of that lab observed at or
//!   after the discharge (other than the one judged, and not after it); when there is none,
//!   the **latest** final result in the [`BASELINE_BEFORE_DAYS`] days before the discharge (the
//!   pre-discharge value, the usual reference for NT-proBNP). No discharge or no such result:
//!   unknown, and the rule does not fire.

use chrono::{DateTime, Duration, Utc};

use crate::followup::lab::{LabName, LabPoint};

/// How far before the discharge a result still counts as the baseline.
pub const BASELINE_BEFORE_DAYS: i64 = 90;

/// The result `lab(name, window)` reads at `now`.
pub fn latest<'a>(
    labs: &'a [LabPoint],
    name: &LabName,
    window: Duration,
    now: DateTime<Utc>,
) -> Option<&'a LabPoint> {
    labs.iter()
        .filter(|p| p.lab == *name && p.status.is_final() && p.observed_at >= now - window)
        .max_by_key(|p| (p.observed_at, p.id))
}

/// The baseline `current` is compared with.
pub fn baseline<'a>(
    labs: &'a [LabPoint],
    current: &LabPoint,
    discharged_at: Option<DateTime<Utc>>,
) -> Option<&'a LabPoint> {
    let discharged_at = discharged_at?;
    let same = |p: &&LabPoint| p.lab == current.lab && p.status.is_final() && p.id != current.id;
    labs.iter()
        .filter(same)
        .filter(|p| p.observed_at >= discharged_at && p.observed_at <= current.observed_at)
        .min_by_key(|p| (p.observed_at, p.id))
        .or_else(|| {
            labs.iter()
                .filter(same)
                .filter(|p| {
                    p.observed_at < discharged_at
                        && p.observed_at >= discharged_at - Duration::days(BASELINE_BEFORE_DAYS)
                })
                .max_by_key(|p| (p.observed_at, p.id))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::followup::lab::ResultStatus;
    use chrono::TimeZone;

    fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, d, 8, 0, 0).unwrap()
    }

    fn point(id: i64, lab: &str, value: f64, d: u32, status: ResultStatus) -> LabPoint {
        LabPoint {
            id,
            lab: LabName(lab.into()),
            value,
            unit: "pg/mL".into(),
            flags: vec![],
            status,
            observed_at: day(d),
        }
    }

    #[test]
    fn latest_reads_final_results_in_the_window_only() {
        use ResultStatus::*;
        let labs = [
            point(1, "k", 4.0, 1, Final),
            point(2, "k", 6.5, 20, Preliminary),
            point(3, "k", 5.0, 10, Corrected),
            point(4, "na", 140.0, 19, Final),
        ];
        let k = LabName("k".into());
        assert_eq!(
            latest(&labs, &k, Duration::days(30), day(20)).unwrap().id,
            3
        );
        // a 5-day window on the 20th sees nothing final
        assert!(latest(&labs, &k, Duration::days(5), day(20)).is_none());
    }

    #[test]
    fn baseline_is_the_first_after_discharge_else_the_latest_before() {
        use ResultStatus::*;
        let nt = |id, v, d| point(id, "ntprobnp", v, d, Final);
        let labs = [
            nt(1, 900.0, 1),
            nt(2, 1000.0, 3),
            nt(3, 1200.0, 6),
            nt(4, 2000.0, 9),
        ];
        let discharge = Some(day(5));
        // judged on the 9th: the first after the discharge (the 6th)
        assert_eq!(baseline(&labs, &labs[3], discharge).unwrap().id, 3);
        // judged on the 6th: nothing else after the discharge; the latest before (the 3rd)
        assert_eq!(baseline(&labs, &labs[2], discharge).unwrap().id, 2);
        // no discharge, or nothing within 90 days before it: unknown
        assert!(baseline(&labs, &labs[3], None).is_none());
        let far = [nt(1, 900.0, 1), nt(5, 2000.0, 9)];
        let long_after = Some(Utc.with_ymd_and_hms(2027, 6, 1, 0, 0, 0).unwrap());
        assert!(baseline(&far, &far[1], long_after).is_none());
    }
}
