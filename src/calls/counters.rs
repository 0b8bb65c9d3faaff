//! Engine-wide media counters: how many RTP packets the engine took in and sent out, and how
//! often a 20 ms tick had nothing to play. Benchmarks and health checks read them while calls
//! run.
//!
//! Media tasks only add (relaxed atomics, one add per packet); readers take a [`Snapshot`] and
//! subtract two of them for a window. No lock on the media path, and no call's state is shared:
//! these are write-only tallies, not state anybody acts on.

use std::sync::atomic::{AtomicU64, Ordering};

/// Running totals over every call of one engine since it started.
#[derive(Debug, Default)]
pub struct MediaCounters {
    rtp_in: AtomicU64,
    rtp_out: AtomicU64,
    playout_lost: AtomicU64,
    live_underruns: AtomicU64,
    live_trimmed: AtomicU64,
    late: [AtomicU64; 3],
    silent_legs: AtomicU64,
    latch_dropped: AtomicU64,
}

/// Lateness thresholds of [`Snapshot::late_ticks`]: one, two and three frames (a bridge's
/// cushion of two frames survives a producer 20–40 ms late, by the two tasks' phase).
pub const LATE_TICK_MS: [u64; 3] = [20, 40, 60];

/// The counters at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// RTP packets accepted by the latch (audio and DTMF).
    pub rtp_in: u64,
    /// RTP packets sent.
    pub rtp_out: u64,
    /// 20 ms ticks where the jitter buffer declared a packet lost (silence was recorded).
    pub playout_lost: u64,
    /// Ticks where a bridged (live) source had no frame ready (silence was sent).
    pub live_underruns: u64,
    /// Bridged frames dropped to bring standing latency back down (see `media::cushion`).
    pub live_trimmed: u64,
    /// 20 ms ticks that ran at least [`LATE_TICK_MS`] after they were due: the media task was
    /// not scheduled (a stall of its runtime thread; the burst that follows counts each tick).
    pub late_ticks: [u64; 3],
}

impl Snapshot {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &Snapshot) -> Snapshot {
        Snapshot {
            rtp_in: self.rtp_in.saturating_sub(earlier.rtp_in),
            rtp_out: self.rtp_out.saturating_sub(earlier.rtp_out),
            playout_lost: self.playout_lost.saturating_sub(earlier.playout_lost),
            live_underruns: self.live_underruns.saturating_sub(earlier.live_underruns),
            live_trimmed: self.live_trimmed.saturating_sub(earlier.live_trimmed),
            late_ticks: std::array::from_fn(|i| {
                self.late_ticks[i].saturating_sub(earlier.late_ticks[i])
            }),
        }
    }
}

impl MediaCounters {
    /// An answered leg whose far side stayed silent past `sip.silence_alert_seconds`.
    pub fn silent_leg(&self) {
        self.silent_legs.fetch_add(1, Ordering::Relaxed);
    }

    /// An RTP packet from another address than the latched one was dropped.
    pub fn latch_dropped(&self) {
        self.latch_dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// RTP packets dropped by the latch so far.
    pub fn latch_dropped_total(&self) -> u64 {
        self.latch_dropped.load(Ordering::Relaxed)
    }

    /// Legs reported silent so far.
    pub fn silent_legs(&self) -> u64 {
        self.silent_legs.load(Ordering::Relaxed)
    }

    /// The current totals.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            rtp_in: self.rtp_in.load(Ordering::Relaxed),
            rtp_out: self.rtp_out.load(Ordering::Relaxed),
            playout_lost: self.playout_lost.load(Ordering::Relaxed),
            live_underruns: self.live_underruns.load(Ordering::Relaxed),
            live_trimmed: self.live_trimmed.load(Ordering::Relaxed),
            late_ticks: std::array::from_fn(|i| self.late[i].load(Ordering::Relaxed)),
        }
    }

    pub(super) fn packet_in(&self) {
        self.rtp_in.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn packet_out(&self) {
        self.rtp_out.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn lost(&self) {
        self.playout_lost.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn underrun(&self) {
        self.live_underruns.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn trimmed(&self) {
        self.live_trimmed.fetch_add(1, Ordering::Relaxed);
    }

    /// A tick ran `late` after it was due.
    pub(super) fn tick_lateness(&self, late: std::time::Duration) {
        let ms = late.as_millis() as u64;
        for (counter, limit) in self.late.iter().zip(LATE_TICK_MS) {
            if ms >= limit {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn late_ticks_are_counted_per_threshold_and_windowed() {
        let c = MediaCounters::default();
        c.tick_lateness(Duration::from_millis(5));
        let before = c.snapshot();
        for ms in [39, 40, 75, 120] {
            c.tick_lateness(Duration::from_millis(ms));
        }
        assert_eq!(c.snapshot().since(&before).late_ticks, [4, 3, 2]);
    }
}

/// Edge tallies the call center reports (`GET /api/v1/telephony`, `/metrics`): new INVITEs
/// refused at the door by reason (see `sip::ua::admission`), desk-phone credentials refused
/// and lock-outs, recordings that failed. Write-only like [`MediaCounters`].
#[derive(Debug, Default)]
pub struct SipCounters {
    refused: [AtomicU64; 3],
    auth_failures: AtomicU64,
    lockouts: AtomicU64,
    recording_failures: AtomicU64,
}

/// [`SipCounters`] at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RefusedInvites {
    /// Not from the trunk, an allowed network or an agent: 403.
    pub untrusted_source: u64,
    /// Over `sip.max_inbound_calls`: 503.
    pub too_many_calls: u64,
    /// Over `sip.invites_per_second` from one source: 503.
    pub rate_limited: u64,
}

impl SipCounters {
    pub fn refused(&self, why: crate::sip::ua::admission::Refusal) {
        use crate::sip::ua::admission::Refusal;
        let i = match why {
            Refusal::UntrustedSource => 0,
            Refusal::TooManyCalls => 1,
            Refusal::RateLimited => 2,
        };
        self.refused[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Desk-phone credentials refused (any reason but a stale nonce).
    pub fn auth_failed(&self, locked_out: bool) {
        self.auth_failures.fetch_add(1, Ordering::Relaxed);
        if locked_out {
            self.lockouts.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A recording stopped before its call did.
    pub fn recording_failed(&self) {
        self.recording_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// (credentials refused, of them refused unchecked by a lock-out, recordings failed)
    pub fn edge(&self) -> (u64, u64, u64) {
        (
            self.auth_failures.load(Ordering::Relaxed),
            self.lockouts.load(Ordering::Relaxed),
            self.recording_failures.load(Ordering::Relaxed),
        )
    }

    pub fn snapshot(&self) -> RefusedInvites {
        let n = |i: usize| self.refused[i].load(Ordering::Relaxed);
        RefusedInvites {
            untrusted_source: n(0),
            too_many_calls: n(1),
            rate_limited: n(2),
        }
    }
}

/// The log line for refused INVITEs, at most one per [`RefusalLog::EVERY`] however many come
/// (a flood must not flood the log too); each line counts the refusals since the last one.
#[derive(Debug, Default)]
pub struct RefusalLog {
    logged_at: Option<std::time::Instant>,
    since: u64,
}

impl RefusalLog {
    pub const EVERY: std::time::Duration = std::time::Duration::from_secs(10);

    pub fn note(
        &mut self,
        source: std::net::SocketAddr,
        why: crate::sip::ua::admission::Refusal,
        now: std::time::Instant,
    ) {
        self.since += 1;
        if self
            .logged_at
            .is_some_and(|at| now.saturating_duration_since(at) < Self::EVERY)
        {
            return;
        }
        tracing::warn!(
            refused = self.since,
            %source,
            reason = why.as_str(),
            "INVITE refused: patients' calls are taken only from sip.trunk and sip.trunk_allow, \
             within sip.max_inbound_calls and sip.invites_per_second (at most one such line per 10 s)"
        );
        self.logged_at = Some(now);
        self.since = 0;
    }
}
