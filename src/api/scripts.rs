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

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateBody {
    /// The script file's TOML text.
    toml: String,
}

/// `POST /scripts/validate`: checks a script's TOML text the way start-up loads it (nothing is
/// saved); lists every error with its line, so an admin can fix a draft before deploying it.
pub async fn validate(
    super::error::ApiJson(body): super::error::ApiJson<ValidateBody>,
) -> Result<axum::Json<Value>, ApiError> {
    if body.toml.len() > 512 * 1024 {
        return Err(ApiError::invalid("toml", "is larger than 512 KiB"));
    }
    let path = std::path::Path::new("draft.toml");
    Ok(axum::Json(
        match crate::followup::script::load_str(path, &body.toml) {
            Ok(s) => json!({"ok": true, "errors": [], "code": s.code, "version": s.version,
                "questions": s.questions.len(), "rules": s.rules.len()}),
            Err(errors) => json!({"ok": false, "errors": errors.iter()
                .map(|e| json!({"line": e.line, "message": e.kind.to_string()}))
                .collect::<Vec<_>>()}),
        },
    ))
}
