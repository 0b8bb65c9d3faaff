//! `POST /api/v1/patients/{id}/admissions` and its listing: an admission recorded by hand (or
//! by a system without HL7), through the same store function as an HL7 A01 and the CSV import.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{json, Value};

use super::error::{ApiError, ApiJson, ApiPath};
use super::session_user::CurrentUser;
use super::{actor, AppState};
use crate::followup::admission::NewAdmission;
use crate::store::admissions::{admissions_of_patient, record_admission, AdmissionSource};
use crate::store::audit::append;
use crate::store::patients::get_patient;

/// Records an admission: a stay of an enrolled patient pauses the open follow-up tasks and is
/// recorded as a readmission. 201 with what it did; 200 when the visit was admitted before.
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<NewAdmission>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let now = state.clock.now();
    let admission = body.validate(now)?;
    let planned_types = state.config.outcomes.planned_admission_types.clone();
    let who = actor(&user);
    let outcome = state
        .store
        .write(move |tx| {
            get_patient(tx, id)?;
            let out = record_admission(
                tx,
                id,
                &admission,
                AdmissionSource::Api,
                &planned_types,
                now,
            )?;
            append(
                tx,
                &who,
                "admit",
                "patient",
                Some(&id.to_string()),
                &format!(
                    "admission={} recorded={} readmission={} tasks_paused={}",
                    out.admission_id,
                    out.recorded,
                    out.readmission.is_some(),
                    out.tasks_paused
                ),
                now.timestamp(),
            )?;
            Ok(out)
        })
        .await?;
    let status = if outcome.recorded {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(json!(outcome))))
}

/// A patient's admissions with their readmission facts, newest first.
pub async fn list(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<axum::Json<Value>, ApiError> {
    let items = state
        .store
        .read(move |c| {
            get_patient(c, id)?;
            admissions_of_patient(c, id)
        })
        .await?;
    Ok(axum::Json(json!({ "items": items })))
}
