//! Acceptance, end to end: `kill -9` during a recorded call. A nurse in Chromium talks to a
//! baresip patient through the trunk; after at least 6 s of answered time the server is
//! SIGKILLed (no shutdown path runs, the WAV is never finalised), then restarted on the
//! same data directory. The start-up must say it recovered; the WAV must open with hound and
//! hold the answered time minus at most one second (the recorder flushes every second); the
//! recording row must be `repaired` with the file's SHA-256 and length; the call row must say
//! `interrupted_by_server_restart`.

use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest, Sha256};
use suifang::media::envelope::speech_match;

use crate::common;
use crate::common::browser::BrowserLine;
use crate::common::call_harness::{call, chunked_match, padded, Baresip, Suifang};
use crate::common::repo_root;
use crate::common::serial;
use crate::common::sip_peers::{fixtures, free_udp_port, read_mono, read_stereo, require_baresip};
use crate::common::wait_for;

/// Answered time before the kill: the patient's 6.8 s of speech is all in it.
const TALK: Duration = Duration::from_secs(10);

#[test]
fn kill_9_mid_call_then_restart_repairs_the_recording_and_closes_the_call() {
    let _machine = serial::shared();
    if !require_baresip("kill_9_mid_call_then_restart_repairs_the_recording_and_closes_the_call") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let trunk_port = free_udp_port();
    let trunk = format!("127.0.0.1:{trunk_port}");
    let env = [("SUIFANG_SIP_TRUNK", trunk.as_str())];
    let suifang = Suifang::start(&data, &env);
    let mic = repo_root().join("tests/fixtures/webrtc/nurse_en_48k.wav");
    let line = BrowserLine::connect(
        &repo_root(),
        &suifang.server.base,
        &mic,
        "nurse",
        "nurse-demo-1",
    );
    let nurse = suifang.login("nurse", "nurse-demo-1");
    let supervisor = suifang.login("supervisor", "supervisor-demo-1");
    let claim = nurse.post("/api/v1/queue/claim", json!({}));
    assert_eq!(claim.status, 200, "{}", claim.body);
    let task = claim.body["task"]["id"].as_i64().expect("task id");
    let patient_id = claim.body["task"]["patient_id"].as_i64().expect("patient");
    let number = supervisor
        .get(&format!("/api/v1/patients/{patient_id}"))
        .body["phone"]
        .as_str()
        .expect("phone")
        .to_owned();

    // the patient talks, then stays on the line far longer than the test needs
    let speech_wav = fixtures().join("patient-en-8k.wav");
    let (speech, _) = read_mono(&speech_wav);
    let wav = padded(&speech_wav, 60, dir.path(), "patient.wav");
    let phone = Baresip::start(&wav, &number, trunk_port, None);
    let dialled = nurse.post(&format!("/api/v1/tasks/{task}/call"), json!({}));
    assert_eq!(dialled.status, 201, "{}", dialled.body);
    let call_id = dialled.body["id"].as_str().expect("call id").to_owned();
    wait_for("answer", Duration::from_secs(20), || {
        (call(&nurse, &call_id)["state"] == "answered").then_some(())
    });
    // seen answered a little after it was: the real answered time is at least this
    let answered = Instant::now();
    let live = wait_for("the recording row", Duration::from_secs(5), || {
        let c = call(&nurse, &call_id);
        (c["recording"]["status"] == "recording").then_some(c)
    });
    let path = common::recording_file(&suifang.server, &live);
    wait_for(
        "the call to run long enough",
        TALK + Duration::from_secs(5),
        || (answered.elapsed() >= TALK).then_some(()),
    );
    let talked = answered.elapsed();
    suifang.kill9();
    drop(line);
    phone.stop();

    let on_disk = std::fs::metadata(&path).expect("the WAV exists").len();
    eprintln!("killed after {talked:?} answered; {on_disk} bytes on disk");
    let restarted = Suifang::start(&data, &env);
    let line = restarted
        .stdout_line("recovered after an unclean stop")
        .expect("the start-up said it recovered");
    eprintln!("start-up: {line}");
    assert!(
        line.contains("1 recording(s) repaired, 0 lost, 1 call(s) marked interrupted"),
        "{line}"
    );
    let nurse = restarted.login("nurse", "nurse-demo-1");
    let ended = call(&nurse, &call_id);
    eprintln!("after restart: {ended}");
    assert_eq!(ended["state"], "ended", "{ended}");
    assert_eq!(
        ended["end_reason"], "interrupted_by_server_restart",
        "{ended}"
    );
    assert!(ended["ended_at"].is_i64(), "{ended}");
    let rec = &ended["recording"];
    assert_eq!(rec["status"], "repaired", "{rec}");

    let reader = hound::WavReader::open(&path).expect("the repaired WAV opens");
    let spec = reader.spec();
    assert_eq!((spec.channels, spec.sample_rate), (2, 8000));
    let secs = f64::from(reader.duration()) / 8000.0;
    drop(reader);
    let want = talked.as_secs_f64() - 1.0;
    assert!(
        secs >= want,
        "holds the answered time minus at most 1 s: {secs:.2} s < {want:.2} s"
    );
    let ms = rec["duration_ms"].as_i64().expect("duration stored");
    assert!(
        (ms as f64 / 1000.0 - secs).abs() < 0.05,
        "row {ms} ms, file {secs:.2} s"
    );
    let bytes = std::fs::read(&path).expect("read WAV");
    let sha = format!("{:x}", Sha256::digest(&bytes));
    assert_eq!(rec["sha256"], sha.as_str(), "checksum of the repaired file");

    // and it is the call: the patient's words on the right
    if let Ok(keep) = std::env::var("SUIFANG_TEST_KEEP") {
        std::fs::create_dir_all(&keep).expect("keep dir");
        std::fs::copy(&path, format!("{keep}/crash-suifang.wav")).expect("copy");
    }
    let (_, right, _) = read_stereo(&path);
    let m = speech_match(&speech, 8000, &right, 8000);
    let chunks = chunked_match(&speech, &right);
    eprintln!("patient~right {m:?}, per chunk {chunks:.2}");
    assert!(
        chunks > 0.6,
        "the patient's speech survived the crash: chunks {chunks:.2}, whole {m:?}"
    );
    // the nurse is free again after the restart
    assert_eq!(
        nurse.get("/api/v1/calls?live=true").body["items"],
        json!([]),
        "no call is live after the sweep"
    );
}
