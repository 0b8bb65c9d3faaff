//! Issue 20 item 4 in the browser: a day-14 heart-failure team review completed by three
//! disciplines (cardiology, pharmacy, nursing — created through the admin API), creating a
//! follow-up task and postponing the day-30 review; what the pages showed is checked against the
//! API, the database and the audit.

use super::*;
use crate::common::serial;

const PASSWORD: &str = "team-review-pw-1";

/// Creates a clinician through the admin API (role + discipline, the decision of issue 20).
fn clinician(admin: &Client, username: &str, role: &str, discipline: &str) -> i64 {
    let r = admin.post(
        "/api/v1/users",
        json!({"username": username, "display_name": format!("{username} ({discipline})"),
               "role": role, "password": PASSWORD, "department": "cardiology",
               "discipline": discipline}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["user"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no user id: {}", r.body))
}

/// Nurse answers on the day-3 and day-7 calls (weight 70.0 → 72.5 kg), written as the answer
/// service stores them, so the agenda has a trend to show.
fn seed_answers(server: &Server, tasks: &[(i64, i64)], patient: i64) {
    let conn = rusqlite::Connection::open(server.data_dir.join("data/suifang.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    for ((task, at), kg) in tasks.iter().zip([70.0, 72.5]) {
        conn.execute(
            "INSERT INTO answers (task_id, patient_id, script_code, script_version, question_id,
                 value, answered_by, answered_at, updated_at)
             VALUES (?1, ?2, 'heart-failure', 2, 'weight', ?3, 1, ?4, ?4)",
            rusqlite::params![
                task,
                patient,
                json!({"type": "number", "value": kg}).to_string(),
                at
            ],
        )
        .unwrap();
    }
}

#[test]
fn a_day_14_team_review_is_completed_by_three_disciplines_and_creates_a_follow_up_task() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let admin = Client::login(&server, "admin", "admin-demo-1");
    clinician(&admin, "dr_heart", "doctor", "cardiology");
    clinician(&admin, "ph_chen", "doctor", "pharmacy");
    clinician(&admin, "rn_li", "nurse", "nursing");

    // a heart-failure patient discharged 14 days ago: day 1/3/7 calls behind, the day-14 review due
    let now = Utc::now();
    let p = admin.post(
        "/api/v1/patients",
        json!({"mrn": "TR-1", "name": "Team Review Patient", "phone": "+8613800000077"}),
    );
    assert_eq!(p.status, 201, "{}", p.body);
    let patient = p.body["id"].as_i64().unwrap();
    let d = admin.post(
        &format!("/api/v1/patients/{patient}/discharges"),
        json!({"discharged_at": (now - chrono::Duration::days(14)).to_rfc3339(),
               "department": "cardiology", "diagnoses": [{"icd10": "I50.9"}]}),
    );
    assert_eq!(d.status, 201, "{}", d.body);
    let tasks = admin.get(&format!("/api/v1/patients/{patient}/tasks")).body;
    let tasks = tasks["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{tasks}"));
    let by_step = |name: &str| {
        tasks
            .iter()
            .find(|t| t["step_name"] == name)
            .unwrap_or_else(|| panic!("no {name} task: {tasks:#?}"))
            .clone()
    };
    let review_task = by_step("Day 14 team review");
    assert_eq!(review_task["script_code"], "heart-failure-team-review");
    assert_eq!(review_task["role"], "team");
    let review_task_id = review_task["id"].as_i64().unwrap();
    let day3 = by_step("Day 3 nurse call")["id"].as_i64().unwrap();
    let day7 = by_step("Day 7 nurse call")["id"].as_i64().unwrap();
    let day30 = by_step("Day 30 team review");
    let day30_id = day30["id"].as_i64().unwrap();
    let day30_due =
        chrono::DateTime::parse_from_rfc3339(day30["due_at"].as_str().unwrap()).unwrap();
    let t = now.timestamp();
    seed_answers(
        &server,
        &[(day3, t - 11 * 86_400), (day7, t - 7 * 86_400)],
        patient,
    );
    let (call_id, _) = seed_recorded_call(&server, day7, patient, t - 7 * 86_400);
    let built = admin.post("/api/v1/queue/build", json!({}));
    assert_eq!(built.status, 200, "{}", built.body);

    let login = |u: &str| json!({"user": u, "password": PASSWORD});
    let out = browser_script(
        "team_review.js",
        &server,
        json!({"cardiology": login("dr_heart"), "pharmacy": login("ph_chen"), "nursing": login("rn_li"),
               "day30_task": day30_id}),
    );

    // through the UI: opened from the task, agenda from the patient's record, three sign-offs
    let review_id = out["review_id"].as_i64().unwrap();
    assert_eq!(out["hash"], format!("#/reviews?id={review_id}"));
    assert_eq!(out["status_before"], "open");
    assert_eq!(
        out["signoffs_before"],
        json!([
            {"discipline": "cardiology", "signed": false},
            {"discipline": "pharmacy", "signed": false},
            {"discipline": "nursing", "signed": false},
            {"discipline": "rehabilitation", "signed": false},
            {"discipline": "nutrition", "signed": false}
        ]),
        "required disciplines first, then optional ones: {out:#}"
    );
    let agenda = &out["agenda"];
    assert_eq!(agenda["answer_rows"], 1, "{out:#}");
    assert!(
        agenda["weight_trend"]
            .as_str()
            .unwrap_or_default()
            .contains("trend-rising"),
        "{out:#}"
    );
    assert!(
        agenda["weight_trend_text"]
            .as_str()
            .unwrap_or_default()
            .contains("+2.5"),
        "{out:#}"
    );
    assert_eq!(agenda["calls"], 1);
    assert_eq!(agenda["recording_links"], 1);
    assert_eq!(agenda["transcript_links"], 1);
    assert_eq!(out["close_disabled_at_start"], true);
    assert_eq!(out["close_disabled_after_cardiology"], true);
    assert_eq!(
        out["pharmacy_questions"],
        json!(["med_adherence", "reconciliation_issue"]),
        "the pharmacist answers the pharmacy section only"
    );
    assert_eq!(out["close_enabled_when_all_signed"], true);
    assert_eq!(out["status_after"], "closed");
    for s in out["signoffs_after"].as_array().unwrap().iter().take(3) {
        assert_eq!(s["signed"], true, "{out:#}");
    }
    assert_eq!(
        out["action_form_after_close"], 0,
        "a closed review takes no actions"
    );
    assert_eq!(
        out["list_after_close"], 0,
        "a closed review leaves the list"
    );

    // through the API: the review, its agenda, the task it created, the completed review task
    let card = Client::login(&server, "dr_heart", PASSWORD);
    let r = card.get(&format!("/api/v1/reviews/{review_id}"));
    assert_eq!(r.status, 200, "{}", r.body);
    let review = &r.body["review"];
    assert_eq!(review["status"], "closed");
    assert_eq!(review["task_id"], review_task_id);
    assert_eq!(review["missing"], json!([]));
    let signed: Vec<(&str, &str)> = review["assessments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["discipline"].as_str().unwrap(),
                a["author_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        signed,
        [
            ("cardiology", "dr_heart (cardiology)"),
            ("pharmacy", "ph_chen (pharmacy)"),
            ("nursing", "rn_li (nursing)")
        ]
    );
    assert_eq!(
        review["assessments"][0]["answers"]["nyha_class"],
        json!({"type": "choice", "value": "iii"})
    );
    assert_eq!(
        review["assessments"][1]["answers"]["med_adherence"],
        json!({"type": "choice", "value": "partial"})
    );
    let agenda = &r.body["agenda"];
    assert_eq!(
        agenda["answers"][0]["trend"],
        json!({"trend": "rising", "delta": 2.5})
    );
    assert_eq!(agenda["calls"][0]["id"], call_id.as_str());
    assert_eq!(
        agenda["adherence"]["missed"], 3,
        "day 1, 3 and 7 calls: {agenda:#}"
    );

    let action = &review["actions"][0];
    assert_eq!(
        action["action"],
        json!({"kind": "follow_up_task", "script": "heart-failure", "role": "team",
               "in_days": 2, "assignee": "pharmacy"})
    );
    let new_task = action["task_id"].as_i64().unwrap();
    assert_eq!(out["action_task"], new_task);
    let task = card.get(&format!("/api/v1/tasks/{new_task}")).body;
    assert_eq!(task["patient_id"], patient);
    assert_eq!(task["status"], "pending");
    assert_eq!(task["script_code"], "heart-failure");
    assert_eq!(task["role"], "team");
    assert_eq!(
        task["step_name"],
        format!("Clinical pharmacy follow-up (team review #{review_id})")
    );
    let due = chrono::DateTime::parse_from_rfc3339(task["due_at"].as_str().unwrap()).unwrap();
    let days_ahead = (due.with_timezone(&Utc) - now).num_hours();
    assert!(
        (24..=48).contains(&days_ahead),
        "due at the start of the day after tomorrow (hospital time): {due} vs {now}"
    );
    // not in today's queue; it joins on its day (the store test builds the queue then)
    admin.post("/api/v1/queue/build", json!({}));
    let queue = card.get("/api/v1/queue?limit=200").body;
    assert!(
        !queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == new_task),
        "not before its day"
    );
    // the pathway was adjusted: the day-30 review is due a week later
    assert_eq!(out["postponed_task"], day30_id);
    assert_eq!(
        review["actions"][1]["action"],
        json!({"kind": "adjust_pathway", "task_id": day30_id,
               "change": {"op": "postpone", "days": 7}})
    );
    let moved = card.get(&format!("/api/v1/tasks/{day30_id}")).body;
    let moved_due =
        chrono::DateTime::parse_from_rfc3339(moved["due_at"].as_str().unwrap()).unwrap();
    assert_eq!(moved_due - day30_due, chrono::Duration::days(7));
    assert_eq!(moved["status"], "pending");
    let done = card.get(&format!("/api/v1/tasks/{review_task_id}")).body;
    assert_eq!(
        done["status"], "completed",
        "closing completes the review task"
    );

    // the printed report shows the completed review
    let report = card.get(&format!("/api/v1/patients/{patient}/report")).body;
    assert_eq!(report["reviews"][0]["id"], review_id);

    // every change was audited, by whom it was made
    let audit = audit_actions(&server);
    let entry = |actor: &str, action: &str| {
        audit.iter().any(|(a, act, entity, id)| {
            a == actor && act == action && entity == "team_review" && *id == review_id.to_string()
        })
    };
    for (actor, action) in [
        ("dr_heart", "open"),
        ("dr_heart", "sign"),
        ("dr_heart", "action"),
        ("ph_chen", "sign"),
        ("rn_li", "sign"),
        ("rn_li", "close"),
    ] {
        assert!(
            entry(actor, action),
            "no audit of {actor} {action}: {audit:#?}"
        );
    }

    // abnormal through the API: closed means closed; a supervisor cannot sign
    let nurse = Client::login(&server, "rn_li", PASSWORD);
    let again = nurse.post(
        &format!("/api/v1/reviews/{review_id}/actions"),
        json!({"kind": "follow_up_task", "script": "heart-failure", "role": "nurse", "in_days": 1}),
    );
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.body["error"]["code"], "review_closed");
    let sup = Client::login(&server, "supervisor", "supervisor-demo-1");
    let refused = sup.post(
        &format!("/api/v1/reviews/{review_id}/assessments"),
        json!({"text": "x"}),
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
}
