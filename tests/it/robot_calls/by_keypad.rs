//! Robot calls that reach the patient and go as planned: a whole call by keypad, and the
//! hand-off on "breathless at rest" with and without a free nurse.

use super::*;

#[test]
fn a_patient_completes_a_heart_failure_robot_call_by_keypad() {
    let _machine = serial::shared();
    if !require_baresip("a_patient_completes_a_heart_failure_robot_call_by_keypad") {
        return;
    }
    let floor = RobotFloor::open("+8613900000231", false);
    let call_id = floor.answered();
    floor.consent();
    let weight = floor.answer("weight", "72*5#1", "answered");
    assert_eq!(weight["keys"], "72*5#1", "{weight}");
    assert!(
        weight["answer_at_ms"].as_i64() > weight["prompt_at_ms"].as_i64(),
        "{weight}"
    );
    for (question, key) in [
        ("breathless_worse", "2"),
        ("breathless_at_rest", "2"),
        ("orthopnea", "2"),
        ("leg_swelling", "2"),
    ] {
        floor.answer(question, key, "answered");
    }
    floor.answer("bp", "120#80#1", "answered");
    for (question, key) in [
        ("meds_taken", "1"),
        ("low_salt_diet", "1"),
        ("activity_as_advised", "1"),
        ("social_problem", "2"),
    ] {
        floor.answer(question, key, "answered");
    }
    let ended = floor.ended(Duration::from_secs(30));
    assert_eq!(
        ended["outcome"],
        json!({ "outcome": "completed" }),
        "{ended}"
    );
    let log = ended["questions"].as_array().expect("question log");
    let names: Vec<&str> = log.iter().filter_map(|l| l["question"].as_str()).collect();
    assert_eq!(
        names,
        [
            "consent",
            "weight",
            "breathless_worse",
            "breathless_at_rest",
            "orthopnea",
            "leg_swelling",
            "bp",
            "meds_taken",
            "low_salt_diet",
            "activity_as_advised",
            "social_problem",
            "notes"
        ],
        "{ended}"
    );
    assert_eq!(log[11]["status"], "skipped", "free text is left to a nurse");
    // the answers are the task's, as if a nurse had typed them
    let saved = answers(&floor);
    assert_eq!(saved.len(), 10, "{saved:?}");
    assert_eq!(
        answer_of(&saved, "weight")["value"],
        json!({"type": "number", "value": 72.5})
    );
    assert_eq!(
        answer_of(&saved, "bp")["value"],
        json!({"type": "blood_pressure", "value": {"systolic": 120, "diastolic": 80}})
    );
    assert_eq!(
        answer_of(&saved, "breathless_at_rest")["value"],
        json!({"type": "yes_no", "value": false})
    );
    let task = wait_for("the task to complete", Duration::from_secs(10), || {
        let t = floor.task();
        (t["status"] != "pending").then_some(t)
    });
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(task["last_disposition"], "completed", "{task}");
    let row = call(&floor.supervisor, &call_id);
    assert_eq!(row["state"], "ended", "{row}");
    assert!(row["agent_id"].is_null(), "no nurse on a robot call: {row}");
    // the patient heard the robot: the recording notice, in full (it cannot be interrupted),
    // is in baresip's recording of what it received
    let notice = "Hello, this is the hospital's automated follow-up call. This call is recorded.";
    let (heard, rate) = floor.phone().heard();
    assert_eq!(rate, 8000, "baresip dumps at the call's 8 kHz");
    let found = find_speech(&rendered(notice, floor._dir.path()), &heard);
    eprintln!(
        "recording notice in the patient's recording: corr {:.2} at {:.1} s, rms {:.0}",
        found.0, found.1, found.2
    );
    assert!(found.0 > 0.6, "the notice reached the patient: {found:?}");
}

#[test]
fn breathless_at_rest_with_no_nurse_free_plays_the_advice_and_queues_a_call_back() {
    let _machine = serial::shared();
    if !require_baresip(
        "breathless_at_rest_with_no_nurse_free_plays_the_advice_and_queues_a_call_back",
    ) {
        return;
    }
    let floor = RobotFloor::open("+8613900000232", false);
    floor.answered();
    floor.consent();
    floor.answer("weight", "72#1", "answered");
    floor.answer("breathless_worse", "2", "answered");
    floor.answer("breathless_at_rest", "1", "answered");
    let ended = floor.ended(Duration::from_secs(60));
    assert_eq!(ended["outcome"]["outcome"], "call_back", "{ended}");
    assert_eq!(ended["outcome"]["reason"]["reason"], "finding", "{ended}");
    assert_eq!(
        ended["outcome"]["reason"]["finding"]["rule"], "hf-breathless-at-rest",
        "{ended}"
    );
    // the urgent escalation exists, from the robot's answer
    let doctor = floor.suifang.login("doctor", "doctor-demo-1");
    let escalations = doctor.get("/api/v1/escalations");
    assert_eq!(escalations.status, 200, "{}", escalations.body);
    let ours = escalations.body["items"]
        .as_array()
        .and_then(|items| {
            items.iter().find(|e| {
                e["key"]["patient"] == floor.patient_id
                    && e["key"]["rule"] == "hf-breathless-at-rest"
            })
        })
        .cloned()
        .unwrap_or_else(|| panic!("no escalation: {}", escalations.body));
    assert_eq!(ours["severity"], "urgent", "{ours}");
    // the task is now the nurses', at the top of their queue as a call-back
    let task = floor.task();
    assert_eq!(task["status"], "pending", "{task}");
    assert!(task["priority"].as_i64() >= Some(1_000), "{task}");
    assert_eq!(task["flagged"], "robot_handoff", "{task}");
    let built = floor.supervisor.post("/api/v1/queue/build", json!({}));
    assert_eq!(built.status, 200, "{}", built.body);
    let queue = floor.supervisor.get("/api/v1/queue");
    assert_eq!(
        queue.body["items"][0]["id"].as_i64(),
        Some(floor.task_id),
        "the call-back tops the queue: {}",
        queue.body
    );
    // the patient heard the advice: baresip's recording of what it received holds it
    let advice =
        "Sit upright and rest; if breathing gets worse, chest pain or blue lips, call 120 now.";
    let reference = rendered(advice, floor._dir.path());
    let (heard, rate) = floor.phone().heard();
    assert_eq!(rate, 8000, "baresip dumps at the call's 8 kHz");
    let found = find_speech(&reference, &heard);
    eprintln!(
        "advice in the patient's recording: corr {:.2} at {:.1} s, rms {:.0}",
        found.0, found.1, found.2
    );
    assert!(
        found.0 > 0.6,
        "the advice is in what the patient heard: {found:?}"
    );
    assert!(found.2 > 300.0, "and loud enough to hear: {found:?}");
}

#[test]
fn breathless_at_rest_is_handed_off_live_to_a_free_nurse_line() {
    let _machine = serial::shared();
    if !require_baresip("breathless_at_rest_is_handed_off_live_to_a_free_nurse_line") {
        return;
    }
    let floor = RobotFloor::open("+8613900000233", true);
    let mic = repo_root().join("tests/fixtures/webrtc/nurse_en_48k.wav");
    let mut line = BrowserLine::connect(
        &repo_root(),
        &floor.suifang.server.base,
        &mic,
        "nurse",
        "nurse-demo-1",
    );
    let nurse = floor.suifang.login("nurse", "nurse-demo-1");
    let nurse_id = nurse.get("/api/v1/me").body["user"]["id"]
        .as_i64()
        .expect("nurse id");
    let call_id = floor.answered();
    floor.consent();
    floor.answer("weight", "72#1", "answered");
    floor.answer("breathless_worse", "2", "answered");
    let before = line.stats();
    floor.answer("breathless_at_rest", "1", "answered");
    // the robot offers the call to the free nurse's browser line at once
    let row = wait_for(
        "the nurse's line to take the call",
        Duration::from_secs(15),
        || {
            let c = call(&floor.supervisor, &call_id);
            (c["agent_id"].as_i64() == Some(nurse_id)).then_some(c)
        },
    );
    assert_eq!(row["state"], "answered", "{row}");
    // she hears the patient (who talks all along) on her line
    let heard = wait_for(
        "the patient's voice on the nurse's line",
        Duration::from_secs(15),
        || {
            let s = line.stats();
            (s["state"]["maxAudioLevel"].as_f64().unwrap_or(0.0) > 0.01).then_some(s)
        },
    );
    eprintln!(
        "nurse line before {} after {}",
        before["state"], heard["state"]
    );
    // the task is hers now: she holds its lease and can go on with the script
    let task = floor.task();
    assert_eq!(task["lease_owner"].as_i64(), Some(nurse_id), "{task}");
    assert_eq!(task["status"], "pending", "{task}");
    let more = nurse.put(
        &format!("/api/v1/tasks/{}/answers/orthopnea", floor.task_id),
        json!({ "value": true, "call_id": call_id }),
    );
    assert_eq!(more.status, 200, "the nurse answers on: {}", more.body);
    let hung = floor
        .supervisor
        .post(&format!("/api/v1/calls/{call_id}/hangup"), json!({}));
    assert_eq!(hung.status, 200, "{}", hung.body);
    let ended = floor.ended(Duration::from_secs(20));
    assert_eq!(ended["outcome"]["outcome"], "handed_off", "{ended}");
    assert_eq!(
        ended["outcome"]["reason"]["finding"]["severity"], "urgent",
        "{ended}"
    );
    let answers = answers(&floor);
    assert_eq!(
        answers.len(),
        4,
        "3 by the robot, 1 by the nurse: {answers:?}"
    );
    drop(line);
}

/// The advice as the server's robot voice renders it (the same espeak-ng words).
fn rendered(text: &str, dir: &Path) -> Vec<i16> {
    let voice = suifang::telephony::robot_voice::RobotVoice::new(
        PathBuf::from("/nonexistent"),
        dir.join("reference-tts"),
    );
    voice
        .spoken(text, suifang::robot::Lang::En)
        .expect("espeak-ng renders the advice")
        .to_vec()
}

/// Where `reference` is in `rec` (both 8 kHz): the best envelope correlation over every
/// start, that start in seconds, and the RMS of `rec` there.
fn find_speech(reference: &[i16], rec: &[i16]) -> (f64, f64, f64) {
    use suifang::media::envelope::{best_lag_correlation, rms_envelope};
    let a = rms_envelope(reference, 8000, 20);
    let b = rms_envelope(rec, 8000, 20);
    let m = best_lag_correlation(&a, &b, b.len() as i64);
    let start = (m.lag_frames.max(0) as usize) * 160;
    let window = &rec[start.min(rec.len())..(start + reference.len()).min(rec.len())];
    let rms = (window.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>()
        / window.len().max(1) as f64)
        .sqrt();
    (m.corr, m.lag_frames as f64 * 0.02, rms)
}
