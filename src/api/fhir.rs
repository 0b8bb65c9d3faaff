//! `/fhir/r4`: the FHIR R4 read and search API for system clients (issue 17 item 6). Thin:
//! the token is checked against its scopes, the store reads the rows, `fhir` makes the JSON,
//! and every read is audited in the same transaction that notes the token's use.
//!
//! Outside the session API's route table on purpose: system clients have no session or role,
//! only an API token (`Authorization: Bearer sft_…`) scoped to resource types.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;

use super::AppState;
use crate::fhir::bundle::{capability_statement, outcome, searchset, Page};
use crate::fhir::search::parse;
use crate::fhir::{FhirRow, ResourceType, Scopes};
use crate::store::api_tokens::{self, ApiToken};
use crate::store::audit::{append, Actor};
use crate::store::fhir as db;
use crate::store::StoreError;

const FHIR_JSON: &str = "application/fhir+json";

/// An error as an OperationOutcome with its HTTP status.
struct FhirError(StatusCode, &'static str, String);

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        reply(self.0, &outcome(self.1, &self.2))
    }
}

impl From<StoreError> for FhirError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => FhirError(
                StatusCode::NOT_FOUND,
                "not-found",
                format!("{what} not found"),
            ),
            other => {
                tracing::error!(error = %other, "FHIR API: storage failed");
                FhirError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "exception",
                    "storage error".into(),
                )
            }
        }
    }
}

fn reply(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, FHIR_JSON)],
        body.to_string(),
    )
        .into_response()
}

/// The routes, merged into the application router.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/fhir/r4/metadata", get(metadata))
        .route("/fhir/r4/{resource_type}", get(search))
        .route("/fhir/r4/{resource_type}/{id}", get(read))
}

/// `http(s)://host/fhir/r4` from the request's Host, when it is a plain host[:port]; only the
/// client's own links are built from it.
fn base(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let scheme = if state.config.http.secure_cookies {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}/fhir/r4")
}

/// The API token of the request, allowed to read `t`.
async fn client(
    state: &AppState,
    headers: &HeaderMap,
    t: ResourceType,
) -> Result<ApiToken, FhirError> {
    let unauthorized = || {
        FhirError(
            StatusCode::UNAUTHORIZED,
            "login",
            "an API token is required: Authorization: Bearer sft_…".into(),
        )
    };
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(|s| s.trim().to_string())
        .filter(|s| s.starts_with(api_tokens::TOKEN_PREFIX))
        .ok_or_else(unauthorized)?;
    let token = state
        .store
        .read(move |c| api_tokens::find(c, &secret))
        .await?
        .ok_or_else(unauthorized)?;
    let allowed = Scopes::parse(&token.scopes).is_ok_and(|s| s.allows(t));
    if !allowed {
        return Err(FhirError(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this token is not scoped to {}", t.as_str()),
        ));
    }
    Ok(token)
}

fn resource_type(name: &str) -> Result<ResourceType, FhirError> {
    ResourceType::parse(name).ok_or_else(|| {
        FhirError(
            StatusCode::NOT_FOUND,
            "not-supported",
            format!("`{name}` is not a resource type this server serves (see /fhir/r4/metadata)"),
        )
    })
}

/// Audits a read by a system client and notes the token's use.
async fn audit(
    state: &AppState,
    token: &ApiToken,
    action: &'static str,
    t: ResourceType,
    entity_id: Option<String>,
    detail: String,
) -> Result<(), FhirError> {
    let who = Actor::system(&format!("api-token:{}:{}", token.id, token.name));
    let (id, now) = (token.id, state.clock.now());
    state
        .store
        .write(move |tx| {
            api_tokens::touch(tx, id, now)?;
            append(
                tx,
                &who,
                action,
                t.as_str(),
                entity_id.as_deref(),
                &detail,
                now.timestamp(),
            )
        })
        .await?;
    Ok(())
}

/// The resource JSON, with the scripts' question text added to QuestionnaireResponse items.
fn resource(state: &AppState, mut row: FhirRow) -> Value {
    if let FhirRow::QuestionnaireResponse(qr) = &mut row {
        if let Some(script) = state.scripts.get(&qr.script_code) {
            for item in &mut qr.items {
                item.text = script
                    .question(&item.question_id)
                    .map(|q| q.text.en.clone());
            }
        }
    }
    row.resource()
}

/// `GET /fhir/r4/metadata`: public, as the specification expects (clients discover the
/// server before they authenticate).
async fn metadata(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let body = capability_statement(
        &base(&state, &headers),
        env!("CARGO_PKG_VERSION"),
        state.clock.now(),
    );
    reply(StatusCode::OK, &body)
}

/// `GET /fhir/r4/{type}?patient=&date=&_lastUpdated=&_count=`: a searchset Bundle.
async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    let t = resource_type(&name)?;
    let token = client(&state, &headers, t).await?;
    let s =
        parse(&params).map_err(|e| FhirError(StatusCode::BAD_REQUEST, "invalid", e.to_string()))?;
    let query = s.clone();
    let (rows, total) = state.store.read(move |c| db::search(c, t, &query)).await?;
    let mut patients: Vec<i64> = rows.iter().map(FhirRow::patient_id).collect();
    patients.sort_unstable();
    patients.dedup();
    let detail = format!(
        "query={} results={} patients={:?}",
        params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&"),
        rows.len(),
        patients
    );
    audit(&state, &token, "fhir_search", t, None, detail).await?;
    let resources = rows.into_iter().map(|r| resource(&state, r)).collect();
    let base = base(&state, &headers);
    let bundle = searchset(Page {
        base: &base,
        resource_type: t,
        params: &params,
        total,
        offset: s.offset,
        count: s.count,
        resources,
        now: state.clock.now(),
    });
    Ok(reply(StatusCode::OK, &bundle))
}

/// `GET /fhir/r4/{type}/{id}`: one resource.
async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, FhirError> {
    let t = resource_type(&name)?;
    let token = client(&state, &headers, t).await?;
    let key = id.clone();
    let row = state.store.read(move |c| db::read(c, t, &key)).await?;
    let detail = format!("patient={}", row.patient_id());
    audit(&state, &token, "fhir_read", t, Some(id), detail).await?;
    Ok(reply(StatusCode::OK, &resource(&state, row)))
}
