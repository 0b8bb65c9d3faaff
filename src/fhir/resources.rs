//! Rows as FHIR R4 resources. Every resource carries `meta.lastUpdated`; references are
//! relative (`Patient/12`), so they resolve against whatever base the client used. Times are
//! UTC instants; codes come from the bindings the R4 specification requires (gender, status
//! value sets) so the official JSON schema and required-binding checks accept them.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

/// Identifier systems of suifang's own ids.
pub const MRN_SYSTEM: &str = "urn:suifang:mrn";
pub const VISIT_SYSTEM: &str = "urn:suifang:visit";
pub const CALL_SYSTEM: &str = "urn:suifang:call";

pub(super) fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(super) fn meta(updated: DateTime<Utc>) -> Value {
    json!({ "lastUpdated": instant(updated) })
}

pub(super) fn patient_ref(id: i64) -> Value {
    json!({ "reference": format!("Patient/{id}") })
}

/// Drops `null` members, so optional elements are absent rather than null (FHIR JSON §2.6.2).
pub(super) fn clean(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        let kept: Map<String, Value> = std::mem::take(m)
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k, clean(v)))
            .collect();
        *m = kept;
    } else if let Value::Array(a) = &mut v {
        for x in a.iter_mut() {
            *x = clean(std::mem::take(x));
        }
    }
    v
}

pub struct PatientRow {
    pub id: i64,
    pub mrn: String,
    pub name: String,
    pub sex: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub phone: String,
    pub deceased: bool,
    pub updated_at: DateTime<Utc>,
}

pub fn patient(r: &PatientRow) -> Value {
    let gender = match r.sex.as_deref() {
        Some("F") => Some("female"),
        Some("M") => Some("male"),
        Some(_) => Some("unknown"),
        None => None,
    };
    clean(json!({
        "resourceType": "Patient",
        "id": r.id.to_string(),
        "meta": meta(r.updated_at),
        "identifier": [{ "system": MRN_SYSTEM, "value": r.mrn }],
        "name": [{ "text": r.name }],
        "telecom": [{ "system": "phone", "value": r.phone, "use": "mobile" }],
        "gender": gender,
        "birthDate": r.birth_date.map(|d| d.to_string()),
        "deceasedBoolean": r.deceased.then_some(true),
    }))
}

pub struct EncounterRow {
    pub id: i64,
    pub patient_id: i64,
    pub discharged_at: DateTime<Utc>,
    pub visit_number: Option<String>,
    pub department: Option<String>,
    pub disposition: Option<String>,
    pub diagnoses: Vec<String>,
    pub cancelled: bool,
    pub created_at: DateTime<Utc>,
}

pub fn encounter(r: &EncounterRow) -> Value {
    let reasons: Vec<Value> = r
        .diagnoses
        .iter()
        .map(|c| json!({ "coding": [{ "system": "http://hl7.org/fhir/sid/icd-10", "code": c }] }))
        .collect();
    clean(json!({
        "resourceType": "Encounter",
        "id": r.id.to_string(),
        "meta": meta(r.created_at),
        "identifier": r.visit_number.as_ref().map(|v| json!([{ "system": VISIT_SYSTEM, "value": v }])),
        "status": if r.cancelled { "entered-in-error" } else { "finished" },
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "IMP",
            "display": "inpatient encounter"
        },
        "subject": patient_ref(r.patient_id),
        "period": { "end": instant(r.discharged_at) },
        "reasonCode": (!reasons.is_empty()).then_some(reasons),
        "serviceType": r.department.as_ref().map(|d| json!({ "text": d })),
        "hospitalization": r.disposition.as_ref().map(|d| json!({ "dischargeDisposition": { "text": d } })),
    }))
}

pub struct CarePlanRow {
    pub id: i64,
    pub patient_id: i64,
    pub discharge_id: i64,
    pub pathway_code: String,
    pub pathway_version: i64,
    /// active, completed, cancelled, superseded
    pub status: String,
    pub enrolled_at: DateTime<Utc>,
}

pub fn care_plan(r: &CarePlanRow) -> Value {
    // R4 request-status: a cancelled or superseded enrolment was ended before completion
    let status = match r.status.as_str() {
        "active" => "active",
        "completed" => "completed",
        _ => "revoked",
    };
    json!({
        "resourceType": "CarePlan",
        "id": r.id.to_string(),
        "meta": meta(r.enrolled_at),
        "status": status,
        "intent": "plan",
        "title": format!("Follow-up pathway {} v{}", r.pathway_code, r.pathway_version),
        "subject": patient_ref(r.patient_id),
        "encounter": { "reference": format!("Encounter/{}", r.discharge_id) },
        "created": instant(r.enrolled_at),
    })
}

pub struct TaskRow {
    pub id: i64,
    pub patient_id: i64,
    pub enrollment_id: Option<i64>,
    pub step_name: String,
    pub status: String,
    pub last_disposition: Option<String>,
    pub due_at: DateTime<Utc>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn task(r: &TaskRow) -> Value {
    let status = match r.status.as_str() {
        "pending" => "ready",
        "completed" => "completed",
        "paused" => "on-hold",
        "cancelled" | "superseded" => "cancelled",
        // unreachable, refused, wrong_number, missed: the contact could not be made
        _ => "failed",
    };
    clean(json!({
        "resourceType": "Task",
        "id": r.id.to_string(),
        "meta": meta(r.updated_at),
        "basedOn": r.enrollment_id.map(|e| json!([{ "reference": format!("CarePlan/{e}") }])),
        "status": status,
        "statusReason": r.last_disposition.as_ref().map(|d| json!({ "text": d })),
        "intent": "plan",
        "description": r.step_name,
        "for": patient_ref(r.patient_id),
        "executionPeriod": { "start": instant(r.window_start), "end": instant(r.window_end) },
        "restriction": { "period": { "end": instant(r.due_at) } },
        "authoredOn": instant(r.created_at),
        "lastModified": instant(r.updated_at),
    }))
}

pub struct CommunicationRow {
    pub id: String,
    pub patient_id: i64,
    pub task_id: Option<i64>,
    pub direction: String,
    pub ended: bool,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub disposition: Option<String>,
    /// `(recording id, duration ms)` when the call was recorded.
    pub recording: Option<(i64, Option<i64>)>,
}

/// FHIR ids allow `[A-Za-z0-9\-\.]{1,64}`: anything else in a call id is hex-escaped.
pub fn fhir_id(raw: &str) -> String {
    let mut out = String::new();
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' {
            out.push(b as char);
        } else {
            out.push_str(&format!(".{b:02x}"));
        }
    }
    out.truncate(64);
    out
}

pub fn communication(r: &CommunicationRow) -> Value {
    let payload = r.recording.map(|(rec, ms)| {
        json!([{ "contentAttachment": {
            "contentType": "audio/wav",
            "url": format!("/api/v1/recordings/{rec}/audio"),
            // R4's Attachment has no duration (R5 added it): the length goes in the title
            "title": match ms {
                Some(ms) => format!("Call recording ({} s)", ms / 1000),
                None => "Call recording".to_string(),
            },
        }}])
    });
    clean(json!({
        "resourceType": "Communication",
        "id": fhir_id(&r.id),
        "meta": meta(r.ended_at.unwrap_or(r.started_at)),
        "identifier": [{ "system": CALL_SYSTEM, "value": r.id }],
        "basedOn": r.task_id.map(|t| json!([{ "reference": format!("Task/{t}") }])),
        "status": if r.ended { "completed" } else { "in-progress" },
        "statusReason": r.disposition.as_ref().map(|d| json!({ "text": d })),
        "medium": [{ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode",
            "code": "PHONE",
            "display": "telephone"
        }]}],
        "subject": patient_ref(r.patient_id),
        "sent": (r.direction == "outbound").then(|| instant(r.started_at)),
        "received": (r.direction == "inbound").then(|| instant(r.started_at)),
        "payload": payload,
    }))
}
