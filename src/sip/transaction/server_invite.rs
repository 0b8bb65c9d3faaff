//! Server INVITE transaction (RFC 3261 §17.2.1, with RFC 6026 §7.1 Accepted state).
//!
//! We also retransmit our 2xx here until the dialog reports the ACK (§13.3.1.4 puts that on
//! the UAS core; keeping it beside the other retransmissions keeps the dialog layer simple).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::timers::{TimerConfig, TimerKind, Timers};
use super::{TxOutput, TxState};
use crate::sip::message::{Method, Request, Response};

/// Answers an INVITE: re-sends the last response when the INVITE is retransmitted,
/// retransmits finals until ACKed (timer G), reports a missing ACK (timer H).
#[derive(Debug)]
pub struct ServerInvite {
    request: Request,
    cfg: TimerConfig,
    state: TxState,
    timers: Timers,
    interval_g: Duration,
    last_response: Option<Response>,
    out: VecDeque<TxOutput>,
}

impl ServerInvite {
    /// Creates the transaction for a received INVITE (state Proceeding; the owner sends 100).
    pub fn new(request: Request, cfg: TimerConfig) -> Self {
        Self {
            request,
            cfg,
            state: TxState::Proceeding,
            timers: Timers::default(),
            interval_g: cfg.t1,
            last_response: None,
            out: VecDeque::new(),
        }
    }

    /// The INVITE being answered.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Current state.
    pub fn state(&self) -> TxState {
        self.state
    }

    /// Feeds a retransmitted INVITE or the ACK for a non-2xx final (same branch).
    pub fn handle_request(&mut self, req: &Request, now: Instant) {
        match (&req.method, self.state) {
            (Method::Invite, TxState::Proceeding | TxState::Completed) => {
                if let Some(r) = &self.last_response {
                    self.out.push_back(TxOutput::SendResponse(r.clone()));
                }
            }
            (Method::Ack, TxState::Completed) => {
                self.timers.clear();
                let i = if self.cfg.reliable {
                    Duration::ZERO
                } else {
                    self.cfg.t4
                };
                self.timers.set(TimerKind::I, now + i);
                self.state = TxState::Confirmed;
                self.out.push_back(TxOutput::AckReceived);
            }
            _ => {} // Accepted/Confirmed: retransmissions absorbed (RFC 6026 §7.1)
        }
    }

    /// The ACK for our 2xx arrived (it is its own transaction, matched by dialog, §17.1.1.3).
    pub fn ack_received(&mut self, now: Instant) {
        if self.state == TxState::Accepted {
            self.timers.cancel(TimerKind::G);
            self.timers.cancel(TimerKind::H);
            self.timers.set(TimerKind::L, now + self.cfg.timeout());
            self.out.push_back(TxOutput::AckReceived);
        }
    }

    /// Sends a response from the transaction user.
    pub fn send_response(&mut self, resp: Response, now: Instant) {
        if !matches!(self.state, TxState::Proceeding) {
            return; // only one final response per transaction
        }
        let status = resp.status;
        self.out.push_back(TxOutput::SendResponse(resp.clone()));
        self.last_response = Some(resp);
        match status {
            100..=199 => {}
            200..=299 => {
                self.state = TxState::Accepted;
                if !self.cfg.reliable {
                    self.timers.set(TimerKind::G, now + self.cfg.t1);
                }
                self.timers.set(TimerKind::H, now + self.cfg.timeout());
            }
            _ => {
                self.state = TxState::Completed;
                if !self.cfg.reliable {
                    self.timers.set(TimerKind::G, now + self.cfg.t1);
                }
                self.timers.set(TimerKind::H, now + self.cfg.timeout());
            }
        }
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(kind) = self.timers.pop_due(now) {
            match kind {
                TimerKind::G if matches!(self.state, TxState::Completed | TxState::Accepted) => {
                    if let Some(r) = &self.last_response {
                        self.out.push_back(TxOutput::SendResponse(r.clone()));
                    }
                    self.interval_g = (self.interval_g * 2).min(self.cfg.t2);
                    self.timers.set(TimerKind::G, now + self.interval_g);
                }
                TimerKind::H => {
                    // No ACK: for a 2xx the dialog must send BYE (§13.3.1.4).
                    self.out.push_back(TxOutput::Timeout);
                    self.terminate();
                }
                TimerKind::I | TimerKind::L => self.terminate(),
                _ => {}
            }
        }
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
mod tests {
    use super::*;
    use crate::sip::transaction::client_invite::tests::invite;

    fn drain(tx: &mut ServerInvite) -> Vec<TxOutput> {
        std::iter::from_fn(|| tx.poll_output()).collect()
    }

    fn statuses(out: &[TxOutput]) -> Vec<u16> {
        out.iter()
            .filter_map(|o| match o {
                TxOutput::SendResponse(r) => Some(r.status),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn retransmitted_invite_gets_last_provisional() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(invite(), TimerConfig::default());
        tx.handle_request(&invite(), t0);
        assert!(
            drain(&mut tx).is_empty(),
            "nothing sent yet, nothing to repeat"
        );
        tx.send_response(Response::for_request(&invite(), 180, Some("x")), t0);
        tx.handle_request(&invite(), t0);
        assert_eq!(statuses(&drain(&mut tx)), vec![180, 180]);
    }

    /// Non-2xx final: G retransmits at 0.5, 1.5, 3.5, 7.5, 11.5 … until ACK; ACK → Confirmed,
    /// then I (T4) terminates.
    #[test]
    fn final_is_retransmitted_until_ack() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(invite(), TimerConfig::default());
        tx.send_response(Response::for_request(&invite(), 486, Some("x")), t0);
        drain(&mut tx);
        let mut at_ms = Vec::new();
        for _ in 0..5 {
            let at = tx.poll_timeout().expect("timer G armed");
            tx.handle_timeout(at);
            assert_eq!(statuses(&drain(&mut tx)), vec![486]);
            at_ms.push((at - t0).as_millis());
        }
        assert_eq!(at_ms, vec![500, 1500, 3500, 7500, 11500]);
        let mut ack = invite();
        ack.method = Method::Ack;
        let t_ack = t0 + Duration::from_secs(12);
        tx.handle_request(&ack, t_ack);
        assert_eq!(drain(&mut tx), vec![TxOutput::AckReceived]);
        assert_eq!(tx.state(), TxState::Confirmed);
        tx.handle_request(&ack, t_ack);
        assert!(drain(&mut tx).is_empty(), "ACK retransmission absorbed");
        tx.handle_timeout(t_ack + Duration::from_secs(5));
        assert!(tx.is_terminated());
    }

    #[test]
    fn missing_ack_times_out_with_timer_h() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(invite(), TimerConfig::default());
        tx.send_response(Response::for_request(&invite(), 603, Some("x")), t0);
        let mut timed_out = false;
        while let Some(at) = tx.poll_timeout() {
            tx.handle_timeout(at);
            if drain(&mut tx).contains(&TxOutput::Timeout) {
                assert_eq!((at - t0).as_secs(), 32);
                timed_out = true;
            }
        }
        assert!(timed_out && tx.is_terminated());
    }

    #[test]
    fn two_hundred_retransmitted_until_dialog_ack() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(invite(), TimerConfig::default());
        tx.send_response(Response::for_request(&invite(), 200, Some("x")), t0);
        drain(&mut tx);
        tx.handle_timeout(t0 + Duration::from_millis(500));
        assert_eq!(statuses(&drain(&mut tx)), vec![200]);
        tx.handle_request(&invite(), t0 + Duration::from_millis(600));
        assert!(
            drain(&mut tx).is_empty(),
            "INVITE retransmission absorbed in Accepted"
        );
        tx.ack_received(t0 + Duration::from_secs(1));
        assert_eq!(drain(&mut tx), vec![TxOutput::AckReceived]);
        tx.handle_timeout(t0 + Duration::from_secs(10));
        assert!(drain(&mut tx).is_empty(), "no more 2xx after ACK");
        tx.handle_timeout(t0 + Duration::from_secs(33));
        assert!(tx.is_terminated(), "timer L");
        tx.send_response(Response::for_request(&invite(), 500, None), t0);
        assert!(drain(&mut tx).is_empty(), "no second final");
    }
}
