//! The nurse's agent line: one persistent WebRTC connection per logged-in agent, negotiated
//! once over the console's WebSocket and kept while calls come and go, so placing a call needs
//! no new ICE/DTLS handshake.
//!
//! The rest of the server sees plain audio only: [`Lines::attach`] hands out a [`LineMedia`]
//! (20 ms frames of 8 kHz mono `i16` both ways over bounded channels), whatever the browser
//! negotiated. The answer offers only G.711 (PCMU preferred, PCMA, telephone-event), so audio
//! can pass to a SIP trunk without transcoding.
//!
//! ```text
//! browser ──WS /api/v1/agent/ws── ws::Session ──ClientLink──┐
//!    │                                                       ▼
//!    └──── SRTP (G.711) ─────────── peer::Peer ◄──── line::Line task ──LineMedia──► SIP bridge
//!                                                         ▲                        or line check
//!                              registry::LineRegistry ────┘ (starts/finds line tasks)
//! ```

pub mod bench;
mod codec;
pub mod config;
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
pub mod ws;

pub use config::{IceServer, WebRtcConfig};
pub use error::LineError;
pub use frame::{AudioFrame, LineMedia, FRAME_SAMPLES};
pub use line::Agent;
pub use registry::{ClientLink, LineRegistry, Lines};
