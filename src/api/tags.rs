//! Patient tags (issue 20 item 6): list them with where they came from, and let staff take one
//! off (audited). A rule's tag taken off stays off until the rule fires on a new or changed
//! answer (`followup::tag::decide`).

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{json, Value};

use super::error::{ApiError, ApiPath};
use super::session_user::CurrentUser;
use super::{actor, AppState};
use crate::store::audit::append;
use crate::store::tags as db;

/// Longest stored tag (`followup::patient` allows 64 characters for manual tags).
const MAX_TAG_CHARS: usize = 64;

/// Checks a tag named in a URL or query: any stored tag (`icd10:I50`, `fluid-overload-risk`).
pub fn checked_tag(tag: &str) -> Result<String, ApiError> {
    let tag = tag.trim();
    if tag.is_empty() || tag.chars().count() > MAX_TAG_CHARS {
        return Err(ApiError::invalid("tag", "tags are 1 to 64 characters"));
    }
    Ok(tag.to_owned())
}

/// `GET /patients/{id}/tags`: the active tags with their source (rule, answer).
pub async fn of_patient(
    State(state): State<AppState>,
    ApiPath(patient_id): ApiPath<i64>,
) -> Result<axum::Json<Value>, ApiError> {
    let items = state
        .store
        .read(move |c| {
            crate::store::patients::get_patient(c, patient_id)?;
            db::of_patient(c, patient_id)
        })
        .await?;
    Ok(axum::Json(json!({"items": items})))
}

/// `DELETE /patients/{id}/tags/{tag}`: a staff member takes the tag off (audited).
pub async fn remove(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath((patient_id, tag)): ApiPath<(i64, String)>,
) -> Result<StatusCode, ApiError> {
    let tag = checked_tag(&tag)?;
    let (who, now, uid) = (actor(&user), state.clock.now(), user.id);
    state
        .store
        .write(move |tx| {
            let source = db::remove(tx, patient_id, &tag, uid, now)?;
            append(
                tx,
                &who,
                "remove_tag",
                "patient",
                Some(&patient_id.to_string()),
                &format!("tag={tag} source={}", source.as_str()),
                now.timestamp(),
            )
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
