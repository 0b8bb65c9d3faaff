//! suifang (随访): a patient follow-up call center server.
//!
//! The crate is organised as in `DESIGN.md`: protocol cores that own no sockets (`sip`, `rtp`,
//! `media`), the clinical domain (`followup`), storage (`store`), and thin I/O shells (`api`,
//! the UDP/WebSocket servers) around them. `main.rs` only parses the command line.

pub mod calls;
pub mod followup;
pub mod media;
pub mod rtp;
pub mod sip;
pub mod transcribe;
