//! Answers (autosave, escalation at once), escalations (inbox, acknowledge, resolve), the duty
//! roster, the webhook delivery log, and the patient timeline.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::session_user::CurrentUser;
use super::{actor, AppState};
use crate::followup::escalation::{Action, EscalationId, UserId};
use crate::service::answers::{answers_of_task, save_answer, SaveAnswer};
use crate::service::notify::publish_recorded;
use crate::service::ServiceError;
use crate::store::audit::append;
use crate::store::escalations::{self as db, webhooks, DutySlot};

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        match e {
            ServiceError::Store(s) => s.into(),
            ServiceError::Answer(a) => ApiError::invalid(a.question().to_string(), a.to_string()),
            ServiceError::AddScript(a) => ApiError::conflict(a.to_string()),
            other => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                other.to_string(),
            ),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    value: Value,
    #[serde(default)]
    call_id: Option<String>,
}

/// `PUT /tasks/{id}/answers/{question}`: idempotent autosave of one answer.
pub async fn put_answer(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath((task_id, question)): ApiPath<(i64, String)>,
    ApiJson(body): ApiJson<AnswerBody>,
) -> Result<axum::Json<Value>, ApiError> {
    let now = state.clock.now();
    let scripts = state.scripts.clone();
    let webhooks_enabled = state.config.webhook.enabled();
    let calendar = state.calendar.clone();
    let input = SaveAnswer {
        task_id,
        question_id: question,
        value: body.value,
        call_id: body.call_id,
    };
    let who = user.clone();
    let (saved, patient_id) = state
        .store
        .write(move |tx| {
            // A rejected answer fails before anything is written: it travels out as a value,
            // storage errors as errors (which roll back).
            let saved =
                match save_answer(tx, &scripts, &who, &input, webhooks_enabled, &calendar, now) {
                    Ok(saved) => Ok(saved),
                    Err(ServiceError::Store(e)) => return Err(e),
                    Err(rejected) => Err(rejected),
                };
            let patient_id: i64 = tx.query_row(
                "SELECT patient_id FROM followup_tasks WHERE id = ?1",
                [task_id],
                |r| r.get(0),
            )?;
            Ok(saved.map(|s| (s, patient_id)))
        })
        .await??;
    publish_recorded(&state.events, &saved.escalations, patient_id);
    Ok(axum::Json(json!(saved)))
}

pub async fn list_answers(
    State(state): State<AppState>,
    ApiPath(task_id): ApiPath<i64>,
) -> Result<axum::Json<Value>, ApiError> {
    let items = state
        .store
        .read(move |c| answers_of_task(c, task_id))
        .await?;
    Ok(axum::Json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationFilter {
    /// Only those that notified the caller.
    #[serde(default)]
    mine: bool,
}

pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(f): ApiQuery<EscalationFilter>,
) -> Result<axum::Json<Value>, ApiError> {
    let mut items = state.store.read(db::unresolved).await?;
    if f.mine {
        items.retain(|e| e.notified.iter().any(|n| n.user.0 == user.id));
    }
    items.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.opened_at.cmp(&b.opened_at))
    });
    Ok(axum::Json(json!({"items": items})))
}

pub async fn get_one(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<axum::Json<Value>, ApiError> {
    let e = state
        .store
        .read(move |c| db::get(c, EscalationId(id)))
        .await?;
    let now = state.clock.now().timestamp();
    let who = actor(&user);
    state
        .store
        .write(move |tx| {
            append(
                tx,
                &who,
                "view",
                "escalation",
                Some(&id.to_string()),
                "",
                now,
            )
        })
        .await?;
    Ok(axum::Json(json!(e)))
}

pub async fn acknowledge(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<axum::Json<Value>, ApiError> {
    let now = state.clock.now();
    let who = actor(&user);
    let e = state
        .store
        .write(move |tx| {
            let e = db::acknowledge(tx, EscalationId(id), UserId(user.id), now)?;
            append(
                tx,
                &who,
                "acknowledge",
                "escalation",
                Some(&id.to_string()),
                "",
                now.timestamp(),
            )?;
            Ok(e)
        })
        .await?;
    state.events.publish(crate::events::LiveEvent {
        name: "escalation.acknowledged".into(),
        audience: crate::events::Audience::Roles(vec![
            crate::auth::role::Role::Supervisor,
            crate::auth::role::Role::Doctor,
        ]),
        data: json!({"escalation_id": id, "by": e.status}),
    });
    Ok(axum::Json(json!(e)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    action: Action,
    note: String,
}

pub async fn resolve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ResolveBody>,
) -> Result<axum::Json<Value>, ApiError> {
    if body.note.trim().is_empty() {
        return Err(ApiError::invalid("note", "say what was done"));
    }
    let now = state.clock.now();
    let who = actor(&user);
    let e = state
        .store
        .write(move |tx| {
            let e = db::resolve(
                tx,
                EscalationId(id),
                UserId(user.id),
                body.action,
                &body.note,
                now,
            )?;
            append(
                tx,
                &who,
                "resolve",
                "escalation",
                Some(&id.to_string()),
                "",
                now.timestamp(),
            )?;
            Ok(e)
        })
        .await?;
    Ok(axum::Json(json!(e)))
}

pub async fn roster(State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    // What routing would use now: duty slots, supervisors, groups, who of each discipline is on
    // shift, and the care teams.
    let (now, calendar) = (state.clock.now(), state.calendar.clone());
    let roster = state
        .store
        .read(move |c| db::load_roster_at(c, now, &calendar))
        .await?;
    Ok(axum::Json(json!(roster)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DutyBody {
    user_id: i64,
}

pub async fn set_duty(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath((department, slot)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<DutyBody>,
) -> Result<StatusCode, ApiError> {
    let slot: DutySlot = serde_json::from_value(Value::String(slot.clone())).map_err(|_| {
        ApiError::invalid("slot", format!("`{slot}` is not on_duty, backup or head"))
    })?;
    let now = state.clock.now();
    let who = actor(&user);
    state
        .store
        .write(move |tx| {
            let target = crate::store::users::get_user(tx, body.user_id)?;
            if target.role != crate::auth::role::Role::Doctor
                && target.role != crate::auth::role::Role::Supervisor
            {
                return Err(crate::store::StoreError::Invalid(
                    "user_id: only doctors and supervisors can be on the duty roster".into(),
                ));
            }
            db::set_duty(tx, &department, slot, UserId(body.user_id), now)?;
            append(
                tx,
                &who,
                "set_duty",
                "department",
                Some(&department),
                &format!("{slot:?}={}", body.user_id),
                now.timestamp(),
            )
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn webhook_log(State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    Ok(axum::Json(
        json!({"items": state.store.read(|c| webhooks::log(c, 200)).await?}),
    ))
}

/// `GET /patients/{id}/timeline[?stage_days=N]`: everything about one patient, newest first.
pub async fn timeline(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<super::reports::StageQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let now = state.clock.now();
    let stage_days = q.days()?;
    let (items, series, labs, stage) = state
        .store
        .read(move |c| {
            crate::store::patients::get_patient(c, id)?;
            let mut items: Vec<(i64, Value)> = Vec::new();
            let mut stmt = c.prepare("SELECT a.updated_at, a.task_id, a.question_id, a.value, a.script_code, a.script_version FROM answers a WHERE a.patient_id = ?1")?;
            for row in stmt.query_map([id], |r| {
                Ok((r.get::<_, i64>(0)?, json!({"kind": "answer", "task_id": r.get::<_, i64>(1)?, "question_id": r.get::<_, String>(2)?,
                    "value": serde_json::from_str::<Value>(&r.get::<_, String>(3)?).unwrap_or(Value::Null),
                    "script": r.get::<_, String>(4)?, "script_version": r.get::<_, i64>(5)?})))
            })? {
                items.push(row?);
            }
            for e in db::for_patient(c, crate::followup::escalation::PatientId(id))? {
                items.push((e.opened_at.timestamp(), json!({"kind": "escalation", "escalation": e})));
            }
            let mut stmt = c.prepare("SELECT at, task_id, disposition, note, call_id FROM task_attempts WHERE task_id IN (SELECT id FROM followup_tasks WHERE patient_id = ?1)")?;
            for row in stmt.query_map([id], |r| {
                Ok((r.get::<_, i64>(0)?, json!({"kind": "attempt", "task_id": r.get::<_, i64>(1)?, "disposition": r.get::<_, String>(2)?,
                    "note": r.get::<_, Option<String>>(3)?, "call_id": r.get::<_, Option<String>>(4)?})))
            })? {
                items.push(row?);
            }
            // notes at the time they were first written, showing their latest version
            for n in crate::store::notes::for_patient(c, id)? {
                let at = n.created_at.timestamp();
                items.push((at, json!({"kind": "note", "note_id": n.id, "note_kind": n.kind, "body": n.body,
                    "data": n.data, "version": n.version, "author_id": n.author_id, "author_name": n.author_name,
                    "discipline": n.discipline, "call_id": n.links.call_id, "answer_id": n.links.answer_id,
                    "escalation_id": n.links.escalation_id, "updated_at": n.updated_at, "history": n.history})));
            }
            let mut stmt = c.prepare("SELECT c.started_at, c.id, c.direction, c.state, c.disposition, r.path, r.duration_ms FROM calls c LEFT JOIN recordings r ON r.call_id = c.id WHERE c.patient_id = ?1")?;
            for row in stmt.query_map([id], |r| {
                Ok((r.get::<_, i64>(0)?, json!({"kind": "call", "call_id": r.get::<_, String>(1)?, "direction": r.get::<_, String>(2)?,
                    "state": r.get::<_, String>(3)?, "disposition": r.get::<_, Option<String>>(4)?,
                    "recording": r.get::<_, Option<String>>(5)?, "duration_ms": r.get::<_, Option<i64>>(6)?})))
            })? {
                items.push(row?);
            }
            // lab results at their observation time (HL7 ORU^R01)
            items.extend(crate::store::labs::timeline(c, id)?);
            // call summaries with their evidence (issue 18 item 5)
            for s in crate::store::summaries::for_patient(c, id)? {
                items.push((s.created_at, json!({"kind": "summary", "summary": s})));
            }
            items.sort_by_key(|item| std::cmp::Reverse(item.0));
            let mut series = serde_json::Map::new();
            let mut stmt = c.prepare("SELECT kind, value, measured_at FROM measurements WHERE patient_id = ?1 ORDER BY measured_at")?;
            for row in stmt.query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?, r.get::<_, i64>(2)?)))? {
                let (kind, value, at) = row?;
                if let Value::Array(points) = series.entry(kind).or_insert_with(|| Value::Array(Vec::new())) {
                    points.push(json!({"at": at, "value": value}));
                }
            }
            let labs = crate::store::labs::series(c, id)?;
            // the last 30 days (or `?stage_days`) against the ones before (issue 18 item 6)
            let stage = crate::store::stage::for_patient(c, id, now, stage_days)?;
            Ok((items.into_iter().map(|(at, mut v)| { v["at"] = json!(at); v }).collect::<Vec<_>>(), series, labs, stage))
        })
        .await?;
    let who = actor(&user);
    let t = now.timestamp();
    state
        .store
        .write(move |tx| {
            append(
                tx,
                &who,
                "view",
                "patient_timeline",
                Some(&id.to_string()),
                "",
                t,
            )
        })
        .await?;
    Ok(axum::Json(
        json!({"items": items, "measurements": series, "labs": labs, "stage": stage}),
    ))
}
