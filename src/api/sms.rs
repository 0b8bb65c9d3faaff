//! SMS: Kannel's callbacks (delivery reports on the `dlr-url`, patients' SMS on smsbox's
//! `get-url`) and the staff's calls (send a task's link by hand, a patient's SMS and links).
//! A callback is believed only with the configured secret in its URL *and* from an allowed
//! network (`sms.callback_allow`, loopback by default): anyone else gets 403 and nothing is
//! stored.

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiPath, ApiQuery};
use super::session_user::CurrentUser;
use super::AppState;
use crate::followup::sms::MessageKind;
use crate::service::sms::{self as svc, LinkError, LinkSettings};
use crate::store::sms::ReportOutcome;

pub fn callbacks() -> Router<AppState> {
    Router::new()
        .route("/sms/kannel/dlr", get(dlr))
        .route("/sms/kannel/inbound", get(inbound).post(inbound))
}

/// The connection's peer address (none when the router runs without connect info).
pub struct Peer(Option<std::net::SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

/// Same bytes, in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Refuses a callback not from Kannel: wrong or missing key, or a peer outside the allowed
/// networks (the peer address itself: a callback is never believed through `X-Forwarded-For`).
fn from_kannel(
    state: &AppState,
    peer: Option<std::net::SocketAddr>,
    key: &str,
) -> Result<(), ApiError> {
    let refused = |why: &str| {
        tracing::warn!(peer = ?peer, "SMS callback refused: {why}");
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "not an SMS gateway callback",
        )
    };
    let secret = &state.config.sms.callback_secret;
    if secret.is_empty() || !same(secret, key) {
        return Err(refused("wrong key"));
    }
    let allowed = state
        .config
        .sms
        .allowed()
        .map_err(|_| refused("bad allow list"))?;
    let ip = peer
        .map(|p| p.ip())
        .ok_or_else(|| refused("no peer address"))?;
    if !allowed.iter().any(|net| net.contains(&ip)) {
        return Err(refused("address not allowed"));
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct DlrQuery {
    #[serde(default)]
    key: String,
    msg: Option<String>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    answer: String,
}

/// `GET /sms/kannel/dlr?key=…&msg=<id>&status=%d&answer=%A`.
async fn dlr(
    State(state): State<AppState>,
    Peer(peer): Peer,
    ApiQuery(q): ApiQuery<DlrQuery>,
) -> Result<Response, ApiError> {
    from_kannel(&state, peer, &q.key)?;
    let id: i64 = q
        .msg
        .as_deref()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| ApiError::invalid("msg", "must be a message id"))?;
    if q.status.len() > 4 {
        return Err(ApiError::invalid("status", "is not a Kannel report code"));
    }
    let now = state.clock.now();
    let (code, answer) = (q.status, q.answer);
    let outcome = state
        .store
        .write(move |tx| svc::apply_report(tx, id, &code, &answer, now))
        .await?;
    match outcome {
        ReportOutcome::Unknown => Err(ApiError::not_found(format!("SMS message {id}"))),
        ReportOutcome::Moved(from, to) => {
            tracing::info!(
                message = id,
                from = from.as_str(),
                to = to.as_str(),
                "SMS delivery report"
            );
            Ok((StatusCode::OK, "ok").into_response())
        }
        ReportOutcome::Kept(_) => Ok((StatusCode::OK, "ok").into_response()),
    }
}

#[derive(Deserialize)]
pub struct InboundQuery {
    #[serde(default)]
    key: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    text: String,
}

/// `GET /sms/kannel/inbound?key=…&from=%p&text=%a` (smsbox `get-url`, `mo-recode = true` so
/// Chinese arrives as UTF-8). The answer body is empty: with `max-messages = 0` in the
/// sms-service, Kannel sends nothing back to the patient either way.
async fn inbound(
    State(state): State<AppState>,
    Peer(peer): Peer,
    ApiQuery(q): ApiQuery<InboundQuery>,
) -> Result<Response, ApiError> {
    from_kannel(&state, peer, &q.key)?;
    if q.from.trim().is_empty() {
        return Err(ApiError::invalid("from", "is required"));
    }
    if q.text.len() > 8192 {
        return Err(ApiError::invalid("text", "is longer than any SMS"));
    }
    let now = state.clock.now();
    let cc = state.config.sms.country_code.clone();
    let (from, text) = (q.from, q.text);
    let outcome = state
        .store
        .write(move |tx| svc::receive(tx, &from, &text, &cc, now))
        .await?;
    if let svc::Inbound::Attached(patients) = &outcome {
        for &p in patients {
            state.events.publish(crate::events::LiveEvent {
                name: "sms.reply".into(),
                audience: crate::events::Audience::Roles(vec![
                    crate::auth::role::Role::Nurse,
                    crate::auth::role::Role::Supervisor,
                ]),
                data: json!({"patient_id": p}),
            });
        }
    }
    tracing::info!(?outcome, "SMS from a patient");
    Ok((StatusCode::OK, "").into_response())
}

/// `POST /api/v1/tasks/{id}/sms-link`: a nurse sends the task's link now (a new link; earlier
/// ones of the task stop working).
pub async fn send_link(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(task_id): ApiPath<i64>,
) -> Result<(StatusCode, axum::Json<serde_json::Value>), ApiError> {
    let now = state.clock.now();
    let settings = LinkSettings::new(&state.config.sms, &state.config.hospital.name);
    let by = super::actor(&user);
    let sent = state
        .store
        .write(move |tx| {
            match svc::send_link(tx, &settings, task_id, MessageKind::Link, &by, now) {
                Ok(s) => Ok(Ok(s)),
                Err(LinkError::Store(e)) => Err(e),
                Err(other) => Ok(Err(other)),
            }
        })
        .await?
        .map_err(|e| match e {
            LinkError::NoTask(id) => ApiError::not_found(format!("task {id}")),
            other => ApiError::conflict(other.to_string()),
        })?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"sent": sent, "sending": state.config.sms.enabled()})),
    ))
}

/// `POST /api/v1/sms-links/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(link_id): ApiPath<i64>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let now = state.clock.now();
    let by = super::actor(&user);
    let revoked = state
        .store
        .write(move |tx| {
            if crate::store::links::by_id(tx, link_id)?.is_none() {
                return Err(crate::store::StoreError::NotFound(format!(
                    "link {link_id}"
                )));
            }
            let revoked = crate::store::links::revoke(tx, link_id, now)?;
            crate::store::audit::append(
                tx,
                &by,
                "sms_link.revoke",
                "patient_link",
                Some(&link_id.to_string()),
                "",
                now.timestamp(),
            )?;
            Ok(revoked)
        })
        .await?;
    Ok(axum::Json(json!({"link_id": link_id, "revoked": revoked})))
}

/// `GET /api/v1/patients/{id}/sms`: links with their status, SMS in and out, opt-out.
pub async fn of_patient(
    State(state): State<AppState>,
    ApiPath(patient_id): ApiPath<i64>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let (links, messages, opted_out) = state
        .store
        .read(move |c| {
            Ok((
                crate::store::links::of_patient(c, patient_id)?,
                crate::store::sms::of_patient(c, patient_id)?,
                crate::store::sms::is_opted_out(c, patient_id)?,
            ))
        })
        .await?;
    Ok(axum::Json(
        json!({"patient_id": patient_id, "opted_out": opted_out, "links": links, "messages": messages}),
    ))
}
