//! Robot calls of a task (issue 24 item 6): each call's outcome and its per-question log —
//! when each prompt started and the answer came (ms into the call's recording), the keys, the
//! value taken, re-asks — for supervisors checking what the robot did.

use axum::extract::State;
use serde_json::{json, Value};

use super::error::{ApiError, ApiPath};
use super::AppState;
use crate::store::{robot as db, tasks};

/// `GET /tasks/{id}/robot-calls`.
pub async fn of_task(
    State(state): State<AppState>,
    ApiPath(task_id): ApiPath<i64>,
) -> Result<axum::Json<Value>, ApiError> {
    let now = state.clock.now();
    let items = state
        .store
        .read(move |c| {
            tasks::get_task(c, task_id, now)?;
            db::calls_of_task(c, task_id)
        })
        .await?;
    Ok(axum::Json(json!({ "items": items })))
}
