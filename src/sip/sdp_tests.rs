use super::*;

/// What sipp's patient scenario answers with.
pub(crate) const SIPP_ANSWER: &str = "v=0\r\n\
o=patient 53655765 2353687637 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 16000 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

#[test]
fn parses_sipp_answer() {
    let s = SessionDescription::parse(SIPP_ANSWER.as_bytes()).expect("valid");
    assert_eq!(s.session_id, 53_655_765);
    let a = s.audio().expect("audio");
    assert_eq!(
        (a.port, a.formats.clone()),
        (16000, vec!["0".to_owned(), "101".to_owned()])
    );
    assert_eq!(s.connection_for(a), Some("127.0.0.1".parse().expect("ip")));
    assert_eq!(a.rtpmaps.len(), 2);
    assert_eq!(a.fmtp, vec![(101, "0-15".to_owned())]);
    assert_eq!(a.ptime, Some(20));
    assert_eq!(s.direction_for(a), Direction::SendRecv);
}

#[test]
fn display_round_trips() {
    let s = SessionDescription::parse(SIPP_ANSWER.as_bytes()).expect("valid");
    let again = SessionDescription::parse(s.to_string().as_bytes()).expect("re-parse");
    assert_eq!(again, s);
}

#[test]
fn media_level_connection_and_direction_override() {
    let text = "v=0\no=- 1 1 IN IP6 ::1\ns=x\nc=IN IP4 10.0.0.1\na=sendonly\nt=0 0\nm=audio 4000 RTP/AVP 8\nc=IN IP6 2001:db8::1\na=inactive\nm=video 0 RTP/AVP 96\n";
    let s = SessionDescription::parse(text.as_bytes()).expect("valid");
    let a = s.audio().expect("audio");
    assert_eq!(
        s.connection_for(a),
        Some("2001:db8::1".parse().expect("ip"))
    );
    assert_eq!(s.direction_for(a), Direction::Inactive);
    assert_eq!(s.media.len(), 2);
}

#[test]
fn rejects_malformed_sdp_with_line_numbers() {
    let cases = [
        ("", "missing"),
        ("o=- 1 1 IN IP4 h\r\n", "line 1: first line must be v=0"),
        ("v=1\r\n", "only one v=0"),
        ("v=0\r\no=- 1\r\ns=-\r\n", "line 2: o= needs 6 fields"),
        ("v=0\r\no=- x 1 IN IP4 h\r\ns=-\r\n", "o= session id"),
        (
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 999.1.1.1\r\n",
            "line 4: c= address",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP6 1.1.1.1\r\n",
            "family",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 70000 RTP/AVP 0\r\n",
            "port",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 5000 RTP/AVP\r\n",
            "no formats",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 5000 RTP/AVP 0 300\r\n",
            "0-127",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n",
            "clock rate",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 5000 RTP/AVP 0\r\na=ptime:x\r\n",
            "ptime",
        ),
        ("v=0\r\nno equals sign\r\n", "line 2"),
        ("v=0\r\nX=1\r\n", "unknown line type"),
    ];
    for (text, want) in cases {
        match SessionDescription::parse(text.as_bytes()) {
            Err(SipError::BadSdp(msg)) => assert!(msg.contains(want), "{text:?}: {msg}"),
            other => panic!("{text:?}: expected BadSdp, got {other:?}"),
        }
    }
    assert!(SessionDescription::parse(b"v=0\r\n\xff").is_err());
}

#[test]
fn junk_never_panics() {
    let base = SIPP_ANSWER.as_bytes();
    for n in 0..=base.len() {
        let _ = SessionDescription::parse(&base[..n]);
    }
    for i in 0..base.len() {
        for b in [b'=', b' ', b'/', b':', b'\n', 0xC3, b'9'] {
            let mut v = base.to_vec();
            v[i] = b;
            let _ = SessionDescription::parse(&v);
        }
    }
}
