//! The clinical content of a follow-up as FHIR R4: the answers (QuestionnaireResponse),
//! measurements and lab results (Observation), open escalations (Flag), recordings and
//! transcripts (DocumentReference).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::resources::{clean, instant, meta, patient_ref};
use crate::followup::script::AnswerValue;

pub struct AnswerItem {
    pub question_id: String,
    pub text: Option<String>,
    pub value: AnswerValue,
}

pub struct QuestionnaireResponseRow {
    /// The task whose answers these are.
    pub task_id: i64,
    pub patient_id: i64,
    pub script_code: String,
    pub task_completed: bool,
    pub authored: DateTime<Utc>,
    pub items: Vec<AnswerItem>,
}

fn answer_value(v: &AnswerValue) -> Value {
    match v {
        AnswerValue::YesNo(b) => json!({ "valueBoolean": b }),
        AnswerValue::Number(n) => json!({ "valueDecimal": n }),
        AnswerValue::Scale(s) => json!({ "valueInteger": s }),
        AnswerValue::BloodPressure {
            systolic,
            diastolic,
        } => json!({ "valueString": format!("{systolic}/{diastolic} mmHg") }),
        AnswerValue::Choice(o) => {
            json!({ "valueCoding": { "system": "urn:suifang:option", "code": o.to_string() } })
        }
        AnswerValue::Text(t) => json!({ "valueString": t }),
        AnswerValue::Date(d) => json!({ "valueDate": d.to_string() }),
    }
}

pub fn questionnaire_response(r: &QuestionnaireResponseRow) -> Value {
    let items: Vec<Value> = r
        .items
        .iter()
        .map(|i| {
            clean(json!({
                "linkId": i.question_id,
                "text": i.text,
                "answer": [answer_value(&i.value)],
            }))
        })
        .collect();
    json!({
        "resourceType": "QuestionnaireResponse",
        "id": r.task_id.to_string(),
        "meta": meta(r.authored),
        "questionnaire": format!("urn:suifang:script:{}", r.script_code),
        "identifier": { "system": "urn:suifang:task", "value": r.task_id.to_string() },
        "status": if r.task_completed { "completed" } else { "in-progress" },
        "subject": patient_ref(r.patient_id),
        "authored": instant(r.authored),
        "item": items,
    })
}

/// LOINC code, display and UCUM unit of a measurement series (the vital signs' codes of the
/// R4 vital-signs profile; glucose as measured by the patient at home).
fn measurement_code(kind: &str) -> (&'static str, &'static str, &'static str) {
    match kind {
        "weight_kg" => ("29463-7", "Body weight", "kg"),
        "sbp" => ("8480-6", "Systolic blood pressure", "mm[Hg]"),
        "dbp" => ("8462-4", "Diastolic blood pressure", "mm[Hg]"),
        "glucose_mmol" => ("2339-0", "Glucose [Mass/volume] in Blood", "mmol/L"),
        "temperature_c" => ("8310-5", "Body temperature", "Cel"),
        "heart_rate_bpm" => ("8867-4", "Heart rate", "/min"),
        "spo2_pct" => ("59408-5", "Oxygen saturation by pulse oximetry", "%"),
        _ => ("", "", ""),
    }
}

/// A patient-reported measurement (id `m<row>`).
pub struct MeasurementRow {
    pub id: i64,
    pub patient_id: i64,
    pub kind: String,
    pub value: f64,
    pub measured_at: DateTime<Utc>,
}

pub fn measurement(r: &MeasurementRow) -> Value {
    let (loinc, display, unit) = measurement_code(&r.kind);
    let coding = if loinc.is_empty() {
        json!([{ "system": "urn:suifang:measurement", "code": r.kind }])
    } else {
        json!([{ "system": "http://loinc.org", "code": loinc, "display": display }])
    };
    let mut quantity = json!({ "value": r.value });
    if !unit.is_empty() {
        quantity["unit"] = json!(unit);
        quantity["system"] = json!("http://unitsofmeasure.org");
        quantity["code"] = json!(unit);
    }
    json!({
        "resourceType": "Observation",
        "id": format!("m{}", r.id),
        "meta": meta(r.measured_at),
        "status": "final",
        "category": [{ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs"
        }]}],
        "code": { "coding": coding, "text": r.kind },
        "subject": patient_ref(r.patient_id),
        "effectiveDateTime": instant(r.measured_at),
        "valueQuantity": quantity,
    })
}

/// A laboratory result from ORU^R01 (id `l<row>`).
pub struct LabRow {
    pub id: i64,
    pub patient_id: i64,
    pub code: String,
    pub code_text: String,
    pub code_system: String,
    pub value: Option<f64>,
    pub comparator: Option<String>,
    pub value_text: Option<String>,
    pub unit: String,
    pub range_low: Option<f64>,
    pub range_high: Option<f64>,
    pub range_text: String,
    /// OBX-8 codes joined with `~`.
    pub flags: String,
    /// final, corrected, preliminary
    pub status: String,
    pub observed_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

pub fn lab(r: &LabRow) -> Value {
    let system = match r.code_system.as_str() {
        "LN" | "LOINC" => "http://loinc.org".to_string(),
        other => format!("urn:suifang:lab-code:{}", super::resources::fhir_id(other)),
    };
    let value = match (r.value, &r.value_text) {
        (Some(v), _) => {
            let mut q = json!({ "value": v, "unit": r.unit });
            if let Some(c) = &r.comparator {
                q["comparator"] = json!(c);
            }
            json!({ "valueQuantity": q })
        }
        (None, Some(t)) => json!({ "valueString": t }),
        (None, None) => json!({}),
    };
    let interpretation: Vec<Value> = r
        .flags
        .split('~')
        .filter(|f| !f.is_empty())
        .map(|f| {
            json!({ "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                "code": f
            }]})
        })
        .collect();
    let range =
        (r.range_low.is_some() || r.range_high.is_some() || !r.range_text.is_empty()).then(|| {
            clean(json!([{
                "low": r.range_low.map(|v| json!({ "value": v, "unit": r.unit })),
                "high": r.range_high.map(|v| json!({ "value": v, "unit": r.unit })),
                "text": (!r.range_text.is_empty()).then_some(&r.range_text),
            }]))
        });
    let mut out = clean(json!({
        "resourceType": "Observation",
        "id": format!("l{}", r.id),
        "meta": meta(r.received_at),
        "status": if r.status == "corrected" { "corrected" } else if r.status == "preliminary" { "preliminary" } else { "final" },
        "category": [{ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "laboratory"
        }]}],
        "code": { "coding": [{ "system": system, "code": r.code, "display": r.code_text }], "text": r.code_text },
        "subject": patient_ref(r.patient_id),
        "effectiveDateTime": instant(r.observed_at),
        "interpretation": (!interpretation.is_empty()).then_some(interpretation),
        "referenceRange": range,
    }));
    if let (Value::Object(o), Value::Object(v)) = (&mut out, value) {
        o.extend(v);
    }
    out
}

/// An escalation (FHIR Flag: "be aware of this about the patient").
pub struct FlagRow {
    pub id: i64,
    pub patient_id: i64,
    pub rule_id: String,
    pub script_code: String,
    /// routine, high, urgent, emergency
    pub severity: String,
    /// open, acknowledged, resolved
    pub status: String,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

pub fn flag(r: &FlagRow) -> Value {
    clean(json!({
        "resourceType": "Flag",
        "id": r.id.to_string(),
        "meta": meta(r.updated_at),
        "status": if r.status == "resolved" { "inactive" } else { "active" },
        "category": [{ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/flag-category",
            "code": "clinical",
            "display": "Clinical"
        }]}],
        "code": {
            "coding": [{ "system": format!("urn:suifang:rule:{}", super::resources::fhir_id(&r.script_code)), "code": r.rule_id }],
            "text": format!("{} escalation: {} ({})", r.severity, r.rule_id, r.status),
        },
        "subject": patient_ref(r.patient_id),
        "period": { "start": instant(r.opened_at), "end": r.resolved_at.map(instant) },
    }))
}

/// A recording (id `r<row>`) or a transcript (id `t<row>`) of a call.
pub enum DocumentRow {
    Recording {
        id: i64,
        patient_id: i64,
        call_id: String,
        complete: bool,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    },
    Transcript {
        id: i64,
        patient_id: i64,
        call_id: String,
        language: Option<String>,
        done: bool,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    },
}

pub fn document(r: &DocumentRow) -> Value {
    let (id, patient, call, kind, attachment, current, created, updated) = match r {
        DocumentRow::Recording {
            id,
            patient_id,
            call_id,
            complete,
            created_at,
            updated_at,
        } => (
            format!("r{id}"),
            *patient_id,
            call_id,
            "Call recording",
            json!({
                "contentType": "audio/wav",
                "url": format!("/api/v1/recordings/{id}/audio"),
                "title": "Call recording (stereo: nurse left, patient right)",
            }),
            *complete,
            *created_at,
            *updated_at,
        ),
        DocumentRow::Transcript {
            id,
            patient_id,
            call_id,
            language,
            done,
            created_at,
            updated_at,
        } => (
            format!("t{id}"),
            *patient_id,
            call_id,
            "Call transcript",
            clean(json!({
                "contentType": "text/vtt",
                "language": language,
                "url": format!("/api/v1/calls/{call_id}/transcript?format=vtt&transcript={id}"),
                "title": "Call transcript (speaker-labelled)",
            })),
            *done,
            *created_at,
            *updated_at,
        ),
    };
    json!({
        "resourceType": "DocumentReference",
        "id": id,
        "meta": meta(updated),
        "status": "current",
        "docStatus": if current { "final" } else { "preliminary" },
        "type": { "text": kind },
        "subject": patient_ref(patient),
        "date": instant(created),
        "content": [{ "attachment": attachment }],
        "context": { "related": [{ "reference": format!("Communication/{}", super::resources::fhir_id(call)) }] },
    })
}
