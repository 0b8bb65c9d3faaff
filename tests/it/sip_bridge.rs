//! Acceptance: two real phones (sipp) bridged through suifang — a nurse's desk phone streaming
//! Mandarin and a patient streaming English. The patient leg's recording must hold the nurse on
//! the left and the patient on the right; the nurse must receive the patient; mute must silence
//! what the patient hears.

use std::time::Duration;

use suifang::calls::{bridge_pair, Engine, EngineConfig, EngineEvent};
use suifang::media::envelope::speech_match;
use suifang::media::g711::G711;
use suifang::media::recorder::RecordingInfo;
use suifang::sip::ua::CallEvent;
use suifang::sip::uri::SipUri;

use crate::common::serial;
use crate::common::sip_peers::{fixtures, read_mono, read_stereo, require_sipp, Sipp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nurse_and_patient_phones_are_bridged_recorded_and_mutable() {
    let _machine = serial::shared();
    if !require_sipp("nurse_and_patient_phones_are_bridged_recorded_and_mutable") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (nurse_voice, _) = read_mono(&fixtures().join("agent-zh-8k.wav"));
    let (patient_voice, _) = read_mono(&fixtures().join("patient-en-8k.wav"));
    let phone = |voice: &[i16], name: &str| {
        let raw = dir.path().join(format!("{name}.ulaw"));
        std::fs::write(&raw, G711::Pcmu.encode(voice)).expect("write ulaw");
        let text = std::fs::read_to_string(fixtures().join("uas_stream.xml")).expect("scenario");
        Sipp::uas(&text.replace("AUDIOFILE", &raw.display().to_string()))
    };
    let mut nurse_phone = phone(&nurse_voice, "nurse");
    let mut patient_phone = phone(&patient_voice, "patient");

    let mut engine = Engine::start(EngineConfig::loopback(dir.path().join("recordings")))
        .await
        .expect("engine");
    let (patient_leg, mut nurse_leg) = bridge_pair("bridge-patient");
    nurse_leg.recording_id = Some("bridge-nurse".into()); // to check what the nurse heard
    let uri = |p: u16| SipUri::parse(&format!("sip:x@127.0.0.1:{p}")).expect("uri");
    let nurse = engine
        .place_call_leg(uri(nurse_phone.sip_port), nurse_leg)
        .await
        .expect("nurse call");
    let patient = engine
        .place_call_leg(uri(patient_phone.sip_port), patient_leg)
        .await
        .expect("patient call");

    let start = tokio::time::Instant::now();
    let (mut mute_at, mut unmute_at, mut hangup_at) = (None, None, None);
    let mut answered = 0;
    let mut recordings: Vec<(suifang::sip::ua::CallHandle, RecordingInfo)> = Vec::new();
    let mut mute_window = None;
    while recordings.len() < 2 {
        let wake = [mute_at, unmute_at, hangup_at]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(start + Duration::from_secs(40));
        match tokio::time::timeout_at(wake, engine.next_event()).await {
            Err(_) => {
                let now = tokio::time::Instant::now();
                assert!(
                    now < start + Duration::from_secs(40),
                    "bridge test timed out"
                );
                if mute_at.is_some_and(|t| t <= now) {
                    mute_at = None;
                    engine.set_mute(patient, true).await.expect("mute");
                    mute_window = Some(now);
                }
                if unmute_at.is_some_and(|t| t <= now) {
                    unmute_at = None;
                    engine.set_mute(patient, false).await.expect("unmute");
                }
                if hangup_at.is_some_and(|t| t <= now) {
                    hangup_at = None;
                    engine.hangup(patient).await.expect("hangup patient");
                    engine.hangup(nurse).await.expect("hangup nurse");
                }
            }
            Ok(ev) => match ev.expect("engine alive") {
                EngineEvent::Call {
                    event: CallEvent::Answered { .. },
                    ..
                } => {
                    answered += 1;
                    if answered == 2 {
                        let now = tokio::time::Instant::now();
                        mute_at = Some(now + Duration::from_secs(7));
                        unmute_at = Some(now + Duration::from_secs(8));
                        hangup_at = Some(now + Duration::from_secs(9));
                    }
                }
                EngineEvent::Recording { call, info } => recordings.push((call, info)),
                EngineEvent::MediaFailed { error, .. } => panic!("media failed: {error}"),
                _ => {}
            },
        }
    }
    engine.shutdown().await;
    assert_eq!(nurse_phone.wait(Duration::from_secs(10)), Some(0));
    assert_eq!(patient_phone.wait(Duration::from_secs(10)), Some(0));
    let info = |c| {
        recordings
            .iter()
            .find(|(h, _)| *h == c)
            .map(|(_, i)| i.clone())
            .expect("recording")
    };
    let (p_left, p_right, rate) = read_stereo(&info(patient).path);
    let (n_left, _, _) = read_stereo(&info(nurse).path);
    let nurse_to_patient = speech_match(&nurse_voice, 8000, &p_left, rate);
    let patient_heard = speech_match(&patient_voice, 8000, &p_right, rate);
    let nurse_heard = speech_match(&patient_voice, 8000, &n_left, rate);
    eprintln!("patient leg: left~nurse {nurse_to_patient:?} right~patient {patient_heard:?}; nurse leg sent~patient {nurse_heard:?}");
    assert!(
        nurse_to_patient.corr > 0.6,
        "nurse voice bridged to the patient (left): {nurse_to_patient:?}"
    );
    assert!(
        patient_heard.corr > 0.6,
        "patient voice on the right: {patient_heard:?}"
    );
    assert!(
        nurse_heard.corr > 0.6,
        "patient voice bridged to the nurse: {nurse_heard:?}"
    );
    // Mute: the second after the mute command is silent on the patient leg's left channel
    // (sample offsets from the recording's end, which is the hang-up at answer + 9 s).
    assert!(mute_window.is_some());
    let end = p_left.len();
    let muted = &p_left[end.saturating_sub(2 * 8000 - 1600)..end.saturating_sub(8000 + 1600)];
    assert!(
        !muted.is_empty() && muted.iter().all(|&s| s == 0),
        "muted second is silent"
    );
    let before = &p_left[end.saturating_sub(4 * 8000)..end.saturating_sub(3 * 8000)];
    assert!(before.iter().any(|&s| s != 0), "audio before the mute");
}
