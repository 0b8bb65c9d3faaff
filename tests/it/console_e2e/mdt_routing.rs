//! Issue 20 items 2-3 in the browser and the API: the heart-failure care team, shifts by
//! discipline, and routing: breathlessness at rest reaches the on-duty cardiologist; a missed
//! medicine reaches the pharmacist on shift, not the cardiologist; outside the pharmacist's shift
//! it falls back on the care-team lead. Tests run where it is about midday (`common`), so a
//! 06:00–18:00 shift covers now and a 00:00–06:00 one does not.

use std::collections::BTreeSet;

use super::clinical_loop::claim_task_with_script;
use super::*;
use crate::common::serial;

fn user_id(admin: &Client, username: &str) -> i64 {
    let users = admin.get("/api/v1/users");
    assert_eq!(users.status, 200, "{}", users.body);
    users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .and_then(|u| u["id"].as_i64())
        .unwrap_or_else(|| panic!("demo user {username}: {}", users.body))
}

/// Removes every shift of `user` through the API; returns how many.
fn clear_shifts(admin: &Client, user: i64) -> usize {
    let shifts = admin.get("/api/v1/duty-shifts").body["shifts"].clone();
    let mine: Vec<i64> = shifts
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["user_id"] == user)
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    for id in &mine {
        let r = admin.request("DELETE", &format!("/api/v1/duty-shifts/{id}"), None, "");
        assert_eq!(r.status, 200, "{}", r.body);
    }
    mine.len()
}

/// Saves one answer on the task the nurse holds; returns the finding for `rule`.
fn answer(nurse: &Client, task: i64, question: &str, value: Value, rule: &str) -> Value {
    let saved = nurse.put(
        &format!("/api/v1/tasks/{task}/answers/{question}"),
        json!({ "value": value }),
    );
    assert_eq!(saved.status, 200, "{}", saved.body);
    saved.body["escalations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["rule"] == rule)
        .unwrap_or_else(|| panic!("{rule} did not fire: {}", saved.body))
        .clone()
}

fn notified(finding: &Value) -> Vec<i64> {
    finding["notify"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["user"].as_i64().unwrap())
        .collect()
}

/// Escalation ids in a clinician's inbox as the browser shows it, with their rule.
fn inbox(server: &Server, user: &str, password: &str) -> Vec<(i64, String)> {
    let out = browser(
        "inbox",
        server,
        json!({ "user": user, "password": password }),
    );
    out["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_i64().unwrap(),
                i["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn medication_answers_reach_the_pharmacist_on_shift_and_fall_back_on_the_team_lead() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let admin = Client::login(&server, "admin", "admin-demo-1");
    let (cardiologist, pharmacist, lead) = (
        user_id(&admin, "doctor"),
        user_id(&admin, "pharmacist"),
        user_id(&admin, "head"),
    );
    // Shifts: managers only, checked patterns, a discipline needed.
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let shift =
        json!({"user_id": pharmacist, "weekdays": "daily", "start": "06:00", "end": "18:00"});
    assert_eq!(nurse.post("/api/v1/duty-shifts", shift).status, 403);
    let bad = admin.post(
        "/api/v1/duty-shifts",
        json!({"user_id": pharmacist, "weekdays": "weekends", "start": "08:00", "end": "17:00"}),
    );
    assert_eq!(
        (bad.status, &bad.body["error"]["field"]),
        (422, &json!("weekdays")),
        "{}",
        bad.body
    );
    let nobody = admin.post(
        "/api/v1/duty-shifts",
        json!({"user_id": user_id(&admin, "admin"), "weekdays": "daily", "start": "08:00", "end": "17:00"}),
    );
    assert_eq!(
        nobody.status, 422,
        "no discipline, none given: {}",
        nobody.body
    );
    let twice = admin.post(
        "/api/v1/care-teams",
        json!({"department": "cardiology", "name_en": "Again", "name_zh": "再来"}),
    );
    assert_eq!(
        twice.status, 409,
        "one care team per department: {}",
        twice.body
    );
    // The demo pharmacist works office hours on weekdays; the test sets her shift itself.
    assert!(clear_shifts(&admin, pharmacist) > 0, "demo seeds her shift");

    // The admin page: the demo's heart-failure team by discipline, and a shift added through it.
    let out = browser(
        "admin_teams",
        &server,
        json!({"user_id": pharmacist, "weekdays": "daily", "start": "06:00", "end": "18:00",
               "holidays": "also"}),
    );
    let team = out["team"].as_array().unwrap();
    let disciplines: BTreeSet<&str> = team
        .iter()
        .map(|m| m["discipline"].as_str().unwrap())
        .collect();
    assert_eq!(
        disciplines,
        BTreeSet::from([
            "cardiology",
            "nursing",
            "nutrition",
            "pharmacy",
            "psychology",
            "rehabilitation",
            "social_work"
        ]),
        "{out:#}"
    );
    let leads: Vec<i64> = team
        .iter()
        .filter(|m| m["lead"] == true)
        .map(|m| m["user_id"].as_i64().unwrap())
        .collect();
    assert_eq!(leads, vec![lead]);
    let shifts = admin.get("/api/v1/duty-shifts").body["shifts"].clone();
    let hers: Vec<&Value> = shifts
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["user_id"] == pharmacist)
        .collect();
    assert_eq!(hers.len(), 1, "{shifts}");
    assert_eq!(
        (
            &hers[0]["weekdays"],
            &hers[0]["holidays"],
            &hers[0]["discipline"]
        ),
        (&json!("daily"), &json!("also"), &json!("pharmacy"))
    );
    let audit = admin.get("/api/v1/audit").body.to_string();
    assert!(audit.contains("add_duty_shift"), "audited: {audit}");
    assert!(audit.contains("remove_duty_shift"), "audited: {audit}");
    let roster = admin.get("/api/v1/roster").body;
    assert_eq!(
        roster["on_shift"]["pharmacy"],
        json!([pharmacist]),
        "{roster}"
    );

    // The nurse's heart-failure call: breathless at rest → the on-duty cardiologist (and the
    // backup: urgent); medicines not taken → the pharmacist on shift, not the cardiologist.
    let task = claim_task_with_script(&nurse, "heart-failure");
    let breathless = answer(
        &nurse,
        task,
        "breathless_at_rest",
        json!(true),
        "hf-breathless-at-rest",
    );
    assert!(
        notified(&breathless).contains(&cardiologist),
        "{breathless}"
    );
    let meds = answer(
        &nurse,
        task,
        "meds_taken",
        json!(false),
        "hf-meds-not-taken",
    );
    assert_eq!(meds["route"], json!({"discipline": "pharmacy"}));
    assert_eq!(notified(&meds), vec![pharmacist], "{meds}");

    // Through the UI: each recipient's inbox.
    let pharmacy_inbox = inbox(&server, "pharmacist", "pharmacist-demo-1");
    assert!(
        pharmacy_inbox.contains(&(meds["id"].as_i64().unwrap(), "hf-meds-not-taken".into())),
        "{pharmacy_inbox:?}"
    );
    assert!(!pharmacy_inbox
        .iter()
        .any(|(_, r)| r == "hf-breathless-at-rest"));
    let cardio_inbox = inbox(&server, "doctor", "doctor-demo-1");
    assert!(
        cardio_inbox.contains(&(
            breathless["id"].as_i64().unwrap(),
            "hf-breathless-at-rest".into()
        )),
        "{cardio_inbox:?}"
    );
    assert!(
        !cardio_inbox.iter().any(|(_, r)| r == "hf-meds-not-taken"),
        "the medication question is not the cardiologist's: {cardio_inbox:?}"
    );

    // Outside the pharmacist's shift (00:00–06:00, it is midday): the next patient's missed
    // medicines fall back on the care-team lead.
    assert_eq!(clear_shifts(&admin, pharmacist), 1);
    let night = admin.post(
        "/api/v1/duty-shifts",
        json!({"user_id": pharmacist, "weekdays": "daily", "start": "00:00", "end": "06:00"}),
    );
    assert_eq!(night.status, 200, "{}", night.body);
    let roster = admin.get("/api/v1/roster").body;
    assert!(roster["on_shift"]["pharmacy"].is_null(), "{roster}");
    let done = nurse.post(
        &format!("/api/v1/tasks/{task}/disposition"),
        json!({"disposition": "completed"}),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    let next = claim_task_with_script(&nurse, "heart-failure");
    assert_ne!(next, task);
    let off = answer(
        &nurse,
        next,
        "meds_taken",
        json!(false),
        "hf-meds-not-taken",
    );
    assert_ne!(off["id"], meds["id"], "another patient: another escalation");
    assert_eq!(notified(&off), vec![lead], "{off}");

    let lead_inbox = inbox(&server, "head", "head-demo-1");
    assert!(
        lead_inbox.contains(&(off["id"].as_i64().unwrap(), "hf-meds-not-taken".into())),
        "{lead_inbox:?}"
    );
    let pharmacy_inbox = inbox(&server, "pharmacist", "pharmacist-demo-1");
    assert!(
        !pharmacy_inbox
            .iter()
            .any(|(id, _)| *id == off["id"].as_i64().unwrap()),
        "off shift, she is not notified: {pharmacy_inbox:?}"
    );
}
