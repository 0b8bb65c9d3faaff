use super::*;
use crate::hl7::message::parse;

/// PV1 with the fields suifang reads at their numbers.
fn pv1(disposition: &str, discharged: &str) -> String {
    let mut f = vec![String::new(); 46];
    f[0] = "PV1".into();
    f[1] = "1".into();
    f[2] = "I".into();
    f[3] = "CARD^301^1".into();
    f[7] = "D01^王^强".into();
    f[10] = "CAR".into();
    f[19] = "V778".into();
    f[36] = disposition.into();
    f[45] = discharged.into();
    f.join("|")
}

fn a03_with(disposition: &str, discharged: &str) -> String {
    [
        "MSH|^~\\&|HIS|HOSP|SUIFANG|HOSP|20261206083000||ADT^A03^ADT_A03|MSG1|P|2.5|||||CHN|UNICODE UTF-8",
        "EVN|A03|20261206083000",
        "PID|1||ID9^^^GOV^NI~MRN001^^^HOSP^MR||张^伟||19500101|M|||||13800000001^PRN^PH||zh",
        "NK1|1|李^娜|SPO^配偶||13900000002",
        &pv1(disposition, discharged),
        "DG1|1||I50.9^心力衰竭^I10",
        "DG1|2||I10^高血压^I10",
        "",
    ]
    .join("\r")
}

fn a03() -> String {
    a03_with("01", "20261206080000")
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
fn a_discharge_reads_every_field_suifang_enrols_with() {
    let m = parse(&a03()).unwrap();
    let d = discharge(&m, chrono_tz::Asia::Shanghai, now(), &map()).unwrap();
    assert_eq!(
        d.patient.mrn, "MRN001",
        "the MR-typed identifier, not the first"
    );
    assert_eq!(d.patient.name, "张伟");
    assert_eq!(d.patient.birth_date, NaiveDate::from_ymd_opt(1950, 1, 1));
    assert_eq!(d.patient.sex, Some(Sex::M));
    assert_eq!(d.patient.phone.as_str(), "+8613800000001");
    assert_eq!(d.patient.alt_contact_name.as_deref(), Some("李娜"));
    assert_eq!(d.patient.alt_contact_relation.as_deref(), Some("配偶"));
    assert_eq!(
        d.patient.alt_phone.as_ref().map(|p| p.as_str()),
        Some("+8613900000002")
    );
    assert_eq!(d.discharge.department.as_deref(), Some("cardiology"));
    assert_eq!(d.discharge.attending.as_deref(), Some("王强"));
    assert_eq!(d.discharge.visit_number.as_deref(), Some("V778"));
    // 08:00 in Shanghai
    assert_eq!(
        d.discharge.discharged_at,
        Utc.with_ymd_and_hms(2026, 12, 6, 0, 0, 0).unwrap()
    );
    let codes: Vec<&str> = d
        .discharge
        .diagnoses
        .iter()
        .map(|x| x.icd10.as_str())
        .collect();
    assert_eq!(codes, ["I50.9", "I10"]);
    assert_eq!(d.disposition, Disposition::Home);
    assert!(d.disposition.enrols());
}

#[test]
fn death_and_transfer_enrol_nobody() {
    for (code, want) in [
        ("20", Disposition::Expired),
        ("02", Disposition::Transferred),
    ] {
        let text = a03_with(code, "20261206080000");
        let d = discharge(
            &parse(&text).unwrap(),
            chrono_tz::Asia::Shanghai,
            now(),
            &map(),
        )
        .unwrap();
        assert_eq!(d.disposition, want, "{code}");
        assert!(!d.disposition.enrols());
    }
}

#[test]
fn missing_or_bad_fields_are_named() {
    for (from, to, segment, field, code) in [
        (
            "ID9^^^GOV^NI~MRN001^^^HOSP^MR",
            "",
            "PID",
            3,
            ErrorCode::RequiredFieldMissing,
        ),
        ("19500101", "1950-01-01", "PID", 7, ErrorCode::DataType),
        ("13800000001^PRN^PH", "", "PID", 13, ErrorCode::DataType),
        ("I50.9^心力衰竭", "not-icd^x", "DG1", 3, ErrorCode::DataType),
        (
            "20261206080000",
            "yesterday",
            "PV1",
            45,
            ErrorCode::DataType,
        ),
    ] {
        let text = a03().replace(from, to);
        let e = discharge(
            &parse(&text).unwrap(),
            chrono_tz::Asia::Shanghai,
            now(),
            &map(),
        )
        .unwrap_err();
        let at = e.location.clone().unwrap();
        assert_eq!(
            (at.segment.as_str(), at.field),
            (segment, field),
            "{from}: {e}"
        );
        assert_eq!(e.code, code, "{from}: {e}");
    }
    let no_pv1: String = a03()
        .split('\r')
        .filter(|l| !l.starts_with("PV1"))
        .collect::<Vec<_>>()
        .join("\r");
    let e = discharge(
        &parse(&no_pv1).unwrap(),
        chrono_tz::Asia::Shanghai,
        now(),
        &map(),
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::SegmentSequence);
}

#[test]
fn timestamps_take_the_hospital_zone_unless_they_carry_an_offset() {
    let tz = chrono_tz::Asia::Shanghai;
    assert_eq!(
        parse_ts("202612060800", tz),
        Some(Utc.with_ymd_and_hms(2026, 12, 6, 0, 0, 0).unwrap())
    );
    assert_eq!(
        parse_ts("20261206080000.123+0000", tz),
        Some(Utc.with_ymd_and_hms(2026, 12, 6, 8, 0, 0).unwrap())
    );
    assert_eq!(
        parse_ts("20261206", tz),
        Some(Utc.with_ymd_and_hms(2026, 12, 5, 16, 0, 0).unwrap())
    );
    for bad in ["", "2026", "2026-12-06", "20261341"] {
        assert_eq!(parse_ts(bad, tz), None, "{bad}");
    }
}

#[test]
fn english_names_read_given_then_family() {
    let text = a03().replace("张^伟", "SMITH^JOHN");
    let d = discharge(
        &parse(&text).unwrap(),
        chrono_tz::Asia::Shanghai,
        now(),
        &map(),
    )
    .unwrap();
    assert_eq!(d.patient.name, "JOHN SMITH");
}

#[test]
fn an_update_reads_the_patient_alone() {
    let text = a03()
        .replace("ADT^A03^ADT_A03", "ADT^A08^ADT_A01")
        .replace("13800000001", "13700000009");
    let p = patient(&parse(&text).unwrap(), &map()).unwrap();
    assert_eq!(
        (p.mrn.as_str(), p.phone.as_str()),
        ("MRN001", "+8613700000009")
    );
}

#[test]
fn a_cancel_names_the_visit_and_when_it_was_cancelled() {
    let text = a03().replace("ADT^A03^ADT_A03", "ADT^A13^ADT_A01");
    let v = visit(&parse(&text).unwrap(), chrono_tz::Asia::Shanghai, now()).unwrap();
    assert_eq!(
        (v.mrn.as_str(), v.visit_number.as_str()),
        ("MRN001", "V778")
    );
    // EVN-2 20261206083000 in Shanghai
    assert_eq!(
        v.event_at,
        Utc.with_ymd_and_hms(2026, 12, 6, 0, 30, 0).unwrap()
    );
    let no_visit = text.replace("V778", "");
    let e = visit(&parse(&no_visit).unwrap(), chrono_tz::Asia::Shanghai, now()).unwrap_err();
    assert_eq!(
        e.location.map(|l| (l.segment, l.field)),
        Some(("PV1".into(), 19))
    );
}
