use super::*;
use crate::sip::message::Method;

const INVITE: &str = "INVITE sip:patient@127.0.0.1:5070 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK776asdhds;rport\r\n\
v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy\r\n\
Max-Forwards: 70\r\n\
To: <sip:patient@127.0.0.1>\r\n\
f: \"Nurse\" <sip:nurse@127.0.0.1>;tag=1928301774\r\n\
i: a84b4c76e66710@127.0.0.1\r\n\
CSeq: 314159 INVITE\r\n\
Subject: a long\r\n  folded\r\n\tsubject\r\n\
c: application/sdp\r\n\
l: 4\r\n\
\r\n\
v=0\r";

fn req(m: Message) -> Request {
    match m {
        Message::Request(r) => r,
        Message::Response(r) => panic!("expected request, got {r:?}"),
    }
}

#[test]
fn parses_invite_with_compact_folded_and_multiple_via() {
    let r = req(parse_datagram(INVITE.as_bytes()).expect("valid"));
    assert_eq!(r.method, Method::Invite);
    assert_eq!(r.uri.user.as_deref(), Some("patient"));
    assert_eq!(r.headers.values("Via").len(), 2);
    assert_eq!(r.top_via().expect("via").branch(), Some("z9hG4bK776asdhds"));
    assert_eq!(r.call_id(), Ok("a84b4c76e66710@127.0.0.1"));
    assert_eq!(r.from_addr().expect("from").tag(), Some("1928301774"));
    assert_eq!(r.headers.get("subject"), Some("a long folded subject"));
    assert_eq!(r.body, b"v=0\r");
    r.validate().expect("mandatory headers present");
}

#[test]
fn serialise_then_parse_round_trips() {
    let r = req(parse_datagram(INVITE.as_bytes()).expect("valid"));
    let again = req(parse_datagram(&r.to_bytes()).expect("re-parse"));
    assert_eq!(again, r);
    let mut resp = Response::for_request(&r, 180, Some("totag"));
    resp.body = b"hello".to_vec();
    let parsed = match parse_datagram(&resp.to_bytes()).expect("response") {
        Message::Response(p) => p,
        Message::Request(_) => panic!("expected response"),
    };
    assert_eq!(parsed.status, 180);
    assert_eq!(parsed.reason, "Ringing");
    assert_eq!(parsed.to_addr().expect("to").tag(), Some("totag"));
    assert_eq!(parsed.headers.values("Via").len(), 2);
    assert_eq!(parsed.body, b"hello");
}

#[test]
fn udp_body_rules() {
    // No Content-Length on UDP: the body runs to the end of the datagram.
    let no_len = INVITE.replace("l: 4\r\n", "");
    assert_eq!(
        req(parse_datagram(no_len.as_bytes()).expect("valid")).body,
        b"v=0\r"
    );
    // Extra bytes after Content-Length are ignored.
    let extra = format!("{INVITE}junk");
    assert_eq!(
        req(parse_datagram(extra.as_bytes()).expect("valid")).body,
        b"v=0\r"
    );
    // LF-only line endings are tolerated.
    let lf = INVITE.replace("\r\n", "\n");
    assert!(parse_datagram(lf.as_bytes()).is_ok());
}

/// Table: malformed input and the typed error it must produce.
#[test]
fn malformed_messages_give_typed_errors() {
    let with_len = |l: &str| INVITE.replace("l: 4", l);
    type Check = fn(&SipError) -> bool;
    let cases: Vec<(&str, Vec<u8>, Check)> = vec![
        ("empty", vec![], |e| matches!(e, SipError::Truncated(_))),
        ("no blank line", INVITE.as_bytes()[..200].to_vec(), |e| {
            matches!(e, SipError::Truncated(_))
        }),
        ("short body", with_len("l: 40").into_bytes(), |e| {
            matches!(e, SipError::Truncated(_))
        }),
        ("huge length", with_len("l: 4294967296").into_bytes(), |e| {
            matches!(e, SipError::TooLarge(_) | SipError::BadContentLength(_))
        }),
        (
            "length above limit",
            with_len("l: 70000").into_bytes(),
            |e| matches!(e, SipError::TooLarge(70000)),
        ),
        ("negative length", with_len("l: -1").into_bytes(), |e| {
            matches!(e, SipError::BadContentLength(_))
        }),
        ("junk length", with_len("l: 4x").into_bytes(), |e| {
            matches!(e, SipError::BadContentLength(_))
        }),
        (
            "two lengths",
            with_len("l: 4\r\nContent-Length: 4").into_bytes(),
            |e| matches!(e, SipError::BadContentLength(_)),
        ),
        (
            "bad start line",
            INVITE
                .replace("SIP/2.0\r\nVia", "SIP/3.0\r\nVia")
                .into_bytes(),
            |e| matches!(e, SipError::BadStartLine(_)),
        ),
        ("bad status", b"SIP/2.0 99 Weird\r\n\r\n".to_vec(), |e| {
            matches!(e, SipError::BadStartLine(_))
        }),
        (
            "bad uri",
            INVITE
                .replace("sip:patient@127.0.0.1:5070", "http://x")
                .into_bytes(),
            |e| matches!(e, SipError::BadUri(_)),
        ),
        (
            "header no colon",
            INVITE
                .replace("Max-Forwards: 70", "Max-Forwards 70")
                .into_bytes(),
            |e| matches!(e, SipError::BadHeader(_)),
        ),
        (
            "binary header",
            b"OPTIONS sip:a@b SIP/2.0\r\nX: \xff\xfe\r\n\r\n".to_vec(),
            |e| matches!(e, SipError::BadHeader(_)),
        ),
        (
            "cseq mismatch",
            INVITE.replace("314159 INVITE", "1 BYE").into_bytes(),
            |e| matches!(e, SipError::BadHeaderValue { .. }),
        ),
        ("oversize datagram", vec![b'a'; MAX_MESSAGE_LEN + 1], |e| {
            matches!(e, SipError::TooLarge(_))
        }),
        (
            "leading fold",
            b"OPTIONS sip:a@b SIP/2.0\r\n folded\r\n\r\n".to_vec(),
            |e| matches!(e, SipError::BadHeader(_)),
        ),
    ];
    for (name, bytes, check) in cases {
        match parse_datagram(&bytes) {
            Err(e) => assert!(check(&e), "{name}: unexpected error {e:?}"),
            Ok(m) => panic!("{name}: parsed {m:?}"),
        }
    }
}

#[test]
fn missing_mandatory_headers_fail_validation() {
    for prefixes in [&["Via:", "v:"][..], &["To:"], &["i:"], &["CSeq:"], &["f:"]] {
        let text: String = INVITE
            .split_inclusive("\r\n")
            .filter(|line| !prefixes.iter().any(|p| line.starts_with(p)))
            .collect();
        let r = req(parse_datagram(text.as_bytes()).expect("structurally valid"));
        assert!(r.validate().is_err(), "without {prefixes:?}");
    }
    req(parse_datagram(INVITE.as_bytes()).expect("valid"))
        .validate()
        .expect("complete one validates");
}

#[test]
fn stream_framing() {
    let one = req(parse_datagram(INVITE.as_bytes()).expect("valid")).to_bytes();
    let mut buf = b"\r\n\r\n".to_vec();
    buf.extend_from_slice(&one);
    buf.extend_from_slice(&one[..50]);
    let (m, used) = parse_stream(&buf).expect("ok").expect("complete");
    assert!(matches!(m, Message::Request(_)));
    assert_eq!(used, 4 + one.len());
    assert_eq!(
        parse_stream(&buf[used..]).expect("ok"),
        None,
        "partial second message"
    );
    assert_eq!(
        parse_stream(&one[..one.len() - 1]).expect("ok"),
        None,
        "partial body"
    );
    let no_len = INVITE.replace("l: 4\r\n", "");
    assert_eq!(
        parse_stream(no_len.as_bytes()),
        Err(SipError::MissingHeader("Content-Length"))
    );
}

/// Property-style: every prefix, every single-byte corruption, and pseudo-random junk must
/// give Ok or Err, never a panic.
#[test]
fn never_panics_on_junk() {
    let base = INVITE.as_bytes();
    for n in 0..=base.len() {
        let _ = parse_datagram(&base[..n]);
        let _ = parse_stream(&base[..n]);
    }
    for i in 0..base.len() {
        for b in [0u8, b'\r', b'\n', b':', b';', b'<', b'"', 0xFF, b' '] {
            let mut v = base.to_vec();
            v[i] = b;
            let _ = parse_datagram(&v);
        }
    }
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let alphabet = b"SIP/2.0 INVITE sip:@;<>\"\r\n:,=0123456789 \tVia CSeq l: i: \xff";
    for _ in 0..5_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 300) as usize;
        let v: Vec<u8> = (0..len)
            .map(|i| alphabet[((x >> (i % 50)) as usize + i * 7) % alphabet.len()])
            .collect();
        if let Ok(Message::Request(r)) = parse_datagram(&v) {
            let _ = r.validate();
        }
        let _ = parse_stream(&v);
    }
}
