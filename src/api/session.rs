use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::access::{session_token, CurrentUser, SESSION_COOKIE};
use super::error::{ApiError, ApiJson};
use super::AppState;
use crate::auth::password::{dummy_hash, verify_password};
use crate::auth::{new_session_token, token_hash};
use crate::store::audit::{append, Actor};
use crate::store::users::{create_session, delete_session, user_for_login};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    username: String,
    password: String,
}

/// The client's address when the server runs with connect info (it does in production; unit
/// tests driving the router directly have none).
pub struct ClientIp(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        Ok(ClientIp(ip.unwrap_or_else(|| "unknown".into())))
    }
}

pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Login>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let keys = [format!("user:{}", body.username), format!("ip:{ip}")];
    {
        let mut limiter = state
            .login_limiter
            .lock()
            .map_err(|_| ApiError::forbidden())?;
        if keys.iter().any(|k| !limiter.allowed(k, now)) {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "too many failed logins; wait {} minutes",
                    state.config.auth.login_window_minutes
                ),
            ));
        }
    }
    let username = body.username.clone();
    let found = state
        .store
        .read(move |c| user_for_login(c, &username))
        .await?;
    let password = body.password;
    let (user, ok) = tokio::task::spawn_blocking(move || match found {
        Some((user, hash)) => {
            let ok = verify_password(&password, &hash) && user.active;
            (Some(user), ok)
        }
        None => {
            verify_password(&password, dummy_hash());
            (None, false)
        }
    })
    .await
    .map_err(|_| ApiError::forbidden())?;
    let t = now.timestamp();
    let Some(user) = user.filter(|_| ok) else {
        if let Ok(mut limiter) = state.login_limiter.lock() {
            keys.iter().for_each(|k| limiter.record_failure(k, now));
        }
        let name = body.username.clone();
        state
            .store
            .write(move |tx| {
                append(
                    tx,
                    &Actor::system("auth"),
                    "login_failed",
                    "user",
                    Some(&name),
                    &format!("ip={ip}"),
                    t,
                )
            })
            .await?;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "wrong username or password",
        ));
    };
    if let Ok(mut limiter) = state.login_limiter.lock() {
        keys.iter().for_each(|k| limiter.record_success(k));
    }
    let token = new_session_token();
    let hash = token_hash(&token);
    let expires = t + state.config.http.session_hours * 3600;
    let actor = super::actor(&user);
    state
        .store
        .write(move |tx| {
            create_session(tx, &hash, actor.id.unwrap_or_default(), t, expires)?;
            append(
                tx,
                &actor,
                "login",
                "user",
                actor.id.map(|i| i.to_string()).as_deref(),
                &format!("ip={ip}"),
                t,
            )
        })
        .await?;
    let secure = if state.config.http.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        state.config.http.session_hours * 3600
    );
    Ok((
        [(header::SET_COOKIE, cookie)],
        axum::Json(json!({"user": user})),
    )
        .into_response())
}

pub async fn logout(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let t = state.clock.now().timestamp();
    if let Some(token) = session_token(&headers) {
        let hash = token_hash(&token);
        let actor = super::actor(&user);
        state
            .store
            .write(move |tx| {
                delete_session(tx, &hash)?;
                append(
                    tx,
                    &actor,
                    "logout",
                    "user",
                    Some(&user.id.to_string()),
                    "",
                    t,
                )
            })
            .await?;
    }
    let clear = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok(([(header::SET_COOKIE, clear)], StatusCode::NO_CONTENT).into_response())
}

pub async fn me(CurrentUser(user): CurrentUser) -> axum::Json<serde_json::Value> {
    axum::Json(json!({"user": user}))
}
