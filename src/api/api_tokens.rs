//! API tokens for system clients, managed by admins (issue 17 item 6): create (the secret is
//! shown once), list, revoke. Every change is audited.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiJson, ApiPath};
use super::session_user::CurrentUser;
use super::{actor, AppState};
use crate::fhir::Scopes;
use crate::store::api_tokens as db;
use crate::store::audit::append;
use crate::store::StoreError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    /// FHIR resource types, space-separated, or `*`.
    scopes: String,
}

/// `GET /api/v1/api-tokens`
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let items = state.store.read(db::list).await?;
    Ok(Json(json!({ "items": items })))
}

/// `POST /api/v1/api-tokens`: `{"name", "scopes": "Patient Observation"}` → the token and its
/// secret (shown this once).
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(admin): CurrentUser,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let scopes = Scopes::parse(&body.scopes).map_err(|e| ApiError::invalid("scopes", e))?;
    let (who, by, now) = (actor(&admin), admin.username.clone(), state.clock.now());
    let (token, secret) = state
        .store
        .write(move |tx| {
            let (token, secret) = db::create(tx, &body.name, &scopes, &by, now)?;
            append(
                tx,
                &who,
                "create",
                "api_token",
                Some(&token.id.to_string()),
                &format!("name={} scopes={}", token.name, token.scopes),
                now.timestamp(),
            )?;
            Ok((token, secret))
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "token": token, "secret": secret })),
    ))
}

/// `DELETE /api/v1/api-tokens/{id}`: revoked at once.
pub async fn revoke(
    State(state): State<AppState>,
    CurrentUser(admin): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let (who, now) = (actor(&admin), state.clock.now());
    let token = state
        .store
        .write(move |tx| {
            if !db::revoke(tx, id, now)? {
                return Err(StoreError::Conflict(format!(
                    "API token {id} does not exist or is already revoked"
                )));
            }
            append(
                tx,
                &who,
                "revoke",
                "api_token",
                Some(&id.to_string()),
                "",
                now.timestamp(),
            )?;
            db::get(tx, id)
        })
        .await?;
    Ok(Json(json!({ "token": token })))
}
