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

/// The body of `POST /tasks/{id}/scripts`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddScriptBody {
    /// The script's code (`chest-pain`).
    script: String,
}

/// `GET /tasks/{id}/scripts`: the task's own script, then those a nurse added.
pub async fn of_task(
    State(state): State<AppState>,
    ApiPath(task_id): ApiPath<i64>,
) -> Result<axum::Json<Value>, ApiError> {
    let items = state
        .store
        .read(move |c| crate::service::task_scripts::scripts_of_task(c, task_id))
        .await?;
    Ok(axum::Json(json!({ "items": items })))
}

/// `POST /tasks/{id}/scripts`: the nurse working the task adds a script to it (symptom triage on
/// a call-back: the chest-pain script); its answers autosave and escalate like the task's own.
pub async fn add_to_task(
    State(state): State<AppState>,
    super::session_user::CurrentUser(user): super::session_user::CurrentUser,
    ApiPath(task_id): ApiPath<i64>,
    super::error::ApiJson(body): super::error::ApiJson<AddScriptBody>,
) -> Result<axum::Json<Value>, ApiError> {
    let (now, catalog) = (state.clock.now(), state.scripts.clone());
    let added = state
        .store
        .write(move |tx| {
            // refusals travel out as values, storage errors as errors (which roll back)
            match crate::service::task_scripts::add_script(
                tx,
                &catalog,
                &user,
                task_id,
                &body.script,
                now,
            ) {
                Err(crate::service::ServiceError::Store(e)) => Err(e),
                other => Ok(other),
            }
        })
        .await??;
    Ok(axum::Json(json!({ "items": added })))
}
