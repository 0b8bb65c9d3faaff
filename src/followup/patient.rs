//! Patients and discharges as they enter the system, validated at the edge.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::phone::PhoneNumber;

/// A field-level validation failure; the API turns it into a 422 naming `field`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sex {
    F,
    M,
    U,
}

/// The language the patient is called in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Zh,
    En,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Zh => "zh",
            Language::En => "en",
        }
    }
}

/// A patient to create (API body and CSV row).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPatient {
    pub mrn: String,
    pub name: String,
    #[serde(default)]
    pub sex: Option<Sex>,
    #[serde(default)]
    pub birth_date: Option<NaiveDate>,
    pub phone: String,
    #[serde(default)]
    pub alt_phone: Option<String>,
    #[serde(default)]
    pub alt_contact_name: Option<String>,
    #[serde(default)]
    pub alt_contact_relation: Option<String>,
    #[serde(default)]
    pub language: Language,
    #[serde(default)]
    pub do_not_call: bool,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A patient that passed validation.
#[derive(Debug, Clone)]
pub struct ValidPatient {
    pub mrn: String,
    pub name: String,
    pub sex: Option<Sex>,
    pub birth_date: Option<NaiveDate>,
    pub phone: PhoneNumber,
    pub alt_phone: Option<PhoneNumber>,
    pub alt_contact_name: Option<String>,
    pub alt_contact_relation: Option<String>,
    pub language: Language,
    pub do_not_call: bool,
    pub tags: Vec<String>,
}

fn required(field: &str, value: &str) -> Result<String, FieldError> {
    let v = value.trim();
    if v.is_empty() {
        Err(FieldError::new(field, "is required"))
    } else if v.chars().count() > 200 {
        Err(FieldError::new(field, "is longer than 200 characters"))
    } else {
        Ok(v.to_string())
    }
}

impl NewPatient {
    pub fn validate(self) -> Result<ValidPatient, FieldError> {
        let phone = |field: &str, v: &str| {
            PhoneNumber::parse(v).map_err(|e| FieldError::new(field, e.to_string()))
        };
        let alt_phone = match self.alt_phone.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => Some(phone("alt_phone", v)?),
            _ => None,
        };
        if let Some(d) = self.birth_date {
            if d > Utc::now().date_naive() {
                return Err(FieldError::new("birth_date", "is in the future"));
            }
        }
        for tag in &self.tags {
            if tag.trim().is_empty() || tag.len() > 64 {
                return Err(FieldError::new("tags", "tags are 1 to 64 characters"));
            }
        }
        Ok(ValidPatient {
            mrn: required("mrn", &self.mrn)?,
            name: required("name", &self.name)?,
            sex: self.sex,
            birth_date: self.birth_date,
            phone: phone("phone", &self.phone)?,
            alt_phone,
            alt_contact_name: self.alt_contact_name.filter(|s| !s.trim().is_empty()),
            alt_contact_relation: self.alt_contact_relation.filter(|s| !s.trim().is_empty()),
            language: self.language,
            do_not_call: self.do_not_call,
            tags: self.tags,
        })
    }
}

/// Diagnosis type as in HL7 v2 DG1-6: admitting, working, final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum DiagnosisKind {
    A,
    W,
    #[default]
    F,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Diagnosis {
    pub icd10: String,
    #[serde(default)]
    pub kind: DiagnosisKind,
}

/// Checks the shape of an ICD-10 code: a letter, two digits, optionally a dot and up to four
/// more characters (`I50`, `I50.9`, `S72.001A`).
pub fn valid_icd10(code: &str) -> bool {
    let bytes = code.as_bytes();
    if bytes.len() < 3 || !bytes[0].is_ascii_alphabetic() {
        return false;
    }
    if !bytes[1].is_ascii_digit() || !(bytes[2].is_ascii_digit() || bytes[2].is_ascii_alphabetic())
    {
        return false;
    }
    match &code[3..] {
        "" => true,
        rest => rest.strip_prefix('.').is_some_and(|tail| {
            (1..=4).contains(&tail.len()) && tail.bytes().all(|b| b.is_ascii_alphanumeric())
        }),
    }
}

/// A discharge to record (API body); the patient comes from the URL.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDischarge {
    pub discharged_at: DateTime<Utc>,
    #[serde(default)]
    pub department: Option<String>,
    pub diagnoses: Vec<Diagnosis>,
    #[serde(default)]
    pub visit_number: Option<String>,
    #[serde(default)]
    pub attending: Option<String>,
    #[serde(default)]
    pub disposition: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

impl NewDischarge {
    pub fn validate(mut self, now: DateTime<Utc>) -> Result<NewDischarge, FieldError> {
        if self.diagnoses.is_empty() {
            return Err(FieldError::new(
                "diagnoses",
                "at least one ICD-10 diagnosis is required",
            ));
        }
        for (i, d) in self.diagnoses.iter_mut().enumerate() {
            d.icd10 = d.icd10.trim().to_ascii_uppercase();
            if !valid_icd10(&d.icd10) {
                return Err(FieldError::new(
                    format!("diagnoses[{i}].icd10"),
                    format!("`{}` is not an ICD-10 code like I50.9", d.icd10),
                ));
            }
        }
        if self.discharged_at > now + chrono::Duration::days(7) {
            return Err(FieldError::new(
                "discharged_at",
                "is more than a week in the future",
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icd10_shapes() {
        for ok in ["I50", "I50.9", "E11.65", "S72.001A", "U07.1"] {
            assert!(valid_icd10(ok), "{ok}");
        }
        for bad in ["", "I5", "150", "I50.", "I50.12345", "I50-9", "心衰"] {
            assert!(!valid_icd10(bad), "{bad}");
        }
    }

    #[test]
    fn patient_validation_names_the_field() {
        let p = NewPatient {
            mrn: "M1".into(),
            name: " ".into(),
            sex: None,
            birth_date: None,
            phone: "+8613800138000".into(),
            alt_phone: Some("12345".into()),
            alt_contact_name: None,
            alt_contact_relation: None,
            language: Language::Zh,
            do_not_call: false,
            tags: vec![],
        };
        assert_eq!(p.clone().validate().unwrap_err().field, "alt_phone");
        let p = NewPatient {
            alt_phone: None,
            ..p
        };
        assert_eq!(p.validate().unwrap_err().field, "name");
    }
}
