//! FHIR R4 (issue 17 item 6): suifang's records as FHIR resources for the hospital's newer
//! platforms, read and searched over `/fhir/r4/…` by system clients with API tokens.
//!
//! Sans-IO like `hl7`: this module turns plain rows into resource JSON ([`resources`]), reads
//! search parameters ([`search`]) and wraps results in Bundles and the CapabilityStatement
//! ([`bundle`]). The rows come from `store::fhir`; the HTTP shell, token check and audit are
//! `api::fhir`.
//!
//! What each resource is made of:
//!
//! | resource | from |
//! |---|---|
//! | Patient | `patients` |
//! | Encounter | a discharge (`discharges`, diagnoses as ICD-10 reason codes) |
//! | CarePlan | a pathway enrolment (`enrollments`) |
//! | Task | a follow-up task (`followup_tasks`) |
//! | Communication | a call (`calls`), its recording as an attachment link |
//! | QuestionnaireResponse | the answers of one task (`answers`) |
//! | Observation | a measurement (`measurements`, id `m…`) or a lab result (`lab_observations`, id `l…`) |
//! | Flag | an escalation (`escalations`; active while not resolved) |
//! | DocumentReference | a recording (id `r…`) or a transcript (id `t…`) |

pub mod bundle;
pub mod clinical;
pub mod resources;
pub mod search;

use serde_json::Value;

use clinical::{DocumentRow, FlagRow, LabRow, MeasurementRow, QuestionnaireResponseRow};
use resources::{CarePlanRow, CommunicationRow, EncounterRow, PatientRow, TaskRow};

/// One row of any resource type, as `store::fhir` reads it.
pub enum FhirRow {
    Patient(PatientRow),
    Encounter(EncounterRow),
    CarePlan(CarePlanRow),
    Task(TaskRow),
    Communication(CommunicationRow),
    QuestionnaireResponse(QuestionnaireResponseRow),
    Measurement(MeasurementRow),
    Lab(LabRow),
    Flag(FlagRow),
    Document(DocumentRow),
}

impl FhirRow {
    /// The row as its FHIR resource.
    pub fn resource(&self) -> Value {
        match self {
            FhirRow::Patient(r) => resources::patient(r),
            FhirRow::Encounter(r) => resources::encounter(r),
            FhirRow::CarePlan(r) => resources::care_plan(r),
            FhirRow::Task(r) => resources::task(r),
            FhirRow::Communication(r) => resources::communication(r),
            FhirRow::QuestionnaireResponse(r) => clinical::questionnaire_response(r),
            FhirRow::Measurement(r) => clinical::measurement(r),
            FhirRow::Lab(r) => clinical::lab(r),
            FhirRow::Flag(r) => clinical::flag(r),
            FhirRow::Document(r) => clinical::document(r),
        }
    }

    /// The patient it is about (the audit names them).
    pub fn patient_id(&self) -> i64 {
        match self {
            FhirRow::Patient(r) => r.id,
            FhirRow::Encounter(r) => r.patient_id,
            FhirRow::CarePlan(r) => r.patient_id,
            FhirRow::Task(r) => r.patient_id,
            FhirRow::Communication(r) => r.patient_id,
            FhirRow::QuestionnaireResponse(r) => r.patient_id,
            FhirRow::Measurement(r) => r.patient_id,
            FhirRow::Lab(r) => r.patient_id,
            FhirRow::Flag(r) => r.patient_id,
            FhirRow::Document(DocumentRow::Recording { patient_id, .. })
            | FhirRow::Document(DocumentRow::Transcript { patient_id, .. }) => *patient_id,
        }
    }
}

/// The resource types the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceType {
    Patient,
    Encounter,
    CarePlan,
    Task,
    Communication,
    QuestionnaireResponse,
    Observation,
    Flag,
    DocumentReference,
}

impl ResourceType {
    pub const ALL: [ResourceType; 9] = [
        ResourceType::Patient,
        ResourceType::Encounter,
        ResourceType::CarePlan,
        ResourceType::Task,
        ResourceType::Communication,
        ResourceType::QuestionnaireResponse,
        ResourceType::Observation,
        ResourceType::Flag,
        ResourceType::DocumentReference,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Patient => "Patient",
            ResourceType::Encounter => "Encounter",
            ResourceType::CarePlan => "CarePlan",
            ResourceType::Task => "Task",
            ResourceType::Communication => "Communication",
            ResourceType::QuestionnaireResponse => "QuestionnaireResponse",
            ResourceType::Observation => "Observation",
            ResourceType::Flag => "Flag",
            ResourceType::DocumentReference => "DocumentReference",
        }
    }

    pub fn parse(s: &str) -> Option<ResourceType> {
        ResourceType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// What `date` searches on for this type (the CapabilityStatement says it too).
    pub fn date_meaning(self) -> &'static str {
        match self {
            ResourceType::Patient => "birth date",
            ResourceType::Encounter => "discharge time",
            ResourceType::CarePlan => "enrolment time",
            ResourceType::Task => "due time",
            ResourceType::Communication => "call start",
            ResourceType::QuestionnaireResponse => "last answer time",
            ResourceType::Observation => "observation time",
            ResourceType::Flag => "opening time",
            ResourceType::DocumentReference => "document time",
        }
    }
}

/// API token scopes: resource types, space-separated, or `*` for all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes(Vec<ResourceType>);

impl Scopes {
    /// Parses `Patient Observation` or `*`; an unknown type is an error naming it.
    pub fn parse(text: &str) -> Result<Scopes, String> {
        let mut out = Vec::new();
        for word in text.split([' ', ',']).filter(|w| !w.is_empty()) {
            if word == "*" {
                return Ok(Scopes(ResourceType::ALL.to_vec()));
            }
            let t = ResourceType::parse(word)
                .ok_or_else(|| format!("`{word}` is not a FHIR resource type this API serves"))?;
            if !out.contains(&t) {
                out.push(t);
            }
        }
        if out.is_empty() {
            return Err("name at least one resource type, or *".into());
        }
        out.sort();
        Ok(Scopes(out))
    }

    pub fn allows(&self, t: ResourceType) -> bool {
        self.0.contains(&t)
    }

    /// As stored: the type names joined by spaces.
    pub fn to_text(&self) -> String {
        self.0
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_name_resource_types() {
        let s = Scopes::parse("Observation Patient,Patient").unwrap();
        assert!(s.allows(ResourceType::Patient) && s.allows(ResourceType::Observation));
        assert!(!s.allows(ResourceType::Flag));
        assert_eq!(s.to_text(), "Patient Observation");
        assert_eq!(Scopes::parse("*").unwrap().to_text().split(' ').count(), 9);
        assert!(Scopes::parse("Patient Medication")
            .unwrap_err()
            .contains("Medication"));
        assert!(Scopes::parse(" ").is_err());
    }
}

#[cfg(test)]
#[path = "mapping_tests.rs"]
mod mapping_tests;
