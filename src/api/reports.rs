//! Supervisor views: the live wallboard, the period report (JSON or CSV), the recordings browser
//! with audited download, QA reviews of calls, and the printable patient report's data.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, NaiveDate};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{paged, ApiError, ApiJson, ApiPath, ApiQuery, Page};
use super::session_user::CurrentUser;
use super::{actor, AppState};
use crate::followup::phone::mask;
use crate::followup::retry::Disposition;
use crate::store::audit::append;
use crate::store::recordings::{self as rec, RecordingFilter, Scores};
use crate::store::reports::{self as db, local_midnight};

pub async fn wallboard(State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    let now = state.clock.now();
    let calendar = state.calendar.clone();
    let board = state
        .store
        .read(move |c| db::wallboard(c, &calendar, now))
        .await?;
    Ok(axum::Json(json!(board)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    #[serde(default)]
    from: Option<NaiveDate>,
    #[serde(default)]
    to: Option<NaiveDate>,
    /// `json` (default) or `csv`.
    #[serde(default)]
    format: Option<String>,
    /// Only patients carrying this tag (`?tag=fluid-overload-risk`).
    #[serde(default)]
    tag: Option<String>,
}

/// `GET /reports?from=YYYY-MM-DD&to=YYYY-MM-DD[&format=csv]`: the last 30 days by default,
/// dates in the hospital's zone, both ends included.
pub async fn report(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<Period>,
) -> Result<Response, ApiError> {
    let today = state
        .clock
        .now()
        .with_timezone(&state.calendar.tz)
        .date_naive();
    let to = p.to.unwrap_or(today);
    let from = p.from.unwrap_or(to - Duration::days(29));
    if from > to {
        return Err(ApiError::invalid("from", "must not be after `to`"));
    }
    if to - from > Duration::days(366) {
        return Err(ApiError::invalid(
            "from",
            "a report covers at most 366 days",
        ));
    }
    let csv = match p.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "format",
                format!("`{other}` is not json or csv"),
            ))
        }
    };
    let tag = match p.tag.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(t) => Some(super::tags::checked_tag(t)?),
        None => None,
    };
    let calendar = state.calendar.clone();
    let r = state
        .store
        .read(move |c| db::report_tagged(c, &calendar, from, to, tag.as_deref()))
        .await?;
    if csv {
        let body = db::report_csv(&r)?;
        let name = format!("attachment; filename=\"suifang-report-{from}-{to}.csv\"");
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingQuery {
    #[serde(default)]
    from: Option<NaiveDate>,
    #[serde(default)]
    to: Option<NaiveDate>,
    #[serde(default)]
    agent_id: Option<i64>,
    #[serde(default)]
    patient_id: Option<i64>,
    /// Patient name (contains) or MRN (exact).
    #[serde(default)]
    patient: Option<String>,
    #[serde(default)]
    disposition: Option<Disposition>,
    #[serde(default)]
    escalated: Option<bool>,
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
}

fn default_limit() -> i64 {
    50
}

pub async fn recordings(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<RecordingQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let page = Page {
        limit: q.limit,
        offset: q.offset,
        q: None,
    }
    .checked()?;
    let cal = &state.calendar;
    let filter = RecordingFilter {
        from: q.from.map(|d| local_midnight(cal, d)),
        to: q.to.map(|d| local_midnight(cal, d.succ_opt().unwrap_or(d))),
        agent_id: q.agent_id,
        patient_id: q.patient_id,
        patient: q.patient.filter(|s| !s.trim().is_empty()),
        disposition: q.disposition.map(|d| d.as_str().to_string()),
        escalated: q.escalated,
        limit: page.limit,
        offset: page.offset,
    };
    let (items, total) = state.store.read(move |c| rec::list(c, &filter)).await?;
    Ok(axum::Json(paged(items, total, &page)))
}

/// `GET /recordings/{id}/download`: the WAV as an attachment; every download is audited
/// (ARCHITECTURE.md flow 6: every access to a recording is audited).
pub async fn download(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let (path, call_id) = state
        .store
        .read(move |c| rec::recording_file(c, id))
        .await?;
    super::retention::ensure_audio_kept(&state, id).await?;
    let full = state.recordings.resolve(&path);
    let bytes = tokio::fs::read(&full).await.map_err(|e| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "recording_file_missing",
            format!("recording {id}'s file cannot be read ({e}); ask an admin to check the recordings folder"),
        )
    })?;
    let now = state.clock.now().timestamp();
    let who = actor(&user);
    state
        .store
        .write(move |tx| {
            append(
                tx,
                &who,
                "download",
                "recording",
                Some(&id.to_string()),
                &format!("call={call_id}"),
                now,
            )
        })
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "audio/wav".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"recording-{id}.wav\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

pub async fn reviews(
    State(state): State<AppState>,
    ApiPath(call_id): ApiPath<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let items = state.store.read(move |c| rec::reviews(c, &call_id)).await?;
    Ok(axum::Json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    scores: Scores,
    #[serde(default)]
    comment: String,
}

/// `POST /calls/{id}/reviews`: a QA score of the call (rubric in [`Scores`]), audited.
pub async fn add_review(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(call_id): ApiPath<String>,
    ApiJson(body): ApiJson<ReviewBody>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    if let Some(field) = body.scores.invalid() {
        return Err(ApiError::invalid(
            format!("scores.{field}"),
            format!("must be 0, 1 or {}", Scores::MAX_EACH),
        ));
    }
    if body.comment.chars().count() > 4000 {
        return Err(ApiError::invalid(
            "comment",
            "is longer than 4000 characters",
        ));
    }
    let now = state.clock.now().timestamp();
    let who = actor(&user);
    let id = call_id.clone();
    state
        .store
        .write(move |tx| {
            let review = rec::add_review(tx, &id, user.id, &body.scores, &body.comment, now)?;
            append(
                tx,
                &who,
                "review",
                "call",
                Some(&id),
                &format!("review={review} total={}", body.scores.total()),
                now,
            )?;
            Ok(review)
        })
        .await?;
    let items = state.store.read(move |c| rec::reviews(c, &call_id)).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"review": items.first()})),
    ))
}

/// `?stage_days=N`: the period of a patient's stage summary (issue 18 item 6), 30 days unless
/// asked.
#[derive(Debug, Default, Deserialize)]
pub struct StageQuery {
    #[serde(default)]
    stage_days: Option<i64>,
}

impl StageQuery {
    pub fn days(&self) -> Result<crate::store::stage::StageDays, ApiError> {
        crate::store::stage::StageDays::new(self.stage_days)
            .map_err(|why| ApiError::invalid("stage_days", why))
    }
}

/// `GET /patients/{id}/report[?stage_days=N]`: the printable follow-up report's data (audited view; phones
/// masked for nurses like everywhere else).
pub async fn patient_report(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<StageQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let now = state.clock.now();
    let scripts = state.scripts.clone();
    let days = q.days()?;
    let mut r = state
        .store
        .read(move |c| crate::store::patient_report::patient_report(c, &scripts, id, now, days))
        .await?;
    if !user.role.sees_full_phone_numbers() {
        r.patient.phone = mask(&r.patient.phone);
        r.patient.alt_phone = r.patient.alt_phone.map(|x| mask(&x));
    }
    let who = actor(&user);
    let t = now.timestamp();
    state
        .store
        .write(move |tx| {
            append(
                tx,
                &who,
                "view",
                "patient_report",
                Some(&id.to_string()),
                "",
                t,
            )
        })
        .await?;
    Ok(axum::Json(json!(r)))
}

/// `GET /settings`: what every console page needs to show times right: the hospital's zone
/// (times are UTC in the API) and calling hours.
pub async fn settings(State(state): State<AppState>) -> axum::Json<Value> {
    axum::Json(json!({
        "time_zone": state.calendar.tz.name(),
        "calling_hours": state.config.hospital.calling_hours,
    }))
}
