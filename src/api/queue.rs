use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{paged, ApiError, ApiJson, ApiPath, ApiQuery, Page};
use super::session_user::CurrentUser;
use super::{actor, AppState};
use crate::followup::retry::{Disposition, DispositionError};
use crate::store::audit::append;
use crate::store::tasks::{self as db, DispositionFailure, DispositionInput, NoClaim};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
    /// Only patients carrying this tag (`?tag=fluid-overload-risk`).
    #[serde(default)]
    tag: Option<String>,
}

fn default_limit() -> i64 {
    50
}

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<QueueQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let page = Page {
        limit: query.limit,
        offset: query.offset,
        q: None,
    }
    .checked()?;
    let tag = match query.tag.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(t) => Some(super::tags::checked_tag(t)?),
        None => None,
    };
    let now = state.clock.now();
    let (limit, offset) = (page.limit, page.offset);
    let filter = tag.clone();
    let (items, total) = state
        .store
        .read(move |c| db::list_queue_tagged(c, now, filter.as_deref(), limit, offset))
        .await?;
    let mut body = paged(items, total, &page);
    body["tag"] = json!(tag);
    body["calling_hours_open"] = json!(state.locale.within_calling_hours(now));
    body["calling_hours"] = json!(state.config.hospital.calling_hours);
    // the demo calls at any hour (config::DEMO_DEFAULTS); the page says so
    body["demo"] = json!(state.config.demo);
    Ok(axum::Json(body))
}

pub async fn flags(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<axum::Json<Value>, ApiError> {
    let page = page.checked()?;
    let now = state.clock.now();
    let (limit, offset) = (page.limit, page.offset);
    let (items, total) = state
        .store
        .read(move |c| db::flagged(c, now, limit, offset))
        .await?;
    Ok(axum::Json(paged(items, total, &page)))
}

pub async fn build(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<axum::Json<Value>, ApiError> {
    let now = state.clock.now();
    let who = actor(&user);
    let built = state
        .store
        .write(move |tx| {
            let b = db::build_queue(tx, now)?;
            append(
                tx,
                &who,
                "build",
                "queue",
                None,
                &format!("entries={}", b.entries),
                now.timestamp(),
            )?;
            Ok(b)
        })
        .await?;
    Ok(axum::Json(json!(built)))
}

pub async fn claim(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<axum::Json<Value>, ApiError> {
    let now = state.clock.now();
    let (locale, lease, who) = (state.locale, state.lease(), actor(&user));
    let role = user.role.task_role();
    let claimed = state
        .store
        .write(move |tx| {
            let r = db::claim_next(tx, who.id.unwrap_or_default(), role, &locale, lease, now)?;
            if let Ok(task) = &r {
                append(
                    tx,
                    &who,
                    "claim",
                    "task",
                    Some(&task.id.to_string()),
                    "",
                    now.timestamp(),
                )?;
            }
            Ok(r)
        })
        .await?;
    match claimed {
        Ok(task) => Ok(axum::Json(json!({"task": task}))),
        Err(NoClaim::QueueEmpty) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "queue_empty",
            "no task is waiting for you now",
        )),
        Err(NoClaim::OutsideCallingHours) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "outside_calling_hours",
            format!(
                "patients may be called {} ({})",
                state.config.hospital.calling_hours, state.config.hospital.time_zone
            ),
        )),
    }
}

pub async fn get_one(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<axum::Json<Value>, ApiError> {
    let now = state.clock.now();
    let task = state.store.read(move |c| db::get_task(c, id, now)).await?;
    Ok(axum::Json(json!(task)))
}

pub async fn renew(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let (now, lease) = (state.clock.now(), state.lease());
    state
        .store
        .write(move |tx| db::renew_lease(tx, id, user.id, lease, now))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn release(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let now = state.clock.now();
    let who = actor(&user);
    state
        .store
        .write(move |tx| {
            db::release(tx, id, user.id, now)?;
            append(
                tx,
                &who,
                "release",
                "task",
                Some(&id.to_string()),
                "",
                now.timestamp(),
            )
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispositionBody {
    disposition: Disposition,
    #[serde(default)]
    callback_at: Option<DateTime<Utc>>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    call_id: Option<String>,
}

pub async fn disposition(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<DispositionBody>,
) -> Result<axum::Json<Value>, ApiError> {
    if body.note.as_ref().is_some_and(|n| n.len() > 10_000) {
        return Err(ApiError::invalid("note", "is longer than 10000 characters"));
    }
    let now = state.clock.now();
    let (policy, locale, who) = (state.config.retry.clone(), state.locale, actor(&user));
    let (scripts, tz) = (state.scripts.clone(), state.calendar.tz);
    let result = state
        .store
        .write(move |tx| {
            let input = DispositionInput {
                task_id: id,
                user_id: user.id,
                disposition: body.disposition,
                callback_at: body.callback_at,
                note: body.note.as_deref(),
                call_id: body.call_id.as_deref(),
            };
            match db::record_disposition(tx, &input, &policy, &locale, now) {
                Ok(task) => {
                    append(
                        tx,
                        &who,
                        "disposition",
                        "task",
                        Some(&id.to_string()),
                        body.disposition.as_str(),
                        now.timestamp(),
                    )?;
                    // the call summary with evidence (issue 18 item 5); a summary the
                    // evidence checker refuses is not saved, and the disposition stands
                    if body.disposition.as_str() == "completed" {
                        if let Err(e) =
                            crate::store::summaries::summarize_task(tx, id, &scripts, tz, now)?
                        {
                            tracing::warn!(task = id, "call summary not saved: {e}");
                        }
                    }
                    Ok(Ok(task))
                }
                Err(DispositionFailure::Rule(e)) => Ok(Err(e)),
                Err(DispositionFailure::Store(e)) => Err(e),
            }
        })
        .await?;
    match result {
        Ok(task) => Ok(axum::Json(json!({"task": task}))),
        Err(e @ (DispositionError::CallbackTimeMissing | DispositionError::CallbackInPast)) => {
            Err(ApiError::invalid("callback_at", e.to_string()))
        }
    }
}
