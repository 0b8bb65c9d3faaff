//! Answer validation by type and range; every error names the question (the API's 422 `field`).

use std::path::Path;

use chrono::NaiveDate;
use serde_json::{json, Value};
use suifang::followup::script::{
    load_dir, validate_answer, AnswerError, AnswerValue, OptionId, ScriptCatalog,
};

fn catalog() -> ScriptCatalog {
    match load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/scripts")) {
        Ok(c) => c,
        Err(e) => panic!("{e:#?}"),
    }
}

#[test]
fn valid_answers_become_typed_values() {
    let c = catalog();
    let cases: &[(&str, &str, Value, AnswerValue)] = &[
        (
            "heart-failure",
            "weight",
            json!(72.5),
            AnswerValue::Number(72.5),
        ),
        (
            "heart-failure",
            "weight",
            json!(" 72.5 "),
            AnswerValue::Number(72.5),
        ),
        (
            "heart-failure",
            "weight",
            json!(72.50),
            AnswerValue::Number(72.5),
        ),
        (
            "heart-failure",
            "orthopnea",
            json!(true),
            AnswerValue::YesNo(true),
        ),
        (
            "hypertension",
            "bp",
            json!("150/95"),
            AnswerValue::BloodPressure {
                systolic: 150,
                diastolic: 95,
            },
        ),
        (
            "hypertension",
            "bp",
            json!({"systolic": 182, "diastolic": 100}),
            AnswerValue::BloodPressure {
                systolic: 182,
                diastolic: 100,
            },
        ),
        ("post-surgery", "pain", json!(7), AnswerValue::Scale(7)),
        (
            "post-surgery",
            "wound_detail",
            json!("pus"),
            AnswerValue::Choice(OptionId("pus".into())),
        ),
        (
            "stroke",
            "onset",
            json!(" 早上7点 "),
            AnswerValue::Text("早上7点".into()),
        ),
        (
            "chd-long",
            "last_lipid_date",
            json!("2026-10-01"),
            AnswerValue::Date(NaiveDate::from_ymd_opt(2026, 10, 1).expect("valid date")),
        ),
    ];
    for (script, q, v, want) in cases {
        let s = c.get(script).expect("script");
        assert_eq!(
            validate_answer(s, q, v.clone()).as_ref(),
            Ok(want),
            "{script}/{q} {v}"
        );
    }
}

#[test]
fn invalid_answers_name_the_question() {
    let c = catalog();
    let cases: &[(&str, &str, Value, &str)] = &[
        ("heart-failure", "weight", json!(5), "outside 20..=300"),
        ("heart-failure", "weight", json!(72.55), "at most 1 decimal"),
        (
            "heart-failure",
            "weight",
            json!("heavy"),
            "expected a number",
        ),
        ("heart-failure", "weight", json!("NaN"), "expected a number"),
        ("heart-failure", "weight", json!(null), "expected a number"),
        ("heart-failure", "orthopnea", json!("yes"), "true or false"),
        (
            "hypertension",
            "bp",
            json!("150"),
            "expected blood pressure",
        ),
        (
            "hypertension",
            "bp",
            json!("95/150"),
            "systolic above diastolic",
        ),
        ("hypertension", "bp", json!("400/90"), "outside 50..=300"),
        ("post-surgery", "pain", json!(11), "outside 0..=10"),
        ("post-surgery", "pain", json!(2.5), "whole number"),
        ("post-surgery", "pain", json!(-1), "whole number"),
        (
            "post-surgery",
            "wound_detail",
            json!("gangrene"),
            "'gangrene' is not an option",
        ),
        ("stroke", "onset", json!("   "), "text must be 1..=200"),
        (
            "stroke",
            "onset",
            json!("x".repeat(201)),
            "text must be 1..=200",
        ),
        (
            "chd-long",
            "last_lipid_date",
            json!("01/10/2026"),
            "YYYY-MM-DD",
        ),
    ];
    for (script, q, v, words) in cases {
        let s = c.get(script).expect("script");
        let e = validate_answer(s, q, v.clone()).expect_err("must be refused");
        assert_eq!(e.question().as_str(), *q);
        assert!(
            e.to_string().contains(words),
            "{script}/{q}: `{e}` lacks `{words}`"
        );
    }
    let s = c.get("phq").expect("script");
    assert!(matches!(
        validate_answer(s, "phq10", json!("not_at_all")),
        Err(AnswerError::UnknownQuestion(ref q)) if q.as_str() == "phq10"
    ));
}

#[test]
fn answers_serialize_for_storage() {
    let a = AnswerValue::BloodPressure {
        systolic: 150,
        diastolic: 95,
    };
    let text = serde_json::to_string(&a).expect("serializes");
    assert_eq!(
        text,
        r#"{"type":"blood_pressure","value":{"systolic":150,"diastolic":95}}"#
    );
    let back: AnswerValue = serde_json::from_str(&text).expect("deserializes");
    assert_eq!(back, a);
}
