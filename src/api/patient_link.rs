//! The patient's link pages (issue 19 items 2–3): `/f/<token>` and its JSON calls. Patients
//! have no account, so these routes sit outside the staff route table (`access::ROUTES`) and
//! carry their own guard: the token (unknown, expired and revoked all answer the same 404),
//! then a cookie that only the identity check hands out, scoped to this one link's path.
//! Requests that look a token up without that cookie are rate-limited per client address;
//! state-changing calls must come from our own page (`csrf::same_origin`).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiJson, ApiPath};
use super::session::ClientIp;
use super::AppState;
use crate::followup::link::Standing;
use crate::followup::script::Severity;
use crate::service::patient_link::{self as svc, Identity};
use crate::service::ServiceError;
use crate::store::escalations::Change;
use crate::store::links::LinkRecord;

/// The cookie a verified browser holds for one link.
const LINK_COOKIE: &str = "sf_link";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/f/{token}", get(page))
        .route("/f/{token}/identity", post(identity))
        .route("/f/{token}/form", get(form))
        .route("/f/{token}/answers/{question}", put(answer))
        .route("/f/{token}/submit", post(submit))
}

/// The one answer for a link that is not there: the same for unknown, expired and revoked.
fn gone() -> ApiError {
    ApiError::not_found("link")
}

fn locked() -> ApiError {
    ApiError::new(
        StatusCode::LOCKED,
        "locked",
        "this link is locked after too many wrong answers; the hospital will call you",
    )
}

fn too_many() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "too many requests; wait a minute and try again",
    )
}

/// Headers of every patient page and answer: nothing cached, the token never leaves in a
/// Referer, no framing.
fn private(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// Counts a request that looks a token up without a session; false when over the limit.
fn admit(state: &AppState, client: &str) -> bool {
    let now = state.clock.now();
    let mut limiter = state.link_limiter.lock().unwrap_or_else(|e| e.into_inner());
    // a reservation is never given back: every such request counts
    limiter.reserve(&[format!("link:{client}")], now).is_some()
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == LINK_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The link, if its token resolves to an open, completed or locked one.
async fn lookup(state: &AppState, token: String) -> Result<(Standing, LinkRecord), ApiError> {
    let now = state.clock.now();
    let (standing, record) = state
        .store
        .read(move |c| svc::resolve(c, &token, now))
        .await?;
    match record {
        Some(r) => Ok((standing, r)),
        None => Err(gone()),
    }
}

/// The link, for a browser that passed its identity check.
async fn verified(
    state: &AppState,
    token: String,
    headers: &HeaderMap,
    client: &str,
) -> Result<(Standing, LinkRecord), ApiError> {
    let now = state.clock.now();
    let session = cookie_value(headers);
    let (standing, record) = {
        let token = token.clone();
        state
            .store
            .read(move |c| svc::resolve(c, &token, now))
            .await?
    };
    let Some(record) = record else {
        if !admit(state, client) {
            return Err(too_many());
        }
        return Err(gone());
    };
    if standing == Standing::Locked {
        return Err(locked());
    }
    let r = record.clone();
    let ok = state
        .store
        .read(move |c| svc::session_opens(c, &r, session.as_deref(), now))
        .await?;
    if !ok {
        if !admit(state, client) {
            return Err(too_many());
        }
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "identity_required",
            "confirm who you are first",
        ));
    }
    Ok((standing, record))
}

const GONE_PAGE: &str = "<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>链接无效 · Link not valid</title>\
<link rel=\"stylesheet\" href=\"/assets/selfreport.css\"></head><body><main class=\"card\">\
<h1>链接无效或已过期</h1><p>如需帮助，请致电医院随访中心。</p>\
<h1 lang=\"en\">This link is not valid or has expired</h1><p lang=\"en\">Please call the hospital's follow-up center if you need help.</p>\
</main></body></html>";

/// `GET /f/{token}`: the page (the same 404 page for every link that is not there).
async fn page(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    ApiPath(token): ApiPath<String>,
) -> Response {
    if !admit(&state, &client) {
        return private(too_many().into_response());
    }
    let record = match lookup(&state, token).await {
        Ok((_, r)) => r,
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            return private(
                (
                    StatusCode::NOT_FOUND,
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    GONE_PAGE,
                )
                    .into_response(),
            )
        }
        Err(e) => return private(e.into_response()),
    };
    let now = state.clock.now();
    let id = record.id;
    if let Err(e) = state
        .store
        .write(move |tx| svc::record_open(tx, id, &client, now))
        .await
    {
        return private(ApiError::from(e).into_response());
    }
    private(crate::web::asset("selfreport.html"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityBody {
    answer: String,
}

/// `POST /f/{token}/identity`: the birth year (or record-number digits).
async fn identity(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    ApiPath(token): ApiPath<String>,
    ApiJson(body): ApiJson<IdentityBody>,
) -> Result<Response, ApiError> {
    super::csrf::same_origin(&headers)?;
    if !admit(&state, &client) {
        return Err(too_many());
    }
    if body.answer.chars().count() > 32 {
        return Err(ApiError::invalid("answer", "is too long"));
    }
    let (standing, record) = lookup(&state, token.clone()).await?;
    if standing == Standing::Locked {
        return Err(locked());
    }
    let now = state.clock.now();
    let sms = state.config.sms.clone();
    let hours = state.config.http.session_hours;
    let r = record.clone();
    let who = client.clone();
    let outcome = state
        .store
        .write(move |tx| {
            svc::check_identity(
                tx,
                &r,
                sms.identity_check,
                &body.answer,
                sms.max_identity_failures,
                hours,
                &who,
                now,
            )
        })
        .await?;
    match outcome {
        Identity::Verified { session } => {
            let secure = if state.config.http.secure_cookies {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{LINK_COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/f/{token}; Max-Age={}{secure}",
                hours * 3600
            );
            let mut resp = axum::Json(json!({"ok": true})).into_response();
            resp.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_str(&cookie).map_err(|_| gone())?,
            );
            Ok(private(resp))
        }
        // a wrong answer is an answer, not a failed request: the page shows it in the form
        Identity::Wrong { left } => Ok(private(
            axum::Json(json!({"ok": false, "tries_left": left})).into_response(),
        )),
        Identity::LockedNow { call_back_task } => {
            let nurse = record.owner_nurse_id;
            state.events.publish(crate::events::LiveEvent {
                name: "patient_link.locked".into(),
                audience: crate::events::Audience::UsersAndRoles(
                    nurse.into_iter().collect(),
                    vec![crate::auth::role::Role::Supervisor],
                ),
                data: json!({"patient_id": record.patient_id, "task_id": record.task_id,
                    "link_id": record.id, "call_back_task": call_back_task}),
            });
            Ok(private(
                axum::Json(json!({"ok": false, "locked": true})).into_response(),
            ))
        }
        Identity::Locked => Err(locked()),
    }
}

/// `GET /f/{token}/form`: the task's questions, the answers so far and what to show.
async fn form(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    ApiPath(token): ApiPath<String>,
) -> Result<Response, ApiError> {
    let (standing, record) = match verified(&state, token, &headers, &client).await {
        Ok(v) => v,
        // the page asks first; a browser without the cookie is told what to ask, not refused
        Err(e) if e.code == "identity_required" => {
            return Ok(private(
                axum::Json(json!({"identity_required": true,
                    "check": state.config.sms.identity_check.as_str()}))
                .into_response(),
            ))
        }
        Err(e) => return Err(e),
    };
    let script = record
        .script_code
        .as_deref()
        .and_then(|c| state.scripts.get(c))
        .ok_or_else(gone)?
        .clone();
    let task = record.task_id;
    let answers = state
        .store
        .read(move |c| crate::service::answers::answers_of_task(c, task))
        .await?;
    let hospital = match record.language.as_str() {
        "en" => state.config.sms.hospital_name_en.clone(),
        _ => state.config.sms.hospital_name_zh.clone(),
    }
    .unwrap_or_else(|| state.config.hospital.name.clone());
    Ok(private(
        axum::Json(json!({
            "language": record.language,
            "hospital": hospital,
            "completed": standing == Standing::Completed,
            "title": script.title,
            "questions": script.questions,
            "answers": answers,
            "visible": visible(&script, &answers),
        }))
        .into_response(),
    ))
}

/// The ids of the questions shown for these answers (the script's skip logic).
fn visible(script: &crate::followup::script::Script, answers: &[Value]) -> Vec<String> {
    let mut given = crate::followup::rules::Answers::new();
    for a in answers {
        let (Some(q), Some(v)) = (a["question_id"].as_str(), a.get("value")) else {
            continue;
        };
        if let Ok(v) = serde_json::from_value(v.clone()) {
            given.insert(crate::followup::script::QuestionId(q.to_string()), v);
        }
    }
    crate::followup::rules::visible_questions(script, &given)
        .into_iter()
        .map(|q| q.0)
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerBody {
    value: Value,
}

/// `PUT /f/{token}/answers/{question}`: autosave one answer; the advice of any rule it made
/// fire comes back at once (an emergency's "call 120 now" first).
async fn answer(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    ApiPath((token, question)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<AnswerBody>,
) -> Result<Response, ApiError> {
    super::csrf::same_origin(&headers)?;
    let (standing, record) = verified(&state, token, &headers, &client).await?;
    if standing == Standing::Completed {
        return Err(ApiError::conflict("these answers were already sent"));
    }
    let now = state.clock.now();
    let scripts = state.scripts.clone();
    let calendar = state.calendar.clone();
    let webhooks = state.config.webhook.enabled();
    let r = record.clone();
    let saved = state
        .store
        .write(move |tx| {
            match svc::save(
                tx, &scripts, &r, &question, body.value, webhooks, &calendar, now,
            ) {
                Ok(saved) => Ok(Ok(saved)),
                Err(ServiceError::Store(e)) => Err(e),
                Err(rejected) => Ok(Err(rejected)),
            }
        })
        .await?
        .map_err(ApiError::from)?;
    crate::service::notify::publish_recorded(&state.events, &saved.escalations, record.patient_id);
    // only what this answer newly made fire: an open escalation's advice was shown already
    let new: Vec<_> = saved
        .escalations
        .iter()
        .filter(|e| matches!(e.change, Change::Opened | Change::Raised))
        .collect();
    let mut advice: Vec<Value> = new
        .iter()
        .filter_map(|e| {
            e.finding
                .advice
                .as_ref()
                .map(|a| json!({"severity": e.finding.severity, "zh": a.zh, "en": a.en}))
        })
        .collect();
    advice.sort_by_key(|a| std::cmp::Reverse(a["severity"] == json!(Severity::Emergency)));
    let emergency = new
        .iter()
        .any(|e| e.finding.severity == Severity::Emergency);
    let script = record
        .script_code
        .as_deref()
        .and_then(|c| state.scripts.get(c))
        .ok_or_else(gone)?
        .clone();
    let task = record.task_id;
    let answers = state
        .store
        .read(move |c| crate::service::answers::answers_of_task(c, task))
        .await?;
    Ok(private(
        axum::Json(json!({
            "saved": saved.answer.question_id,
            "emergency": emergency,
            "advice": advice,
            "visible": visible(&script, &answers),
            "answers": answers,
        }))
        .into_response(),
    ))
}

/// `POST /f/{token}/submit`: the patient is done.
async fn submit(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    ApiPath(token): ApiPath<String>,
) -> Result<Response, ApiError> {
    super::csrf::same_origin(&headers)?;
    let (standing, record) = verified(&state, token, &headers, &client).await?;
    if standing == Standing::Completed {
        return Err(ApiError::conflict("these answers were already sent"));
    }
    let now = state.clock.now();
    let scripts = state.scripts.clone();
    let r = record.clone();
    let outcome = state
        .store
        .write(move |tx| match svc::submit(tx, &scripts, &r, now) {
            Ok(o) => Ok(Ok(o)),
            Err(ServiceError::Store(e)) => Err(e),
            Err(other) => Ok(Err(other)),
        })
        .await?
        .map_err(ApiError::from)?;
    if let svc::Submitted::CallBack {
        call_back_task,
        severity,
    } = &outcome
    {
        state.events.publish(crate::events::LiveEvent {
            name: "patient_link.call_back".into(),
            audience: crate::events::Audience::UsersAndRoles(
                record.owner_nurse_id.into_iter().collect(),
                vec![crate::auth::role::Role::Supervisor],
            ),
            data: json!({"patient_id": record.patient_id, "task_id": call_back_task,
                "severity": severity}),
        });
    }
    Ok(private(axum::Json(json!(outcome)).into_response()))
}
