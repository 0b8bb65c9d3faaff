//! CSV import of patients with their discharge. Every row is validated before anything is
//! written; one bad row means nothing is imported, and every bad row is reported with its line.
//!
//! An optional last column, `admitted_at`, records an admission (an inpatient stay) of the
//! row's patient in the row's department: before `discharged_at` it is the stay that discharge
//! ends; after it, a readmission that pauses the follow-up the discharge started.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::admission::{NewAdmission, PatientClass};
use super::patient::{
    Diagnosis, DiagnosisKind, FieldError, Language, NewDischarge, NewPatient, Sex, ValidPatient,
};

/// The header a patient CSV must have (extra columns are an error: they are usually a typo).
pub const COLUMNS: &[&str] = &[
    "mrn",
    "name",
    "sex",
    "birth_date",
    "phone",
    "alt_phone",
    "alt_contact_name",
    "alt_contact_relation",
    "language",
    "department",
    "discharged_at",
    "diagnoses",
    "visit_number",
    "attending",
    "summary",
];

/// Columns a file may add after [`COLUMNS`], in this order.
pub const OPTIONAL_COLUMNS: &[&str] = &["admitted_at"];

#[derive(Debug, Deserialize)]
struct Row {
    mrn: String,
    name: String,
    sex: String,
    birth_date: String,
    phone: String,
    alt_phone: String,
    alt_contact_name: String,
    alt_contact_relation: String,
    language: String,
    department: String,
    discharged_at: String,
    diagnoses: String,
    visit_number: String,
    attending: String,
    summary: String,
    #[serde(default)]
    admitted_at: String,
}

/// One valid row.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub line: u64,
    pub patient: ValidPatient,
    pub department: Option<String>,
    pub discharge: Option<NewDischarge>,
    pub admission: Option<NewAdmission>,
}

/// A problem with one line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.field, self.message)
    }
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Accepts RFC 3339, or local `YYYY-MM-DD HH:MM` / `YYYY-MM-DD` in the hospital's zone.
pub fn parse_local_time(text: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M")
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .ok()
                .map(|d| d.and_time(NaiveTime::MIN))
        })?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
}

fn convert(row: Row, tz: Tz, now: DateTime<Utc>) -> Result<ImportRow, FieldError> {
    let sex = match row.sex.trim() {
        "" => None,
        "F" | "f" | "女" => Some(Sex::F),
        "M" | "m" | "男" => Some(Sex::M),
        "U" | "u" => Some(Sex::U),
        other => {
            return Err(FieldError::new(
                "sex",
                format!("`{other}` is not F, M or U"),
            ))
        }
    };
    let birth_date = match opt(&row.birth_date) {
        None => None,
        Some(d) => Some(
            NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map_err(|_| FieldError::new("birth_date", format!("`{d}` is not YYYY-MM-DD")))?,
        ),
    };
    let language = match row.language.trim() {
        "" | "zh" => Language::Zh,
        "en" => Language::En,
        other => {
            return Err(FieldError::new(
                "language",
                format!("`{other}` is not zh or en"),
            ))
        }
    };
    let patient = NewPatient {
        mrn: row.mrn,
        name: row.name,
        sex,
        birth_date,
        phone: row.phone,
        alt_phone: opt(&row.alt_phone),
        alt_contact_name: opt(&row.alt_contact_name),
        alt_contact_relation: opt(&row.alt_contact_relation),
        language,
        do_not_call: false,
        tags: vec![],
    }
    .validate()?;
    let department = opt(&row.department);
    let discharge = match opt(&row.discharged_at) {
        None => {
            if opt(&row.diagnoses).is_some() {
                return Err(FieldError::new(
                    "discharged_at",
                    "is required when diagnoses are given",
                ));
            }
            None
        }
        Some(at) => {
            let discharged_at = parse_local_time(&at, tz).ok_or_else(|| {
                FieldError::new(
                    "discharged_at",
                    format!("`{at}` is not YYYY-MM-DD HH:MM or RFC 3339"),
                )
            })?;
            let diagnoses = row
                .diagnoses
                .split([';', ','])
                .filter(|s| !s.trim().is_empty())
                .map(|s| Diagnosis {
                    icd10: s.trim().to_string(),
                    kind: DiagnosisKind::F,
                })
                .collect();
            let discharge = NewDischarge {
                discharged_at,
                department: department.clone(),
                diagnoses,
                visit_number: opt(&row.visit_number),
                attending: opt(&row.attending),
                disposition: None,
                summary: opt(&row.summary),
            };
            Some(discharge.validate(now).map_err(|mut e| {
                if e.field.starts_with("diagnoses[") {
                    e.field = "diagnoses".into();
                }
                e
            })?)
        }
    };
    let admission = match opt(&row.admitted_at) {
        None => None,
        Some(at) => {
            let admitted_at = parse_local_time(&at, tz).ok_or_else(|| {
                FieldError::new(
                    "admitted_at",
                    format!("`{at}` is not YYYY-MM-DD HH:MM or RFC 3339"),
                )
            })?;
            Some(
                NewAdmission {
                    admitted_at,
                    department: department.clone(),
                    visit_number: None,
                    patient_class: PatientClass::Inpatient,
                    admission_type: None,
                }
                .validate(now)?,
            )
        }
    };
    Ok(ImportRow {
        line: 0,
        patient,
        department,
        discharge,
        admission,
    })
}

/// Parses a whole file; returns every valid row, or every error.
pub fn parse_csv(
    data: &[u8],
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Vec<ImportRow>, Vec<LineError>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::Headers)
        .from_reader(data);
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return Err(vec![LineError {
                line: 1,
                field: "header".into(),
                message: e.to_string(),
            }])
        }
    };
    let found: Vec<&str> = headers.iter().collect();
    let known = found.len() >= COLUMNS.len()
        && found.len() <= COLUMNS.len() + OPTIONAL_COLUMNS.len()
        && found[..COLUMNS.len()] == *COLUMNS
        && found[COLUMNS.len()..] == OPTIONAL_COLUMNS[..found.len() - COLUMNS.len()];
    if !known {
        return Err(vec![LineError {
            line: 1,
            field: "header".into(),
            message: format!(
                "expected columns {} (optionally followed by {}), found {}",
                COLUMNS.join(","),
                OPTIONAL_COLUMNS.join(","),
                found.join(",")
            ),
        }]);
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen_mrn = std::collections::HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                errors.push(LineError {
                    line,
                    field: "row".into(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let row: Row = match record.deserialize(Some(&headers)) {
            Ok(r) => r,
            Err(e) => {
                errors.push(LineError {
                    line,
                    field: "row".into(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        match convert(row, tz, now) {
            Ok(mut valid) => {
                if let Some(first) = seen_mrn.insert(valid.patient.mrn.clone(), line) {
                    errors.push(LineError {
                        line,
                        field: "mrn".into(),
                        message: format!("`{}` already appears on line {first}", valid.patient.mrn),
                    });
                }
                valid.line = line;
                rows.push(valid);
            }
            Err(e) => errors.push(LineError {
                line,
                field: e.field,
                message: e.message,
            }),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "mrn,name,sex,birth_date,phone,alt_phone,alt_contact_name,alt_contact_relation,language,department,discharged_at,diagnoses,visit_number,attending,summary\n";

    #[test]
    fn good_rows_parse_in_the_hospital_zone() {
        let csv = format!("{HEADER}M1,张三,M,1950-02-03,+8613800000001,,,,zh,cardiology,2026-03-01 10:00,I50.9;I10,V1,Dr Li,\n");
        let rows = parse_csv(csv.as_bytes(), chrono_tz::Asia::Shanghai, Utc::now()).unwrap();
        assert_eq!(rows.len(), 1);
        let d = rows[0].discharge.as_ref().unwrap();
        assert_eq!(d.discharged_at.to_rfc3339(), "2026-03-01T02:00:00+00:00");
        assert_eq!(d.diagnoses.len(), 2);
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let csv = format!(
            "{HEADER}M1,A,M,,+8613800000001,,,,zh,,,,,,\nM2,B,X,,+8613800000002,,,,zh,,,,,,\nM3,C,F,,138,,,,zh,,,,,,\nM1,D,F,,+8613800000004,,,,zh,,,,,,\nM5,E,F,,+8613800000005,,,,zh,,2026-03-01,Z,,,\n"
        );
        let errors = parse_csv(csv.as_bytes(), chrono_tz::Asia::Shanghai, Utc::now()).unwrap_err();
        let found: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(
            found,
            [(3, "sex"), (4, "phone"), (5, "mrn"), (6, "diagnoses")]
        );
    }

    #[test]
    fn an_admitted_at_column_is_optional_and_checked() {
        let header = format!("{},admitted_at\n", HEADER.trim_end());
        let csv = format!("{header}M1,张三,M,,+8613800000001,,,,zh,cardiology,2026-03-01 10:00,I50.9,V1,,,2026-03-09 08:00\nM2,李四,F,,+8613800000002,,,,zh,,,,,,,\n");
        let rows = parse_csv(csv.as_bytes(), chrono_tz::Asia::Shanghai, Utc::now()).unwrap();
        let a = rows[0].admission.as_ref().expect("admitted");
        assert_eq!(a.admitted_at.to_rfc3339(), "2026-03-09T00:00:00+00:00");
        assert_eq!(a.department.as_deref(), Some("cardiology"));
        assert!(rows[1].admission.is_none());
        let bad = format!("{header}M1,张三,M,,+8613800000001,,,,zh,,,,,,,March 9\n");
        let errors = parse_csv(bad.as_bytes(), chrono_tz::Asia::Shanghai, Utc::now()).unwrap_err();
        assert_eq!(
            (errors[0].line, errors[0].field.as_str()),
            (2, "admitted_at")
        );
        let extra = format!("{},admitted_at,ward\n", HEADER.trim_end());
        let errors =
            parse_csv(extra.as_bytes(), chrono_tz::Asia::Shanghai, Utc::now()).unwrap_err();
        assert_eq!(errors[0].field, "header");
    }

    #[test]
    fn a_wrong_header_is_one_clear_error() {
        let errors =
            parse_csv(b"mrn,name\nM1,A\n", chrono_tz::Asia::Shanghai, Utc::now()).unwrap_err();
        assert_eq!(errors[0].line, 1);
        assert!(errors[0].message.contains("expected columns"));
    }
}
