//! The demo as a newcomer runs it: the real `suifang demo` started the way README.md says, in a
//! copy of the repo's files with the default relative paths (no `SUIFANG_DATA_DIR`: `data/`,
//! `recordings/` and `models/` are taken from the working directory), in the hospital's own
//! zone at 02:00, far outside `serve`'s calling hours. The nurse places the demo call from
//! Chromium to the simulated patient; then, as the supervisor, the recording must be served
//! (a valid stereo WAV as long as the call), its transcript must finish with a real whisper
//! model and hold none of whisper's prompt text; after a restart on the real clock the same
//! recording still plays and the queue still hands out work.
//!
//! Only addresses are moved off their defaults (HTTP and the simulated phone to free ports), so
//! tests can run beside each other; SIP keeps the demo's default, loopback port 5060.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use crate::common::console::browser;
use crate::common::serial;
use crate::common::sip_peers::free_udp_port;
use crate::common::{repo_root, wait_for, Client, Server, BIN};

/// whisper's Mandarin initial prompt (`transcribe::engine`), which must never come back as
/// something somebody said.
const PROMPT_PIECES: [&str; 3] = ["以下是", "普通话的句子", "普通話的句子"];

/// `suifang demo` in `workdir` with its stdout lines kept.
struct Demo {
    server: Server,
}

impl Demo {
    fn start(workdir: &Path, clock_offset_seconds: i64, sim_patient: &str) -> Demo {
        let mut c = Command::new(BIN);
        // a newcomer's shell: none of the test environment's suifang settings
        for (key, _) in std::env::vars() {
            if key.starts_with("SUIFANG_") {
                c.env_remove(key);
            }
        }
        c.current_dir(workdir)
            .arg("demo")
            .env("SUIFANG_DEMO_SIM_PATIENT", sim_patient)
            .env(
                "SUIFANG_CLOCK_OFFSET_SECONDS",
                clock_offset_seconds.to_string(),
            )
            .env("SUIFANG_LOG", "warn")
            .stderr(Stdio::inherit());
        // (the HTTP address is the one override a newcomer would not make: port 0, so tests
        // running side by side cannot collide on it)
        let mut server = Server::spawn(c, workdir, Duration::from_secs(60));
        server.wait_stdout_line("suifang SIP is listening on", Duration::from_secs(10));
        Demo { server }
    }

    fn line(&self, needle: &str) -> Option<String> {
        self.server.stdout_line(needle)
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The folder `scripts/fetch-models.sh` filled (the test command's `SUIFANG_MODEL_DIR`, else
/// the repo's `models/`): the demo transcribes with the multilingual base model.
fn model_dir() -> PathBuf {
    let dir = std::env::var_os("SUIFANG_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models"));
    assert!(
        dir.join("ggml-base.bin").is_file(),
        "{} has no ggml-base.bin: run scripts/fetch-models.sh base",
        dir.display()
    );
    dir
}

/// Seconds to add to the real clock so that it is 02:00–02:59 in Asia/Shanghai (the demo's
/// zone), whatever the real hour.
fn offset_to_2am_in_shanghai() -> i64 {
    let tz: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
    let now = Utc::now();
    let local = now.with_timezone(&tz);
    let two_am = tz
        .from_local_datetime(&local.date_naive().and_hms_opt(2, 0, 0).unwrap())
        .unwrap();
    let offset = (two_am.with_timezone(&Utc) - now).num_seconds();
    offset + 60
}

fn get_bytes(client: &Client, path: &str) -> (u16, Vec<u8>) {
    let mut req = ureq::get(&format!("{}{path}", client.base));
    if let Some(cookie) = &client.cookie {
        req = req.set("Cookie", cookie);
    }
    match req.call() {
        Ok(resp) => {
            let status = resp.status();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut resp.into_reader(), &mut bytes).unwrap();
            (status, bytes)
        }
        Err(ureq::Error::Status(status, _)) => (status, Vec::new()),
        Err(e) => panic!("GET {path}: {e}"),
    }
}

#[test]
fn a_newcomer_places_the_demo_call_at_night_and_plays_and_reads_it() {
    let _machine = serial::exclusive();
    let workdir = tempfile::tempdir().unwrap();
    let work = workdir.path();
    copy_dir(&repo_root().join("prompts"), &work.join("prompts"));
    std::os::unix::fs::symlink(model_dir(), work.join("models")).unwrap();
    let sim = format!("127.0.0.1:{}", free_udp_port());

    let offset = offset_to_2am_in_shanghai();
    let demo = Demo::start(work, offset, &sim);
    let sip = demo.line("suifang SIP is listening on").unwrap();
    assert!(
        sip.contains("udp:127.0.0.1:5060"),
        "the demo's SIP answers on loopback only: {sip}"
    );
    let settings = demo.line("Demo settings:").expect("demo settings printed");
    assert!(settings.contains("00:00-24:00"), "{settings}");

    let nurse = Client::login(&demo.server, "nurse", "nurse-demo-1");
    let queue = nurse.get("/api/v1/queue?limit=100").body;
    assert_eq!(queue["demo"], true, "{queue:#}");
    assert_eq!(queue["calling_hours"], "00:00-24:00");
    assert_eq!(
        queue["calling_hours_open"], true,
        "it is 02:00 and yet open"
    );

    let mic = repo_root().join("tests/fixtures/webrtc/nurse_en_48k.wav");
    let out = browser(
        "newcomer",
        &demo.server,
        json!({"mic": mic, "talk_ms": 9000}),
    );
    assert!(
        out["queue_hours"]
            .as_str()
            .unwrap()
            .contains("演示模式：任何时间都可呼叫"),
        "the queue page says the demo calls at any hour: {}",
        out["queue_hours"]
    );
    let steps: Vec<&str> = out["queue_steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        !steps.is_empty()
            && steps
                .iter()
                .all(|s| s.starts_with('第') || s.starts_with("术后")),
        "step names in Chinese in the Chinese console: {steps:?}"
    );
    assert_eq!(out["call_state"], "ended");
    let call_id = out["call_id"].as_str().unwrap().to_string();
    // the call id carries the hospital-local date (02:xx, Shanghai)
    let tz: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
    let local_date = (Utc::now() + chrono::Duration::seconds(offset))
        .with_timezone(&tz)
        .format("%Y%m%d")
        .to_string();
    assert!(
        call_id.starts_with(&local_date),
        "{call_id} vs {local_date}"
    );

    let supervisor = Client::login(&demo.server, "supervisor", "supervisor-demo-1");
    let call = wait_for("the recording to close", Duration::from_secs(30), || {
        let call = supervisor.get(&format!("/api/v1/calls/{call_id}")).body;
        (call["recording"]["status"] == "complete").then_some(call)
    });
    let recording = &call["recording"];
    let recording_id = recording["id"].as_i64().unwrap();
    // one rule for the stored path: relative to the recordings folder, dated like the call id
    let stored = recording["path"].as_str().unwrap();
    let dated = format!(
        "{}/{}/{}/{call_id}.wav",
        &local_date[..4],
        &local_date[4..6],
        &local_date[6..]
    );
    assert_eq!(stored, dated, "{call:#}");
    assert!(work.join("recordings").join(&dated).is_file());

    let (status, wav) = get_bytes(
        &supervisor,
        &format!("/api/v1/recordings/{recording_id}/audio"),
    );
    assert_eq!(status, 200, "the supervisor's ▶ plays the recording");
    let reader = hound::WavReader::new(std::io::Cursor::new(&wav)).expect("a valid WAV");
    let spec = reader.spec();
    assert_eq!((spec.channels, spec.sample_rate), (2, 8000));
    let wav_ms = i64::from(reader.duration()) * 1000 / 8000;
    let row_ms = recording["duration_ms"].as_i64().unwrap();
    assert!(
        (wav_ms - row_ms).abs() <= 40,
        "{wav_ms} ms served, {row_ms} ms stored"
    );
    let talked_ms =
        (call["ended_at"].as_i64().unwrap() - call["answered_at"].as_i64().unwrap()) * 1000;
    assert!(
        (wav_ms - talked_ms).abs() <= 2000 && wav_ms >= 8000,
        "a recording as long as the call: {wav_ms} ms for {talked_ms} ms answered"
    );

    let transcript = wait_for("the transcript job", Duration::from_secs(240), || {
        let t = supervisor
            .get(&format!("/api/v1/calls/{call_id}/transcript"))
            .body;
        let job = t["jobs"].as_array()?.first()?.clone();
        match job["status"].as_str() {
            Some("done") => Some(t),
            Some("failed") => panic!("transcription failed: {job:#}"),
            _ => None,
        }
    });
    let segments = transcript["segments"].as_array().unwrap();
    let text: Vec<&str> = segments.iter().filter_map(|s| s["text"].as_str()).collect();
    eprintln!("demo call transcript: {text:?}");
    for piece in PROMPT_PIECES {
        assert!(
            text.iter().all(|t| !t.contains(piece)),
            "whisper's prompt came back as speech ({piece}): {text:?}"
        );
    }
    // the consent announcement (agent channel) is intelligible now (espeak-ng's pinyin voice:
    // whisper base hears "您好，本主通话……")
    let agent: String = segments
        .iter()
        .filter(|s| s["speaker"] == "agent")
        .filter_map(|s| s["text"].as_str())
        .collect();
    assert!(
        ["您好", "通话", "录音"].iter().any(|w| agent.contains(w)),
        "the consent announcement was understood: {agent:?}"
    );

    // and the simulated patient's words (prompts/demo/patient-zh.wav: "…最近还可以，就是走路的
    // 时候有点喘…"), in simplified or traditional characters
    let patient: String = segments
        .iter()
        .filter(|s| s["speaker"] == "patient")
        .filter_map(|s| s["text"].as_str())
        .collect();
    assert!(
        ["最近", "可以", "喘", "你好"]
            .iter()
            .any(|w| patient.contains(w)),
        "the patient's speech was transcribed: {patient:?}"
    );

    // a restart on the real clock: the same recording plays, and the queue hands out work
    drop(demo);
    let demo = Demo::start(work, 0, &sim);
    assert!(demo.line("Demo data already present.").is_some());
    let supervisor = Client::login(&demo.server, "supervisor", "supervisor-demo-1");
    let (status, again) = get_bytes(
        &supervisor,
        &format!("/api/v1/recordings/{recording_id}/audio"),
    );
    assert_eq!(status, 200);
    assert_eq!(again, wav, "the same file after a restart");
    let nurse = Client::login(&demo.server, "nurse", "nurse-demo-1");
    let claim = nurse.post("/api/v1/queue/claim", json!({}));
    assert_eq!(claim.status, 200, "claims work at any hour: {}", claim.body);
}
