//! SDP (RFC 4566) parsing and building, restricted to what a G.711 trunk call needs.
//!
//! We parse every line into a typed structure (rejecting what breaks the grammar with a
//! message saying which line), keep unknown attributes, and build offers with PCMU, PCMA and
//! telephone-event. Offer/answer choice is in [`super::negotiate`].

use std::fmt::{self, Write as _};
use std::net::IpAddr;

use super::SipError;

/// Media direction attribute (RFC 4566 §6, RFC 3264 §6.1); absent means sendrecv.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Both ways.
    #[default]
    SendRecv,
    /// Only the describing side sends (the other side puts us on hold).
    SendOnly,
    /// Only the describing side receives.
    RecvOnly,
    /// No media either way.
    Inactive,
}

impl Direction {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }

    /// Attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an answer must carry for an offer with this one (RFC 3264 §6.1).
    pub fn answer(self) -> Self {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }
}

/// `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// Payload type.
    pub payload_type: u8,
    /// Encoding name as written (compare case-insensitively).
    pub encoding: String,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Channels, if given.
    pub channels: Option<u8>,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, …
    pub media: String,
    /// Transport port; 0 means the stream is rejected/disabled (RFC 3264 §6).
    pub port: u16,
    /// `RTP/AVP`, `RTP/SAVP`, …
    pub proto: String,
    /// Format list (payload types for RTP profiles), in preference order.
    pub formats: Vec<String>,
    /// Media-level `c=` address.
    pub connection: Option<IpAddr>,
    /// Payload type mappings.
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp:<pt> <params>`.
    pub fmtp: Vec<(u8, String)>,
    /// Direction (defaults to the session level one, then sendrecv).
    pub direction: Option<Direction>,
    /// `a=ptime`, ms.
    pub ptime: Option<u32>,
    /// Other attributes, `(name, value)`.
    pub other: Vec<(String, Option<String>)>,
}

/// A parsed session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=` username.
    pub origin_user: String,
    /// `o=` session id.
    pub session_id: u64,
    /// `o=` version, incremented on every change (RFC 3264 §8).
    pub session_version: u64,
    /// `o=` address.
    pub origin_addr: String,
    /// `s=` line.
    pub session_name: String,
    /// Session-level `c=` address.
    pub connection: Option<IpAddr>,
    /// Session-level direction.
    pub direction: Option<Direction>,
    /// Media sections.
    pub media: Vec<MediaDescription>,
}

fn bad(line_no: usize, what: &str) -> SipError {
    SipError::BadSdp(format!("line {line_no}: {what}"))
}

fn parse_connection(value: &str, line_no: usize) -> Result<IpAddr, SipError> {
    let mut it = value.split_whitespace();
    let (Some("IN"), Some(kind), Some(addr)) = (it.next(), it.next(), it.next()) else {
        return Err(bad(line_no, "c= must be 'IN IP4|IP6 <address>'"));
    };
    // Multicast TTL suffixes (/127) are not used on trunks; strip them anyway.
    let addr = addr.split('/').next().unwrap_or(addr);
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| bad(line_no, "c= address is not an IP address"))?;
    match (kind, ip) {
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => Ok(ip),
        _ => Err(bad(line_no, "c= address family does not match its address")),
    }
}

impl SessionDescription {
    /// Parses an SDP body; CRLF or LF line ends.
    pub fn parse(body: &[u8]) -> Result<Self, SipError> {
        let text = std::str::from_utf8(body).map_err(|_| SipError::BadSdp("not UTF-8".into()))?;
        let mut sdp = SessionDescription {
            origin_user: String::new(),
            session_id: 0,
            session_version: 0,
            origin_addr: String::new(),
            session_name: String::new(),
            connection: None,
            direction: None,
            media: Vec::new(),
        };
        let (mut saw_v, mut saw_o, mut saw_s) = (false, false, false);
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            let (kind, value) = line
                .split_once('=')
                .filter(|(k, _)| k.len() == 1)
                .ok_or_else(|| bad(n, "expected '<type>=<value>'"))?;
            if !saw_v && kind != "v" {
                return Err(bad(n, "first line must be v=0"));
            }
            match kind {
                "v" => {
                    if value != "0" || saw_v {
                        return Err(bad(n, "only one v=0 is allowed"));
                    }
                    saw_v = true;
                }
                "o" => {
                    let f: Vec<&str> = value.split_whitespace().collect();
                    let [user, id, ver, "IN", _kind, addr] = f.as_slice() else {
                        return Err(bad(n, "o= needs 6 fields"));
                    };
                    sdp.origin_user = (*user).to_owned();
                    sdp.session_id = id.parse().map_err(|_| bad(n, "o= session id"))?;
                    sdp.session_version = ver.parse().map_err(|_| bad(n, "o= version"))?;
                    sdp.origin_addr = (*addr).to_owned();
                    saw_o = true;
                }
                "s" => {
                    sdp.session_name = value.to_owned();
                    saw_s = true;
                }
                "c" => {
                    let ip = parse_connection(value, n)?;
                    match sdp.media.last_mut() {
                        Some(m) => m.connection = Some(ip),
                        None => sdp.connection = Some(ip),
                    }
                }
                "m" => sdp.media.push(parse_media_line(value, n)?),
                "a" => {
                    let (name, val) = match value.split_once(':') {
                        Some((k, v)) => (k, Some(v)),
                        None => (value, None),
                    };
                    match sdp.media.last_mut() {
                        Some(m) => parse_media_attribute(m, name, val, n)?,
                        None => {
                            if let Some(d) = Direction::parse(name) {
                                sdp.direction = Some(d);
                            }
                        }
                    }
                }
                k if k.chars().all(|c| c.is_ascii_lowercase()) => {} // t=, b=, i=, k=, …
                _ => return Err(bad(n, "unknown line type")),
            }
        }
        if !(saw_v && saw_o && saw_s) {
            return Err(SipError::BadSdp("missing v=, o= or s= line".into()));
        }
        Ok(sdp)
    }

    /// The first audio section, if any.
    pub fn audio(&self) -> Option<&MediaDescription> {
        self.media.iter().find(|m| m.media == "audio")
    }

    /// Effective connection address of a media section (media-level `c=` overrides session).
    pub fn connection_for(&self, m: &MediaDescription) -> Option<IpAddr> {
        m.connection.or(self.connection)
    }

    /// Effective direction of a media section.
    pub fn direction_for(&self, m: &MediaDescription) -> Direction {
        m.direction.or(self.direction).unwrap_or_default()
    }
}

fn parse_media_line(value: &str, n: usize) -> Result<MediaDescription, SipError> {
    let mut f = value.split_whitespace();
    let (Some(media), Some(port), Some(proto)) = (f.next(), f.next(), f.next()) else {
        return Err(bad(n, "m= needs media, port, proto and formats"));
    };
    // "port/count" is allowed by RFC 4566 §5.14; we use the base port.
    let port = port
        .split('/')
        .next()
        .unwrap_or(port)
        .parse::<u16>()
        .map_err(|_| bad(n, "m= port is not a number 0-65535"))?;
    let formats: Vec<String> = f.map(str::to_owned).collect();
    if formats.is_empty() {
        return Err(bad(n, "m= has no formats"));
    }
    if proto.starts_with("RTP/")
        && formats
            .iter()
            .any(|p| p.parse::<u8>().map_or(true, |v| v > 127))
    {
        return Err(bad(n, "m= RTP payload types must be 0-127"));
    }
    Ok(MediaDescription {
        media: media.to_owned(),
        port,
        proto: proto.to_owned(),
        formats,
        connection: None,
        rtpmaps: Vec::new(),
        fmtp: Vec::new(),
        direction: None,
        ptime: None,
        other: Vec::new(),
    })
}

fn parse_media_attribute(
    m: &mut MediaDescription,
    name: &str,
    val: Option<&str>,
    n: usize,
) -> Result<(), SipError> {
    if let Some(d) = Direction::parse(name) {
        m.direction = Some(d);
        return Ok(());
    }
    match (name, val) {
        ("rtpmap", Some(v)) => {
            let (pt, enc) = v
                .split_once(' ')
                .ok_or_else(|| bad(n, "rtpmap needs '<pt> <enc>/<rate>'"))?;
            let payload_type = pt
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= 127)
                .ok_or_else(|| bad(n, "rtpmap payload type"))?;
            let mut parts = enc.trim().split('/');
            let encoding = parts
                .next()
                .filter(|e| !e.is_empty())
                .ok_or_else(|| bad(n, "rtpmap encoding"))?;
            let clock_rate = parts
                .next()
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| bad(n, "rtpmap clock rate"))?;
            let channels = match parts.next() {
                Some(c) => Some(c.parse().map_err(|_| bad(n, "rtpmap channels"))?),
                None => None,
            };
            m.rtpmaps.push(RtpMap {
                payload_type,
                encoding: encoding.to_owned(),
                clock_rate,
                channels,
            });
        }
        ("fmtp", Some(v)) => {
            let (pt, params) = v.split_once(' ').unwrap_or((v, ""));
            let pt = pt.parse::<u8>().map_err(|_| bad(n, "fmtp payload type"))?;
            m.fmtp.push((pt, params.trim().to_owned()));
        }
        ("ptime", Some(v)) => {
            m.ptime = Some(v.trim().parse().map_err(|_| bad(n, "ptime"))?);
        }
        _ => m.other.push((name.to_owned(), val.map(str::to_owned))),
    }
    Ok(())
}

impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip_kind = |ip: &IpAddr| if ip.is_ipv6() { "IP6" } else { "IP4" };
        let origin_kind = if self.origin_addr.contains(':') {
            "IP6"
        } else {
            "IP4"
        };
        let mut s = String::new();
        let _ = write!(
            s,
            "v=0\r\no={} {} {} IN {} {}\r\ns={}\r\n",
            self.origin_user,
            self.session_id,
            self.session_version,
            origin_kind,
            self.origin_addr,
            self.session_name
        );
        if let Some(c) = &self.connection {
            let _ = write!(s, "c=IN {} {}\r\n", ip_kind(c), c);
        }
        s.push_str("t=0 0\r\n");
        if let Some(d) = self.direction {
            let _ = write!(s, "a={}\r\n", d.as_str());
        }
        for m in &self.media {
            let _ = write!(
                s,
                "m={} {} {} {}\r\n",
                m.media,
                m.port,
                m.proto,
                m.formats.join(" ")
            );
            if let Some(c) = &m.connection {
                let _ = write!(s, "c=IN {} {}\r\n", ip_kind(c), c);
            }
            for r in &m.rtpmaps {
                let _ = write!(
                    s,
                    "a=rtpmap:{} {}/{}",
                    r.payload_type, r.encoding, r.clock_rate
                );
                if let Some(ch) = r.channels {
                    let _ = write!(s, "/{ch}");
                }
                s.push_str("\r\n");
            }
            for (pt, p) in &m.fmtp {
                let _ = write!(s, "a=fmtp:{pt} {p}\r\n");
            }
            if let Some(p) = m.ptime {
                let _ = write!(s, "a=ptime:{p}\r\n");
            }
            for (k, v) in &m.other {
                match v {
                    Some(v) => {
                        let _ = write!(s, "a={k}:{v}\r\n");
                    }
                    None => {
                        let _ = write!(s, "a={k}\r\n");
                    }
                }
            }
            if let Some(d) = m.direction {
                let _ = write!(s, "a={}\r\n", d.as_str());
            }
        }
        f.write_str(&s)
    }
}

#[cfg(test)]
#[path = "sdp_tests.rs"]
mod tests;
