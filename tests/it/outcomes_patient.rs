//! Issue 18 items 2 and 4 through the real binary: the LACE score a discharge gets at enrolment,
//! and the satisfaction survey that closes a pathway, answered like any script and counted in
//! the outcome report.

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::common::{Client, Server};

/// Issue 18 item 2 through the real binary: an emergency visit, then an emergency stay of six
/// days, then the discharge (REST): the patient shows LACE 13 (L 4 + A 3 + C 5 + E 1) with its
/// parts, in the patient record and in the printable report's data.
#[test]
fn lace_is_computed_at_enrolment_and_shown_on_the_patient() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "demo", &[]);
    let supervisor = Client::login(&server, "supervisor", "supervisor-demo-1");
    let r = supervisor.post(
        "/api/v1/patients",
        json!({"mrn": "LACE-1", "name": "风险 患者", "phone": "+8613900000123"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{}", r.body));
    // the stay is 5 or 6 local days whatever the server's zone and hour: both give L = 4
    let now = Utc::now();
    for (at, class, kind) in [
        (now - Duration::days(30), "emergency", None),
        (now - Duration::days(6), "inpatient", Some("emergency")),
    ] {
        let r = supervisor.post(
            &format!("/api/v1/patients/{id}/admissions"),
            json!({"admitted_at": at.to_rfc3339(), "patient_class": class,
                   "department": "cardiology", "admission_type": kind}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = supervisor.post(
        &format!("/api/v1/patients/{id}/discharges"),
        json!({"discharged_at": (now - Duration::minutes(30)).to_rfc3339(), "department": "cardiology",
               "diagnoses": [{"icd10": "I50.9"}, {"icd10": "E11.2"}, {"icd10": "N18.4"}]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let patient = supervisor.get(&format!("/api/v1/patients/{id}"));
    assert_eq!(patient.status, 200, "{}", patient.body);
    let risk = &patient.body["risk"][0];
    assert_eq!(risk["lace"], 13, "{}", patient.body);
    assert_eq!(
        [
            &risk["l_points"],
            &risk["a_points"],
            &risk["c_points"],
            &risk["e_points"]
        ],
        [&json!(4), &json!(3), &json!(5), &json!(1)],
        "{risk}"
    );
    assert_eq!(risk["high_risk"], true);
    assert_eq!(risk["charlson"], 5);
    let report = supervisor.get(&format!("/api/v1/patients/{id}/report"));
    assert_eq!(report.status, 200, "{}", report.body);
    assert_eq!(report.body["risk"][0]["lace"], 13, "{}", report.body);
}

/// Claims with fresh nurses until one holds `patient_id`'s task of `script` (the demo's own
/// patients have tasks in the queue too).
fn claim_task_of(server: &Server, patient_id: i64, script: &str) -> (Client, Value) {
    let admin = Client::login(server, "admin", "admin-demo-1");
    for i in 0..30 {
        let name = format!("nurse-sat-{i}");
        let created = admin.post(
            "/api/v1/users",
            json!({"username": name, "display_name": name, "role": "nurse", "password": "sat-password-1"}),
        );
        assert_eq!(created.status, 201, "{}", created.body);
        let nurse = Client::login(server, &name, "sat-password-1");
        let r = nurse.post("/api/v1/queue/claim", json!({}));
        assert_eq!(r.status, 200, "claim {i}: {}", r.body);
        let task = &r.body["task"];
        if task["patient_id"] == patient_id && task["script_code"] == script {
            return (nurse, task.clone());
        }
    }
    panic!("no {script} task of patient {patient_id} in the queue");
}

/// Issue 18 item 4: a heart-failure discharge of 32 days ago has its day-31 satisfaction survey
/// in the queue; a nurse asks it (an out-of-range rating is refused with the question named),
/// completes the call, and the outcome report (JSON and CSV) counts the answers: one response,
/// mean rating 4, one promoter (NPS 100), one comment.
#[test]
fn the_satisfaction_survey_closes_the_pathway_and_is_counted_in_the_outcome_report() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "demo", &[]);
    let supervisor = Client::login(&server, "supervisor", "supervisor-demo-1");
    let r = supervisor.post(
        "/api/v1/patients",
        json!({"mrn": "SAT-1", "name": "满意 患者", "phone": "+8613900000456"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let patient_id = r.body["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{}", r.body));
    let discharged = Utc::now() - Duration::days(32);
    let r = supervisor.post(
        &format!("/api/v1/patients/{patient_id}/discharges"),
        json!({"discharged_at": discharged.to_rfc3339(), "department": "cardiology",
               "diagnoses": [{"icd10": "I50.9"}]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = supervisor.post("/api/v1/queue/build", json!({}));
    assert_eq!(r.status, 200, "{}", r.body);

    let (nurse, task) = claim_task_of(&server, patient_id, "satisfaction");
    let id = task["id"].as_i64().unwrap();
    let answer = |q: &str, v: Value| {
        nurse.put(
            &format!("/api/v1/tasks/{id}/answers/{q}"),
            json!({ "value": v }),
        )
    };
    let refused = answer("overall", json!(6));
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(
        refused.body["error"]["field"], "overall",
        "{}",
        refused.body
    );
    for (q, v) in [
        ("overall", json!(4)),
        ("recommend", json!(9)),
        ("comment", json!("电话很及时，谢谢")),
    ] {
        let r = answer(q, v);
        assert_eq!(r.status, 200, "{q}: {}", r.body);
    }
    let r = nurse.post(
        &format!("/api/v1/tasks/{id}/disposition"),
        json!({"disposition": "completed"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let (from, to) = (
        (discharged - Duration::days(2)).date_naive(),
        (Utc::now() + Duration::days(1)).date_naive(),
    );
    let report = supervisor.get(&format!("/api/v1/reports/outcomes?from={from}&to={to}"));
    assert_eq!(report.status, 200, "{}", report.body);
    let s = &report.body["total"]["satisfaction"];
    assert_eq!(
        [
            &s["responses"],
            &s["overall_answered"],
            &s["recommend_answered"],
            &s["promoters"],
            &s["detractors"],
            &s["comments"]
        ],
        [
            &json!(1),
            &json!(1),
            &json!(1),
            &json!(1),
            &json!(0),
            &json!(1)
        ],
        "{s}"
    );
    assert_eq!(s["overall_mean"], 4.0, "{s}");
    assert_eq!(s["nps"], 100.0, "{s}");
    let hf = report.body["pathway"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "heart-failure")
        .unwrap_or_else(|| panic!("{}", report.body));
    assert_eq!(hf["satisfaction"]["responses"], 1, "{hf}");
    // the printed SQL carries the satisfaction queries
    assert!(
        report.body["sql"]["metrics"]["satisfaction_overall_mean"]
            .as_str()
            .is_some_and(|q| q.contains("AVG(f.satisfaction_overall)")),
        "{}",
        report.body["sql"]
    );

    let csv = supervisor.request(
        "GET",
        &format!("/api/v1/reports/outcomes?from={from}&to={to}&format=csv"),
        None,
        "",
    );
    assert_eq!(csv.status, 200);
    let text = csv.body.as_str().unwrap().to_string();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let total: Vec<&str> = lines
        .find(|l| l.starts_with("total,all,"))
        .unwrap()
        .split(',')
        .collect();
    let col = |name: &str| {
        let i = header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("{name}"));
        total[i]
    };
    assert_eq!(col("satisfaction_responses"), "1");
    assert_eq!(col("satisfaction_overall_mean"), "4.000000");
    assert_eq!(col("satisfaction_nps"), "100.000000");
}

/// Issue 18 item 5 through the real binary: a nurse completes a heart-failure call (weight,
/// worse breathlessness — a rule escalates — and a note on that answer); the timeline then
/// holds the call summary, every sentence with evidence that points at this call's answers,
/// its escalation, its note and the next task, in both languages.
#[test]
fn a_completed_call_gets_a_summary_whose_sentences_point_at_their_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "demo", &[]);
    let supervisor = Client::login(&server, "supervisor", "supervisor-demo-1");
    let r = supervisor.post(
        "/api/v1/patients",
        json!({"mrn": "SUM-1", "name": "小结 患者", "phone": "+8613900000789"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let patient_id = r.body["id"].as_i64().unwrap();
    let r = supervisor.post(
        &format!("/api/v1/patients/{patient_id}/discharges"),
        json!({"discharged_at": (Utc::now() - Duration::hours(20)).to_rfc3339(),
               "department": "cardiology", "diagnoses": [{"icd10": "I50.9"}]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = supervisor.post("/api/v1/queue/build", json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    let (nurse, task) = claim_task_of(&server, patient_id, "heart-failure");
    let id = task["id"].as_i64().unwrap();
    let mut answer_ids = Vec::new();
    for (q, v) in [("weight", json!(72.5)), ("breathless_worse", json!(true))] {
        let r = nurse.put(
            &format!("/api/v1/tasks/{id}/answers/{q}"),
            json!({ "value": v }),
        );
        assert_eq!(r.status, 200, "{q}: {}", r.body);
        answer_ids.push(r.body["answer"]["id"].as_i64().unwrap());
    }
    let note = nurse.post(
        &format!("/api/v1/patients/{patient_id}/notes"),
        json!({"body": "已请患者今天到心内科门诊。", "answer_id": answer_ids[1]}),
    );
    assert_eq!(note.status, 201, "{}", note.body);
    let r = nurse.post(
        &format!("/api/v1/tasks/{id}/disposition"),
        json!({"disposition": "completed"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let tl = supervisor.get(&format!("/api/v1/patients/{patient_id}/timeline"));
    assert_eq!(tl.status, 200, "{}", tl.body);
    let items = tl.body["items"].as_array().unwrap();
    let escalation_id = items
        .iter()
        .find(|i| i["kind"] == "escalation")
        .and_then(|i| i["escalation"]["id"].as_i64())
        .unwrap_or_else(|| panic!("no escalation: {}", tl.body));
    let summary = &items
        .iter()
        .find(|i| i["kind"] == "summary")
        .unwrap_or_else(|| panic!("no summary: {}", tl.body))["summary"];
    assert_eq!(summary["task_id"], id);
    let sentences = summary["sentences"].as_array().unwrap();
    let en: Vec<&str> = sentences
        .iter()
        .map(|s| s["en"].as_str().unwrap())
        .collect();
    eprintln!("summary: {en:#?}");
    assert!(en[0].ends_with(": 72.5 kg."), "{en:?}");
    assert!(
        en.contains(&"Abnormal: rule hf-breathless-worse raised an escalation (high)."),
        "{en:?}"
    );
    assert!(
        en.contains(&"Nurse's note: 已请患者今天到心内科门诊。"),
        "{en:?}"
    );
    assert!(
        en.last()
            .unwrap()
            .starts_with("Next contact: Day 3 nurse call on "),
        "{en:?}"
    );
    let mut kinds = std::collections::BTreeSet::new();
    for s in sentences {
        assert!(!s["zh"].as_str().unwrap().is_empty(), "{s}");
        let evidence = s["evidence"].as_array().unwrap();
        assert!(!evidence.is_empty(), "{s}");
        for e in evidence {
            let eid = e["id"].as_i64().unwrap();
            match e["kind"].as_str().unwrap() {
                "answer" => assert!(answer_ids.contains(&eid), "{e}"),
                "finding" => assert_eq!(eid, escalation_id, "{e}"),
                "note" => assert_eq!(eid, note.body["id"].as_i64().unwrap(), "{e}"),
                "task" => assert_ne!(eid, id, "the next task, not this one: {e}"),
                other => panic!("unexpected evidence {other}: {e}"),
            }
            kinds.insert(e["kind"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(kinds.len(), 4, "{kinds:?}");

    // issue 18 item 6: the stage summary in the timeline and the printable report's data: the
    // weight of this call in the current period, none before; the escalation counted now
    let stage = &tl.body["stage"];
    let weight = stage["trends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["series"] == "weight_kg")
        .unwrap_or_else(|| panic!("{stage}"));
    assert_eq!(weight["current"]["count"], 1, "{weight}");
    assert_eq!(weight["current"]["last"], 72.5, "{weight}");
    assert_eq!(weight["previous"]["count"], 0, "{weight}");
    assert_eq!(weight["direction"], "unknown", "{weight}");
    assert_eq!(stage["escalations"]["current"], 1, "{stage}");
    assert_eq!(stage["adherence_current"]["completed"], 1, "{stage}");
    let report = supervisor.get(&format!("/api/v1/patients/{patient_id}/report"));
    assert_eq!(report.status, 200, "{}", report.body);
    // the same figures (the periods end at each request's own now)
    for k in [
        "trends",
        "adherence_current",
        "adherence_previous",
        "escalations",
        "readmissions",
    ] {
        assert_eq!(report.body["stage"][k], stage[k], "{k}");
    }
    // a period of the reader's choosing: 7 days and the 7 before them; out of range refused
    let at = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("{v}")))
            .unwrap_or_else(|e| panic!("{v}: {e}"))
    };
    for path in ["timeline", "report"] {
        let week = supervisor.get(&format!(
            "/api/v1/patients/{patient_id}/{path}?stage_days=7"
        ));
        assert_eq!(week.status, 200, "{path}: {}", week.body);
        let s = &week.body["stage"];
        assert_eq!(
            at(&s["current"]["to"]) - at(&s["current"]["from"]),
            Duration::days(7),
            "{path}: {s}"
        );
        assert_eq!(s["previous"]["to"], s["current"]["from"], "{path}: {s}");
        for bad in ["0", "366", "soon"] {
            let r = supervisor.get(&format!(
                "/api/v1/patients/{patient_id}/{path}?stage_days={bad}"
            ));
            assert!(
                r.status == 400 || r.status == 422,
                "{path} stage_days={bad}: {} {}",
                r.status,
                r.body
            );
        }
    }
}
