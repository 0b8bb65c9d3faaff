//! Account lifecycle for admins: disable or enable a user, reset a password, end all of a
//! user's sessions. Every change is audited (`store::accounts`); the ones that take access
//! away also end the user's sessions at once.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiJson, ApiPath};
use super::session_user::CurrentUser;
use super::{actor, AppState};
use crate::store::accounts;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Active {
    active: bool,
}

/// `PUT /api/v1/users/{id}/active`: `{"active": false}` disables (sessions end, her desk
/// phone is dropped), `true` enables again.
pub async fn set_active(
    State(state): State<AppState>,
    CurrentUser(admin): CurrentUser,
    ApiPath(user_id): ApiPath<i64>,
    ApiJson(body): ApiJson<Active>,
) -> Result<Json<Value>, ApiError> {
    let (who, now) = (actor(&admin), state.clock.now().timestamp());
    let user = state
        .store
        .write(move |tx| accounts::set_active(tx, &who, user_id, body.active, now))
        .await?;
    // the registrar only knows active users' extensions
    state.calls.agents_changed();
    state.events.sessions_ended();
    Ok(Json(json!({ "user": user })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    password: String,
}

/// `PUT /api/v1/users/{id}/password`: sets a new password and ends the user's sessions.
pub async fn reset_password(
    State(state): State<AppState>,
    CurrentUser(admin): CurrentUser,
    ApiPath(user_id): ApiPath<i64>,
    ApiJson(body): ApiJson<NewPassword>,
) -> Result<Json<Value>, ApiError> {
    let hash = super::admin::hashed(body.password).await?;
    let (who, now) = (actor(&admin), state.clock.now().timestamp());
    let ended = state
        .store
        .write(move |tx| accounts::reset_password(tx, &who, user_id, &hash, now))
        .await?;
    state.events.sessions_ended();
    Ok(Json(json!({ "user_id": user_id, "sessions_ended": ended })))
}

/// `DELETE /api/v1/users/{id}/sessions`: logs the user out everywhere.
pub async fn revoke_sessions(
    State(state): State<AppState>,
    CurrentUser(admin): CurrentUser,
    ApiPath(user_id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let (who, now) = (actor(&admin), state.clock.now().timestamp());
    let ended = state
        .store
        .write(move |tx| accounts::revoke_sessions(tx, &who, user_id, now))
        .await?;
    state.events.sessions_ended();
    Ok(Json(json!({ "user_id": user_id, "sessions_ended": ended })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetDiscipline {
    discipline: Option<String>,
}

/// `PUT /api/v1/users/{id}/discipline`: `{"discipline": "pharmacy"}` places a clinician in the
/// multidisciplinary team (what escalation routes and team-review sign-offs name); `null` clears
/// it. Audited.
pub async fn set_discipline(
    State(state): State<AppState>,
    CurrentUser(admin): CurrentUser,
    ApiPath(user_id): ApiPath<i64>,
    ApiJson(body): ApiJson<SetDiscipline>,
) -> Result<Json<Value>, ApiError> {
    let discipline = super::admin::known_discipline(&state, body.discipline.as_deref())?;
    let (who, now) = (actor(&admin), state.clock.now().timestamp());
    let user = state
        .store
        .write(move |tx| {
            crate::store::users::set_discipline(tx, user_id, discipline.as_ref())?;
            crate::store::audit::append(
                tx,
                &who,
                "set_discipline",
                "user",
                Some(&user_id.to_string()),
                &format!(
                    "discipline={}",
                    discipline.as_ref().map_or("none", |d| d.as_str())
                ),
                now,
            )?;
            crate::store::users::get_user(tx, user_id)
        })
        .await?;
    Ok(Json(json!({ "user": user })))
}
