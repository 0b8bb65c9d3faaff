//! Acceptance: suifang calls a real sipp "patient" over UDP on loopback. sipp answers, streams
//! a known recording as RTP and presses `1` then `#` (RFC 4733 from sipp's pcaps), then hangs
//! up. The stereo WAV must hold the patient's speech on the right channel and exactly the agent
//! audio we sent on the left — checked by loudness-envelope correlation, not by file existence.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use suifang::calls::{Engine, EngineConfig, EngineEvent};
use suifang::media::envelope::speech_match;
use suifang::media::g711::G711;
use suifang::sip::ua::{CallEvent, CallOutcome, Party};
use suifang::sip::uri::SipUri;

use crate::common::serial;
use crate::common::sip_peers;
use crate::common::sip_peers::{fixtures, free_udp_port, read_mono, read_stereo, require_sipp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_call_to_sipp_is_recorded_per_channel() {
    let _machine = serial::shared();
    if !require_sipp("outbound_call_to_sipp_is_recorded_per_channel") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (patient, patient_rate) = read_mono(&fixtures().join("patient-en-8k.wav"));
    let (agent, agent_rate) = read_mono(&fixtures().join("agent-zh-8k.wav"));
    assert_eq!((patient_rate, agent_rate), (8000, 8000));

    // sipp's rtp_stream wants raw µ-law; make it with our own encoder.
    let ulaw = dir.path().join("patient.ulaw");
    std::fs::write(&ulaw, G711::Pcmu.encode(&patient)).expect("write ulaw");
    let scenario = std::fs::read_to_string(fixtures().join("uas_patient.xml"))
        .expect("scenario")
        .replace("AUDIOFILE", &ulaw.display().to_string())
        .replace("HANGUP_MS", "6000");
    let scenario_path = dir.path().join("patient.xml");
    std::fs::write(&scenario_path, scenario).expect("write scenario");

    let sip_port = free_udp_port();
    let media_port = free_udp_port();
    let mut sipp = Command::new("sipp")
        .args([
            "-sf",
            &scenario_path.display().to_string(),
            "-i",
            "127.0.0.1",
            "-p",
            &sip_port.to_string(),
        ])
        .args([
            "-mi",
            "127.0.0.1",
            "-mp",
            &media_port.to_string(),
            "-m",
            "1",
            "-nostdin",
            "-trace_err",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sipp");

    let recordings = dir.path().join("recordings");
    let mut engine = Engine::start(EngineConfig::loopback(recordings.clone()))
        .await
        .expect("engine");
    let target = SipUri::parse(&format!("sip:patient@127.0.0.1:{sip_port}")).expect("uri");
    // If sipp is still starting, INVITE retransmission (timer A) covers the gap.
    let call = engine
        .place_call(target, "test-call-1", Arc::new(agent.clone()))
        .await
        .expect("place call");

    let mut digits = String::new();
    let mut outcome = None;
    let mut answered = false;
    let mut recording = None;
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
            EngineEvent::Dtmf { call: c, digit } if c == call => digits.extend(digit.digit),
            EngineEvent::Recording { call: c, info } if c == call => recording = Some(info),
            EngineEvent::MediaFailed { error, .. } => panic!("media failed: {error}"),
            _ => {}
        }
    }
    engine.shutdown().await;
    let status = wait_child(&mut sipp, Duration::from_secs(10));
    assert!(answered, "call was answered");
    assert_eq!(
        outcome,
        Some(CallOutcome::Completed { by: Party::Remote }),
        "sipp hung up"
    );
    assert_eq!(status, Some(0), "sipp reports its scenario succeeded");
    assert_eq!(digits, "1#", "RFC 4733 digits from sipp's pcaps");

    let info = recording.expect("recording");
    assert!(info.path.starts_with(&recordings));
    assert!(info.path.ends_with("test-call-1.wav"));
    assert_eq!(info.sha256.len(), 64);
    let secs = info.duration.as_secs_f64();
    assert!((7.0..15.0).contains(&secs), "call length {secs:.1} s");
    let (left, right, rate) = read_stereo(&info.path);
    assert_eq!(rate, 8000);
    let right_vs_patient = speech_match(&patient, 8000, &right, rate);
    let left_vs_agent = speech_match(&agent, 8000, &left, rate);
    let right_vs_agent = speech_match(&agent, 8000, &right, rate);
    eprintln!("right~patient {right_vs_patient:?}  left~agent {left_vs_agent:?}  right~agent {right_vs_agent:?}");
    assert!(
        right_vs_patient.corr > 0.6,
        "patient speech on the right channel: {right_vs_patient:?}"
    );
    assert!(
        left_vs_agent.corr > 0.6,
        "agent audio on the left channel: {left_vs_agent:?}"
    );
    assert!(
        right_vs_agent.corr < 0.5,
        "channels are not mixed: {right_vs_agent:?}"
    );
}

fn wait_child(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// 183 with SDP: the patient side's early media (announcement, ring-back) is recorded from the
/// 183 on, nothing is sent before the answer, and the agent audio starts at the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_media_is_recorded_before_answer() {
    let _machine = serial::shared();
    if !require_sipp("early_media_is_recorded_before_answer") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (patient, _) = read_mono(&fixtures().join("patient-en-8k.wav"));
    let (agent, _) = read_mono(&fixtures().join("agent-zh-8k.wav"));
    let ulaw = dir.path().join("patient.ulaw");
    std::fs::write(&ulaw, G711::Pcmu.encode(&patient)).expect("write ulaw");
    let scenario = std::fs::read_to_string(fixtures().join("uas_early_media.xml"))
        .expect("scenario")
        .replace("AUDIOFILE", &ulaw.display().to_string())
        .replace("HANGUP_MS", "4000");
    let mut sipp = sip_peers::Sipp::uas(&scenario);
    let mut engine = Engine::start(EngineConfig::loopback(dir.path().join("recordings")))
        .await
        .expect("engine");
    let target = SipUri::parse(&format!("sip:patient@127.0.0.1:{}", sipp.sip_port)).expect("uri");
    let call = engine
        .place_call(target, "early-1", Arc::new(agent.clone()))
        .await
        .expect("place call");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (mut early_at, mut answered_at, mut recording) = (None, None, None);
    while recording.is_none() {
        let ev = tokio::time::timeout_at(deadline, engine.next_event())
            .await
            .expect("in time")
            .expect("engine alive");
        match ev {
            EngineEvent::Call {
                call: c,
                event:
                    CallEvent::Progress {
                        status: 183,
                        early_media: Some(_),
                    },
            } if c == call => {
                early_at = Some(std::time::Instant::now());
            }
            EngineEvent::Call {
                call: c,
                event: CallEvent::Answered { .. },
            } if c == call => answered_at = Some(std::time::Instant::now()),
            EngineEvent::Recording { call: c, info } if c == call => recording = Some(info),
            EngineEvent::MediaFailed { error, .. } => panic!("media failed: {error}"),
            _ => {}
        }
    }
    engine.shutdown().await;
    assert_eq!(sipp.wait(Duration::from_secs(10)), Some(0));
    let (early_at, answered_at) = (
        early_at.expect("183 with SDP"),
        answered_at.expect("answered"),
    );
    let early_secs = answered_at.duration_since(early_at).as_secs_f64();
    assert!(early_secs > 2.5, "early phase {early_secs:.1} s");
    let info = recording.expect("recording");
    let (left, right, rate) = read_stereo(&info.path);
    // The recording starts at the 183: its length covers the early phase plus the answered one.
    assert!(
        info.duration.as_secs_f64() > early_secs + 3.5,
        "recording {:?} vs early {early_secs:.1} s",
        info.duration
    );
    let early_frames = (early_secs * f64::from(rate)) as usize - 1600;
    let left_early_peak = left[..early_frames]
        .iter()
        .map(|s| s.unsigned_abs())
        .max()
        .unwrap_or(0);
    assert_eq!(
        left_early_peak, 0,
        "nothing sent (left channel silent) before the answer"
    );
    let right_vs_patient = speech_match(&patient, 8000, &right, rate);
    assert!(
        right_vs_patient.corr > 0.6,
        "early + answered patient audio on the right: {right_vs_patient:?}"
    );
    let left_vs_agent = speech_match(&agent, 8000, &left[early_frames..], rate);
    assert!(
        left_vs_agent.corr > 0.6,
        "agent audio after the answer: {left_vs_agent:?}"
    );
}
