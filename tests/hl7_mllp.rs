//! Issue 17 against the real binary and a real HL7 sender: python-hl7's `mllp_send` (PyPI
//! `hl7`, installed by scripts/setup.sh in ~/.cache/suifang/venv) sends ADT^A03 discharges
//! over MLLP; suifang stores each message with its effect before it ACKs, enrols the patient
//! once however often the message is sent, answers a broken message with AE and an ERR naming
//! the field (and keeps it), refuses a message type it does not take with AR, speaks GB 18030
//! back to a GB 18030 sender, and closes connections from outside `hl7.allow`.

#[path = "common/call_harness.rs"]
mod call_harness;
mod common;
#[path = "common/sip_peers.rs"]
mod sip_peers;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use call_harness::{wait_for, Suifang};
use serde_json::Value;

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
    assert_eq!(count, 5, "the heart-failure pathway's five steps: {tasks}");

    // the interface engine resends it (it missed our ACK): same ACK, nothing new
    let (ok, out) = send(port, dir.path(), std::slice::from_ref(&first));
    assert!(ok);
    assert_eq!(ack_lines(&out, "MSA"), ["MSA|AA|MSG-1"]);
    let tasks = supervisor.get(&format!("/api/v1/patients/{id}/tasks")).body;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(5));

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
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(5));

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
