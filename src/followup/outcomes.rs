//! The outcome report's definitions and arithmetic (issue 18 item 3): what a follow-up
//! programme changed, per month, pathway, department and nurse. Pure functions over one row of
//! facts per enrolled discharge, so every definition is tested without a database; the SQL that
//! gathers the facts (and reproduces each number) is `crate::store::outcomes`.
//!
//! Definitions:
//! - **enrolled**: a discharge (not cancelled) whose follow-up enrolment exists, counted in the
//!   local month of its discharge.
//! - **nurse**: the user who made the discharge's first follow-up attempt (`(none)` when nobody
//!   tried), so reach per nurse says how her first calls went.
//! - **reached within 2 business days**: first reached attempt (see [`super::metrics`]) on or
//!   before the end of the second business day after the discharge day (CMS TCM: Mon–Fri,
//!   `hospital.holidays` excluded).
//! - **reached within 7 days**: first reached attempt at most 7 × 24 h after the discharge.
//!   "Reached vs not reached" below splits the discharges on this.
//! - **completed**: at least one of the discharge's follow-up tasks ended `completed` (the
//!   scripted call was done).
//! - **time to first contact**: hours from the discharge to the first reached attempt, median
//!   over the reached discharges.
//! - **escalations**: those of the patient opened within 30 days after the discharge, by
//!   severity, with the median minutes from opening to acknowledgement.
//! - **readmission within N days** (N = 30 and 180, "6 months"): an unplanned (not
//!   `[outcomes] planned_admission_types`), not cancelled admission recorded against this
//!   discharge at most N × 24 h after it. All-cause. Only discharges whose N days are over at the
//!   report's `as_of` are counted (eligible), so a recent discharge does not lower the rate.
//! - **95 % confidence intervals**: Wilson score interval ([`wilson`]).
//! - **satisfaction**: the answers to the pathway's closing satisfaction script (issue 18 item
//!   4), summed by [`super::satisfaction`].

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::metrics::{rate, within_business_days, Summary};
use super::pathway::Calendar;
use super::satisfaction::{SatisfactionAnswers, SatisfactionSummary};
use super::script::Severity;

/// Seconds in the "reached within 7 days" window (also the reached / not reached split).
pub const REACHED_WITHIN_SECS: i64 = 7 * 86_400;
/// Escalations count against a discharge for this long after it.
pub const ESCALATION_WINDOW_SECS: i64 = 30 * 86_400;
/// The readmission windows the report measures, in days.
pub const READMISSION_DAYS: [i64; 2] = [30, 180];
/// The label of a group with no value (no department, no attempt yet).
pub const NONE_KEY: &str = "(none)";

/// An admission recorded as a readmission of the discharge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readmission {
    pub admitted_at: DateTime<Utc>,
    pub planned: bool,
}

/// An escalation of the patient after the discharge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscalationFact {
    pub severity: Severity,
    pub opened_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// Everything the report needs to know about one enrolled discharge.
#[derive(Debug, Clone, PartialEq)]
pub struct DischargeFacts {
    pub discharge_id: i64,
    pub discharged_at: DateTime<Utc>,
    pub pathway: String,
    /// Department code, or [`NONE_KEY`].
    pub department: String,
    /// Username of the first attempt's nurse, or [`NONE_KEY`].
    pub nurse: String,
    pub first_reached_at: Option<DateTime<Utc>>,
    pub completed: bool,
    /// Readmissions recorded against this discharge (cancelled ones left out by the caller).
    pub readmissions: Vec<Readmission>,
    /// Escalations opened within [`ESCALATION_WINDOW_SECS`] after the discharge.
    pub escalations: Vec<EscalationFact>,
    /// What the patient answered to the satisfaction script (all `None` when not asked).
    pub satisfaction: SatisfactionAnswers,
}

impl DischargeFacts {
    /// Reached within 7 days (the "reached" side of the reached / not reached split).
    pub fn reached_within_7_days(&self) -> bool {
        self.first_reached_at.is_some_and(|at| {
            let secs = (at - self.discharged_at).num_seconds();
            (0..=REACHED_WITHIN_SECS).contains(&secs)
        })
    }

    /// An unplanned readmission at most `days` × 24 h after the discharge.
    pub fn readmitted_within(&self, days: i64) -> bool {
        self.readmissions.iter().any(|r| {
            let secs = (r.admitted_at - self.discharged_at).num_seconds();
            !r.planned && (0..=days * 86_400).contains(&secs)
        })
    }

    /// Whether the `days` after the discharge are over at `as_of`.
    pub fn window_over(&self, days: i64, as_of: DateTime<Utc>) -> bool {
        self.discharged_at + Duration::days(days) <= as_of
    }
}

/// z for a two-sided 95 % interval (the 0.975 quantile of the standard normal).
pub const Z_95: f64 = 1.959_963_984_540_054;

/// Wilson score interval for `events` out of `n` at 95 %: E. B. Wilson, "Probable inference,
/// the law of succession, and statistical inference", JASA 22 (1927) 209–212; recommended
/// over the Wald interval for small counts and rates near 0 by R. G. Newcombe, "Two-sided
/// confidence intervals for the single proportion", Stat Med 17 (1998) 857–872 (method 3).
/// `None` when `n` is 0.
pub fn wilson(events: i64, n: i64) -> Option<(f64, f64)> {
    if n <= 0 || events < 0 || events > n {
        return None;
    }
    let (k, n) = (events as f64, n as f64);
    let p = k / n;
    let z2 = Z_95 * Z_95;
    let centre = p + z2 / (2.0 * n);
    let half = Z_95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    let denom = 1.0 + z2 / n;
    Some((
        ((centre - half) / denom).max(0.0),
        ((centre + half) / denom).min(1.0),
    ))
}

/// A proportion with its count, denominator and Wilson interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RateCi {
    pub events: i64,
    pub eligible: i64,
    pub rate: Option<f64>,
    pub ci95_low: Option<f64>,
    pub ci95_high: Option<f64>,
}

impl RateCi {
    pub fn of(events: i64, eligible: i64) -> RateCi {
        let ci = wilson(events, eligible);
        RateCi {
            events,
            eligible,
            rate: rate(events, eligible),
            ci95_low: ci.map(|c| c.0),
            ci95_high: ci.map(|c| c.1),
        }
    }
}

/// 30-day and 180-day all-cause unplanned readmission.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Readmissions {
    pub days_30: RateCi,
    pub days_180: RateCi,
}

impl Readmissions {
    fn of<'a>(
        facts: impl Iterator<Item = &'a DischargeFacts> + Clone,
        as_of: DateTime<Utc>,
    ) -> Self {
        let one = |days: i64| {
            let eligible = facts.clone().filter(|f| f.window_over(days, as_of));
            let n = eligible.clone().count() as i64;
            let k = eligible.filter(|f| f.readmitted_within(days)).count() as i64;
            RateCi::of(k, n)
        };
        let [d30, d180] = READMISSION_DAYS;
        Readmissions {
            days_30: one(d30),
            days_180: one(d180),
        }
    }
}

/// Escalations of one severity (or all).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct EscalationCount {
    pub opened: i64,
    pub acknowledged: i64,
    pub median_minutes_to_acknowledge: Option<f64>,
}

impl EscalationCount {
    fn of<'a>(escalations: impl Iterator<Item = &'a EscalationFact>) -> Self {
        let mut opened = 0;
        let mut minutes = Vec::new();
        for e in escalations {
            opened += 1;
            if let Some(ack) = e.acknowledged_at {
                minutes.push((ack - e.opened_at).num_seconds() as f64 / 60.0);
            }
        }
        EscalationCount {
            opened,
            acknowledged: minutes.len() as i64,
            median_minutes_to_acknowledge: Summary::of(&minutes).median,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct EscalationsBySeverity {
    pub all: EscalationCount,
    pub emergency: EscalationCount,
    pub urgent: EscalationCount,
    pub high: EscalationCount,
    pub routine: EscalationCount,
}

/// The measures of one group of discharges.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OutcomeMetrics {
    pub enrolled: i64,
    pub reached_within_2_business_days: RateCi,
    pub reached_within_7_days: RateCi,
    pub completed: RateCi,
    pub reached: i64,
    pub median_hours_to_first_contact: Option<f64>,
    pub escalations: EscalationsBySeverity,
    pub readmissions: Readmissions,
    pub readmissions_reached: Readmissions,
    pub readmissions_not_reached: Readmissions,
    pub satisfaction: SatisfactionSummary,
}

/// The measures over `facts` at `as_of`.
pub fn measure(
    facts: &[&DischargeFacts],
    calendar: &Calendar,
    as_of: DateTime<Utc>,
) -> OutcomeMetrics {
    let enrolled = facts.len() as i64;
    let count = |f: &dyn Fn(&DischargeFacts) -> bool| facts.iter().filter(|x| f(x)).count() as i64;
    let within_2 = count(&|f| {
        f.first_reached_at
            .is_some_and(|at| within_business_days(calendar, f.discharged_at, at, 2))
    });
    let hours: Vec<f64> = facts
        .iter()
        .filter_map(|f| {
            f.first_reached_at
                .map(|at| (at - f.discharged_at).num_seconds() as f64 / 3600.0)
        })
        .collect();
    let escalations = facts.iter().flat_map(|f| f.escalations.iter());
    let of_severity =
        |s: Severity| EscalationCount::of(escalations.clone().filter(move |e| e.severity == s));
    let all = facts.iter().copied();
    OutcomeMetrics {
        enrolled,
        reached_within_2_business_days: RateCi::of(within_2, enrolled),
        reached_within_7_days: RateCi::of(count(&DischargeFacts::reached_within_7_days), enrolled),
        completed: RateCi::of(count(&|f| f.completed), enrolled),
        reached: hours.len() as i64,
        median_hours_to_first_contact: Summary::of(&hours).median,
        escalations: EscalationsBySeverity {
            all: EscalationCount::of(escalations.clone()),
            emergency: of_severity(Severity::Emergency),
            urgent: of_severity(Severity::Urgent),
            high: of_severity(Severity::High),
            routine: of_severity(Severity::Routine),
        },
        readmissions: Readmissions::of(all.clone(), as_of),
        readmissions_reached: Readmissions::of(
            all.clone().filter(|f| f.reached_within_7_days()),
            as_of,
        ),
        readmissions_not_reached: Readmissions::of(
            all.filter(|f| !f.reached_within_7_days()),
            as_of,
        ),
        satisfaction: SatisfactionSummary::of(facts.iter().map(|f| &f.satisfaction)),
    }
}

/// What the report groups discharges by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Month,
    Pathway,
    Department,
    Nurse,
}

impl Dimension {
    pub const ALL: [Dimension; 4] = [
        Dimension::Month,
        Dimension::Pathway,
        Dimension::Department,
        Dimension::Nurse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Month => "month",
            Dimension::Pathway => "pathway",
            Dimension::Department => "department",
            Dimension::Nurse => "nurse",
        }
    }

    /// The group a discharge falls in (months in the hospital's zone, `YYYY-MM`).
    pub fn key(self, f: &DischargeFacts, calendar: &Calendar) -> String {
        match self {
            Dimension::Month => f
                .discharged_at
                .with_timezone(&calendar.tz)
                .format("%Y-%m")
                .to_string(),
            Dimension::Pathway => f.pathway.clone(),
            Dimension::Department => f.department.clone(),
            Dimension::Nurse => f.nurse.clone(),
        }
    }
}

/// One group's measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub key: String,
    #[serde(flatten)]
    pub metrics: OutcomeMetrics,
}

/// The measures per group of `dimension`, groups in key order.
pub fn breakdown(
    facts: &[DischargeFacts],
    dimension: Dimension,
    calendar: &Calendar,
    as_of: DateTime<Utc>,
) -> Vec<Group> {
    let mut groups: BTreeMap<String, Vec<&DischargeFacts>> = BTreeMap::new();
    for f in facts {
        groups
            .entry(dimension.key(f, calendar))
            .or_default()
            .push(f);
    }
    groups
        .into_iter()
        .map(|(key, members)| Group {
            key,
            metrics: measure(&members, calendar, as_of),
        })
        .collect()
}

#[cfg(test)]
mod tests;
