//! ADT messages read into what suifang acts on, sans-IO: A03 (discharge) into the patient and
//! discharge it enrols, A08 (update) into the patient, A13 (cancel discharge) into the visit it
//! takes back.
//!
//! Field map (HL7 v2.5 chapter 3): PID-3 MRN (the repetition typed `MR`, else the first),
//! PID-5 name, PID-7 birth date, PID-8 sex, PID-13 home phone (PID-14 work phone when there is
//! no home one), PID-15 language, NK1-2/3/5 next of kin as the alternate contact, PV1-3.1
//! point of care / PV1-10 hospital service as the department (through the configured map),
//! PV1-7 attending, PV1-19 visit number, PV1-36 discharge disposition, PV1-45 discharge time,
//! DG1-3 diagnoses (ICD-10). A discharge whose disposition is death or transfer enrols nobody.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::message::{ErrorCode, Hl7Error, Message, Segment};
use crate::followup::patient::{
    Diagnosis, DiagnosisKind, FieldError, Language, NewDischarge, NewPatient, Sex, ValidPatient,
};

/// Where the discharged patient went (PV1-36, HL7 table 0112 and common local codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Home or anywhere follow-up calls reach the patient.
    Home,
    /// Died in hospital: no follow-up, ever.
    Expired,
    /// Transferred to another hospital or institution: its team follows up.
    Transferred,
}

impl Disposition {
    fn of(code: &str) -> Disposition {
        match code.trim().to_ascii_uppercase().as_str() {
            "20" | "40" | "41" | "42" | "EXP" | "DIED" | "DEATH" => Disposition::Expired,
            "02" | "05" | "43" | "61" | "62" | "63" | "65" | "66" | "TRA" | "TRANS"
            | "TRANSFER" => Disposition::Transferred,
            _ => Disposition::Home,
        }
    }

    pub fn enrols(self) -> bool {
        self == Disposition::Home
    }
}

/// How a hospital's codes map onto suifang's (from `[hl7]` config).
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    /// Country code for domestic phone numbers (`86`): `13800000001` → `+8613800000001`.
    pub country_code: String,
    /// HIS point-of-care / service code → suifang department code (`CARD` → `cardiology`).
    pub departments: std::collections::BTreeMap<String, String>,
}

/// A discharge as the message describes it, checked.
#[derive(Debug, Clone)]
pub struct Discharge {
    pub patient: ValidPatient,
    pub discharge: NewDischarge,
    pub disposition: Disposition,
}

pub(super) fn err(
    segment: &str,
    field: usize,
    code: ErrorCode,
    message: impl Into<String>,
) -> Hl7Error {
    Hl7Error::at(code, segment, field, message)
}

/// Which HL7 field a domain validation error is about.
pub(super) fn located(e: FieldError) -> Hl7Error {
    let (segment, field) = match e.field.as_str() {
        "mrn" => ("PID", 3),
        "name" => ("PID", 5),
        "birth_date" => ("PID", 7),
        "phone" => ("PID", 13),
        "alt_phone" => ("NK1", 5),
        "alt_contact_name" => ("NK1", 2),
        "discharged_at" => ("PV1", 45),
        "admitted_at" => ("PV1", 44),
        "visit_number" => ("PV1", 19),
        f if f.starts_with("diagnoses") => ("DG1", 3),
        _ => ("PID", 0),
    };
    let code = match e.message.as_str() {
        "is required" => ErrorCode::RequiredFieldMissing,
        _ => ErrorCode::DataType,
    };
    err(segment, field, code, e.to_string())
}

/// An HL7 TS/DTM (`YYYYMMDD[HHMM[SS[.S…]]][+/-ZZZZ]`) in the hospital's zone unless it
/// carries an offset.
pub fn parse_ts(ts: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let ts = ts.trim();
    let (body, offset) = match ts.find(['+', '-']) {
        Some(i) if i >= 8 => (&ts[..i], Some(&ts[i..])),
        _ => (ts, None),
    };
    let body = body.split('.').next()?;
    if !body.chars().all(|c| c.is_ascii_digit()) || body.len() < 8 {
        return None;
    }
    let padded = format!("{body:0<14}");
    let naive = NaiveDateTime::parse_from_str(&padded[..14], "%Y%m%d%H%M%S").ok()?;
    match offset {
        Some(o) if o.len() == 5 => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let h: i32 = o[1..3].parse().ok()?;
            let m: i32 = o[3..5].parse().ok()?;
            let fixed = chrono::FixedOffset::east_opt(sign * (h * 3600 + m * 60))?;
            fixed
                .from_local_datetime(&naive)
                .single()
                .map(|d| d.with_timezone(&Utc))
        }
        _ => tz
            .from_local_datetime(&naive)
            .earliest()
            .map(|d| d.with_timezone(&Utc)),
    }
}

fn is_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// XPN family^given as one display name: 张伟 (no space) for Chinese, "Wei Zhang" otherwise.
fn person_name(m: &Message, repetition: &str, family_at: usize) -> String {
    let family = m.component(repetition, family_at);
    let given = m.component(repetition, family_at + 1);
    match (family.trim(), given.trim()) {
        ("", g) => g.to_string(),
        (f, "") => f.to_string(),
        (f, g) if is_cjk(f) || is_cjk(g) => format!("{f}{g}"),
        (f, g) => format!("{g} {f}"),
    }
}

/// The first usable number of an XTN field: XTN-12 (unformatted), else XTN-1, else the
/// country/area/local parts; domestic numbers get the configured country code.
fn phone(m: &Message, raw: &str, country_code: &str) -> Option<String> {
    m.repetitions(raw).into_iter().find_map(|rep| {
        let parts = [
            m.component(rep, 12),
            m.component(rep, 1),
            format!(
                "{}{}{}",
                m.component(rep, 5),
                m.component(rep, 6),
                m.component(rep, 7)
            ),
        ];
        let number = parts.into_iter().find(|p| !p.trim().is_empty())?;
        let compact: String = number
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        Some(if compact.starts_with('+') || compact.starts_with("00") {
            compact
        } else {
            // a domestic number: drop the trunk prefix 0 and add the country code
            format!("+{country_code}{}", compact.trim_start_matches('0'))
        })
    })
}

pub(super) fn segment<'m>(m: &'m Message, id: &str) -> Result<&'m Segment, Hl7Error> {
    m.segment(id, 1).ok_or_else(|| {
        err(
            id,
            0,
            ErrorCode::SegmentSequence,
            format!("{id} segment missing"),
        )
    })
}

/// PID-3: the repetition typed `MR` (medical record number), else the first.
pub(super) fn mrn(m: &Message, pid: &Segment) -> String {
    let ids = m.repetitions(pid.raw(3));
    ids.iter()
        .find(|r| m.component(r, 5).eq_ignore_ascii_case("MR"))
        .or(ids.first())
        .map(|r| m.component(r, 1))
        .unwrap_or_default()
}

/// A visit a message refers to: the patient's MRN and PV1-19, and when the event happened
/// (EVN-2, else MSH-7), which orders a cancellation against a discharge that arrives late.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitRef {
    pub mrn: String,
    pub visit_number: String,
    pub event_at: DateTime<Utc>,
}

/// The visit an ADT^A13 (cancel discharge) takes back; both keys are required.
pub fn visit(m: &Message, tz: Tz, now: DateTime<Utc>) -> Result<VisitRef, Hl7Error> {
    let mrn = mrn(m, segment(m, "PID")?);
    if mrn.trim().is_empty() {
        return Err(err(
            "PID",
            3,
            ErrorCode::RequiredFieldMissing,
            "PID-3 (MRN) is required",
        ));
    }
    let visit_number = m.value("PV1", 19, 1);
    if visit_number.trim().is_empty() {
        segment(m, "PV1")?;
        return Err(err(
            "PV1",
            19,
            ErrorCode::RequiredFieldMissing,
            "PV1-19 (visit number) is required to know which visit is cancelled",
        ));
    }
    let event_at = [m.value("EVN", 2, 1), m.value("MSH", 7, 1)]
        .iter()
        .find_map(|t| parse_ts(t, tz))
        .unwrap_or(now);
    Ok(VisitRef {
        mrn,
        visit_number,
        event_at,
    })
}

/// Reads an ADT^A03 into a checked patient and discharge.
pub fn discharge(
    m: &Message,
    tz: Tz,
    now: DateTime<Utc>,
    map: &Mapping,
) -> Result<Discharge, Hl7Error> {
    let patient = patient(m, map)?;
    let pv1 = segment(m, "PV1")?;
    discharge_of(m, pv1, patient, tz, now, map)
}

/// Reads the patient of an ADT message (A03, A08): PID and NK1, checked.
pub fn patient(m: &Message, map: &Mapping) -> Result<ValidPatient, Hl7Error> {
    let pid = segment(m, "PID")?;
    let mrn = mrn(m, pid);
    let name = m
        .repetitions(pid.raw(5))
        .first()
        .map(|r| person_name(m, r, 1))
        .unwrap_or_default();
    let birth_date = match m.component(pid.raw(7), 1).trim() {
        "" => None,
        ts => Some(
            ts.get(..8)
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok())
                .ok_or_else(|| {
                    err(
                        "PID",
                        7,
                        ErrorCode::DataType,
                        format!("birth date `{ts}` is not YYYYMMDD"),
                    )
                })?,
        ),
    };
    let sex = match m.component(pid.raw(8), 1).trim() {
        "F" => Some(Sex::F),
        "M" => Some(Sex::M),
        "" => None,
        _ => Some(Sex::U),
    };
    let phone_number = phone(m, pid.raw(13), &map.country_code)
        .or_else(|| phone(m, pid.raw(14), &map.country_code))
        .unwrap_or_default();
    let language = match m.component(pid.raw(15), 1).to_ascii_lowercase().as_str() {
        "en" | "eng" | "english" => Language::En,
        _ => Language::Zh,
    };
    let nk1 = m.segment("NK1", 1);
    let (alt_contact_name, alt_contact_relation, alt_phone) = match nk1 {
        Some(nk) => {
            let name = m
                .repetitions(nk.raw(2))
                .first()
                .map(|r| person_name(m, r, 1))
                .filter(|n| !n.is_empty());
            let rel = m.component(nk.raw(3), 2);
            let rel = if rel.is_empty() {
                m.component(nk.raw(3), 1)
            } else {
                rel
            };
            (
                name,
                Some(rel).filter(|r| !r.is_empty()),
                phone(m, nk.raw(5), &map.country_code),
            )
        }
        None => (None, None, None),
    };
    NewPatient {
        mrn,
        name,
        sex,
        birth_date,
        phone: phone_number,
        alt_phone,
        alt_contact_name,
        alt_contact_relation,
        language,
        do_not_call: false,
        tags: vec![],
    }
    .validate()
    .map_err(located)
}

/// PV1-3.1 point of care, else PV1-10 hospital service, through the configured map; an
/// unmapped PV1-3.1 as sent (lower case): the HIS may already use suifang's codes.
pub(super) fn department(m: &Message, pv1: &Segment, map: &Mapping) -> Option<String> {
    [m.component(pv1.raw(3), 1), m.component(pv1.raw(10), 1)]
        .into_iter()
        .filter(|c| !c.trim().is_empty())
        .find_map(|c| map.departments.get(c.trim()).cloned())
        .or_else(|| {
            Some(m.component(pv1.raw(3), 1).trim().to_ascii_lowercase()).filter(|c| !c.is_empty())
        })
}

fn discharge_of(
    m: &Message,
    pv1: &Segment,
    patient: ValidPatient,
    tz: Tz,
    now: DateTime<Utc>,
    map: &Mapping,
) -> Result<Discharge, Hl7Error> {
    let department = department(m, pv1, map);
    let attending = m
        .repetitions(pv1.raw(7))
        .first()
        .map(|r| person_name(m, r, 2))
        .filter(|n| !n.is_empty());
    let discharged_raw = m.component(pv1.raw(45), 1);
    let discharged_at = if discharged_raw.trim().is_empty() {
        // PV1-45 empty: EVN-2 (recorded time) stands for it
        m.value("EVN", 2, 1)
    } else {
        discharged_raw
    };
    let discharged_at = parse_ts(&discharged_at, tz).ok_or_else(|| {
        err(
            "PV1",
            45,
            if discharged_at.is_empty() {
                ErrorCode::RequiredFieldMissing
            } else {
                ErrorCode::DataType
            },
            format!("discharge time `{discharged_at}` is not an HL7 timestamp"),
        )
    })?;
    let diagnoses: Vec<Diagnosis> = m
        .all("DG1")
        .map(|dg| m.component(dg.raw(3), 1))
        .filter(|c| !c.trim().is_empty())
        .map(|icd10| Diagnosis {
            icd10,
            kind: DiagnosisKind::F,
        })
        .collect();
    let disposition_code = m.component(pv1.raw(36), 1);
    let discharge = NewDischarge {
        discharged_at,
        department,
        diagnoses,
        visit_number: Some(m.component(pv1.raw(19), 1)).filter(|v| !v.is_empty()),
        attending,
        disposition: Some(disposition_code.clone()).filter(|d| !d.is_empty()),
        summary: None,
    }
    .validate(now)
    .map_err(located)?;
    Ok(Discharge {
        patient,
        discharge,
        disposition: Disposition::of(&disposition_code),
    })
}

#[cfg(test)]
#[path = "adt_tests.rs"]
mod tests;
