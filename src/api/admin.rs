use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiJson};
use super::session_user::CurrentUser;
use super::{actor, AppState};
use crate::auth::password::{hash_password, PasswordError};
use crate::auth::role::Role;
use crate::followup::discipline::Discipline;
use crate::store::audit::{append, recent, verify};
use crate::store::users;

pub async fn health(State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    let version: u32 = state
        .store
        .read(|c| {
            Ok(c.query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )?)
        })
        .await?;
    Ok(axum::Json(
        json!({"status": "ok", "schema_version": version, "version": env!("CARGO_PKG_VERSION")}),
    ))
}

pub async fn list_users(State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    let items = state.store.read(users::list_users).await?;
    Ok(axum::Json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    username: String,
    display_name: String,
    role: Role,
    password: String,
    #[serde(default)]
    department: Option<String>,
    /// Who the user is in the multidisciplinary team (`pharmacy`); see `followup::discipline`.
    #[serde(default)]
    discipline: Option<String>,
}

/// A discipline code from a request, checked against the built-in list and the configured
/// extras; `None` stays `None`.
pub(super) fn known_discipline(
    state: &AppState,
    code: Option<&str>,
) -> Result<Option<Discipline>, ApiError> {
    code.map(|c| Discipline::parse_known(c, &state.config.clinical.disciplines))
        .transpose()
        .map_err(|e| ApiError::invalid("discipline", e.to_string()))
}

pub async fn create_user(
    State(state): State<AppState>,
    CurrentUser(admin): CurrentUser,
    ApiJson(body): ApiJson<NewUser>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    if !name_ok(&body.username) {
        return Err(ApiError::invalid(
            "username",
            "use 1–64 letters, digits, dot, dash or underscore",
        ));
    }
    if body.display_name.trim().is_empty() {
        return Err(ApiError::invalid("display_name", "is required"));
    }
    let discipline = known_discipline(&state, body.discipline.as_deref())?;
    let hash = hashed(body.password.clone()).await?;
    let now = state.clock.now().timestamp();
    let who = actor(&admin);
    let id = state
        .store
        .write(move |tx| {
            let id = users::create_user(
                tx,
                &body.username,
                &body.display_name,
                body.role,
                &hash,
                body.department.as_deref(),
                now,
            )?;
            if discipline.is_some() {
                users::set_discipline(tx, id, discipline.as_ref())?;
            }
            append(
                tx,
                &who,
                "create",
                "user",
                Some(&id.to_string()),
                &format!("role={}", body.role.as_str()),
                now,
            )?;
            Ok(id)
        })
        .await?;
    let user = state.store.read(move |c| users::get_user(c, id)).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"user": user}))))
}

pub async fn departments(State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    Ok(axum::Json(
        json!({"items": state.store.read(users::list_departments).await?}),
    ))
}

pub async fn audit_recent(State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    Ok(axum::Json(
        json!({"items": state.store.read(|c| recent(c, 200)).await?}),
    ))
}

/// The chain, and the anchor outside the database (rows deleted from the end).
pub async fn audit_verify(State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    let internal = |e: &dyn std::fmt::Display| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    };
    let anchor =
        crate::service::audit_anchor::open(&state.config, false).map_err(|e| internal(&e))?;
    let (report, check) = state
        .store
        .read(move |c| {
            let check = anchor.as_ref().map(|a| a.check(c));
            Ok((verify(c)?, check))
        })
        .await?;
    let check = match check {
        Some(c) => c.map_err(|e| internal(&e))?,
        None => crate::store::audit_anchor::AnchorCheck::Absent,
    };
    let mut body = json!(report);
    body["anchor"] = json!(check);
    Ok(axum::Json(body))
}

/// `GET /staff`: names and roles of active users, so consoles can say who an escalation went
/// to and who made a call without the admin-only user list.
pub async fn staff(State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    let items: Vec<Value> = state
        .store
        .read(users::list_users)
        .await?
        .into_iter()
        .filter(|u| u.active)
        .map(|u| json!({"id": u.id, "display_name": u.display_name, "role": u.role, "department": u.department, "discipline": u.discipline}))
        .collect();
    Ok(axum::Json(json!({"items": items})))
}

/// `password` hashed (argon2id) off the async threads; a password the policy refuses is a 422
/// naming the field.
pub(super) async fn hashed(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(|e| match e {
            PasswordError::TooShort | PasswordError::TooLong => {
                ApiError::invalid("password", e.to_string())
            }
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                other.to_string(),
            ),
        })
}
