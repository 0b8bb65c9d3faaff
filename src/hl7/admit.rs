//! ADT admissions and merges read into what suifang acts on, sans-IO: A01 (admit) / A04
//! (register) into the patient and the admission, A11 (cancel admit) into the visit it takes
//! back (`adt::visit`), A40 (merge patient) into the two MRNs.
//!
//! Field map (HL7 v2.5 chapter 3): PID as for A03 (`adt::patient`), PV1-2 patient class
//! (table 0004), PV1-3.1 point of care / PV1-10 hospital service as the department (through
//! the configured map), PV1-4 admission type (table 0007), PV1-19 visit number, PV1-44 admit
//! time (EVN-2 when empty); A40: PID-3 surviving MRN, MRG-1 prior MRN.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::adt::{department, err, located, mrn, parse_ts, patient, segment, Mapping};
use super::message::{ErrorCode, Hl7Error, Message};
use crate::followup::admission::{AdmissionType, NewAdmission, PatientClass};
use crate::followup::patient::ValidPatient;

/// An admission as the message describes it, checked.
#[derive(Debug, Clone)]
pub struct Admit {
    pub patient: ValidPatient,
    pub admission: NewAdmission,
}

/// Reads an ADT^A01/A04 into a checked patient and admission.
pub fn admission(
    m: &Message,
    tz: Tz,
    now: DateTime<Utc>,
    map: &Mapping,
) -> Result<Admit, Hl7Error> {
    let patient = patient(m, map)?;
    let pv1 = segment(m, "PV1")?;
    let admitted_raw = match m.component(pv1.raw(44), 1) {
        t if t.trim().is_empty() => m.value("EVN", 2, 1),
        t => t,
    };
    let admitted_at = parse_ts(&admitted_raw, tz).ok_or_else(|| {
        err(
            "PV1",
            44,
            if admitted_raw.trim().is_empty() {
                ErrorCode::RequiredFieldMissing
            } else {
                ErrorCode::DataType
            },
            format!("admit time `{admitted_raw}` is not an HL7 timestamp"),
        )
    })?;
    let admission = NewAdmission {
        admitted_at,
        department: department(m, pv1, map),
        visit_number: Some(m.component(pv1.raw(19), 1)),
        patient_class: PatientClass::of_code(&m.component(pv1.raw(2), 1)),
        admission_type: AdmissionType::of_code(&m.component(pv1.raw(4), 1)),
    }
    .validate(now)
    .map_err(located)?;
    Ok(Admit { patient, admission })
}

/// An ADT^A40: the prior MRN's record merges into the surviving one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    pub surviving_mrn: String,
    pub prior_mrn: String,
}

/// Reads an ADT^A40 (one PID/MRG pair: suifang merges one patient per message).
pub fn merge(m: &Message) -> Result<Merge, Hl7Error> {
    let surviving_mrn = mrn(m, segment(m, "PID")?);
    if surviving_mrn.trim().is_empty() {
        return Err(err(
            "PID",
            3,
            ErrorCode::RequiredFieldMissing,
            "PID-3 (surviving MRN) is required",
        ));
    }
    let mrg = segment(m, "MRG")?;
    // MRG-1 is a CX list like PID-3: the MR-typed repetition, else the first
    let ids = m.repetitions(mrg.raw(1));
    let prior_mrn = ids
        .iter()
        .find(|r| m.component(r, 5).eq_ignore_ascii_case("MR"))
        .or(ids.first())
        .map(|r| m.component(r, 1))
        .unwrap_or_default();
    if prior_mrn.trim().is_empty() {
        return Err(err(
            "MRG",
            1,
            ErrorCode::RequiredFieldMissing,
            "MRG-1 (prior MRN) is required",
        ));
    }
    if m.all("MRG").nth(1).is_some() {
        return Err(err(
            "MRG",
            0,
            ErrorCode::SegmentSequence,
            "one PID/MRG pair per A40, please (send each merge as its own message)",
        ));
    }
    Ok(Merge {
        surviving_mrn: surviving_mrn.trim().to_string(),
        prior_mrn: prior_mrn.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7::message::parse;
    use chrono::TimeZone;

    fn pv1(class: &str, kind: &str, admitted: &str) -> String {
        let mut f = vec![String::new(); 46];
        f[0] = "PV1".into();
        f[1] = "1".into();
        f[2] = class.into();
        f[3] = "CARD^301^1".into();
        f[4] = kind.into();
        f[19] = "V900".into();
        f[44] = admitted.into();
        f.join("|")
    }

    fn a01(pv1: &str) -> String {
        [
            "MSH|^~\\&|HIS|HOSP|SUIFANG|HOSP|20261206083000||ADT^A01^ADT_A01|M1|P|2.5",
            "EVN|A01|20261206070000",
            "PID|1||MRN001^^^HOSP^MR||张^伟||19500101|M|||||13800000001",
            pv1,
            "",
        ]
        .join("\r")
    }

    fn map() -> Mapping {
        Mapping {
            country_code: "86".into(),
            departments: [("CARD".to_string(), "cardiology".to_string())]
                .into_iter()
                .collect(),
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 4, 0, 0).unwrap()
    }

    #[test]
    fn an_admission_reads_class_type_department_visit_and_time() {
        let m = parse(&a01(&pv1("I", "C", "20261206080000"))).unwrap();
        let a = admission(&m, chrono_tz::Asia::Shanghai, now(), &map()).unwrap();
        assert_eq!(a.patient.mrn, "MRN001");
        assert_eq!(a.admission.patient_class, PatientClass::Inpatient);
        assert_eq!(a.admission.admission_type, Some(AdmissionType::Elective));
        assert_eq!(a.admission.department.as_deref(), Some("cardiology"));
        assert_eq!(a.admission.visit_number.as_deref(), Some("V900"));
        // 08:00 in Shanghai
        assert_eq!(
            a.admission.admitted_at,
            Utc.with_ymd_and_hms(2026, 12, 6, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn an_empty_admit_time_falls_back_to_evn_2_and_a_bad_one_names_pv1_44() {
        let m = parse(&a01(&pv1("E", "", ""))).unwrap();
        let a = admission(&m, chrono_tz::Asia::Shanghai, now(), &map()).unwrap();
        assert_eq!(
            a.admission.admitted_at,
            Utc.with_ymd_and_hms(2026, 12, 5, 23, 0, 0).unwrap()
        );
        assert_eq!(a.admission.patient_class, PatientClass::Emergency);
        assert_eq!(a.admission.admission_type, None);

        let m = parse(&a01(&pv1("I", "E", "2026-12-06"))).unwrap();
        let e = admission(&m, chrono_tz::Asia::Shanghai, now(), &map()).unwrap_err();
        let at = e.location.expect("located");
        assert_eq!((at.segment.as_str(), at.field), ("PV1", 44));
        assert_eq!(e.code, ErrorCode::DataType);

        // an admission in the future (a booking, not an admission)
        let m = parse(&a01(&pv1("I", "C", "20261220080000"))).unwrap();
        let e = admission(&m, chrono_tz::Asia::Shanghai, now(), &map()).unwrap_err();
        assert_eq!(e.location.map(|l| l.field), Some(44));
    }

    #[test]
    fn a_merge_reads_both_mrns_and_requires_them() {
        let a40 = |pid: &str, mrg: &str| {
            [
                "MSH|^~\\&|HIS|HOSP|SUIFANG|HOSP|20261206083000||ADT^A40^ADT_A39|M2|P|2.5",
                "EVN|A40|20261206083000",
                pid,
                mrg,
                "",
            ]
            .join("\r")
        };
        let m = parse(&a40(
            "PID|1||NEW1^^^HOSP^MR||张^伟",
            "MRG|X9^^^GOV^NI~OLD1^^^HOSP^MR",
        ))
        .unwrap();
        assert_eq!(
            merge(&m).unwrap(),
            Merge {
                surviving_mrn: "NEW1".into(),
                prior_mrn: "OLD1".into()
            }
        );
        let m = parse(&a40("PID|1||NEW1^^^HOSP^MR||张^伟", "MRG|")).unwrap();
        let e = merge(&m).unwrap_err();
        assert_eq!(e.code, ErrorCode::RequiredFieldMissing);
        assert_eq!(
            e.location.map(|l| (l.segment, l.field)),
            Some(("MRG".into(), 1))
        );
        let m = parse(&a40("PID|1||NEW1^^^HOSP^MR||张^伟", "ZZZ|1")).unwrap();
        assert_eq!(merge(&m).unwrap_err().code, ErrorCode::SegmentSequence);
    }
}
