//! Media takes only what the dialog's SDP names (issue "Harden the edge", items 4 and 13).
//!
//! 1. A sender spraying loud RTP at every port of a narrow RTP range, from before the call is
//!    answered to its end, changes nothing in the recording of a call to a real sipp patient
//!    (the first-sender latch this replaced took whoever's packet came first).
//! 2. A carrier-like peer (a raw UDP socket in the test: sipp cannot move its media port
//!    mid-call) answers, streams a 400 Hz tone, then sends a re-INVITE moving its media to a
//!    new port and streams 1 kHz from there: suifang answers 200 with SDP, sends its audio to
//!    the new port and records the 1 kHz tone (it used to keep the old address: silence).

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use suifang::calls::{Engine, EngineConfig, EngineEvent};
use suifang::media::envelope::speech_match;
use suifang::media::g711::G711;
use suifang::sip::ua::CallEvent;
use suifang::sip::uri::SipUri;

use crate::common::serial;
use crate::common::sip_peers::{fixtures, free_udp_port, read_mono, read_stereo, require_sipp};

/// Waits for the call's recording (and returns its path), failing on media errors.
async fn recording_of(engine: &mut Engine, limit: Duration) -> std::path::PathBuf {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let ev = tokio::time::timeout_at(deadline, engine.next_event())
            .await
            .expect("the call ended and its recording closed in time")
            .expect("engine alive");
        match ev {
            EngineEvent::Recording { info, .. } => return info.path,
            EngineEvent::MediaFailed { error, .. } => panic!("media failed: {error}"),
            _ => {}
        }
    }
}

fn rtp_packet(seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_spraying_the_rtp_range_changes_nothing_in_the_recording() {
    let _machine = serial::shared();
    if !require_sipp("a_sender_spraying_the_rtp_range_changes_nothing_in_the_recording") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (patient, _) = read_mono(&fixtures().join("patient-en-8k.wav"));
    let ulaw = dir.path().join("patient.ulaw");
    std::fs::write(&ulaw, G711::Pcmu.encode(&patient)).expect("write ulaw");
    let scenario = std::fs::read_to_string(fixtures().join("uas_patient.xml"))
        .expect("scenario")
        .replace("AUDIOFILE", &ulaw.display().to_string())
        .replace("HANGUP_MS", "6000");
    let scenario_path = dir.path().join("patient.xml");
    std::fs::write(&scenario_path, scenario).expect("write scenario");
    let (sip_port, media_port) = (free_udp_port(), free_udp_port());
    let mut sipp = Command::new("sipp")
        .args(["-sf", &scenario_path.display().to_string()])
        .args(["-i", "127.0.0.1", "-p", &sip_port.to_string()])
        .args(["-mi", "127.0.0.1", "-mp", &media_port.to_string()])
        .args(["-m", "1", "-nostdin"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sipp");

    // a narrow range the sprayer covers every millisecond
    let range_start = 20_000 + 2 * (free_udp_port() % 4000);
    let mut cfg = EngineConfig::loopback(dir.path().join("recordings"));
    cfg.rtp_ports = range_start..=range_start + 6;
    let mut engine = Engine::start(cfg).await.expect("engine");

    let spraying = Arc::new(AtomicBool::new(true));
    let sprayer = {
        let spraying = spraying.clone();
        std::thread::spawn(move || {
            // from the patient's own IP (another port) and from another loopback address
            let socks = [
                UdpSocket::bind("127.0.0.1:0").expect("bind"),
                UdpSocket::bind("127.0.0.2:0").expect("bind"),
            ];
            let loud = vec![0x00u8; 160]; // µ-law 0x00: full scale
            let mut seq = 0u16;
            let mut sent = 0u64;
            while spraying.load(Ordering::Relaxed) {
                for port in (range_start..=range_start + 6).step_by(2) {
                    for s in &socks {
                        let p = rtp_packet(seq, u32::from(seq) * 160, 0xbad, &loud);
                        if s.send_to(&p, ("127.0.0.1", port)).is_ok() {
                            sent += 1;
                        }
                    }
                }
                seq = seq.wrapping_add(1);
                std::thread::sleep(Duration::from_millis(1));
            }
            sent
        })
    };

    let target = SipUri::parse(&format!("sip:patient@127.0.0.1:{sip_port}")).expect("uri");
    let (agent, _) = read_mono(&fixtures().join("agent-zh-8k.wav"));
    engine
        .place_call(target, "spray-call", Arc::new(agent))
        .await
        .expect("place call");
    let path = recording_of(&mut engine, Duration::from_secs(40)).await;
    spraying.store(false, Ordering::Relaxed);
    let sent = sprayer.join().expect("sprayer");
    engine.shutdown().await;
    let _ = sipp.kill();
    let _ = sipp.wait();

    let (_, right, rate) = read_stereo(&path);
    let matched = speech_match(&patient, 8000, &right, rate).corr;
    let loud = right.iter().filter(|s| s.unsigned_abs() > 30_000).count();
    eprintln!("sprayed {sent} packets; right~patient {matched:.2}; {loud} full-scale samples");
    assert!(sent > 1000, "the sprayer ran during the call");
    assert!(
        matched > 0.6,
        "the patient, not the sprayer, is on the right: {matched:.2}"
    );
    assert!(
        loud < 800,
        "no sprayed full-scale audio in the recording: {loud} samples"
    );
}

/// The value of header `name` in a SIP message's text.
fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.lines()
        .find_map(|l| {
            l.strip_prefix(name)
                .and_then(|r| r.strip_prefix(':'))
                .map(str::trim)
        })
        .unwrap_or_else(|| panic!("no {name} in {msg}"))
}

fn recv_text(sock: &UdpSocket, limit: Duration) -> (String, SocketAddr) {
    sock.set_read_timeout(Some(limit)).expect("timeout");
    let mut buf = vec![0u8; 65536];
    let (n, from) = sock.recv_from(&mut buf).expect("a SIP message in time");
    (String::from_utf8_lossy(&buf[..n]).into_owned(), from)
}

fn sdp(port: u16) -> String {
    format!(
        "v=0\r\no=carrier 1 {port} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    )
}

/// Streams `hz` as PCMU from `sock` to `to` for `secs`, 20 ms a packet; counts packets that
/// arrived meanwhile on `sock` (suifang's audio).
fn stream_tone(sock: &UdpSocket, to: SocketAddr, hz: f64, secs: f64, seq0: u16) -> usize {
    sock.set_nonblocking(true).expect("nonblocking");
    let frames = (secs * 50.0) as usize;
    let start = Instant::now();
    let mut got = 0;
    let mut buf = [0u8; 2048];
    for i in 0..frames {
        let pcm: Vec<i16> = (0..160)
            .map(|k| {
                let t = (i * 160 + k) as f64 / 8000.0;
                (12_000.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16
            })
            .collect();
        let seq = seq0.wrapping_add(i as u16);
        let p = rtp_packet(seq, (i * 160) as u32, 0x5eed, &G711::Pcmu.encode(&pcm));
        sock.send_to(&p, to).expect("send rtp");
        while sock.recv(&mut buf).is_ok() {
            got += 1;
        }
        let due = start + Duration::from_millis(20 * (i as u64 + 1));
        if let Some(w) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(w);
        }
    }
    sock.set_nonblocking(false).expect("blocking");
    got
}

/// Energy at `hz` relative to the signal's (Goertzel), 0..1.
fn tone_share(samples: &[i16], hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / 8000.0;
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mut energy = 0.0;
    for &x in samples {
        let x = f64::from(x);
        energy += x * x;
        let s0 = x + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    if energy == 0.0 {
        0.0
    } else {
        (2.0 * power / (samples.len() as f64 * energy)).min(1.0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reinvite_that_moves_the_media_is_followed() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(EngineConfig::loopback(dir.path().join("recordings")))
        .await
        .expect("engine");
    let carrier = UdpSocket::bind("127.0.0.1:0").expect("carrier");
    let carrier_addr = carrier.local_addr().expect("addr");
    let media_a = UdpSocket::bind("127.0.0.1:0").expect("media a");
    let media_b = UdpSocket::bind("127.0.0.1:0").expect("media b");
    let (port_a, port_b) = (
        media_a.local_addr().expect("a").port(),
        media_b.local_addr().expect("b").port(),
    );
    let agent = vec![3000i16; 8000 * 20]; // a steady level: suifang's audio, easy to count
    engine
        .place_call(
            SipUri::parse(&format!("sip:patient@{carrier_addr}")).expect("uri"),
            "reinvite-call",
            Arc::new(agent),
        )
        .await
        .expect("place");

    let carrier_side = std::thread::spawn(move || {
        let (invite, ua) = recv_text(&carrier, Duration::from_secs(10));
        assert!(invite.starts_with("INVITE "), "{invite}");
        let offer_port: u16 = invite
            .lines()
            .find_map(|l| l.strip_prefix("m=audio "))
            .and_then(|l| l.split_whitespace().next()?.parse().ok())
            .expect("our offer's port");
        let suifang_media = SocketAddr::from(([127, 0, 0, 1], offer_port));
        let (via, from, to, call_id, cseq) = (
            header(&invite, "Via"),
            header(&invite, "From"),
            header(&invite, "To"),
            header(&invite, "Call-ID"),
            header(&invite, "CSeq"),
        );
        let contact = header(&invite, "Contact")
            .trim_start_matches('<')
            .split(['>', ';'])
            .next()
            .expect("contact uri")
            .to_string();
        let our_to = format!("{to};tag=carrier1");
        let body = sdp(port_a);
        let ok = format!(
            "SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: {from}\r\nTo: {our_to}\r\nCall-ID: {call_id}\r\n\
             CSeq: {cseq}\r\nContact: <sip:patient@{carrier_addr}>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        carrier.send_to(ok.as_bytes(), ua).expect("200");
        let (ack, _) = recv_text(&carrier, Duration::from_secs(5));
        assert!(ack.starts_with("ACK "), "{ack}");
        let before = stream_tone(&media_a, suifang_media, 400.0, 2.0, 1);

        // the re-INVITE: our media moves to port B
        let body = sdp(port_b);
        let reinvite = format!(
            "INVITE {contact} SIP/2.0\r\nVia: SIP/2.0/UDP {carrier_addr};branch=z9hG4bKmove1\r\n\
             From: {our_to}\r\nTo: {from}\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n\
             Contact: <sip:patient@{carrier_addr}>\r\nMax-Forwards: 70\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        carrier.send_to(reinvite.as_bytes(), ua).expect("re-INVITE");
        let answer = loop {
            let (m, _) = recv_text(&carrier, Duration::from_secs(5));
            if !m.starts_with("SIP/2.0 100") {
                break m;
            }
        };
        assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
        assert!(answer.contains("m=audio "), "200 with SDP: {answer}");
        let ack = format!(
            "ACK {contact} SIP/2.0\r\nVia: SIP/2.0/UDP {carrier_addr};branch=z9hG4bKmove1ack\r\n\
             From: {our_to}\r\nTo: {}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\n\
             Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            header(&answer, "To")
        );
        carrier.send_to(ack.as_bytes(), ua).expect("ACK");
        let after = stream_tone(&media_b, suifang_media, 1000.0, 2.5, 200);
        let bye = format!(
            "BYE {contact} SIP/2.0\r\nVia: SIP/2.0/UDP {carrier_addr};branch=z9hG4bKbye1\r\n\
             From: {our_to}\r\nTo: {}\r\nCall-ID: {call_id}\r\nCSeq: 2 BYE\r\n\
             Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            header(&answer, "To")
        );
        carrier.send_to(bye.as_bytes(), ua).expect("BYE");
        (before, after)
    });

    let mut answered = false;
    let path = loop {
        let ev = tokio::time::timeout(Duration::from_secs(30), engine.next_event())
            .await
            .expect("events in time")
            .expect("engine alive");
        match ev {
            EngineEvent::Call {
                event: CallEvent::Answered { .. },
                ..
            } => answered = true,
            EngineEvent::Recording { info, .. } => break info.path,
            EngineEvent::MediaFailed { error, .. } => panic!("media failed: {error}"),
            _ => {}
        }
    };
    let (before, after) = carrier_side.join().expect("carrier");
    engine.shutdown().await;
    assert!(answered);
    eprintln!("suifang's packets: {before} at the old port, {after} at the new one");
    // suifang sends a 20 ms packet every 20 ms: 100 in the 2 s streamed to the first port,
    // 125 in the 2.5 s to the second; at least 80% of each must have come (start-up and a
    // busy machine's scheduling may take the rest)
    assert!(
        before >= 80,
        "audio came to the first address: {before} packets in 2 s (50/s expected)"
    );
    assert!(
        after >= 100,
        "suifang's audio follows the re-INVITE to the new port: {after} packets in 2.5 s \
         (50/s expected)"
    );
    let (_, right, rate) = read_stereo(&path);
    assert_eq!(rate, 8000);
    let tail = &right[right.len().saturating_sub(8000)..];
    let share = tone_share(tail, 1000.0);
    eprintln!(
        "last second of the patient channel: {:.2} of it at 1 kHz",
        share
    );
    assert!(
        share > 0.5,
        "the new address's 1 kHz tone is recorded after the re-INVITE: {share:.2}"
    );
}
