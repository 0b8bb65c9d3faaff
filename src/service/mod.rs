//! Workflows that span the clinical domain and storage: saving an answer (and escalating it),
//! and the background workers that keep promises made to doctors (SLA re-escalation, webhook
//! delivery). Each function runs in one store transaction; pushing to consoles happens after it
//! commits, so nobody is told of an escalation that was rolled back.

pub mod answers;
pub mod audit_anchor;
pub mod findings;
pub mod hl7;
pub mod hl7_results;
pub mod labs;
pub mod notify;
pub mod patient_link;
pub mod retention;
pub mod rule_tags;
pub mod sms;
pub mod task_scripts;
pub mod transcript_evidence;
pub mod transcription;

use crate::followup::script::AnswerError;
use crate::store::StoreError;

/// Errors of the workflow layer.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Answer(#[from] AnswerError),
    #[error("task {0} has no script to answer")]
    NoScript(i64),
    #[error("script `{0}` is not loaded")]
    UnknownScript(String),
    #[error(transparent)]
    AddScript(#[from] task_scripts::AddScriptError),
}

impl From<rusqlite::Error> for ServiceError {
    fn from(e: rusqlite::Error) -> Self {
        ServiceError::Store(e.into())
    }
}
