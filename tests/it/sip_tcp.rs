//! Acceptance: SIP over TCP (RFC 3261 §18.2) to a real sipp "patient" listening on TCP
//! (`-t t1`). The INVITE, its responses, the ACK and sipp's BYE all travel over one TCP
//! connection; RTP stays on UDP. The call is answered, sipp's RFC 4733 digits arrive, and the
//! recording holds the patient's speech on the right channel.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use suifang::calls::{Engine, EngineConfig, EngineEvent};
use suifang::media::envelope::speech_match;
use suifang::media::g711::G711;
use suifang::sip::ua::{CallEvent, CallOutcome, Party, Transport};
use suifang::sip::uri::SipUri;

use crate::common::serial;
use crate::common::sip_peers::{
    fixtures, free_tcp_port, free_udp_port, read_mono, read_stereo, require_sipp,
    tcp_port_listening,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_over_tcp_to_sipp_is_answered_and_recorded() {
    let _machine = serial::shared();
    if !require_sipp("a_call_over_tcp_to_sipp_is_answered_and_recorded") {
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
    let sip_port = free_tcp_port();
    let media_port = free_udp_port();
    let mut sipp = Command::new("sipp")
        .args(["-sf", &scenario_path.display().to_string(), "-t", "t1"])
        .args(["-i", "127.0.0.1", "-p", &sip_port.to_string()])
        .args(["-mi", "127.0.0.1", "-mp", &media_port.to_string()])
        .args(["-m", "1", "-nostdin", "-trace_err"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sipp");
    // TCP has no retransmission to cover sipp's start-up: dial once it listens
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !tcp_port_listening(sip_port) {
        if let Ok(Some(status)) = sipp.try_wait() {
            panic!("sipp exited before listening on tcp {sip_port}: {status}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sipp did not listen on tcp {sip_port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let recordings = dir.path().join("recordings");
    let mut cfg = EngineConfig::loopback(recordings.clone());
    cfg.transport = Transport::Tcp;
    let mut engine = Engine::start(cfg).await.expect("engine");
    let target =
        SipUri::parse(&format!("sip:patient@127.0.0.1:{sip_port};transport=tcp")).expect("uri");
    let call = engine
        .place_call(target, "tcp-call-1", Arc::new(vec![0; 8000]))
        .await
        .expect("place call");

    let (mut answered, mut outcome, mut recording, mut digits) = (false, None, None, String::new());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    while recording.is_none() {
        let ev = tokio::time::timeout_at(deadline, engine.next_event())
            .await
            .expect("call finished within 40 s")
            .expect("engine alive");
        match ev {
            EngineEvent::Call { call: c, event } if c == call => match event {
                CallEvent::Answered { .. } => answered = true,
                CallEvent::Ended { outcome: o, .. } => outcome = Some(o),
                _ => {}
            },
            EngineEvent::Dtmf { digit, .. } => digits.extend(digit.digit),
            EngineEvent::Recording { info, .. } => recording = Some(info),
            EngineEvent::MediaFailed { error, .. } => panic!("media failed: {error}"),
            _ => {}
        }
    }
    engine.shutdown().await;
    let status = (0..100)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(100));
            sipp.try_wait().ok().flatten()
        })
        .and_then(|s| s.code());
    let _ = sipp.kill();
    assert!(answered, "answered over TCP");
    assert_eq!(outcome, Some(CallOutcome::Completed { by: Party::Remote }));
    assert_eq!(status, Some(0), "sipp's scenario passed over TCP");
    assert_eq!(digits, "1#");
    let (_, right, rate) = read_stereo(&recording.expect("recording").path);
    let m = speech_match(&patient, 8000, &right, rate);
    assert!(m.corr > 0.6, "patient on the right channel: {m:?}");
}
