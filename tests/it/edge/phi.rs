//! Item 7, PHI access: a nurse reaches the words and voice only of calls she took or of the
//! patient whose task she holds; transcript search is audited with what was looked for and what
//! was shown; a live event stream ends with the session that opened it.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::recordings::{
    finished_call, fixture, model_dir, require_model, task_for_script, wait_transcribed,
};
use crate::common::serial;
use crate::common::{Client, Server};

fn second_nurse(server: &Server, admin: &Client) -> (Client, i64) {
    let made = admin.post(
        "/api/v1/users",
        json!({"username": "nurse-b", "display_name": "Nurse B", "role": "nurse",
               "password": "nurse-b-password-1", "discipline": "nursing"}),
    );
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.body["user"]["discipline"], "nursing");
    let id = made.body["user"]["id"].as_i64().unwrap();
    (Client::login(server, "nurse-b", "nurse-b-password-1"), id)
}

#[test]
fn a_nurse_cannot_hear_or_read_calls_she_did_not_take() {
    let _machine = serial::exclusive();
    require_model("tiny.en");
    let dir = tempfile::tempdir().unwrap();
    let models = model_dir();
    let server = Server::start(
        dir.path(),
        "demo",
        &[
            ("SUIFANG_MODEL_DIR", models.to_str().unwrap()),
            ("SUIFANG_TRANSCRIPTION_MODEL", "tiny.en"),
            ("SUIFANG_TRANSCRIPTION_LANGUAGE", "en"),
        ],
    );
    let (task, patient) = task_for_script(dir.path(), "chest-pain");
    // taken by the demo nurse
    let rec = finished_call(
        dir.path(),
        "call-phi-1",
        Some((task, patient)),
        &fixture("en_call.wav"),
        "complete",
    );
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let admin = Client::login(&server, "admin", "admin-demo-1");
    let supervisor = Client::login(&server, "supervisor", "supervisor-demo-1");
    let (other, other_id) = second_nurse(&server, &admin);
    wait_transcribed(&nurse, "call-phi-1", 180);

    let transcript = "/api/v1/calls/call-phi-1/transcript";
    let audio = format!("/api/v1/recordings/{rec}/audio");
    let search = "/api/v1/transcripts/search?q=chest%20pain";
    // the nurse who took it, and the supervisor, hear and read it
    for who in [&nurse, &supervisor] {
        assert_eq!(who.get(transcript).status, 200);
        assert_eq!(who.get(&audio).status, 200);
    }
    let found = nurse.get(search);
    assert_eq!(found.status, 200, "{}", found.body);
    assert!(
        found.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["call_id"] == "call-phi-1"),
        "{}",
        found.body
    );
    // another nurse: refused, and her search does not show the call's words
    for path in [transcript, audio.as_str()] {
        let r = other.get(path);
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("calls they took"),
            "{}",
            r.body
        );
    }
    let hidden = other.get(search);
    assert_eq!(hidden.status, 200);
    assert_eq!(hidden.body["items"], json!([]), "{}", hidden.body);
    assert_eq!(other.get("/api/v1/calls/nope/transcript").status, 404);

    // once she holds a task of that patient (a claim's lease), the patient's calls open to her
    let db = rusqlite::Connection::open(dir.path().join("data/suifang.db")).unwrap();
    db.execute(
        "UPDATE followup_tasks SET lease_owner = ?1, lease_expires_at = strftime('%s','now') + 600
         WHERE id = ?2",
        rusqlite::params![other_id, task],
    )
    .unwrap();
    assert_eq!(other.get(transcript).status, 200);
    assert_eq!(other.get(&audio).status, 200);

    // the audit says what was searched for and which calls' words were shown, and who was refused
    let log = admin.get("/api/v1/audit").body["items"]
        .as_array()
        .unwrap()
        .clone();
    let searched = log
        .iter()
        .find(|e| e["action"] == "search" && e["actor"].as_str() == Some("nurse"))
        .unwrap_or_else(|| panic!("no search audited: {log:?}"));
    let detail = searched["detail"].as_str().unwrap();
    assert!(
        detail.contains("q=\"chest pain\"") && detail.contains("calls=call-phi-1"),
        "{detail}"
    );
    assert!(
        log.iter().any(|e| e["action"] == "denied"
            && e["actor"].as_str() == Some("nurse-b")
            && e["entity"] == "recording"),
        "{log:?}"
    );
}

/// Opens the SSE stream and returns a reader positioned after the `hello` event.
fn open_stream(
    server: &Server,
    client: &Client,
) -> BufReader<Box<dyn std::io::Read + Send + Sync>> {
    let agent = ureq::AgentBuilder::new()
        .timeout_read(Duration::from_secs(40))
        .build();
    let resp = agent
        .get(&server.url("/api/v1/events"))
        .set("Cookie", client.cookie.as_deref().unwrap())
        .call()
        .expect("event stream");
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    let mut reader = BufReader::new(resp.into_reader());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "event: hello");
    reader
}

/// Reads until the stream ends; returns the event names seen and how long it took.
fn read_to_end(
    mut reader: BufReader<Box<dyn std::io::Read + Send + Sync>>,
) -> (Vec<String>, Duration) {
    let start = Instant::now();
    let mut events = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {
                if let Some(name) = line.trim().strip_prefix("event: ") {
                    events.push(name.to_string());
                }
            }
            Err(e) => panic!("stream still open after {:?}: {e}", start.elapsed()),
        }
    }
    (events, start.elapsed())
}

#[test]
fn an_event_stream_ends_with_the_session_that_opened_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "demo", &[]);
    let admin = Client::login(&server, "admin", "admin-demo-1");

    // log-out
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let stream = open_stream(&server, &nurse);
    let ended = std::thread::spawn(move || read_to_end(stream));
    assert_eq!(
        nurse.request("DELETE", "/api/v1/session", None, "").status,
        204
    );
    let (events, took) = ended.join().unwrap();
    assert_eq!(
        events.last().map(String::as_str),
        Some("session_ended"),
        "{events:?}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");

    // an admin logs a user out everywhere
    let (other, other_id) = second_nurse(&server, &admin);
    let stream = open_stream(&server, &other);
    let ended = std::thread::spawn(move || read_to_end(stream));
    let revoked = admin.request(
        "DELETE",
        &format!("/api/v1/users/{other_id}/sessions"),
        None,
        "",
    );
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let (events, took) = ended.join().unwrap();
    assert_eq!(
        events.last().map(String::as_str),
        Some("session_ended"),
        "{events:?}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");

    // a stream whose session stands is not ended by someone else's log-out
    let supervisor = Client::login(&server, "supervisor", "supervisor-demo-1");
    let mut kept = open_stream(&server, &supervisor);
    let doctor = Client::login(&server, "doctor", "doctor-demo-1");
    assert_eq!(
        doctor.request("DELETE", "/api/v1/session", None, "").status,
        204
    );
    // the supervisor's stream outlives the doctor's log-out: it re-checked its own session
    // and stays open (its next keep-alive comes within 15 s)
    let mut line = String::new();
    loop {
        line.clear();
        assert!(kept.read_line(&mut line).unwrap() > 0, "stream ended");
        assert_ne!(line.trim(), "event: session_ended");
        if line.starts_with(':') {
            break;
        }
    }
}
