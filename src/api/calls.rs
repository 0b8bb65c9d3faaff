//! Calls: a nurse dials a task's patient, controls the live call (hang up, DTMF, mute, hold,
//! transfer), supervisors monitor; everyone reads call rows and their logs.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::session_user::CurrentUser;
use super::AppState;
use crate::store::calls as db;
use crate::telephony::center::{CallCenterError, CallCommand};
use crate::telephony::routing::{Contact, DialRefusal};
use crate::telephony::MonitorMode;

impl From<CallCenterError> for ApiError {
    fn from(e: CallCenterError) -> ApiError {
        let message = e.to_string();
        match e {
            CallCenterError::Disabled => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "telephony_off", message)
            }
            CallCenterError::NoSuchCall(id) => ApiError::not_found(format!("live call {id}")),
            CallCenterError::Refused(DialRefusal::NoTask(id)) => {
                ApiError::not_found(format!("task {id}"))
            }
            CallCenterError::Refused(DialRefusal::NoPatient(id)) => {
                ApiError::not_found(format!("patient {id}"))
            }
            CallCenterError::Refused(DialRefusal::Store(s)) | CallCenterError::Store(s) => s.into(),
            // a refusal for the patient's sake has its own code (the socket sends the same)
            ref refused @ CallCenterError::Refused(
                DialRefusal::OutsideCallingHours { .. } | DialRefusal::DoNotCall,
            ) => ApiError::new(
                StatusCode::CONFLICT,
                refused.refusal_code().unwrap_or("conflict"),
                message,
            ),
            CallCenterError::Refused(_) | CallCenterError::Conflict(_) => {
                ApiError::conflict(message)
            }
            CallCenterError::Invalid { field, message } => ApiError::invalid(field, message),
            CallCenterError::NotYourCall => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
            }
            CallCenterError::Sip(_) => ApiError::new(StatusCode::BAD_GATEWAY, "sip", message),
            CallCenterError::Stopped => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "stopping", message)
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialBody {
    /// Which of the patient's numbers; default: the one the retry policy picked.
    #[serde(default)]
    pub contact: Option<Contact>,
}

/// The `contact` of a dial request; an empty body is allowed (dial the number the retry
/// policy picked, or the patient's primary number).
fn requested_contact(body: &[u8]) -> Result<Option<Contact>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice::<DialBody>(body)
        .map(|b| b.contact)
        .map_err(|e| ApiError::invalid("body", e.to_string()))
}

/// `POST /api/v1/tasks/{id}/call`: dial the task's patient and bridge to the caller's line.
pub async fn dial(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(task_id): ApiPath<i64>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let contact = requested_contact(&body)?;
    let call = state
        .calls
        .command(user, None, CallCommand::Dial { task_id, contact })
        .await?;
    Ok((StatusCode::CREATED, Json(json!(call))))
}

/// `POST /api/v1/patients/{id}/call`: a doctor (or supervisor) calls a patient outside the
/// queue, e.g. about an escalation; audited, bridged to the caller's line like any call.
pub async fn dial_patient(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(patient_id): ApiPath<i64>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let contact = requested_contact(&body)?;
    let call = state
        .calls
        .command(
            user,
            None,
            CallCommand::DialPatient {
                patient_id,
                contact,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(json!(call))))
}

async fn command(
    state: &AppState,
    user: crate::store::users::User,
    call_id: String,
    command: CallCommand,
) -> Result<Json<Value>, ApiError> {
    let call = state.calls.command(user, Some(call_id), command).await?;
    Ok(Json(json!(call)))
}

pub async fn hangup(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    command(&state, user, id, CallCommand::Hangup).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DtmfBody {
    pub digits: String,
}

pub async fn dtmf(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<DtmfBody>,
) -> Result<Json<Value>, ApiError> {
    command(&state, user, id, CallCommand::Dtmf(body.digits)).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MuteBody {
    pub muted: bool,
}

pub async fn mute(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<MuteBody>,
) -> Result<Json<Value>, ApiError> {
    command(&state, user, id, CallCommand::Mute(body.muted)).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldBody {
    pub held: bool,
}

pub async fn hold(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<HoldBody>,
) -> Result<Json<Value>, ApiError> {
    command(&state, user, id, CallCommand::Hold(body.held)).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    pub user_id: i64,
}

pub async fn transfer(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<TransferBody>,
) -> Result<Json<Value>, ApiError> {
    command(
        &state,
        user,
        id,
        CallCommand::Transfer {
            to_user: body.user_id,
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorBody {
    /// `listen`, `whisper`, `barge`, or `null` to stop.
    pub mode: Option<MonitorMode>,
}

/// `POST /api/v1/calls/{id}/monitor`: a supervisor listens, whispers or barges (audited);
/// a doctor may barge (join as third party).
pub async fn monitor(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<MonitorBody>,
) -> Result<Json<Value>, ApiError> {
    let cmd = match body.mode {
        Some(mode) => CallCommand::Monitor(mode),
        None => CallCommand::StopMonitor,
    };
    command(&state, user, id, cmd).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    pub live: bool,
    pub patient_id: Option<i64>,
    pub limit: Option<i64>,
}

/// `GET /api/v1/calls?live=true|patient_id=N`.
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let calls = state
        .store
        .read(move |conn| db::list(conn, q.live, q.patient_id, limit))
        .await?;
    Ok(Json(json!({ "items": calls })))
}

/// `GET /api/v1/calls/{id}`: the call, its recording and its log.
pub async fn get_one(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let found = state
        .store
        .read(move |conn| {
            let call = db::get(conn, &id)?;
            let events = match &call {
                Some(c) => db::events(conn, &c.id)?,
                None => Vec::new(),
            };
            Ok(call.map(|c| (c, events)))
        })
        .await?;
    let (call, events) = found.ok_or_else(|| ApiError::not_found("call"))?;
    let mut value = json!(call);
    value["events"] = json!(events);
    Ok(Json(value))
}

/// `GET /api/v1/telephony`: trunk and SIP status for the admin page.
pub async fn status(State(state): State<AppState>) -> Json<Value> {
    Json(json!(state.calls.status()))
}
