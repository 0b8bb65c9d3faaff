//! The user agent: a sans-IO SIP endpoint that places and receives calls.
//!
//! [`Endpoint`] owns the transactions and dialogs of every call on one SIP socket. It is fed
//! datagrams and timer expiries with `now` and yields datagrams to send and [`CallEvent`]s for
//! the call engine — the same shape as the transaction machines below it, one level up.

pub mod admission;
mod dialog;
mod endpoint;
mod keepalive;
mod outcome;
mod register;
mod types;
mod uac;
mod uas;
mod update;

pub use dialog::Dialog;
pub use endpoint::{
    CallEvent, CallHandle, CallOptions, Credentials, Endpoint, EndpointConfig, EndpointOutput,
    Transport,
};
pub use keepalive::TrunkHealth;
pub use outcome::{CallOutcome, Party};
pub use register::RegistrationState;

#[cfg(test)]
mod tests;
