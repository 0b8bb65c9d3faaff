//! HTTP Digest authentication for SIP (RFC 3261 §22.4, RFC 2617, RFC 7616): answer a 401/407
//! challenge from the trunk with an Authorization/Proxy-Authorization header.
//!
//! MD5 is what nearly every SIP trunk still uses; SHA-256 (RFC 7616) is supported too. Only
//! `qop=auth` (or none) is implemented: `auth-int` over SIP bodies is essentially unused.

use md5::Md5;
use sha2::{Digest, Sha256};

use super::SipError;

/// Digest hash algorithm (RFC 7616 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// MD5 (default when absent).
    Md5,
    /// MD5-sess.
    Md5Sess,
    /// SHA-256.
    Sha256,
    /// SHA-256-sess.
    Sha256Sess,
}

impl Algorithm {
    /// Parses an `algorithm=` token (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "MD5" => Algorithm::Md5,
            "MD5-SESS" => Algorithm::Md5Sess,
            "SHA-256" => Algorithm::Sha256,
            "SHA-256-SESS" => Algorithm::Sha256Sess,
            _ => return None,
        })
    }

    /// The token as written in a challenge.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// Lower-case hex digest of `data` with this algorithm's hash.
    pub fn hash(self, data: &str) -> String {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => hex::encode(Md5::digest(data.as_bytes())),
            Algorithm::Sha256 | Algorithm::Sha256Sess => {
                hex::encode(Sha256::digest(data.as_bytes()))
            }
        }
    }
}

/// A parsed `WWW-Authenticate`/`Proxy-Authenticate` Digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Protection space.
    pub realm: String,
    /// Server nonce.
    pub nonce: String,
    /// Opaque value to echo back.
    pub opaque: Option<String>,
    /// Hash algorithm.
    pub algorithm: Algorithm,
    /// True when the server offered `qop=auth`.
    pub qop_auth: bool,
    /// `stale=true`: the nonce expired but the credentials were right (retry without asking).
    pub stale: bool,
}

/// Splits `k=v, k="v, with comma"` auth-params (names lower-cased).
pub(crate) fn auth_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remainder) = if let Some(q) = after.strip_prefix('"') {
            let mut val = String::new();
            let mut escaped = false;
            let mut end = q.len();
            for (i, c) in q.char_indices() {
                if escaped {
                    val.push(c);
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    end = i + 1;
                    break;
                } else {
                    val.push(c);
                }
            }
            (val, q.get(end..).unwrap_or(""))
        } else {
            match after.find(',') {
                Some(i) => (after[..i].trim().to_owned(), &after[i..]),
                None => (after.trim().to_owned(), ""),
            }
        };
        out.push((key, value));
        rest = remainder.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

impl Challenge {
    /// Parses a header value such as `Digest realm="x", nonce="y", qop="auth"`.
    pub fn parse(value: &str) -> Result<Self, SipError> {
        let v = value.trim();
        let rest = v
            .get(..6)
            .filter(|s| s.eq_ignore_ascii_case("digest"))
            .and_then(|_| v.get(6..))
            .ok_or_else(|| SipError::BadChallenge("only the Digest scheme is supported".into()))?;
        let params = auth_params(rest);
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let algorithm = match get("algorithm") {
            None => Algorithm::Md5,
            Some(a) => Algorithm::parse(&a)
                .ok_or_else(|| SipError::BadChallenge(format!("unsupported algorithm {a}")))?,
        };
        let qop = get("qop");
        let qop_auth = qop
            .as_deref()
            .is_some_and(|q| q.split(',').any(|x| x.trim().eq_ignore_ascii_case("auth")));
        if qop.is_some() && !qop_auth {
            return Err(SipError::BadChallenge(
                "server requires qop=auth-int".into(),
            ));
        }
        Ok(Self {
            realm: get("realm").ok_or_else(|| SipError::BadChallenge("no realm".into()))?,
            nonce: get("nonce").ok_or_else(|| SipError::BadChallenge("no nonce".into()))?,
            opaque: get("opaque"),
            algorithm,
            qop_auth,
            stale: get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// Computes the `response` value (RFC 2617 §3.2.2.1, RFC 7616 §3.4.1).
    pub fn response(
        &self,
        user: &str,
        password: &str,
        method: &str,
        uri: &str,
        cnonce: &str,
        nc: u32,
    ) -> String {
        let alg = self.algorithm;
        let mut ha1 = alg.hash(&format!("{user}:{}:{password}", self.realm));
        if matches!(alg, Algorithm::Md5Sess | Algorithm::Sha256Sess) {
            ha1 = alg.hash(&format!("{ha1}:{}:{cnonce}", self.nonce));
        }
        let ha2 = alg.hash(&format!("{method}:{uri}"));
        if self.qop_auth {
            alg.hash(&format!(
                "{ha1}:{}:{nc:08x}:{cnonce}:auth:{ha2}",
                self.nonce
            ))
        } else {
            alg.hash(&format!("{ha1}:{}:{ha2}", self.nonce))
        }
    }

    /// The full `Authorization`/`Proxy-Authorization` header value. `cnonce` should be fresh
    /// random per request; `nc` counts uses of this nonce starting at 1.
    pub fn authorization(
        &self,
        user: &str,
        password: &str,
        method: &str,
        uri: &str,
        cnonce: &str,
        nc: u32,
    ) -> String {
        let q = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let response = self.response(user, password, method, uri, cnonce, nc);
        let mut v = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{response}\", algorithm={}",
            q(user),
            q(&self.realm),
            q(&self.nonce),
            q(uri),
            self.algorithm.as_str()
        );
        if self.qop_auth {
            v.push_str(&format!(
                ", qop=auth, nc={nc:08x}, cnonce=\"{}\"",
                q(cnonce)
            ));
        }
        if let Some(o) = &self.opaque {
            v.push_str(&format!(", opaque=\"{}\"", q(o)));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2617 §3.5 example.
    #[test]
    fn rfc2617_md5_vector() {
        let c = Challenge::parse(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .expect("valid");
        assert!(c.qop_auth);
        assert_eq!(c.algorithm, Algorithm::Md5);
        let r = c.response(
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "0a4f113b",
            1,
        );
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
        let h = c.authorization(
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "0a4f113b",
            1,
        );
        assert!(h.contains("response=\"6629fae49393a05397450978507c4ef1\""));
        assert!(
            h.contains("nc=00000001") && h.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"")
        );
    }

    /// RFC 7616 §3.9.1 examples (MD5 and SHA-256).
    #[test]
    fn rfc7616_vectors() {
        let base = "realm=\"http-auth@example.org\", qop=\"auth, auth-int\", nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        for (alg, want) in [
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
            (
                "SHA-256",
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let c = Challenge::parse(&format!("Digest {base}, algorithm={alg}")).expect("valid");
            assert_eq!(
                c.response(
                    "Mufasa",
                    "Circle of Life",
                    "GET",
                    "/dir/index.html",
                    cnonce,
                    1
                ),
                want,
                "{alg}"
            );
        }
    }

    #[test]
    fn no_qop_legacy_and_errors() {
        let c = Challenge::parse("digest realm=\"r\",nonce=\"n\",stale=TRUE").expect("valid");
        assert!(!c.qop_auth && c.stale);
        // RFC 2069 form: MD5(HA1:nonce:HA2).
        let ha1 = hex::encode(Md5::digest(b"u:r:p"));
        let ha2 = hex::encode(Md5::digest(b"REGISTER:sip:r"));
        let want = hex::encode(Md5::digest(format!("{ha1}:n:{ha2}").as_bytes()));
        assert_eq!(c.response("u", "p", "REGISTER", "sip:r", "x", 1), want);
        assert!(!c
            .authorization("u", "p", "REGISTER", "sip:r", "x", 1)
            .contains("qop"));
        for bad in [
            "Basic realm=\"r\"",
            "Digest nonce=\"n\"",
            "Digest realm=\"r\"",
            "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512",
            "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"",
            "",
            "Dig",
        ] {
            assert!(Challenge::parse(bad).is_err(), "{bad:?}");
        }
    }
}
