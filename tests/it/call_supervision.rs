//! Acceptance (issue 5): a nurse dials from the softphone page over the socket; a supervisor's
//! line whispers into the call (the patient and the recording must not get it), then barges
//! (now they must); the supervisor's browser receives the call's audio; a reload of the nurse's
//! page keeps the call and the line comes back; the nurse transfers the call to the
//! supervisor's line, whose hang-up from her page ends the patient's leg.
//!
//! The nurse's microphone is silent here, so whatever reaches the patient's ear in a window
//! can only be the supervisor: near-silence while whispering, the supervisor's speech while
//! barging. (That the patient hears the nurse is shown by `call_center.rs`.)

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common;
use crate::common::browser::BrowserLine;
use crate::common::call_harness::Baresip;
use crate::common::patient_phone::looped_match;
use crate::common::serial;
use crate::common::sip_peers::{fixtures, free_udp_port, read_mono, read_stereo, require_baresip};
use crate::common::{repo_root, wait_for, Client, Server};

fn sox(args: &[&str]) {
    let status = Command::new("sox").args(args).status().expect("sox");
    assert!(status.success(), "sox {args:?}");
}

/// The packets a line must have received in `window` of a call: the server sends one per
/// 20 ms (50 a second); at least 80% of them, the rest allowed for start-up and a busy
/// machine's scheduling.
fn at_least_80_percent(window: Duration) -> u64 {
    (window.as_secs_f64() * 50.0 * 0.8) as u64
}

#[test]
fn supervisor_whispers_to_the_nurse_only_and_a_reload_keeps_the_call() {
    let _machine = serial::shared();
    if !require_baresip("supervisor_whispers_to_the_nurse_only_and_a_reload_keeps_the_call") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = |name: &str| dir.path().join(name).display().to_string();
    // the patient speaks, then stays on the line until the nurse hangs up
    sox(&[
        &fixtures().join("patient-en-8k.wav").display().to_string(),
        &d("patient.wav"),
        "pad",
        "0",
        "40",
    ]);
    // the supervisor's microphone: a different voice, at the browser's rate
    let coach_src = repo_root().join("tests/fixtures/webrtc/other_en_8k.wav");
    sox(&[
        &coach_src.display().to_string(),
        "-r",
        "48000",
        &d("coach-48k.wav"),
    ]);
    let (coach, _) = read_mono(&coach_src);
    sox(&[
        "-n",
        "-r",
        "48000",
        "-c",
        "1",
        "-b",
        "16",
        &d("silent-nurse.wav"),
        "trim",
        "0",
        "10",
    ]);

    let trunk_port = free_udp_port();
    let trunk = format!("127.0.0.1:{trunk_port}");
    let server = Server::start(dir.path(), "demo", &[("SUIFANG_SIP_TRUNK", &trunk)]);
    let nurse_mic = PathBuf::from(d("silent-nurse.wav"));
    let mut nurse_line = BrowserLine::connect(
        &repo_root(),
        &server.base,
        &nurse_mic,
        "nurse",
        "nurse-demo-1",
    );
    let mut coach_line = BrowserLine::connect(
        &repo_root(),
        &server.base,
        &PathBuf::from(d("coach-48k.wav")),
        "supervisor",
        "supervisor-demo-1",
    );
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let supervisor = Client::login(&server, "supervisor", "supervisor-demo-1");
    let claim = nurse.post("/api/v1/queue/claim", json!({}));
    assert_eq!(claim.status, 200, "{}", claim.body);
    let task = claim.body["task"]["id"].as_i64().expect("task");
    let patient_id = claim.body["task"]["patient_id"].as_i64().expect("patient");
    let number = supervisor
        .get(&format!("/api/v1/patients/{patient_id}"))
        .body["phone"]
        .as_str()
        .expect("phone")
        .to_owned();
    let patient_phone = Baresip::start(&PathBuf::from(d("patient.wav")), &number, trunk_port, None);

    // dial from the page: the command and the call events travel over the socket
    let dialled = nurse_line.dial(task);
    let answered = Instant::now();
    let sleep_until = |secs: f64| {
        let at = answered + Duration::from_secs_f64(secs);
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
    };
    let call_id = dialled["state"]["call"]["id"]
        .as_str()
        .expect("call id")
        .to_owned();
    let seen: Vec<String> = serde_json::from_value(dialled["state"]["callEvents"].clone()).unwrap();
    assert!(
        seen.contains(&"call.state:answered".to_string()),
        "{seen:?}"
    );

    // a nurse may not monitor; the supervisor may, and it is audited
    let refused = nurse.post(
        &format!("/api/v1/calls/{call_id}/monitor"),
        json!({"mode": "listen"}),
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    sleep_until(5.0); // past the consent announcement
    let monitor = |mode: Value| {
        let r = supervisor.post(
            &format!("/api/v1/calls/{call_id}/monitor"),
            json!({ "mode": mode }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    };
    let coach_before = coach_line.stats()["state"]["packetsReceived"]
        .as_u64()
        .unwrap_or(0);
    let monitoring = Instant::now();
    monitor(json!("whisper"));
    sleep_until(12.0);
    let coach_state = coach_line.stats()["state"].clone();
    eprintln!("supervisor browser: {coach_state}");
    let coach_heard = coach_state["packetsReceived"].as_u64().unwrap_or(0) - coach_before;
    assert!(
        coach_heard >= at_least_80_percent(monitoring.elapsed()),
        "the supervisor hears the call while she whispers: {coach_heard} packets in {:?} \
         ({coach_state})",
        monitoring.elapsed()
    );
    assert!(
        coach_state["maxAudioLevel"].as_f64().unwrap_or(0.0) > 0.01,
        "{coach_state}"
    );
    monitor(json!("barge"));
    let barge_at = answered.elapsed().as_secs_f64();
    sleep_until(barge_at + 4.5);
    monitor(Value::Null);

    // the nurse reloads mid-call: the call stays up, the line and the call view come back
    let before = nurse_line.stats()["state"]["packetsReceived"]
        .as_u64()
        .unwrap_or(0);
    let reloaded = nurse_line.reload();
    eprintln!("reload: {}", reloaded["reconnect_ms"]);
    let reconnected = Instant::now();
    let live = nurse.get(&format!("/api/v1/calls/{call_id}")).body;
    assert_eq!(live["state"], "answered", "{live}");
    // 3 s of the call after the reload, to count what the new connection receives (the
    // window is the measurement, not a wait for readiness)
    std::thread::sleep(Duration::from_secs(3));
    let after = nurse_line.stats()["state"].clone();
    let window = reconnected.elapsed();
    assert_eq!(
        after["call"]["id"],
        call_id.as_str(),
        "the page finds its call again: {after}"
    );
    // a reloaded page counts from its new connection
    assert!(
        after["packetsReceived"].as_u64().unwrap_or(0) >= at_least_80_percent(window),
        "audio flows after the reload (before: {before}), for {window:?}: {after}"
    );

    // the nurse hands the call to the supervisor (blind transfer to her line)
    let supervisor_id = supervisor.get("/api/v1/me").body["user"]["id"]
        .as_i64()
        .unwrap();
    let heard_before = coach_line.stats()["state"]["packetsReceived"]
        .as_u64()
        .unwrap_or(0);
    let moved = nurse.post(
        &format!("/api/v1/calls/{call_id}/transfer"),
        json!({ "user_id": supervisor_id }),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["agent_id"], supervisor_id, "{}", moved.body);
    let nurse_after = wait_for("the nurse's page lets go", Duration::from_secs(10), || {
        let s = nurse_line.stats()["state"].clone();
        s["call"].is_null().then_some(s)
    });
    assert!(
        nurse_after["callEvents"]
            .to_string()
            .contains("call.state:transferred"),
        "{nurse_after}"
    );
    // 3 s of the call on her line, counted (the window is the measurement)
    let handed_over = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let heard_after = coach_line.stats()["state"]["packetsReceived"]
        .as_u64()
        .unwrap_or(0);
    let window = handed_over.elapsed();
    assert!(
        heard_after >= heard_before + at_least_80_percent(window),
        "the supervisor hears the call: {heard_before} → {heard_after} in {window:?}"
    );

    // she hangs up from her page: the patient's leg ends too
    let hung = coach_line.hangup();
    assert!(hung["state"]["call"].is_null(), "{hung}");
    let ended = wait_for("recording", Duration::from_secs(20), || {
        let c = nurse.get(&format!("/api/v1/calls/{call_id}")).body;
        (c["recording"]["status"] == "complete").then_some(c)
    });
    assert_eq!(ended["end_reason"], "hangup_by_agent", "{ended}");
    let kinds: Vec<&str> = ended["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for want in ["whisper", "barge", "monitor_stopped", "transferred"] {
        assert!(kinds.contains(&want), "{want} in {kinds:?}");
    }
    let audit = Client::login(&server, "admin", "admin-demo-1")
        .get("/api/v1/audit")
        .body;
    assert!(
        audit.to_string().contains("call_whisper"),
        "whisper is audited: {audit}"
    );

    // whisper is in neither the patient's ear nor the record; the nurse is in both
    let (heard, rate) = patient_phone.heard();
    assert_eq!(rate, 8000);
    let recording = common::recording_file(&server, &ended);
    let (left, _right, _) = read_stereo(&recording);
    let window = |v: &[i16], from: f64, to: f64| {
        let (a, b) = ((from * 8000.0) as usize, (to * 8000.0) as usize);
        v.get(a..b.min(v.len())).unwrap_or(&[]).to_vec()
    };
    let rms = |v: &[i16]| {
        (v.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / v.len().max(1) as f64).sqrt()
    };
    let (w0, w1) = (6.5, 11.0);
    let (b0, b1) = (barge_at + 1.0, barge_at + 4.0);
    let whisper_heard = rms(&window(&heard, w0, w1));
    let whisper_recorded = rms(&window(&left, w0, w1));
    let barge_heard = rms(&window(&heard, b0, b1));
    let barge_recorded = rms(&window(&left, b0, b1));
    let coach_in_barge = looped_match(&coach, &window(&heard, b0 - 1.0, b1 + 0.5));
    eprintln!(
        "rms while whispering: heard {whisper_heard:.0} recorded {whisper_recorded:.0}; \
         while barging: heard {barge_heard:.0} recorded {barge_recorded:.0}, coach~heard {coach_in_barge:.2}"
    );
    assert!(
        whisper_heard < 150.0,
        "the patient never hears a whisper: rms {whisper_heard:.0}"
    );
    assert!(
        whisper_recorded < 150.0,
        "a whisper is not recorded: rms {whisper_recorded:.0}"
    );
    assert!(
        barge_heard > 600.0,
        "a barge reaches the patient: rms {barge_heard:.0}"
    );
    assert!(
        barge_recorded > 600.0,
        "and the recording: rms {barge_recorded:.0}"
    );

    let final_nurse: Value = nurse_line.quit();
    assert!(
        final_nurse["errors"]
            .as_array()
            .is_none_or(|e| e.is_empty()),
        "{final_nurse}"
    );
    coach_line.quit();
}
