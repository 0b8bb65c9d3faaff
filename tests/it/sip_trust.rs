//! Only the trunk may place patients' calls (issue "Harden the edge", item 1): the real
//! `suifang demo` with its trunk at a loopback port, and strangers on other addresses sending
//! well-formed INVITEs whose SDP points at a victim's RTP port. Each gets a 403, no call row
//! is made and no RTP is sent anywhere; a flood of 5,000 in 10 s leaves memory flat while a
//! real call from the trunk (sipp) is still answered; over `sip.max_inbound_calls` the trunk
//! gets 503 with Retry-After.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common;
use crate::common::call_harness::{demo_patients, FixedSipp, Suifang, NO_TRUNK_PINGS};
use crate::common::serial;
use crate::common::sip_peers::{fixtures, free_udp_port, require_sipp};
use crate::common::wait_for;

/// A well-formed INVITE from `local` (a real demo patient's number, an SDP offer naming
/// `rtp` as where to send audio).
fn invite(local: SocketAddr, n: u64, number: &str, rtp: SocketAddr) -> Vec<u8> {
    let sdp = format!(
        "v=0\r\no=x {n} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
        ip = rtp.ip(),
        port = rtp.port()
    );
    format!(
        "INVITE sip:hotline@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bKflood{n}\r\n\
         From: <sip:{number}@{local}>;tag=f{n}\r\n\
         To: <sip:hotline@127.0.0.1>\r\n\
         Call-ID: flood-{n}@{local}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:{number}@{local}>\r\n\
         Max-Forwards: 70\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
    .into_bytes()
}

/// Final statuses (and their Retry-After) read from `sock` until `limit` passes quietly.
fn final_responses(sock: &UdpSocket, limit: Duration) -> Vec<(u16, Option<String>)> {
    let mut buf = vec![0u8; 65536];
    let mut out = Vec::new();
    sock.set_read_timeout(Some(limit)).expect("timeout");
    while let Ok(n) = sock.recv(&mut buf) {
        let text = String::from_utf8_lossy(&buf[..n]);
        let Some(status) = text
            .strip_prefix("SIP/2.0 ")
            .and_then(|t| t.get(..3))
            .and_then(|s| s.parse::<u16>().ok())
        else {
            continue;
        };
        if status >= 200 {
            let retry = text
                .lines()
                .find_map(|l| l.strip_prefix("Retry-After: ").map(str::to_owned));
            out.push((status, retry));
        }
    }
    out
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

fn inbound_rows(supervisor: &common::Client) -> Vec<serde_json::Value> {
    let r = supervisor.get("/api/v1/calls?limit=200").body;
    r["items"]
        .as_array()
        .expect("calls")
        .iter()
        .filter(|c| c["direction"] == "inbound")
        .cloned()
        .collect()
}

#[test]
fn invites_from_outside_the_trunk_are_refused_even_in_a_flood_while_the_trunk_still_calls() {
    let _machine = serial::shared();
    if !require_sipp("invites_from_outside_the_trunk_are_refused") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let trunk_port = free_udp_port();
    let trunk = format!("127.0.0.1:{trunk_port}");
    let suifang = Suifang::start(
        dir.path(),
        &[
            ("SUIFANG_SIP_TRUNK", &trunk),
            ("SUIFANG_METRICS_ADDR", "127.0.0.1:0"),
            NO_TRUNK_PINGS,
        ],
    );
    let supervisor = suifang.login("supervisor", "supervisor-demo-1");
    let patients = demo_patients(&supervisor);
    let number = patients[0]["phone"].as_str().expect("phone").to_owned();
    let server = suifang.sip;

    // a victim's RTP port: nothing may ever be sent there
    let victim = UdpSocket::bind("127.0.0.1:0").expect("victim");
    let victim_addr = victim.local_addr().expect("addr");
    // a stranger on another loopback address, and one on the trunk's IP but another port
    for local in ["127.0.0.2:0", "127.0.0.1:0"] {
        let stranger = UdpSocket::bind(local).expect("bind stranger");
        stranger.connect(server).expect("connect");
        let me = stranger.local_addr().expect("addr");
        stranger
            .send(&invite(me, 1, &number, victim_addr))
            .expect("send");
        assert_eq!(
            final_responses(&stranger, Duration::from_secs(2)),
            [(403, None)],
            "{me} is not the trunk"
        );
    }

    // the flood: 5,000 INVITEs in at most 10 s from a stranger
    let pid = suifang.server.child.id();
    let rss_before = rss_kib(pid);
    let flooder = UdpSocket::bind("127.0.0.2:0").expect("bind flooder");
    flooder.connect(server).expect("connect");
    let me = flooder.local_addr().expect("addr");
    let reader = flooder.try_clone().expect("clone");
    let forbidden = Arc::new(AtomicU64::new(0));
    let other = Arc::new(AtomicU64::new(0));
    let counting = {
        let (forbidden, other) = (forbidden.clone(), other.clone());
        std::thread::spawn(move || {
            for (status, _) in final_responses(&reader, Duration::from_secs(3)) {
                let n = if status == 403 { &forbidden } else { &other };
                n.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let started = Instant::now();
    let flood = std::thread::spawn(move || {
        for n in 0..5000u64 {
            flooder
                .send(&invite(me, 100 + n, &number, victim_addr))
                .expect("send");
            // ~525 a second: the whole flood within 10 s
            if n % 50 == 49 {
                let due = started + Duration::from_micros((n + 1) * 1900);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
        }
    });
    // meanwhile the trunk (sipp at its address) calls: a patient's voicemail
    let scenario = std::fs::read_to_string(fixtures().join("uac_call_bye.xml"))
        .expect("xml")
        .replace(
            "CALLER_NUMBER",
            patients[1]["phone"].as_str().expect("phone"),
        );
    let mut caller = FixedSipp::uac_from(&scenario, server, trunk_port);
    assert_eq!(
        caller.wait(Duration::from_secs(30)),
        Some(0),
        "the trunk's call was answered during the flood: {}",
        caller.errors()
    );
    flood.join().expect("flood");
    let flood_took = started.elapsed();
    counting.join().expect("reader");
    assert!(flood_took <= Duration::from_secs(10), "{flood_took:?}");
    let (forbidden, other) = (
        forbidden.load(Ordering::Relaxed),
        other.load(Ordering::Relaxed),
    );
    eprintln!("flood: 5000 INVITEs in {flood_took:?}: {forbidden} × 403, {other} other");
    assert_eq!(other, 0, "nothing but 403 for the stranger");
    assert!(forbidden >= 4950, "{forbidden} of 5000 answered 403");

    let status = supervisor.get("/api/v1/telephony").body;
    let refused = status["refused_invites"]["untrusted_source"]
        .as_u64()
        .expect("refused count");
    assert!(refused >= 5000, "every INVITE counted: {status:#}");
    // and the operator's Prometheus scrape says the same
    let metrics_url = wait_for(
        "the metrics address on stdout",
        Duration::from_secs(5),
        || {
            suifang
                .stdout_line("suifang metrics on ")
                .and_then(|l| l.rsplit(' ').next().map(str::to_owned))
        },
    );
    let scrape = ureq::get(&metrics_url)
        .call()
        .expect("metrics")
        .into_string()
        .expect("text");
    let sample = scrape
        .lines()
        .find_map(|l| {
            l.strip_prefix("suifang_sip_invites_refused_total{reason=\"untrusted_source\"} ")
        })
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no refused-INVITE sample in {scrape}"));
    assert_eq!(sample, refused, "/metrics and the API agree");

    // exactly one inbound call row: the trunk's
    let rows = wait_for("the trunk's call row", Duration::from_secs(10), || {
        let rows = inbound_rows(&supervisor);
        (!rows.is_empty()).then_some(rows)
    });
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["patient_id"], patients[1]["id"], "{:#}", rows[0]);

    let rss_after = rss_kib(pid);
    eprintln!("RSS {rss_before} KiB before the flood, {rss_after} KiB after");
    assert!(
        rss_after < rss_before + 8 * 1024,
        "memory stays flat: {rss_before} → {rss_after} KiB"
    );

    // and no RTP ever went to the address the strangers named
    victim
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut buf = [0u8; 2048];
    assert!(
        victim.recv(&mut buf).is_err(),
        "RTP was sent to a stranger's SDP address"
    );
}

#[test]
fn over_max_inbound_calls_the_trunk_gets_503_with_retry_after() {
    let _machine = serial::shared();
    if !require_sipp("over_max_inbound_calls_the_trunk_gets_503") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("suifang.toml");
    std::fs::write(&config, "[sip]\nmax_inbound_calls = 1\n").expect("config");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let trunk_port = free_udp_port();
    let trunk = format!("127.0.0.1:{trunk_port}");
    let suifang = Suifang::start(
        &data,
        &[
            ("SUIFANG_CONFIG", &config.display().to_string()),
            ("SUIFANG_SIP_TRUNK", &trunk),
            // the carrier's second signalling address (loopback, another port)
            ("SUIFANG_SIP_TRUNK_ALLOW", "127.0.0.1/32"),
            NO_TRUNK_PINGS,
        ],
    );
    let supervisor = suifang.login("supervisor", "supervisor-demo-1");
    let patients = demo_patients(&supervisor);
    // one call up: a voicemail the caller stays on for 8 s
    let scenario = std::fs::read_to_string(fixtures().join("uac_call_bye.xml"))
        .expect("xml")
        .replace(
            "CALLER_NUMBER",
            patients[0]["phone"].as_str().expect("phone"),
        )
        .replace(
            "<pause milliseconds=\"2000\"/>",
            "<pause milliseconds=\"8000\"/>",
        );
    let mut first = FixedSipp::uac_from(&scenario, suifang.sip, trunk_port);
    wait_for("the first call live", Duration::from_secs(10), || {
        let live = supervisor.get("/api/v1/calls?live=true").body;
        live["items"]
            .as_array()?
            .iter()
            .any(|c| c["direction"] == "inbound")
            .then_some(())
    });
    let second = UdpSocket::bind("127.0.0.1:0").expect("bind");
    second.connect(suifang.sip).expect("connect");
    let me = second.local_addr().expect("addr");
    let sink = UdpSocket::bind("127.0.0.1:0").expect("sink");
    second
        .send(&invite(
            me,
            1,
            patients[1]["phone"].as_str().expect("phone"),
            sink.local_addr().expect("addr"),
        ))
        .expect("send");
    assert_eq!(
        final_responses(&second, Duration::from_secs(2)),
        [(503, Some("30".to_string()))],
        "the second call over the cap"
    );
    assert_eq!(
        first.wait(Duration::from_secs(30)),
        Some(0),
        "{}",
        first.errors()
    );
    let status = supervisor.get("/api/v1/telephony").body;
    assert_eq!(status["refused_invites"]["too_many_calls"], 1, "{status:#}");
    assert_eq!(inbound_rows(&supervisor).len(), 1);
}
