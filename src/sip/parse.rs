//! The SIP wire parser (RFC 3261 §7, §18.3 framing).
//!
//! Written for hostile input: every length is checked, header folding and compact names are
//! handled, Content-Length must be a plain decimal within [`MAX_MESSAGE_LEN`], and any problem
//! is a [`SipError`] so the endpoint can answer 400 or drop the datagram.

use super::headers::Headers;
use super::message::{Message, Method, Request, Response, MAX_MESSAGE_LEN};
use super::uri::SipUri;
use super::SipError;

/// Finds the end of the header block: returns (header bytes length, body start).
fn find_header_end(buf: &[u8]) -> Option<(usize, usize)> {
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4));
    let lf = buf
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| (i, i + 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// Parses a Content-Length value strictly (RFC 3261 §20.14: 1*DIGIT).
fn content_length(value: &str) -> Result<u64, SipError> {
    let v = value.trim();
    if v.is_empty() || v.len() > 10 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SipError::BadContentLength(v.chars().take(40).collect()));
    }
    v.parse::<u64>()
        .map_err(|_| SipError::BadContentLength(v.to_owned()))
}

/// Parses start line and headers (no body).
fn parse_head(head: &[u8]) -> Result<(StartLine, Headers), SipError> {
    let text = std::str::from_utf8(head).map_err(|_| SipError::BadHeader("not UTF-8".into()))?;
    // Leading CRLFs before a message are keep-alives and allowed (§7.5).
    let text = text.trim_start_matches(['\r', '\n']);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next().ok_or(SipError::Truncated("empty message"))?;
    let start = parse_start_line(first)?;
    let mut headers = Headers::new();
    let mut current: Option<(String, String)> = None;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // Folded continuation (§7.3.1): joined with a single space.
            match current.as_mut() {
                Some((_, v)) => {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                None => {
                    return Err(SipError::BadHeader(
                        "continuation before first header".into(),
                    ))
                }
            }
            continue;
        }
        if let Some((n, v)) = current.take() {
            headers.push(&n, v);
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| SipError::BadHeader(line.chars().take(80).collect()))?;
        let name = name.trim();
        if name.is_empty() || !name.chars().all(super::method::is_token_char) {
            return Err(SipError::BadHeader(line.chars().take(80).collect()));
        }
        current = Some((name.to_owned(), value.trim().to_owned()));
    }
    if let Some((n, v)) = current {
        headers.push(&n, v);
    }
    Ok((start, headers))
}

enum StartLine {
    Request(Method, SipUri),
    Response(u16, String),
}

fn parse_start_line(line: &str) -> Result<StartLine, SipError> {
    let bad = || SipError::BadStartLine(line.chars().take(100).collect());
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let status: u16 = code.parse().map_err(|_| bad())?;
        if !(100..=699).contains(&status) {
            return Err(bad());
        }
        return Ok(StartLine::Response(status, reason.to_owned()));
    }
    let mut parts = line.split(' ');
    let (Some(m), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if version != "SIP/2.0" {
        return Err(bad());
    }
    Ok(StartLine::Request(Method::parse(m)?, SipUri::parse(uri)?))
}

fn assemble(start: StartLine, headers: Headers, body: Vec<u8>) -> Result<Message, SipError> {
    Ok(match start {
        StartLine::Request(method, uri) => {
            let req = Request {
                method,
                uri,
                headers,
                body,
            };
            // §8.2.2.3 requires CSeq's method to match the request method.
            if let Ok(cseq) = req.cseq() {
                if cseq.method != req.method && req.method != Method::Ack {
                    return Err(SipError::BadHeaderValue {
                        header: "CSeq",
                        value: cseq.to_string(),
                    });
                }
            }
            Message::Request(req)
        }
        StartLine::Response(status, reason) => Message::Response(Response {
            status,
            reason,
            headers,
            body,
        }),
    })
}

fn declared_length(headers: &Headers) -> Result<Option<u64>, SipError> {
    let values: Vec<&str> = headers
        .iter()
        .filter(|h| h.name == "Content-Length")
        .map(|h| h.value.as_str())
        .collect();
    match values.as_slice() {
        [] => Ok(None),
        [one] => {
            let n = content_length(one)?;
            if n > MAX_MESSAGE_LEN as u64 {
                return Err(SipError::TooLarge(n));
            }
            Ok(Some(n))
        }
        _ => Err(SipError::BadContentLength(values.join(","))),
    }
}

/// Parses one UDP datagram. Without Content-Length the body is the rest of the datagram; bytes
/// beyond Content-Length are discarded, fewer is an error (§18.3).
pub fn parse_datagram(buf: &[u8]) -> Result<Message, SipError> {
    if buf.len() > MAX_MESSAGE_LEN {
        return Err(SipError::TooLarge(buf.len() as u64));
    }
    let (head_len, body_start) =
        find_header_end(buf).ok_or(SipError::Truncated("no blank line after headers"))?;
    let (start, headers) = parse_head(buf.get(..head_len).unwrap_or(&[]))?;
    let rest = buf.get(body_start..).unwrap_or(&[]);
    let body = match declared_length(&headers)? {
        None => rest.to_vec(),
        Some(n) => rest
            .get(..n as usize)
            .ok_or(SipError::Truncated("body shorter than Content-Length"))?
            .to_vec(),
    };
    assemble(start, headers, body)
}

/// The request line and headers of a datagram that [`parse_datagram`] refused for its framing
/// or body (a Content-Length beyond the datagram, negative or junk; a CSeq method that
/// disagrees), without the body. RFC 3261 §18.3: when a request's datagram ends before the
/// body Content-Length announced, the element SHOULD answer 400 — this is what lets the
/// endpoint address that 400. `None` when even the head is not a request.
pub fn request_head(buf: &[u8]) -> Option<Request> {
    if buf.len() > MAX_MESSAGE_LEN {
        return None;
    }
    let (head_len, _) = find_header_end(buf)?;
    match parse_head(buf.get(..head_len)?).ok()? {
        (StartLine::Request(method, uri), headers) => Some(Request {
            method,
            uri,
            headers,
            body: Vec::new(),
        }),
        (StartLine::Response(..), _) => None,
    }
}

/// Parses one message from the front of a stream buffer (TCP). Returns `Ok(None)` when more
/// bytes are needed, else the message and how many bytes it used. Content-Length is mandatory
/// on streams (§18.3).
pub fn parse_stream(buf: &[u8]) -> Result<Option<(Message, usize)>, SipError> {
    // Skip keep-alive CRLFs (RFC 5626 §3.5.1).
    let skip = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let buf = buf.get(skip..).unwrap_or(&[]);
    let Some((head_len, body_start)) = find_header_end(buf) else {
        return if buf.len() > MAX_MESSAGE_LEN {
            Err(SipError::TooLarge(buf.len() as u64))
        } else {
            Ok(None)
        };
    };
    if head_len > MAX_MESSAGE_LEN {
        return Err(SipError::TooLarge(head_len as u64));
    }
    let (start, headers) = parse_head(buf.get(..head_len).unwrap_or(&[]))?;
    let n = declared_length(&headers)?.ok_or(SipError::MissingHeader("Content-Length"))? as usize;
    let Some(body) = buf.get(body_start..body_start + n) else {
        return Ok(None);
    };
    let msg = assemble(start, headers, body.to_vec())?;
    Ok(Some((msg, skip + body_start + n)))
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
