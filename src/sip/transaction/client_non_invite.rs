//! Client non-INVITE transaction (RFC 3261 §17.1.2): BYE, CANCEL, OPTIONS, REGISTER…

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::timers::{TimerConfig, TimerKind, Timers};
use super::{TxOutput, TxState};
use crate::sip::message::{Request, Response};

/// Sends a request, retransmits it (timer E, doubling up to T2, then every T2 once
/// proceeding), gives up after timer F, absorbs response retransmissions (timer K).
#[derive(Debug)]
pub struct ClientNonInvite {
    request: Request,
    cfg: TimerConfig,
    state: TxState,
    timers: Timers,
    interval_e: Duration,
    out: VecDeque<TxOutput>,
}

impl ClientNonInvite {
    /// Starts the transaction: the request is queued for sending at once.
    pub fn new(request: Request, cfg: TimerConfig, now: Instant) -> Self {
        let mut timers = Timers::default();
        if !cfg.reliable {
            timers.set(TimerKind::E, now + cfg.t1);
        }
        timers.set(TimerKind::F, now + cfg.timeout());
        let mut out = VecDeque::new();
        out.push_back(TxOutput::SendRequest(request.clone()));
        Self {
            request,
            cfg,
            state: TxState::Trying,
            timers,
            interval_e: cfg.t1,
            out,
        }
    }

    /// Current state.
    pub fn state(&self) -> TxState {
        self.state
    }

    /// The request being sent.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Feeds a matching response.
    pub fn handle_response(&mut self, resp: Response, now: Instant) {
        match (self.state, resp.status) {
            (TxState::Trying | TxState::Proceeding, 100..=199) => {
                self.state = TxState::Proceeding;
                self.out.push_back(TxOutput::Response(resp));
            }
            (TxState::Trying | TxState::Proceeding, 200..=699) => {
                self.timers.clear();
                let k = if self.cfg.reliable {
                    Duration::ZERO
                } else {
                    self.cfg.t4
                };
                self.timers.set(TimerKind::K, now + k);
                self.state = TxState::Completed;
                self.out.push_back(TxOutput::Response(resp));
            }
            _ => {} // retransmissions in Completed are absorbed
        }
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(kind) = self.timers.pop_due(now) {
            match kind {
                TimerKind::E if matches!(self.state, TxState::Trying | TxState::Proceeding) => {
                    self.out
                        .push_back(TxOutput::SendRequest(self.request.clone()));
                    // §17.1.2.2: min(2·E, T2) while Trying; T2 once Proceeding.
                    self.interval_e = if self.state == TxState::Proceeding {
                        self.cfg.t2
                    } else {
                        (self.interval_e * 2).min(self.cfg.t2)
                    };
                    self.timers.set(TimerKind::E, now + self.interval_e);
                }
                TimerKind::F if matches!(self.state, TxState::Trying | TxState::Proceeding) => {
                    self.out.push_back(TxOutput::Timeout);
                    self.timers.clear();
                    self.state = TxState::Terminated;
                }
                TimerKind::K => {
                    self.timers.clear();
                    self.state = TxState::Terminated;
                }
                _ => {}
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

    fn bye() -> Request {
        let mut r = Request::new(
            Method::Bye,
            SipUri::parse("sip:p@127.0.0.1:5070").expect("uri"),
        );
        r.headers
            .push("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKb1");
        r.headers.push("From", "<sip:n@h>;tag=a");
        r.headers.push("To", "<sip:p@h>;tag=b");
        r.headers.push("Call-ID", "c");
        r.headers.push("CSeq", "2 BYE");
        r
    }

    fn drain(tx: &mut ClientNonInvite) -> Vec<TxOutput> {
        std::iter::from_fn(|| tx.poll_output()).collect()
    }

    /// Timer E: 0.5, 1, 2, 4, 4, 4 … s between sends; F at 32 s.
    #[test]
    fn retransmit_schedule_caps_at_t2_and_times_out() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(bye(), TimerConfig::default(), t0);
        drain(&mut tx);
        let mut sends = Vec::new();
        let mut timed_out = None;
        while let Some(at) = tx.poll_timeout() {
            tx.handle_timeout(at);
            for o in drain(&mut tx) {
                match o {
                    TxOutput::SendRequest(_) => sends.push((at - t0).as_millis()),
                    TxOutput::Timeout => timed_out = Some((at - t0).as_secs()),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        assert_eq!(
            sends,
            vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
        );
        assert_eq!(timed_out, Some(32));
        assert!(tx.is_terminated());
    }

    #[test]
    fn final_response_completes_and_absorbs_retransmits() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(bye(), TimerConfig::default(), t0);
        drain(&mut tx);
        tx.handle_response(Response::for_request(&bye(), 100, None), t0);
        assert_eq!(tx.state(), TxState::Proceeding);
        tx.handle_timeout(t0 + Duration::from_millis(500));
        drain(&mut tx);
        assert_eq!(
            tx.poll_timeout(),
            Some(t0 + Duration::from_millis(4500)),
            "T2 once proceeding"
        );
        tx.handle_response(
            Response::for_request(&bye(), 200, None),
            t0 + Duration::from_secs(1),
        );
        tx.handle_response(
            Response::for_request(&bye(), 200, None),
            t0 + Duration::from_secs(1),
        );
        let out = drain(&mut tx);
        assert_eq!(
            out.iter()
                .filter(|o| matches!(o, TxOutput::Response(r) if r.status == 200))
                .count(),
            1
        );
        tx.handle_timeout(t0 + Duration::from_secs(6));
        assert!(tx.is_terminated(), "timer K = T4");
    }
}
