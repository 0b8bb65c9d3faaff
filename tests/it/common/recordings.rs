//! Finished recordings for transcription tests: the call code writes `calls` and `recordings`
//! rows; these helpers do the same straight into a running test server's SQLite file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection};

use super::{repo_root, wait_for, Client};

pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/transcribe").join(name)
}

/// The models directory the tests use (`$SUIFANG_MODEL_DIR` or `models/`).
pub fn model_dir() -> PathBuf {
    std::env::var_os("SUIFANG_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models"))
}

/// Fails with a hint when `ggml-NAME.bin` is missing.
pub fn require_model(name: &str) {
    let path = model_dir().join(format!("ggml-{name}.bin"));
    assert!(
        path.is_file(),
        "whisper model {} is missing: run `scripts/fetch-models.sh {name}` or set SUIFANG_MODEL_DIR",
        path.display()
    );
}

pub fn db(data_dir: &Path) -> Connection {
    let c = Connection::open(data_dir.join("data/suifang.db")).expect("open test database");
    c.busy_timeout(Duration::from_secs(10))
        .expect("busy timeout");
    c
}

/// A follow-up task on `script` for the first demo patient; returns (task, patient).
pub fn task_for_script(data_dir: &Path, script: &str) -> (i64, i64) {
    let c = db(data_dir);
    let patient: i64 = c
        .query_row("SELECT MIN(id) FROM patients", [], |r| r.get(0))
        .expect("a demo patient");
    c.execute(
        "INSERT INTO followup_tasks (patient_id, step_name, script_code, status, due_at,
             window_start_at, window_end_at, created_at, updated_at)
         VALUES (?1, 'transcription test', ?2, 'completed', 0, 0, 0, 0, 0)",
        params![patient, script],
    )
    .expect("insert task");
    (c.last_insert_rowid(), patient)
}

/// A finished call, taken by the demo nurse (`nurse`, so she may read it: store::phi_access),
/// with its recording at `wav` (`status`: complete or repaired); returns the
/// recording id.
pub fn finished_call(
    data_dir: &Path,
    call_id: &str,
    task: Option<(i64, i64)>,
    wav: &Path,
    status: &str,
) -> i64 {
    let c = db(data_dir);
    c.execute(
        "INSERT INTO calls (id, task_id, patient_id, agent_id, direction, state, started_at,
             ended_at)
         VALUES (?1, ?2, ?3, (SELECT id FROM users WHERE username = 'nurse'), 'outbound',
             'ended', 0, 20)",
        params![call_id, task.map(|t| t.0), task.map(|t| t.1)],
    )
    .expect("insert call");
    c.execute(
        "INSERT INTO recordings (call_id, path, status, created_at, finalized_at)
         VALUES (?1, ?2, ?3, 0, 20)",
        params![call_id, wav.display().to_string(), status],
    )
    .expect("insert recording");
    c.last_insert_rowid()
}

/// (status, error, attempts) of the newest job of a recording.
pub fn job_row(data_dir: &Path, recording: i64) -> Option<(String, Option<String>, i64)> {
    db(data_dir)
        .query_row(
            "SELECT status, error, attempts FROM transcripts WHERE recording_id = ?1
             ORDER BY id DESC LIMIT 1",
            [recording],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .ok()
}

/// Waits until the call's newest transcript job is done and returns the transcript JSON.
pub fn wait_transcribed(client: &Client, call_id: &str, secs: u64) -> serde_json::Value {
    wait_for(
        &format!("transcript of {call_id}"),
        Duration::from_secs(secs),
        || {
            let r = client.get(&format!("/api/v1/calls/{call_id}/transcript"));
            assert_eq!(r.status, 200, "{}", r.body);
            let job = &r.body["jobs"][0];
            assert_ne!(job["status"], "failed", "{}", r.body);
            (job["status"] == "done").then_some(r.body)
        },
    )
}

/// The text of one speaker's segments, lower-cased.
pub fn said_by(transcript: &serde_json::Value, speaker: &str) -> String {
    transcript["segments"]
        .as_array()
        .expect("segments")
        .iter()
        .filter(|s| s["speaker"] == speaker)
        .map(|s| s["text"].as_str().unwrap_or_default().to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}
