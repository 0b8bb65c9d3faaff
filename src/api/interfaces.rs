//! `GET /api/v1/interfaces`: the interfaces page's summary (issue 17 item 7): the HL7
//! listener (its configured address and allow list, the messages it stored by status, the
//! last one), the results sender (target, message kind, outbox counts) and the FHIR API (live
//! API tokens). The lists behind it are `/hl7/messages`, `/hl7/outbox` and `/api-tokens`.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use super::AppState;
use crate::store::{api_tokens, hl7_outbox, interfaces};

pub async fn summary(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (inbound, outbox, tokens) = state
        .store
        .read(|c| {
            Ok((
                interfaces::inbound_summary(c)?,
                hl7_outbox::counts(c)?,
                api_tokens::list(c)?,
            ))
        })
        .await?;
    let hl7 = &state.config.hl7;
    let live_tokens = tokens.iter().filter(|t| t.revoked_at.is_none()).count();
    Ok(Json(json!({
        "listener": {
            // the server does not start when a configured listener cannot bind: configured is
            // listening (with port 0 the bound port is the one printed at start)
            "listening": hl7.listen.is_some(),
            "listen": hl7.listen.map(|a| a.to_string()),
            "allow": hl7.allow,
            "counts": inbound.counts,
            "last_received_at": inbound.last_received_at,
        },
        "results": {
            "enabled": hl7.results.enabled(),
            "target": hl7.results.target.map(|a| a.to_string()),
            "message": hl7.results.message,
            "counts": outbox,
        },
        "fhir": {
            "base": "/fhir/r4",
            "live_tokens": live_tokens,
        },
    })))
}
