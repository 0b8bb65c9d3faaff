//! SIP (RFC 3261) without sockets: message parsing and serialisation, URIs, SDP offer/answer,
//! digest authentication, the transaction layer (§17) and the dialog/call layer on top.
//!
//! Every state machine here is sans-IO: it is fed received messages and timer expiries with
//! an explicit `now: Instant` and is polled for messages to send, timers to arm and events for
//! the call engine. The tokio UDP shell in `calls/` does nothing but move bytes and time.
//!
//! Layers, bottom up: [`parse`]/[`message`]/[`headers`]/[`uri`]/[`hdr`] (wire format),
//! [`sdp`]/[`negotiate`] (offer/answer), [`auth`] (digest), [`transaction`] (RFC 3261 §17),
//! [`ua`] (dialogs, calls, registration: the [`ua::Endpoint`] the shell drives).
//!
//! Why our own stack rather than a crate: the stack must be deterministic under injected time
//! (every timer path above is unit-tested without sleeping), must never panic on hostile input
//! (fuzzed in `fuzz/`), and needs only the trunk-facing subset of SIP (UDP, INVITE/ACK/BYE/
//! CANCEL/OPTIONS/REGISTER, digest, hold). rsipstack, the closest candidate, runs its endpoint,
//! transports and timers on tokio itself, so its timer paths cannot be driven with injected
//! time; a focused sans-IO core of this size is easier to test and audit for a clinical system.

pub mod auth;
pub mod error;
pub mod hdr;
pub mod headers;
pub mod message;
pub mod method;
pub mod negotiate;
pub mod parse;
pub mod registrar;
pub mod sdes;
pub mod sdp;
pub mod transaction;
pub mod transport;
pub mod ua;
pub mod uri;

pub use error::SipError;
pub use message::{Message, Method, Request, Response};
