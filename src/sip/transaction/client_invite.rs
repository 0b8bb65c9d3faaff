//! Client INVITE transaction (RFC 3261 §17.1.1, amended by RFC 6026 §8.4).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::timers::{TimerConfig, TimerKind, Timers};
use super::{TxOutput, TxState};
use crate::sip::message::{Method, Request, Response};

/// Sends an INVITE, retransmits it (timer A) until a response, gives up after timer B, ACKs
/// non-2xx finals itself and passes every distinct response up.
#[derive(Debug)]
pub struct ClientInvite {
    request: Request,
    cfg: TimerConfig,
    state: TxState,
    timers: Timers,
    interval_a: Duration,
    out: VecDeque<TxOutput>,
    ack: Option<Request>,
    last_provisional: Option<(u16, Vec<u8>)>,
}

impl ClientInvite {
    /// Starts the transaction: the INVITE is queued for sending at once.
    pub fn new(request: Request, cfg: TimerConfig, now: Instant) -> Self {
        let mut timers = Timers::default();
        if !cfg.reliable {
            timers.set(TimerKind::A, now + cfg.t1); // §17.1.1.2: A starts at T1
        }
        timers.set(TimerKind::B, now + cfg.timeout());
        let mut out = VecDeque::new();
        out.push_back(TxOutput::SendRequest(request.clone()));
        Self {
            request,
            cfg,
            state: TxState::Calling,
            timers,
            interval_a: cfg.t1,
            out,
            ack: None,
            last_provisional: None,
        }
    }

    /// Current state.
    pub fn state(&self) -> TxState {
        self.state
    }

    /// The INVITE this transaction sends (for building CANCEL, §9.1).
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Feeds a response whose branch and CSeq method matched this transaction.
    pub fn handle_response(&mut self, resp: Response, now: Instant) {
        match (self.state, resp.status) {
            (TxState::Calling | TxState::Proceeding, 100..=199) => {
                // Timer B only runs in Calling (§17.1.1.2); from now on the TU's ring
                // timeout (CANCEL) decides how long to wait.
                self.timers.cancel(TimerKind::A);
                self.timers.cancel(TimerKind::B);
                self.state = TxState::Proceeding;
                // Pass each distinct provisional up once (100 too: it allows CANCEL, §9.1).
                let key = (resp.status, resp.body.clone());
                if self.last_provisional.as_ref() != Some(&key) {
                    self.last_provisional = Some(key);
                    self.out.push_back(TxOutput::Response(resp));
                }
            }
            (TxState::Calling | TxState::Proceeding, 200..=299) => {
                // RFC 6026: Accepted, absorb nothing, pass 2xx retransmissions up for re-ACK.
                self.timers.clear();
                self.timers.set(TimerKind::M, now + self.cfg.timeout());
                self.state = TxState::Accepted;
                self.out.push_back(TxOutput::Response(resp));
            }
            (TxState::Accepted, 200..=299) => self.out.push_back(TxOutput::Response(resp)),
            (TxState::Calling | TxState::Proceeding, 300..=699) => {
                self.timers.clear();
                let d = if self.cfg.reliable {
                    Duration::ZERO
                } else {
                    Duration::from_secs(32)
                };
                self.timers.set(TimerKind::D, now + d);
                self.state = TxState::Completed;
                let ack = self.build_ack(&resp);
                self.out.push_back(TxOutput::SendRequest(ack.clone()));
                self.ack = Some(ack);
                self.out.push_back(TxOutput::Response(resp));
            }
            (TxState::Completed, 300..=699) => {
                // Retransmitted final: our ACK was lost (§17.1.1.2).
                if let Some(ack) = &self.ack {
                    self.out.push_back(TxOutput::SendRequest(ack.clone()));
                }
            }
            _ => {}
        }
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(kind) = self.timers.pop_due(now) {
            match kind {
                TimerKind::A if self.state == TxState::Calling => {
                    self.out
                        .push_back(TxOutput::SendRequest(self.request.clone()));
                    self.interval_a *= 2; // §17.1.1.2: A doubles, no T2 cap for INVITE
                    self.timers.set(TimerKind::A, now + self.interval_a);
                }
                TimerKind::B if self.state == TxState::Calling => {
                    self.out.push_back(TxOutput::Timeout);
                    self.terminate();
                }
                TimerKind::D | TimerKind::M => self.terminate(),
                _ => {}
            }
        }
    }

    /// ACK for a non-2xx final (§17.1.1.3): same branch, To from the response, one Via.
    fn build_ack(&self, resp: &Response) -> Request {
        let mut ack = Request::new(Method::Ack, self.request.uri.clone());
        if let Some(via) = self.request.headers.values("Via").first() {
            ack.headers.push("Via", *via);
        }
        for name in ["Max-Forwards", "From", "Call-ID"] {
            if let Some(v) = self.request.headers.get(name) {
                ack.headers.push(name, v);
            }
        }
        if let Some(to) = resp.headers.get("To") {
            ack.headers.push("To", to);
        }
        if let Ok(cseq) = self.request.cseq() {
            ack.headers.push("CSeq", format!("{} ACK", cseq.seq));
        }
        for route in self.request.headers.values("Route") {
            ack.headers.push("Route", route);
        }
        ack
    }

    fn terminate(&mut self) {
        self.timers.clear();
        self.state = TxState::Terminated;
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
#[path = "client_invite_tests.rs"]
pub(crate) mod tests;
