use std::path::Path;

use chrono::TimeZone;

use super::*;
use crate::followup::script::{load_str, validate_answer};

const SCRIPT: &str = r#"
code = "t"
version = 3
title = { zh = "测试", en = "Test" }

[[questions]]
id = "weight"
text = { zh = "体重", en = "Weight" }
type = "number"
unit = "kg"
min = 20
max = 300
decimals = 1
measurement = "weight_kg"

[[questions]]
id = "breathless"
text = { zh = "气短", en = "Breathless" }
type = "yes_no"

[[questions]]
id = "at_rest"
text = { zh = "静息气短", en = "At rest" }
type = "yes_no"
show_if = "breathless"

[[questions]]
id = "p1"
text = { zh = "1", en = "1" }
type = "scale"
max = 3

[[questions]]
id = "p2"
text = { zh = "2", en = "2" }
type = "scale"
max = 3

[[rules]]
id = "gain"
when = "rise(weight_kg, 3d) > 2"
severity = "high"
ack_sla_minutes = 240

[[rules]]
id = "rest"
when = "at_rest"
severity = "urgent"
route = { department = "cardiology" }
ack_sla_minutes = 15

[[rules]]
id = "fine"
when = "not breathless"
severity = "routine"
ack_sla_minutes = 1440

[[rules]]
id = "total"
when = "sum(p1, p2) >= 4"
severity = "high"
ack_sla_minutes = 60
"#;

fn script() -> Script {
    load_str(Path::new("t.toml"), SCRIPT).expect("test script loads")
}

fn answers(s: &Script, pairs: &[(&str, serde_json::Value)]) -> Answers {
    pairs
        .iter()
        .map(|(q, v)| {
            let a = validate_answer(s, q, v.clone()).expect("valid test answer");
            (QuestionId((*q).to_owned()), a)
        })
        .collect()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0)
        .single()
        .expect("valid date")
}

fn fired(s: &Script, a: &Answers, h: &[Measurement]) -> Vec<String> {
    evaluate(s, a, h, now())
        .into_iter()
        .map(|f| f.rule.0)
        .collect()
}

#[test]
fn unknown_is_not_false() {
    let s = script();
    assert!(
        fired(&s, &Answers::new(), &[]).is_empty(),
        "nothing fires before any answer"
    );
    let a = answers(&s, &[("breathless", serde_json::json!(false))]);
    assert_eq!(fired(&s, &a, &[]), ["fine"]);
}

#[test]
fn skipped_answers_are_ignored() {
    let s = script();
    // The nurse answered "at rest" and then changed "breathless" to no: the hidden answer must
    // not raise an urgent escalation.
    let a = answers(
        &s,
        &[
            ("breathless", serde_json::json!(false)),
            ("at_rest", serde_json::json!(true)),
        ],
    );
    assert!(!fired(&s, &a, &[]).contains(&"rest".to_owned()));
    assert_eq!(visible_questions(&s, &a).len(), 4);
    let a = answers(
        &s,
        &[
            ("breathless", serde_json::json!(true)),
            ("at_rest", serde_json::json!(true)),
        ],
    );
    let f = evaluate(&s, &a, &[], now());
    assert_eq!(f[0].rule.0, "rest");
    assert_eq!(f[0].severity, Severity::Urgent);
    assert_eq!(f[0].route, Route::Department("cardiology".into()));
    assert_eq!(f[0].evidence.script_version, 3);
    assert!(f[0]
        .evidence
        .to_string()
        .contains("at_rest (At rest) = yes"));
}

#[test]
fn weight_trend_uses_window() {
    let s = script();
    let a = answers(&s, &[("weight", serde_json::json!(72.5))]);
    let at = |days: i64, v: f64| Measurement {
        kind: MeasurementKind::WeightKg,
        value: v,
        taken_at: now() - Duration::days(days),
    };
    assert!(fired(&s, &a, &[]).is_empty(), "no history: unknown");
    assert!(fired(&s, &a, &[at(2, 71.0)]).is_empty(), "1.5 kg gain");
    assert_eq!(fired(&s, &a, &[at(2, 70.4), at(1, 71.0)]), ["gain"]);
    assert!(fired(&s, &a, &[at(4, 70.0)]).is_empty(), "outside 3 days");
    let m = measurements_from_answers(&s, &a, now());
    assert_eq!(m, vec![at(0, 72.5)]);
}

#[test]
fn partial_sum_is_a_lower_bound() {
    let s = script();
    let a = answers(&s, &[("p1", serde_json::json!(3))]);
    assert!(fired(&s, &a, &[]).is_empty());
    let a = answers(
        &s,
        &[("p1", serde_json::json!(3)), ("p2", serde_json::json!(1))],
    );
    assert_eq!(fired(&s, &a, &[]), ["total"]);
}

/// Issue 20 item 8: the weekly weight rule (allinahealth.org: 5 lb a week) sees a point 4 days
/// back, which a 3-day rule does not, and nothing older than 7 days.
#[test]
fn weekly_weight_window_reaches_the_day_3_call() {
    let weekly = r#"
code = "w"
version = 1
title = { zh = "周", en = "Week" }

[[questions]]
id = "weight"
text = { zh = "体重", en = "Weight" }
type = "number"
unit = "kg"
min = 20
max = 300
decimals = 1
measurement = "weight_kg"

[[rules]]
id = "gain-7d"
when = "rise(weight_kg, 7d) >= 2.2"
severity = "high"
ack_sla_minutes = 240
"#;
    let s = load_str(Path::new("w.toml"), weekly).expect("weekly script loads");
    let at = |days: i64, v: f64| Measurement {
        kind: MeasurementKind::WeightKg,
        value: v,
        taken_at: now() - Duration::days(days),
    };
    let a = answers(&s, &[("weight", serde_json::json!(72.2))]);
    assert_eq!(fired(&s, &a, &[at(4, 70.0)]), ["gain-7d"], "day 3 → day 7");
    assert!(fired(&s, &a, &[at(4, 70.1)]).is_empty(), "2.1 kg: normal");
    assert!(fired(&s, &a, &[at(8, 70.0)]).is_empty(), "outside 7 days");
    // the 3-day rule of the test script does not see the day-3 point
    let t = script();
    let a = answers(&t, &[("weight", serde_json::json!(72.2))]);
    assert!(fired(&t, &a, &[at(4, 70.0)]).is_empty());
}

/// Advice travels with the finding in both languages; a rule without advice has none.
#[test]
fn findings_carry_their_advice() {
    let with = SCRIPT.replace(
        "route = { department = \"cardiology\" }\n",
        "route = { department = \"cardiology\" }\nadvice = { zh = \"坐下，拨打120\", en = \"Sit down, call 120\" }\n",
    );
    let s = load_str(Path::new("t.toml"), &with).expect("script with advice loads");
    let a = answers(
        &s,
        &[
            ("breathless", serde_json::json!(true)),
            ("at_rest", serde_json::json!(true)),
        ],
    );
    let f = evaluate(&s, &a, &[], now());
    let advice = f[0].advice().expect("advice");
    assert_eq!(
        (advice.zh.as_str(), advice.en.as_str()),
        ("坐下，拨打120", "Sit down, call 120")
    );
    assert_eq!(f[0].questions(), vec![QuestionId("at_rest".into())]);
    let a = answers(&s, &[("breathless", serde_json::json!(false))]);
    assert_eq!(evaluate(&s, &a, &[], now())[0].advice(), None);
}
