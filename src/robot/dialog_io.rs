//! What goes in and out of a robot call's [`Dialog`](super::dialog::Dialog): its settings,
//! the events the shell feeds it, the actions it asks for, how the conversation ended and the
//! per-question log. Plain data, shared by the state machine, its shell and the store.

use serde::Serialize;

use super::prompt::Prompt;
use crate::followup::script::{AnswerValue, Bilingual, QuestionId, Severity};

/// Timers and thresholds of a robot conversation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DialogSettings {
    /// After a prompt ends, how long to wait for the first key.
    pub first_key_ms: u64,
    /// After a key, how long to wait for the next one.
    pub inter_key_ms: u64,
    /// A finding at least this severe hands the call to a nurse.
    pub handoff_at: Severity,
}

impl Default for DialogSettings {
    fn default() -> Self {
        DialogSettings {
            first_key_ms: 7_000,
            inter_key_ms: 4_000,
            handoff_at: Severity::High,
        }
    }
}

/// Identifies one playlist, so a "finished" report about a playlist already replaced (a key
/// interrupted it) is told apart from the current one's.
pub type PlayId = u32;

/// What happened on the call.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The patient answered (time 0 of the call's clock).
    Answered,
    /// Playlist `PlayId` played to its end.
    PromptDone(PlayId),
    /// An RFC 4733 key.
    Key(char),
    /// The time given by the last [`Action::WakeAt`] has come.
    Timer,
    /// The patient hung up (or the line dropped).
    HungUp,
    /// The answer of the last [`Action::Save`] is stored; `finding` is the most severe rule it
    /// made fire, if any.
    Saved {
        /// The worst finding of this save.
        finding: Option<FindingBrief>,
    },
    /// The answer of the last [`Action::Save`] could not be stored.
    SaveFailed {
        /// Why, for the log.
        error: String,
    },
    /// A nurse took the call (the bridge has it now).
    NurseTook,
    /// Nobody took it within the hand-off wait.
    NoNurse,
}

/// The part of a rule's finding the conversation acts on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingBrief {
    /// The rule.
    pub rule: String,
    /// How severe.
    pub severity: Severity,
    /// What the patient should be told.
    pub advice: Option<Bilingual>,
}

/// Why a call goes to a nurse.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum HandoffReason {
    /// The patient pressed 0.
    PatientAsked,
    /// An answer made a rule fire at or above the hand-off severity.
    Finding {
        /// The answer's question.
        question: QuestionId,
        /// The rule and its severity.
        finding: FindingBrief,
    },
}

/// How the conversation ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Every question the robot could ask was answered and confirmed.
    Completed,
    /// The questions were gone through, but some answers stay unconfirmed (a nurse asks them).
    Incomplete {
        /// The unconfirmed ones.
        unconfirmed: Vec<QuestionId>,
    },
    /// The patient pressed 2 at the consent question.
    Declined,
    /// No valid consent key, twice.
    NoConsent,
    /// A nurse took the call.
    HandedOff {
        /// Why.
        reason: HandoffReason,
    },
    /// No nurse was free: the advice was played and a nurse calls back.
    CallBack {
        /// Why a nurse was wanted.
        reason: HandoffReason,
    },
    /// The patient hung up before the end.
    HungUp {
        /// The question open at the time.
        during: Option<QuestionId>,
    },
}

impl Outcome {
    /// Whether every question was answered (the task is done).
    pub fn completed(&self) -> bool {
        matches!(self, Outcome::Completed)
    }
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Play these prompts in order, replacing whatever plays; report [`Event::PromptDone`]
    /// with `id` at the end. With `barge_in` a key stops it (the shell then sends nothing).
    Play {
        /// Playlist id.
        id: PlayId,
        /// What to say.
        prompts: Vec<Prompt>,
        /// Whether a key interrupts it.
        barge_in: bool,
    },
    /// Stop playing now (a key interrupted the prompt).
    StopPlaying,
    /// Send [`Event::Timer`] at this time (replaces any earlier timer).
    WakeAt(u64),
    /// Save this answer through the answer service (source: robot), then report
    /// [`Event::Saved`] or [`Event::SaveFailed`].
    Save {
        /// The question.
        question: QuestionId,
        /// The validated value.
        value: AnswerValue,
    },
    /// Store this line of the per-question log.
    Log(QuestionLog),
    /// Offer the call to a free nurse; report [`Event::NurseTook`] or [`Event::NoNurse`].
    OfferToNurse(HandoffReason),
    /// The conversation is over; hang up when `hang_up` (the patient has not already).
    End {
        /// How it ended.
        outcome: Outcome,
        /// Whether the shell must hang up.
        hang_up: bool,
    },
}

/// What became of one question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionStatus {
    /// Answered (and confirmed, for numbers).
    Answered,
    /// No usable answer after the re-ask.
    Unconfirmed,
    /// Not a keypad question (free text, a date): left to a nurse.
    Skipped,
    /// The patient pressed 0.
    NurseRequested,
    /// The patient hung up while it was asked.
    HungUp,
    /// The answer could not be stored.
    NotSaved,
}

/// One line of the per-question log: what supervisors read to see how the robot did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionLog {
    /// The question (`consent` for the consent question).
    pub question: String,
    /// When its prompt started (ms into the call).
    pub prompt_at_ms: u64,
    /// When the answer was complete (ms into the call).
    pub answer_at_ms: Option<u64>,
    /// Every key pressed for it, re-asks and confirmation included.
    pub keys: String,
    /// The value taken, if any.
    pub value: Option<AnswerValue>,
    /// Times it was asked (2 = re-asked once).
    pub attempts: u8,
    /// How it ended.
    pub status: QuestionStatus,
}
