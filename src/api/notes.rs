//! Clinical notes (issue 20 item 5): add a note to a patient, correct it by a new version, read
//! a patient's notes with their history, search them (zh and en). Every write and every read
//! of note text is audited.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, SearchQuery};
use super::session_user::CurrentUser;
use super::{actor, AppState};
use crate::auth::role::Role;
use crate::followup::note::{check, check_reason, NoteError, NoteKind};
use crate::store::audit::append;
use crate::store::notes::{self as db, Author, NoteLinks};
use crate::store::users::User;

impl From<NoteError> for ApiError {
    /// The field is the request's (`body`, `data`, `reason`); the message names the key inside
    /// `data` too (`data.drug: required`).
    fn from(e: NoteError) -> ApiError {
        ApiError::invalid(e.field(), e.to_string())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    #[serde(default = "free")]
    kind: NoteKind,
    body: String,
    #[serde(default)]
    data: Option<Value>,
    /// Optional links, each checked to belong to the patient.
    #[serde(default)]
    call_id: Option<String>,
    #[serde(default)]
    answer_id: Option<i64>,
    #[serde(default)]
    escalation_id: Option<i64>,
}

fn free() -> NoteKind {
    NoteKind::Free
}

fn author(user: &User) -> Author {
    Author {
        user_id: user.id,
        discipline: user.discipline.clone(),
    }
}

/// Audits one action on notes in its own transaction.
async fn audit(
    state: &AppState,
    user: &User,
    action: &'static str,
    entity_id: Option<String>,
    detail: String,
) -> Result<(), ApiError> {
    let (who, now) = (actor(user), state.clock.now().timestamp());
    state
        .store
        .write(move |tx| append(tx, &who, action, "note", entity_id.as_deref(), &detail, now))
        .await?;
    Ok(())
}

/// `POST /patients/{id}/notes`: the author is the session's user, her discipline recorded.
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(patient_id): ApiPath<i64>,
    ApiJson(body): ApiJson<NewNote>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let content = check(body.kind, &body.body, body.data)?;
    let links = NoteLinks {
        call_id: body.call_id,
        answer_id: body.answer_id,
        escalation_id: body.escalation_id,
    };
    let (who, by, now) = (actor(&user), author(&user), state.clock.now());
    let note = state
        .store
        .write(move |tx| {
            let id = db::create(tx, patient_id, &by, &content, &links, now)?;
            append(
                tx,
                &who,
                "create",
                "note",
                Some(&id.to_string()),
                &format!("patient={patient_id} kind={}", content.kind.as_str()),
                now.timestamp(),
            )?;
            db::get(tx, id)
        })
        .await?;
    Ok((StatusCode::CREATED, axum::Json(json!(note))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    /// The kind may change too (a free note that turns out to record a dose change).
    #[serde(default)]
    kind: Option<NoteKind>,
    body: String,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /notes/{id}/versions`: a correction is a new version; the earlier ones stay readable
/// in `history`. Only the note's author or a supervisor corrects it: a colleague who disagrees
/// writes a note of her own.
pub async fn correct(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(note_id): ApiPath<i64>,
    ApiJson(body): ApiJson<Correction>,
) -> Result<axum::Json<Value>, ApiError> {
    let reason = check_reason(body.reason)?;
    let current = state.store.read(move |c| db::get(c, note_id)).await?;
    if current.author_id != user.id && user.role != Role::Supervisor {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only the note's author or a supervisor may correct it; add a note of your own",
        ));
    }
    let content = check(body.kind.unwrap_or(current.kind), &body.body, body.data)?;
    let (who, by, now) = (actor(&user), author(&user), state.clock.now());
    let note = state
        .store
        .write(move |tx| {
            let (patient_id, version) =
                db::correct(tx, note_id, &by, &content, reason.as_deref(), now)?;
            append(
                tx,
                &who,
                "correct",
                "note",
                Some(&note_id.to_string()),
                &format!("patient={patient_id} version={version}"),
                now.timestamp(),
            )?;
            db::get(tx, note_id)
        })
        .await?;
    Ok(axum::Json(json!(note)))
}

/// `GET /notes/{id}`: the latest version with its history (audited view).
pub async fn get_one(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(note_id): ApiPath<i64>,
) -> Result<axum::Json<Value>, ApiError> {
    let note = state.store.read(move |c| db::get(c, note_id)).await?;
    audit(
        &state,
        &user,
        "view",
        Some(note_id.to_string()),
        format!("patient={}", note.patient_id),
    )
    .await?;
    Ok(axum::Json(json!(note)))
}

/// `GET /patients/{id}/notes`: the patient's notes, newest first (audited view).
pub async fn of_patient(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(patient_id): ApiPath<i64>,
) -> Result<axum::Json<Value>, ApiError> {
    let notes = state
        .store
        .read(move |c| {
            crate::store::patients::get_patient(c, patient_id)?;
            db::for_patient(c, patient_id)
        })
        .await?;
    audit(
        &state,
        &user,
        "view",
        None,
        format!("patient={patient_id} notes={}", notes.len()),
    )
    .await?;
    Ok(axum::Json(json!({"items": notes})))
}

/// `GET /notes/search?q=`: notes whose latest text contains `q` (zh or en). Audited with the
/// query and the ids of the notes returned, so a later review sees what was read.
pub async fn search(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let q = q.checked()?;
    if q.q.chars().count() > 200 {
        return Err(ApiError::invalid("q", "at most 200 characters"));
    }
    let (text, limit) = (q.q.clone(), q.limit);
    let (mode, hits) = state
        .store
        .read(move |c| db::search(c, &text, limit))
        .await?;
    let ids: Vec<String> = hits.iter().map(|h| h.note_id.to_string()).collect();
    audit(
        &state,
        &user,
        "search",
        None,
        format!(
            "q={} ids=[{}]",
            serde_json::to_string(q.q.trim()).unwrap_or_default(),
            ids.join(",")
        ),
    )
    .await?;
    Ok(axum::Json(json!({
        "q": q.q,
        "mode": mode,
        "note": q.mode_note(),
        "items": hits,
    })))
}
