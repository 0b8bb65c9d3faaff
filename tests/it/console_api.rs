//! The console's supervisor endpoints against the real binary: the report's metrics and the
//! wallboard follow real attempts, QA scores are validated, the recordings filters and the
//! script validator behave.

use serde_json::{json, Value};

use crate::common::{repo_root, Client, Server};

/// A demo server; `common` runs it in a zone where it is midday (calling hours).
fn start(dir: &std::path::Path) -> Server {
    Server::start(dir, "demo", &[])
}

fn dispose(nurse: &Client, task: i64, disposition: &str) -> Value {
    let r = nurse.post(
        &format!("/api/v1/tasks/{task}/disposition"),
        json!({ "disposition": disposition }),
    );
    assert_eq!(r.status, 200, "{disposition}: {}", r.body);
    r.body
}

#[test]
fn report_and_wallboard_follow_real_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let supervisor = Client::login(&server, "supervisor", "supervisor-demo-1");

    let before = supervisor.get("/api/v1/reports").body;
    assert_eq!(before["dials"], 0);
    assert_eq!(before["coverage"], 0.0);
    assert_eq!(
        before["reach_rate"],
        Value::Null,
        "no attempt: unknown, not 0"
    );

    let first = nurse.post("/api/v1/queue/claim", json!({})).body["task"]["id"]
        .as_i64()
        .unwrap();
    dispose(&nurse, first, "no_answer");
    let second = nurse.post("/api/v1/queue/claim", json!({})).body["task"]["id"]
        .as_i64()
        .unwrap();
    assert_ne!(first, second, "a no-answer task waits for its retry");
    dispose(&nurse, second, "completed");

    let r = supervisor.get("/api/v1/reports").body;
    assert_eq!(r["discharges"], 8, "{r:#}");
    assert_eq!(r["discharges_attempted"], 2);
    assert_eq!(r["coverage"], 0.25);
    assert_eq!(r["dials"], 2);
    assert_eq!(r["completed_contacts"], 1);
    assert_eq!(r["dials_per_completed_contact"], 2.0);
    assert_eq!(r["tasks_attempted"], 2);
    assert_eq!(r["tasks_reached"], 1);
    assert_eq!(r["tasks_completed"], 1);
    assert_eq!(r["reach_rate"], 0.5);
    assert_eq!(
        r["hours_to_first_contact"]["count"], 1,
        "only the completed call reached someone"
    );
    assert!(r["hours_to_first_contact"]["median"].as_f64().unwrap() > 0.0);
    // whether today is within two business days of that discharge depends on the weekday the
    // test runs (the calendar arithmetic has its own unit tests): check the share is consistent
    let within = r["reached_within_2_business_days"].as_i64().unwrap();
    assert!((0..=1).contains(&within), "{r:#}");
    assert_eq!(
        r["share_reached_within_2_business_days"].as_f64().unwrap(),
        within as f64 / 8.0
    );

    let csv = supervisor.request("GET", "/api/v1/reports?format=csv", None, "");
    assert_eq!(csv.status, 200);
    let text = csv.body.as_str().unwrap();
    assert!(text.starts_with("metric,value\n"), "{text}");
    assert!(text.contains("\ndials,2\n") && text.contains("\nreach_rate,0.5000\n"));

    let bad = supervisor.get("/api/v1/reports?from=2026-02-01&to=2026-01-01");
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["error"]["field"], "from");
    let bad = supervisor.get("/api/v1/reports?format=xls");
    assert_eq!(bad.body["error"]["field"], "format");

    let w = supervisor.get("/api/v1/wallboard").body;
    assert_eq!(w["today"]["attempted"], 2, "{w:#}");
    assert_eq!(w["today"]["reached"], 1);
    assert_eq!(w["today"]["completed"], 1);
    let agent = &w["agents"][0];
    assert_eq!(agent["name"], "王护士 Nurse Wang");
    assert_eq!(agent["state"], "idle", "logged in, holding nothing: {w:#}");
    assert_eq!(agent["attempts_today"], 2);
    assert_eq!(agent["completed_today"], 1);
    let queue = nurse.get("/api/v1/queue?limit=100").body;
    let waiting = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["lease_owner"].is_null())
        .count();
    assert_eq!(w["queue"]["waiting"], waiting);
    assert_eq!(w["queue"]["claimed"], 0);
}

#[test]
fn qa_reviews_recordings_filters_and_script_validation() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let supervisor = Client::login(&server, "supervisor", "supervisor-demo-1");
    let admin = Client::login(&server, "admin", "admin-demo-1");
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let scores = json!({"identity_checked": 2, "consent_announced": 2, "script_followed": 2,
        "red_flags_handled": 2, "communication": 2, "documentation": 2});

    let missing = supervisor.post(
        "/api/v1/calls/nope/reviews",
        json!({"scores": scores, "comment": ""}),
    );
    assert_eq!(missing.status, 404, "{}", missing.body);
    let mut too_high = scores.clone();
    too_high["communication"] = json!(3);
    let r = supervisor.post("/api/v1/calls/nope/reviews", json!({ "scores": too_high }));
    assert_eq!(r.status, 422);
    assert_eq!(r.body["error"]["field"], "scores.communication");
    let r = nurse.post("/api/v1/calls/nope/reviews", json!({ "scores": scores }));
    assert_eq!(r.status, 403, "nurses do not score calls");
    let r = admin.post("/api/v1/calls/nope/reviews", json!({ "scores": scores }));
    assert_eq!(r.status, 403, "QA scoring is the supervisor's");

    let all = supervisor.get("/api/v1/recordings").body;
    assert_eq!(all["total"], 0, "no calls yet");
    let r = supervisor.get("/api/v1/recordings?disposition=maybe");
    assert_eq!(r.status, 422, "{}", r.body);
    let r = supervisor.get("/api/v1/recordings?limit=0");
    assert_eq!(r.body["error"]["field"], "limit");
    let r = supervisor.get("/api/v1/recordings/999/download");
    assert_eq!(r.status, 404);

    let good = std::fs::read_to_string(repo_root().join("prompts/scripts/stroke.toml")).unwrap();
    let r = admin.post("/api/v1/scripts/validate", json!({ "toml": good }));
    assert_eq!(r.body["ok"], true, "{}", r.body);
    assert_eq!(r.body["code"], "stroke");
    let broken = good.replace("type = \"yes_no\"", "type = \"yes_or_no\"");
    let r = admin.post("/api/v1/scripts/validate", json!({ "toml": broken }));
    assert_eq!(r.body["ok"], false);
    assert!(
        r.body["errors"][0]["line"].as_u64().unwrap() > 0,
        "{}",
        r.body
    );

    let settings = nurse.get("/api/v1/settings").body;
    // `common` picks an Etc/GMT±N zone where it is midday (not the Asia/Shanghai default)
    assert!(
        settings["time_zone"]
            .as_str()
            .unwrap()
            .starts_with("Etc/GMT"),
        "consoles show times in the configured zone: {settings}"
    );
    // `suifang demo` calls at any hour (config::DEMO_DEFAULTS); `serve` keeps 08:30-20:00
    assert_eq!(settings["calling_hours"], "00:00-24:00");

    let staff = nurse.get("/api/v1/staff").body;
    let names: Vec<&str> = staff["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["display_name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"张医生 Dr Zhang"), "{names:?}");
    assert!(
        staff["items"][0].get("username").is_none(),
        "staff list carries no logins"
    );
}
