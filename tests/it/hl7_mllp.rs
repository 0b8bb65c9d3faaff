//! Issue 17 against the real binary and a real HL7 sender: python-hl7's `mllp_send` (PyPI
//! `hl7`, installed by scripts/setup.sh in ~/.cache/suifang/venv) sends ADT^A03 discharges
//! over MLLP; suifang stores each message with its effect before it ACKs, enrols the patient
//! once however often the message is sent, answers a broken message with AE and an ERR naming
//! the field (and keeps it), refuses a message type it does not take with AR, speaks GB 18030
//! back to a GB 18030 sender, and closes connections from outside `hl7.allow`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::common;
use crate::common::call_harness::Suifang;
use crate::common::serial;
use crate::common::wait_for;

fn mllp_send() -> PathBuf {
    let venv = std::env::var_os("SUIFANG_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/suifang/venv")
        });
    let tool = venv.join("bin/mllp_send");
    assert!(
        tool.is_file(),
        "{} is missing: run scripts/setup.sh (it installs python-hl7)",
        tool.display()
    );
    tool
}

/// Sends each message (already encoded) over one MLLP connection; returns the ACKs as text
/// (decoded with `decode`), one per message, and whether the sender succeeded.
fn send(port: u16, dir: &Path, messages: &[Vec<u8>]) -> (bool, Vec<u8>) {
    let file = dir.join(format!("batch-{}.hl7", rand_suffix()));
    let mut framed = Vec::new();
    for m in messages {
        framed.push(0x0b);
        framed.extend_from_slice(m);
        framed.extend_from_slice(&[0x1c, 0x0d]);
    }
    std::fs::write(&file, framed).unwrap();
    let out = Command::new(mllp_send())
        .args(["-p", &port.to_string(), "-f"])
        .arg(&file)
        .arg("127.0.0.1")
        .output()
        .expect("run mllp_send");
    if !out.status.success() {
        eprintln!("mllp_send: {}", String::from_utf8_lossy(&out.stderr));
    }
    (out.status.success(), out.stdout)
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// MSA and ERR lines of the ACKs printed by mllp_send.
fn ack_lines(stdout: &[u8], prefix: &str) -> Vec<String> {
    let (text, _, _) = encoding_rs::GB18030.decode(stdout);
    // mllp_send prints each ACK as received, framing bytes included
    text.split(['\r', '\n'])
        .map(|l| l.trim_matches(['\u{0b}', '\u{1c}']))
        .filter(|l| l.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

fn a03(control_id: &str, mrn: &str, name: &str, birth: &str, charset: &str) -> String {
    let mut pv1 = vec![String::new(); 46];
    pv1[0] = "PV1".into();
    pv1[1] = "1".into();
    pv1[2] = "I".into();
    pv1[3] = "cardiology^301^1".into();
    pv1[7] = "D01^王^强".into();
    pv1[19] = format!("V-{mrn}");
    pv1[36] = "01".into();
    pv1[45] = "20261206080000".into();
    [
        format!("MSH|^~\\&|HIS|HOSP|SUIFANG|HOSP|20261206083000||ADT^A03^ADT_A03|{control_id}|P|2.5|||||CHN|{charset}"),
        "EVN|A03|20261206083000".into(),
        format!("PID|1||{mrn}^^^HOSP^MR||{name}||{birth}|M|||||13800000001"),
        "NK1|1|李^娜|SPO^配偶||13900000002".into(),
        pv1.join("|"),
        "DG1|1||I50.9^心力衰竭^I10".into(),
        String::new(),
    ]
    .join("\r")
}

fn gb18030(text: &str) -> Vec<u8> {
    encoding_rs::GB18030.encode(text).0.into_owned()
}

fn patient_by_mrn(supervisor: &common::Client, mrn: &str) -> Option<Value> {
    let r = supervisor.get(&format!("/api/v1/patients?q={mrn}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["mrn"] == mrn)
        .cloned()
}

fn hl7_port(suifang: &Suifang) -> u16 {
    let line = wait_for("the HL7 address on stdout", Duration::from_secs(10), || {
        suifang.stdout_line("suifang HL7 (MLLP) listening on")
    });
    line.rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap()
}

#[test]
fn a_discharge_sent_by_python_hl7_enrols_the_patient_once_and_errors_are_named() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let suifang = Suifang::start(dir.path(), &[("SUIFANG_HL7_LISTEN", "127.0.0.1:0")]);
    let port = hl7_port(&suifang);
    let supervisor = suifang.login("supervisor", "supervisor-demo-1");

    // a GB 18030 discharge with a Chinese name: AA, and the reply speaks GB 18030 too
    let first = gb18030(&a03(
        "MSG-1",
        "HL7-001",
        "张^伟",
        "19500101",
        "GB 18030-2000",
    ));
    let (ok, out) = send(port, dir.path(), std::slice::from_ref(&first));
    assert!(ok);
    assert_eq!(ack_lines(&out, "MSA"), ["MSA|AA|MSG-1"]);
    let msh = ack_lines(&out, "MSH");
    assert!(msh[0].ends_with("|GB 18030-2000"), "{msh:?}");
    let patient = patient_by_mrn(&supervisor, "HL7-001").expect("the patient was created");
    assert_eq!(patient["name"], "张伟");
    let id = patient["id"].as_i64().unwrap();
    let tasks = supervisor.get(&format!("/api/v1/patients/{id}/tasks")).body;
    let count = tasks["items"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(
        count, 6,
        "the heart-failure pathway's five steps and its satisfaction survey: {tasks}"
    );

    // the interface engine resends it (it missed our ACK): same ACK, nothing new
    let (ok, out) = send(port, dir.path(), std::slice::from_ref(&first));
    assert!(ok);
    assert_eq!(ack_lines(&out, "MSA"), ["MSA|AA|MSG-1"]);
    let tasks = supervisor.get(&format!("/api/v1/patients/{id}/tasks")).body;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(6));

    // the same discharge under a new control id does not enrol twice either (same visit)
    let again = gb18030(&a03(
        "MSG-1b",
        "HL7-001",
        "张^伟",
        "19500101",
        "GB 18030-2000",
    ));
    let (_, out) = send(port, dir.path(), &[again]);
    assert_eq!(ack_lines(&out, "MSA"), ["MSA|AA|MSG-1b"]);
    let tasks = supervisor.get(&format!("/api/v1/patients/{id}/tasks")).body;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(6));

    // a broken birth date: AE naming PID-7, and the message is kept with its error
    let broken = a03(
        "MSG-2",
        "HL7-002",
        "SMITH^JOHN",
        "1950-01-01",
        "UNICODE UTF-8",
    );
    // an event suifang does not take: AR
    let unsupported = "MSH|^~\\&|HIS|HOSP|SUIFANG|HOSP|20261206||SIU^S12|MSG-3|P|2.5\rSCH|1\r";
    let (ok, out) = send(
        port,
        dir.path(),
        &[broken.into_bytes(), unsupported.as_bytes().to_vec()],
    );
    assert!(ok);
    let msa = ack_lines(&out, "MSA");
    assert_eq!(msa.len(), 2, "{msa:?}");
    assert!(msa[0].starts_with("MSA|AE|MSG-2|"), "{msa:?}");
    assert!(msa[1].starts_with("MSA|AR|MSG-3|"), "{msa:?}");
    let err = ack_lines(&out, "ERR");
    assert!(
        err[0].starts_with("ERR|PID^1^7^^102&Data type error&HL70357|PID^1^7|102^"),
        "{err:?}"
    );
    assert!(patient_by_mrn(&supervisor, "HL7-002").is_none());
    let db = rusqlite::Connection::open(dir.path().join("data/suifang.db")).unwrap();
    let kept: Vec<(String, String, String, i64)> = db
        .prepare("SELECT control_id, status, ack_code, length(raw) FROM hl7_messages ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let summary: Vec<(&str, &str, &str)> = kept
        .iter()
        .map(|(c, s, a, _)| (c.as_str(), s.as_str(), a.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("MSG-1", "applied", "AA"),
            ("MSG-1b", "applied", "AA"),
            ("MSG-2", "failed", "AE"),
            ("MSG-3", "rejected", "AR"),
        ]
    );
    assert!(kept.iter().all(|k| k.3 > 0), "raw bytes kept: {kept:?}");
    let attempts: i64 = db
        .query_row(
            "SELECT attempts FROM hl7_messages WHERE control_id = 'MSG-1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(attempts, 2);
}

#[test]
fn a_connection_from_outside_hl7_allow_is_closed_unanswered() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let suifang = Suifang::start(
        dir.path(),
        &[
            ("SUIFANG_HL7_LISTEN", "127.0.0.1:0"),
            ("SUIFANG_HL7_ALLOW", "10.1.2.0/24"),
        ],
    );
    let port = hl7_port(&suifang);
    let message = a03("MSG-X", "HL7-X", "张^伟", "19500101", "UNICODE UTF-8").into_bytes();
    // closed unanswered: mllp_send reads an empty reply (or a reset, depending on timing)
    let (_, out) = send(port, dir.path(), &[message]);
    assert!(
        ack_lines(&out, "MSA").is_empty(),
        "{}",
        String::from_utf8_lossy(&out)
    );
    let db = rusqlite::Connection::open(dir.path().join("data/suifang.db")).unwrap();
    let stored: i64 = db
        .query_row("SELECT COUNT(*) FROM hl7_messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, 0);
    let supervisor = suifang.login("supervisor", "supervisor-demo-1");
    assert!(patient_by_mrn(&supervisor, "HL7-X").is_none());
}

fn tasks_by_status(
    supervisor: &common::Client,
    patient: i64,
) -> std::collections::BTreeMap<String, usize> {
    let tasks = supervisor
        .get(&format!("/api/v1/patients/{patient}/tasks"))
        .body;
    let mut by = std::collections::BTreeMap::new();
    for t in tasks["items"].as_array().unwrap() {
        *by.entry(t["status"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    by
}

#[test]
fn updates_and_cancellations_apply_in_whatever_order_they_arrive() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let suifang = Suifang::start(dir.path(), &[("SUIFANG_HL7_LISTEN", "127.0.0.1:0")]);
    let port = hl7_port(&suifang);
    let supervisor = suifang.login("supervisor", "supervisor-demo-1");
    let utf8 = "UNICODE UTF-8";
    let as_event = |text: String, event: &str| {
        text.replace("ADT^A03^ADT_A03", &format!("ADT^{event}^ADT_A01"))
            .into_bytes()
    };

    // A03, then A08 with a new phone, then A13: the enrolment is taken back
    let (_, out) = send(
        port,
        dir.path(),
        &[
            a03("U-1", "HL7-010", "李^雷", "19600101", utf8).into_bytes(),
            as_event(
                a03("U-2", "HL7-010", "李^雷", "19600101", utf8)
                    .replace("13800000001", "13700000009"),
                "A08",
            ),
            as_event(a03("U-3", "HL7-010", "李^雷", "19600101", utf8), "A13"),
            as_event(a03("U-4", "HL7-404", "无^名", "19600101", utf8), "A08"),
        ],
    );
    let msa = ack_lines(&out, "MSA");
    assert_eq!(
        msa[..3],
        ["MSA|AA|U-1", "MSA|AA|U-2", "MSA|AA|U-3"],
        "{msa:?}"
    );
    // an update for a patient suifang does not know creates nobody: AE 204 at PID-3
    assert!(msa[3].starts_with("MSA|AE|U-4|"), "{msa:?}");
    assert!(
        ack_lines(&out, "ERR")[0].contains("|PID^1^3|204^"),
        "{out:?}"
    );
    let p = patient_by_mrn(&supervisor, "HL7-010").unwrap();
    assert_eq!(p["phone"], "+8613700000009");
    let id = p["id"].as_i64().unwrap();
    assert_eq!(
        tasks_by_status(&supervisor, id),
        [("cancelled".to_string(), 6)].into_iter().collect()
    );
    // the real discharge of the same visit comes later: it enrols again
    let later = a03("U-5", "HL7-010", "李^雷", "19600101", utf8)
        .replace("20261206080000", "20261210090000");
    let (_, out) = send(port, dir.path(), &[later.into_bytes()]);
    assert_eq!(ack_lines(&out, "MSA"), ["MSA|AA|U-5"]);
    assert_eq!(tasks_by_status(&supervisor, id).get("pending"), Some(&6));

    // out of order: the cancellation arrives before the discharge it cancels
    let (_, out) = send(
        port,
        dir.path(),
        &[
            as_event(a03("O-1", "HL7-020", "王^芳", "19700101", utf8), "A13"),
            a03("O-2", "HL7-020", "王^芳", "19700101", utf8).into_bytes(),
        ],
    );
    assert_eq!(ack_lines(&out, "MSA"), ["MSA|AA|O-1", "MSA|AA|O-2"]);
    let p = patient_by_mrn(&supervisor, "HL7-020").expect("the patient is known");
    assert!(
        tasks_by_status(&supervisor, p["id"].as_i64().unwrap()).is_empty(),
        "the cancelled discharge enrolled nobody"
    );
}

/// `kill -9` of suifang while python-hl7 streams discharges: every message that was ACKed is
/// in the database exactly once after the restart, and the sender's unACKed tail, sent again,
/// is applied once.
#[test]
fn a_crash_mid_stream_loses_no_acked_message_and_applies_the_resent_tail_once() {
    let _machine = serial::shared();
    const COUNT: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let suifang = Suifang::start(dir.path(), &[("SUIFANG_HL7_LISTEN", "127.0.0.1:0")]);
    let port = hl7_port(&suifang);
    let script = common::repo_root().join("tests/fixtures/hl7/stream.py");
    let python = mllp_send().with_file_name("python");
    let mut sender = Command::new(&python)
        .arg(&script)
        .args(["127.0.0.1", &port.to_string(), "K", "0", &COUNT.to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python-hl7 sender");
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let reader = {
        let acked = acked.clone();
        let out = sender.stdout.take().unwrap();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                acked.lock().unwrap().push(line);
            }
        })
    };
    wait_for("1,500 ACKs", Duration::from_secs(120), || {
        (acked.lock().unwrap().len() >= 1_500).then_some(())
    });
    suifang.kill9();
    let status = sender.wait().unwrap();
    reader.join().unwrap();
    assert!(!status.success(), "the sender saw the crash");
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() < COUNT, "the crash came mid-stream");
    eprintln!("{} messages ACKed before the crash", acked.len());

    let suifang = Suifang::start(dir.path(), &[("SUIFANG_HL7_LISTEN", "127.0.0.1:0")]);
    let db = rusqlite::Connection::open(dir.path().join("data/suifang.db")).unwrap();
    let stored = |id: &str| -> i64 {
        db.query_row(
            "SELECT COUNT(*) FROM hl7_messages WHERE control_id = ?1 AND status = 'applied'",
            [id],
            |r| r.get(0),
        )
        .unwrap()
    };
    for id in &acked {
        assert_eq!(stored(id), 1, "{id} was ACKed");
    }
    // the interface engine resends from its first unACKed message
    let out = Command::new(&python)
        .arg(&script)
        .args([
            "127.0.0.1",
            &hl7_port(&suifang).to_string(),
            "K",
            &acked.len().to_string(),
            &(COUNT - acked.len()).to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM hl7_messages WHERE control_id LIKE 'K-%' AND status = 'applied'"
        ),
        COUNT as i64
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM patients WHERE mrn LIKE 'K%'"),
        COUNT as i64
    );
    // one discharge and one enrolment per patient: nothing applied twice
    assert_eq!(
        count("SELECT COUNT(*) FROM discharges d JOIN patients p ON p.id = d.patient_id WHERE p.mrn LIKE 'K%'"),
        COUNT as i64
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM enrollments e JOIN patients p ON p.id = e.patient_id WHERE p.mrn LIKE 'K%'"),
        COUNT as i64
    );
}

/// A discharge from a department suifang cannot map is kept with its error; the admin sees it
/// in the interface's list, adds the mapping, and replays it: applied once, audited.
#[test]
fn a_failed_message_is_listed_and_applied_by_a_replay_once_its_cause_is_fixed() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let env = [("SUIFANG_HL7_LISTEN", "127.0.0.1:0")];
    let suifang = Suifang::start(dir.path(), &env);
    let port = hl7_port(&suifang);
    let text = a03("R-1", "HL7-030", "赵^敏", "19800101", "UNICODE UTF-8")
        .replace("cardiology^301^1", "NEURO^5^2");
    let (_, out) = send(port, dir.path(), &[text.into_bytes()]);
    assert!(
        ack_lines(&out, "MSA")[0].starts_with("MSA|AE|R-1|"),
        "{out:?}"
    );
    assert!(
        ack_lines(&out, "ERR")[0].contains("|PV1^1^3|103^"),
        "{out:?}"
    );

    let admin = suifang.login("admin", "admin-demo-1");
    let failed = admin.get("/api/v1/hl7/messages?status=failed");
    assert_eq!(failed.status, 200, "{}", failed.body);
    let items = failed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", failed.body);
    assert_eq!(items[0]["control_id"], "R-1");
    assert!(
        items[0]["error"].as_str().unwrap().contains("neuro"),
        "{}",
        items[0]
    );
    let id = items[0]["id"].as_i64().unwrap();
    // nurses and supervisors do not see the interface
    let nurse = suifang.login("nurse", "nurse-demo-1");
    assert_eq!(nurse.get("/api/v1/hl7/messages").status, 403);
    // replayed unchanged: still failed
    let again = admin.post(
        &format!("/api/v1/hl7/messages/{id}/replay"),
        serde_json::json!({}),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["message"]["status"], "failed");
    drop((admin, nurse));
    drop(suifang);

    // the admin maps NEURO to a department suifang has, restarts, replays
    let config = dir.path().join("suifang.toml");
    std::fs::write(&config, "[hl7]\ndepartments = { NEURO = \"cardiology\" }\n").unwrap();
    let config = config.to_str().unwrap().to_string();
    let suifang = Suifang::start(dir.path(), &[env[0], ("SUIFANG_CONFIG", &config)]);
    let admin = suifang.login("admin", "admin-demo-1");
    let replayed = admin.post(
        &format!("/api/v1/hl7/messages/{id}/replay"),
        serde_json::json!({}),
    );
    assert_eq!(replayed.status, 200, "{}", replayed.body);
    assert_eq!(
        replayed.body["message"]["status"], "applied",
        "{}",
        replayed.body
    );
    assert!(
        replayed.body["ack"]
            .as_str()
            .unwrap()
            .contains("MSA|AA|R-1"),
        "{}",
        replayed.body
    );
    let patient = patient_by_mrn(&admin, "HL7-030").expect("applied");
    let tasks = tasks_by_status(&admin, patient["id"].as_i64().unwrap());
    assert_eq!(tasks.get("pending"), Some(&6));
    // a second replay changes nothing
    let twice = admin.post(
        &format!("/api/v1/hl7/messages/{id}/replay"),
        serde_json::json!({}),
    );
    assert_eq!(twice.body["message"]["status"], "applied");
    assert_eq!(
        tasks_by_status(&admin, patient["id"].as_i64().unwrap()).get("pending"),
        Some(&6)
    );
    // three replays audited: the one that still failed, the one that applied, the no-op
    let audit = admin.get("/api/v1/audit").body["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        audit.iter().filter(|e| e["action"] == "hl7_replay").count(),
        3,
        "{audit:?}"
    );
}
