//! The web console end to end: the real `suifang` binary, Debian's headless Chromium driven by
//! playwright-core (`tests/browser/console_e2e.js`), one main path per role at 1280×720, with
//! screenshots in `tests/artifacts/` and no console errors allowed on any page. Each test checks
//! what the browser showed against what the API and the database say afterwards.
//!
//! The nurse's "call the simulated patient" step and the supervisor's replay with transcript
//! run when the binary serves the calls and transcript endpoints (checked in the route table);
//! until then the pages show "not available" and those steps are skipped.

mod clinical_loop;
mod mdt_routing;
mod team_review;

use crate::common::serial;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::console::{
    artifacts, browser, browser_script, require_browser_tools, run_bounded, seed_recorded_call,
};
use crate::common::sip_peers::free_udp_port;
use crate::common::{repo_root, Client, Server};
use chrono::Utc;
use serde_json::{json, Value};
use suifang::api::access::ROUTES;

fn has_route(method: &str, path: &str) -> bool {
    ROUTES.iter().any(|r| r.method == method && r.path == path)
}

/// A demo server; `common` runs it in a zone where it is midday (calling hours).
fn start(dir: &Path, extra: &[(&str, &str)]) -> Server {
    Server::start(dir, "demo", extra)
}

/// A demo server with the simulated patient phone on a free UDP port when the call API is
/// served. A probed port can be taken by a parallel test before the server binds it: try
/// again with another port (the server exits at once when its bind fails).
fn start_with_patient(dir: &Path) -> (Server, bool) {
    if !has_route("POST", "/api/v1/tasks/{id}/call") {
        return (start(dir, &[]), false);
    }
    for attempt in 1..=3 {
        let sim = format!("127.0.0.1:{}", free_udp_port());
        let started =
            std::panic::catch_unwind(|| start(dir, &[("SUIFANG_DEMO_SIM_PATIENT", sim.as_str())]));
        match started {
            Ok(server) => return (server, true),
            Err(e) if attempt == 3 => std::panic::resume_unwind(e),
            Err(_) => eprintln!("server start {attempt} failed (port {sim} taken?); retrying"),
        }
    }
    unreachable!("the loop returns or panics")
}

fn staff_names(server: &Server) -> std::collections::HashMap<i64, String> {
    let admin = Client::login(server, "admin", "admin-demo-1");
    admin.get("/api/v1/users").body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["id"].as_i64().unwrap(),
                u["display_name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn audit_actions(server: &Server) -> Vec<(String, String, String, String)> {
    let admin = Client::login(server, "admin", "admin-demo-1");
    admin.get("/api/v1/audit").body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            (s("actor"), s("action"), s("entity"), s("entity_id"))
        })
        .collect()
}

#[test]
fn nurse_claims_answers_abnormally_sees_the_escalation_badge_and_records_the_outcome() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let (server, calls) = start_with_patient(dir.path());
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let queue = nurse.get("/api/v1/queue?limit=100").body;
    let mic = repo_root().join("tests/fixtures/webrtc/nurse_en_48k.wav");

    let out = browser("nurse", &server, json!({"mic": mic}));

    assert_eq!(
        out["queue_rows"], queue["total"],
        "every queued task listed"
    );
    let overdue = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["days_overdue"].as_i64().unwrap() > 0)
        .count();
    assert_eq!(
        out["overdue_badges"], overdue,
        "one overdue badge per overdue task"
    );
    assert_eq!(
        out["task_id"], queue["items"][0]["id"],
        "N claimed the first task"
    );
    assert!(
        out["phone_shown"].as_str().unwrap().contains('*'),
        "nurses see masked numbers: {}",
        out["phone_shown"]
    );
    // the badge names everyone the escalation notified
    let task_id = out["task_id"].as_i64().unwrap();
    let patient = queue["items"][0]["patient_id"].as_i64().unwrap();
    let timeline = nurse
        .get(&format!("/api/v1/patients/{patient}/timeline"))
        .body;
    let escalation = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "escalation")
        .unwrap_or_else(|| panic!("no escalation opened: {timeline:#}"))["escalation"]
        .clone();
    let names = staff_names(&server);
    let badge = out["badge"].as_str().unwrap();
    for n in escalation["notified"].as_array().unwrap() {
        let name = &names[&n["user"].as_i64().unwrap()];
        assert!(
            badge.contains(name.as_str()),
            "badge {badge:?} lacks {name}"
        );
    }
    assert!(badge.contains(escalation["key"]["rule"].as_str().unwrap()));
    // the outcome went to the server
    let task = nurse.get(&format!("/api/v1/tasks/{task_id}")).body;
    assert_eq!(task["status"], "completed", "{task:#}");
    assert_eq!(task["last_disposition"], "completed");
    // her pages in English: the queue, and the team reviews she signs as nursing (issue 20)
    assert_eq!(
        out["nav_en"], "Today's queueTeam reviews",
        "language switch"
    );
    let callback = nurse
        .get(&format!("/api/v1/tasks/{}", out["callback_task"]))
        .body;
    assert_eq!(
        callback["last_disposition"], "callback_requested",
        "{callback:#}"
    );
    assert_eq!(callback["status"], "pending");
    assert_eq!(
        callback["next_attempt_at"]
            .as_str()
            .unwrap()
            .replace(".000Z", "Z"),
        out["callback_at"].as_str().unwrap().replace(".000Z", "Z"),
        "the call-back is scheduled at the time the nurse chose"
    );
    if calls {
        let call_id = out["call_id"].as_str().expect("call placed");
        assert_eq!(out["call_states"], "ended");
        let call = nurse.get(&format!("/api/v1/calls/{call_id}")).body;
        assert_eq!(call["task_id"], task_id, "{call:#}");
        assert!(
            call["answered_at"].is_i64(),
            "the simulated patient answered: {call:#}"
        );
        assert!(call["ended_at"].is_i64(), "{call:#}");
        let attempt = timeline_after(&nurse, patient)
            .into_iter()
            .find(|i| i["kind"] == "attempt")
            .expect("attempt recorded");
        assert_eq!(attempt["call_id"], call_id, "the outcome names the call");
    } else {
        eprintln!("nurse: POST /api/v1/tasks/{{id}}/call is not served yet; call step skipped");
    }
}

fn timeline_after(client: &Client, patient: i64) -> Vec<Value> {
    client
        .get(&format!("/api/v1/patients/{patient}/timeline"))
        .body["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn doctor_gets_the_live_push_with_a_sound_then_acknowledges_and_resolves() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);

    let out = browser("doctor", &server, json!({}));

    assert_eq!(out["before"], 0, "inbox empty before the answer");
    assert_eq!(out["after"], 1, "the pushed escalation is listed");
    assert_eq!(out["pushes"][0]["name"], "escalation.opened", "{out:#}");
    let id = out["escalation_id"].as_i64().unwrap();
    assert_eq!(out["pushes"][0]["data"]["escalation_id"], id);
    // issue 20 item 1: the push, the saved answer and the stored evidence say what was advised
    let advised = &out["saved"]["escalations"][0]["advice"];
    assert!(
        advised["zh"].as_str().is_some_and(|a| a.contains("120")),
        "{out:#}"
    );
    assert_eq!(&out["pushes"][0]["data"]["advice"], advised, "{out:#}");
    assert!(
        out["push"]
            .as_str()
            .unwrap()
            .contains(advised["zh"].as_str().unwrap()),
        "the push shows the advice: {out:#}"
    );
    assert!(
        out["chimes"].as_i64().unwrap() >= 1,
        "an urgent escalation sounds"
    );
    assert_eq!(out["status_after_ack"], "已确认");
    assert_eq!(out["status_after_resolve"], "已处理");
    let doctor = Client::login(&server, "doctor", "doctor-demo-1");
    let e = doctor.get(&format!("/api/v1/escalations/{id}")).body;
    assert_eq!(e["status"]["status"], "resolved", "{e:#}");
    assert_eq!(&e["evidence"][0]["advice"], advised, "{e:#}");
    let audit = audit_actions(&server);
    for action in ["acknowledge", "resolve"] {
        assert!(
            audit.contains(&(
                "doctor".into(),
                action.into(),
                "escalation".into(),
                id.to_string()
            )),
            "audit lacks doctor {action} of escalation {id}"
        );
    }
}

#[test]
fn supervisor_sees_the_wallboard_browses_recordings_scores_and_downloads() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let (server, live) = start_with_patient(dir.path());
    let now = Utc::now().timestamp();
    // a nurse working a task whose call ended (wrap-up) and whose answer escalated
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let task = nurse.post("/api/v1/queue/claim", json!({})).body["task"].clone();
    let task_id = task["id"].as_i64().unwrap();
    let patient_id = task["patient_id"].as_i64().unwrap();
    let (call, size) = seed_recorded_call(&server, task_id, patient_id, now);
    let question = match task["script_code"].as_str().unwrap() {
        "stroke" => "face",
        "heart-failure" => "breathless_worse",
        other => panic!("demo queue starts with an unexpected script {other}"),
    };
    let saved = nurse.request(
        "PUT",
        &format!("/api/v1/tasks/{task_id}/answers/{question}"),
        Some(r#"{"value": true}"#),
        "application/json",
    );
    assert_eq!(saved.status, 200, "{}", saved.body);
    let supervisor = Client::login(&server, "supervisor", "supervisor-demo-1");
    let board = supervisor.get("/api/v1/wallboard").body;
    let mrn = supervisor
        .get(&format!("/api/v1/patients/{patient_id}"))
        .body["mrn"]
        .as_str()
        .unwrap()
        .to_string();

    let mic = repo_root().join("tests/fixtures/webrtc/nurse_en_48k.wav");
    let out = browser(
        "supervisor",
        &server,
        json!({"patient": mrn, "live_call": live, "mic": mic}),
    );

    let tiles: Vec<i64> = out["wall_tiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t[1].as_i64().unwrap())
        .collect();
    let e = &board["escalations"];
    let want: Vec<i64> = [
        &board["queue"]["waiting"],
        &board["queue"]["claimed"],
        &board["queue"]["overdue"],
        &board["today"]["attempted"],
        &board["today"]["reached"],
        &board["today"]["completed"],
        &board["today"]["live_calls"],
        &e["under_1h"],
        &e["h1_to_4"],
        &e["h4_to_24"],
        &e["over_24h"],
        &e["overdue_ack"],
        &e["acknowledged"],
    ]
    .iter()
    .map(|v| v.as_i64().unwrap())
    .collect();
    assert_eq!(tiles, want, "wallboard tiles = /wallboard");
    assert_eq!(board["queue"]["claimed"], 1);
    assert_eq!(
        e["under_1h"], 1,
        "the fresh escalation is under an hour old"
    );
    assert!(
        out["agents"][0].as_str().unwrap().contains("话后整理"),
        "the nurse is in wrap-up: {}",
        out["agents"]
    );
    let recs = out["recordings"].as_array().unwrap();
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["call"], call.as_str());
    assert!(
        out["qa"].as_str().unwrap().contains("11/12"),
        "{}",
        out["qa"]
    );
    let reviews = supervisor
        .get(&format!("/api/v1/calls/{call}/reviews"))
        .body;
    assert_eq!(reviews["items"][0]["total"], 11);
    assert_eq!(reviews["items"][0]["scores"]["identity_checked"], 1);
    assert_eq!(reviews["items"][0]["comment"], "e2e review");
    assert_eq!(out["download"]["status"], 200);
    assert_eq!(out["download"]["riff"], "RIFF");
    assert_eq!(out["download"]["bytes"], size, "the whole WAV");
    let audit = audit_actions(&server);
    let rec_id = recs[0]["id"].as_i64().unwrap().to_string();
    assert!(audit.contains(&(
        "supervisor".into(),
        "download".into(),
        "recording".into(),
        rec_id
    )));
    assert!(audit.contains(&(
        "supervisor".into(),
        "review".into(),
        "call".into(),
        call.clone()
    )));
    assert_eq!(out["report_rows"], 11);
    let csv = out["csv"].as_str().unwrap();
    assert!(csv.starts_with("metric,value\n"), "{csv}");
    assert!(csv.contains("\nescalations_opened,1\n"), "{csv}");
    assert!(csv.contains("\ndischarges,8\n"), "8 demo discharges: {csv}");
    if live {
        let id = out["live_call_id"]
            .as_str()
            .expect("the supervisor saw the live call");
        assert!(out["monitor"].as_str().unwrap().contains("监听"), "{out:#}");
        let call = supervisor.get(&format!("/api/v1/calls/{id}")).body;
        assert!(call["answered_at"].is_i64(), "{call:#}");
        let events = call["events"].to_string();
        assert!(
            events.contains("monitor") || events.contains("listen"),
            "monitoring logged: {call:#}"
        );
    } else {
        eprintln!("supervisor: the call API is not served yet; live call step skipped");
    }
    if has_route("GET", "/api/v1/calls/{id}/transcript") {
        assert_eq!(out["transcript_lines"], 3, "{out:#}");
        assert_eq!(out["seeked_to_ms"], 4000);
        let hits = out["search_hits"]
            .as_array()
            .expect("transcript search ran");
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0]["call"], call.as_str());
        assert!(hits[0]["text"].as_str().unwrap().contains("droopy"));
    } else {
        eprintln!("supervisor: GET /api/v1/calls/{{id}}/transcript is not served yet; replay-with-transcript skipped");
    }
}

#[test]
fn admin_views_users_roster_scripts_and_validates_a_draft() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let admin = Client::login(&server, "admin", "admin-demo-1");
    let users: Vec<Value> = admin.get("/api/v1/users").body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].clone())
        .collect();
    let scripts = admin.get("/api/v1/scripts").body["items"]
        .as_array()
        .unwrap()
        .len();

    let out = browser("admin", &server, json!({}));

    assert_eq!(out["users"], json!(users));
    let lifecycle = &out["lifecycle"];
    // the console opens in Chinese (i18n.js: 已停用 disabled, 正常 active)
    assert_eq!(
        (&lifecycle["disabled"], &lifecycle["enabled"]),
        (&json!("已停用"), &json!("正常")),
        "{lifecycle}"
    );
    assert_eq!(lifecycle["logout"], "已结束 0 个会话", "{lifecycle}");
    Client::login(&server, "doctor2", "doctor2-new-pass-1");
    let actions: Vec<Value> = admin.get("/api/v1/audit").body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].clone())
        .collect();
    for a in [
        "user_disabled",
        "user_enabled",
        "sessions_revoked",
        "password_reset",
    ] {
        assert!(actions.contains(&json!(a)), "{a} audited: {actions:?}");
    }
    assert_eq!(out["scripts"], scripts);
    let roster = out["roster"].as_array().unwrap();
    assert_eq!(roster.len(), 5, "one row per department: {roster:?}");
    assert!(
        roster.iter().all(|r| r[1] == "张医生 Dr Zhang"),
        "{roster:?}"
    );
    let validate = out["validate"].as_str().unwrap();
    assert!(
        validate.contains("L6") && validate.contains("nonsense"),
        "the draft's error with its line: {validate}"
    );
}

/// Claims with fresh nurses until one holds a heart-failure task (weight and blood pressure).
fn heart_failure_task(server: &Server) -> (Client, Value) {
    let admin = Client::login(server, "admin", "admin-demo-1");
    for i in 0..8 {
        let name = format!("nurse-e2e-{i}");
        let created = admin.post(
            "/api/v1/users",
            json!({"username": name, "display_name": name, "role": "nurse", "password": "e2e-password-1"}),
        );
        assert_eq!(created.status, 201, "{}", created.body);
        let nurse = Client::login(server, &name, "e2e-password-1");
        let r = nurse.post("/api/v1/queue/claim", json!({}));
        assert_eq!(r.status, 200, "{}", r.body);
        if r.body["task"]["script_code"] == "heart-failure" {
            return (nurse, r.body["task"].clone());
        }
    }
    panic!("no heart-failure task in the demo queue");
}

#[test]
fn printable_report_renders_to_pdf_with_answers_and_a_trend_chart() {
    let _machine = serial::shared();
    require_browser_tools();
    assert!(
        Command::new("pdftotext").arg("-v").output().is_ok(),
        "pdftotext missing: run scripts/setup.sh (installs poppler-utils)"
    );
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let (nurse, task) = heart_failure_task(&server);
    let id = task["id"].as_i64().unwrap();
    for (q, v) in [
        ("weight", json!(72.5)),
        ("bp", json!("152/95")),
        ("breathless_worse", json!(true)),
    ] {
        let r = nurse.request(
            "PUT",
            &format!("/api/v1/tasks/{id}/answers/{q}"),
            Some(&json!({ "value": v }).to_string()),
            "application/json",
        );
        assert_eq!(r.status, 200, "{q}: {}", r.body);
    }
    let patient_id = task["patient_id"].as_i64().unwrap();
    let patient = task["patient_name"].as_str().unwrap().to_string();

    // log in (the report needs a session) in a profile that chromium --print-to-pdf reuses
    let profile = tempfile::tempdir().unwrap();
    let out = browser(
        "profile",
        &server,
        json!({"profile": profile.path(), "patient_id": patient_id}),
    );
    assert!(
        out["svg_charts"].as_i64().unwrap() >= 2,
        "weight and BP charts as inline SVG: {out:#}"
    );
    assert!(
        out["answers"]
            .as_array()
            .unwrap()
            .contains(&json!("152/95 mmHg")),
        "{out:#}"
    );

    std::fs::create_dir_all(artifacts()).unwrap();
    let pdf = artifacts().join("patient-report.pdf");
    let _ = std::fs::remove_file(&pdf);
    let url = format!("{}/assets/report.html?patient={patient_id}", server.base);
    let (ok, _, stderr) = run_bounded(
        Command::new("/usr/bin/chromium").args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--password-store=basic",
            &format!("--user-data-dir={}", profile.path().display()),
            "--virtual-time-budget=15000",
            "--no-pdf-header-footer",
            &format!("--print-to-pdf={}", pdf.display()),
            &url,
        ]),
        Duration::from_secs(90),
    );
    assert!(
        ok && pdf.exists(),
        "chromium --print-to-pdf failed: {stderr}"
    );
    let text = Command::new("pdftotext")
        .args(["-layout", pdf.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext");
    let text = String::from_utf8_lossy(&text.stdout);
    for want in [
        "患者随访报告",
        patient.as_str(),
        "152/95 mmHg",
        "72.5",
        "今天早上排尿后",
        "体重 (kg)",
        "血压 (mmHg)",
        "hf-breathless-worse",
        // issue 18: the stage summary and the LACE line
        "健康阶段总结",
        "LACE 再入院风险",
    ] {
        assert!(text.contains(want), "the PDF lacks {want:?}:\n{text}");
    }
    // the demo patient's score at enrolment (its emergency stay), as the API gives it
    let detail = nurse.request("GET", &format!("/api/v1/patients/{patient_id}"), None, "");
    assert_eq!(detail.status, 200, "{}", detail.body);
    let detail = detail.body;
    let risk = &detail["risk"][0];
    let lace = format!(
        "{} (L {} A {} C {} E {})",
        risk["lace"], risk["l_points"], risk["a_points"], risk["c_points"], risk["e_points"]
    );
    assert!(
        risk["lace"].as_i64().is_some_and(|l| l > 0),
        "the demo patient has a LACE score: {detail:#}"
    );
    assert!(
        text.contains(&lace),
        "the PDF lacks the LACE score {lace:?}:\n{text}"
    );
    let pages = text.matches('\u{c}').count();
    assert!(
        pages <= 2,
        "the report fits one or two A4 pages, got {pages}"
    );
}
