use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiJson};
use super::session_user::{session_token, CurrentUser, SESSION_COOKIE};
use super::AppState;
use crate::auth::client_ip::client_ip;
use crate::auth::password::{dummy_hash, verify_password, MAX_PASSWORD_BYTES};
use crate::auth::{new_session_token, token_hash};
use crate::store::audit::{append, Actor};
use crate::store::users::{create_session, delete_session, user_for_login};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    username: String,
    password: String,
}

/// The client's address: the peer, or what a trusted proxy says in `X-Forwarded-For`
/// ([`crate::auth::client_ip`]). "unknown" when the server runs without connect info (unit
/// tests driving the router directly).
pub struct ClientIp(pub String);

impl axum::extract::FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|c| {
                let forwarded = parts
                    .headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .filter_map(|v| v.to_str().ok());
                client_ip(c.0.ip(), forwarded, &state.trusted_proxies).to_string()
            });
        Ok(ClientIp(ip.unwrap_or_else(|| "unknown".into())))
    }
}

/// Longest username a login considers (user names are created with at most 64 characters).
const MAX_USERNAME_CHARS: usize = 64;

pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Login>,
) -> Result<Response, ApiError> {
    // Refused before anything is looked up or hashed: no name is that long, and a huge
    // password would make each guess cost the server more than the guesser.
    if body.username.chars().count() > MAX_USERNAME_CHARS {
        return Err(ApiError::invalid(
            "username",
            format!("at most {MAX_USERNAME_CHARS} characters"),
        ));
    }
    if body.password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::invalid(
            "password",
            format!("at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    let now = state.clock.now();
    let keys = [format!("user:{}", body.username), format!("ip:{ip}")];
    // Counted as a failure now, given back if the password is right: concurrent guesses
    // cannot all pass the check before the first of them is counted.
    let reservation = state
        .login_limiter
        .lock()
        .map_err(|_| ApiError::forbidden())?
        .reserve(&keys, now)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "too many failed logins; wait {} minutes",
                    state.config.auth.login_window_minutes
                ),
            )
        })?;
    let username = body.username.clone();
    let found = state
        .store
        .read(move |c| user_for_login(c, &username))
        .await?;
    let password = body.password;
    // At most `auth.max_concurrent_verifications` argon2 runs at once; the rest queue here.
    let (user, ok) = state
        .verifications
        .run(move || match found {
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
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    let t = now.timestamp();
    let Some(user) = user.filter(|_| ok) else {
        // the reservation stays: this failure is already counted
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
        limiter.succeeded(reservation);
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
        state.events.sessions_ended();
    }
    let clear = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok(([(header::SET_COOKIE, clear)], StatusCode::NO_CONTENT).into_response())
}

pub async fn me(CurrentUser(user): CurrentUser) -> axum::Json<serde_json::Value> {
    axum::Json(json!({"user": user}))
}
