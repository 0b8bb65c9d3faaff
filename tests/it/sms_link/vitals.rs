//! Issue 19 item 5, home vitals: a weight and a blood pressure a patient types on a link are
//! the same measurements a nurse records on a call. They join the patient's series (the
//! timeline's trend charts) and the trend rules compare them across tasks, so a weight gain
//! between two links escalates like one between two calls. The console's patient panel then
//! shows the patient's links and SMS (item 5, link status per patient).

use serde_json::{json, Value};

use std::time::Duration;

use super::{env, get_url, identity, link_from_sms, patient, sms_status, start};
use crate::common::console::browser_script;
use crate::common::kannel::{Kannel, Ports};
use crate::common::{serial, wait_for, Client, Server};

/// Sends the task's link and returns its token, read from the `n`th SMS at the fake SMSC.
fn send_link(nurse: &Client, kannel: &Kannel, task: i64, tail: &str, n: usize) -> String {
    let r = nurse.post(&format!("/api/v1/tasks/{task}/sms-link"), json!({}));
    assert_eq!(r.status, 201, "{}", r.body);
    let (url, _) = link_from_sms(kannel, tail, n);
    url.rsplit('/').next().unwrap().to_string()
}

/// One answer on the link, as the page's autosave sends it.
fn answer(server: &Server, token: &str, cookie: &str, question: &str, value: Value) -> Value {
    let r = ureq::put(&format!("{}/f/{token}/answers/{question}", server.base))
        .set("Cookie", cookie)
        .send_json(json!({ "value": value }))
        .unwrap_or_else(|e| panic!("answer {question}: {e}"));
    r.into_json().unwrap()
}

fn weight_escalations(doctor: &Client, patient: i64) -> Vec<Value> {
    doctor.get("/api/v1/escalations").body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["key"]["patient"] == patient)
        .filter(|e| {
            e["key"]["rule"]
                .as_str()
                .is_some_and(|r| r.starts_with("hf-weight-gain"))
        })
        .cloned()
        .collect()
}

#[test]
fn weights_and_blood_pressures_from_links_join_the_trends_and_rules_and_the_console_shows_the_links(
) {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let ports = Ports::pick();
    let server = start(dir.path(), &env(&ports));
    let mut kannel = Kannel::start(&ports, &get_url(&server));
    let supervisor = Client::login(&server, "supervisor", "supervisor-demo-1");
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let doctor = Client::login(&server, "doctor", "doctor-demo-1");
    let tail = "13800138401";
    let (p, day1) = patient(&supervisor, "VIT-1", "+8613800138401", "1952-06-06", "zh");

    // day-1 task, first link: 68 kg, 128/80; nothing to compare with, nothing fires
    let first = send_link(&nurse, &kannel, day1, tail, 1);
    let (status, body, cookie) = identity(&server, &first, "1952");
    assert_eq!(status, 200, "{body}");
    let cookie = cookie.expect("the link's cookie");
    let r = answer(&server, &first, &cookie, "weight", json!(68.0));
    assert_eq!(r["advice"], json!([]), "{r}");
    answer(
        &server,
        &first,
        &cookie,
        "bp",
        json!({"systolic": 128, "diastolic": 80}),
    );
    assert_eq!(weight_escalations(&doctor, p), Vec::<Value>::new());

    // the next heart-failure task of the same patient, by a second link: 70.5 kg
    let tasks = supervisor.get(&format!("/api/v1/patients/{p}/tasks")).body;
    let next = tasks["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["script_code"] == "heart-failure" && t["status"] == "pending")
        .filter(|t| t["id"] != day1)
        .min_by_key(|t| t["due_at"].as_str().unwrap_or_default().to_string())
        .unwrap_or_else(|| panic!("no second heart-failure task: {tasks}"))["id"]
        .as_i64()
        .unwrap();
    let second = send_link(&nurse, &kannel, next, tail, 2);
    let (status, body, cookie) = identity(&server, &second, "1952");
    assert_eq!(status, 200, "{body}");
    let cookie = cookie.expect("the link's cookie");
    let r = answer(&server, &second, &cookie, "weight", json!(70.5));
    assert_eq!(r["saved"], "weight", "{r}");

    // the other link's 68 kg counted: the weight-gain rules fired, from the patient link
    let fired = weight_escalations(&doctor, p);
    let rules: Vec<&str> = fired
        .iter()
        .filter_map(|e| e["key"]["rule"].as_str())
        .collect();
    assert!(rules.contains(&"hf-weight-gain-1d"), "{fired:#?}");
    let text = serde_json::to_string(&fired).unwrap();
    assert!(
        text.contains("weight_kg: 68 on ") && text.contains("→ 70.5 now"),
        "the trend is in the evidence: {text}"
    );
    assert!(text.contains("\"kind\":\"patient_link\""), "{text}");

    // and both links' values are the patient's series, as a call's would be
    let timeline = nurse.get(&format!("/api/v1/patients/{p}/timeline"));
    assert_eq!(timeline.status, 200, "{}", timeline.body);
    let series = &timeline.body["measurements"];
    let values = |kind: &str| -> Vec<f64> {
        series[kind]
            .as_array()
            .unwrap_or_else(|| panic!("no {kind} series: {series}"))
            .iter()
            .map(|m| m["value"].as_f64().unwrap())
            .collect()
    };
    assert_eq!(values("weight_kg"), [68.0, 70.5]);
    assert_eq!(values("sbp"), [128.0]);
    assert_eq!(values("dbp"), [80.0]);

    // the console: a reply from the patient, then the doctor opens the escalation and reads the
    // links and SMS in the patient panel under it (markup in a reply stays text)
    let reply = "体重<b>涨了</b>";
    kannel.send_mo(tail, "10086", reply);
    let status = wait_for("the reply", Duration::from_secs(20), || {
        let s = sms_status(&nurse, p);
        (s["messages"].as_array().unwrap().len() == 3).then_some(s)
    });
    let out = browser_script(
        "sms_status.js",
        &server,
        json!({"escalation_id": fired[0]["id"]}),
    );
    eprintln!("panel: {out:#}");
    let shown: Vec<(i64, &str)> = out["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["task"].as_i64().unwrap(), l["state"].as_str().unwrap()))
        .collect();
    // newest first; both identity-checked and answered in part, neither sent in
    assert_eq!(shown, [(next, "verified"), (day1, "verified")], "{out:#}");
    let expected: Vec<Value> = status["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            json!({"direction": m["direction"], "kind": m["kind"],
                "quoted": if m["direction"] == "in" { m["body"].clone() } else { Value::Null }})
        })
        .collect();
    assert_eq!(out["messages"], json!(expected), "{out:#}");
    assert!(
        out["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["kind"] == "reply" && m["quoted"] == reply),
        "{out:#}"
    );
    assert_eq!(out["opted_out"], false);
}
