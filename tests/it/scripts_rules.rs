//! One normal and one abnormal answer set per shipped rule, against the real files in
//! `prompts/scripts/`: the abnormal set fires the rule with the expected severity and routing, the
//! normal set does not fire it. A last test fails when a shipped rule has no case here.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};
use suifang::followup::lab::{LabName, LabPoint, ResultStatus};
use suifang::followup::rules::{evaluate, evaluate_labs, Answers, Measurement};
use suifang::followup::script::{
    load_dir, validate_answer, MeasurementKind, QuestionId, Route, ScriptCatalog, Severity,
};

fn catalog() -> ScriptCatalog {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/scripts");
    match load_dir(&dir) {
        Ok(c) => c,
        Err(errors) => panic!("shipped scripts must load: {errors:#?}"),
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0)
        .single()
        .expect("valid date")
}

struct Case {
    script: &'static str,
    rule: &'static str,
    severity: Severity,
    route: Route,
    abnormal: Vec<(&'static str, Value)>,
    normal: Vec<(&'static str, Value)>,
    /// `(kind, value, hours before now)` of earlier measurements.
    history: Vec<(MeasurementKind, f64, i64)>,
}

fn dept() -> Route {
    Route::PatientDepartment
}

fn cardiology() -> Route {
    Route::Department("cardiology".into())
}

fn psych() -> Route {
    Route::Role("psychiatry_liaison".into())
}

fn case(
    script: &'static str,
    rule: &'static str,
    severity: Severity,
    route: Route,
    abnormal: Vec<(&'static str, Value)>,
    normal: Vec<(&'static str, Value)>,
) -> Case {
    Case {
        script,
        rule,
        severity,
        route,
        abnormal,
        normal,
        history: Vec::new(),
    }
}

/// Answers to a PHQ/GAD-style questionnaire: item `i` scored `items[i]` (0-3).
fn scored(ids: &[&'static str], items: &[u8]) -> Vec<(&'static str, Value)> {
    const OPTS: [&str; 4] = [
        "not_at_all",
        "several_days",
        "more_than_half",
        "nearly_every_day",
    ];
    ids.iter()
        .zip(items)
        .map(|(q, s)| (*q, json!(OPTS[usize::from(*s)])))
        .collect()
}

fn phq(items: [u8; 9]) -> Vec<(&'static str, Value)> {
    scored(
        &[
            "phq1", "phq2", "phq3", "phq4", "phq5", "phq6", "phq7", "phq8", "phq9",
        ],
        &items,
    )
}

/// Rules routed to a discipline (issue 20 item 3), in their own file to keep this one short.
mod mdt;
/// One normal and one abnormal case per rule of the shipped scripts.
mod shipped;

fn cases() -> Vec<Case> {
    let mut all = shipped::cases();
    all.extend(mdt::cases());
    all
}

fn answers(catalog: &ScriptCatalog, script: &str, pairs: &[(&str, Value)]) -> Answers {
    let s = catalog.get(script).expect("script in catalog");
    pairs
        .iter()
        .map(|(q, v)| match validate_answer(s, q, v.clone()) {
            Ok(a) => (QuestionId((*q).to_owned()), a),
            Err(e) => panic!("{script}: test answer rejected: {e}"),
        })
        .collect()
}

/// Tags shipped rules put on the patient (issue 20 item 6); every other rule sets none.
/// heartfailurematters.org: sudden weight gain and new ankle/leg swelling are fluid building up.
const TAGGED: &[(&str, &[&str])] = &[
    ("hf-weight-gain-3d", &["fluid-overload-risk"]),
    ("hf-weight-gain-1d", &["fluid-overload-risk"]),
    ("hf-weight-gain-7d", &["fluid-overload-risk"]),
    ("hf-leg-swelling", &["fluid-overload-risk"]),
];

#[test]
fn every_rule_fires_on_abnormal_and_not_on_normal() {
    let catalog = catalog();
    for c in cases() {
        let s = catalog.get(c.script).expect("script in catalog");
        let history: Vec<Measurement> = c
            .history
            .iter()
            .map(|&(kind, value, hours)| Measurement {
                kind,
                value,
                taken_at: now() - Duration::hours(hours),
            })
            .collect();
        let fired = evaluate(
            s,
            &answers(&catalog, c.script, &c.abnormal),
            &history,
            now(),
        );
        let f = fired
            .iter()
            .find(|f| f.rule.as_str() == c.rule)
            .unwrap_or_else(|| panic!("{}/{}: abnormal answers did not fire", c.script, c.rule));
        assert_eq!(f.severity, c.severity, "{}/{} severity", c.script, c.rule);
        assert_eq!(f.route, c.route, "{}/{} route", c.script, c.rule);
        assert_eq!(f.evidence.script_version, s.version);
        let want: &[&str] = TAGGED
            .iter()
            .find(|(rule, _)| *rule == c.rule)
            .map_or(&[], |(_, tags)| tags);
        let got: Vec<&str> = f.tags.iter().map(|t| t.as_str()).collect();
        assert_eq!(got, want, "{}/{} tags", c.script, c.rule);
        let fired = evaluate(s, &answers(&catalog, c.script, &c.normal), &history, now());
        assert!(
            fired.iter().all(|f| f.rule.as_str() != c.rule),
            "{}/{}: normal answers fired it",
            c.script,
            c.rule
        );
    }
}

/// Issue 20 item 8: the day-3 → day-7 gap. A 2.3 kg gain over the 4 days between the two calls
/// is invisible to the 3-day rule and caught by the weekly one.
#[test]
fn weight_gain_between_day_3_and_day_7_calls_is_caught_by_the_weekly_rule() {
    let catalog = catalog();
    let s = catalog.get("heart-failure").expect("heart-failure script");
    let day3 = [Measurement {
        kind: MeasurementKind::WeightKg,
        value: 70.0,
        taken_at: now() - Duration::days(4),
    }];
    let fired: Vec<String> = evaluate(
        s,
        &answers(&catalog, "heart-failure", &[("weight", json!(72.3))]),
        &day3,
        now(),
    )
    .into_iter()
    .map(|f| f.rule.0)
    .collect();
    assert!(
        !fired.contains(&"hf-weight-gain-3d".to_owned()),
        "{fired:?}"
    );
    assert!(fired.contains(&"hf-weight-gain-7d".to_owned()), "{fired:?}");
}

/// Issue 20 item 8: a severe reading in a heart-failure patient escalates, and its advice is
/// what the nurse reads out.
#[test]
fn severe_blood_pressure_in_heart_failure_escalates_with_advice() {
    let catalog = catalog();
    let s = catalog.get("heart-failure").expect("heart-failure script");
    let fired = evaluate(
        s,
        &answers(
            &catalog,
            "heart-failure",
            &[("bp", json!("200/120")), ("breathless_worse", json!(true))],
        ),
        &[],
        now(),
    );
    assert_eq!(
        fired[0].rule.as_str(),
        "hf-bp-emergency",
        "most severe first"
    );
    assert!(fired[0].advice_zh.as_deref().unwrap().contains("120"));
    assert!(fired[0].advice_en.as_deref().unwrap().contains("120"));
    assert!(fired.iter().any(|f| f.rule.as_str() == "hf-bp-severe"));
}

/// A lab rule's case (issue 17 item 4): final results `(lab, value, hours before now)` that fire
/// it and ones that do not; the patient was discharged 72 hours before now.
struct LabCase {
    script: &'static str,
    rule: &'static str,
    severity: Severity,
    route: Route,
    abnormal: Vec<(&'static str, f64, i64)>,
    normal: Vec<(&'static str, f64, i64)>,
}

fn lab_cases() -> Vec<LabCase> {
    use Severity::*;
    vec![
        LabCase {
            script: "heart-failure",
            rule: "hf-lab-potassium-high",
            severity: Urgent,
            route: Route::OnDutyDoctor,
            abnormal: vec![("k", 6.1, 1)],
            normal: vec![("k", 6.1, 48), ("k", 5.5, 1)],
        },
        LabCase {
            script: "heart-failure",
            rule: "hf-lab-ntprobnp-rise",
            severity: High,
            route: dept(),
            abnormal: vec![("ntprobnp", 1000.0, 48), ("ntprobnp", 1600.0, 1)],
            normal: vec![("ntprobnp", 1000.0, 48), ("ntprobnp", 1400.0, 1)],
        },
    ]
}

#[test]
fn every_lab_rule_fires_on_abnormal_results_and_not_on_normal() {
    let catalog = catalog();
    let points = |results: &[(&str, f64, i64)]| -> Vec<LabPoint> {
        results
            .iter()
            .enumerate()
            .map(|(i, &(lab, value, hours))| LabPoint {
                id: i as i64 + 1,
                lab: LabName(lab.into()),
                value,
                unit: String::new(),
                flags: vec![],
                status: ResultStatus::Final,
                observed_at: now() - Duration::hours(hours),
            })
            .collect()
    };
    let discharged = Some(now() - Duration::hours(72));
    for c in lab_cases() {
        let s = catalog.get(c.script).expect("script in catalog");
        let arrived: Vec<LabName> = c.abnormal.iter().map(|r| LabName(r.0.into())).collect();
        let fired = evaluate_labs(s, &arrived, &points(&c.abnormal), discharged, now());
        let f = fired
            .iter()
            .find(|f| f.rule.as_str() == c.rule)
            .unwrap_or_else(|| panic!("{}/{}: abnormal results did not fire", c.script, c.rule));
        assert_eq!(f.severity, c.severity, "{}/{} severity", c.script, c.rule);
        assert_eq!(f.route, c.route, "{}/{} route", c.script, c.rule);
        assert!(
            !f.evidence.labs.is_empty(),
            "{}/{} evidence",
            c.script,
            c.rule
        );
        let fired = evaluate_labs(s, &arrived, &points(&c.normal), discharged, now());
        assert!(
            fired.iter().all(|f| f.rule.as_str() != c.rule),
            "{}/{}: normal results fired it",
            c.script,
            c.rule
        );
    }
}

#[test]
fn every_shipped_rule_has_a_case() {
    let catalog = catalog();
    let tested: BTreeSet<(String, String)> = cases()
        .iter()
        .map(|c| (c.script.to_owned(), c.rule.to_owned()))
        .chain(
            lab_cases()
                .iter()
                .map(|c| (c.script.to_owned(), c.rule.to_owned())),
        )
        .collect();
    let mut missing = Vec::new();
    for s in catalog.iter() {
        for r in &s.rules {
            if !tested.contains(&(s.code.0.clone(), r.id.0.clone())) {
                missing.push(format!("{}/{}", s.code, r.id));
            }
        }
    }
    assert!(missing.is_empty(), "rules without a test case: {missing:?}");
}

#[test]
fn shipped_codes_are_the_ones_pathways_reference() {
    let codes: Vec<String> = catalog().iter().map(|s| s.code.0.clone()).collect();
    assert_eq!(
        codes,
        [
            "chd-long",
            "chd-mid",
            "chd-short",
            "chest-pain",
            "diabetes",
            "gad",
            "heart-failure",
            "heart-failure-team-review",
            "hypertension",
            "phq",
            "post-surgery",
            "stroke"
        ]
    );
}

#[test]
fn emergency_and_urgent_rules_say_what_to_do_or_route_to_two() {
    // Every emergency rule carries advice for the nurse to read out (call 120 now).
    for s in catalog().iter() {
        for r in &s.rules {
            if r.severity == Severity::Emergency {
                assert!(r.advice.is_some(), "{}/{} needs advice", s.code, r.id);
            }
        }
    }
}
