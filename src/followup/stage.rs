//! Stage summary (健康阶段总结, issue 18 item 6): a patient's period compared with the one
//! before it of the same length — each measurement's trend (count, mean, last value, change of
//! the mean), adherence (follow-up contacts due in the period and completed), escalations and
//! readmissions. Pure: the store hands over the facts, this module counts.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// A half-open span of time `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Period {
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }
}

/// The facts of both periods.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageFacts {
    /// `(series, when, value)`, e.g. `("weight_kg", t, 72.5)`.
    pub measurements: Vec<(String, DateTime<Utc>, f64)>,
    /// `(due, completed)` of each follow-up task.
    pub tasks: Vec<(DateTime<Utc>, bool)>,
    /// When each escalation opened.
    pub escalations: Vec<DateTime<Utc>>,
    /// When each unplanned readmission began.
    pub readmissions: Vec<DateTime<Utc>>,
}

/// One series in one period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct SeriesStats {
    pub count: usize,
    pub mean: Option<f64>,
    pub last: Option<f64>,
}

/// Which way a series went from the previous period to this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Up,
    Down,
    Same,
    /// One of the periods has no value.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    pub series: String,
    pub current: SeriesStats,
    pub previous: SeriesStats,
    /// Mean now minus mean before.
    pub change: Option<f64>,
    pub direction: Direction,
}

/// Contacts due in a period and how many were completed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Adherence {
    pub due: usize,
    pub completed: usize,
    pub rate: Option<f64>,
}

/// A count now and before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Compared {
    pub current: usize,
    pub previous: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageSummary {
    pub current: Period,
    pub previous: Period,
    pub trends: Vec<Trend>,
    pub adherence_current: Adherence,
    pub adherence_previous: Adherence,
    pub escalations: Compared,
    pub readmissions: Compared,
}

/// A series' points in one period, `(when, value)`.
type Points = Vec<(DateTime<Utc>, f64)>;

fn stats(values: &[(DateTime<Utc>, f64)]) -> SeriesStats {
    if values.is_empty() {
        return SeriesStats::default();
    }
    let sum: f64 = values.iter().map(|v| v.1).sum();
    SeriesStats {
        count: values.len(),
        mean: Some(sum / values.len() as f64),
        last: values.iter().max_by_key(|v| v.0).map(|v| v.1),
    }
}

fn adherence(tasks: &[(DateTime<Utc>, bool)], p: Period) -> Adherence {
    let due: Vec<_> = tasks.iter().filter(|t| p.contains(t.0)).collect();
    let completed = due.iter().filter(|t| t.1).count();
    Adherence {
        due: due.len(),
        completed,
        rate: (!due.is_empty()).then(|| completed as f64 / due.len() as f64),
    }
}

/// The `days` before `end` compared with the `days` before those.
pub fn stage_summary(facts: &StageFacts, end: DateTime<Utc>, days: i64) -> StageSummary {
    let current = Period {
        from: end - Duration::days(days),
        to: end,
    };
    let previous = Period {
        from: current.from - Duration::days(days),
        to: current.from,
    };
    // [current, previous] per series
    let mut by_series: BTreeMap<&str, [Points; 2]> = BTreeMap::new();
    for (series, at, value) in &facts.measurements {
        let slot = if current.contains(*at) {
            0
        } else if previous.contains(*at) {
            1
        } else {
            continue;
        };
        by_series.entry(series).or_default()[slot].push((*at, *value));
    }
    let trends = by_series
        .into_iter()
        .map(|(series, [now, before])| {
            let (c, p) = (stats(&now), stats(&before));
            let change = c.mean.zip(p.mean).map(|(a, b)| a - b);
            let direction = match change {
                None => Direction::Unknown,
                Some(d) if d.abs() < 1e-9 => Direction::Same,
                Some(d) if d > 0.0 => Direction::Up,
                Some(_) => Direction::Down,
            };
            Trend {
                series: series.to_string(),
                current: c,
                previous: p,
                change,
                direction,
            }
        })
        .collect();
    let count = |times: &[DateTime<Utc>]| Compared {
        current: times.iter().filter(|t| current.contains(**t)).count(),
        previous: times.iter().filter(|t| previous.contains(**t)).count(),
    };
    StageSummary {
        current,
        previous,
        trends,
        adherence_current: adherence(&facts.tasks, current),
        adherence_previous: adherence(&facts.tasks, previous),
        escalations: count(&facts.escalations),
        readmissions: count(&facts.readmissions),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, 8, 0, 0).unwrap()
    }

    #[test]
    fn the_last_two_weeks_against_the_two_before() {
        let end = Utc.with_ymd_and_hms(2026, 3, 29, 0, 0, 0).unwrap();
        let facts = StageFacts {
            measurements: vec![
                // before both periods: left out
                ("weight_kg".into(), day(1) - Duration::days(9), 60.0),
                ("weight_kg".into(), day(3), 71.0),
                ("weight_kg".into(), day(10), 73.0),
                ("weight_kg".into(), day(16), 74.0),
                ("weight_kg".into(), day(28), 75.0),
                ("sbp".into(), day(20), 150.0),
            ],
            tasks: vec![
                (day(3), true),
                (day(10), false),
                (day(17), true),
                (day(24), true),
            ],
            escalations: vec![day(11), day(12), day(20)],
            readmissions: vec![day(26)],
        };
        let s = stage_summary(&facts, end, 14);
        assert_eq!(
            s.current.from,
            Utc.with_ymd_and_hms(2026, 3, 15, 0, 0, 0).unwrap()
        );
        assert_eq!(
            s.previous.from,
            Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
        );
        let w = &s.trends.iter().find(|t| t.series == "weight_kg").unwrap();
        assert_eq!(w.previous.count, 2);
        assert_eq!(w.previous.mean, Some(72.0));
        assert_eq!(w.current.mean, Some(74.5));
        assert_eq!(w.current.last, Some(75.0));
        assert_eq!(w.change, Some(2.5));
        assert_eq!(w.direction, Direction::Up);
        let sbp = &s.trends.iter().find(|t| t.series == "sbp").unwrap();
        assert_eq!(sbp.direction, Direction::Unknown);
        assert_eq!(
            (s.adherence_current.due, s.adherence_current.completed),
            (2, 2)
        );
        assert_eq!(s.adherence_current.rate, Some(1.0));
        assert_eq!(s.adherence_previous.rate, Some(0.5));
        assert_eq!(
            s.escalations,
            Compared {
                current: 1,
                previous: 2
            }
        );
        assert_eq!(
            s.readmissions,
            Compared {
                current: 1,
                previous: 0
            }
        );
    }

    #[test]
    fn nothing_recorded_gives_empty_counts_and_no_rates() {
        let s = stage_summary(&StageFacts::default(), day(20), 30);
        assert!(s.trends.is_empty());
        assert_eq!(s.adherence_current, Adherence::default());
        assert_eq!(s.escalations, Compared::default());
    }
}
