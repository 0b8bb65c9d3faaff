use chrono::{TimeZone, Utc};

use super::*;
use crate::hl7::message::parse;

fn tz() -> Tz {
    "Asia/Shanghai".parse().unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 3, 0, 0).unwrap()
}

fn oru(obx: &[&str]) -> String {
    let mut segs = vec![
        "MSH|^~\\&|LIS|HOSP|SUIFANG|HOSP|20261207100000||ORU^R01^ORU_R01|L-1|P|2.5".to_string(),
        "PID|1||HF-001^^^HOSP^MR~123^^^HOSP^PI||张^三".to_string(),
        "OBR|1|PL-1|FL-9|BMP^Basic metabolic panel^L|||20261207083000".to_string(),
    ];
    segs.extend(obx.iter().map(|s| s.to_string()));
    segs.join("\r")
}

fn read(obx: &[&str]) -> Result<LabReport, Hl7Error> {
    let text = oru(obx);
    lab_report(&parse(&text).unwrap(), &LabCatalog::defaults(), tz(), now())
}

#[test]
fn a_potassium_result_is_read_with_its_range_flags_status_and_time() {
    let r = read(&["OBX|1|NM|2823-3^Potassium^LN||6.1|mmol/L|3.5-5.3|HH|||F|||20261207090000"])
        .unwrap();
    assert_eq!(r.mrn, "HF-001");
    let k = &r.results[0];
    assert_eq!(k.lab.0, "k");
    assert_eq!(k.number(), Some(6.1));
    assert_eq!(k.unit, "mmol/L");
    assert_eq!((k.range_low, k.range_high), (Some(3.5), Some(5.3)));
    assert_eq!(k.flags, vec![AbnormalFlag::CriticalHigh]);
    assert_eq!(k.status, ResultStatus::Final);
    // 09:00 in Shanghai is 01:00 UTC
    assert_eq!(
        k.observed_at,
        Utc.with_ymd_and_hms(2026, 12, 7, 1, 0, 0).unwrap()
    );
    assert_eq!(k.order_number, "FL-9");
    assert_eq!(k.panel_code, "BMP");
}

#[test]
fn local_codes_alternate_codes_and_obr7_time_are_used() {
    let r = read(&[
        "OBX|1|NM|K^Kalium^99LAB||4.2|mEq/L|||||F",
        "OBX|2|NM|X1^NT-proBNP^99LAB^33762-6^NT-proBNP^LN||1800|ng/L||H|||C",
    ])
    .unwrap();
    assert_eq!(r.results[0].lab.0, "k");
    assert_eq!(r.results[0].number(), Some(4.2));
    // no OBX-14: the order's OBR-7 (08:30 Shanghai)
    assert_eq!(
        r.results[0].observed_at,
        Utc.with_ymd_and_hms(2026, 12, 7, 0, 30, 0).unwrap()
    );
    assert_eq!(r.results[1].lab.0, "ntprobnp");
    assert_eq!(r.results[1].status, ResultStatus::Corrected);
    assert_eq!(r.results[1].unit, "pg/mL");
}

#[test]
fn values_in_another_unit_are_converted_only_when_exact() {
    let r = read(&["OBX|1|NM|67151-1^hs-TnT^LN||0.052|ng/mL|<0.014|H|||F"]).unwrap();
    let t = &r.results[0];
    assert!((t.number().unwrap() - 52.0).abs() < 1e-9);
    assert_eq!(t.unit, "ng/L");
    assert!((t.range_high.unwrap() - 14.0).abs() < 1e-9);
    assert_eq!(t.range_low, None);
    assert_eq!(t.sent_unit, "ng/mL");
    // creatinine in mg/dL needs a molar mass: refused, naming OBX-6 of the second OBX
    let e = read(&[
        "OBX|1|NM|2823-3^K^LN||4.0|mmol/L|||||F",
        "OBX|2|NM|2160-0^Creatinine^LN||1.4|mg/dL|||||F",
    ])
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::TableValueNotFound);
    let l = e.location.unwrap();
    assert_eq!((l.segment.as_str(), l.sequence, l.field), ("OBX", 2, 6));
    assert!(e.message.contains("mg/dL"), "{}", e.message);
    // no unit at all on a lab that has one
    let e = read(&["OBX|1|NM|2823-3^K^LN||4.0||||||F"]).unwrap_err();
    assert_eq!(e.code, ErrorCode::RequiredFieldMissing);
    assert_eq!(e.location.unwrap().field, 6);
}

#[test]
fn structured_and_string_values_keep_their_comparator_or_stay_text() {
    let r = read(&[
        "OBX|1|SN|33762-6^NT-proBNP^LN||>^35000|pg/mL|||||F",
        "OBX|2|ST|10839-9^TnI^LN||<0.04|NG/ML|0.00-0.08|N|||F",
        "OBX|3|ST|6301-6^INR^LN||hemolysed||||||F",
        "OBX|4|SN|2951-2^Na^LN||^140|mmol/L|||||P",
    ])
    .unwrap();
    assert_eq!(
        r.results[0].value,
        LabValue::Number {
            value: 35000.0,
            comparator: Some(Comparator::Gt)
        }
    );
    // 0.04 ng/mL is 40 ng/L, still censored
    assert!((r.results[1].number().unwrap() - 40.0).abs() < 1e-9);
    assert!(matches!(
        r.results[1].value,
        LabValue::Number {
            comparator: Some(Comparator::Lt),
            ..
        }
    ));
    assert_eq!(r.results[2].value, LabValue::Text("hemolysed".into()));
    assert_eq!(r.results[3].number(), Some(140.0));
    assert_eq!(r.results[3].status, ResultStatus::Preliminary);
}

#[test]
fn unmapped_codes_are_skipped_and_cancelled_rows_are_not_results() {
    let r = read(&[
        "OBX|1|NM|2075-0^Chloride^LN||101|mmol/L|||||F",
        "OBX|2|NM|2823-3^K^LN||||||||X",
        "OBX|3|NM|2823-3^K^LN||5.0|mmol/L|||||F",
    ])
    .unwrap();
    assert_eq!(r.unmapped, ["2075-0^LN"]);
    assert_eq!(r.not_results, 1);
    assert_eq!(r.results.len(), 1);
    assert_eq!(r.results[0].obx, 3);
}

#[test]
fn required_fields_missing_are_named() {
    for (obx, field, code) in [
        (
            "OBX|1|NM|||6.1|mmol/L|||||F",
            3,
            ErrorCode::RequiredFieldMissing,
        ),
        (
            "OBX|1|NM|2823-3^K^LN||6.1|mmol/L",
            11,
            ErrorCode::RequiredFieldMissing,
        ),
        (
            "OBX|1|NM|2823-3^K^LN|||mmol/L|||||F",
            5,
            ErrorCode::RequiredFieldMissing,
        ),
        (
            "OBX|1|NM|2823-3^K^LN||six|mmol/L|||||F",
            5,
            ErrorCode::DataType,
        ),
        (
            "OBX|1|NM|2823-3^K^LN||6.1|mmol/L|||||Q",
            11,
            ErrorCode::TableValueNotFound,
        ),
        (
            "OBX|1|CE|2823-3^K^LN||6.1|mmol/L|||||F",
            2,
            ErrorCode::DataType,
        ),
        (
            "OBX|1|NM|2823-3^K^LN||6.1|mmol/L|||||F|||2026-12-07",
            14,
            ErrorCode::DataType,
        ),
        (
            "OBX|1|NM|2823-3^K^LN||6.1|mmol/L|||||F|||20271207",
            14,
            ErrorCode::DataType,
        ),
    ] {
        let e = read(&[obx]).unwrap_err();
        assert_eq!(e.code, code, "{obx}: {e}");
        assert_eq!(e.location.unwrap().field, field, "{obx}");
    }
    // no PID-3
    let text = oru(&["OBX|1|NM|2823-3^K^LN||6.1|mmol/L|||||F"])
        .replace("HF-001^^^HOSP^MR~123^^^HOSP^PI", "");
    let e = lab_report(&parse(&text).unwrap(), &LabCatalog::defaults(), tz(), now()).unwrap_err();
    assert_eq!(e.location.unwrap().field, 3);
    // no observation time anywhere: OBR-7 is named
    let text = oru(&["OBX|1|NM|2823-3^K^LN||6.1|mmol/L|||||F"]).replace("|||20261207083000", "|||");
    let e = lab_report(&parse(&text).unwrap(), &LabCatalog::defaults(), tz(), now()).unwrap_err();
    let l = e.location.unwrap();
    assert_eq!((l.segment.as_str(), l.field), ("OBR", 7));
    // an OBX before any OBR, and a message without OBX
    let text =
        "MSH|^~\\&|L|H|S|H|1||ORU^R01|1|P|2.5\rPID|1||X\rOBX|1|NM|2823-3^K^LN||6|mmol/L|||||F";
    let e = lab_report(&parse(text).unwrap(), &LabCatalog::defaults(), tz(), now()).unwrap_err();
    assert_eq!(e.code, ErrorCode::SegmentSequence);
    let text = "MSH|^~\\&|L|H|S|H|1||ORU^R01|1|P|2.5\rPID|1||X\rOBR|1";
    assert!(lab_report(&parse(text).unwrap(), &LabCatalog::defaults(), tz(), now()).is_err());
}

#[test]
fn ranges_read_both_bounds_or_one() {
    assert_eq!(range("3.5-5.3"), (Some(3.5), Some(5.3)));
    assert_eq!(range(" 3.5 - 5.3 "), (Some(3.5), Some(5.3)));
    assert_eq!(range("<5"), (None, Some(5.0)));
    assert_eq!(range(">=60"), (Some(60.0), None));
    assert_eq!(range("negative"), (None, None));
    assert_eq!(range("5-3"), (None, None));
    assert_eq!(range(""), (None, None));
}
