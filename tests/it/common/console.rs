//! Helpers of the console's browser tests: run the Playwright script for a role, seed a
//! finished call with its recording and transcript.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{repo_root, Server};

/// Chromium, node and playwright-core must be installed (`scripts/setup.sh` does it).
pub fn require_browser_tools() {
    let chromium = Path::new("/usr/bin/chromium").exists();
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let playwright = repo_root().join("node_modules/playwright-core").exists();
    assert!(
        chromium && node && playwright,
        "console tests need Debian's chromium (/usr/bin/chromium: {chromium}), node ({node}) and \
         playwright-core in node_modules ({playwright}); run scripts/setup.sh, which installs them"
    );
}

pub fn artifacts() -> PathBuf {
    repo_root().join("tests/artifacts/console")
}

/// Runs a command with a hard deadline; returns (success, stdout, stderr).
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> (bool, String, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (out, err) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    match status {
        Some(s) => (s.success(), out, err),
        None => (false, out, format!("{err}\n(killed after {limit:?})")),
    }
}

/// One role's path in the browser; fails the test on a failed step or any console error.
pub fn browser(role: &str, server: &Server, args: Value) -> Value {
    run_browser(&["console_e2e.js", role], server, args)
}

/// A browser script of its own (`tests/browser/NAME`, called with base URL, artifact folder and
/// `args`); fails the test like [`browser`].
pub fn browser_script(name: &str, server: &Server, args: Value) -> Value {
    run_browser(&[name], server, args)
}

fn run_browser(script_and_role: &[&str], server: &Server, args: Value) -> Value {
    require_browser_tools();
    let role = script_and_role.last().copied().unwrap_or_default();
    let script = repo_root().join("tests/browser").join(script_and_role[0]);
    let (ok, stdout, stderr) = run_bounded(
        Command::new("node")
            .arg(&script)
            .args(&script_and_role[1..])
            .arg(&server.base)
            .arg(artifacts())
            .arg(args.to_string())
            .current_dir(repo_root()),
        Duration::from_secs(200),
    );
    let out: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("{role}: no JSON from the browser script\n{stdout}\n{stderr}"));
    assert!(
        ok && out["ok"] == true,
        "{role} path failed: {out:#}\n{stderr}"
    );
    assert_eq!(
        out["errors"],
        json!([]),
        "{role}: the console logged errors: {out:#}"
    );
    out
}

/// A finished call with a recording and a transcript, as the call and transcription code
/// leave them (rows written straight into the database: the call API is not needed here).
pub fn seed_recorded_call(
    server: &Server,
    task_id: i64,
    patient_id: i64,
    now: i64,
) -> (String, u64) {
    let db = server.data_dir.join("data/suifang.db");
    let recordings = server.data_dir.join("recordings");
    std::fs::create_dir_all(&recordings).unwrap();
    let wav = repo_root().join("tests/fixtures/transcribe/en_call.wav");
    std::fs::copy(&wav, recordings.join("e2e-call.wav")).unwrap();
    let size = std::fs::metadata(&wav).unwrap().len();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let call = "e2e-call-1".to_string();
    conn.execute(
        "INSERT INTO calls (id, task_id, patient_id, agent_id, direction, remote_number, state,
            started_at, answered_at, ended_at, end_reason, disposition)
         VALUES (?1, ?2, ?3, 1, 'outbound', '+8613800000000', 'ended', ?4, ?5, ?6, 'remote_hangup', 'completed')",
        rusqlite::params![call, task_id, patient_id, now - 300, now - 290, now - 200],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO recordings (call_id, path, status, duration_ms, created_at, finalized_at)
         VALUES (?1, 'e2e-call.wav', 'complete', 30000, ?2, ?3)",
        rusqlite::params![call, now - 290, now - 200],
    )
    .unwrap();
    let rec = conn.last_insert_rowid();
    conn.execute(
        "INSERT INTO transcripts (recording_id, model, language, status, created_at, completed_at)
         VALUES (?1, 'fixture', 'en', 'done', ?2, ?2)",
        rusqlite::params![rec, now - 100],
    )
    .unwrap();
    let tr = conn.last_insert_rowid();
    for (i, (ch, text)) in [
        ("agent", "Hello, this is the follow-up nurse."),
        ("patient", "My face feels droopy on one side."),
        ("agent", "Please call 120 now."),
    ]
    .iter()
    .enumerate()
    {
        conn.execute(
            "INSERT INTO transcript_segments (transcript_id, channel, start_ms, end_ms, text)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![tr, ch, i as i64 * 4000, i as i64 * 4000 + 3500, text],
        )
        .unwrap();
    }
    (call, size)
}
