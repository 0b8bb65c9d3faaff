//! Care teams and duty shifts (issue 20 items 2 and 3): admins compose each department's
//! multidisciplinary team; admins and supervisors keep the shifts that say who of a discipline is
//! on when. Every change is audited. Routing reads the same rows (`store::care_teams`).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiJson, ApiPath};
use super::session_user::CurrentUser;
use super::{actor, AppState};
use crate::followup::discipline::BUILT_IN;
use crate::followup::escalation::shift::{parse_time, Holidays, Shift, Weekdays};
use crate::store::{audit, care_teams as db};

/// `GET /api/v1/care-teams`: every team with its members, and the disciplines this
/// installation knows (built in, then `[clinical] disciplines`) for the admin page's choices.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let teams = state.store.read(db::list_teams).await?;
    let mut disciplines: Vec<Value> = BUILT_IN
        .iter()
        .map(|(code, en, zh)| json!({"code": code, "en": en, "zh": zh}))
        .collect();
    for extra in &state.config.clinical.disciplines {
        disciplines.push(json!({"code": extra, "en": extra, "zh": extra}));
    }
    Ok(Json(
        json!({ "care_teams": teams, "disciplines": disciplines }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    department: String,
    #[serde(default)]
    pathway: Option<String>,
    name_en: String,
    name_zh: String,
}

/// `POST /api/v1/care-teams`: the care team of a department (one per department). Audited.
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(admin): CurrentUser,
    ApiJson(body): ApiJson<NewTeam>,
) -> Result<Json<Value>, ApiError> {
    for (field, v) in [("name_en", &body.name_en), ("name_zh", &body.name_zh)] {
        if v.trim().is_empty() {
            return Err(ApiError::invalid(
                field,
                "a care team needs a name in zh and en",
            ));
        }
    }
    let (who, now) = (actor(&admin), state.clock.now());
    let team = state
        .store
        .write(move |tx| {
            let id = db::create_team(
                tx,
                &body.department,
                body.pathway.as_deref().filter(|p| !p.trim().is_empty()),
                body.name_en.trim(),
                body.name_zh.trim(),
                now,
            )?;
            let detail = format!("department={}", body.department);
            audit::append(
                tx,
                &who,
                "create_care_team",
                "care_team",
                Some(&id.to_string()),
                &detail,
                now.timestamp(),
            )?;
            db::get_team(tx, id)
        })
        .await?;
    Ok(Json(json!({ "care_team": team })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    /// The discipline she serves in this team; defaults to her own discipline.
    #[serde(default)]
    discipline: Option<String>,
    #[serde(default)]
    lead: bool,
}

/// `PUT /api/v1/care-teams/{id}/members/{user_id}`: adds a member or changes her discipline or
/// lead flag (`{"discipline": "pharmacy", "lead": false}`). Audited.
pub async fn put_member(
    State(state): State<AppState>,
    CurrentUser(admin): CurrentUser,
    ApiPath((team, user_id)): ApiPath<(i64, i64)>,
    ApiJson(body): ApiJson<MemberBody>,
) -> Result<Json<Value>, ApiError> {
    let given = super::admin::known_discipline(&state, body.discipline.as_deref())?;
    let (who, now) = (actor(&admin), state.clock.now());
    let team = state
        .store
        .write(move |tx| {
            let user = crate::store::users::get_user(tx, user_id)?;
            let discipline = given.or(user.discipline).ok_or_else(|| {
                crate::store::StoreError::Invalid(format!(
                    "user {user_id} has no discipline: give one ({{\"discipline\": \"pharmacy\"}})"
                ))
            })?;
            db::set_member(tx, team, user_id, &discipline, body.lead, now)?;
            let detail = format!("user={user_id} discipline={discipline} lead={}", body.lead);
            audit::append(
                tx,
                &who,
                "set_care_team_member",
                "care_team",
                Some(&team.to_string()),
                &detail,
                now.timestamp(),
            )?;
            db::get_team(tx, team)
        })
        .await?;
    Ok(Json(json!({ "care_team": team })))
}

/// `DELETE /api/v1/care-teams/{id}/members/{user_id}`. Audited.
pub async fn remove_member(
    State(state): State<AppState>,
    CurrentUser(admin): CurrentUser,
    ApiPath((team, user_id)): ApiPath<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let (who, now) = (actor(&admin), state.clock.now().timestamp());
    let team = state
        .store
        .write(move |tx| {
            db::remove_member(tx, team, user_id)?;
            let detail = format!("user={user_id}");
            audit::append(
                tx,
                &who,
                "remove_care_team_member",
                "care_team",
                Some(&team.to_string()),
                &detail,
                now,
            )?;
            db::get_team(tx, team)
        })
        .await?;
    Ok(Json(json!({ "care_team": team })))
}

/// `GET /api/v1/duty-shifts`: every shift.
pub async fn list_shifts(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let shifts = state.store.read(db::list_shifts).await?;
    Ok(Json(json!({ "shifts": shifts })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewShift {
    user_id: i64,
    /// Defaults to the user's own discipline.
    #[serde(default)]
    discipline: Option<String>,
    /// `daily`, `mon-fri`, `sat,sun`.
    weekdays: String,
    /// `HH:MM`, hospital local time.
    start: String,
    /// `HH:MM`; not after `start` means the next day.
    end: String,
    /// `skip` (default), `also` or `only`.
    #[serde(default)]
    holidays: Holidays,
}

/// `POST /api/v1/duty-shifts`: `{"user_id", "weekdays": "mon-fri", "start": "08:00",
/// "end": "17:00", "holidays": "skip"}`. Audited.
pub async fn add_shift(
    State(state): State<AppState>,
    CurrentUser(manager): CurrentUser,
    ApiJson(body): ApiJson<NewShift>,
) -> Result<Json<Value>, ApiError> {
    let shift = Shift {
        weekdays: Weekdays::parse(&body.weekdays)
            .map_err(|e| ApiError::invalid("weekdays", e.to_string()))?,
        start: parse_time(&body.start).map_err(|e| ApiError::invalid("start", e.to_string()))?,
        end: parse_time(&body.end).map_err(|e| ApiError::invalid("end", e.to_string()))?,
        holidays: body.holidays,
    };
    let given = super::admin::known_discipline(&state, body.discipline.as_deref())?;
    let (who, now) = (actor(&manager), state.clock.now());
    let user_id = body.user_id;
    let row = state
        .store
        .write(move |tx| {
            let user = crate::store::users::get_user(tx, user_id)?;
            let discipline = given.or(user.discipline).ok_or_else(|| {
                crate::store::StoreError::Invalid(format!(
                    "user {user_id} has no discipline: give one ({{\"discipline\": \"pharmacy\"}})"
                ))
            })?;
            let id = db::add_shift(tx, user_id, &discipline, &shift, now)?;
            let detail = format!(
                "user={user_id} discipline={discipline} weekdays={} {}-{} holidays={}",
                shift.weekdays,
                shift.start.format("%H:%M"),
                shift.end.format("%H:%M"),
                shift.holidays.as_str()
            );
            audit::append(
                tx,
                &who,
                "add_duty_shift",
                "duty_shift",
                Some(&id.to_string()),
                &detail,
                now.timestamp(),
            )?;
            db::list_shifts(tx)?
                .into_iter()
                .find(|s| s.id == id)
                .ok_or_else(|| crate::store::StoreError::NotFound(format!("shift {id}")))
        })
        .await?;
    Ok(Json(json!({ "shift": row })))
}

/// `DELETE /api/v1/duty-shifts/{id}`. Audited.
pub async fn remove_shift(
    State(state): State<AppState>,
    CurrentUser(manager): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let (who, now) = (actor(&manager), state.clock.now().timestamp());
    let row = state
        .store
        .write(move |tx| {
            let row = db::remove_shift(tx, id)?;
            let detail = format!("user={} discipline={}", row.user_id, row.discipline);
            audit::append(
                tx,
                &who,
                "remove_duty_shift",
                "duty_shift",
                Some(&id.to_string()),
                &detail,
                now,
            )?;
            Ok(row)
        })
        .await?;
    Ok(Json(json!({ "removed": row })))
}
