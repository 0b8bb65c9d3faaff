//! Which new calls the endpoint takes, decided before any state is kept for them (sans-IO).
//!
//! A patient's call reaches suifang through the hospital's trunk, never straight from the
//! internet: an INVITE that is not from an agent's desk phone (those prove who they are with
//! digest, `sip::registrar`) is taken only from the trunk's signalling address or a configured
//! carrier network (`sip.trunk_allow`). Anything else gets a **stateless** 403 — no transaction
//! is kept, so a flood of forged INVITEs costs one parse and one datagram each and never
//! retransmits a response for 32 s (RFC 3261 §17.2.1 would for a stateful 403) to a forged
//! source. Trusted sources are limited too: at most `max_inbound_calls` patients' calls at once
//! and `invites_per_second` new INVITEs per source, else 503 with Retry-After (§21.5.4), the
//! answer a carrier retries elsewhere or later (what Kamailio's pike and Asterisk's
//! `call-limit` do).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ipnet::IpNet;

/// Who may start calls.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum InboundPolicy {
    /// Anyone (a phone, the simulated patient, unit tests).
    #[default]
    Open,
    /// Only the trunk and the listed networks (suifang's call center).
    TrunkOnly(TrunkPolicy),
}

/// The limits of [`InboundPolicy::TrunkOnly`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkPolicy {
    /// The trunk's signalling address: its IP and port over UDP; its IP over TCP, where the
    /// peer picks the connection's source port.
    pub trunk: Option<SocketAddr>,
    /// Whether requests come over TCP (the trunk is then matched by IP).
    pub tcp: bool,
    /// Carrier networks whose INVITEs are taken as well (matched by IP).
    pub allow: Vec<IpNet>,
    /// Patients' calls (call-backs, voicemails) up at once; more get 503.
    pub max_inbound_calls: usize,
    /// New INVITEs a second from one trusted source (bursts of twice that pass); more get 503.
    pub invites_per_second: u32,
}

/// Why a new INVITE was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not the trunk, not an allowed network, not an agent: 403.
    UntrustedSource,
    /// `max_inbound_calls` calls are up: 503.
    TooManyCalls,
    /// The source sent more than `invites_per_second`: 503.
    RateLimited,
}

impl Refusal {
    /// The final response it gets.
    pub fn status(self) -> u16 {
        match self {
            Refusal::UntrustedSource => 403,
            Refusal::TooManyCalls | Refusal::RateLimited => 503,
        }
    }

    /// Seconds the sender should wait (`Retry-After`), for the 503s.
    pub fn retry_after(self) -> Option<u32> {
        match self {
            Refusal::UntrustedSource => None,
            Refusal::TooManyCalls => Some(30),
            Refusal::RateLimited => Some(5),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::UntrustedSource => "untrusted_source",
            Refusal::TooManyCalls => "too_many_calls",
            Refusal::RateLimited => "rate_limited",
        }
    }
}

/// Trusted sources' token buckets are kept for this many sources at most (oldest dropped).
const MAX_BUCKETS: usize = 1024;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The admission decision and its per-source state.
#[derive(Debug, Default)]
pub struct Admission {
    policy: InboundPolicy,
    buckets: HashMap<IpAddr, Bucket>,
    next_sweep: Option<Instant>,
}

impl Admission {
    pub fn new(policy: InboundPolicy) -> Admission {
        Admission {
            policy,
            buckets: HashMap::new(),
            next_sweep: None,
        }
    }

    /// Whether a new patient's INVITE from `source` may start a call while `inbound_calls`
    /// are up.
    pub fn check(
        &mut self,
        source: SocketAddr,
        inbound_calls: usize,
        now: Instant,
    ) -> Result<(), Refusal> {
        let InboundPolicy::TrunkOnly(p) = &self.policy else {
            return Ok(());
        };
        let from_trunk = p
            .trunk
            .is_some_and(|t| t.ip() == source.ip() && (p.tcp || t.port() == source.port()));
        if !from_trunk && !p.allow.iter().any(|net| net.contains(&source.ip())) {
            return Err(Refusal::UntrustedSource);
        }
        let rate = f64::from(p.invites_per_second.max(1));
        let burst = rate * 2.0;
        if self.buckets.len() >= MAX_BUCKETS && !self.buckets.contains_key(&source.ip()) {
            if let Some(oldest) = self
                .buckets
                .iter()
                .min_by_key(|(_, b)| b.at)
                .map(|(k, _)| *k)
            {
                self.buckets.remove(&oldest);
            }
        }
        let bucket = self.buckets.entry(source.ip()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            return Err(Refusal::RateLimited);
        }
        bucket.tokens -= 1.0;
        if inbound_calls >= p.max_inbound_calls {
            return Err(Refusal::TooManyCalls);
        }
        Ok(())
    }

    /// Drops buckets idle long enough to be full again; called from the endpoint's timer,
    /// sweeps at most every 30 s.
    pub fn housekeeping(&mut self, now: Instant) {
        if self.next_sweep.is_some_and(|at| now < at) {
            return;
        }
        self.next_sweep = Some(now + Duration::from_secs(30));
        self.buckets
            .retain(|_, b| now.saturating_duration_since(b.at) < Duration::from_secs(60));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> InboundPolicy {
        InboundPolicy::TrunkOnly(TrunkPolicy {
            trunk: Some("10.0.0.1:5060".parse().unwrap()),
            tcp: false,
            allow: vec!["192.0.2.0/24".parse().unwrap()],
            max_inbound_calls: 2,
            invites_per_second: 5,
        })
    }

    #[test]
    fn only_the_trunk_and_allowed_networks_may_call() {
        let mut a = Admission::new(policy());
        let now = Instant::now();
        let ok = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(a.check(ok("10.0.0.1:5060"), 0, now), Ok(()));
        assert_eq!(a.check(ok("192.0.2.77:40000"), 0, now), Ok(()));
        // the trunk's IP from another port (UDP) is somebody else on that host
        assert_eq!(
            a.check(ok("10.0.0.1:5070"), 0, now),
            Err(Refusal::UntrustedSource)
        );
        assert_eq!(
            a.check(ok("203.0.113.9:5060"), 0, now),
            Err(Refusal::UntrustedSource)
        );
        assert_eq!(Refusal::UntrustedSource.status(), 403);
        // over TCP the trunk connects from a port of its choosing
        let InboundPolicy::TrunkOnly(mut p) = policy() else {
            unreachable!()
        };
        p.tcp = true;
        let mut tcp = Admission::new(InboundPolicy::TrunkOnly(p));
        assert_eq!(tcp.check(ok("10.0.0.1:49152"), 0, now), Ok(()));
    }

    #[test]
    fn an_open_policy_takes_anyone() {
        let mut a = Admission::new(InboundPolicy::Open);
        let now = Instant::now();
        for port in 1..100 {
            assert_eq!(
                a.check(SocketAddr::from(([1, 2, 3, 4], port)), 99, now),
                Ok(())
            );
        }
    }

    #[test]
    fn trusted_sources_are_capped_and_rate_limited() {
        let mut a = Admission::new(policy());
        let trunk: SocketAddr = "10.0.0.1:5060".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(a.check(trunk, 2, t0), Err(Refusal::TooManyCalls));
        assert_eq!(Refusal::TooManyCalls.retry_after(), Some(30));
        // a burst of 2 × 5 passes (one token already spent above), then 503
        let passed = (0..20).filter(|_| a.check(trunk, 0, t0).is_ok()).count();
        assert_eq!(passed, 9);
        assert_eq!(a.check(trunk, 0, t0), Err(Refusal::RateLimited));
        // tokens come back at the configured rate
        let later = t0 + Duration::from_millis(400);
        assert_eq!(a.check(trunk, 0, later), Ok(()));
        assert_eq!(a.check(trunk, 0, later), Ok(()));
        assert_eq!(a.check(trunk, 0, later), Err(Refusal::RateLimited));
        // idle buckets are forgotten
        a.housekeeping(t0 + Duration::from_secs(120));
        assert!(a.buckets.is_empty());
    }
}
