use axum::extract::State;
use serde_json::{json, Value};

use super::error::{ApiError, ApiPath};
use super::AppState;

pub async fn list(State(state): State<AppState>) -> axum::Json<Value> {
    let items: Vec<Value> = state
        .scripts
        .iter()
        .map(|s| json!({"code": s.code, "version": s.version, "title": s.title, "questions": s.questions.len(), "rules": s.rules.len()}))
        .collect();
    axum::Json(json!({"items": items}))
}

pub async fn get_one(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let script = state
        .scripts
        .get(&code)
        .ok_or_else(|| ApiError::not_found(format!("script {code}")))?;
    Ok(axum::Json(json!(script)))
}
