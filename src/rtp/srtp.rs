//! SRTP and SRTCP for SDES-keyed trunk calls (RFC 3711, suite AES_CM_128_HMAC_SHA1_80), sans-IO.
//!
//! A [`SrtpSession`] is built from our master key (sent in our SDP) and the peer's (from
//! theirs, RFC 4568): RTP we send is sealed with ours, RTP we receive is opened with theirs.
//! Bytes in, bytes out: the media task owns the sockets. The cipher and its key derivation are
//! webrtc-rs's (`rtc-srtp`, the same contexts the browser leg's DTLS-SRTP uses); this module
//! chooses the suite, keeps the keys out of logs and maps its errors.

use rtc_srtp::context::Context;
use rtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};
use rtc_srtp::protection_profile::ProtectionProfile;

/// Bytes of an AES_CM_128_HMAC_SHA1_80 master key.
pub const KEY_LEN: usize = 16;
/// Bytes of its master salt.
pub const SALT_LEN: usize = 14;
/// Bytes of the authentication tag at the end of each SRTP packet (80 bits).
pub const AUTH_TAG_LEN: usize = 10;
/// Packets of replay window (RFC 3711 §3.3.2 asks for at least 64).
const REPLAY_WINDOW: usize = 128;

/// A master key and salt (RFC 3711 §8.2; the 30 bytes of an SDES `inline:` key). `Debug`
/// never shows the bytes: keys must not reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey([u8; KEY_LEN + SALT_LEN]);

impl MasterKey {
    /// A fresh key from the operating system's CSPRNG (`rand`'s `OsRng`).
    pub fn random() -> Self {
        use rand::RngCore;
        let mut k = [0u8; KEY_LEN + SALT_LEN];
        rand::rngs::OsRng.fill_bytes(&mut k);
        MasterKey(k)
    }

    /// From the 30 key‖salt bytes; `None` for another length.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(MasterKey(bytes.try_into().ok()?))
    }

    /// The 30 key‖salt bytes (for the SDP `inline:` parameter only).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn split(&self) -> (&[u8], &[u8]) {
        self.0.split_at(KEY_LEN)
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// Why a packet could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    /// The crypto provider or the context could not be set up.
    #[error("SRTP setup failed: {0}")]
    Setup(String),
    /// Authentication failed, a replay, or a malformed packet (the packet is dropped).
    #[error("SRTP packet rejected: {0}")]
    Rejected(String),
}

/// Both directions of one call's SRTP (RTP and RTCP).
pub struct SrtpSession {
    outbound: Context,
    inbound: Context,
}

impl std::fmt::Debug for SrtpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SrtpSession")
    }
}

impl SrtpSession {
    /// Seals with `local` (the key in our SDP), opens with `remote` (the peer's).
    pub fn new(local: &MasterKey, remote: &MasterKey) -> Result<Self, SrtpError> {
        let provider =
            rtc_srtp::crypto::default_provider().map_err(|e| SrtpError::Setup(e.to_string()))?;
        let context = |key: &MasterKey, replay: bool| {
            let (k, s) = key.split();
            let (rtp, rtcp) = if replay {
                (
                    Some(srtp_replay_protection(REPLAY_WINDOW)),
                    Some(srtcp_replay_protection(REPLAY_WINDOW)),
                )
            } else {
                (None, None)
            };
            Context::new(
                k,
                s,
                ProtectionProfile::Aes128CmHmacSha1_80,
                rtp,
                rtcp,
                provider.crypto(),
            )
            .map_err(|e| SrtpError::Setup(e.to_string()))
        };
        Ok(SrtpSession {
            outbound: context(local, false)?,
            // RFC 3711 §3.3.2: the receiver drops replayed packets
            inbound: context(remote, true)?,
        })
    }

    /// Seals one RTP packet (header in the clear, payload encrypted, auth tag appended).
    pub fn protect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        self.outbound
            .encrypt_rtp(packet)
            .map(|b| b.to_vec())
            .map_err(|e| SrtpError::Rejected(e.to_string()))
    }

    /// Opens one SRTP packet: authenticated, not replayed, decrypted.
    pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        self.inbound
            .decrypt_rtp(packet)
            .map(|b| b.to_vec())
            .map_err(|e| SrtpError::Rejected(e.to_string()))
    }

    /// Seals one compound RTCP packet (SRTCP, RFC 3711 §3.4).
    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        self.outbound
            .encrypt_rtcp(packet)
            .map(|b| b.to_vec())
            .map_err(|e| SrtpError::Rejected(e.to_string()))
    }

    /// Opens one SRTCP packet.
    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        self.inbound
            .decrypt_rtcp(packet)
            .map(|b| b.to_vec())
            .map_err(|e| SrtpError::Rejected(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        hex::decode(s).expect("hex")
    }

    /// RFC 3711 Appendix B.3's master key and salt; the packet and its SRTP form are libsrtp's
    /// reference vector for AES_CM_128_HMAC_SHA1_80 (`srtp_driver.c`, checked against the
    /// RFC's key derivation), so this is interoperability, not a round trip with ourselves.
    const MASTER: &str = "e1f97a0d3e018be0d64fa32c06de4139 0ec675ad498afeebb6960b3aabe6";
    const PLAIN: &str = "800f1234decafbadcafebabe abababababababababababababababab";
    const SEALED: &str =
        "800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb";

    #[test]
    fn sealing_matches_the_reference_vector_and_opens_again() {
        let key = MasterKey::from_bytes(&unhex(MASTER)).expect("30 bytes");
        let mut ours = SrtpSession::new(&key, &key).expect("session");
        let sealed = ours.protect_rtp(&unhex(PLAIN)).expect("seal");
        assert_eq!(hex::encode(&sealed), hex::encode(unhex(SEALED)));
        assert_eq!(sealed.len(), unhex(PLAIN).len() + AUTH_TAG_LEN);
        let mut theirs = SrtpSession::new(&key, &key).expect("session");
        assert_eq!(theirs.unprotect_rtp(&sealed).expect("open"), unhex(PLAIN));
    }

    #[test]
    fn a_tampered_replayed_or_foreign_packet_is_rejected() {
        let key = MasterKey::from_bytes(&unhex(MASTER)).expect("30 bytes");
        let mut rx = SrtpSession::new(&MasterKey::random(), &key).expect("session");
        let sealed = unhex(SEALED);
        let mut tampered = sealed.clone();
        tampered[14] ^= 1;
        assert!(rx.unprotect_rtp(&tampered).is_err(), "bit flip");
        assert!(rx.unprotect_rtp(&unhex(PLAIN)).is_err(), "plain RTP");
        rx.unprotect_rtp(&sealed).expect("the genuine packet");
        assert!(rx.unprotect_rtp(&sealed).is_err(), "replay");
        let mut other = SrtpSession::new(&MasterKey::random(), &MasterKey::random()).unwrap();
        assert!(other.unprotect_rtp(&sealed).is_err(), "another key");
    }

    #[test]
    fn rtcp_round_trips_and_keys_stay_out_of_debug() {
        let (a, b) = (MasterKey::random(), MasterKey::random());
        assert_ne!(a, b, "fresh keys differ");
        let mut alice = SrtpSession::new(&a, &b).unwrap();
        let mut bob = SrtpSession::new(&b, &a).unwrap();
        // an empty receiver report, SSRC 0x01020304
        let rr = unhex("80c90001 01020304");
        let sealed = alice.protect_rtcp(&rr).expect("seal rtcp");
        assert_ne!(sealed, rr);
        assert_eq!(bob.unprotect_rtcp(&sealed).expect("open rtcp"), rr);
        assert_eq!(format!("{a:?}"), "MasterKey(<redacted>)");
    }
}
