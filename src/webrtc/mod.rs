//! The nurse's agent line: one persistent WebRTC connection per logged-in agent, negotiated
//! once over the console's WebSocket and kept while calls come and go, so placing a call needs
//! no new ICE/DTLS handshake.
//!
//! The rest of the server sees plain audio only: [`Lines::attach`] hands out a [`LineMedia`]
//! (20 ms frames of 8 kHz mono `i16` both ways over bounded channels), whatever the browser
//! negotiated. The answer offers only G.711 (PCMU preferred, PCMA, telephone-event), so audio
//! can pass to a SIP trunk without transcoding.
//!
//! How the SIP bridge attaches a call to the nurse's line (`AppState::lines`):
//!
//! ```no_run
//! # async fn bridge(lines: suifang::webrtc::Lines, agent_id: i64) -> Result<(), suifang::webrtc::LineError> {
//! use suifang::webrtc::AudioFrame;
//! // on answer; `false`: a call may attach while the console is reloading
//! let mut media = lines.attach(agent_id, false).await?;
//! // patient → nurse: one frame per 20 ms as RTP arrives (the line drops the oldest if late)
//! media.to_agent.send(AudioFrame::SILENCE).await.ok();
//! // nurse → patient
//! while let Some(frame) = media.from_agent.recv().await {
//!     let _ = frame; // encode to the trunk's G.711 and send
//! #   break;
//! }
//! drop(media); // hang-up: detaches, the line stays up for the next call
//! # Ok(()) }
//! ```
//!
//! ```text
//! browser ──WS /api/v1/agent/ws── api::agent_line ──ClientLink──┐
//!    │                                                           ▼
//!    └──── SRTP (G.711) ─────────── peer::Peer ◄──── line::Line task ──LineMedia──► SIP bridge
//!                                                         ▲                        or line check
//!                              registry::LineRegistry ────┘ (starts/finds line tasks)
//! ```

mod codec;
pub mod error;
pub mod frame;
mod g711;
mod line;
pub mod line_check;
mod peer;
pub mod probe;
mod registry;
mod resample;
pub mod signaling;

pub use crate::config::{IceServer, WebRtcConfig};
pub use error::LineError;
pub use frame::{AudioFrame, LineMedia, FRAME_SAMPLES};
pub use line::Agent;
pub use registry::{ClientLink, LineRegistry, Lines};
