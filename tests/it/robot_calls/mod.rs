//! Acceptance (issue 24), end to end with a real peer: the real `suifang demo` binary's robot
//! dialer calls a heart-failure patient whose task comes from a pathway step with
//! `mode = "robot"`, through a SIP trunk that is a baresip softphone (auto-answer, keys sent
//! as RFC 4733 telephone-events with `/sndcode`, what it hears dumped to a WAV) — or sipp
//! refusing the call, or nothing at all for a trunk that is down.
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
//! The tests wait on what the server reports (the robot call's question log, the call row),
//! not on sleeps: each key is pressed once the previous answer is logged. Two checks that
//! something does not happen (no second call) watch a 3-s window, three dialer polls.

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
        RobotFloor::open_with(number, Peer::Baresip { talking }, "robot", "en")
    }

    /// `peer` answers the trunk; the pathway step has `mode`; the patient speaks `lang`.
    fn open_with(number: &str, peer: Peer, mode: &str, lang: &str) -> RobotFloor {
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
                    "language": lang }),
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

mod by_keypad;
mod failures;
