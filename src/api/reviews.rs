//! Team reviews (issue 20 item 4): open the review of a team-review task, read its agenda,
//! sign a discipline's assessment, record actions, close. Rules live in `followup::review`,
//! state in `store::reviews`, the agenda in `store::review_agenda`; every change is audited in
//! the transaction that makes it.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::session_user::CurrentUser;
use super::{actor, AppState};
use crate::followup::review::{ReviewAction, ReviewError};
use crate::store::audit::append;
use crate::store::review_agenda::agenda as build_agenda;
use crate::store::reviews::{self as db, Signature};

/// The team's rule refused the change: say which rule, with the status that fits.
fn refused(e: ReviewError) -> ApiError {
    let message = e.to_string();
    match e {
        ReviewError::Closed => ApiError::new(StatusCode::CONFLICT, "review_closed", message),
        ReviewError::Unsigned(_) => ApiError::new(StatusCode::CONFLICT, "unsigned", message),
        ReviewError::AlreadySigned(_) => {
            ApiError::new(StatusCode::CONFLICT, "already_signed", message)
        }
        ReviewError::NoDiscipline
        | ReviewError::NurseNotNursing(_)
        | ReviewError::RoleCannotSign
        | ReviewError::NotInReview(..) => {
            ApiError::new(StatusCode::FORBIDDEN, "cannot_sign", message)
        }
        ReviewError::InDays => ApiError::invalid("in_days", message),
    }
}

/// `POST /api/v1/tasks/{id}/review`: the review of this team-review task, opened now if the
/// team has not started it (audited when opened).
pub async fn open(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(task_id): ApiPath<i64>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (now, who, scripts) = (state.clock.now(), actor(&user), state.scripts.clone());
    let (review, created) = state
        .store
        .write(move |tx| {
            let (review, created) = db::open_for_task(tx, &scripts, task_id, user.id, now)?;
            if created {
                append(
                    tx,
                    &who,
                    "open",
                    "team_review",
                    Some(&review.id.to_string()),
                    &format!("task={task_id}"),
                    now.timestamp(),
                )?;
            }
            Ok((review, created))
        })
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!({ "review": review }))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `closed` lists closed reviews; anything else (default) the unclosed ones.
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    patient_id: Option<i64>,
}

/// `GET /api/v1/reviews`: unclosed reviews (`?status=closed`: closed ones), newest first.
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let closed = match q.status.as_deref() {
        None | Some("open") => false,
        Some("closed") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "status",
                format!("`{other}`: use open or closed"),
            ))
        }
    };
    let items = state
        .store
        .read(move |c| db::list(c, closed, q.patient_id))
        .await?;
    Ok(Json(json!({ "items": items })))
}

/// `GET /api/v1/reviews/{id}`: the review, its script (questions by discipline) and its agenda
/// built from the patient's record (audited: it shows the patient's answers and calls).
pub async fn get_one(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let (now, who, scripts) = (state.clock.now(), actor(&user), state.scripts.clone());
    let (review, agenda) = state
        .store
        .write(move |tx| {
            let review = db::get(tx, id)?;
            let agenda = build_agenda(tx, &scripts, review.patient_id, now)?;
            append(
                tx,
                &who,
                "view",
                "team_review",
                Some(&id.to_string()),
                &format!("patient={}", review.patient_id),
                now.timestamp(),
            )?;
            Ok((review, agenda))
        })
        .await?;
    let script = state.scripts.get(&review.script_code);
    Ok(Json(
        json!({ "review": review, "script": script, "agenda": agenda }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignBody {
    text: String,
    #[serde(default)]
    answers: BTreeMap<String, Value>,
}

/// Longest assessment text.
const MAX_TEXT: usize = 10_000;

/// `POST /api/v1/reviews/{id}/assessments`: signs the caller's discipline's assessment (doctors
/// with a discipline; nurses as nursing). Audited.
pub async fn sign(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<SignBody>,
) -> Result<Json<Value>, ApiError> {
    let text = body.text.trim().to_owned();
    if text.is_empty() {
        return Err(ApiError::invalid(
            "text",
            "write the assessment before signing",
        ));
    }
    if text.chars().count() > MAX_TEXT {
        return Err(ApiError::invalid(
            "text",
            format!("is longer than {MAX_TEXT} characters"),
        ));
    }
    let (now, who, scripts) = (state.clock.now(), actor(&user), state.scripts.clone());
    let signature = Signature {
        text,
        answers: body.answers,
    };
    let outcome = state
        .store
        .write(move |tx| {
            let r = db::sign(tx, &scripts, id, &user, signature, now)?;
            if r.is_ok() {
                append(
                    tx,
                    &who,
                    "sign",
                    "team_review",
                    Some(&id.to_string()),
                    &format!(
                        "discipline={}",
                        user.discipline.as_ref().map_or("none", |d| d.as_str())
                    ),
                    now.timestamp(),
                )?;
            }
            Ok(r)
        })
        .await?;
    let review = outcome.map_err(refused)?;
    Ok(Json(json!({ "review": review })))
}

/// `POST /api/v1/reviews/{id}/actions`: records and applies what the team decided
/// (`{"kind": "follow_up_task", "script", "role", "in_days", "assignee"}` or
/// `{"kind": "adjust_pathway", "task_id", "change": {"op": "postpone", "days"}}`). Audited.
pub async fn add_action(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(action): ApiJson<ReviewAction>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if let ReviewAction::FollowUpTask {
        assignee: Some(a), ..
    } = &action
    {
        super::admin::known_discipline(&state, Some(a.as_str()))
            .map_err(|e| ApiError::invalid("assignee", e.message))?;
    }
    let (now, who) = (state.clock.now(), actor(&user));
    let (scripts, calendar) = (state.scripts.clone(), state.calendar.clone());
    let outcome = state
        .store
        .write(move |tx| {
            let detail = serde_json::to_string(&action).unwrap_or_default();
            let r = db::add_action(tx, &scripts, &calendar, id, &user, action, now)?;
            if let Ok(a) = &r {
                append(
                    tx,
                    &who,
                    "action",
                    "team_review",
                    Some(&id.to_string()),
                    &format!("{detail} task={}", a.task_id.unwrap_or_default()),
                    now.timestamp(),
                )?;
            }
            Ok(r)
        })
        .await?;
    let action = outcome.map_err(refused)?;
    Ok((StatusCode::CREATED, Json(json!({ "action": action }))))
}

/// `POST /api/v1/reviews/{id}/close`: closes the review when every required discipline has
/// signed (409 naming the missing ones otherwise); its task is completed. Audited.
pub async fn close(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let (now, who) = (state.clock.now(), actor(&user));
    let outcome = state
        .store
        .write(move |tx| {
            let r = db::close(tx, id, user.id, now)?;
            if r.is_ok() {
                append(
                    tx,
                    &who,
                    "close",
                    "team_review",
                    Some(&id.to_string()),
                    "",
                    now.timestamp(),
                )?;
            }
            Ok(r)
        })
        .await?;
    let review = outcome.map_err(refused)?;
    Ok(Json(json!({ "review": review })))
}
