//! Admissions and readmissions (issue 18 item 1), pure logic.
//!
//! An admission of a patient who is being followed up after a discharge is a readmission: the
//! follow-up calls stop while the patient is in hospital, and the readmission is recorded
//! against the index discharge for the outcome report (30-day and 6-month readmission rates,
//! reached vs not reached). Planned readmissions (elective admissions by default) are recorded
//! but flagged, as readmission measures exclude them (CMS Planned Readmission Algorithm).
//!
//! What is decided here, without a database: what kind of stay an admission is
//! ([`PatientClass`], [`AdmissionType`]), whether it is planned, and the readmission's facts
//! ([`ReadmissionFacts::of`]). `store::admissions` applies them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::patient::FieldError;

/// PV1-2 patient class (HL7 table 0004): whether the visit is a hospital stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatientClass {
    Inpatient,
    Obstetrics,
    Emergency,
    Outpatient,
    Preadmit,
    RecurringPatient,
    /// No class sent, or a local code: taken as a stay (an A01 is an admission).
    Unspecified,
}

impl PatientClass {
    /// Reads a table 0004 code; anything else is `Unspecified`.
    pub fn of_code(code: &str) -> PatientClass {
        match code.trim().to_ascii_uppercase().as_str() {
            "I" => PatientClass::Inpatient,
            "B" => PatientClass::Obstetrics,
            "E" => PatientClass::Emergency,
            "O" => PatientClass::Outpatient,
            "P" => PatientClass::Preadmit,
            "R" => PatientClass::RecurringPatient,
            _ => PatientClass::Unspecified,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            PatientClass::Inpatient => "I",
            PatientClass::Obstetrics => "B",
            PatientClass::Emergency => "E",
            PatientClass::Outpatient => "O",
            PatientClass::Preadmit => "P",
            PatientClass::RecurringPatient => "R",
            PatientClass::Unspecified => "U",
        }
    }

    /// A stay in hospital: follow-up calls pause, and it counts as a readmission. An emergency
    /// visit, an outpatient registration (A04 is often one) or a pre-admission is not one: the
    /// patient goes home the same day and the calls go on.
    pub fn is_stay(self) -> bool {
        matches!(
            self,
            PatientClass::Inpatient | PatientClass::Obstetrics | PatientClass::Unspecified
        )
    }
}

/// PV1-4 admission type (HL7 table 0007).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdmissionType {
    Accident,
    Emergency,
    Labor,
    Routine,
    Newborn,
    Urgent,
    Elective,
    /// A local code, kept as sent.
    Other(String),
}

impl AdmissionType {
    /// Reads a table 0007 code or its English name (`C` or `elective`); `None` for empty.
    pub fn of_code(code: &str) -> Option<AdmissionType> {
        let c = code.trim();
        Some(match c.to_ascii_lowercase().as_str() {
            "" => return None,
            "a" | "accident" => AdmissionType::Accident,
            "e" | "emergency" => AdmissionType::Emergency,
            "l" | "labor" => AdmissionType::Labor,
            "r" | "routine" => AdmissionType::Routine,
            "n" | "newborn" => AdmissionType::Newborn,
            "u" | "urgent" => AdmissionType::Urgent,
            "c" | "elective" => AdmissionType::Elective,
            _ => AdmissionType::Other(c.to_string()),
        })
    }

    /// The table 0007 code (a local code as sent).
    pub fn code(&self) -> &str {
        match self {
            AdmissionType::Accident => "A",
            AdmissionType::Emergency => "E",
            AdmissionType::Labor => "L",
            AdmissionType::Routine => "R",
            AdmissionType::Newborn => "N",
            AdmissionType::Urgent => "U",
            AdmissionType::Elective => "C",
            AdmissionType::Other(c) => c,
        }
    }

    fn name(&self) -> &str {
        match self {
            AdmissionType::Accident => "accident",
            AdmissionType::Emergency => "emergency",
            AdmissionType::Labor => "labor",
            AdmissionType::Routine => "routine",
            AdmissionType::Newborn => "newborn",
            AdmissionType::Urgent => "urgent",
            AdmissionType::Elective => "elective",
            AdmissionType::Other(c) => c,
        }
    }

    /// Whether `[outcomes] planned_admission_types` names this type, by name (`elective`) or
    /// code (`C`, or a local code), case-insensitively.
    pub fn is_planned(&self, planned_types: &[String]) -> bool {
        planned_types.iter().any(|p| {
            let p = p.trim();
            p.eq_ignore_ascii_case(self.name()) || p.eq_ignore_ascii_case(self.code())
        })
    }
}

/// An admission to record, checked; the patient comes from the caller.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAdmission {
    pub admitted_at: DateTime<Utc>,
    /// suifang department code (`cardiology`).
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub visit_number: Option<String>,
    #[serde(default = "inpatient")]
    pub patient_class: PatientClass,
    /// Table 0007 code or name (`E`, `elective`).
    #[serde(default, deserialize_with = "admission_type")]
    pub admission_type: Option<AdmissionType>,
}

fn inpatient() -> PatientClass {
    PatientClass::Inpatient
}

fn admission_type<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<AdmissionType>, D::Error> {
    let code: Option<String> = Option::deserialize(d)?;
    Ok(code.as_deref().and_then(AdmissionType::of_code))
}

impl NewAdmission {
    /// An admission is now or in the past (a booked elective admission is not one yet).
    pub fn validate(mut self, now: DateTime<Utc>) -> Result<NewAdmission, FieldError> {
        // clocks of the HIS and of suifang differ by minutes, not hours
        if self.admitted_at > now + chrono::Duration::hours(1) {
            return Err(FieldError::new("admitted_at", "is in the future"));
        }
        self.department = self
            .department
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty());
        self.visit_number = self
            .visit_number
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty());
        if let Some(v) = &self.visit_number {
            if v.chars().count() > 64 {
                return Err(FieldError::new(
                    "visit_number",
                    "is longer than 64 characters",
                ));
            }
        }
        Ok(self)
    }

    pub fn planned(&self, planned_types: &[String]) -> bool {
        self.admission_type
            .as_ref()
            .is_some_and(|t| t.is_planned(planned_types))
    }
}

/// The discharge an admission follows, as the store found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexDischarge {
    pub discharged_at: DateTime<Utc>,
    /// The newest completed follow-up contact after that discharge and before the admission.
    pub last_contact_at: Option<DateTime<Utc>>,
}

/// What is recorded about a readmission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReadmissionFacts {
    /// Whole days from the index discharge to the admission (0 = the same day's 24 h).
    pub days_since_discharge: i64,
    pub contacted_before: bool,
    /// Whole days from the last contact to the admission.
    pub days_contact_before: Option<i64>,
    pub planned: bool,
}

impl ReadmissionFacts {
    /// The facts of an admission at `admitted_at` after `index`; `None` when the admission is
    /// not after the discharge (a late-arriving message about an earlier stay).
    pub fn of(
        index: IndexDischarge,
        admitted_at: DateTime<Utc>,
        planned: bool,
    ) -> Option<ReadmissionFacts> {
        if admitted_at < index.discharged_at {
            return None;
        }
        let contact = index
            .last_contact_at
            .filter(|c| *c >= index.discharged_at && *c <= admitted_at);
        Some(ReadmissionFacts {
            days_since_discharge: (admitted_at - index.discharged_at).num_days(),
            contacted_before: contact.is_some(),
            days_contact_before: contact.map(|c| (admitted_at - c).num_days()),
            planned,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
    }

    #[test]
    fn patient_classes_that_are_stays() {
        let table = [
            ("I", PatientClass::Inpatient, true),
            ("b", PatientClass::Obstetrics, true),
            ("E", PatientClass::Emergency, false),
            ("O", PatientClass::Outpatient, false),
            ("P", PatientClass::Preadmit, false),
            ("R", PatientClass::RecurringPatient, false),
            ("", PatientClass::Unspecified, true),
            ("Z", PatientClass::Unspecified, true),
        ];
        for (code, class, stay) in table {
            assert_eq!(PatientClass::of_code(code), class, "{code}");
            assert_eq!(class.is_stay(), stay, "{code}");
        }
    }

    #[test]
    fn planned_by_name_or_code() {
        let elective = vec!["elective".to_string()];
        assert!(AdmissionType::of_code("C").unwrap().is_planned(&elective));
        assert!(AdmissionType::of_code("Elective")
            .unwrap()
            .is_planned(&elective));
        assert!(!AdmissionType::of_code("E").unwrap().is_planned(&elective));
        let local = vec!["ZP".to_string(), "r".to_string()];
        assert!(AdmissionType::of_code("zp").unwrap().is_planned(&local));
        assert!(AdmissionType::of_code("R").unwrap().is_planned(&local));
        assert!(!AdmissionType::of_code("C").unwrap().is_planned(&local));
        assert_eq!(AdmissionType::of_code("  "), None);
        let none = NewAdmission {
            admitted_at: at(1, 0),
            department: None,
            visit_number: None,
            patient_class: PatientClass::Inpatient,
            admission_type: None,
        };
        assert!(!none.planned(&elective));
    }

    #[test]
    fn validation_names_the_field() {
        let a = NewAdmission {
            admitted_at: at(10, 12),
            department: Some("  ".into()),
            visit_number: Some(" V1 ".into()),
            patient_class: PatientClass::Inpatient,
            admission_type: None,
        };
        let ok = a.clone().validate(at(10, 12)).unwrap();
        assert_eq!(ok.department, None);
        assert_eq!(ok.visit_number.as_deref(), Some("V1"));
        let e = a.clone().validate(at(10, 10)).unwrap_err();
        assert_eq!(e.field, "admitted_at");
        let long = NewAdmission {
            visit_number: Some("9".repeat(65)),
            ..a
        };
        assert_eq!(long.validate(at(11, 0)).unwrap_err().field, "visit_number");
    }

    #[test]
    fn the_api_body_reads_codes_and_defaults_to_an_inpatient_stay() {
        let a: NewAdmission = serde_json::from_str(
            r#"{"admitted_at":"2026-11-10T08:00:00Z","admission_type":"elective"}"#,
        )
        .unwrap();
        assert_eq!(a.patient_class, PatientClass::Inpatient);
        assert_eq!(a.admission_type, Some(AdmissionType::Elective));
        let unknown = serde_json::from_str::<NewAdmission>(
            r#"{"admitted_at":"2026-11-10T08:00:00Z","ward":"3"}"#,
        );
        assert!(unknown.is_err());
    }

    #[test]
    fn readmission_facts() {
        let index = IndexDischarge {
            discharged_at: at(1, 10),
            last_contact_at: Some(at(3, 9)),
        };
        // admitted on day 9 at 08:00: 7 whole days after discharge, 5 after the contact
        let f = ReadmissionFacts::of(index, at(9, 8), false).unwrap();
        assert_eq!(f.days_since_discharge, 7);
        assert!(f.contacted_before);
        assert_eq!(f.days_contact_before, Some(5));
        assert!(!f.planned);
        // no contact yet
        let none = IndexDischarge {
            last_contact_at: None,
            ..index
        };
        let f = ReadmissionFacts::of(none, at(1, 20), true).unwrap();
        assert_eq!(
            (
                f.days_since_discharge,
                f.contacted_before,
                f.days_contact_before,
                f.planned
            ),
            (0, false, None, true)
        );
        // a contact after the admission does not count
        let late = IndexDischarge {
            last_contact_at: Some(at(12, 9)),
            ..index
        };
        assert!(
            !ReadmissionFacts::of(late, at(9, 8), false)
                .unwrap()
                .contacted_before
        );
        // an admission before the discharge is not a readmission of it
        assert_eq!(ReadmissionFacts::of(index, at(1, 9), false), None);
    }
}
