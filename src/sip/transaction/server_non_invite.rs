//! Server non-INVITE transaction (RFC 3261 §17.2.2).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::timers::{TimerConfig, TimerKind, Timers};
use super::{TxOutput, TxState};
use crate::sip::message::{Request, Response};

/// Answers BYE/OPTIONS/CANCEL…: repeats the last response to retransmitted requests and lingers
/// for timer J after the final one.
#[derive(Debug)]
pub struct ServerNonInvite {
    request: Request,
    cfg: TimerConfig,
    state: TxState,
    timers: Timers,
    last_response: Option<Response>,
    out: VecDeque<TxOutput>,
}

impl ServerNonInvite {
    /// Creates the transaction for a received request (state Trying).
    pub fn new(request: Request, cfg: TimerConfig) -> Self {
        Self {
            request,
            cfg,
            state: TxState::Trying,
            timers: Timers::default(),
            last_response: None,
            out: VecDeque::new(),
        }
    }

    /// The request being answered.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Current state.
    pub fn state(&self) -> TxState {
        self.state
    }

    /// Feeds a retransmission of the request.
    pub fn handle_request(&mut self, _req: &Request, _now: Instant) {
        if matches!(self.state, TxState::Proceeding | TxState::Completed) {
            if let Some(r) = &self.last_response {
                self.out.push_back(TxOutput::SendResponse(r.clone()));
            }
        }
    }

    /// Sends a response from the transaction user.
    pub fn send_response(&mut self, resp: Response, now: Instant) {
        if !matches!(self.state, TxState::Trying | TxState::Proceeding) {
            return;
        }
        let final_response = resp.status >= 200;
        self.out.push_back(TxOutput::SendResponse(resp.clone()));
        self.last_response = Some(resp);
        if final_response {
            self.state = TxState::Completed;
            let j = if self.cfg.reliable {
                Duration::ZERO
            } else {
                self.cfg.timeout()
            };
            self.timers.set(TimerKind::J, now + j);
        } else {
            self.state = TxState::Proceeding;
        }
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(kind) = self.timers.pop_due(now) {
            if kind == TimerKind::J {
                self.timers.clear();
                self.state = TxState::Terminated;
            }
        }
    }

    /// Next output, if any.
    pub fn poll_output(&mut self) -> Option<TxOutput> {
        self.out.pop_front()
    }

    /// When `handle_timeout` is next needed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// True when the owner may drop this transaction.
    pub fn is_terminated(&self) -> bool {
        self.state == TxState::Terminated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Method;
    use crate::sip::uri::SipUri;

    fn options() -> Request {
        let mut r = Request::new(
            Method::Options,
            SipUri::parse("sip:suifang@127.0.0.1").expect("uri"),
        );
        r.headers
            .push("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKo1");
        r.headers.push("From", "<sip:p@h>;tag=a");
        r.headers.push("To", "<sip:s@h>");
        r.headers.push("Call-ID", "o");
        r.headers.push("CSeq", "1 OPTIONS");
        r
    }

    fn drain(tx: &mut ServerNonInvite) -> Vec<TxOutput> {
        std::iter::from_fn(|| tx.poll_output()).collect()
    }

    #[test]
    fn absorbs_in_trying_repeats_after_response_and_ends_with_j() {
        let t0 = Instant::now();
        let mut tx = ServerNonInvite::new(options(), TimerConfig::default());
        tx.handle_request(&options(), t0);
        assert!(drain(&mut tx).is_empty());
        tx.send_response(Response::for_request(&options(), 200, Some("t")), t0);
        tx.handle_request(&options(), t0 + Duration::from_secs(1));
        let out = drain(&mut tx);
        assert_eq!(out.len(), 2);
        assert!(out
            .iter()
            .all(|o| matches!(o, TxOutput::SendResponse(r) if r.status == 200)));
        tx.send_response(Response::for_request(&options(), 500, None), t0);
        assert!(drain(&mut tx).is_empty(), "one final only");
        tx.handle_timeout(t0 + Duration::from_secs(31));
        assert!(!tx.is_terminated());
        tx.handle_timeout(t0 + Duration::from_secs(32));
        assert!(tx.is_terminated());
    }
}
