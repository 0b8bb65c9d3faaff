//! The server side of HTTP Digest for SIP (RFC 3261 §22, RFC 7616): challenges with a nonce
//! that expires, and verification of `Authorization` / `Proxy-Authorization` answers against
//! stored HA1 values (the plaintext password is never known here).
//!
//! Nonces are stateless: `<issued-ms>-<random>-<mac>`, the MAC an HMAC-SHA256 under a key drawn
//! at start-up, so a flood of unauthenticated requests costs no memory. Only nonces that were
//! used successfully are remembered, with the highest nonce-count seen (`qop=auth` is required,
//! so every answer carries `nc`), which refuses a replayed request. A nonce past its lifetime,
//! or one of an earlier process (its MAC no longer verifies), answered with the right password
//! gets a fresh challenge with `stale=true`, so the phone retries without asking its user.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::sip::auth::{auth_params, Algorithm};

/// The password-equivalent digest hashes of one account: `H(username:realm:password)` for
/// each algorithm a phone may pick (RFC 7616 §3.4.2).
#[derive(Clone, PartialEq, Eq)]
pub struct Ha1 {
    /// MD5 HA1, 32 hex digits.
    pub md5: String,
    /// SHA-256 HA1, 64 hex digits.
    pub sha256: String,
}

impl std::fmt::Debug for Ha1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ha1(..)") // password-equivalent: never in logs
    }
}

impl Ha1 {
    /// Both HA1 values of `username` in `realm`.
    pub fn compute(username: &str, realm: &str, password: &str) -> Ha1 {
        let a1 = format!("{username}:{realm}:{password}");
        Ha1 {
            md5: Algorithm::Md5.hash(&a1),
            sha256: Algorithm::Sha256.hash(&a1),
        }
    }

    fn for_algorithm(&self, alg: Algorithm) -> Option<&str> {
        match alg {
            Algorithm::Md5 => Some(&self.md5),
            Algorithm::Sha256 => Some(&self.sha256),
            // -sess variants are not offered
            Algorithm::Md5Sess | Algorithm::Sha256Sess => None,
        }
    }
}

/// Why an answer to a challenge was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DigestFailure {
    /// No credentials at all: the normal first request.
    #[error("no credentials")]
    NoCredentials,
    /// The header does not parse as a Digest answer with the required parameters.
    #[error("malformed credentials")]
    Malformed,
    /// Another realm than ours.
    #[error("wrong realm")]
    WrongRealm,
    /// An algorithm we did not offer.
    #[error("algorithm not offered")]
    UnsupportedAlgorithm,
    /// No `qop=auth` (we always ask for it: without it there is no replay protection).
    #[error("qop=auth missing")]
    NoQop,
    /// The digest `uri` is not the request's Request-URI (RFC 2617 §3.2.2.5).
    #[error("digest uri does not match the Request-URI")]
    UriMismatch,
    /// No account of that name.
    #[error("unknown user")]
    UnknownUser,
    /// The response does not match: a wrong password.
    #[error("wrong password")]
    WrongPassword,
    /// Right password, but the nonce expired or is not ours any more: retry with a new one.
    #[error("stale nonce")]
    StaleNonce,
    /// A nonce-count not above the last one used with this nonce.
    #[error("replayed nonce count")]
    Replay,
    /// Too many wrong passwords from this address for this user: refused without checking.
    #[error("too many failures")]
    TooManyFailures,
}

/// A parsed Digest answer.
#[derive(Debug, Clone)]
struct Answer {
    username: String,
    realm: String,
    nonce: String,
    uri: String,
    response: String,
    algorithm: Algorithm,
    nc: String,
    cnonce: String,
}

fn parse_answer(value: &str) -> Result<Answer, DigestFailure> {
    let v = value.trim();
    let rest = v
        .get(..6)
        .filter(|s| s.eq_ignore_ascii_case("digest"))
        .and_then(|_| v.get(6..))
        .ok_or(DigestFailure::Malformed)?;
    let params = auth_params(rest);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let need = |k: &str| get(k).ok_or(DigestFailure::Malformed);
    let (username, realm, nonce, uri, response) = (
        need("username")?,
        need("realm")?,
        need("nonce")?,
        need("uri")?,
        need("response")?,
    );
    let algorithm = match get("algorithm") {
        None => Algorithm::Md5,
        Some(a) => Algorithm::parse(&a).ok_or(DigestFailure::UnsupportedAlgorithm)?,
    };
    if !get("qop").is_some_and(|q| q.eq_ignore_ascii_case("auth")) {
        return Err(DigestFailure::NoQop);
    }
    Ok(Answer {
        username,
        realm,
        nonce,
        uri,
        response,
        algorithm,
        nc: need("nc")?,
        cnonce: need("cnonce")?,
    })
}

/// Compares two hex strings in time independent of where they differ.
fn same_hex(a: &str, b: &str) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| {
        acc | (x.to_ascii_lowercase() ^ y.to_ascii_lowercase())
    }) == 0
}

/// Issues and checks nonces for one realm.
pub(super) struct DigestServer {
    realm: String,
    algorithms: Vec<Algorithm>,
    lifetime: Duration,
    key: [u8; 32],
    epoch: Instant,
    /// Nonces used successfully: when issued, and the highest nonce-count seen.
    used: HashMap<String, (Duration, u32)>,
}

impl DigestServer {
    pub(super) fn new(
        realm: String,
        algorithms: Vec<Algorithm>,
        lifetime: Duration,
        key: [u8; 32],
        epoch: Instant,
    ) -> DigestServer {
        DigestServer {
            realm,
            algorithms,
            lifetime,
            key,
            epoch,
            used: HashMap::new(),
        }
    }

    pub(super) fn realm(&self) -> &str {
        &self.realm
    }

    fn mac(&self, stamp: &str) -> String {
        // new_from_slice only fails for key sizes HMAC cannot take; any size works for SHA-256
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return String::new();
        };
        mac.update(stamp.as_bytes());
        mac.update(b":");
        mac.update(self.realm.as_bytes());
        hex::encode(mac.finalize().into_bytes().get(..16).unwrap_or_default())
    }

    /// A fresh nonce; `random` should come from the caller's RNG.
    pub(super) fn nonce(&self, now: Instant, random: u64) -> String {
        let ms = now.saturating_duration_since(self.epoch).as_millis();
        let stamp = format!("{ms:x}-{random:016x}");
        format!("{stamp}-{}", self.mac(&stamp))
    }

    /// When `nonce` was issued by this process, if its MAC verifies.
    fn issued(&self, nonce: &str) -> Option<Duration> {
        let (stamp, mac) = nonce.rsplit_once('-')?;
        if !same_hex(mac, &self.mac(stamp)) {
            return None;
        }
        let ms = u64::from_str_radix(stamp.split_once('-')?.0, 16).ok()?;
        Some(Duration::from_millis(ms))
    }

    /// The `WWW-Authenticate` / `Proxy-Authenticate` values, one per offered algorithm in
    /// preference order (RFC 8760 §2.4), all with the same nonce.
    pub(super) fn challenges(&self, nonce: &str, stale: bool) -> Vec<String> {
        let realm = self.realm.replace('\\', "\\\\").replace('"', "\\\"");
        self.algorithms
            .iter()
            .map(|alg| {
                let mut v = format!(
                    "Digest realm=\"{realm}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"",
                    alg.as_str()
                );
                if stale {
                    v.push_str(", stale=true");
                }
                v
            })
            .collect()
    }

    /// The user name an answer claims, if it parses (for logging a failure).
    pub(super) fn claimed_user(value: &str) -> Option<String> {
        parse_answer(value).ok().map(|a| a.username)
    }

    /// Checks an answer to our challenge for `method` on `request_uri` (as it appears on the
    /// request line). `ha1_of` finds an account's hashes by user name. On success returns the
    /// user name and remembers the nonce-count.
    pub(super) fn verify<'a>(
        &mut self,
        header: Option<&str>,
        method: &str,
        request_uri: &crate::sip::uri::SipUri,
        ha1_of: impl Fn(&str) -> Option<&'a Ha1>,
        now: Instant,
    ) -> Result<String, DigestFailure> {
        let answer = parse_answer(header.ok_or(DigestFailure::NoCredentials)?)?;
        if answer.realm != self.realm {
            return Err(DigestFailure::WrongRealm);
        }
        if !self.algorithms.contains(&answer.algorithm) {
            return Err(DigestFailure::UnsupportedAlgorithm);
        }
        let uri_matches = answer.uri == request_uri.to_string()
            || crate::sip::uri::SipUri::parse(&answer.uri).is_ok_and(|u| u == *request_uri);
        if !uri_matches {
            return Err(DigestFailure::UriMismatch);
        }
        let nc = u32::from_str_radix(&answer.nc, 16).map_err(|_| DigestFailure::Malformed)?;
        // The nonce first (its MAC, then its age), the password after: a guess made with a
        // forged or expired nonce gets a fresh challenge (stale, as a nonce of a process before
        // a restart does, so phones retry without asking) and learns nothing of the password.
        let age = now.saturating_duration_since(self.epoch);
        let issued = self
            .issued(&answer.nonce)
            .filter(|t| age.saturating_sub(*t) < self.lifetime)
            .ok_or(DigestFailure::StaleNonce)?;
        let ha1 = ha1_of(&answer.username).ok_or(DigestFailure::UnknownUser)?;
        let ha1 = ha1
            .for_algorithm(answer.algorithm)
            .ok_or(DigestFailure::UnsupportedAlgorithm)?;
        let alg = answer.algorithm;
        let ha2 = alg.hash(&format!("{method}:{}", answer.uri));
        let expected = alg.hash(&format!(
            "{ha1}:{}:{}:{}:auth:{ha2}",
            answer.nonce, answer.nc, answer.cnonce
        ));
        if !same_hex(&expected, &answer.response) {
            return Err(DigestFailure::WrongPassword);
        }
        let entry = self.used.entry(answer.nonce).or_insert((issued, 0));
        if nc <= entry.1 {
            return Err(DigestFailure::Replay);
        }
        entry.1 = nc;
        Ok(answer.username)
    }

    /// When the oldest nonce in use runs out (and [`DigestServer::purge`] has work).
    pub(super) fn next_expiry(&self) -> Option<Instant> {
        self.used
            .values()
            .map(|(issued, _)| self.epoch + *issued + self.lifetime)
            .min()
    }

    /// Forgets nonces past their lifetime.
    pub(super) fn purge(&mut self, now: Instant) {
        let age = now.saturating_duration_since(self.epoch);
        let lifetime = self.lifetime;
        self.used
            .retain(|_, (issued, _)| age.saturating_sub(*issued) < lifetime);
    }

    #[cfg(test)]
    pub(super) fn remembered(&self) -> usize {
        self.used.len()
    }
}
