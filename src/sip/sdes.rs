//! SDES (RFC 4568): SRTP keys carried in SDP `a=crypto` attributes.
//!
//! Only over TLS: the key travels in the SIP body, so SDES over UDP or TCP hands it to anyone
//! on the path (RFC 4568 §8.3). `sip.srtp = "mandatory"` therefore needs `sip.transport =
//! "tls"`, which the config check enforces. One suite, AES_CM_128_HMAC_SHA1_80 (the one every
//! SDES trunk offers, RFC 4568 §6.2.1); no MKI, the default key lifetime (2^48 packets).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::rtp::srtp::MasterKey;

/// The suite we offer and accept.
pub const SUITE: &str = "AES_CM_128_HMAC_SHA1_80";

/// Whether a call's media must be SRTP (`sip.srtp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SrtpPolicy {
    /// Plain RTP/AVP (UDP and TCP trunks; SDES keys would travel in the clear).
    #[default]
    Off,
    /// RTP/SAVP with an `a=crypto` key only; an offer without one gets 488 (TLS trunks).
    Mandatory,
}

/// One `a=crypto` line of our suite: its tag (the answer echoes the offer's) and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    /// The offer's tag for this line (RFC 4568 §6.1: the answer uses the same).
    pub tag: u32,
    /// Master key and salt.
    pub key: MasterKey,
}

impl Crypto {
    /// Parses the value of an `a=crypto` attribute (`1 AES_CM_128_HMAC_SHA1_80
    /// inline:<base64>[|lifetime][|mki:len] [params]`); `None` for another suite, an MKI,
    /// session parameters we do not implement, or a malformed key.
    pub fn parse(value: &str) -> Option<Crypto> {
        let mut it = value.split_ascii_whitespace();
        let tag: u32 = it.next()?.parse().ok()?;
        if !it.next()?.eq_ignore_ascii_case(SUITE) {
            return None;
        }
        let params = it.next()?;
        if it.next().is_some() {
            // session parameters (UNENCRYPTED_SRTP, KDR…) change the protection: refuse
            return None;
        }
        // one key only (several keys need MKIs)
        if params.contains(';') {
            return None;
        }
        let inline = params.strip_prefix("inline:")?;
        let mut parts = inline.split('|');
        let key = STANDARD.decode(parts.next()?).ok()?;
        for extra in parts {
            // a lifetime is fine; an MKI (`1:4`) is not supported
            if extra.contains(':') {
                return None;
            }
        }
        Some(Crypto {
            tag,
            key: MasterKey::from_bytes(&key)?,
        })
    }

    /// The attribute value (`<tag> AES_CM_128_HMAC_SHA1_80 inline:<base64>`).
    pub fn value(&self) -> String {
        format!(
            "{} {SUITE} inline:{}",
            self.tag,
            STANDARD.encode(self.key.as_bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_suite_parses_and_prints_back() {
        // RFC 4568 §4's example line
        let line =
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4";
        assert_eq!(Crypto::parse(line), None, "an MKI is refused");
        let line = "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20";
        let c = Crypto::parse(line).expect("parses");
        assert_eq!(c.tag, 1);
        assert_eq!(
            c.value(),
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
        );
        assert_eq!(Crypto::parse(&c.value()), Some(c));
    }

    #[test]
    fn other_suites_and_bad_keys_are_not_ours() {
        for line in [
            "1 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
            "1 AEAD_AES_128_GCM inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
            "1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=",
            "1 AES_CM_128_HMAC_SHA1_80 inline:!!!",
            "x AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR UNENCRYPTED_SRTP",
            "1 AES_CM_128_HMAC_SHA1_80",
        ] {
            assert_eq!(Crypto::parse(line), None, "{line}");
        }
    }
}
