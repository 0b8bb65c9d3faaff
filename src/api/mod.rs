//! The HTTP API (JSON under `/api/v1`) and the console's static assets. Handlers are thin:
//! they validate, call the store or the domain, audit, and shape the response.

pub mod access;
mod accounts;
mod admin;
mod admissions;
mod agent_line;
mod agents;
mod api_tokens;
mod calls;
mod care_teams;
pub mod csrf;
pub mod error;
mod escalations;
pub mod events;
mod fhir;
mod hl7;
mod hl7_outbox;
mod interfaces;
pub mod metrics;
mod notes;
mod patient_link;
mod patients;
mod queue;
mod reports;
mod retention;
mod reviews;
mod robot;
mod scripts;
mod session;
pub mod session_user;
mod sms;
mod tags;
mod transcripts;

use axum::Router;

pub use crate::app::AppState;

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
        .merge(fhir::router())
        .merge(crate::web::router())
        .merge(patient_link::router())
        .merge(sms::callbacks())
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
    crate::store::audit::Actor::user(user)
}
