//! suifang (随访): a patient follow-up call center server.
//!
//! The crate is organised as in `DESIGN.md`: protocol cores that own no sockets (`sip`, `rtp`,
//! `media`), the clinical domain (`followup`), storage (`store`), and thin I/O shells (`api`,
//! the UDP/WebSocket servers) around them. `main.rs` only parses the command line.

pub mod api;
pub mod auth;
pub mod bench;
pub mod calls;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod followup;
pub mod hl7;
pub mod media;
pub mod private_fs;
pub mod rtp;
pub mod server;
pub mod service;
pub mod sim;
pub mod sip;
pub mod store;
pub mod telephony;
pub mod thread_priority;
pub mod transcribe;
pub mod web;
pub mod webrtc;
