//! Symmetric RTP latching (RFC 4961; the "comedia" behaviour of SBCs).
//!
//! Only the peer a dialog's SDP names may put audio into a clinical call: by default the exact
//! address (a carrier's SBC sends from where its SDP says), or any port of that IP for peers
//! behind a NAT that rewrites ports, or — only where patients' phones sit behind NATs that
//! rewrite addresses too — the first sender (RFC 4961 "comedia"). Once latched, packets from
//! any other address are dropped, so a sender spraying the port range changes nothing. A new
//! SDP (re-INVITE, or an answer that differs from the early media's) makes a new latch.

use std::net::SocketAddr;

/// Which first sources may be latched to (`sip.rtp_latch`: `sdp_address`, `same_ip_as_sdp`,
/// `any_first`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatchPolicy {
    /// Only the address the SDP names (the default).
    SdpAddress,
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

    /// The SDP address it was made for.
    pub fn sdp_addr(&self) -> Option<SocketAddr> {
        self.sdp_addr
    }

    /// A new SDP from the dialog (re-INVITE, UPDATE, the answer after early media): if it
    /// names another address, latch afresh to it; the same address keeps the latch (a
    /// refresh must not open a window for another sender).
    pub fn sdp_changed(&mut self, addr: Option<SocketAddr>) {
        if addr != self.sdp_addr {
            *self = RtpLatch {
                dropped: self.dropped,
                ..RtpLatch::new(self.policy, addr)
            };
        }
    }

    /// True if a datagram from `src` should be processed.
    pub fn accept(&mut self, src: SocketAddr) -> bool {
        let ok = match self.latched {
            Some(l) => l == src,
            None => {
                let allowed = match (self.policy, self.sdp_addr) {
                    (LatchPolicy::AnyFirst, _) => true,
                    (LatchPolicy::SdpAddress, Some(sdp)) => sdp == src,
                    (LatchPolicy::SdpAddress, None) => false,
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
    fn the_sdp_address_only_by_default_and_a_new_sdp_moves_the_latch() {
        let mut l = RtpLatch::new(LatchPolicy::SdpAddress, Some(a("10.0.0.1:4000")));
        assert!(!l.accept(a("10.0.0.1:4002")), "same host, other port");
        assert!(!l.accept(a("10.0.0.9:4000")), "a sprayer first");
        assert!(l.accept(a("10.0.0.1:4000")));
        assert_eq!(l.latched(), Some(a("10.0.0.1:4000")));
        // a refresh with the same SDP keeps the latch
        l.sdp_changed(Some(a("10.0.0.1:4000")));
        assert_eq!(l.latched(), Some(a("10.0.0.1:4000")));
        // a re-INVITE moving the media: send there, take only from there
        l.sdp_changed(Some(a("10.0.0.5:6000")));
        assert_eq!(l.destination(), Some(a("10.0.0.5:6000")));
        assert!(!l.accept(a("10.0.0.1:4000")), "the old address is gone");
        assert!(l.accept(a("10.0.0.5:6000")));
        assert_eq!(l.dropped(), 3, "drops are counted across latches");
        assert!(!RtpLatch::new(LatchPolicy::SdpAddress, None).accept(a("10.0.0.1:1")));
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
