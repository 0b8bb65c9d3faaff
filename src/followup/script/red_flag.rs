//! Red-flag phrases: what, said by the patient on a recorded call, should reach a doctor even if
//! no answer tripped a rule (ARCHITECTURE.md flow 5: the finished transcript is searched and may open
//! escalations marked as coming from the transcript).

use serde::Serialize;

use super::{Bilingual, Route, RuleId, Severity};

/// A named list of phrases with the severity and routing of the escalation they open.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedFlag {
    /// Stable id; the escalation de-duplication key, like a rule id.
    pub id: RuleId,
    /// Phrases matched case-insensitively as substrings. Chinese has no word breaks, so
    /// substring matching is the only sensible default; it over-matches ("没有胸痛" contains
    /// "胸痛") on purpose: a doctor dismisses a false alarm, nobody recovers a missed one.
    pub phrases: Vec<String>,
    /// How urgent.
    pub severity: Severity,
    /// To whom.
    pub route: Route,
    /// Minutes to acknowledge before re-escalation.
    pub ack_sla_minutes: u32,
    /// What the doctor should do (usually: call the patient back).
    pub advice: Option<Bilingual>,
}
