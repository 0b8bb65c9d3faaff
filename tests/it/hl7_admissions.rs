//! Issues 17 (item 3) and 18 (item 1) against the real binary and a real HL7 sender
//! (python-hl7's `mllp_send`): a readmission of an enrolled patient pauses the follow-up
//! (nothing queued, claimable or dialled while the patient is in hospital) and is recorded
//! against the index discharge; the next discharge starts one fresh enrolment that supersedes
//! the old one; the REST admission endpoint does the same; A11 resumes the paused tasks, in
//! whatever order it arrives; A40 moves the follow-up history to the surviving MRN; resends
//! change nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

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

/// Sends the messages over one MLLP connection with python-hl7's `mllp_send`; returns the
/// MSA and ERR lines of the ACKs.
fn send(port: u16, dir: &Path, messages: &[String]) -> (Vec<String>, Vec<String>) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let file = dir.join(format!("batch-{}.hl7", N.fetch_add(1, Ordering::Relaxed)));
    let mut framed = Vec::new();
    for m in messages {
        framed.push(0x0b);
        framed.extend_from_slice(m.as_bytes());
        framed.extend_from_slice(&[0x1c, 0x0d]);
    }
    std::fs::write(&file, framed).unwrap();
    let out = Command::new(mllp_send())
        .args(["-p", &port.to_string(), "-f"])
        .arg(&file)
        .arg("127.0.0.1")
        .output()
        .expect("run mllp_send");
    assert!(
        out.status.success(),
        "mllp_send: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines = |prefix: &str| -> Vec<String> {
        text.split(['\r', '\n'])
            .map(|l| l.trim_matches(['\u{0b}', '\u{1c}']))
            .filter(|l| l.starts_with(prefix))
            .map(str::to_string)
            .collect()
    };
    (lines("MSA"), lines("ERR"))
}

/// An HL7 timestamp in UTC (with its offset, whatever the hospital's zone).
fn hl7_ts(t: DateTime<Utc>) -> String {
    t.format("%Y%m%d%H%M%S+0000").to_string()
}

/// An ADT message of `event` (A01, A03, A11) for `mrn`'s visit `visit`; `class` and `kind` are
/// PV1-2 and PV1-4, `at` the admit (PV1-44) or discharge (PV1-45) time.
fn adt(
    event: &str,
    control_id: &str,
    mrn: &str,
    visit: &str,
    kind: &str,
    at: DateTime<Utc>,
) -> String {
    let mut pv1 = vec![String::new(); 46];
    pv1[0] = "PV1".into();
    pv1[1] = "1".into();
    pv1[2] = "I".into();
    pv1[3] = "cardiology^301^1".into();
    pv1[4] = kind.into();
    pv1[19] = visit.into();
    if event == "A03" {
        pv1[36] = "01".into();
        pv1[45] = hl7_ts(at);
    } else {
        pv1[44] = hl7_ts(at);
    }
    let structure = if event == "A03" { "ADT_A03" } else { "ADT_A01" };
    [
        format!("MSH|^~\\&|HIS|HOSP|SUIFANG|HOSP|{}||ADT^{event}^{structure}|{control_id}|P|2.5|||||CHN|UNICODE UTF-8", hl7_ts(at)),
        format!("EVN|{event}|{}", hl7_ts(at)),
        format!("PID|1||{mrn}^^^HOSP^MR||张^伟||19500101|M|||||13800000001"),
        pv1.join("|"),
        "DG1|1||I50.9^心力衰竭^I10".into(),
        String::new(),
    ]
    .join("\r")
}

fn a40(control_id: &str, surviving: &str, prior: &str) -> String {
    [
        format!(
            "MSH|^~\\&|HIS|HOSP|SUIFANG|HOSP|20261206083000||ADT^A40^ADT_A39|{control_id}|P|2.5"
        ),
        "EVN|A40|20261206083000".into(),
        format!("PID|1||{surviving}^^^HOSP^MR||张^伟"),
        format!("MRG|{prior}^^^HOSP^MR"),
        String::new(),
    ]
    .join("\r")
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

fn patient_id(client: &common::Client, mrn: &str) -> i64 {
    let r = client.get(&format!("/api/v1/patients?q={mrn}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["mrn"] == mrn)
        .and_then(|p| p["id"].as_i64())
        .unwrap_or_else(|| panic!("no patient {mrn}: {}", r.body))
}

fn tasks(client: &common::Client, patient: i64) -> Vec<Value> {
    let r = client.get(&format!("/api/v1/patients/{patient}/tasks"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

fn by_status(client: &common::Client, patient: i64) -> BTreeMap<String, usize> {
    let mut by = BTreeMap::new();
    for t in tasks(client, patient) {
        *by.entry(t["status"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    by
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(s, n)| (s.to_string(), *n)).collect()
}

/// The demo's own patients are put on do-not-call, so the queue holds only this test's.
fn quiet_demo_patients(supervisor: &common::Client) {
    let r = supervisor.get("/api/v1/patients?limit=200");
    for p in r.body["items"].as_array().unwrap() {
        let id = p["id"].as_i64().unwrap();
        let put = supervisor.put(
            &format!("/api/v1/patients/{id}/do-not-call"),
            json!({"do_not_call": true}),
        );
        assert_eq!(put.status, 204, "{}", put.body);
    }
}

/// The patients the queue offers, after a rebuild.
fn queued_patients(supervisor: &common::Client) -> Vec<i64> {
    let built = supervisor.post("/api/v1/queue/build", json!({}));
    assert_eq!(built.status, 200, "{}", built.body);
    let q = supervisor.get("/api/v1/queue?limit=200");
    assert_eq!(q.status, 200, "{}", q.body);
    q.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["patient_id"].as_i64().unwrap())
        .collect()
}

fn enrolments(dir: &Path, patient: i64) -> Vec<(i64, String, Option<i64>)> {
    let db = rusqlite::Connection::open(dir.join("data/suifang.db")).unwrap();
    let mut stmt = db
        .prepare(
            "SELECT id, status, superseded_by FROM enrollments WHERE patient_id = ?1 ORDER BY id",
        )
        .unwrap();
    let rows = stmt
        .query_map([patient], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows
}

fn start(dir: &Path) -> (Suifang, u16) {
    let suifang = Suifang::start(dir, &[("SUIFANG_HL7_LISTEN", "127.0.0.1:0")]);
    let port = hl7_port(&suifang);
    (suifang, port)
}

#[test]
fn a_readmission_over_mllp_pauses_follow_up_and_the_next_discharge_supersedes_it() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let (suifang, port) = start(dir.path());
    let supervisor = suifang.login("supervisor", "supervisor-demo-1");
    let nurse = suifang.login("nurse", "nurse-demo-1");
    quiet_demo_patients(&supervisor);
    let now = Utc::now();

    // discharged 26 hours ago: the day-1 call is due now
    let (msa, _) = send(
        port,
        dir.path(),
        &[adt(
            "A03",
            "R-1",
            "RA-001",
            "V1",
            "",
            now - chrono::Duration::hours(26),
        )],
    );
    assert_eq!(msa, ["MSA|AA|R-1"]);
    let id = patient_id(&supervisor, "RA-001");
    assert_eq!(by_status(&supervisor, id), counts(&[("pending", 6)]));
    assert_eq!(queued_patients(&supervisor), [id]);
    let claim = nurse.post("/api/v1/queue/claim", json!({}));
    assert_eq!(claim.status, 200, "{}", claim.body);
    let claimed = claim.body["task"]["id"].as_i64().unwrap();
    assert_eq!(claim.body["task"]["patient_id"], id);

    // readmitted an hour ago (emergency) while the nurse held the day-1 task
    let admit = adt(
        "A01",
        "R-2",
        "RA-001",
        "V2",
        "E",
        now - chrono::Duration::hours(1),
    );
    let (msa, _) = send(port, dir.path(), std::slice::from_ref(&admit));
    assert_eq!(msa, ["MSA|AA|R-2"]);
    assert_eq!(by_status(&supervisor, id), counts(&[("paused", 6)]));
    // no call is offered while the patient is in hospital: not queued, not claimable, not
    // dialled (not even the task the nurse held)
    assert!(queued_patients(&supervisor).is_empty());
    let claim = nurse.post("/api/v1/queue/claim", json!({}));
    assert_eq!(claim.status, 404, "{}", claim.body);
    assert_eq!(claim.body["error"]["code"], "queue_empty", "{}", claim.body);
    let dial = nurse.post(&format!("/api/v1/tasks/{claimed}/call"), json!({}));
    assert_eq!(dial.status, 409, "{}", dial.body);
    assert!(dial.body.to_string().contains("paused"), "{}", dial.body);
    // recorded against the index discharge
    let admissions = supervisor.get(&format!("/api/v1/patients/{id}/admissions"));
    assert_eq!(admissions.status, 200, "{}", admissions.body);
    let items = admissions.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", admissions.body);
    let r = &items[0]["readmission"];
    assert_eq!(r["days_since_discharge"], 1, "{}", admissions.body);
    assert_eq!(r["pathway"], "heart-failure");
    assert_eq!(r["contacted_before"], false);
    assert_eq!(r["planned"], false);
    assert_eq!(items[0]["patient_class"], "I");
    assert_eq!(items[0]["admission_type"], "E");

    // the interface engine resends the A01 (same control id), then again under a new one:
    // the same ACK, nothing new
    let renamed = admit.replace("|R-2|", "|R-2b|");
    let (msa, _) = send(port, dir.path(), &[admit, renamed]);
    assert_eq!(msa, ["MSA|AA|R-2", "MSA|AA|R-2b"]);
    let again = supervisor.get(&format!("/api/v1/patients/{id}/admissions"));
    assert_eq!(again.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(by_status(&supervisor, id), counts(&[("paused", 6)]));

    // discharged again ten minutes ago: one fresh enrolment, the old tasks superseded
    let discharge = adt(
        "A03",
        "R-3",
        "RA-001",
        "V2",
        "",
        now - chrono::Duration::minutes(10),
    );
    let (msa, _) = send(port, dir.path(), std::slice::from_ref(&discharge));
    assert_eq!(msa, ["MSA|AA|R-3"]);
    assert_eq!(
        by_status(&supervisor, id),
        counts(&[("pending", 6), ("superseded", 6)])
    );
    let e = enrolments(dir.path(), id);
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!((e[0].1.as_str(), e[0].2), ("superseded", Some(e[1].0)));
    assert_eq!(e[1].1, "active");
    // the superseded tasks are kept with the history, the new ones start from the new discharge
    let superseded: Vec<i64> = tasks(&supervisor, id)
        .iter()
        .filter(|t| t["status"] == "superseded")
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert!(superseded.contains(&claimed));
    // a resend of the discharge changes nothing: no double calls
    let (msa, _) = send(port, dir.path(), &[discharge]);
    assert_eq!(msa, ["MSA|AA|R-3"]);
    assert_eq!(enrolments(dir.path(), id).len(), 2);
    assert_eq!(
        by_status(&supervisor, id),
        counts(&[("pending", 6), ("superseded", 6)])
    );
    // the stay is closed by that discharge
    let admissions = supervisor
        .get(&format!("/api/v1/patients/{id}/admissions"))
        .body;
    assert!(
        admissions["items"][0]["ended_by_discharge_id"].is_i64(),
        "{admissions}"
    );
}

#[test]
fn the_rest_endpoint_admits_and_a11_resumes_in_whatever_order_it_arrives() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let (suifang, port) = start(dir.path());
    let supervisor = suifang.login("supervisor", "supervisor-demo-1");
    let nurse = suifang.login("nurse", "nurse-demo-1");
    let doctor = suifang.login("doctor", "doctor-demo-1");
    let now = Utc::now();
    let (msa, _) = send(
        port,
        dir.path(),
        &[adt(
            "A03",
            "S-1",
            "RB-001",
            "V1",
            "",
            now - chrono::Duration::days(3),
        )],
    );
    assert_eq!(msa, ["MSA|AA|S-1"]);
    let id = patient_id(&supervisor, "RB-001");
    let path = format!("/api/v1/patients/{id}/admissions");

    // checked input: a future admission, an unknown key, an unknown department, a doctor
    let future = nurse.post(
        &path,
        json!({"admitted_at": (now + chrono::Duration::days(2)).to_rfc3339()}),
    );
    assert_eq!(future.status, 422, "{}", future.body);
    assert!(
        future.body.to_string().contains("admitted_at"),
        "{}",
        future.body
    );
    let unknown = nurse.post(&path, json!({"admitted_at": now.to_rfc3339(), "ward": "3"}));
    assert!(
        unknown.status == 400 || unknown.status == 422,
        "{}",
        unknown.body
    );
    let dept = nurse.post(
        &path,
        json!({"admitted_at": now.to_rfc3339(), "department": "nowhere"}),
    );
    assert!(dept.status == 400 || dept.status == 422, "{}", dept.body);
    assert!(dept.body.to_string().contains("nowhere"), "{}", dept.body);
    assert_eq!(
        doctor
            .post(&path, json!({"admitted_at": now.to_rfc3339()}))
            .status,
        403
    );
    assert_eq!(
        by_status(&supervisor, id),
        counts(&[("pending", 6)]),
        "nothing changed"
    );

    // a nurse records an elective (planned) admission of visit V2
    let body = json!({"admitted_at": (now - chrono::Duration::hours(2)).to_rfc3339(),
                      "department": "cardiology", "visit_number": "V2",
                      "admission_type": "elective"});
    let admitted = nurse.post(&path, body.clone());
    assert_eq!(admitted.status, 201, "{}", admitted.body);
    assert_eq!(admitted.body["tasks_paused"], 6, "{}", admitted.body);
    assert_eq!(admitted.body["readmission"]["planned"], true);
    assert_eq!(admitted.body["readmission"]["days_since_discharge"], 2);
    let twice = nurse.post(&path, body);
    assert_eq!(twice.status, 200, "{}", twice.body);
    assert_eq!(twice.body["recorded"], false);
    assert_eq!(by_status(&supervisor, id), counts(&[("paused", 6)]));

    // the HIS cancels that admission (A11): the tasks resume, the readmission stops counting
    let (msa, _) = send(
        port,
        dir.path(),
        &[adt(
            "A11",
            "S-2",
            "RB-001",
            "V2",
            "",
            now - chrono::Duration::hours(1),
        )],
    );
    assert_eq!(msa, ["MSA|AA|S-2"]);
    assert_eq!(by_status(&supervisor, id), counts(&[("pending", 6)]));
    let listed = supervisor.get(&path).body;
    assert_eq!(listed["items"][0]["cancelled"], true, "{listed}");

    // out of order: the A11 of visit V3 arrives before its A01; the admission pauses nothing
    let (msa, _) = send(
        port,
        dir.path(),
        &[
            adt(
                "A11",
                "S-3",
                "RB-001",
                "V3",
                "",
                now - chrono::Duration::minutes(20),
            ),
            adt(
                "A01",
                "S-4",
                "RB-001",
                "V3",
                "E",
                now - chrono::Duration::minutes(30),
            ),
        ],
    );
    assert_eq!(msa, ["MSA|AA|S-3", "MSA|AA|S-4"]);
    assert_eq!(by_status(&supervisor, id), counts(&[("pending", 6)]));

    // a REST admission, then a REST discharge: the discharge supersedes
    let at = (now - chrono::Duration::minutes(15)).to_rfc3339();
    let admitted = nurse.post(&path, json!({"admitted_at": at}));
    assert_eq!(admitted.status, 201, "{}", admitted.body);
    // without a visit number, the same moment sent twice is one admission
    let resent = nurse.post(&path, json!({"admitted_at": at}));
    assert_eq!(resent.status, 200, "{}", resent.body);
    assert_eq!(resent.body["admission_id"], admitted.body["admission_id"]);
    let discharged = supervisor.post(
        &format!("/api/v1/patients/{id}/discharges"),
        json!({"discharged_at": (now - chrono::Duration::minutes(1)).to_rfc3339(),
               "department": "cardiology", "visit_number": "V4",
               "diagnoses": [{"icd10": "I50.9", "kind": "F"}]}),
    );
    assert_eq!(discharged.status, 201, "{}", discharged.body);
    assert_eq!(
        discharged.body["tasks_superseded"], 6,
        "{}",
        discharged.body
    );
    assert_eq!(
        by_status(&supervisor, id),
        counts(&[("pending", 6), ("superseded", 6)])
    );
}

#[test]
fn a_merge_moves_the_follow_up_history_and_an_unknown_one_is_kept_for_replay() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let (suifang, port) = start(dir.path());
    let admin = suifang.login("admin", "admin-demo-1");
    let now = Utc::now();
    let (msa, _) = send(
        port,
        dir.path(),
        &[
            adt(
                "A03",
                "M-1",
                "OLD-001",
                "V1",
                "",
                now - chrono::Duration::days(2),
            ),
            adt(
                "A03",
                "M-2",
                "NEW-001",
                "V9",
                "",
                now - chrono::Duration::days(1),
            ),
        ],
    );
    assert_eq!(msa, ["MSA|AA|M-1", "MSA|AA|M-2"]);
    let prior = patient_id(&admin, "OLD-001");
    let surviving = patient_id(&admin, "NEW-001");
    let nurse = suifang.login("nurse", "nurse-demo-1");
    let note = nurse.post(
        &format!("/api/v1/patients/{prior}/notes"),
        json!({"body": "家属电话已更新"}),
    );
    assert_eq!(note.status, 201, "{}", note.body);

    let merge = a40("M-3", "NEW-001", "OLD-001");
    let (msa, _) = send(port, dir.path(), std::slice::from_ref(&merge));
    assert_eq!(msa, ["MSA|AA|M-3"]);
    assert!(tasks(&admin, prior).is_empty());
    assert_eq!(by_status(&admin, surviving), counts(&[("pending", 12)]));
    let notes = admin
        .get(&format!("/api/v1/patients/{surviving}/notes"))
        .body;
    assert!(notes.to_string().contains("家属电话已更新"), "{notes}");
    // a resend, and the prior MRN now names the surviving patient
    let (msa, _) = send(port, dir.path(), &[merge]);
    assert_eq!(msa, ["MSA|AA|M-3"]);
    assert_eq!(by_status(&admin, surviving), counts(&[("pending", 12)]));

    // a merge of an MRN suifang does not know: AE 204 at MRG-1, kept for an admin to replay
    let (msa, err) = send(port, dir.path(), &[a40("M-4", "NEW-001", "GHOST-1")]);
    assert!(msa[0].starts_with("MSA|AE|M-4|"), "{msa:?}");
    assert!(err[0].contains("|MRG^1^1|204^"), "{err:?}");
    let failed = admin.get("/api/v1/hl7/messages?status=failed").body;
    let kept = failed["items"].as_array().unwrap();
    assert_eq!(kept.len(), 1, "{failed}");
    assert_eq!(kept[0]["control_id"], "M-4");
    assert!(
        kept[0]["error"].as_str().unwrap().contains("GHOST-1"),
        "{failed}"
    );
    assert_eq!(by_status(&admin, surviving), counts(&[("pending", 12)]));
}

/// The CSV import's `admitted_at` column goes through the same store function: after the
/// discharge it is a readmission that pauses the follow-up; before it, the stay it ends.
#[test]
fn the_csv_import_records_admissions_in_time_order_with_the_discharge() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    // the demo seeds the departments
    drop(start(dir.path()));
    let header = "mrn,name,sex,birth_date,phone,alt_phone,alt_contact_name,alt_contact_relation,language,department,discharged_at,diagnoses,visit_number,attending,summary,admitted_at\n";
    let file = dir.path().join("admissions.csv");
    std::fs::write(
        &file,
        format!("{header}C1,甲,M,,+8613900000001,,,,zh,cardiology,2026-11-20 10:00,I50.9,V1,,,not a date\n"),
    )
    .unwrap();
    let out = common::run(dir.path(), &["import", "patients", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("admissions.csv:line 2: admitted_at"), "{err}");

    std::fs::write(
        &file,
        format!(
            "{header}C1,甲,M,,+8613900000001,,,,zh,cardiology,2026-11-20 10:00,I50.9,V1,,,2026-11-25 08:00\n\
             C2,乙,F,,+8613900000002,,,,zh,cardiology,2026-11-20 10:00,I50.9,V1,,,2026-11-18 09:00\n"
        ),
    )
    .unwrap();
    let out = common::run(dir.path(), &["import", "patients", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = rusqlite::Connection::open(dir.path().join("data/suifang.db")).unwrap();
    let statuses = |mrn: &str| -> Vec<String> {
        let mut stmt = db
            .prepare(
                "SELECT DISTINCT t.status FROM followup_tasks t JOIN patients p ON p.id = t.patient_id
                 WHERE p.mrn = ?1",
            )
            .unwrap();
        let rows = stmt
            .query_map([mrn], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows
    };
    assert_eq!(statuses("C1"), ["paused"]);
    assert_eq!(statuses("C2"), ["pending"]);
    let readmission: (i64, bool, String) = db
        .query_row(
            "SELECT r.days_since_discharge, r.planned, a.source FROM readmissions r
             JOIN admissions a ON a.id = r.admission_id JOIN patients p ON p.id = a.patient_id
             WHERE p.mrn = 'C1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(readmission, (4, false, "import".to_string()));
    let c2: (i64, bool) = db
        .query_row(
            "SELECT COUNT(r.admission_id), a.ended_by_discharge_id IS NOT NULL FROM admissions a
             JOIN patients p ON p.id = a.patient_id
             LEFT JOIN readmissions r ON r.admission_id = a.id WHERE p.mrn = 'C2'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        c2,
        (0, true),
        "the stay the discharge ended, not a readmission"
    );
}
