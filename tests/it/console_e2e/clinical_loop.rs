//! Issue 20 in the browser: a rule's advice reaches the nurse before the next question, and a
//! dial refused at dial time (calling hours) is shown on the softphone bar.

use super::*;
use crate::common::serial;

/// Claims tasks for `nurse` (recording the ones before it as completed) until she holds one with
/// `script`; returns its id. The demo's first task is a stroke call; heart-failure calls follow.
pub(super) fn claim_task_with_script(nurse: &Client, script: &str) -> i64 {
    for _ in 0..20 {
        let claim = nurse.post("/api/v1/queue/claim", json!({}));
        assert_eq!(claim.status, 200, "{}", claim.body);
        let task = &claim.body["task"];
        let id = task["id"].as_i64().unwrap();
        if task["script_code"] == script {
            return id;
        }
        let done = nurse.post(
            &format!("/api/v1/tasks/{id}/disposition"),
            json!({"disposition": "completed"}),
        );
        assert_eq!(done.status, 200, "{}", done.body);
    }
    panic!("no {script} task among the demo's first 20");
}

/// Issue 20 item 1 (patient safety): a rule's advice reaches the person on the phone. The nurse
/// answers "breathless at rest = yes" in a heart-failure call and sees the rule's advice under
/// that question, before the next question, prominently (role=alert), in the console's language;
/// the saved-answer response carries the finding's severity, route and advice; the escalation
/// stores what was advised.
#[test]
fn nurse_sees_the_rules_advice_before_the_next_question() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let task_id = claim_task_with_script(&nurse, "heart-failure");
    let scripts =
        suifang::followup::script::load_dir(&repo_root().join("prompts/scripts")).unwrap();
    let rule = scripts
        .get("heart-failure")
        .unwrap()
        .rules
        .iter()
        .find(|r| r.id.as_str() == "hf-breathless-at-rest")
        .unwrap()
        .clone();
    let advice = rule.advice.expect("hf-breathless-at-rest gives advice");

    let out = browser("nurse_advice", &server, json!({}));

    assert_eq!(out["task_id"], task_id, "the page opened the claimed task");
    assert_eq!(out["script"], "heart-failure");
    // through the UI: under the question, before the next one, on screen, as an alert
    let shown = &out["advice"];
    assert_eq!(shown["text"], advice.zh.as_str(), "zh console: {out:#}");
    assert_eq!(out["advice_en"], advice.en.as_str(), "en console: {out:#}");
    assert_eq!(shown["rule"], "hf-breathless-at-rest");
    assert_eq!(shown["severity"], "urgent");
    assert_eq!(shown["role"], "alert", "urgent advice is announced");
    assert_eq!(shown["prominent"], true);
    assert_eq!(shown["before_next"], true, "{shown:#}");
    assert_eq!(shown["next_question"], "orthopnea");
    assert_eq!(shown["in_viewport"], true, "{shown:#}");
    // through the API: the saved answer's response names severity, route and advice
    let esc = out["saved"]["escalations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["rule"] == "hf-breathless-at-rest")
        .unwrap_or_else(|| panic!("no finding in the saved answer: {out:#}"))
        .clone();
    assert_eq!(esc["severity"], "urgent");
    assert_eq!(esc["route"], "patient_department");
    assert_eq!(esc["advice"]["zh"], advice.zh.as_str());
    assert_eq!(esc["advice"]["en"], advice.en.as_str());
    assert_eq!(esc["questions"], json!(["breathless_at_rest"]));
    // the record shows what was advised
    let doctor = Client::login(&server, "doctor", "doctor-demo-1");
    let stored = doctor.get(&format!("/api/v1/escalations/{}", esc["id"]));
    assert_eq!(stored.status, 200, "{}", stored.body);
    let evidence = stored.body["evidence"].as_array().unwrap();
    assert_eq!(
        evidence[0]["advice"]["en"],
        advice.en.as_str(),
        "{}",
        stored.body
    );
}

/// Issue 20 item 7: calling hours are checked again when the nurse dials, not only when she
/// claims: she claims inside the hours, the server restarts with hours that exclude now (her
/// lease intact), and pressing Call shows the refusal on the softphone bar (not only a passing
/// toast); no call is placed.
#[test]
fn nurse_sees_a_dial_refused_outside_calling_hours() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let claim = nurse.post("/api/v1/queue/claim", json!({}));
    assert_eq!(claim.status, 200, "{}", claim.body);
    let task = claim.body["task"]["id"].as_i64().unwrap();
    let patient = claim.body["task"]["patient_id"].as_i64().unwrap();
    drop(server);
    // tests run where it is about midday: these hours exclude now
    let config = dir.path().join("closed-hours.toml");
    std::fs::write(&config, "[hospital]\ncalling_hours = \"00:00-06:00\"\n").unwrap();
    let server = start(dir.path(), &[("SUIFANG_CONFIG", config.to_str().unwrap())]);

    let out = browser("nurse_refused", &server, json!({}));

    assert_eq!(out["task_id"], task);
    assert_eq!(out["refusal"]["code"], "outside_calling_hours", "{out:#}");
    assert_eq!(out["refusal"]["role"], "alert");
    let text = out["refusal"]["text"].as_str().unwrap();
    assert!(
        text.contains("呼叫时段"),
        "the console's language (zh): {text}"
    );
    assert!(text.contains("00:00-06:00"), "names the hours: {text}");
    assert!(out["call"].is_null(), "no call placed: {out:#}");
    assert_eq!(
        out["expected_errors"].as_array().map(Vec::len),
        Some(1),
        "the refused dial is the page's only failed request: {out:#}"
    );
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let calls = nurse
        .get(&format!("/api/v1/calls?patient_id={patient}"))
        .body;
    assert_eq!(calls["items"], json!([]), "{calls}");
}
