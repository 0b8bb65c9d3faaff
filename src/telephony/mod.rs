//! The call center: places a nurse's calls to patients through the SIP trunk, bridges them to
//! the nurse's browser line, routes patients' call-backs, records every call and keeps the
//! `calls` and `recordings` rows, the tasks' dispositions and the live events in step.
//!
//! - [`config`]: the `[sip]` table.
//! - [`prompts`]: audio prompts decoded and resampled once at start-up.
//! - [`mixer`]: who hears whom (nurse, patient, announcement, supervisors), per 20 ms frame.
//! - [`bridge`]: the task that runs the mixer between a SIP leg and browser lines.
//! - [`outcome`]: call outcome → end reason and task disposition.
//! - [`call_state`]: a live call's state and its legal moves.
//! - [`center`]: the actor that owns the SIP engine and every live call.
//! - [`recovery`]: the start-up sweep after a crash (repairs WAV headers, ends dead calls).

pub mod bridge;
pub mod call_state;
pub mod center;
pub mod desk_line;
pub mod mixer;
pub mod outcome;
pub mod prompts;
pub mod recovery;
pub mod robot;
pub mod robot_dialer;
pub mod robot_voice;
pub mod routing;
mod sip_tls;

pub use crate::config::SipConfig;
pub use center::{CallCenter, CallCenterError, CallCommand};
pub use mixer::MonitorMode;
pub use prompts::Prompts;
