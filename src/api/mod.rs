//! The HTTP API (JSON under `/api/v1`) and the console's static assets. Handlers are thin:
//! they validate, call the store or the domain, audit, and shape the response.

pub mod access;
mod accounts;
mod admin;
mod admissions;
mod agents;
mod calls;
mod care_teams;
pub mod csrf;
pub mod error;
mod escalations;
pub mod events;
mod hl7;
pub mod metrics;
mod notes;
mod patients;
mod queue;
mod reports;
mod retention;
mod reviews;
mod scripts;
mod session;
mod tags;
mod transcripts;

use std::sync::{Arc, Mutex};

use axum::Router;
use chrono::Duration;

use crate::auth::ratelimit::LoginLimiter;
use crate::clock::Clock;
use crate::config::Config;
use crate::followup::pathway::{Calendar, PathwayCatalog};
use crate::followup::retry::Locale;
use crate::followup::script::ScriptCatalog;
use crate::store::Store;

/// Shared, read-mostly state of the HTTP layer.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub pathways: Arc<PathwayCatalog>,
    pub scripts: Arc<ScriptCatalog>,
    pub calendar: Arc<Calendar>,
    pub locale: Locale,
    pub login_limiter: Arc<Mutex<LoginLimiter>>,
    /// Bounds the argon2 verifications running at once (`auth.max_concurrent_verifications`).
    pub verifications: crate::auth::slots::Slots,
    /// `http.trusted_proxies`, parsed: whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    pub events: events::EventBus,
    /// Agent lines (WebRTC); the SIP bridge attaches calls through it.
    pub lines: crate::webrtc::Lines,
    /// The call center (SIP engine and live calls).
    pub calls: crate::telephony::CallCenter,
    /// Wakes the transcription pipeline (a recording was finalized, a re-transcription asked).
    pub transcription: crate::service::transcription::Wake,
    /// The recordings folder and the rule for the paths stored in `recordings.path`.
    pub recordings: crate::store::recording_files::RecordingsRoot,
}

impl AppState {
    pub fn new(
        store: Store,
        config: Arc<Config>,
        clock: Clock,
        pathways: PathwayCatalog,
        scripts: ScriptCatalog,
        lines: crate::webrtc::Lines,
        calls: crate::telephony::CallCenter,
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
            clock,
            pathways: Arc::new(pathways),
            scripts: Arc::new(scripts),
            calendar: Arc::new(calendar),
            locale,
            login_limiter: Arc::new(Mutex::new(limiter)),
            verifications: crate::auth::slots::Slots::new(config.auth.max_concurrent_verifications),
            trusted_proxies: Arc::new(config.http.trusted_proxies()?),
            events: events::EventBus::default(),
            lines,
            calls,
            transcription: Default::default(),
            recordings: crate::store::recording_files::RecordingsRoot::new(
                &config.recordings_path(),
            ),
            config,
        })
    }

    pub fn lease(&self) -> Duration {
        Duration::minutes(self.config.queue.lease_minutes)
    }
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let api = access::ROUTES
        .iter()
        .fold(Router::new(), |router, r| {
            router.route(r.path, (r.handler)())
        })
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::authorize,
        ))
        .fallback(|| async { error::ApiError::not_found("route") })
        // outside `authorize`: a forged request is refused before its session is looked at
        .layer(axum::middleware::from_fn(csrf::same_origin_writes));
    Router::new()
        .merge(api)
        .merge(crate::web::router())
        // the largest body any route takes; each extractor holds the rest to 2 MiB
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            patients::IMPORT_MAX_BYTES,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

pub(crate) use agents::differs_from_login;

/// Audits in the same write transaction as the change it records.
pub(crate) fn actor(user: &crate::store::users::User) -> crate::store::audit::Actor {
    crate::store::audit::Actor {
        id: Some(user.id),
        name: user.username.clone(),
    }
}
