//! Acceptance: DTMF we send (RFC 4733) and our audio survive a round trip through a real peer.
//! sipp answers with `-rtp_echo`, returning our RTP to us; the keys we send must come back as
//! exactly one event each, and the right channel must hold our own (echoed) speech.

use std::sync::Arc;
use std::time::Duration;

use suifang::calls::{Engine, EngineConfig, EngineEvent};
use suifang::media::envelope::speech_match;
use suifang::sip::ua::{CallEvent, CallOutcome, Party};
use suifang::sip::uri::SipUri;

use crate::common::serial;
use crate::common::sip_peers::{fixtures, read_mono, read_stereo, require_sipp, Sipp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sent_dtmf_and_audio_come_back_from_echoing_peer() {
    let _machine = serial::shared();
    if !require_sipp("sent_dtmf_and_audio_come_back_from_echoing_peer") {
        return;
    }
    let scenario =
        std::fs::read_to_string(fixtures().join("uas_answer_wait.xml")).expect("scenario");
    let mut sipp = Sipp::uas_with_args(&scenario, &["-rtp_echo"]);
    let (speech, _) = read_mono(&fixtures().join("patient-en-8k.wav"));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(EngineConfig::loopback(dir.path().join("recordings")))
        .await
        .expect("engine");
    let target = SipUri::parse(&format!("sip:patient@127.0.0.1:{}", sipp.sip_port)).expect("uri");
    let call = engine
        .place_call(target, "echo-call", Arc::new(speech.clone()))
        .await
        .expect("place");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut digits = String::new();
    let mut outcome = None;
    let mut recording = None;
    let mut hangup_at = None;
    let mut dtmf_at = None;
    while recording.is_none() {
        let wake = [hangup_at, dtmf_at]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(deadline);
        let ev = match tokio::time::timeout_at(wake, engine.next_event()).await {
            Ok(ev) => ev.expect("engine alive"),
            Err(_) => {
                let now = tokio::time::Instant::now();
                assert!(now < deadline, "call did not finish in time");
                if dtmf_at.is_some_and(|t| t <= now) {
                    dtmf_at = None;
                    engine.send_dtmf(call, "5*").await.expect("send dtmf");
                }
                if hangup_at.is_some_and(|t| t <= now) {
                    hangup_at = None;
                    engine.hangup(call).await.expect("hangup");
                }
                continue;
            }
        };
        match ev {
            EngineEvent::Call {
                event: CallEvent::Answered { .. },
                ..
            } => {
                let now = tokio::time::Instant::now();
                dtmf_at = Some(now + Duration::from_secs(1));
                hangup_at = Some(now + Duration::from_millis(7500));
            }
            EngineEvent::Call {
                event: CallEvent::Ended { outcome: o, .. },
                ..
            } => outcome = Some(o),
            EngineEvent::Dtmf { digit, .. } => digits.extend(digit.digit),
            EngineEvent::Recording { info, .. } => recording = Some(info),
            EngineEvent::MediaFailed { error, .. } => panic!("media failed: {error}"),
            _ => {}
        }
    }
    engine.shutdown().await;
    assert_eq!(outcome, Some(CallOutcome::Completed { by: Party::Local }));
    assert_eq!(
        sipp.wait(Duration::from_secs(10)),
        Some(0),
        "sipp got our BYE"
    );
    assert_eq!(digits, "5*", "each key reported once after the echo");
    let info = recording.expect("recording");
    let (left, right, rate) = read_stereo(&info.path);
    let echoed = speech_match(&speech, 8000, &right, rate);
    let sent = speech_match(&speech, 8000, &left, rate);
    eprintln!("left~sent {sent:?} right~echo {echoed:?}");
    assert!(sent.corr > 0.6, "{sent:?}");
    assert!(
        echoed.corr > 0.6,
        "our speech came back on the right channel: {echoed:?}"
    );
}

/// Hold: after the hold command the patient hears the music (looped) instead of the agent, and
/// the recording's left channel shows exactly what was sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_plays_music_to_the_patient() {
    let _machine = serial::shared();
    if !require_sipp("hold_plays_music_to_the_patient") {
        return;
    }
    let scenario =
        std::fs::read_to_string(fixtures().join("uas_answer_wait.xml")).expect("scenario");
    let mut sipp = Sipp::uas_with_args(&scenario, &["-rtp_echo"]);
    let (music, _) = read_mono(&fixtures().join("patient-en-8k.wav"));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(EngineConfig::loopback(dir.path().join("recordings")))
        .await
        .expect("engine");
    let target = SipUri::parse(&format!("sip:patient@127.0.0.1:{}", sipp.sip_port)).expect("uri");
    // The "nurse" is silent: anything on the left channel comes from the hold music.
    let call = engine
        .place_call(target, "hold-call", Arc::new(vec![0; 8000 * 20]))
        .await
        .expect("place");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (mut hold_at, mut hangup_at, mut recording) = (None, None, None);
    while recording.is_none() {
        let wake = [hold_at, hangup_at]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(deadline);
        match tokio::time::timeout_at(wake, engine.next_event()).await {
            Err(_) => {
                let now = tokio::time::Instant::now();
                assert!(now < deadline, "call did not finish in time");
                if hold_at.is_some_and(|t| t <= now) {
                    hold_at = None;
                    engine
                        .hold(call, Some(Arc::new(music.clone())))
                        .await
                        .expect("hold");
                }
                if hangup_at.is_some_and(|t| t <= now) {
                    hangup_at = None;
                    engine.hangup(call).await.expect("hangup");
                }
            }
            Ok(ev) => match ev.expect("engine alive") {
                EngineEvent::Call {
                    event: CallEvent::Answered { .. },
                    ..
                } => {
                    let now = tokio::time::Instant::now();
                    hold_at = Some(now + Duration::from_secs(1));
                    hangup_at = Some(now + Duration::from_millis(8500));
                }
                EngineEvent::Recording { info, .. } => recording = Some(info),
                EngineEvent::MediaFailed { error, .. } => panic!("media failed: {error}"),
                _ => {}
            },
        }
    }
    engine.shutdown().await;
    assert_eq!(sipp.wait(Duration::from_secs(10)), Some(0));
    let (left, right, rate) = read_stereo(&recording.expect("recording").path);
    assert!(
        left[..6400].iter().all(|&s| s == 0),
        "silence before the hold"
    );
    let sent = speech_match(&music, 8000, &left, rate);
    let heard = speech_match(&music, 8000, &right, rate);
    eprintln!("left~music {sent:?} right(echo)~music {heard:?}");
    assert!(
        sent.corr > 0.6 && sent.lag_frames >= 40,
        "music sent from the hold on: {sent:?}"
    );
    assert!(
        heard.corr > 0.6,
        "the patient side received the music: {heard:?}"
    );
}
