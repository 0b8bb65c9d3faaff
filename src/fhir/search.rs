//! Search parameters (FHIR R4 §3.1.1): `patient`, `date`, `_lastUpdated`, `_count`, and the
//! `_offset` the paging links carry. Dates take the prefixes `eq ge gt le lt` and the precisions
//! `YYYY`, `YYYY-MM`, `YYYY-MM-DD` or a full dateTime with its offset; a date without a time
//! is a whole period (`date=2026-12-07` matches the whole day, in UTC).

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use thiserror::Error;

/// Page size when `_count` is absent, and the largest one accepted.
pub const DEFAULT_COUNT: u32 = 20;
pub const MAX_COUNT: u32 = 100;

/// A search the server cannot run, named by its parameter (an OperationOutcome for the client).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("search parameter `{param}`: {message}")]
pub struct SearchError {
    pub param: String,
    pub message: String,
}

fn bad(param: &str, message: impl Into<String>) -> SearchError {
    SearchError {
        param: param.into(),
        message: message.into(),
    }
}

/// One bound on a time column: the column must be `>= from` and/or `< until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// A parsed search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    pub patient: Option<i64>,
    pub date: Vec<Range>,
    pub last_updated: Vec<Range>,
    pub count: u32,
    pub offset: u32,
}

/// The period a FHIR date or dateTime stands for: `[start, end)`.
fn period(value: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        let t = t.with_timezone(&Utc);
        return Some((t, t + chrono::Duration::seconds(1)));
    }
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
    let start_of = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?).into();
    let (start, end) = match value.len() {
        4 => {
            let y: i32 = value.parse().ok()?;
            (day(y, 1, 1)?, day(y + 1, 1, 1)?)
        }
        7 => {
            let d = NaiveDate::parse_from_str(&format!("{value}-01"), "%Y-%m-%d").ok()?;
            let next = if d.month() == 12 {
                day(d.year() + 1, 1, 1)?
            } else {
                day(d.year(), d.month() + 1, 1)?
            };
            (d, next)
        }
        10 => {
            let d = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
            (d, d.succ_opt()?)
        }
        _ => return None,
    };
    let s: Option<DateTime<Utc>> = start_of(start);
    let e: Option<DateTime<Utc>> = start_of(end);
    Some((s?, e?))
}

/// `ge2026-12-01` and the like, as a range.
pub fn date_range(param: &str, value: &str) -> Result<Range, SearchError> {
    let (prefix, rest) = match value.get(..2) {
        Some(p @ ("eq" | "ge" | "gt" | "le" | "lt")) => (p, &value[2..]),
        _ => ("eq", value),
    };
    let (start, end) = period(rest).ok_or_else(|| {
        bad(
            param,
            format!(
                "`{rest}` is not a FHIR date (2026, 2026-12, 2026-12-07 or 2026-12-07T08:00:00Z)"
            ),
        )
    })?;
    Ok(match prefix {
        "ge" => Range {
            from: Some(start),
            until: None,
        },
        "gt" => Range {
            from: Some(end),
            until: None,
        },
        "le" => Range {
            from: None,
            until: Some(end),
        },
        "lt" => Range {
            from: None,
            until: Some(start),
        },
        _ => Range {
            from: Some(start),
            until: Some(end),
        },
    })
}

/// `Patient/12` or `12`.
fn patient_id(value: &str) -> Result<i64, SearchError> {
    value
        .strip_prefix("Patient/")
        .unwrap_or(value)
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            bad(
                "patient",
                format!("`{value}` is not a reference like Patient/12"),
            )
        })
}

/// Parses a query string's pairs. Unknown parameters are refused rather than ignored, so a
/// client never takes an unfiltered page for a filtered one.
pub fn parse(pairs: &[(String, String)]) -> Result<Search, SearchError> {
    let mut s = Search {
        patient: None,
        date: Vec::new(),
        last_updated: Vec::new(),
        count: DEFAULT_COUNT,
        offset: 0,
    };
    for (k, v) in pairs {
        match k.as_str() {
            "patient" | "subject" => {
                if s.patient.replace(patient_id(v)?).is_some() {
                    return Err(bad(k, "given twice"));
                }
            }
            "date" => s.date.push(date_range(k, v)?),
            "_lastUpdated" => s.last_updated.push(date_range(k, v)?),
            "_count" => {
                s.count = v
                    .parse::<u32>()
                    .ok()
                    .filter(|c| (1..=MAX_COUNT).contains(c))
                    .ok_or_else(|| bad(k, format!("a number from 1 to {MAX_COUNT}")))?;
            }
            "_offset" => {
                s.offset = v
                    .parse::<u32>()
                    .map_err(|_| bad(k, "a number of entries to skip"))?;
            }
            "_format" if matches!(v.as_str(), "json" | "application/fhir+json") => {}
            other => {
                return Err(bad(
                    other,
                    "not supported (patient, date, _lastUpdated, _count)",
                ))
            }
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Result<Search, SearchError> {
        parse(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        )
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn dates_are_periods_with_prefixes() {
        let r = date_range("date", "2026-12-07").unwrap();
        assert_eq!(r.from, Some(utc("2026-12-07T00:00:00Z")));
        assert_eq!(r.until, Some(utc("2026-12-08T00:00:00Z")));
        let r = date_range("date", "ge2026-12").unwrap();
        assert_eq!((r.from, r.until), (Some(utc("2026-12-01T00:00:00Z")), None));
        let r = date_range("date", "lt2026").unwrap();
        assert_eq!((r.from, r.until), (None, Some(utc("2026-01-01T00:00:00Z"))));
        let r = date_range("date", "gt2026-12-07").unwrap();
        assert_eq!(r.from, Some(utc("2026-12-08T00:00:00Z")));
        let r = date_range("date", "le2026-12-07T08:00:00+08:00").unwrap();
        assert_eq!(r.until, Some(utc("2026-12-07T00:00:01Z")));
        assert!(date_range("date", "2026-13-01").is_err());
        assert!(date_range("date", "07/12/2026")
            .unwrap_err()
            .to_string()
            .contains("date"));
    }

    #[test]
    fn parameters_are_checked_and_unknown_ones_refused() {
        let s = q(&[
            ("patient", "Patient/7"),
            ("_count", "5"),
            ("date", "ge2026-01-01"),
        ])
        .unwrap();
        assert_eq!(
            (s.patient, s.count, s.offset, s.date.len()),
            (Some(7), 5, 0, 1)
        );
        assert_eq!(q(&[]).unwrap().count, DEFAULT_COUNT);
        assert_eq!(q(&[("_count", "0")]).unwrap_err().param, "_count");
        assert_eq!(q(&[("_count", "101")]).unwrap_err().param, "_count");
        assert_eq!(q(&[("patient", "Group/1")]).unwrap_err().param, "patient");
        assert_eq!(q(&[("name", "x")]).unwrap_err().param, "name");
        assert_eq!(
            q(&[("patient", "1"), ("patient", "2")]).unwrap_err().param,
            "patient"
        );
    }
}
