//! Acceptance, end to end with real peers: a nurse's browser (headless Chromium, a WAV as the
//! microphone) holds an agent line; the nurse claims a task and dials over the API; suifang
//! calls a **baresip** patient through the SIP trunk, bridges it to the browser, plays the
//! consent announcement and records. baresip's own recording of what it heard must hold the
//! announcement and the nurse's speech; suifang's stereo WAV the nurse's speech on the left
//! and the patient's on the right; the browser must have received audio; the patient's
//! hang-up must end both legs.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use suifang::media::envelope::speech_match;

use crate::common;
use crate::common::browser::BrowserLine;
use crate::common::call_harness::Baresip;
use crate::common::patient_phone::{looped_match, nurse_8k};
use crate::common::serial;
use crate::common::sip_peers::{fixtures, free_udp_port, read_mono, read_stereo, require_baresip};
use crate::common::{repo_root, wait_for, Client, Server};

#[test]
fn nurse_in_chromium_calls_a_baresip_patient_through_the_trunk() {
    let _machine = serial::shared();
    if !require_baresip("nurse_in_chromium_calls_a_baresip_patient_through_the_trunk") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // the patient talks for 6.8 s, then stays on the line silently: a 16 s call
    let patient_wav = dir.path().join("patient.wav");
    let status = Command::new("sox")
        .arg(fixtures().join("patient-en-8k.wav"))
        .arg(&patient_wav)
        .args(["pad", "0", "9"])
        .status()
        .expect("sox");
    assert!(status.success());
    let (patient, _) = read_mono(&fixtures().join("patient-en-8k.wav"));
    let trunk_port = free_udp_port();
    let trunk = format!("127.0.0.1:{trunk_port}");
    let server = Server::start(
        dir.path(),
        "demo",
        &[
            ("SUIFANG_SIP_TRUNK", &trunk),
            ("SUIFANG_LOG", "suifang=debug,warn"),
        ],
    );
    let mic = repo_root().join("tests/fixtures/webrtc/nurse_en_48k.wav");
    let mut line = BrowserLine::connect(&repo_root(), &server.base, &mic, "nurse", "nurse-demo-1");
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");

    // a doctor may call a patient outside the queue, but only over a connected line
    let doctor = Client::login(&server, "doctor", "doctor-demo-1");
    let no_line = doctor.post("/api/v1/patients/1/call", json!({}));
    assert_eq!(no_line.status, 409, "{}", no_line.body);
    assert!(
        no_line.body.to_string().contains("line"),
        "{}",
        no_line.body
    );
    let nobody = doctor.post("/api/v1/patients/99999/call", json!({}));
    assert_eq!(nobody.status, 404, "{}", nobody.body);
    // dialling without a claim is refused with the reason
    let refused = nurse.post("/api/v1/tasks/1/call", json!({}));
    assert_eq!(refused.status, 409, "{}", refused.body);
    let claim = nurse.post("/api/v1/queue/claim", json!({}));
    assert_eq!(claim.status, 200, "{}", claim.body);
    let task = claim.body["task"]["id"].as_i64().expect("task id");
    let patient_id = claim.body["task"]["patient_id"]
        .as_i64()
        .expect("patient id");
    let supervisor = Client::login(&server, "supervisor", "supervisor-demo-1");
    let number = supervisor
        .get(&format!("/api/v1/patients/{patient_id}"))
        .body["phone"]
        .as_str()
        .expect("phone")
        .to_owned();
    assert!(
        number.starts_with('+'),
        "supervisors see the full number: {number}"
    );
    let patient_phone = Baresip::start(&patient_wav, &number, trunk_port, None);
    let dialled = nurse.post(&format!("/api/v1/tasks/{task}/call"), json!({}));
    assert_eq!(dialled.status, 201, "{}", dialled.body);
    let call_id = dialled.body["id"].as_str().expect("call id").to_owned();
    assert_eq!(dialled.body["state"], "dialing");
    // one call at a time per nurse
    let again = nurse.post(&format!("/api/v1/tasks/{task}/call"), json!({}));
    assert_eq!(again.status, 409, "{}", again.body);

    let live = wait_for("answer", Duration::from_secs(20), || {
        let c = nurse.get(&format!("/api/v1/calls/{call_id}")).body;
        (c["state"] == "answered").then_some(c)
    });
    assert_eq!(live["direction"], "outbound");
    let listed = nurse.get("/api/v1/calls?live=true").body;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == call_id.as_str()),
        "{listed}"
    );
    let bad = nurse.post(
        &format!("/api/v1/calls/{call_id}/dtmf"),
        json!({"digits": "1x"}),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.to_string().contains("digits"), "{}", bad.body);
    let dtmf = nurse.post(
        &format!("/api/v1/calls/{call_id}/dtmf"),
        json!({"digits": "1#"}),
    );
    assert_eq!(dtmf.status, 200, "{}", dtmf.body);

    // baresip hangs up when its file ends: both legs end, the recording is closed
    let ended = wait_for("patient hang-up", Duration::from_secs(40), || {
        let c = nurse.get(&format!("/api/v1/calls/{call_id}")).body;
        (c["state"] == "ended" && c["recording"]["status"] == "complete").then_some(c)
    });
    assert_eq!(ended["end_reason"], "hangup_by_patient", "{ended}");
    let kinds: Vec<&str> = ended["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["detail"].as_str())
        .collect();
    for want in ["dialing", "ringing", "answered", "1#", "hangup_by_patient"] {
        assert!(kinds.contains(&want), "call log lacks {want}: {kinds:?}");
    }
    let stats = line.stats();
    let state = &stats["state"];
    eprintln!("browser: {state}");
    // one 20 ms packet every 20 ms while the call was answered; at least 80% of them (the
    // row's times are whole seconds: one second less is counted)
    let answered_secs = ended["ended_at"].as_i64().expect("ended_at")
        - ended["answered_at"].as_i64().expect("answered_at");
    let expected = (answered_secs - 1).max(0) as u64 * 50 * 8 / 10;
    assert!(
        state["packetsReceived"].as_u64().unwrap_or(0) >= expected.max(200),
        "the nurse's browser received the call's audio: {answered_secs} s answered, \
         {expected} packets expected: {state}"
    );
    assert!(
        state["maxAudioLevel"].as_f64().unwrap_or(0.0) > 0.01,
        "and it was not silence: {state}"
    );
    // the line survives the call, detached and ready for the next one
    assert_eq!(state["lineState"], "connected");

    let recording = common::recording_file(&server, &ended);
    assert!(
        recording.ends_with(format!("{call_id}.wav")),
        "{}",
        recording.display()
    );
    let secs = ended["recording"]["duration_ms"].as_i64().unwrap() as f64 / 1000.0;
    assert!((12.0..25.0).contains(&secs), "recorded {secs} s");
    let (left, right, rate) = read_stereo(&recording);
    assert_eq!(rate, 8000);

    let consent =
        suifang::telephony::prompts::decode_8k(&repo_root().join("prompts/audio/consent.wav"))
            .expect("consent prompt");
    let nurse_audio = nurse_8k();
    let consent_on_left = speech_match(&consent, 8000, &left, 8000);
    let patient_on_right = speech_match(&patient, 8000, &right, 8000);
    let nurse_on_left = looped_match(&nurse_audio, left.get(40_000..).unwrap_or(&[]));
    let nurse_on_right = looped_match(&nurse_audio, right.get(40_000..).unwrap_or(&[]));
    eprintln!(
        "consent~left {consent_on_left:?} patient~right {patient_on_right:?} \
         nurse~left {nurse_on_left:.2} nurse~right {nurse_on_right:.2}"
    );
    assert!(
        consent_on_left.corr > 0.6,
        "the announcement is recorded: {consent_on_left:?}"
    );
    assert!(
        patient_on_right.corr > 0.6,
        "patient on the right: {patient_on_right:?}"
    );
    assert!(nurse_on_left > 0.6, "nurse on the left: {nurse_on_left:.2}");
    assert!(
        nurse_on_right < 0.5,
        "channels are not mixed: {nurse_on_right:.2}"
    );

    // what the patient heard is what we recorded as sent: the announcement, then the nurse
    let (heard, heard_rate) = patient_phone.heard();
    let heard_vs_left = speech_match(&left, 8000, &heard, heard_rate);
    eprintln!("baresip heard ~ our left channel: {heard_vs_left:?}");
    assert!(heard_vs_left.corr > 0.6, "{heard_vs_left:?}");

    // the nurse now records the outcome with the call attached
    let disposed = nurse.post(
        &format!("/api/v1/tasks/{task}/disposition"),
        json!({"disposition": "completed", "call_id": call_id}),
    );
    assert_eq!(disposed.status, 200, "{}", disposed.body);
    let final_state: Value = line.quit();
    assert!(
        final_state["errors"]
            .as_array()
            .is_none_or(|e| e.is_empty()),
        "browser console errors: {final_state}"
    );
}
