//! SIP (RFC 3261) without sockets: message parsing and serialisation, URIs, SDP offer/answer,
//! digest authentication, the transaction layer (§17) and the dialog/call layer on top.
//!
//! Every state machine here is sans-IO: it is fed received messages and timer expiries with
//! an explicit `now: Instant` and is polled for messages to send, timers to arm and events for
//! the call engine. The tokio UDP shell in `calls/` does nothing but move bytes and time.

pub mod auth;
pub mod error;
pub mod hdr;
pub mod headers;
pub mod message;
pub mod negotiate;
pub mod parse;
pub mod sdp;
pub mod transaction;
pub mod ua;
pub mod uri;

pub use error::SipError;
pub use message::{Message, Method, Request, Response};
