//! Rows → resources: the codes each status maps to (the R4 required bindings), what is left out
//! when a row has no value, ids FHIR accepts, and links between resources.

use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::json;

use super::clinical::*;
use super::resources::*;
use crate::followup::script::{AnswerValue, OptionId};

fn at(h: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, h, 0, 0).unwrap()
}

#[test]
fn a_patient_leaves_out_what_is_unknown_and_codes_gender() {
    let mut row = PatientRow {
        id: 7,
        mrn: "MRN001".into(),
        name: "张伟".into(),
        sex: Some("F".into()),
        birth_date: NaiveDate::from_ymd_opt(1950, 1, 1),
        phone: "+8613800000001".into(),
        deceased: false,
        updated_at: at(8),
    };
    let p = patient(&row);
    assert_eq!(p["id"], "7");
    assert_eq!(p["gender"], "female");
    assert_eq!(p["birthDate"], "1950-01-01");
    assert_eq!(p["identifier"][0]["value"], "MRN001");
    assert_eq!(p["meta"]["lastUpdated"], "2026-12-07T08:00:00Z");
    assert!(p.get("deceasedBoolean").is_none());
    (row.sex, row.birth_date, row.deceased) = (None, None, true);
    let p = patient(&row);
    assert!(
        p.get("gender").is_none() && p.get("birthDate").is_none(),
        "{p}"
    );
    assert_eq!(p["deceasedBoolean"], true);
    row.sex = Some("X".into());
    assert_eq!(patient(&row)["gender"], "unknown");
}

#[test]
fn statuses_map_to_the_r4_value_sets() {
    let mut e = EncounterRow {
        id: 3,
        patient_id: 7,
        discharged_at: at(6),
        visit_number: None,
        department: None,
        disposition: None,
        diagnoses: vec![],
        cancelled: false,
        created_at: at(6),
    };
    let enc = encounter(&e);
    assert_eq!(enc["status"], "finished");
    assert!(enc.get("reasonCode").is_none() && enc.get("identifier").is_none());
    e.cancelled = true;
    e.diagnoses = vec!["I50.9".into()];
    let enc = encounter(&e);
    assert_eq!(enc["status"], "entered-in-error");
    assert_eq!(enc["reasonCode"][0]["coding"][0]["code"], "I50.9");

    let plan = |status: &str| {
        care_plan(&CarePlanRow {
            id: 1,
            patient_id: 7,
            discharge_id: 3,
            pathway_code: "heart-failure".into(),
            pathway_version: 2,
            status: status.into(),
            enrolled_at: at(6),
        })
    };
    assert_eq!(plan("active")["status"], "active");
    assert_eq!(plan("superseded")["status"], "revoked");
    assert_eq!(plan("cancelled")["encounter"]["reference"], "Encounter/3");

    let task_status = |status: &str| {
        task(&TaskRow {
            id: 9,
            patient_id: 7,
            enrollment_id: Some(1),
            step_name: "D7 call".into(),
            status: status.into(),
            last_disposition: None,
            due_at: at(9),
            window_start: at(8),
            window_end: at(20),
            created_at: at(6),
            updated_at: at(7),
        })["status"]
            .clone()
    };
    for (ours, fhir) in [
        ("pending", "ready"),
        ("completed", "completed"),
        ("paused", "on-hold"),
        ("superseded", "cancelled"),
        ("unreachable", "failed"),
    ] {
        assert_eq!(task_status(ours), fhir, "{ours}");
    }

    let f = |status: &str, resolved: Option<u32>| {
        flag(&FlagRow {
            id: 1,
            patient_id: 7,
            rule_id: "balance".into(),
            script_code: "stroke".into(),
            severity: "emergency".into(),
            status: status.into(),
            opened_at: at(9),
            resolved_at: resolved.map(at),
            updated_at: at(10),
        })
    };
    assert_eq!(f("acknowledged", None)["status"], "active");
    assert!(f("open", None)["period"].get("end").is_none());
    let done = f("resolved", Some(11));
    assert_eq!(done["status"], "inactive");
    assert_eq!(done["period"]["end"], "2026-12-07T11:00:00Z");
}

#[test]
fn call_ids_become_fhir_ids_and_link_the_documents() {
    assert_eq!(fhir_id("c-1.a"), "c-1.a");
    assert_eq!(fhir_id("a_b@c"), "a.5fb.40c");
    assert_eq!(fhir_id(&"x".repeat(80)).len(), 64);

    let mut call = CommunicationRow {
        id: "call_1".into(),
        patient_id: 7,
        task_id: Some(9),
        direction: "outbound".into(),
        ended: true,
        started_at: at(9),
        ended_at: Some(at(10)),
        disposition: Some("completed".into()),
        recording: Some((4, Some(61_500))),
    };
    let c = communication(&call);
    assert_eq!(c["id"], "call.5f1");
    assert_eq!(c["identifier"][0]["value"], "call_1");
    assert_eq!(c["basedOn"][0]["reference"], "Task/9");
    assert_eq!(c["sent"], "2026-12-07T09:00:00Z");
    assert!(c.get("received").is_none());
    let a = &c["payload"][0]["contentAttachment"];
    assert_eq!(a["url"], "/api/v1/recordings/4/audio");
    assert_eq!(a["title"], "Call recording (61 s)");
    (call.direction, call.recording, call.ended) = ("inbound".into(), None, false);
    let c = communication(&call);
    assert_eq!(c["status"], "in-progress");
    assert!(c.get("payload").is_none() && c.get("sent").is_none());
    assert_eq!(c["received"], "2026-12-07T09:00:00Z");

    let d = document(&DocumentRow::Transcript {
        id: 5,
        patient_id: 7,
        call_id: "call_1".into(),
        language: None,
        done: false,
        created_at: at(10),
        updated_at: at(11),
    });
    assert_eq!(d["id"], "t5");
    assert_eq!(d["docStatus"], "preliminary");
    assert_eq!(
        d["context"]["related"][0]["reference"],
        "Communication/call.5f1"
    );
    assert!(d["content"][0]["attachment"].get("language").is_none());
    let r = document(&DocumentRow::Recording {
        id: 4,
        patient_id: 7,
        call_id: "c-1".into(),
        complete: true,
        created_at: at(10),
        updated_at: at(10),
    });
    assert_eq!(
        (r["id"].as_str(), r["docStatus"].as_str()),
        (Some("r4"), Some("final"))
    );
    assert_eq!(r["content"][0]["attachment"]["contentType"], "audio/wav");
}

#[test]
fn answers_keep_their_types() {
    let items = [
        (AnswerValue::YesNo(true), json!({"valueBoolean": true})),
        (AnswerValue::Number(71.5), json!({"valueDecimal": 71.5})),
        (AnswerValue::Scale(3), json!({"valueInteger": 3})),
        (
            AnswerValue::BloodPressure {
                systolic: 150,
                diastolic: 95,
            },
            json!({"valueString": "150/95 mmHg"}),
        ),
        (
            AnswerValue::Choice(OptionId("worse".into())),
            json!({"valueCoding": {"system": "urn:suifang:option", "code": "worse"}}),
        ),
        (
            AnswerValue::Date(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()),
            json!({"valueDate": "2026-12-01"}),
        ),
    ];
    let row = QuestionnaireResponseRow {
        task_id: 9,
        patient_id: 7,
        script_code: "heart-failure".into(),
        task_completed: false,
        authored: at(9),
        items: items
            .iter()
            .enumerate()
            .map(|(n, (v, _))| AnswerItem {
                question_id: format!("q{n}"),
                text: (n == 0).then(|| "Short of breath?".into()),
                value: v.clone(),
            })
            .collect(),
    };
    let qr = questionnaire_response(&row);
    assert_eq!(qr["status"], "in-progress");
    assert_eq!(qr["questionnaire"], "urn:suifang:script:heart-failure");
    assert_eq!(qr["item"][0]["text"], "Short of breath?");
    assert!(qr["item"][1].get("text").is_none());
    for (n, (_, expected)) in items.iter().enumerate() {
        assert_eq!(qr["item"][n]["answer"][0], *expected, "q{n}");
    }
}

#[test]
fn measurements_and_labs_are_coded_observations() {
    let m = measurement(&MeasurementRow {
        id: 2,
        patient_id: 7,
        kind: "weight_kg".into(),
        value: 71.5,
        measured_at: at(8),
    });
    assert_eq!(m["id"], "m2");
    assert_eq!(m["code"]["coding"][0]["code"], "29463-7");
    assert_eq!(m["valueQuantity"]["code"], "kg");
    let other = measurement(&MeasurementRow {
        id: 3,
        patient_id: 7,
        kind: "steps".into(),
        value: 4000.0,
        measured_at: at(8),
    });
    assert_eq!(
        other["code"]["coding"][0]["system"],
        "urn:suifang:measurement"
    );
    assert!(other["valueQuantity"].get("unit").is_none());

    let mut row = LabRow {
        id: 1,
        patient_id: 7,
        code: "2823-3".into(),
        code_text: "Potassium".into(),
        code_system: "LN".into(),
        value: Some(6.1),
        comparator: None,
        value_text: None,
        unit: "mmol/L".into(),
        range_low: Some(3.5),
        range_high: Some(5.3),
        range_text: String::new(),
        flags: "H~A".into(),
        status: "corrected".into(),
        observed_at: at(7),
        received_at: at(8),
    };
    let l = lab(&row);
    assert_eq!(l["id"], "l1");
    assert_eq!(l["status"], "corrected");
    assert_eq!(l["code"]["coding"][0]["system"], "http://loinc.org");
    assert_eq!(l["valueQuantity"], json!({"value": 6.1, "unit": "mmol/L"}));
    let flags: Vec<_> = l["interpretation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["coding"][0]["code"].as_str().unwrap())
        .collect();
    assert_eq!(flags, ["H", "A"]);
    assert_eq!(l["referenceRange"][0]["high"]["value"], 5.3);
    assert!(l["referenceRange"][0].get("text").is_none());
    (row.code_system, row.value, row.comparator) = ("99LAB".into(), Some(0.01), Some("<".into()));
    (row.flags, row.range_low, row.range_high, row.status) =
        (String::new(), None, None, "final".into());
    let l = lab(&row);
    assert_eq!(
        l["code"]["coding"][0]["system"],
        "urn:suifang:lab-code:99LAB"
    );
    assert_eq!(l["valueQuantity"]["comparator"], "<");
    assert!(l.get("interpretation").is_none() && l.get("referenceRange").is_none());
    (row.value, row.value_text) = (None, Some("positive".into()));
    let l = lab(&row);
    assert_eq!(l["valueString"], "positive");
    assert!(l.get("valueQuantity").is_none());
}
