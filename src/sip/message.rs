//! SIP requests and responses (RFC 3261 §7) and their wire format.
//!
//! Messages keep headers as an ordered [`Headers`] list of strings and parse typed values
//! (Via, CSeq, From/To) on demand: a proxy-like stack must forward unknown headers verbatim,
//! and lazy typing keeps the parser small enough to fuzz exhaustively.

use super::hdr::{CSeq, Via};
use super::headers::Headers;
pub use super::method::Method;
use super::uri::{NameAddr, SipUri};
use super::SipError;

/// Largest datagram or stream message accepted (RFC 3261 §18.1.1 leaves it to the
/// implementation; 64 KiB is the UDP maximum and far above any real INVITE).
pub const MAX_MESSAGE_LEN: usize = 65_535;

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Request-URI.
    pub uri: SipUri,
    /// Headers in order.
    pub headers: Headers,
    /// Body bytes (SDP for INVITE/200/ACK).
    pub body: Vec<u8>,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code 100–699.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Headers in order.
    pub headers: Headers,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Either kind of message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

/// The default reason phrase of a status code (RFC 3261 §21).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => "Unknown",
    }
}

macro_rules! common_accessors {
    () => {
        /// The topmost Via (the one this hop added), parsed.
        pub fn top_via(&self) -> Result<Via, SipError> {
            let v = self
                .headers
                .values("Via")
                .into_iter()
                .next()
                .ok_or(SipError::MissingHeader("Via"))?;
            Via::parse(v)
        }

        /// CSeq, parsed.
        pub fn cseq(&self) -> Result<CSeq, SipError> {
            CSeq::parse(
                self.headers
                    .get("CSeq")
                    .ok_or(SipError::MissingHeader("CSeq"))?,
            )
        }

        /// Call-ID value.
        pub fn call_id(&self) -> Result<&str, SipError> {
            self.headers
                .get("Call-ID")
                .ok_or(SipError::MissingHeader("Call-ID"))
        }

        /// From, parsed.
        pub fn from_addr(&self) -> Result<NameAddr, SipError> {
            NameAddr::parse(
                self.headers
                    .get("From")
                    .ok_or(SipError::MissingHeader("From"))?,
            )
        }

        /// To, parsed.
        pub fn to_addr(&self) -> Result<NameAddr, SipError> {
            NameAddr::parse(
                self.headers
                    .get("To")
                    .ok_or(SipError::MissingHeader("To"))?,
            )
        }

        /// Checks the headers every request and response must carry (RFC 3261 §8.1.1) and
        /// that they parse, so later code can rely on them.
        pub fn validate(&self) -> Result<(), SipError> {
            self.top_via()?;
            self.cseq()?;
            self.call_id()?;
            self.from_addr()?;
            self.to_addr()?;
            Ok(())
        }
    };
}

impl Request {
    /// A request with no headers yet.
    pub fn new(method: Method, uri: SipUri) -> Self {
        Self {
            method,
            uri,
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    common_accessors!();

    /// Serialises with a Content-Length computed from the body (any stale one is dropped).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} SIP/2.0\r\n", self.method, self.uri).into_bytes();
        write_headers_and_body(&mut out, &self.headers, &self.body);
        out
    }
}

impl Response {
    /// A response with no headers yet and the standard reason phrase.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            reason: reason_phrase(status).to_owned(),
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// A response to `req` per RFC 3261 §8.2.6.2: Via, From, To, Call-ID and CSeq copied;
    /// `to_tag` added to To unless it already has one (and never on 100 Trying).
    pub fn for_request(req: &Request, status: u16, to_tag: Option<&str>) -> Self {
        let mut r = Self::new(status);
        for via in req.headers.values("Via") {
            r.headers.push("Via", via);
        }
        for name in ["From", "To", "Call-ID", "CSeq"] {
            if let Some(v) = req.headers.get(name) {
                r.headers.push(name, v);
            }
        }
        if let (Some(tag), Ok(mut to)) = (to_tag, req.to_addr()) {
            if to.tag().is_none() && status != 100 {
                to.set_tag(tag);
                r.headers.set("To", to.to_string());
            }
        }
        r
    }

    common_accessors!();

    /// Serialises with a Content-Length computed from the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("SIP/2.0 {} {}\r\n", self.status, self.reason).into_bytes();
        write_headers_and_body(&mut out, &self.headers, &self.body);
        out
    }
}

impl Message {
    /// Serialises either kind.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }

    /// The headers of either kind.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }
}

fn write_headers_and_body(out: &mut Vec<u8>, headers: &Headers, body: &[u8]) {
    for h in headers.iter().filter(|h| h.name != "Content-Length") {
        out.extend_from_slice(h.name.as_bytes());
        out.extend_from_slice(b": ");
        // Never emit a bare CR/LF from a value: it would split the header (injection).
        out.extend(
            h.value
                .bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
}
