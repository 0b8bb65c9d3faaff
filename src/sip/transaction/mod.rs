//! The RFC 3261 §17 transaction layer: four sans-IO state machines.
//!
//! A transaction retransmits over UDP, absorbs retransmissions from the peer and turns silence
//! into a timeout, so the dialog layer above sees each request and response once. Each machine
//! is driven by `handle_*(…, now)` and `handle_timeout(now)` and drained with `poll_output()`;
//! `poll_timeout()` says when it next needs `handle_timeout`. Timer names follow §17 (A–K) and
//! RFC 6026 (L, M).

mod client_invite;
mod client_non_invite;
mod server_invite;
mod server_non_invite;
mod timers;

pub use client_invite::ClientInvite;
pub use client_non_invite::ClientNonInvite;
pub use server_invite::ServerInvite;
pub use server_non_invite::ServerNonInvite;
pub use timers::{TimerConfig, TimerKind};

use super::message::{Method, Request, Response};
use super::SipError;

/// What a transaction asks of its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxOutput {
    /// Send this request (client side: original or retransmission, or the ACK for a non-2xx).
    SendRequest(Request),
    /// Send this response (server side).
    SendResponse(Response),
    /// A response for the transaction user (client side), each distinct one once; 2xx to
    /// INVITE retransmissions are passed up too so the dialog can re-send its ACK (§13.2.2.4).
    Response(Response),
    /// The server INVITE got its ACK (non-2xx: §17.2.1; 2xx: see [`ServerInvite::ack_received`]).
    AckReceived,
    /// Timer B/F/H fired: no response (client) or no ACK (server).
    Timeout,
}

/// Lifecycle states shared by the four machines (§17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2 and
/// RFC 6026 §7.1 "Accepted").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxState {
    /// Client INVITE before any response.
    Calling,
    /// Client non-INVITE / server non-INVITE before any response.
    Trying,
    /// A provisional response has been received or sent.
    Proceeding,
    /// A 2xx to INVITE was received or sent (RFC 6026).
    Accepted,
    /// A final non-2xx (or any final for non-INVITE) was received or sent.
    Completed,
    /// Server INVITE: the ACK for a non-2xx arrived.
    Confirmed,
    /// Done; the owner may drop the machine.
    Terminated,
}

/// Identifies a transaction (§17.1.3 client, §17.2.3 server): the Via branch, the sent-by of
/// the top Via (server side), and the method, with ACK and CANCEL matched to their INVITE
/// separately by the endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TxKey {
    /// Top Via branch (must start with the RFC 3261 magic cookie).
    pub branch: String,
    /// Top Via sent-by `host:port` (empty for client keys).
    pub sent_by: String,
    /// Method; ACK is keyed as INVITE so it finds its server transaction.
    pub method: Method,
}

impl TxKey {
    /// Key of a client transaction for a response we received (branch + CSeq method).
    pub fn for_response(resp: &Response) -> Result<Self, SipError> {
        let via = resp.top_via()?;
        let branch = via
            .branch()
            .ok_or(SipError::MissingHeader("Via branch"))?
            .to_owned();
        Ok(Self {
            branch,
            sent_by: String::new(),
            method: resp.cseq()?.method,
        })
    }

    /// Key of a client transaction for a request we send.
    pub fn for_client_request(req: &Request) -> Result<Self, SipError> {
        let via = req.top_via()?;
        let branch = via
            .branch()
            .ok_or(SipError::MissingHeader("Via branch"))?
            .to_owned();
        Ok(Self {
            branch,
            sent_by: String::new(),
            method: req.method.clone(),
        })
    }

    /// Key of a server transaction for a received request; ACK maps to the INVITE's key.
    pub fn for_server_request(req: &Request) -> Result<Self, SipError> {
        let via = req.top_via()?;
        let branch = via
            .branch()
            .ok_or(SipError::MissingHeader("Via branch"))?
            .to_owned();
        let method = if req.method == Method::Ack {
            Method::Invite
        } else {
            req.method.clone()
        };
        Ok(Self {
            branch,
            sent_by: format!(
                "{}:{}",
                via.host.to_ascii_lowercase(),
                via.port.unwrap_or(5060)
            ),
            method,
        })
    }
}
