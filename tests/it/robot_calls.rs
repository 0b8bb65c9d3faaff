//! Acceptance (issue 24), end to end with a real peer: the real `suifang demo` binary's robot
//! dialer calls a heart-failure patient whose task comes from a pathway step with
//! `mode = "robot"`, through a SIP trunk that is a baresip softphone (auto-answer, keys sent
//! as RFC 4733 telephone-events with `/sndcode`, what it hears dumped to a WAV).
//!
//! 1. The patient answers every question by keypad in English: the answers land on the task
//!    (through the answer service), the per-question log is readable, the task completes.
//! 2. "Breathless at rest: yes" with no nurse to take the hand-off: the patient hears the
//!    rule's advice (found in baresip's own recording of what it received), the urgent
//!    escalation exists and the task is a nurse call-back at the top of the queue.
//! 3. The same with a nurse's Chromium line free: the call is handed off to her live.
//! 4. The patient hangs up mid-question: the given answers stay, the task is the nurses'.
//! 5. Silence at consent, an unparseable answer (asked again, then unconfirmed), a busy
//!    patient, a trunk that is down: each has its defined outcome.
//! 6. `kill -9` mid robot call: the recording is repaired, the robot call closed as
//!    interrupted, no attempt charged, nothing counted complete, and the robot calls again.
//!
//! The test waits on what the server reports (the robot call's question log, the call row),
//! not on sleeps: each key is pressed once the previous answer is logged.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{json, Value};

use crate::common::browser::BrowserLine;
use crate::common::call_harness::{call, Baresip, FixedSipp, Suifang, NO_TRUNK_PINGS};
use crate::common::serial;
use crate::common::sip_peers::{fixtures, free_udp_port, require_baresip, require_sipp};
use crate::common::{repo_root, wait_for, Client};

/// A robot step for one ICD-10 code no demo patient has (I50.23), so only the test's own
/// patient gets a robot task.
const ROBOT_PATHWAY: &str = r#"
code = "robot-hf-test"
version = 1
title = { en = "Heart failure by robot (test)", zh = "心衰机器人随访（测试）" }
priority = 40
[match]
icd10 = ["I50.23"]
[[steps]]
name = { en = "Day 1 robot call", zh = "第1天机器人随访" }
day = 1
window_after_days = 2
script = "heart-failure"
role = "nurse"
mode = "robot"
"#;

/// Who answers the trunk.
enum Peer {
    /// A baresip phone that answers; `talking`: it sends speech all along (else silence).
    Baresip { talking: bool },
    /// A sipp phone that rings, then refuses every call with this final status.
    Refusing { status: u16, reason: &'static str },
    /// Nothing listens on the trunk's port (the trunk is down).
    Nobody,
}

/// A server whose trunk is a patient phone (baresip, or sipp refusing), with the robot
/// dialer on.
struct RobotFloor {
    suifang: Suifang,
    phone: Option<Baresip>,
    _refusing: Option<FixedSipp>,
    supervisor: Client,
    patient_id: i64,
    task_id: i64,
    /// The server's data directory and environment, for a restart on them.
    data: PathBuf,
    env: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl RobotFloor {
    /// A baresip patient for a `mode = "robot"` step; `talking`: the phone sends speech all
    /// along (else silence).
    fn open(number: &str, talking: bool) -> RobotFloor {
        RobotFloor::open_with(number, Peer::Baresip { talking }, "robot")
    }

    /// `peer` answers the trunk; the pathway step has `mode`.
    fn open_with(number: &str, peer: Peer, mode: &str) -> RobotFloor {
        let dir = tempfile::tempdir().expect("tempdir");
        let prompts = dir.path().join("prompts");
        let status = Command::new("cp")
            .arg("-r")
            .arg(repo_root().join("prompts"))
            .arg(&prompts)
            .status()
            .expect("cp");
        assert!(status.success(), "copy prompts");
        std::fs::write(
            prompts.join("pathways/robot-hf-test.toml"),
            ROBOT_PATHWAY.replace("mode = \"robot\"", &format!("mode = \"{mode}\"")),
        )
        .expect("pathway");
        let config = dir.path().join("suifang.toml");
        std::fs::write(
            &config,
            "[robot]\nenabled = true\npoll_seconds = 1\nmax_concurrent_calls = 1\n\
             handoff_wait_seconds = 2\n",
        )
        .expect("config");
        let trunk_port = free_udp_port();
        let (phone, refusing) = match peer {
            Peer::Baresip { talking } => {
                // ~2 minutes of audio: the call lasts until the robot (or the nurse) hangs up
                let audio = dir.path().join("patient.wav");
                let mut sox = Command::new("sox");
                if talking {
                    sox.arg(fixtures().join("patient-en-8k.wav"))
                        .arg(&audio)
                        .args(["repeat", "17"]);
                } else {
                    sox.args(["-n", "-r", "8000", "-c", "1", "-b", "16"])
                        .arg(&audio)
                        .args(["trim", "0", "150"]);
                }
                assert!(sox.status().expect("sox").success(), "sox patient audio");
                (Some(Baresip::start(&audio, number, trunk_port, None)), None)
            }
            Peer::Refusing { status, reason } => {
                let scenario = std::fs::read_to_string(fixtures().join("uas_reject.xml"))
                    .expect("scenario")
                    .replace("STATUS_CODE", &status.to_string())
                    .replace("STATUS_REASON", reason);
                (None, Some(FixedSipp::uas(&scenario, trunk_port)))
            }
            Peer::Nobody => (None, None),
        };
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("mkdir");
        let mut env = vec![
            (
                "SUIFANG_SIP_TRUNK".to_owned(),
                format!("127.0.0.1:{trunk_port}"),
            ),
            ("SUIFANG_CONFIG".to_owned(), config.display().to_string()),
            (
                "SUIFANG_PROMPTS_DIR".to_owned(),
                prompts.display().to_string(),
            ),
        ];
        if phone.is_none() {
            // sipp takes a ping for its one call; with no trunk the call itself must fail
            env.push((NO_TRUNK_PINGS.0.to_owned(), NO_TRUNK_PINGS.1.to_owned()));
        }
        let suifang = start_on(&data, &env);
        let supervisor = suifang.login("supervisor", "supervisor-demo-1");
        let created = supervisor.post(
            "/api/v1/patients",
            json!({ "mrn": format!("ROBOT-{number}"), "name": "Robot Test", "phone": number,
                    "language": "en" }),
        );
        assert_eq!(created.status, 201, "{}", created.body);
        let patient_id = created.body["id"].as_i64().expect("patient id");
        let discharged_at = (Utc::now() - chrono::Duration::days(1)).to_rfc3339();
        let discharge = supervisor.post(
            &format!("/api/v1/patients/{patient_id}/discharges"),
            json!({ "discharged_at": discharged_at, "department": "cardiology",
                    "diagnoses": [{ "icd10": "I50.23" }] }),
        );
        assert_eq!(discharge.status, 201, "{}", discharge.body);
        assert_eq!(
            discharge.body["pathway"], "robot-hf-test",
            "{}",
            discharge.body
        );
        let tasks = supervisor.get(&format!("/api/v1/patients/{patient_id}/tasks"));
        assert_eq!(tasks.status, 200, "{}", tasks.body);
        let task_id = tasks.body["items"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["step_name"] == "Day 1 robot call"))
            .and_then(|t| t["id"].as_i64())
            .unwrap_or_else(|| panic!("no robot task: {}", tasks.body));
        RobotFloor {
            suifang,
            phone,
            _refusing: refusing,
            supervisor,
            patient_id,
            task_id,
            data,
            env,
            _dir: dir,
        }
    }

    /// `kill -9` of the server, `meanwhile` (the server is down), then a start on the same data
    /// directory; returns the floor and the start-up's recovery line.
    fn kill9_and_restart(self, meanwhile: impl FnOnce(&Baresip)) -> (RobotFloor, String) {
        let RobotFloor {
            suifang,
            phone,
            _refusing,
            patient_id,
            task_id,
            data,
            env,
            _dir,
            ..
        } = self;
        suifang.kill9();
        meanwhile(phone.as_ref().expect("a baresip patient"));
        let suifang = start_on(&data, &env);
        let recovered = suifang
            .stdout_line("recovered after an unclean stop")
            .expect("the start-up said it recovered");
        let supervisor = suifang.login("supervisor", "supervisor-demo-1");
        let floor = RobotFloor {
            suifang,
            phone,
            _refusing,
            supervisor,
            patient_id,
            task_id,
            data,
            env,
            _dir,
        };
        (floor, recovered)
    }

    /// The baresip patient phone.
    fn phone(&self) -> &Baresip {
        self.phone.as_ref().expect("a baresip patient")
    }

    /// The task's robot calls (the newest last).
    fn robot_calls(&self) -> Vec<Value> {
        let r = self
            .supervisor
            .get(&format!("/api/v1/tasks/{}/robot-calls", self.task_id));
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["items"].as_array().cloned().unwrap_or_default()
    }

    /// The question log of the robot call, once it has a line for `question`.
    fn logged(&self, question: &str, limit: Duration) -> Option<Value> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let line = self.robot_calls().last().and_then(|c| {
                c["questions"]
                    .as_array()
                    .and_then(|q| q.iter().find(|l| l["question"] == question).cloned())
            });
            if line.is_some() {
                return line;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// Waits for the robot call to be answered; returns its call id.
    fn answered(&self) -> String {
        self.answered_call(0)
    }

    /// Waits for the task's `n`-th robot call (from 0) to be answered; returns its call id.
    fn answered_call(&self, n: usize) -> String {
        let id = wait_for("the robot dialer to call", Duration::from_secs(20), || {
            self.robot_calls()
                .get(n)
                .and_then(|c| c["call_id"].as_str().map(str::to_owned))
        });
        wait_for(
            "the patient phone to answer",
            Duration::from_secs(20),
            || {
                let c = call(&self.supervisor, &id);
                (c["state"] == "answered").then_some(())
            },
        );
        id
    }

    /// Consents: 1 is pressed until the robot takes it (keys during the recording notice are
    /// ignored by design, so the first ones may be).
    fn consent(&self) {
        for _ in 0..15 {
            self.phone().press('1');
            if let Some(line) = self.logged("consent", Duration::from_secs(2)) {
                assert_eq!(line["status"], "answered", "{line}");
                return;
            }
        }
        panic!(
            "the robot never took the consent key: {:?}",
            self.robot_calls()
        );
    }

    /// Answers `question` with `keys` and waits until its log line says `status`.
    fn answer(&self, question: &str, keys: &str, status: &str) -> Value {
        for k in keys.chars() {
            self.phone().press(k);
        }
        let line = self
            .logged(question, Duration::from_secs(20))
            .unwrap_or_else(|| panic!("{question}: not logged: {:?}", self.robot_calls()));
        assert_eq!(line["status"], status, "{question}: {line}");
        line
    }

    /// Waits for the robot call to have ended; returns it.
    fn ended(&self, limit: Duration) -> Value {
        wait_for("the robot call to end", limit, || {
            self.robot_calls()
                .last()
                .filter(|c| !c["ended_at"].is_null())
                .cloned()
        })
    }

    fn task(&self) -> Value {
        let r = self
            .supervisor
            .get(&format!("/api/v1/tasks/{}", self.task_id));
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }
}

fn start_on(data: &Path, env: &[(String, String)]) -> Suifang {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Suifang::start(data, &env)
}

fn answers(floor: &RobotFloor) -> Vec<Value> {
    let r = floor
        .supervisor
        .get(&format!("/api/v1/tasks/{}/answers", floor.task_id));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"].as_array().cloned().unwrap_or_default()
}

fn answer_of<'a>(answers: &'a [Value], question: &str) -> &'a Value {
    answers
        .iter()
        .find(|a| a["question_id"] == question)
        .unwrap_or_else(|| panic!("no answer to {question}: {answers:?}"))
}

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
    let floor = RobotFloor::open_with("+8613900000238", Peer::Nobody, "robot_then_nurse");
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
