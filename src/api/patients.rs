use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{paged, ApiError, ApiJson, ApiPath, ApiQuery, Page};
use super::session_user::CurrentUser;
use super::{actor, AppState};
use crate::followup::import::parse_csv;
use crate::followup::patient::{NewDischarge, NewPatient};
use crate::followup::phone::mask;
use crate::store::audit::append;
use crate::store::patients::{self as db, PatientView};
use crate::store::users::User;

/// Phone numbers leave the server masked unless the role needs them whole.
fn for_role(mut p: PatientView, user: &User) -> PatientView {
    if !user.role.sees_full_phone_numbers() {
        p.phone = mask(&p.phone);
        p.alt_phone = p.alt_phone.map(|x| mask(&x));
    }
    p
}

pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<axum::Json<Value>, ApiError> {
    let page = page.checked()?;
    let (q, limit, offset) = (page.q.clone(), page.limit, page.offset);
    let (items, total) = state
        .store
        .read(move |c| db::list_patients(c, q.as_deref(), limit, offset))
        .await?;
    let items: Vec<_> = items.into_iter().map(|p| for_role(p, &user)).collect();
    Ok(axum::Json(paged(items, total, &page)))
}

pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(body): ApiJson<NewPatient>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let valid = body.validate()?;
    let now = state.clock.now().timestamp();
    let who = actor(&user);
    let id = state
        .store
        .write(move |tx| {
            let id = db::insert_patient(tx, &valid, None, now)?;
            append(
                tx,
                &who,
                "create",
                "patient",
                Some(&id.to_string()),
                &format!("mrn={}", valid.mrn),
                now,
            )?;
            Ok(id)
        })
        .await?;
    let p = state.store.read(move |c| db::get_patient(c, id)).await?;
    Ok((StatusCode::CREATED, axum::Json(json!(for_role(p, &user)))))
}

pub async fn get_one(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<axum::Json<Value>, ApiError> {
    // the patient with the LACE score of each discharge (issue 18), newest first
    let (p, risk) = state
        .store
        .read(move |c| {
            Ok((
                db::get_patient(c, id)?,
                crate::store::risk::for_patient(c, id)?,
            ))
        })
        .await?;
    let now = state.clock.now().timestamp();
    let who = actor(&user);
    // Every view of a record is audited (HIPAA §164.312(b)).
    state
        .store
        .write(move |tx| append(tx, &who, "view", "patient", Some(&id.to_string()), "", now))
        .await?;
    let mut body = json!(for_role(p, &user));
    body["risk"] = json!(risk);
    Ok(axum::Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoNotCall {
    do_not_call: bool,
}

pub async fn do_not_call(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<DoNotCall>,
) -> Result<StatusCode, ApiError> {
    let now = state.clock.now().timestamp();
    let who = actor(&user);
    state
        .store
        .write(move |tx| {
            db::set_do_not_call(tx, id, body.do_not_call, now)?;
            tx.execute("DELETE FROM queue_entries WHERE task_id IN (SELECT id FROM followup_tasks WHERE patient_id = ?1)", [id])?;
            append(tx, &who, "set_do_not_call", "patient", Some(&id.to_string()), &body.do_not_call.to_string(), now)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn discharge(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<NewDischarge>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let now = state.clock.now();
    let d = body.validate(now)?;
    let (pathways, calendar) = (state.pathways.clone(), state.calendar.clone());
    let who = actor(&user);
    let outcome = state
        .store
        .write(move |tx| {
            db::get_patient(tx, id)?;
            let out = db::record_discharge(tx, id, &d, &pathways, &calendar, now)?;
            let detail = format!("pathway={:?} tasks={}", out.pathway, out.tasks_created);
            append(
                tx,
                &who,
                "discharge",
                "patient",
                Some(&id.to_string()),
                &detail,
                now.timestamp(),
            )?;
            Ok(out)
        })
        .await?;
    Ok((StatusCode::CREATED, axum::Json(json!(outcome))))
}

/// Largest CSV import: about 80 000 patients with their discharge rows. Every other body is
/// held to axum's 2 MiB default, which silently applied to imports too (a 3 MiB file got a
/// bare 413 though the server's overall limit said 16 MiB).
pub const IMPORT_MAX_BYTES: usize = 16 * 1024 * 1024;

pub async fn import_csv(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    let body = body.map_err(|e| {
        ApiError::new(
            e.status(),
            "body_too_large",
            format!(
                "the CSV import takes at most {} MiB; split the file ({})",
                IMPORT_MAX_BYTES >> 20,
                e.body_text()
            ),
        )
    })?;
    let now = state.clock.now();
    let rows =
        parse_csv(&body, state.locale.tz, now).map_err(crate::store::StoreError::Rejected)?;
    let (pathways, calendar) = (state.pathways.clone(), state.calendar.clone());
    let planned_types = state.config.outcomes.planned_admission_types.clone();
    let who = actor(&user);
    let n = state
        .store
        .write(move |tx| {
            let n = db::import_rows(tx, &rows, &pathways, &calendar, &planned_types, now)?;
            append(
                tx,
                &who,
                "import",
                "patient",
                None,
                &format!("rows={n}"),
                now.timestamp(),
            )?;
            Ok(n)
        })
        .await?;
    Ok(axum::Json(json!({"imported": n})))
}

pub async fn tasks(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<axum::Json<Value>, ApiError> {
    let now = state.clock.now();
    let tasks = state
        .store
        .read(move |c| {
            db::get_patient(c, id)?;
            crate::store::tasks::tasks_of_patient(c, id, now)
        })
        .await?;
    Ok(axum::Json(json!({"items": tasks})))
}

pub async fn pathways(State(state): State<AppState>) -> axum::Json<Value> {
    let list: Vec<Value> = state
        .pathways
        .pathways
        .values()
        .map(|p| {
            json!({"code": p.code, "version": p.version, "title": {"en": p.title.en, "zh": p.title.zh},
                   "priority": p.priority, "icd10": p.matcher.icd10, "departments": p.matcher.departments,
                   "steps": p.steps.iter().map(|s| json!({"name": s.name.en, "name_zh": s.name.zh, "day": s.day, "script": s.script, "role": s.role.as_str()})).collect::<Vec<_>>()})
        })
        .collect();
    axum::Json(json!({"items": list}))
}
