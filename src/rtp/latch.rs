//! Symmetric RTP latching (RFC 4961; the "comedia" behaviour of SBCs).
//!
//! Patients sit behind NATs and carrier SBCs whose SDP address is often not where packets come
//! from. We send to wherever the first packet came from, and once latched we drop packets from
//! any other address so a stray or hostile sender cannot inject audio into a clinical call.

use std::net::SocketAddr;

/// Which first sources may be latched to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatchPolicy {
    /// Latch to the first sender whatever its address (NAT traversal).
    AnyFirst,
    /// Latch only to a sender with the IP address given in the remote SDP (ports may differ).
    SameIpAsSdp,
}

/// Decides, per received datagram, whether to accept it and where to send media.
#[derive(Debug, Clone)]
pub struct RtpLatch {
    policy: LatchPolicy,
    sdp_addr: Option<SocketAddr>,
    latched: Option<SocketAddr>,
    dropped: u64,
}

impl RtpLatch {
    /// A latch that sends to `sdp_addr` (if known) until the first packet arrives.
    pub fn new(policy: LatchPolicy, sdp_addr: Option<SocketAddr>) -> Self {
        Self {
            policy,
            sdp_addr,
            latched: None,
            dropped: 0,
        }
    }

    /// Updates the SDP address (re-INVITE); the latch itself is kept.
    pub fn set_sdp_addr(&mut self, addr: Option<SocketAddr>) {
        self.sdp_addr = addr;
    }

    /// True if a datagram from `src` should be processed.
    pub fn accept(&mut self, src: SocketAddr) -> bool {
        let ok = match self.latched {
            Some(l) => l == src,
            None => {
                let allowed = match (self.policy, self.sdp_addr) {
                    (LatchPolicy::AnyFirst, _) => true,
                    (LatchPolicy::SameIpAsSdp, Some(sdp)) => sdp.ip() == src.ip(),
                    (LatchPolicy::SameIpAsSdp, None) => false,
                };
                if allowed {
                    self.latched = Some(src);
                }
                allowed
            }
        };
        if !ok {
            self.dropped += 1;
        }
        ok
    }

    /// Where to send media now: the latched source, else the SDP address.
    pub fn destination(&self) -> Option<SocketAddr> {
        self.latched.or(self.sdp_addr)
    }

    /// The latched address, if any.
    pub fn latched(&self) -> Option<SocketAddr> {
        self.latched
    }

    /// Datagrams rejected so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().expect("valid address")
    }

    #[test]
    fn latches_to_first_source_and_drops_others() {
        let mut l = RtpLatch::new(LatchPolicy::AnyFirst, Some(a("10.0.0.1:4000")));
        assert_eq!(l.destination(), Some(a("10.0.0.1:4000")));
        assert!(l.accept(a("192.0.2.7:5004")));
        assert_eq!(l.destination(), Some(a("192.0.2.7:5004")));
        assert!(l.accept(a("192.0.2.7:5004")));
        assert!(!l.accept(a("192.0.2.7:5006")), "other port");
        assert!(
            !l.accept(a("10.0.0.1:4000")),
            "even the SDP address once latched"
        );
        assert_eq!(l.dropped(), 2);
    }

    #[test]
    fn same_ip_policy_requires_sdp_ip() {
        let mut l = RtpLatch::new(LatchPolicy::SameIpAsSdp, Some(a("10.0.0.1:4000")));
        assert!(!l.accept(a("10.0.0.2:4000")));
        assert_eq!(l.latched(), None);
        assert!(l.accept(a("10.0.0.1:4002")));
        assert_eq!(l.latched(), Some(a("10.0.0.1:4002")));
        let mut none = RtpLatch::new(LatchPolicy::SameIpAsSdp, None);
        assert!(!none.accept(a("10.0.0.1:1")));
    }
}
