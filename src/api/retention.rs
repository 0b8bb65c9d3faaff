//! Recording retention over HTTP: a deleted recording answers 410 Gone with when and why, and
//! supervisors/admins can put a recording on hold (a complaint, an incident review) so the
//! retention policy keeps it whatever its age.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{TimeZone, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiJson, ApiPath};
use super::session_user::CurrentUser;
use super::{actor, AppState};
use crate::store::retention::{self as db, RetentionState};

/// Longest hold reason kept (it is shown in lists and the audit log).
const MAX_REASON_CHARS: usize = 500;

/// `Ok` while recording `id`'s audio exists; 410 Gone once retention deleted it.
pub async fn ensure_audio_kept(state: &AppState, id: i64) -> Result<(), ApiError> {
    let st = state.store.read(move |c| db::state(c, id)).await?;
    match st.purged_at {
        None => Ok(()),
        Some(at) => {
            let when = Utc
                .timestamp_opt(at, 0)
                .single()
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| at.to_string());
            Err(ApiError::new(
                StatusCode::GONE,
                "recording_purged",
                format!(
                    "recording {id}'s audio was deleted on {when} by the retention policy ({} days); \
                     its transcript, checksum and call record are kept",
                    state.config.recordings.retention_days
                ),
            ))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldBody {
    reason: String,
}

fn view(id: i64, st: RetentionState) -> Value {
    json!({
        "recording_id": id,
        "purged_at": st.purged_at.and_then(|t| Utc.timestamp_opt(t, 0).single()),
        "hold_reason": st.hold_reason,
        "hold_by": st.hold_by,
    })
}

/// `PUT /recordings/{id}/hold`: keep this recording whatever the retention policy says.
pub async fn hold(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<HoldBody>,
) -> Result<axum::Json<Value>, ApiError> {
    let reason = body.reason.trim().to_string();
    if reason.is_empty() {
        return Err(ApiError::invalid(
            "reason",
            "say why the recording is kept (e.g. the complaint or incident number)",
        ));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::invalid(
            "reason",
            format!("at most {MAX_REASON_CHARS} characters"),
        ));
    }
    let now = state.clock.now().timestamp();
    let who = actor(&user);
    let st = state
        .store
        .write(move |tx| db::set_hold(tx, &who, id, Some(&reason), now))
        .await?;
    Ok(axum::Json(view(id, st)))
}

/// `DELETE /recordings/{id}/hold`: the recording follows the retention policy again.
pub async fn release(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<axum::Json<Value>, ApiError> {
    let now = state.clock.now().timestamp();
    let who = actor(&user);
    let st = state
        .store
        .write(move |tx| db::set_hold(tx, &who, id, None, now))
        .await?;
    Ok(axum::Json(view(id, st)))
}
