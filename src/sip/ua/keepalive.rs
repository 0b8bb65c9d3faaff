//! OPTIONS pings to the trunk (RFC 3261 §11): is the PBX or gateway there before a nurse dials?
//!
//! Without them the first sign of a dead trunk is a patient's call failing after Timer B (32 s)
//! while the nurse waits. Every `interval` one OPTIONS goes to the trunk; any final response,
//! whatever its code (a 404 or 405 from a PBX that does not like OPTIONS still proves it is
//! there and routing), means reachable, and Timer F without one means unreachable. Each result
//! is reported as [`EndpointOutput::TrunkHealth`]; the next ping is scheduled from when the
//! previous one was sent, so a dead trunk is probed at the same pace as a live one. The pings
//! also keep NAT bindings on the way to the trunk open.

use std::time::{Duration, Instant};

use super::endpoint::{Endpoint, EndpointOutput};
use crate::sip::message::{Method, Request, Response};
use crate::sip::transaction::TxKey;
use crate::sip::uri::{NameAddr, SipUri};
use crate::sip::SipError;

/// What the last OPTIONS ping found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrunkHealth {
    /// The trunk answered.
    Reachable {
        /// Its final status (200, or e.g. 405 from a PBX that does not implement OPTIONS).
        status: u16,
        /// Request to final response.
        round_trip: Duration,
    },
    /// No final response before Timer F (64·T1), or the request could not be sent.
    Unreachable,
}

pub(super) struct Keepalive {
    target: SipUri,
    interval: Duration,
    cseq: u32,
    key: Option<TxKey>,
    sent_at: Option<Instant>,
    pub(super) next_at: Option<Instant>,
}

impl Endpoint {
    /// Pings `target` (the trunk, e.g. `sip:gateway.hospital.example`) with OPTIONS now and then
    /// every `interval`, reporting each result as [`EndpointOutput::TrunkHealth`].
    pub fn keep_alive(&mut self, target: SipUri, interval: Duration, now: Instant) {
        self.keepalive = Some(Keepalive {
            target,
            interval: interval.max(Duration::from_secs(1)),
            cseq: 0,
            key: None,
            sent_at: None,
            next_at: Some(now),
        });
        self.keepalive_timer(now);
    }

    fn send_options(&mut self, now: Instant) -> Result<(), SipError> {
        let via = self.new_via();
        let contact = self.contact();
        let call_id = self.new_call_id();
        let tag = self.new_tag();
        let from_user = self.cfg.from_user.clone();
        let from_domain = self.cfg.from_domain.clone();
        let ua = self.cfg.user_agent.clone();
        let Some(ka) = self.keepalive.as_mut() else {
            return Ok(());
        };
        ka.cseq += 1;
        ka.sent_at = Some(now);
        ka.next_at = Some(now + ka.interval);
        let mut from = NameAddr::new(SipUri::new(Some(&from_user), &from_domain, None));
        from.set_tag(&tag);
        let mut req = Request::new(Method::Options, ka.target.clone());
        req.headers.push("Via", via.to_string());
        req.headers.push("Max-Forwards", "70");
        req.headers.push("From", from.to_string());
        req.headers
            .push("To", NameAddr::new(ka.target.clone()).to_string());
        req.headers.push("Call-ID", call_id);
        req.headers.push("CSeq", format!("{} OPTIONS", ka.cseq));
        req.headers.push("Contact", contact);
        req.headers.push("Accept", "application/sdp");
        req.headers.push("User-Agent", ua);
        let dest = self.next_hop(&req)?;
        let key = self.start_client(req, None, dest, now)?;
        if let Some(ka) = self.keepalive.as_mut() {
            // A response to the previous ping that comes after this one was sent is ignored.
            ka.key = Some(key);
        }
        Ok(())
    }

    /// A final response to one of our pings (responses to an earlier ping are ignored).
    pub(super) fn on_options_response(&mut self, key: &TxKey, resp: &Response, now: Instant) {
        let Some(ka) = self.keepalive.as_mut() else {
            return;
        };
        if ka.key.as_ref() != Some(key) || resp.status < 200 {
            return;
        }
        ka.key = None;
        let round_trip = ka
            .sent_at
            .map(|t| now.saturating_duration_since(t))
            .unwrap_or_default();
        self.push_output(EndpointOutput::TrunkHealth(TrunkHealth::Reachable {
            status: resp.status,
            round_trip,
        }));
    }

    pub(super) fn on_options_timeout(&mut self, key: &TxKey) {
        let Some(ka) = self.keepalive.as_mut() else {
            return;
        };
        if ka.key.as_ref() == Some(key) {
            ka.key = None;
            self.push_output(EndpointOutput::TrunkHealth(TrunkHealth::Unreachable));
        }
    }

    /// Sends the next ping when due. A ping still unanswered when the next is due (Timer F is
    /// longer than a short interval) is reported unreachable first.
    pub(super) fn keepalive_timer(&mut self, now: Instant) {
        let Some(ka) = self.keepalive.as_mut() else {
            return;
        };
        if ka.next_at.is_none_or(|t| t > now) {
            return;
        }
        if ka.key.take().is_some() {
            self.push_output(EndpointOutput::TrunkHealth(TrunkHealth::Unreachable));
        }
        if let Err(e) = self.send_options(now) {
            tracing::debug!(error = %e, "cannot send OPTIONS to the trunk");
            self.push_output(EndpointOutput::TrunkHealth(TrunkHealth::Unreachable));
        }
    }
}
