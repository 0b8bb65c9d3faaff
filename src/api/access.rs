//! The route × role table. It is the one place that says who may call what: the middleware
//! checks every request against it (a route missing from it is refused, fail closed), the
//! OpenAPI document is generated from it, and the RBAC test walks it.

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::{request::Parts, Method};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::AppState;
use crate::auth::role::Role::{self, Admin, Doctor, Nurse, Supervisor};
use crate::store::users::{session_user, User};

pub const SESSION_COOKIE: &str = "suifang_session";

/// Who may call a route.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    Public,
    /// Any logged-in user.
    Authenticated,
    Roles(&'static [Role]),
}

/// One API route.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
}

const fn route(
    method: &'static str,
    path: &'static str,
    access: Access,
    summary: &'static str,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        access,
        summary,
    }
}

const CLINICAL: Access = Access::Roles(&[Nurse, Supervisor, Doctor, Admin]);
const CALLERS: Access = Access::Roles(&[Nurse, Supervisor, Doctor]);
const MANAGERS: Access = Access::Roles(&[Supervisor, Admin]);
const ADMIN: Access = Access::Roles(&[Admin]);

/// Every route of the API.
pub const ROUTES: &[RouteSpec] = &[
    route(
        "GET",
        "/api/v1/health",
        Access::Public,
        "Liveness and schema version",
    ),
    route(
        "GET",
        "/api/v1/openapi.json",
        Access::Public,
        "This API's OpenAPI document",
    ),
    route(
        "POST",
        "/api/v1/session",
        Access::Public,
        "Log in (sets the session cookie)",
    ),
    route(
        "DELETE",
        "/api/v1/session",
        Access::Authenticated,
        "Log out",
    ),
    route(
        "GET",
        "/api/v1/me",
        Access::Authenticated,
        "The logged-in user",
    ),
    route(
        "GET",
        "/api/v1/patients",
        CLINICAL,
        "List patients (phones masked for nurses)",
    ),
    route(
        "POST",
        "/api/v1/patients",
        Access::Roles(&[Supervisor, Admin]),
        "Create a patient",
    ),
    route(
        "POST",
        "/api/v1/patients/import",
        Access::Roles(&[Supervisor, Admin]),
        "Import patients from CSV (all or nothing)",
    ),
    route(
        "GET",
        "/api/v1/patients/{id}",
        CLINICAL,
        "One patient (audited view)",
    ),
    route(
        "PUT",
        "/api/v1/patients/{id}/do-not-call",
        MANAGERS,
        "Set or clear the do-not-call flag",
    ),
    route(
        "POST",
        "/api/v1/patients/{id}/discharges",
        Access::Roles(&[Supervisor, Admin]),
        "Record a discharge and enrol in the matching pathway",
    ),
    route(
        "GET",
        "/api/v1/patients/{id}/tasks",
        CLINICAL,
        "Follow-up tasks of a patient",
    ),
    route("GET", "/api/v1/pathways", CLINICAL, "Loaded pathways"),
    route(
        "GET",
        "/api/v1/queue",
        CLINICAL,
        "Today's queue in rank order",
    ),
    route(
        "POST",
        "/api/v1/queue/build",
        MANAGERS,
        "Rebuild the queue now",
    ),
    route(
        "POST",
        "/api/v1/queue/claim",
        CALLERS,
        "Claim the next task (a lease)",
    ),
    route("GET", "/api/v1/tasks/{id}", CLINICAL, "One task"),
    route(
        "POST",
        "/api/v1/tasks/{id}/renew",
        CALLERS,
        "Extend the lease on a claimed task",
    ),
    route(
        "POST",
        "/api/v1/tasks/{id}/release",
        CALLERS,
        "Give a claimed task back",
    ),
    route(
        "POST",
        "/api/v1/tasks/{id}/disposition",
        CALLERS,
        "Record how the attempt ended",
    ),
    route("GET", "/api/v1/users", ADMIN, "List users"),
    route("POST", "/api/v1/users", ADMIN, "Create a user"),
    route("GET", "/api/v1/departments", CLINICAL, "List departments"),
    route("GET", "/api/v1/audit", ADMIN, "Recent audit entries"),
    route(
        "GET",
        "/api/v1/audit/verify",
        ADMIN,
        "Verify the audit hash chain",
    ),
    route(
        "GET",
        "/api/v1/agent/ws",
        CALLERS,
        "Agent line signaling (WebSocket: offer/answer/candidates, line check)",
    ),
];

pub fn find(method: &Method, path: &str) -> Option<&'static RouteSpec> {
    ROUTES
        .iter()
        .find(|r| r.method == method.as_str() && r.path == path)
}

/// The logged-in user, put in the request by [`authorize`].
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .ok_or_else(ApiError::unauthorized)
    }
}

pub fn session_token(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Middleware: resolves the session and enforces [`ROUTES`].
pub async fn authorize(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let Some(spec) = path.as_deref().and_then(|p| find(req.method(), p)) else {
        tracing::error!(method = %req.method(), path = ?path, "route missing from the access table");
        return Err(ApiError::forbidden());
    };
    if matches!(spec.access, Access::Public) {
        return Ok(next.run(req).await);
    }
    let token = session_token(req.headers()).ok_or_else(ApiError::unauthorized)?;
    let hash = crate::auth::token_hash(&token);
    let now = state.clock.now().timestamp();
    let user = state
        .store
        .read(move |c| session_user(c, &hash, now))
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if let Access::Roles(roles) = spec.access {
        if !roles.contains(&user.role) {
            return Err(ApiError::forbidden());
        }
    }
    req.extensions_mut().insert(CurrentUser(user));
    Ok(next.run(req).await)
}

/// OpenAPI 3.1 document generated from [`ROUTES`], so it cannot drift from what is served.
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        let roles = match r.access {
            Access::Public => "public".to_string(),
            Access::Authenticated => "any logged-in user".to_string(),
            Access::Roles(rs) => rs.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
        };
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "integer"}}))
            .collect();
        let mut op = json!({
            "summary": r.summary,
            "description": format!("Roles: {roles}."),
            "parameters": params,
            "responses": {
                "200": {"description": "OK"},
                "4XX": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if !matches!(r.access, Access::Public) {
            op["security"] = json!([{"session": []}]);
        }
        entry[r.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "suifang API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE}},
            "schemas": {"Error": {"type": "object", "properties": {"error": {"type": "object",
                "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                               "field": {"type": ["string", "null"]}}}}}}
        }
    })
}
