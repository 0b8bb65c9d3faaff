//! Escalation acceptance against the real binary: an abnormal answer reaches the on-duty doctor
//! live (SSE) and by a signed webhook that is retried after a 500; 50 concurrent saves make one
//! escalation; acknowledgement is exclusive; an unacknowledged escalation re-escalates exactly
//! once across a restart with the clock moved past its SLA; a receiver that keeps failing is
//! dead-lettered.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};
use suifang::followup::escalation::webhook::verify;

use crate::common;
use crate::common::{wait_for, Client, Server};

const SECRET: &str = "test-webhook-secret-0123456789";

/// A webhook receiver on loopback answering with `statuses` in turn (then 200); each received
/// request is sent on the channel as (signature valid?, body).
fn receiver(statuses: Vec<u16>) -> (String, mpsc::Receiver<(bool, Value)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut statuses = statuses.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                headers.push(line.trim_end().to_string());
            }
            let header = |name: &str| {
                headers
                    .iter()
                    .find_map(|h| {
                        h.split_once(':')
                            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                            .map(|(_, v)| v.trim().to_string())
                    })
                    .unwrap_or_default()
            };
            let len: usize = header("content-length").parse().unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let ts = header("x-suifang-timestamp");
            let now = chrono::Utc::now();
            let valid = verify(
                SECRET.as_bytes(),
                &header("x-suifang-signature"),
                &ts,
                &body,
                now,
                chrono::Duration::minutes(5),
            )
            .is_ok();
            let status = statuses.next().unwrap_or(200);
            let _ = tx.send((valid, serde_json::from_slice(&body).unwrap_or(Value::Null)));
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, rx)
}

/// Streams the doctor's live events (SSE) into a channel of event names.
fn live_events(server: &Server, client: &Client) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let resp = ureq::get(&server.url("/api/v1/events"))
        .set("Cookie", client.cookie.as_deref().unwrap())
        .call()
        .unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(resp.into_reader()).lines() {
            let Ok(line) = line else { return };
            if let Some(name) = line.strip_prefix("event: ") {
                if tx.send(name.to_string()).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// The nurse claims the stroke task (the demo's highest priority) and answers a BE-FAST sign.
fn claim_stroke_task(nurse: &Client) -> i64 {
    let claim = nurse.post("/api/v1/queue/claim", json!({}));
    assert_eq!(claim.status, 200, "{}", claim.body);
    assert_eq!(
        claim.body["task"]["script_code"], "stroke",
        "{}",
        claim.body
    );
    claim.body["task"]["id"].as_i64().unwrap()
}

fn answer(nurse: &Client, task: i64, question: &str, value: Value) -> common::Reply {
    nurse.request(
        "PUT",
        &format!("/api/v1/tasks/{task}/answers/{question}"),
        Some(&json!({"value": value}).to_string()),
        "application/json",
    )
}

#[test]
fn abnormal_answer_reaches_the_doctor_live_and_by_signed_webhook() {
    let (url, hooks) = receiver(vec![500]);
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("SUIFANG_WEBHOOK_URL", url.as_str()),
        ("SUIFANG_WEBHOOK_SECRET", SECRET),
        ("SUIFANG_WEBHOOK_BASE_DELAY_SECONDS", "1"),
    ];
    let server = Server::start(dir.path(), "demo", &env);
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let doctor = Client::login(&server, "doctor", "doctor-demo-1");
    let doctor2 = Client::login(&server, "doctor2", "doctor2-demo-1");
    let events = live_events(&server, &doctor);
    assert_eq!(
        events.recv_timeout(Duration::from_secs(5)).unwrap(),
        "hello"
    );
    let task = claim_stroke_task(&nurse);

    // bad answers: 422 naming the question
    let bad = answer(&nurse, task, "balance", json!("maybe"));
    assert_eq!(
        (bad.status, bad.body["error"]["field"].as_str()),
        (422, Some("balance")),
        "{}",
        bad.body
    );
    assert_eq!(
        answer(&nurse, task, "no_such_question", json!(true)).status,
        422
    );
    // a normal answer escalates nothing
    let ok = answer(&nurse, task, "eyes", json!(false));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["escalations"].as_array().unwrap().len(), 0);

    // 50 concurrent saves of the same abnormal answer → one escalation
    let threads: Vec<_> = (0..50)
        .map(|_| {
            let c = Client {
                base: nurse.base.clone(),
                cookie: nurse.cookie.clone(),
            };
            std::thread::spawn(move || answer(&c, task, "balance", json!(true)).status)
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    let list = doctor.get("/api/v1/escalations?mine=true").body;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let esc = &items[0];
    assert_eq!(esc["severity"], "emergency");
    assert_eq!(esc["department"], "neurology");
    let notified: Vec<i64> = esc["notified"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["user"].as_i64().unwrap())
        .collect();
    assert_eq!(
        notified.len(),
        2,
        "emergency goes to on-duty and backup: {esc}"
    );
    let id = esc["id"].as_i64().unwrap();

    // live push to the doctor
    let name = wait_for("live escalation event", Duration::from_secs(20), || {
        events.recv_timeout(Duration::from_millis(200)).ok()
    });
    assert_eq!(name, "escalation.opened");

    // webhook: first delivery answered 500, retried, then delivered; always validly signed
    let (valid1, body1) = hooks.recv_timeout(Duration::from_secs(10)).unwrap();
    let (valid2, body2) = hooks.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(valid1 && valid2, "signatures must verify");
    assert_eq!(body1, body2, "a retry sends the same body");
    assert_eq!(
        (body1["event"].as_str(), body1["escalation_id"].as_i64()),
        (Some("opened"), Some(id))
    );
    assert!(
        body1.get("patient_name").is_none() && !body1.to_string().contains("+86"),
        "ids only: {body1}"
    );
    let admin = Client::login(&server, "admin", "admin-demo-1");
    wait_for("delivered status", Duration::from_secs(20), || {
        let log = admin.get("/api/v1/webhooks/deliveries").body;
        let d = &log["items"][0];
        (d["status"] == "delivered").then(|| assert_eq!(d["attempts"], 2, "{d}"))
    });

    // acknowledgement is exclusive
    assert_eq!(
        doctor
            .post(&format!("/api/v1/escalations/{id}/acknowledge"), json!({}))
            .status,
        200
    );
    assert_eq!(
        doctor2
            .post(&format!("/api/v1/escalations/{id}/acknowledge"), json!({}))
            .status,
        409
    );
    let resolve = doctor.post(
        &format!("/api/v1/escalations/{id}/resolve"),
        json!({"action": "advise_er", "note": "told to call 120"}),
    );
    assert_eq!(resolve.status, 200, "{}", resolve.body);
    let timeline = doctor.get("/api/v1/patients/6/timeline").body;
    assert!(
        timeline["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "escalation"),
        "{timeline}"
    );
}

fn reescalated_events(db: &std::path::Path, id: i64) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(
        "SELECT COUNT(*) FROM escalation_events WHERE escalation_id = ?1 AND kind = 'reescalated'",
        [id],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn unacknowledged_escalation_reescalates_once_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/suifang.db");
    let id = {
        let server = Server::start(dir.path(), "demo", &[]);
        let nurse = Client::login(&server, "nurse", "nurse-demo-1");
        let task = claim_stroke_task(&nurse);
        let r = answer(&nurse, task, "speech", json!(true));
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["escalations"][0]["id"].as_i64().unwrap()
        // server stops here (killed on drop), before anyone acknowledged
    };
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (level, sla): (String, i64) = conn
        .query_row(
            "SELECT level, ack_sla_minutes FROM escalations WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    drop(conn);
    assert_eq!(reescalated_events(&db, id), 0);
    // restart with the clock past the SLA: the start-up tick fires the next level once
    let offset = ((sla + 1) * 60).to_string();
    for round in 0..2 {
        let server = Server::start(
            dir.path(),
            "serve",
            // a demo database: serve refuses its published logins unless told this is a drill
            &[
                ("SUIFANG_CLOCK_OFFSET_SECONDS", &offset),
                ("SUIFANG_ALLOW_DEMO_LOGINS", "true"),
            ],
        );
        let doctor = Client::login(&server, "head", "head-demo-1");
        let e = wait_for("re-escalation", Duration::from_secs(20), || {
            let e = doctor.get(&format!("/api/v1/escalations/{id}")).body;
            (e["level"] != Value::String(level.clone())).then_some(e)
        });
        assert_eq!(
            reescalated_events(&db, id),
            1,
            "round {round}: exactly once"
        );
        assert!(e["notified"].as_array().unwrap().len() >= 3, "{e}");
        drop(server);
    }
}

#[test]
fn a_receiver_that_keeps_failing_is_dead_lettered() {
    let (url, hooks) = receiver(vec![500; 10]);
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("SUIFANG_WEBHOOK_URL", url.as_str()),
        ("SUIFANG_WEBHOOK_SECRET", SECRET),
        ("SUIFANG_WEBHOOK_BASE_DELAY_SECONDS", "1"),
        ("SUIFANG_WEBHOOK_MAX_ATTEMPTS", "3"),
    ];
    let server = Server::start(dir.path(), "demo", &env);
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let task = claim_stroke_task(&nurse);
    assert_eq!(answer(&nurse, task, "face", json!(true)).status, 200);
    let admin = Client::login(&server, "admin", "admin-demo-1");
    let d = wait_for("dead letter", Duration::from_secs(20), || {
        let log = admin.get("/api/v1/webhooks/deliveries").body;
        let d = log["items"][0].clone();
        (d["status"] == "dead").then_some(d)
    });
    assert_eq!(
        (d["attempts"].as_i64(), d["last_http_status"].as_i64()),
        (Some(3), Some(500))
    );
    assert_eq!(
        hooks.try_iter().count(),
        3,
        "exactly max_attempts deliveries were tried"
    );
}

/// Issue 20 item 8: the chest-pain script shipped but nothing could start it. The nurse working
/// a task adds it (symptom triage on a call-back); its answers escalate with the rule's severity
/// and advice; scripts that would share a question id with the task's are refused, as are a
/// second add and an add by someone who does not hold the task.
#[test]
fn a_nurse_adds_the_chest_pain_script_to_the_task_in_hand() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "demo", &[]);
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let doctor = Client::login(&server, "doctor", "doctor-demo-1");
    let task = claim_stroke_task(&nurse);
    let scripts = format!("/api/v1/tasks/{task}/scripts");

    let not_held = doctor.post(&scripts, json!({"script": "chest-pain"}));
    assert_eq!(not_held.status, 409, "{}", not_held.body);
    let unknown = nurse.post(&scripts, json!({"script": "no-such-script"}));
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    let shared = nurse.post(&scripts, json!({"script": "diabetes"}));
    assert_eq!(shared.status, 409, "{}", shared.body);
    assert!(
        shared.body.to_string().contains("meds_taken"),
        "names the shared question: {}",
        shared.body
    );
    let added = nurse.post(&scripts, json!({"script": "chest-pain"}));
    assert_eq!(added.status, 200, "{}", added.body);
    assert_eq!(added.body["items"], json!(["stroke", "chest-pain"]));
    assert_eq!(
        nurse.get(&scripts).body["items"],
        json!(["stroke", "chest-pain"])
    );
    let again = nurse.post(&scripts, json!({"script": "chest-pain"}));
    assert_eq!(again.status, 409, "{}", again.body);

    // the added script's answers are validated, saved and evaluated against its own rules
    let normal = answer(&nurse, task, "chest_discomfort", json!(false));
    assert_eq!(normal.status, 200, "{}", normal.body);
    assert_eq!(normal.body["answer"]["script_code"], "chest-pain");
    assert_eq!(normal.body["escalations"], json!([]));
    assert_eq!(
        answer(&nurse, task, "chest_discomfort", json!(true)).status,
        200
    );
    let abnormal = answer(&nurse, task, "lasting", json!(true));
    assert_eq!(abnormal.status, 200, "{}", abnormal.body);
    let found = abnormal.body["escalations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["rule"] == "cp-heart-attack-signs")
        .unwrap_or_else(|| panic!("no chest-pain escalation: {}", abnormal.body))
        .clone();
    assert_eq!(found["severity"], "emergency");
    assert_eq!(found["script"], "chest-pain");
    assert!(found["advice"]["zh"].as_str().unwrap().contains("120"));
    assert!(found["advice"]["en"].as_str().unwrap().contains("120"));
    // the task's own script still answers as before
    let own = answer(&nurse, task, "eyes", json!(false));
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.body["answer"]["script_code"], "stroke");
    let bad = answer(&nurse, task, "lasting", json!("maybe"));
    assert_eq!(bad.status, 422, "{}", bad.body);
}
