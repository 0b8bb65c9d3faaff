//! The call engine: the thin tokio shell around the sans-IO SIP endpoint and RTP pieces.
//!
//! One task owns the SIP socket and the [`crate::sip::ua::Endpoint`]; it places calls on
//! command, and when a call is answered spawns a media task that owns that call's RTP socket:
//! every 20 ms it sends one frame of agent audio, pops one frame of patient audio from the
//! jitter buffer and writes both to the stereo recorder (left agent, right patient). DTMF,
//! call state and finished recordings come back as [`EngineEvent`]s on a bounded channel.

mod config;
pub mod counters;
mod engine;
mod error;
mod event;
mod finisher;
mod leg;
mod media_session;
mod sip_io;
mod tcp;
pub mod tls;

pub use config::EngineConfig;
pub use counters::{MediaCounters, Snapshot as MediaSnapshot, LATE_TICK_MS};
pub use engine::Engine;
pub use error::CallsError;
pub use event::EngineEvent;
pub use leg::{bridge_pair, AgentSource, LegAudio, FRAME_CHANNEL_DEPTH, FRAME_SAMPLES};
pub use media_session::LATE_FRAME_WAIT;
pub use tls::{TlsError, TlsMaterial, TlsSettings};
