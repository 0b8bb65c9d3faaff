//! Agents' SIP desk phones: admins set an agent's extension and SIP password (only digest
//! hashes are stored, audited), supervisors and admins see extensions and registered phones.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiJson, ApiPath};
use super::session_user::CurrentUser;
use super::{actor, AppState};
use crate::auth::password::verify_password;
use crate::sip::registrar::Ha1;
use crate::store::agents;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipCredentials {
    extension: String,
    password: String,
}

/// Checks a SIP password and that it is not the user's login password (a desk phone keeps
/// its password in its settings; the console login must not be recoverable from it).
pub(crate) fn differs_from_login(password: &str, login_hash: &str) -> Result<(), String> {
    if verify_password(password, login_hash) {
        return Err("password: must differ from the user's login password".into());
    }
    Ok(())
}

/// `PUT /api/v1/users/{id}/sip`: set an agent's extension and SIP password.
pub async fn set(
    State(state): State<AppState>,
    CurrentUser(admin): CurrentUser,
    ApiPath(user_id): ApiPath<i64>,
    ApiJson(body): ApiJson<SipCredentials>,
) -> Result<Json<Value>, ApiError> {
    agents::check_extension(&body.extension)?;
    agents::check_sip_password(&body.password)?;
    let hash = state
        .store
        .read(move |c| agents::login_hash(c, user_id))
        .await?;
    let password = body.password.clone();
    tokio::task::spawn_blocking(move || differs_from_login(&password, &hash))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(|m| ApiError::invalid("password", m.trim_start_matches("password: ")))?;
    let realm = state.config.sip.registrar_realm.clone();
    let ha1 = Ha1::compute(&body.extension, &realm, &body.password);
    let (who, now, ext) = (actor(&admin), state.clock.now().timestamp(), body.extension);
    let r = realm.clone();
    let e = ext.clone();
    state
        .store
        .write(move |tx| agents::set_extension(tx, &who, user_id, &e, &r, &ha1, now))
        .await?;
    state.calls.agents_changed();
    Ok(Json(
        json!({"user_id": user_id, "extension": ext, "realm": realm}),
    ))
}

/// `DELETE /api/v1/users/{id}/sip`: remove an agent's extension (her phone is unregistered).
pub async fn remove(
    State(state): State<AppState>,
    CurrentUser(admin): CurrentUser,
    ApiPath(user_id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let (who, now) = (actor(&admin), state.clock.now().timestamp());
    let removed = state
        .store
        .write(move |tx| agents::remove_extension(tx, &who, user_id, now))
        .await?;
    if !removed {
        return Err(ApiError::not_found(format!(
            "SIP extension of user {user_id}"
        )));
    }
    state.calls.agents_changed();
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/telephony/extensions`: every agent's extension (never the hashes).
pub async fn extensions(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({"items": state.store.read(agents::extensions).await?}),
    ))
}

/// `GET /api/v1/telephony/registrations`: registered desk phones — agent, extension, contact,
/// source address, transport, expiry, user agent.
pub async fn registrations(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let now = state.clock.now().timestamp();
    let items = state
        .store
        .read(move |c| agents::registrations(c, now))
        .await?;
    Ok(Json(json!({"items": items})))
}
