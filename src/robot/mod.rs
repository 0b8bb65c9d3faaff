//! Robot follow-up calls (issue 24): suifang asks a script's questions itself and hands the
//! patient to a nurse when it matters.
//!
//! The clinical-domain half, sans-IO like `sip` and `followup`:
//! - [`dialog`]: one call's conversation as a state machine fed events (answered, prompt
//!   finished, key, timer, hang-up, answer saved, nurse found or not) that emits actions (play
//!   these prompts, wake me at, save this answer, log this question, offer the call to a
//!   nurse, end).
//! - [`dialog_io`]: what goes in and out of it (events, actions, outcome, question log).
//! - [`keys`]: keypad (RFC 4733) answers per question type.
//! - [`speech`]: text of a spoken answer turned into the question's type, with a confidence
//!   (yes/no vocabulary in zh/en, Chinese and English numerals, blood pressure). The speech
//!   path (endpointing and closed-set recognition) will hand its text to these and feed the
//!   dialog a `Speech` event beside `Key`.
//! - [`prompt`]: what the robot says, by role, in either language.
//! - [`after_call`]: what a call's end does to its task (complete, nurses, retry, wait).
//!
//! The I/O half lives in `telephony::robot` (the call's media, timers, hand-off and what its
//! end writes), `telephony::robot_dialer` (which tasks, when), `store::robot` (their rows) and
//! `service::answers::save_robot_answer` (answers through the same rules as a nurse's).

pub mod after_call;
pub mod dialog;
pub mod dialog_io;
pub mod keys;
pub mod prompt;
pub mod speech;

pub use dialog::{Action, Dialog, DialogSettings, Event, FindingBrief, HandoffReason, Outcome};
pub use prompt::{Lang, Prompt};
