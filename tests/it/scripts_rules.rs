//! One normal and one abnormal answer set per shipped rule, against the real files in
//! `prompts/scripts/`: the abnormal set fires the rule with the expected severity and routing, the
//! normal set does not fire it. A last test fails when a shipped rule has no case here.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};
use suifang::followup::rules::{evaluate, Answers, Measurement};
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

fn cases() -> Vec<Case> {
    let mut all = shipped_cases();
    all.extend(mdt::cases());
    all
}

fn shipped_cases() -> Vec<Case> {
    use Severity::*;
    let weight = MeasurementKind::WeightKg;
    let yes = || json!(true);
    let no = || json!(false);
    vec![
        Case {
            history: vec![(weight, 70.0, 48)],
            ..case(
                "heart-failure",
                "hf-weight-gain-3d",
                High,
                dept(),
                vec![("weight", json!(72.5))],
                vec![("weight", json!(71.5))],
            )
        },
        Case {
            history: vec![(weight, 70.0, 20)],
            ..case(
                "heart-failure",
                "hf-weight-gain-1d",
                High,
                dept(),
                vec![("weight", json!(71.2))],
                vec![("weight", json!(70.5))],
            )
        },
        // a gain between the day-3 and day-7 calls (4 days apart): the 3-day window misses it
        Case {
            history: vec![(weight, 70.0, 96)],
            ..case(
                "heart-failure",
                "hf-weight-gain-7d",
                High,
                dept(),
                vec![("weight", json!(72.3))],
                vec![("weight", json!(72.1))],
            )
        },
        Case {
            history: vec![(weight, 70.0, 6 * 24)],
            ..case(
                "heart-failure",
                "hf-weight-gain-7d",
                High,
                dept(),
                vec![("weight", json!(72.2))],
                vec![("weight", json!(71.0))],
            )
        },
        case(
            "heart-failure",
            "hf-bp-severe",
            Urgent,
            dept(),
            vec![("bp", json!("184/96"))],
            vec![("bp", json!("150/95"))],
        ),
        case(
            "heart-failure",
            "hf-bp-severe",
            Urgent,
            dept(),
            vec![("bp", json!({"systolic": 150, "diastolic": 112}))],
            vec![("bp", json!("179/109"))],
        ),
        case(
            "heart-failure",
            "hf-bp-emergency",
            Emergency,
            dept(),
            vec![("bp", json!("190/100")), ("breathless_at_rest", yes())],
            vec![
                ("bp", json!("190/100")),
                ("breathless_at_rest", no()),
                ("breathless_worse", no()),
            ],
        ),
        case(
            "heart-failure",
            "hf-bp-emergency",
            Emergency,
            dept(),
            vec![("bp", json!("160/115")), ("breathless_worse", yes())],
            vec![("bp", json!("150/95")), ("breathless_worse", yes())],
        ),
        case(
            "heart-failure",
            "hf-breathless-worse",
            High,
            dept(),
            vec![("breathless_worse", yes())],
            vec![("breathless_worse", no())],
        ),
        case(
            "heart-failure",
            "hf-orthopnea",
            High,
            dept(),
            vec![("orthopnea", yes())],
            vec![("orthopnea", no())],
        ),
        case(
            "heart-failure",
            "hf-leg-swelling",
            High,
            dept(),
            vec![("leg_swelling", yes())],
            vec![("leg_swelling", no())],
        ),
        case(
            "heart-failure",
            "hf-breathless-at-rest",
            Urgent,
            dept(),
            vec![("breathless_at_rest", yes())],
            vec![("breathless_at_rest", no())],
        ),
        case(
            "hypertension",
            "htn-severe",
            Urgent,
            dept(),
            vec![("bp", json!("182/96"))],
            vec![("bp", json!("150/95"))],
        ),
        case(
            "hypertension",
            "htn-severe",
            Urgent,
            dept(),
            vec![("bp", json!({"systolic": 160, "diastolic": 110}))],
            vec![("bp", json!({"systolic": 179, "diastolic": 109}))],
        ),
        case(
            "hypertension",
            "htn-emergency",
            Emergency,
            dept(),
            vec![("bp", json!("185/112")), ("severe_headache", yes())],
            vec![
                ("bp", json!("185/112")),
                ("severe_headache", no()),
                ("vomiting", no()),
                ("speech_limb_deficit", no()),
                ("chest_back_pain", no()),
                ("breathless", no()),
            ],
        ),
        case(
            "hypertension",
            "htn-neuro-deficit",
            Emergency,
            dept(),
            vec![("speech_limb_deficit", yes())],
            vec![("speech_limb_deficit", no())],
        ),
        case(
            "diabetes",
            "dm-hyperglycaemia",
            Urgent,
            dept(),
            vec![("glucose", json!(16.7))],
            vec![("glucose", json!(16.6))],
        ),
        case(
            "diabetes",
            "dm-hypoglycaemia",
            Urgent,
            dept(),
            vec![("glucose", json!(3.9))],
            vec![("glucose", json!(4.0))],
        ),
        case(
            "diabetes",
            "dm-severe-hypo",
            Urgent,
            dept(),
            vec![("hypo_needed_help", yes())],
            vec![("hypo_needed_help", no())],
        ),
        case(
            "post-surgery",
            "ps-fever",
            Urgent,
            dept(),
            vec![("temperature", json!(38.3))],
            vec![("temperature", json!(38.2))],
        ),
        case(
            "post-surgery",
            "ps-wound",
            Urgent,
            dept(),
            vec![("wound_problem", yes()), ("wound_detail", json!("pus"))],
            vec![("wound_problem", no())],
        ),
        case(
            "post-surgery",
            "ps-vomiting",
            Urgent,
            dept(),
            vec![("vomiting_persistent", yes())],
            vec![("vomiting_persistent", no())],
        ),
        case(
            "post-surgery",
            "ps-calf-pain",
            Urgent,
            dept(),
            vec![("calf_pain", yes())],
            vec![("calf_pain", no())],
        ),
        case(
            "post-surgery",
            "ps-sudden-breathless",
            Urgent,
            dept(),
            vec![("sudden_breathless", yes())],
            vec![("sudden_breathless", no())],
        ),
        case(
            "stroke",
            "stroke-befast",
            Emergency,
            dept(),
            vec![("face", yes()), ("onset", json!("今早7点"))],
            vec![
                ("balance", no()),
                ("eyes", no()),
                ("face", no()),
                ("arm", no()),
                ("speech", no()),
            ],
        ),
        case(
            "stroke",
            "stroke-befast",
            Emergency,
            dept(),
            vec![("balance", no()), ("eyes", yes())],
            vec![("balance", no())],
        ),
        case(
            "chest-pain",
            "cp-heart-attack-signs",
            Emergency,
            dept(),
            vec![
                ("chest_discomfort", yes()),
                ("lasting", no()),
                ("comes_back", yes()),
            ],
            vec![
                ("chest_discomfort", yes()),
                ("lasting", no()),
                ("comes_back", no()),
            ],
        ),
        case(
            "chest-pain",
            "cp-with-other-signs",
            Emergency,
            dept(),
            vec![("chest_discomfort", yes()), ("other_signs", yes())],
            // "other signs" answered, then chest discomfort changed to no: the hidden answer
            // must not count.
            vec![("chest_discomfort", no()), ("other_signs", yes())],
        ),
        case(
            "phq",
            "phq-item9-self-harm",
            Urgent,
            psych(),
            // PHQ-2 negative, yet item 9 non-zero: still urgent (item 9 is always asked).
            phq([0, 0, 0, 0, 0, 0, 0, 0, 1]),
            phq([3, 3, 3, 3, 3, 3, 3, 3, 0]),
        ),
        case(
            "phq",
            "phq9-severe",
            High,
            mdt::discipline("psychology"),
            phq([3, 3, 3, 3, 2, 2, 2, 2, 0]),
            phq([3, 3, 3, 3, 2, 2, 2, 1, 0]),
        ),
        case(
            "phq",
            "phq2-positive",
            Routine,
            mdt::discipline("psychology"),
            phq([2, 1, 0, 0, 0, 0, 0, 0, 0]),
            phq([1, 1, 0, 0, 0, 0, 0, 0, 0]),
        ),
        case(
            "chd-short",
            "chd-chest-pain",
            Emergency,
            dept(),
            vec![("chest_pain", yes()), ("chest_pain_lasting", yes())],
            vec![("chest_pain", yes()), ("chest_pain_lasting", no())],
        ),
        case(
            "chd-short",
            "chd-antiplatelet-stopped",
            High,
            cardiology(),
            vec![("antiplatelet", json!("stopped"))],
            vec![("antiplatelet", json!("missed_some"))],
        ),
        case(
            "chd-short",
            "chd-bleeding",
            High,
            cardiology(),
            vec![("bleeding", yes())],
            vec![("bleeding", no())],
        ),
        case(
            "chd-mid",
            "chd-chest-pain",
            Emergency,
            dept(),
            vec![("chest_pain", yes()), ("chest_pain_lasting", yes())],
            vec![("chest_pain", no()), ("chest_pain_lasting", yes())],
        ),
        case(
            "chd-mid",
            "chd-still-smoking",
            Routine,
            dept(),
            vec![("smoking", yes()), ("cigarettes_per_day", json!(10))],
            vec![("smoking", no())],
        ),
        case(
            "chd-mid",
            "chd-daily-alcohol",
            Routine,
            dept(),
            vec![("alcohol", json!("daily"))],
            vec![("alcohol", json!("occasional"))],
        ),
        case(
            "chd-long",
            "chd-chest-pain",
            Emergency,
            dept(),
            vec![("chest_pain", yes()), ("chest_pain_lasting", yes())],
            vec![("chest_pain", no())],
        ),
        case(
            "chd-long",
            "chd-meds-stopped",
            High,
            cardiology(),
            vec![("meds_taken", no())],
            vec![("meds_taken", yes())],
        ),
        case(
            "chd-long",
            "chd-checks-due",
            Routine,
            dept(),
            vec![("echo_done", no()), ("lipids_checked", yes())],
            vec![
                ("echo_done", yes()),
                ("lipids_checked", yes()),
                ("last_lipid_date", json!("2026-10-01")),
            ],
        ),
        case(
            "chd-long",
            "chd-severe-bp",
            Urgent,
            dept(),
            vec![("bp", json!("180/100"))],
            vec![("bp", json!("135/85"))],
        ),
    ]
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

#[test]
fn every_shipped_rule_has_a_case() {
    let catalog = catalog();
    let tested: BTreeSet<(String, String)> = cases()
        .iter()
        .map(|c| (c.script.to_owned(), c.rule.to_owned()))
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
