//! The HL7 interface for admins: what came in, what failed and why, and a replay once the
//! cause is fixed (issue 17 item 2: a failed message is kept for an admin to fix and replay).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiPath, ApiQuery};
use super::session_user::CurrentUser;
use super::{actor, AppState};
use crate::service::hl7::Hl7Service;
use crate::store::audit::append;
use crate::store::hl7 as db;

/// `?status=…&limit=…` of the HL7 lists (messages in, results out).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default = "default_limit")]
    pub limit: i64,
}

fn default_limit() -> i64 {
    100
}

impl ListQuery {
    /// Refuses a limit outside 1..=1000 and a status that is not one of `statuses`.
    pub fn check(&self, statuses: &[&str]) -> Result<(), ApiError> {
        if !(1..=1000).contains(&self.limit) {
            return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
        }
        match self.status.as_deref() {
            Some(s) if !statuses.contains(&s) => {
                let (last, rest) = statuses.split_last().unwrap_or((&"", &[]));
                Err(ApiError::invalid(
                    "status",
                    format!("is {} or {last}", rest.join(", ")),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// `GET /api/v1/hl7/messages?status=failed`: the newest messages with their outcome.
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    q.check(&["applied", "failed", "rejected"])?;
    let items = state
        .store
        .read(move |c| db::list(c, q.status.as_deref(), q.limit))
        .await?;
    Ok(Json(json!({ "items": items })))
}

/// `POST /api/v1/hl7/messages/{id}/replay`: processes a stored message again, as if it had
/// just arrived (audited). One applied before stays applied once.
pub async fn replay(
    State(state): State<AppState>,
    CurrentUser(admin): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let service = Hl7Service::new(
        &state.config,
        state.store.clone(),
        state.clock,
        state.pathways.clone(),
        state.scripts.clone(),
        state.calendar.clone(),
        state.events.clone(),
    )
    .map_err(|e| ApiError::invalid("hl7", e.to_string()))?;
    let ack = service.replay(id, &admin.username).await?;
    let (who, now) = (actor(&admin), state.clock.now().timestamp());
    let row = state
        .store
        .write(move |tx| {
            let row = db::get(tx, id)?;
            append(
                tx,
                &who,
                "hl7_replay",
                "hl7_message",
                Some(&id.to_string()),
                &format!("status={} ack={}", row.status, row.ack_code),
                now,
            )?;
            Ok(row)
        })
        .await?;
    Ok(Json(json!({ "message": row, "ack": ack })))
}
