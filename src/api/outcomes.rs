//! `GET /api/v1/reports/outcomes`: the outcome report (issue 18 item 3) as JSON or CSV. The
//! figures and the SQL that reproduces them come from `store::outcomes`.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Duration, NaiveDate};
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiQuery};
use super::AppState;
use crate::store::outcomes as db;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeQuery {
    #[serde(default)]
    from: Option<NaiveDate>,
    #[serde(default)]
    to: Option<NaiveDate>,
    /// `json` (default) or `csv`.
    #[serde(default)]
    format: Option<String>,
}

/// `?from=YYYY-MM-DD&to=YYYY-MM-DD[&format=csv]`: discharges of those local dates (both
/// included); by default the last twelve months, from the first of the month eleven months
/// back to today. At most 366 days.
pub async fn report(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<OutcomeQuery>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let today = now.with_timezone(&state.calendar.tz).date_naive();
    let to = q.to.unwrap_or(today);
    let from = match q.from {
        Some(from) => from,
        None => months_back(to, 11),
    };
    if from > to {
        return Err(ApiError::invalid("from", "must not be after `to`"));
    }
    if to - from > Duration::days(366) {
        return Err(ApiError::invalid(
            "from",
            "an outcome report covers at most 366 days of discharges",
        ));
    }
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "format",
                format!("`{other}` is not json or csv"),
            ))
        }
    };
    let calendar = state.calendar.clone();
    let r = state
        .store
        .read(move |c| db::outcome_report(c, &calendar, from, to, now))
        .await?;
    if csv {
        let body = db::outcome_csv(&r)?;
        let name = format!("attachment; filename=\"suifang-outcomes-{from}-{to}.csv\"");
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, name),
            ],
            body,
        )
            .into_response());
    }
    Ok(axum::Json(json!(r)).into_response())
}

/// The first day of the month `months` before `date`'s.
fn months_back(date: NaiveDate, months: u32) -> NaiveDate {
    let index = date.year() * 12 + date.month0() as i32 - months as i32;
    NaiveDate::from_ymd_opt(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1)
        .unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_months_back_starts_on_the_first() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(months_back(d(2026, 12, 7), 11), d(2026, 1, 1));
        assert_eq!(months_back(d(2026, 3, 31), 11), d(2025, 4, 1));
        assert_eq!(months_back(d(2026, 1, 15), 0), d(2026, 1, 1));
    }
}
