//! SIP URIs (RFC 3261 §19.1) and name-addr values of From/To/Contact (§20.10, §25.1).

use std::fmt;

use super::SipError;

/// `;name=value;flag` parameters, in order, names compared case-insensitively.
pub type Params = Vec<(String, Option<String>)>;

/// Parses `a=b;c;d=e` (without the leading `;`) into [`Params`].
pub fn parse_params(s: &str) -> Params {
    s.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (
                k.trim().to_owned(),
                Some(v.trim().trim_matches('"').to_owned()),
            ),
            None => (p.to_owned(), None),
        })
        .collect()
}

/// Looks up a parameter; `Some(None)` for a flag such as `lr` or `rport`.
pub fn find_param<'a>(params: &'a Params, name: &str) -> Option<Option<&'a str>> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_deref())
}

fn write_params(f: &mut fmt::Formatter<'_>, params: &Params) -> fmt::Result {
    for (k, v) in params {
        match v {
            Some(v) => write!(f, ";{k}={v}")?,
            None => write!(f, ";{k}")?,
        }
    }
    Ok(())
}

/// A `sip:` or `sips:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    /// `sips:` (TLS required end to end).
    pub secure: bool,
    /// User part (a phone number for trunk calls), unescaped form kept as received.
    pub user: Option<String>,
    /// Password in the userinfo (deprecated, §19.1.1, but parsed).
    pub password: Option<String>,
    /// Host name or IP address; IPv6 without brackets.
    pub host: String,
    /// Port, if given.
    pub port: Option<u16>,
    /// URI parameters (`transport`, `lr`, …).
    pub params: Params,
    /// Raw `?headers` part, if any.
    pub headers: Option<String>,
}

fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

impl SipUri {
    /// A plain `sip:user@host:port` URI.
    pub fn new(user: Option<&str>, host: &str, port: Option<u16>) -> Self {
        Self {
            secure: false,
            user: user.map(str::to_owned),
            password: None,
            host: host.to_owned(),
            port,
            params: Vec::new(),
            headers: None,
        }
    }

    /// Parses a URI; anything other than `sip:`/`sips:` is rejected (the trunk speaks SIP).
    pub fn parse(s: &str) -> Result<Self, SipError> {
        let bad = || SipError::BadUri(s.chars().take(200).collect());
        let s = s.trim();
        let (secure, rest) = match s.split_once(':') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("sip") => (false, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("sips") => (true, rest),
            _ => return Err(bad()),
        };
        let (rest, headers) = match rest.split_once('?') {
            Some((r, h)) => (r, Some(h.to_owned())),
            None => (rest, None),
        };
        let (userinfo, hostpart) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            Some("") => return Err(bad()),
            Some(u) => match u.split_once(':') {
                Some((u, p)) => (Some(u.to_owned()), Some(p.to_owned())),
                None => (Some(u.to_owned()), None),
            },
            None => (None, None),
        };
        let (hostport, params) = match hostpart.split_once(';') {
            Some((h, p)) => (h, parse_params(p)),
            None => (hostpart, Vec::new()),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (addr, after) = v6.split_once(']').ok_or_else(bad)?;
            if addr.is_empty()
                || !addr
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
            {
                return Err(bad());
            }
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(bad)?),
            };
            (addr.to_owned(), port)
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (hostport.to_owned(), None),
            }
        };
        if !host.contains(':') && !valid_host(&host) {
            return Err(bad());
        }
        let port = match port {
            Some(p) => Some(p.parse::<u16>().map_err(|_| bad())?),
            None => None,
        };
        Ok(Self {
            secure,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }

    /// A URI parameter (`Some(None)` for flags).
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    /// `host:port` with brackets for IPv6 and the scheme's default port if none is given.
    pub fn host_port(&self) -> String {
        let port = self.port.unwrap_or(if self.secure { 5061 } else { 5060 });
        if self.host.contains(':') {
            format!("[{}]:{port}", self.host)
        } else {
            format!("{}:{port}", self.host)
        }
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write_params(f, &self.params)?;
        if let Some(h) = &self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

/// `"Display" <uri>;params` or `uri;params` — the value of From, To and Contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name without quotes.
    pub display: Option<String>,
    /// The address.
    pub uri: SipUri,
    /// Header parameters (`tag`, `expires`, …), not URI parameters.
    pub params: Params,
}

impl NameAddr {
    /// A bare address with no display name or parameters.
    pub fn new(uri: SipUri) -> Self {
        Self {
            display: None,
            uri,
            params: Vec::new(),
        }
    }

    /// Parses a name-addr or addr-spec (RFC 3261 §20.10: without `<>`, parameters after the
    /// URI belong to the header, not the URI).
    pub fn parse(s: &str) -> Result<Self, SipError> {
        let s = s.trim();
        let bad = || SipError::BadUri(s.chars().take(200).collect());
        if let Some(lt) = find_unquoted(s, '<') {
            let display = s[..lt].trim();
            let after = &s[lt + 1..];
            let gt = after.find('>').ok_or_else(bad)?;
            let uri = SipUri::parse(&after[..gt])?;
            let rest = after[gt + 1..].trim();
            let params = match rest.strip_prefix(';') {
                Some(p) => parse_params(p),
                None if rest.is_empty() => Vec::new(),
                None => return Err(bad()),
            };
            let display = if display.is_empty() {
                None
            } else {
                Some(unquote(display))
            };
            Ok(Self {
                display,
                uri,
                params,
            })
        } else {
            let (uri, params) = match s.split_once(';') {
                Some((u, p)) => (u, parse_params(p)),
                None => (s, Vec::new()),
            };
            Ok(Self {
                display: None,
                uri: SipUri::parse(uri)?,
                params,
            })
        }
    }

    /// The `tag` parameter (dialog identification, RFC 3261 §19.3).
    pub fn tag(&self) -> Option<&str> {
        find_param(&self.params, "tag").flatten()
    }

    /// Sets or replaces the `tag` parameter.
    pub fn set_tag(&mut self, tag: &str) {
        self.params.retain(|(k, _)| !k.eq_ignore_ascii_case("tag"));
        self.params.push(("tag".to_owned(), Some(tag.to_owned())));
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write!(f, "\"{}\" ", d.replace('\\', "\\\\").replace('"', "\\\""))?;
        }
        write!(f, "<{}>", self.uri)?;
        write_params(f, &self.params)
    }
}

/// Byte index of `needle` outside double quotes.
fn find_unquoted(s: &str, needle: char) -> Option<usize> {
    let mut in_quote = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if in_quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_quote = false,
                _ => {}
            }
        } else if c == '"' {
            in_quote = true;
        } else if c == needle {
            return Some(i);
        }
    }
    None
}

fn unquote(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|x| x.strip_suffix('"')) else {
        return s.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_uri_table() {
        let cases: &[(&str, Option<&str>, &str, Option<u16>)] = &[
            (
                "sip:patient@127.0.0.1:5070",
                Some("patient"),
                "127.0.0.1",
                Some(5070),
            ),
            (
                "sip:+8613800000000@trunk.example;user=phone",
                Some("+8613800000000"),
                "trunk.example",
                None,
            ),
            ("SIP:host.example", None, "host.example", None),
            (
                "sips:a:secret@[2001:db8::1]:5061;transport=tls",
                Some("a"),
                "2001:db8::1",
                Some(5061),
            ),
            (
                "sip:+86;npdi@gw.example?subject=x",
                Some("+86;npdi"),
                "gw.example",
                None,
            ),
        ];
        for &(s, user, host, port) in cases {
            let u = SipUri::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(
                (u.user.as_deref(), u.host.as_str(), u.port),
                (user, host, port),
                "{s}"
            );
        }
        let u = SipUri::parse("sip:a@h;transport=UDP;lr").expect("valid");
        assert_eq!(u.param("transport"), Some(Some("UDP")));
        assert_eq!(u.param("lr"), Some(None));
        assert_eq!(u.to_string(), "sip:a@h;transport=UDP;lr");
        assert_eq!(u.host_port(), "h:5060");
    }

    #[test]
    fn rejects_bad_uris() {
        for s in [
            "",
            "tel:+123",
            "http://x",
            "sip:",
            "sip:@host",
            "sip:a@",
            "sip:a@h:99999",
            "sip:a@h:x",
            "sip:a@[::1",
            "sip:a@ho st",
            "sip:a@[zz]",
        ] {
            assert!(SipUri::parse(s).is_err(), "{s:?} should be rejected");
        }
    }

    #[test]
    fn name_addr_forms() {
        let n = NameAddr::parse("\"Nurse \\\"Li\\\", ward 3\" <sip:li@h;transport=udp>;tag=abc")
            .expect("valid");
        assert_eq!(n.display.as_deref(), Some("Nurse \"Li\", ward 3"));
        assert_eq!(n.uri.param("transport"), Some(Some("udp")));
        assert_eq!(n.tag(), Some("abc"));
        let plain = NameAddr::parse("sip:bob@h;tag=9").expect("valid");
        assert_eq!(plain.tag(), Some("9"));
        assert!(
            plain.uri.params.is_empty(),
            "params of addr-spec belong to the header"
        );
        let tokens = NameAddr::parse("Bob <sip:bob@h>").expect("valid");
        assert_eq!(tokens.display.as_deref(), Some("Bob"));
        let mut round = NameAddr::parse(&n.to_string()).expect("round trip");
        assert_eq!(round, n);
        round.set_tag("new");
        assert_eq!(round.tag(), Some("new"));
        for bad in ["<sip:a@h", "<sip:a@h> junk", "Bob <tel:1>"] {
            assert!(NameAddr::parse(bad).is_err(), "{bad:?}");
        }
    }
}
