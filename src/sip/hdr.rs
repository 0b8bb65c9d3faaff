//! Typed values of the headers the transaction and dialog layers need: Via (RFC 3261 §20.42)
//! and CSeq (§20.16).

use std::fmt;

use super::method::Method;
use super::uri::{find_param, parse_params, Params};
use super::SipError;

/// The magic cookie that marks an RFC 3261 branch (§8.1.1.7).
pub const BRANCH_COOKIE: &str = "z9hG4bK";

/// One Via value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Transport token (`UDP`, `TCP`, `TLS`, `WS`…), upper-case.
    pub transport: String,
    /// sent-by host (IPv6 without brackets).
    pub host: String,
    /// sent-by port.
    pub port: Option<u16>,
    /// Parameters (`branch`, `received`, `rport`…).
    pub params: Params,
}

impl Via {
    /// A Via for a request we send.
    pub fn new(transport: &str, host: &str, port: u16, branch: &str) -> Self {
        Self {
            transport: transport.to_ascii_uppercase(),
            host: host.to_owned(),
            port: Some(port),
            params: vec![
                ("branch".to_owned(), Some(branch.to_owned())),
                ("rport".to_owned(), None),
            ],
        }
    }

    /// Parses `SIP/2.0/UDP host:port;params` (whitespace around `/` tolerated, §7.3.1).
    pub fn parse(value: &str) -> Result<Self, SipError> {
        let bad = || SipError::BadHeaderValue {
            header: "Via",
            value: value.chars().take(200).collect(),
        };
        let mut parts = value.trim().splitn(3, '/');
        let (Some(name), Some(version), Some(rest)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if !name.trim().eq_ignore_ascii_case("SIP") || version.trim() != "2.0" {
            return Err(bad());
        }
        let rest = rest.trim_start();
        let split = rest.find(|c: char| c.is_whitespace()).ok_or_else(bad)?;
        let transport = rest[..split].to_ascii_uppercase();
        let sent = rest[split..].trim_start();
        let (hostport, params) = match sent.split_once(';') {
            Some((h, p)) => (h.trim(), parse_params(p)),
            None => (sent.trim(), Vec::new()),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(bad)?;
            (h, after.strip_prefix(':'))
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() || transport.is_empty() || host.contains(char::is_whitespace) {
            return Err(bad());
        }
        let port = match port {
            Some(p) => Some(p.trim().parse::<u16>().map_err(|_| bad())?),
            None => None,
        };
        Ok(Self {
            transport,
            host: host.to_owned(),
            port,
            params,
        })
    }

    /// The branch parameter (transaction id, §17.2.3).
    pub fn branch(&self) -> Option<&str> {
        find_param(&self.params, "branch").flatten()
    }

    /// A parameter value (`Some(None)` for flags).
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    /// Sets or replaces a parameter (used for `received`/`rport` on incoming requests, §18.2.1
    /// and RFC 3581).
    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        match self
            .params
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
        {
            Some(p) => p.1 = value.map(str::to_owned),
            None => self
                .params
                .push((name.to_owned(), value.map(str::to_owned))),
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} ", self.transport)?;
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        for (k, v) in &self.params {
            match v {
                Some(v) => write!(f, ";{k}={v}")?,
                None => write!(f, ";{k}")?,
            }
        }
        Ok(())
    }
}

/// CSeq: sequence number and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// Sequence number (< 2^31, §8.1.1.5).
    pub seq: u32,
    /// Method the number belongs to.
    pub method: Method,
}

impl CSeq {
    /// Parses `123 INVITE`.
    pub fn parse(value: &str) -> Result<Self, SipError> {
        let bad = || SipError::BadHeaderValue {
            header: "CSeq",
            value: value.chars().take(200).collect(),
        };
        let mut it = value.split_whitespace();
        let (Some(n), Some(m), None) = (it.next(), it.next(), it.next()) else {
            return Err(bad());
        };
        let seq = n.parse::<u32>().map_err(|_| bad())?;
        if seq >= 1 << 31 {
            return Err(bad());
        }
        Ok(Self {
            seq,
            method: Method::parse(m).map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_table() {
        let v =
            Via::parse("SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport=5070;received=10.0.0.1")
                .expect("valid");
        assert_eq!(
            (v.transport.as_str(), v.host.as_str(), v.port),
            ("UDP", "127.0.0.1", Some(5070))
        );
        assert_eq!(v.branch(), Some("z9hG4bK-1"));
        assert_eq!(v.param("received"), Some(Some("10.0.0.1")));
        let spaced =
            Via::parse("SIP / 2.0 / tcp  [2001:db8::9]:5060 ; branch=z9hG4bKx").expect("valid");
        assert_eq!(
            (spaced.transport.as_str(), spaced.host.as_str()),
            ("TCP", "2001:db8::9")
        );
        assert_eq!(spaced.branch(), Some("z9hG4bKx"));
        let mut built = Via::new("udp", "10.1.1.1", 5060, "z9hG4bKabc");
        built.set_param("received", Some("1.2.3.4"));
        assert_eq!(
            built.to_string(),
            "SIP/2.0/UDP 10.1.1.1:5060;branch=z9hG4bKabc;rport;received=1.2.3.4"
        );
        assert_eq!(Via::parse(&built.to_string()), Ok(built));
        for bad in [
            "",
            "SIP/2.0",
            "SIP/2.0/UDP",
            "SIP/3.0/UDP h",
            "HTTP/2.0/UDP h",
            "SIP/2.0/UDP h:99999",
            "SIP/2.0/UDP [::1",
        ] {
            assert!(Via::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cseq_table() {
        assert_eq!(
            CSeq::parse(" 314159  INVITE "),
            Ok(CSeq {
                seq: 314_159,
                method: Method::Invite
            })
        );
        assert_eq!(
            CSeq::parse("1 BYE").map(|c| c.to_string()).as_deref(),
            Ok("1 BYE")
        );
        for bad in [
            "",
            "INVITE",
            "1",
            "-1 INVITE",
            "x INVITE",
            "1 INVITE extra",
            "2147483648 BYE",
            "1 IN@VITE",
        ] {
            assert!(CSeq::parse(bad).is_err(), "{bad:?}");
        }
    }
}
