//! The HTTP API (JSON under `/api/v1`) and the console's static assets. Handlers are thin:
//! they validate, call the store or the domain, audit, and shape the response.

pub mod access;
mod admin;
pub mod error;
mod patients;
mod queue;
mod session;

use std::sync::{Arc, Mutex};

use axum::routing::{get, post, put};
use axum::Router;
use chrono::Duration;

use crate::auth::ratelimit::LoginLimiter;
use crate::clock::Clock;
use crate::config::Config;
use crate::followup::pathway::{Calendar, PathwayCatalog};
use crate::followup::retry::Locale;
use crate::store::Store;

/// Shared, read-mostly state of the HTTP layer.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub pathways: Arc<PathwayCatalog>,
    pub calendar: Arc<Calendar>,
    pub locale: Locale,
    pub login_limiter: Arc<Mutex<LoginLimiter>>,
    /// Agent lines (WebRTC); the SIP bridge attaches calls through it.
    pub lines: crate::webrtc::Lines,
}

impl AppState {
    pub fn new(
        store: Store,
        config: Arc<Config>,
        clock: Clock,
        pathways: PathwayCatalog,
        lines: crate::webrtc::Lines,
    ) -> Result<AppState, crate::config::ConfigError> {
        let tz = config.time_zone()?;
        let locale = Locale {
            tz,
            hours: config.calling_hours()?,
        };
        let calendar = Calendar {
            tz,
            holidays: config.hospital.holidays.clone(),
            tcm_two_business_days: config.hospital.tcm_two_business_days,
        };
        let limiter = LoginLimiter::new(
            config.auth.login_max_failures,
            Duration::minutes(config.auth.login_window_minutes),
        );
        Ok(AppState {
            store,
            config,
            clock,
            pathways: Arc::new(pathways),
            calendar: Arc::new(calendar),
            locale,
            login_limiter: Arc::new(Mutex::new(limiter)),
            lines,
        })
    }

    pub fn lease(&self) -> Duration {
        Duration::minutes(self.config.queue.lease_minutes)
    }
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/health", get(admin::health))
        .route(
            "/api/v1/openapi.json",
            get(|| async { axum::Json(access::openapi()) }),
        )
        .route(
            "/api/v1/session",
            post(session::login).delete(session::logout),
        )
        .route("/api/v1/me", get(session::me))
        .route(
            "/api/v1/patients",
            get(patients::list).post(patients::create),
        )
        .route("/api/v1/patients/import", post(patients::import_csv))
        .route("/api/v1/patients/{id}", get(patients::get_one))
        .route(
            "/api/v1/patients/{id}/do-not-call",
            put(patients::do_not_call),
        )
        .route(
            "/api/v1/patients/{id}/discharges",
            post(patients::discharge),
        )
        .route("/api/v1/patients/{id}/tasks", get(patients::tasks))
        .route("/api/v1/pathways", get(patients::pathways))
        .route("/api/v1/queue", get(queue::list))
        .route("/api/v1/queue/build", post(queue::build))
        .route("/api/v1/queue/claim", post(queue::claim))
        .route("/api/v1/tasks/{id}", get(queue::get_one))
        .route("/api/v1/tasks/{id}/renew", post(queue::renew))
        .route("/api/v1/tasks/{id}/release", post(queue::release))
        .route("/api/v1/tasks/{id}/disposition", post(queue::disposition))
        .route(
            "/api/v1/users",
            get(admin::list_users).post(admin::create_user),
        )
        .route("/api/v1/departments", get(admin::departments))
        .route("/api/v1/audit", get(admin::audit_recent))
        .route("/api/v1/audit/verify", get(admin::audit_verify))
        .route("/api/v1/agent/ws", get(crate::webrtc::ws::agent_ws))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::authorize,
        ))
        .fallback(|| async { error::ApiError::not_found("route") });
    Router::new()
        .merge(api)
        .merge(crate::web::router())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            16 * 1024 * 1024,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Audits in the same write transaction as the change it records.
pub(crate) fn actor(user: &crate::store::users::User) -> crate::store::audit::Actor {
    crate::store::audit::Actor {
        id: Some(user.id),
        name: user.username.clone(),
    }
}
