//! Robot calls that do not go as planned, each with its defined outcome: the patient hangs
//! up, stays silent, gives an unparseable answer or is busy; the trunk is down; the server is
//! killed mid-call.

use super::*;

#[test]
fn hanging_up_mid_question_keeps_the_answers_and_hands_the_task_to_the_nurses() {
    let _machine = serial::shared();
    if !require_baresip(
        "hanging_up_mid_question_keeps_the_answers_and_hands_the_task_to_the_nurses",
    ) {
        return;
    }
    let floor = RobotFloor::open("+8613900000234", false);
    let call_id = floor.answered();
    floor.consent();
    floor.answer("weight", "72#1", "answered");
    // the next question is being asked: a key half-way through a number would be lost with
    // it, a saved answer must not be
    floor.phone().hang_up();
    let ended = floor.ended(Duration::from_secs(20));
    assert_eq!(
        ended["outcome"],
        json!({ "outcome": "hung_up", "during": "breathless_worse" }),
        "{ended}"
    );
    let open = ended["questions"]
        .as_array()
        .and_then(|q| q.iter().find(|l| l["question"] == "breathless_worse"))
        .unwrap_or_else(|| panic!("the open question is logged: {ended}"));
    assert_eq!(open["status"], "hung_up", "{open}");
    assert!(open["value"].is_null(), "{open}");
    let saved = answers(&floor);
    assert_eq!(saved.len(), 1, "only the answer given: {saved:?}");
    assert_eq!(
        answer_of(&saved, "weight")["value"],
        json!({"type": "number", "value": 72.0})
    );
    // not completed: a nurse finishes the script, in the ordinary queue (not a call-back)
    let task = floor.task();
    assert_eq!(task["status"], "pending", "{task}");
    assert_eq!(task["attempts_total"], 0, "the patient was reached: {task}");
    assert!(task["flagged"].is_null(), "{task}");
    assert_eq!(task["priority"], 40, "{task}");
    assert!(
        task["step_name"]
            .as_str()
            .is_some_and(|s| s.ends_with("(after robot call)")),
        "{task}"
    );
    let built = floor.supervisor.post("/api/v1/queue/build", json!({}));
    assert_eq!(built.status, 200, "{}", built.body);
    let queue = floor.supervisor.get("/api/v1/queue");
    let queued = queue.body["items"].as_array().is_some_and(|items| {
        items
            .iter()
            .any(|t| t["id"].as_i64() == Some(floor.task_id))
    });
    assert!(queued, "the nurses' queue has it: {}", queue.body);
    let row = call(&floor.supervisor, &call_id);
    assert_eq!(row["state"], "ended", "{row}");
    // and the robot does not call again: one robot call in all, three dialer polls later (a
    // negative check needs a window)
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(floor.robot_calls().len(), 1, "{:?}", floor.robot_calls());
}

#[test]
fn kill_9_mid_robot_call_repairs_the_recording_and_the_robot_calls_again() {
    let _machine = serial::shared();
    if !require_baresip("kill_9_mid_robot_call_repairs_the_recording_and_the_robot_calls_again") {
        return;
    }
    let floor = RobotFloor::open("+8613900000235", false);
    let first = floor.answered();
    floor.consent();
    floor.answer("weight", "72#1", "answered");
    // mid-question: "breathless_worse" is being asked, a half-typed answer is in flight
    floor.phone().press('1');
    // the patient's phone hears nothing more and hangs up the dead call (before the restarted
    // server's robot rings again: baresip's `hangup` ends its newest call)
    let (floor, recovered) = floor.kill9_and_restart(|phone| {
        phone.hang_up();
        phone.wait_for_output("terminate call", 1, Duration::from_secs(10));
    });
    eprintln!("start-up: {recovered}");
    assert!(
        recovered.contains("1 recording(s) repaired, 0 lost, 1 call(s) marked interrupted"),
        "{recovered}"
    );
    let row = call(&floor.supervisor, &first);
    assert_eq!(row["end_reason"], "interrupted_by_server_restart", "{row}");
    assert_eq!(row["recording"]["status"], "repaired", "{row}");
    let calls = floor.robot_calls();
    assert_eq!(
        calls[0]["outcome"],
        json!({ "outcome": "interrupted" }),
        "{calls:?}"
    );
    assert!(calls[0]["ended_at"].is_string(), "{calls:?}");
    // what was saved stays, nothing is counted complete, no attempt is charged
    let task = floor.task();
    assert_eq!(task["status"], "pending", "{task}");
    assert_eq!(task["attempts_total"], 0, "{task}");
    let saved = answers(&floor);
    assert!(
        saved.iter().any(|a| a["question_id"] == "weight"),
        "the saved answer stays: {saved:?}"
    );
    assert!(
        saved.len() <= 2,
        "at most weight and the key in flight, each whole: {saved:?}"
    );
    // the robot dialer takes the task again and the patient is rung again
    let second = floor.answered_call(1);
    assert_ne!(second, first);
    floor.consent();
    floor.phone().hang_up();
    let ended = floor.ended(Duration::from_secs(20));
    assert_eq!(ended["call_id"], second.as_str(), "{ended}");
    assert_eq!(ended["outcome"]["outcome"], "hung_up", "{ended}");
}

#[test]
fn a_busy_patient_is_retried_by_the_policy_and_robot_then_nurse_goes_to_the_nurses() {
    let _machine = serial::shared();
    if !require_sipp(
        "a_busy_patient_is_retried_by_the_policy_and_robot_then_nurse_goes_to_the_nurses",
    ) {
        return;
    }
    for (mode, number) in [
        ("robot", "+8613900000236"),
        ("robot_then_nurse", "+8613900000237"),
    ] {
        let floor = RobotFloor::open_with(
            number,
            Peer::Refusing {
                status: 486,
                reason: "Busy Here",
            },
            mode,
            "en",
        );
        let ended = floor.ended(Duration::from_secs(30));
        assert_eq!(
            ended["outcome"],
            json!({ "outcome": "not_answered", "disposition": "busy" }),
            "{mode}: {ended}"
        );
        assert!(ended["questions"].as_array().is_some_and(|q| q.is_empty()));
        let row = call(
            &floor.supervisor,
            ended["call_id"].as_str().expect("call id"),
        );
        assert_eq!(row["end_reason"], "busy", "{mode}: {row}");
        // the nurses' retry policy: one attempt, the next one hours away
        let task = floor.task();
        assert_eq!(task["status"], "pending", "{mode}: {task}");
        assert_eq!(task["attempts_total"], 1, "{mode}: {task}");
        assert_eq!(task["last_disposition"], "busy", "{mode}: {task}");
        let next = task["next_attempt_at"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .unwrap_or_else(|| panic!("{mode}: next attempt: {task}"));
        assert!(
            next > Utc::now() + chrono::Duration::minutes(30),
            "{mode}: not rung again at once: {task}"
        );
        let built = floor.supervisor.post("/api/v1/queue/build", json!({}));
        assert_eq!(built.status, 200, "{}", built.body);
        let queue = floor.supervisor.get("/api/v1/queue");
        let queued = queue.body["items"].as_array().is_some_and(|items| {
            items
                .iter()
                .any(|t| t["id"].as_i64() == Some(floor.task_id))
        });
        let handed = task["step_name"]
            .as_str()
            .is_some_and(|s| s.ends_with("(after robot call)"));
        if mode == "robot" {
            // the robot's own task: it tries again when the policy says, nurses never see it
            assert!(!queued && !handed, "{mode}: {task} {}", queue.body);
        } else {
            assert!(queued && handed, "{mode}: {task} {}", queue.body);
        }
    }
}

#[test]
fn a_trunk_that_is_down_charges_no_attempt_and_the_robot_waits_before_trying_again() {
    let _machine = serial::shared();
    let floor = RobotFloor::open_with("+8613900000238", Peer::Nobody, "robot_then_nurse", "en");
    let ended = floor.ended(Duration::from_secs(60));
    assert_eq!(
        ended["outcome"],
        json!({ "outcome": "not_answered" }),
        "no disposition: the patient was never rung: {ended}"
    );
    let task = floor.task();
    assert_eq!(task["status"], "pending", "{task}");
    assert_eq!(task["attempts_total"], 0, "{task}");
    assert!(task["last_disposition"].is_null(), "{task}");
    let handed = task["step_name"]
        .as_str()
        .is_some_and(|s| s.ends_with("(after robot call)"));
    assert!(!handed, "still the robot's: {task}");
    let next = task["next_attempt_at"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .unwrap_or_else(|| panic!("next attempt: {task}"));
    assert!(
        next > Utc::now() + chrono::Duration::seconds(200),
        "the robot waits before dialling again: {task}"
    );
    // not redialled at every poll (1 s): still one robot call three polls later
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(floor.robot_calls().len(), 1, "{:?}", floor.robot_calls());
}

#[test]
fn silence_at_the_consent_question_ends_the_call_before_any_question() {
    let _machine = serial::shared();
    if !require_baresip("silence_at_the_consent_question_ends_the_call_before_any_question") {
        return;
    }
    let floor = RobotFloor::open("+8613900000239", false);
    floor.answered();
    // the patient says nothing and presses nothing: consent is asked twice, then the robot
    // says goodbye without a single health question
    let ended = floor.ended(Duration::from_secs(60));
    assert_eq!(
        ended["outcome"],
        json!({ "outcome": "no_consent" }),
        "{ended}"
    );
    let log = ended["questions"].as_array().expect("question log");
    assert_eq!(log.len(), 1, "consent only: {ended}");
    assert_eq!(log[0]["question"], "consent", "{ended}");
    assert_eq!(log[0]["attempts"], 2, "{ended}");
    assert_eq!(log[0]["keys"], "", "{ended}");
    assert!(answers(&floor).is_empty());
    let task = floor.task();
    assert_eq!(task["status"], "pending", "{task}");
    assert_eq!(
        task["attempts_total"], 0,
        "reached, not an unanswered call: {task}"
    );
    assert!(
        task["step_name"]
            .as_str()
            .is_some_and(|s| s.ends_with("(after robot call)")),
        "a nurse asks for consent herself: {task}"
    );
}

#[test]
fn an_unparseable_answer_is_asked_again_then_left_unconfirmed_for_a_nurse() {
    let _machine = serial::shared();
    if !require_baresip("an_unparseable_answer_is_asked_again_then_left_unconfirmed_for_a_nurse") {
        return;
    }
    let floor = RobotFloor::open("+8613900000240", false);
    floor.answered();
    floor.consent();
    // 1 kg is no weight; then # alone is no number either: asked twice, left unconfirmed
    let weight = floor.answer("weight", "1##", "unconfirmed");
    assert_eq!(
        (weight["attempts"].as_i64(), weight["keys"].as_str()),
        (Some(2), Some("1##"))
    );
    assert!(weight["value"].is_null(), "{weight}");
    for (question, keys) in [
        ("breathless_worse", "2"),
        ("breathless_at_rest", "2"),
        ("orthopnea", "2"),
        ("leg_swelling", "2"),
        ("bp", "120#80#1"),
        ("meds_taken", "1"),
        ("low_salt_diet", "1"),
        ("activity_as_advised", "1"),
        ("social_problem", "2"),
    ] {
        floor.answer(question, keys, "answered");
    }
    let ended = floor.ended(Duration::from_secs(30));
    assert_eq!(
        ended["outcome"],
        json!({ "outcome": "incomplete", "unconfirmed": ["weight"] }),
        "{ended}"
    );
    let saved = answers(&floor);
    assert_eq!(saved.len(), 9, "{saved:?}");
    assert!(
        !saved.iter().any(|a| a["question_id"] == "weight"),
        "nothing guessed for weight: {saved:?}"
    );
    let task = floor.task();
    assert_eq!(task["status"], "pending", "not complete: {task}");
    assert!(
        task["step_name"]
            .as_str()
            .is_some_and(|s| s.ends_with("(after robot call)")),
        "a nurse asks the weight: {task}"
    );
}

#[test]
fn a_chinese_patient_is_not_called_by_a_robot_that_cannot_speak_chinese() {
    let _machine = serial::shared();
    if !require_baresip("a_chinese_patient_is_not_called_by_a_robot_that_cannot_speak_chinese") {
        return;
    }
    // read-backs and advice are synthesised, and espeak-ng spells characters out: the task
    // goes to the nurses at once rather than a call of noise (the phone would answer)
    let floor = RobotFloor::open_with(
        "+8613900000241",
        Peer::Baresip { talking: false },
        "robot",
        "zh",
    );
    let task = wait_for(
        "the task to go to the nurses",
        Duration::from_secs(20),
        || {
            let t = floor.task();
            t["step_name"]
                .as_str()
                .is_some_and(|s| s.ends_with("(the robot cannot call in the patient's language)"))
                .then_some(t)
        },
    );
    assert_eq!(task["status"], "pending", "{task}");
    assert_eq!(task["attempts_total"], 0, "{task}");
    assert!(floor.robot_calls().is_empty(), "never dialled");
    let built = floor.supervisor.post("/api/v1/queue/build", json!({}));
    assert_eq!(built.status, 200, "{}", built.body);
    let queue = floor.supervisor.get("/api/v1/queue");
    let queued = queue.body["items"].as_array().is_some_and(|items| {
        items
            .iter()
            .any(|t| t["id"].as_i64() == Some(floor.task_id))
    });
    assert!(queued, "the nurses' queue has it: {}", queue.body);
}
