//! Issue 17 item 4 against the real binary and a real HL7 sender (python-hl7's `mllp_send`):
//! a heart-failure patient is discharged by ADT^A03; the laboratory's ORU^R01 with potassium
//! 6.1 mmol/L opens an urgent escalation to the on-duty doctor with the lab as its evidence,
//! the same message sent again changes nothing, an NT-proBNP 1.5 × over its post-discharge
//! baseline opens a high one, a result in a unit with no exact conversion is refused with AE
//! and an ERR at OBX-6 and kept, a result for an unknown MRN is kept for a replay, and the
//! results show in the patient's trend data and timeline.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::common::call_harness::Suifang;
use crate::common::console as helpers;
use crate::common::hl7_peer::{ack_lines, hl7_port, send};
use crate::common::serial;

/// An HL7 timestamp with an explicit UTC offset, so the hospital's zone does not matter.
fn hl7_time(t: DateTime<Utc>) -> String {
    format!("{}+0000", t.format("%Y%m%d%H%M%S"))
}

fn discharge(control_id: &str, mrn: &str, at: DateTime<Utc>) -> Vec<u8> {
    let mut pv1 = vec![String::new(); 46];
    pv1[0] = "PV1".into();
    pv1[1] = "1".into();
    pv1[2] = "I".into();
    pv1[3] = "cardiology^301^1".into();
    pv1[19] = format!("V-{mrn}");
    pv1[36] = "01".into();
    pv1[45] = hl7_time(at);
    [
        format!("MSH|^~\\&|HIS|HOSP|SUIFANG|HOSP|{}||ADT^A03^ADT_A03|{control_id}|P|2.5|||||CHN|UNICODE UTF-8", hl7_time(at)),
        format!("EVN|A03|{}", hl7_time(at)),
        format!("PID|1||{mrn}^^^HOSP^MR||王^建国||19480303|M|||||13800000011"),
        pv1.join("|"),
        "DG1|1||I50.9^心力衰竭^I10".into(),
        String::new(),
    ]
    .join("\r")
    .into_bytes()
}

/// An ORU^R01 from the laboratory with one OBX per `(code^text^system, value, unit, range,
/// flags)`, observed at `at`.
fn oru(
    control_id: &str,
    mrn: &str,
    at: DateTime<Utc>,
    obx: &[(&str, &str, &str, &str, &str)],
) -> Vec<u8> {
    let mut segs = vec![
        format!("MSH|^~\\&|LIS|HOSP|SUIFANG|HOSP|{}||ORU^R01^ORU_R01|{control_id}|P|2.5.1|||||CHN|UNICODE UTF-8", hl7_time(at)),
        format!("PID|1||{mrn}^^^HOSP^MR||王^建国"),
        format!("OBR|1|PL-{control_id}|FL-{control_id}|BMP^基础代谢组合^L|||{}", hl7_time(at)),
    ];
    for (i, (code, value, unit, range, flags)) in obx.iter().enumerate() {
        segs.push(format!(
            "OBX|{}|NM|{code}||{value}|{unit}|{range}|{flags}|||F|||{}",
            i + 1,
            hl7_time(at)
        ));
    }
    segs.push(String::new());
    segs.join("\r").into_bytes()
}

fn patient_id(supervisor: &crate::common::Client, mrn: &str) -> i64 {
    let r = supervisor.get(&format!("/api/v1/patients?q={mrn}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["mrn"] == mrn)
        .and_then(|p| p["id"].as_i64())
        .unwrap_or_else(|| panic!("patient {mrn} not found: {}", r.body))
}

/// Unresolved escalations of a patient, as the doctors' inbox lists them.
fn escalations(doctor: &crate::common::Client, patient: i64) -> Vec<Value> {
    let r = doctor.get("/api/v1/escalations");
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["key"]["patient"] == patient)
        .cloned()
        .collect()
}

#[test]
fn a_high_potassium_from_the_laboratory_escalates_to_the_on_duty_doctor_once() {
    // a real-time peer and headless Chromium: not beside the tests that take the machine
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let suifang = Suifang::start(dir.path(), &[("SUIFANG_HL7_LISTEN", "127.0.0.1:0")]);
    let port = hl7_port(&suifang);
    let supervisor = suifang.login("supervisor", "supervisor-demo-1");
    let doctor = suifang.login("doctor", "doctor-demo-1");
    let now = Utc::now();

    // discharged home two days ago with heart failure: enrolled in the heart-failure pathway
    let (ok, out) = send(
        port,
        dir.path(),
        &[discharge("ADT-1", "LAB-001", now - Duration::days(2))],
    );
    assert!(ok);
    assert_eq!(ack_lines(&out, "MSA"), ["MSA|AA|ADT-1"]);
    let patient = patient_id(&supervisor, "LAB-001");
    assert!(escalations(&doctor, patient).is_empty());

    // the laboratory sends potassium 6.1 mmol/L (critical high), taken an hour ago
    let taken = now - Duration::hours(1);
    let potassium = oru(
        "LAB-K-1",
        "LAB-001",
        taken,
        &[
            ("2823-3^Potassium^LN", "6.1", "mmol/L", "3.5-5.3", "HH"),
            // chloride is not in the lab catalogue: skipped, not an error
            ("2075-0^Chloride^LN", "101", "mmol/L", "99-110", "N"),
        ],
    );
    let (ok, out) = send(port, dir.path(), std::slice::from_ref(&potassium));
    assert!(ok);
    assert_eq!(ack_lines(&out, "MSA"), ["MSA|AA|LAB-K-1"]);

    let open = escalations(&doctor, patient);
    assert_eq!(open.len(), 1, "{open:?}");
    let e = &open[0];
    assert_eq!(e["key"]["script"], "heart-failure");
    assert_eq!(e["key"]["rule"], "hf-lab-potassium-high");
    assert_eq!(e["severity"], "urgent");
    assert_eq!(e["route"], "on_duty_doctor");
    // routed to cardiology's on-duty doctor first; urgent reaches a second person at once
    // (the backup: every entry carries the level the first notification reached)
    let roster = supervisor.get("/api/v1/roster").body;
    let on_duty = roster["departments"]["cardiology"]["on_duty"].clone();
    assert!(
        on_duty.is_i64(),
        "cardiology has an on-duty doctor: {roster}"
    );
    let notified = e["notified"].as_array().unwrap();
    assert_eq!(notified[0]["user"], on_duty, "{notified:?}");
    assert_eq!(notified.len(), 2, "{notified:?}");
    assert_eq!(
        notified[1]["user"], roster["departments"]["cardiology"]["backup"],
        "{notified:?}"
    );
    // the on-duty doctor finds it among hers
    let mine = doctor.get("/api/v1/escalations?mine=true").body;
    assert!(
        mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == e["id"]),
        "{mine}"
    );
    // the lab is the evidence: which lab, value, unit, flags, status, time, message
    let evidence = &e["evidence"][0];
    assert_eq!(evidence["source"]["kind"], "lab");
    assert_eq!(evidence["source"]["control_id"], "LAB-K-1");
    let lab = &evidence["evidence"]["labs"][0];
    assert_eq!(lab["lab"], "k");
    assert_eq!(lab["value"], 6.1);
    assert_eq!(lab["unit"], "mmol/L");
    assert_eq!(lab["flags"], serde_json::json!(["HH"]));
    assert_eq!(lab["status"], "final");
    let observed: DateTime<Utc> = lab["observed_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(observed.timestamp(), taken.timestamp());
    assert_eq!(evidence["evidence"]["condition"], "lab(k) > 5.5");
    // the doctor reads it on the escalation too
    let one = doctor.get(&format!("/api/v1/escalations/{}", e["id"]));
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.body["evidence"][0]["evidence"]["labs"][0]["value"], 6.1);

    // in the console: the doctor reads the lab on the escalation, the report draws its trend
    let seen = helpers::browser(
        "lab_evidence",
        &suifang.server,
        serde_json::json!({"escalation_id": e["id"], "patient_id": patient}),
    );
    let shown = seen["lab_evidence"].as_array().unwrap();
    assert_eq!(shown.len(), 1, "{seen}");
    assert!(
        shown[0].as_str().unwrap().contains("6.1 mmol/L (HH)"),
        "{seen}"
    );
    assert!(
        seen["lab_charts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "lab-k"),
        "{seen}"
    );

    // the interface engine sends it again (it missed our ACK): same ACK, nothing new
    let (ok, out) = send(port, dir.path(), &[potassium]);
    assert!(ok);
    assert_eq!(ack_lines(&out, "MSA"), ["MSA|AA|LAB-K-1"]);
    let again = escalations(&doctor, patient);
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0]["evidence"].as_array().unwrap().len(),
        1,
        "{again:?}"
    );

    // the trend data the console's charts draw, and the timeline, show the result once
    let report = supervisor.get(&format!("/api/v1/patients/{patient}/report"));
    assert_eq!(report.status, 200, "{}", report.body);
    let k = &report.body["labs"]["k"];
    assert_eq!(k["unit"], "mmol/L");
    let points = k["points"].as_array().unwrap();
    assert_eq!(points.len(), 1, "{k}");
    assert_eq!(points[0]["value"], 6.1);
    assert_eq!(points[0]["flags"], serde_json::json!(["HH"]));
    assert_eq!(points[0]["status"], "final");
    assert_eq!(
        (
            points[0]["range_low"].clone(),
            points[0]["range_high"].clone()
        ),
        (serde_json::json!(3.5), serde_json::json!(5.3))
    );
    assert!(points[0]["message_id"].is_i64(), "{k}");
    assert!(report.body["labs"].get("chloride").is_none());
    let timeline = supervisor.get(&format!("/api/v1/patients/{patient}/timeline"));
    let labs_on_timeline: Vec<&Value> = timeline.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "lab")
        .collect();
    assert_eq!(labs_on_timeline.len(), 1, "{}", timeline.body);
    assert_eq!(labs_on_timeline[0]["reference_range"], "3.5-5.3");
    assert_eq!(timeline.body["labs"]["k"]["points"][0]["value"], 6.1);

    // NT-proBNP: 1000 pg/mL the day after discharge (the baseline), 1800 ng/L (= pg/mL) now
    let (_, out) = send(
        port,
        dir.path(),
        &[
            oru(
                "LAB-NT-1",
                "LAB-001",
                now - Duration::days(1),
                &[("33762-6^NT-proBNP^LN", "1000", "pg/mL", "<125", "H")],
            ),
            oru(
                "LAB-NT-2",
                "LAB-001",
                now - Duration::minutes(30),
                &[("33762-6^NT-proBNP^LN", "1800", "ng/L", "<125", "H")],
            ),
        ],
    );
    assert_eq!(
        ack_lines(&out, "MSA"),
        ["MSA|AA|LAB-NT-1", "MSA|AA|LAB-NT-2"]
    );
    let open = escalations(&doctor, patient);
    let rise = open
        .iter()
        .find(|e| e["key"]["rule"] == "hf-lab-ntprobnp-rise")
        .unwrap_or_else(|| panic!("an NT-proBNP rise escalation: {open:?}"));
    assert_eq!(rise["severity"], "high");
    let lab = &rise["evidence"][0]["evidence"]["labs"][0];
    assert_eq!(
        (lab["value"].clone(), lab["baseline"].clone()),
        (serde_json::json!(1800.0), serde_json::json!(1000.0))
    );
    assert_eq!(lab["unit"], "pg/mL");

    // potassium in mg/dL has no exact conversion: AE with ERR at OBX-6, kept, nothing stored
    let wrong_unit = oru(
        "LAB-K-2",
        "LAB-001",
        now - Duration::minutes(10),
        &[("2823-3^Potassium^LN", "23.8", "mg/dL", "", "")],
    );
    // an MRN suifang does not know: AE 204 at PID-3, kept for a replay
    let stranger = oru(
        "LAB-X-1",
        "NOBODY-9",
        now - Duration::minutes(10),
        &[("2823-3^Potassium^LN", "6.4", "mmol/L", "", "HH")],
    );
    let (ok, out) = send(port, dir.path(), &[wrong_unit, stranger]);
    assert!(ok);
    let msa = ack_lines(&out, "MSA");
    assert_eq!(msa.len(), 2, "{msa:?}");
    assert!(msa[0].starts_with("MSA|AE|LAB-K-2|"), "{msa:?}");
    assert!(msa[1].starts_with("MSA|AE|LAB-X-1|"), "{msa:?}");
    let err = ack_lines(&out, "ERR");
    assert!(err[0].contains("|OBX^1^6|103^"), "{err:?}");
    assert!(err[0].contains("mg/dL"), "{err:?}");
    assert!(err[1].contains("|PID^1^3|204^"), "{err:?}");
    let admin = suifang.login("admin", "admin-demo-1");
    let failed = admin.get("/api/v1/hl7/messages?status=failed").body;
    let kept: Vec<&str> = failed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["control_id"].as_str())
        .collect();
    assert!(
        kept.contains(&"LAB-K-2") && kept.contains(&"LAB-X-1"),
        "{failed}"
    );
    let report = supervisor
        .get(&format!("/api/v1/patients/{patient}/report"))
        .body;
    assert_eq!(report["labs"]["k"]["points"].as_array().unwrap().len(), 1);
    assert_eq!(escalations(&doctor, patient).len(), 2);

    // the unknown patient's discharge arrives later: the admin replays the kept result, which
    // is applied and escalates for her
    let stranger_id = failed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["control_id"] == "LAB-X-1")
        .and_then(|m| m["id"].as_i64())
        .unwrap();
    let (_, out) = send(
        port,
        dir.path(),
        &[discharge("ADT-9", "NOBODY-9", now - Duration::days(1))],
    );
    assert_eq!(ack_lines(&out, "MSA"), ["MSA|AA|ADT-9"]);
    let replayed = admin.post(
        &format!("/api/v1/hl7/messages/{stranger_id}/replay"),
        serde_json::json!({}),
    );
    assert_eq!(replayed.status, 200, "{}", replayed.body);
    assert_eq!(
        replayed.body["message"]["status"], "applied",
        "{}",
        replayed.body
    );
    let known = patient_id(&supervisor, "NOBODY-9");
    let hers = escalations(&doctor, known);
    assert_eq!(hers.len(), 1, "{hers:?}");
    assert_eq!(hers[0]["key"]["rule"], "hf-lab-potassium-high");
    assert_eq!(hers[0]["evidence"][0]["evidence"]["labs"][0]["value"], 6.4);
}
