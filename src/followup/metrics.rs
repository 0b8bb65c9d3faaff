//! Follow-up quality metrics for supervisors' reports: pure arithmetic over plain values, so the
//! definitions can be read and tested apart from the SQL that gathers the inputs.
//!
//! Definitions (what the report's columns mean):
//! - **reached**: an attempt where the patient (or their proxy) answered and talked to the
//!   nurse: `completed`, `refused`, `callback_requested`. A wrong number, no answer or busy line
//!   is a dial that did not reach anyone; `deceased` is reported by a relative, not a contact.
//! - **coverage**: share of discharges in the period with at least one follow-up attempt.
//! - **reach rate**: share of attempted tasks (due in the period) whose patient was reached.
//! - **completion rate**: share of tasks due in the period that are completed.
//! - **dials per completed contact**: attempts in the period / attempts that completed a task.
//! - **hours from discharge to first contact**: from discharge time to the first reached attempt.
//! - **reached within 2 business days**: first reached attempt on or before the second business
//!   day after the discharge day (CMS TCM: Mon–Fri, hospital holidays excluded).
//! - **time to acknowledge**: from an escalation's opening to its acknowledgement, in minutes.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::pathway::Calendar;
use super::retry::Disposition;

/// Whether an attempt with this disposition talked to the patient.
pub fn reached(d: Disposition) -> bool {
    match d {
        Disposition::Completed | Disposition::Refused | Disposition::CallbackRequested => true,
        Disposition::NoAnswer
        | Disposition::Busy
        | Disposition::WrongNumber
        | Disposition::Deceased => false,
    }
}

/// The dispositions that count as reached, as their stored names (for SQL `IN (…)`).
pub fn reached_names() -> Vec<&'static str> {
    Disposition::ALL
        .into_iter()
        .filter(|d| reached(*d))
        .map(Disposition::as_str)
        .collect()
}

/// `num / den`, or `None` when nothing was counted (a rate of an empty set is not 0 %).
pub fn rate(num: i64, den: i64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// Count, mean, median and 90th percentile of a sample (nearest-rank percentiles).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Summary {
    pub count: usize,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

impl Summary {
    pub fn of(values: &[f64]) -> Summary {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Summary::default();
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let rank = |p: f64| v[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Summary {
            count: n,
            mean: Some(v.iter().sum::<f64>() / n as f64),
            median: Some(median),
            p90: Some(rank(0.9)),
        }
    }
}

/// Whether a patient discharged at `discharged_at` was reached at `reached_at` within `days`
/// business days (the deadline is the whole of the `days`th business day after the discharge
/// day, in the hospital's zone).
pub fn within_business_days(
    calendar: &Calendar,
    discharged_at: DateTime<Utc>,
    reached_at: DateTime<Utc>,
    days: u32,
) -> bool {
    let discharge_day = discharged_at.with_timezone(&calendar.tz).date_naive();
    let reached_day = reached_at.with_timezone(&calendar.tz).date_naive();
    reached_at >= discharged_at && reached_day <= calendar.add_business_days(discharge_day, days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    fn calendar() -> Calendar {
        Calendar {
            tz: chrono_tz::Asia::Shanghai,
            holidays: vec![NaiveDate::from_ymd_opt(2025, 10, 1).unwrap()],
            tcm_two_business_days: true,
        }
    }

    /// Shanghai local time → UTC.
    fn local(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(y, m, d, h, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn reached_means_someone_talked_to_the_nurse() {
        assert_eq!(
            reached_names(),
            vec!["completed", "refused", "callback_requested"]
        );
    }

    #[test]
    fn rates_of_nothing_are_unknown_not_zero() {
        assert_eq!(rate(0, 0), None);
        assert_eq!(rate(1, 4), Some(0.25));
    }

    #[test]
    fn summaries() {
        let cases: &[(&[f64], Summary)] = &[
            (&[], Summary::default()),
            (
                &[5.0],
                Summary {
                    count: 1,
                    mean: Some(5.0),
                    median: Some(5.0),
                    p90: Some(5.0),
                },
            ),
            (
                &[4.0, 1.0, 3.0, 2.0],
                Summary {
                    count: 4,
                    mean: Some(2.5),
                    median: Some(2.5),
                    p90: Some(4.0),
                },
            ),
            (
                &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, f64::NAN],
                Summary {
                    count: 10,
                    mean: Some(5.5),
                    median: Some(5.5),
                    p90: Some(9.0),
                },
            ),
        ];
        for (values, want) in cases {
            assert_eq!(Summary::of(values), *want, "{values:?}");
        }
    }

    #[test]
    fn two_business_days_skip_weekends_and_holidays() {
        let cal = calendar();
        // (discharged, reached, within?)
        let cases = [
            // Friday 2025-09-26 → deadline Tuesday 09-30 (whole day)
            (local(2025, 9, 26, 15), local(2025, 9, 30, 20), true),
            (local(2025, 9, 26, 15), local(2025, 10, 2, 9), false),
            // Tuesday 09-30 → Wed 10-01 is a holiday → Thu 10-02, Fri 10-03
            (local(2025, 9, 30, 10), local(2025, 10, 3, 17), true),
            (local(2025, 9, 30, 10), local(2025, 10, 6, 9), false),
            // a contact before the discharge does not count
            (local(2025, 9, 30, 10), local(2025, 9, 30, 9), false),
        ];
        for (d, r, want) in cases {
            assert_eq!(within_business_days(&cal, d, r, 2), want, "{d} → {r}");
        }
    }
}
