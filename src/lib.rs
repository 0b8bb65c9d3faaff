//! suifang (随访): a patient follow-up call center server.
//!
//! The crate is built on floors (see `ARCHITECTURE.md`, checked by `scripts/import-graph.py`):
//! foundation (`clock`, `private_fs`), protocol cores that own no sockets (`sip`, `rtp`,
//! `media`) and their tokio shell (`calls`), the clinical domain (`followup`, `auth`, `hl7`),
//! storage (`store`), configuration, live plumbing (`events`, `webrtc`), services (`service`,
//! `telephony`), the application's handles (`app`), the web layer (`api`), and the entry points
//! (`server`, `cli`, `demo`, `sim`, `bench`). Imports point down only. `main.rs` only parses
//! the command line.

pub mod api;
pub mod app;
pub mod auth;
pub mod bench;
pub mod calls;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod events;
pub mod fhir;
pub mod followup;
pub mod hl7;
pub mod media;
pub mod private_fs;
pub mod robot;
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
