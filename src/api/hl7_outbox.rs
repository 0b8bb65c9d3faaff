//! The results outbox for admins (issue 17 item 5): what went to the EMR, what waits and why,
//! what the EMR refused, and queueing a refused result again once its cause is fixed.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::error::{ApiError, ApiPath, ApiQuery};
use super::hl7::ListQuery;
use super::session_user::CurrentUser;
use super::{actor, AppState};
use crate::store::audit::append;
use crate::store::hl7_outbox as db;
use crate::store::StoreError;

/// `GET /api/v1/hl7/outbox?status=rejected`: the newest results with their state, and counts.
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    q.check(&["queued", "delivered", "rejected"])?;
    let (items, counts) = state
        .store
        .read(move |c| Ok((db::list(c, q.status.as_deref(), q.limit)?, db::counts(c)?)))
        .await?;
    Ok(Json(json!({
        "enabled": state.config.hl7.results.enabled(),
        "target": state.config.hl7.results.target.map(|t| t.to_string()),
        "counts": counts,
        "items": items,
    })))
}

/// `POST /api/v1/hl7/outbox/{id}/requeue`: sends a refused (or waiting) result at once (audited).
pub async fn requeue(
    State(state): State<AppState>,
    CurrentUser(admin): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let (who, now) = (actor(&admin), state.clock.now());
    state
        .store
        .write(move |tx| {
            if !db::requeue(tx, id, now)? {
                return Err(StoreError::Conflict(format!(
                    "outbox row {id} is not queued or rejected"
                )));
            }
            append(
                tx,
                &who,
                "hl7_outbox_requeue",
                "hl7_outbox",
                Some(&id.to_string()),
                "",
                now.timestamp(),
            )
        })
        .await?;
    Ok(Json(json!({ "id": id, "status": "queued" })))
}
