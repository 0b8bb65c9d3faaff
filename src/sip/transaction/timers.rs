//! Transaction timers (RFC 3261 §17 and Table 4) as plain deadlines.

use std::time::{Duration, Instant};

/// Timer base values. Over reliable transports (TCP) the retransmission and wait timers that
/// only absorb UDP retransmissions are zero (§17.1.1.2, §17.1.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate, default 500 ms.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses, default 4 s.
    pub t2: Duration,
    /// Maximum duration a message remains in the network, default 5 s.
    pub t4: Duration,
    /// True over TCP/TLS: no retransmissions, zero wait timers.
    pub reliable: bool,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            reliable: false,
        }
    }
}

impl TimerConfig {
    /// 64·T1: the transaction timeout (timers B, F, H, J, L, M).
    pub fn timeout(&self) -> Duration {
        self.t1 * 64
    }
}

/// Named timers of §17 (and RFC 6026 L/M).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// INVITE request retransmit (client).
    A,
    /// INVITE transaction timeout (client).
    B,
    /// Wait for response retransmits (client INVITE, Completed).
    D,
    /// Non-INVITE request retransmit (client).
    E,
    /// Non-INVITE transaction timeout (client).
    F,
    /// INVITE final response retransmit (server).
    G,
    /// Wait for ACK (server INVITE).
    H,
    /// Wait for ACK retransmits (server INVITE, Confirmed).
    I,
    /// Wait for request retransmits (server non-INVITE).
    J,
    /// Wait for response retransmits (client non-INVITE).
    K,
    /// Wait for INVITE retransmits after 2xx (server, RFC 6026).
    L,
    /// Wait for 2xx retransmits (client, RFC 6026).
    M,
}

/// A small set of armed timers; at most a few per transaction.
#[derive(Debug, Clone, Default)]
pub struct Timers {
    armed: Vec<(TimerKind, Instant)>,
}

impl Timers {
    /// Arms (or re-arms) a timer.
    pub fn set(&mut self, kind: TimerKind, at: Instant) {
        self.cancel(kind);
        self.armed.push((kind, at));
    }

    /// Disarms a timer.
    pub fn cancel(&mut self, kind: TimerKind) {
        self.armed.retain(|(k, _)| *k != kind);
    }

    /// Disarms everything.
    pub fn clear(&mut self) {
        self.armed.clear();
    }

    /// Earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.armed.iter().map(|(_, t)| *t).min()
    }

    /// Removes and returns the earliest due timer.
    pub fn pop_due(&mut self, now: Instant) -> Option<TimerKind> {
        let idx = self
            .armed
            .iter()
            .enumerate()
            .filter(|(_, (_, t))| *t <= now)
            .min_by_key(|(_, (_, t))| *t)
            .map(|(i, _)| i)?;
        Some(self.armed.swap_remove(idx).0)
    }
}
