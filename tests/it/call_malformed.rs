//! Acceptance, end to end: malformed SIP at the running server's UDP port — truncated
//! messages, binary junk, bad and missing headers, absurd Content-Lengths, an oversized
//! datagram, a broken SDP offer. Each is answered 400/488 where a response can be addressed
//! (RFC 3261 §8.2, §21.4.1) or dropped, never a crash: afterwards the process is alive, its
//! health answers, sipp's OPTIONS probe gets 200 and a real call from sipp is answered,
//! recorded and hung up cleanly.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use crate::common::call_harness::{call, demo_patients, FixedSipp, Suifang};
use crate::common::serial;
use crate::common::sip_peers::{fixtures, require_sipp};
use crate::common::wait_for;

/// A request from `local` with a proper Via, so a response can be addressed to it.
fn request(method: &str, local: &str, branch: &str, extra: &str, body: &str) -> String {
    format!(
        "{method} sip:hotline@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK{branch}\r\n\
         From: <sip:+8613800000000@{local}>;tag=junk{branch}\r\n\
         To: <sip:hotline@127.0.0.1>\r\n\
         Call-ID: {branch}@junk\r\n\
         CSeq: 1 {method}\r\n\
         Max-Forwards: 70\r\n\
         {extra}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// What a malformed datagram must get back.
#[derive(Debug)]
enum Expect {
    /// Nothing: no response can be addressed (no parsable request with a Via), or it is junk.
    Drop,
    /// One of these final statuses: the request is readable enough to answer (RFC 3261 §8.2,
    /// §18.3 "the element SHOULD generate a 400").
    Answer(&'static [u16]),
    /// One of these, or nothing (the head itself is broken).
    Either(&'static [u16]),
}

/// Stands for the sending socket's address in a case's datagram.
const LOCAL: &str = "@LOCAL@";

/// `datagram` with [`LOCAL`] replaced by `from`.
fn fill(datagram: &[u8], from: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(datagram.len());
    let mut rest = datagram;
    while !rest.is_empty() {
        if rest.starts_with(LOCAL.as_bytes()) {
            out.extend_from_slice(from.as_bytes());
            rest = &rest[LOCAL.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

/// A fresh UDP socket talking to `server`.
fn socket(server: SocketAddr) -> UdpSocket {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.connect(server).expect("connect");
    sock
}

/// The status of the first final response that arrives within `limit`, if any (provisional
/// ones such as 100 Trying are skipped).
fn response(sock: &UdpSocket, limit: Duration) -> Option<u16> {
    let deadline = std::time::Instant::now() + limit;
    let mut buf = vec![0u8; 65536];
    loop {
        let left = deadline.checked_duration_since(std::time::Instant::now())?;
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("timeout");
        let n = sock.recv(&mut buf).ok()?;
        let text = String::from_utf8_lossy(&buf[..n]);
        eprintln!("  <- {}", text.lines().next().unwrap_or_default());
        let status: u16 = text.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()?;
        if status >= 200 {
            return Some(status);
        }
    }
}

/// A deterministic stream of junk bytes (xorshift), so a failure can be replayed.
fn junk(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn malformed_sip_is_refused_or_dropped_and_the_server_keeps_serving() {
    let _machine = serial::shared();
    if !require_sipp("malformed_sip_is_refused_or_dropped_and_the_server_keeps_serving") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // the junk comes from the carrier's network (loopback here): what is tested is the parser
    // and the dialog code, which must hold whatever a trusted peer sends
    let mut suifang = Suifang::start(dir.path(), &[("SUIFANG_SIP_TRUNK_ALLOW", "127.0.0.1/32")]);
    let server = suifang.sip;
    let sock = socket(server);
    let me = sock.local_addr().expect("local addr").to_string();
    // the cases are written once with a placeholder for their sender's address: each is sent
    // from a fresh socket, so a retransmitted final response (Timer G) of one case cannot be
    // taken for the answer to the next
    let local = LOCAL;

    // baseline: the same framing, well formed, is served
    sock.send(request("OPTIONS", &me, "ok1", "", "").as_bytes())
        .expect("send");
    assert_eq!(
        response(&sock, Duration::from_secs(3)),
        Some(200),
        "a well-formed OPTIONS from this socket is answered"
    );

    let good_sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                    m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let invite = request(
        "INVITE",
        local,
        "cut",
        "Content-Type: application/sdp\r\n",
        good_sdp,
    );
    let mut cases: Vec<(String, Vec<u8>, Expect)> = vec![
        ("empty".into(), Vec::new(), Expect::Drop),
        ("one NUL".into(), vec![0], Expect::Drop),
        (
            "a start line only".into(),
            b"INVITE sip:x SIP/2.0".to_vec(),
            Expect::Drop,
        ),
        (
            "a response matching no transaction".into(),
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKnone\r\n\r\n".to_vec(),
            Expect::Drop,
        ),
        (
            "status line garbage".into(),
            b"SIP/2.0 99999999999 \xff\xfe\r\n\r\n".to_vec(),
            Expect::Drop,
        ),
        (
            "oversized datagram (60 kB of headers)".into(),
            request(
                "OPTIONS",
                local,
                "big",
                &"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
                    .repeat(850),
                "",
            )
            .into_bytes(),
            Expect::Answer(&[200, 400, 413, 513]),
        ),
        (
            "request without CSeq".into(),
            request("OPTIONS", local, "nocseq", "", "")
                .replace("CSeq: 1 OPTIONS\r\n", "")
                .into_bytes(),
            Expect::Answer(&[400]),
        ),
        (
            "request without Call-ID".into(),
            request("OPTIONS", local, "nocallid", "", "")
                .replace("Call-ID: nocallid@junk\r\n", "")
                .into_bytes(),
            Expect::Answer(&[400]),
        ),
        (
            "CSeq method disagrees with the request".into(),
            request("OPTIONS", local, "cseqm", "", "")
                .replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE")
                .into_bytes(),
            Expect::Answer(&[400]),
        ),
        (
            "CSeq number out of range".into(),
            request("OPTIONS", local, "cseqn", "", "")
                .replace("CSeq: 1 OPTIONS", "CSeq: 99999999999999999999999 OPTIONS")
                .into_bytes(),
            Expect::Answer(&[400]),
        ),
        (
            "header line without a colon".into(),
            request("OPTIONS", local, "nocolon", "this is not a header\r\n", "").into_bytes(),
            Expect::Either(&[400]),
        ),
        (
            "Content-Length far beyond the datagram".into(),
            request(
                "INVITE",
                local,
                "huge1",
                "Content-Type: application/sdp\r\n",
                good_sdp,
            )
            .replace(
                &format!("Content-Length: {}", good_sdp.len()),
                "Content-Length: 4294967296",
            )
            .into_bytes(),
            Expect::Answer(&[400]),
        ),
        (
            "Content-Length that overflows u64".into(),
            request("OPTIONS", local, "huge2", "", "")
                .replace(
                    "Content-Length: 0",
                    "Content-Length: 999999999999999999999999999",
                )
                .into_bytes(),
            Expect::Answer(&[400]),
        ),
        (
            "negative Content-Length".into(),
            request("OPTIONS", local, "neg", "", "")
                .replace("Content-Length: 0", "Content-Length: -5")
                .into_bytes(),
            Expect::Answer(&[400]),
        ),
        (
            "INVITE cut in the middle of its headers".into(),
            invite.as_bytes()[..invite.find("Call-ID").expect("Call-ID")].to_vec(),
            Expect::Either(&[400]),
        ),
        (
            "INVITE cut in the middle of its SDP".into(),
            invite.as_bytes()[..invite.len() - 30].to_vec(),
            Expect::Answer(&[400]),
        ),
        (
            "INVITE with an SDP that is not SDP".into(),
            request(
                "INVITE",
                local,
                "badsdp",
                "Content-Type: application/sdp\r\n",
                "v=0\r\nm=audio banana RTP/AVP x\r\nc=IN IP4\r\n",
            )
            .into_bytes(),
            Expect::Answer(&[400, 488]),
        ),
        (
            "INVITE offering only a codec we lack".into(),
            request(
                "INVITE",
                local,
                "nocodec",
                "Content-Type: application/sdp\r\n",
                &good_sdp
                    .replace("RTP/AVP 0", "RTP/AVP 98")
                    .replace("0 PCMU/8000", "98 opus/48000/2"),
            )
            .into_bytes(),
            Expect::Answer(&[488]),
        ),
    ];
    for seed in 1..=10u64 {
        cases.push((
            format!("binary junk #{seed}"),
            junk(seed, 128 * seed as usize),
            Expect::Drop,
        ));
        // junk after a plausible start line, and junk headers after a valid one
        let mut start = b"INVITE sip:hotline@127.0.0.1 SIP/2.0\r\n".to_vec();
        start.extend(junk(seed + 100, 200));
        cases.push((
            format!("start line + junk #{seed}"),
            start,
            Expect::Either(&[400]),
        ));
    }

    for (name, datagram, expect) in &cases {
        eprintln!("-> {name} ({} bytes)", datagram.len());
        let sock = socket(server);
        let from = sock.local_addr().expect("local addr").to_string();
        sock.send(&fill(datagram, &from)).expect("send");
        // an answer comes at once; silence needs a moment to be believed
        let wait = match expect {
            Expect::Answer(_) => Duration::from_secs(3),
            _ => Duration::from_millis(300),
        };
        let got = response(&sock, wait);
        match (expect, got) {
            (Expect::Drop, None) => {}
            (Expect::Answer(ok) | Expect::Either(ok), Some(status)) if ok.contains(&status) => {}
            (Expect::Either(_), None) => {}
            (expect, got) => panic!("{name}: got {got:?}, expected {expect:?}"),
        }
        assert!(suifang.alive(), "suifang died on: {name}");
    }

    // still serving: health, an OPTIONS probe from sipp, and a real call from sipp
    assert!(suifang.alive(), "suifang survived the junk");
    let health = ureq::get(&suifang.server.url("/api/v1/health"))
        .call()
        .expect("health after junk");
    assert_eq!(health.status(), 200);
    let options = std::fs::read_to_string(fixtures().join("uac_options.xml")).expect("xml");
    let mut probe = FixedSipp::uac(&options, server);
    assert_eq!(
        probe.wait(Duration::from_secs(15)),
        Some(0),
        "sipp's OPTIONS got 200: {}",
        probe.errors()
    );

    let supervisor = suifang.login("supervisor", "supervisor-demo-1");
    let patients = demo_patients(&supervisor);
    let patient = &patients[0];
    let number = patient["phone"].as_str().expect("phone");
    let scenario = std::fs::read_to_string(fixtures().join("uac_call_bye.xml"))
        .expect("xml")
        .replace("CALLER_NUMBER", number);
    let mut caller = FixedSipp::uac(&scenario, server);
    assert_eq!(
        caller.wait(Duration::from_secs(30)),
        Some(0),
        "a real call after the junk is answered and hung up: {}",
        caller.errors()
    );
    let id = wait_for("the call's row", Duration::from_secs(10), || {
        let r = supervisor.get("/api/v1/calls").body;
        r["items"].as_array()?.iter().find_map(|c| {
            (c["direction"] == "inbound" && c["patient_id"] == patient["id"])
                .then(|| c["id"].as_str().map(str::to_owned))
                .flatten()
        })
    });
    let ended = wait_for("the call to end recorded", Duration::from_secs(10), || {
        let c = call(&supervisor, &id);
        (c["state"] == "ended" && c["recording"]["status"] == "complete").then_some(c)
    });
    eprintln!("after the junk: {ended}");
    assert_eq!(ended["end_reason"], "voicemail", "{ended}");
    assert!(suifang.alive(), "suifang still running at the end");
}
