//! One normal and one abnormal answer set per rule that routes to a discipline of the
//! multidisciplinary team (issue 20 item 3): medication → pharmacy, diet → nutrition, activity →
//! rehabilitation, PHQ/GAD → psychology, social and transport problems → social work. Run by
//! `every_rule_fires_on_abnormal_and_not_on_normal` in `scripts_rules.rs`.

use serde_json::{json, Value};
use suifang::followup::discipline::Discipline;
use suifang::followup::script::{Route, Severity};

use super::{case, scored, Case};

/// The route `route = "<code>"` in a script file.
pub fn discipline(code: &str) -> Route {
    Route::Discipline(Discipline::parse_code(code).expect("discipline code"))
}

fn gad(items: [u8; 7]) -> Vec<(&'static str, Value)> {
    scored(
        &["gad1", "gad2", "gad3", "gad4", "gad5", "gad6", "gad7"],
        &items,
    )
}

pub fn cases() -> Vec<Case> {
    use Severity::*;
    let yes = || json!(true);
    let no = || json!(false);
    vec![
        case(
            "heart-failure",
            "hf-meds-not-taken",
            High,
            discipline("pharmacy"),
            vec![("meds_taken", no())],
            vec![("meds_taken", yes())],
        ),
        case(
            "heart-failure",
            "hf-diet-not-followed",
            Routine,
            discipline("nutrition"),
            vec![("low_salt_diet", no())],
            vec![("low_salt_diet", yes())],
        ),
        case(
            "heart-failure",
            "hf-activity-not-done",
            Routine,
            discipline("rehabilitation"),
            vec![("activity_as_advised", no())],
            vec![("activity_as_advised", yes())],
        ),
        case(
            "heart-failure",
            "hf-social-problem",
            Routine,
            discipline("social_work"),
            vec![("social_problem", yes())],
            vec![("social_problem", no())],
        ),
        case(
            "chd-short",
            "chd-antiplatelet-missed",
            High,
            discipline("pharmacy"),
            vec![("antiplatelet", json!("missed_some"))],
            vec![("antiplatelet", json!("every_day"))],
        ),
        case(
            "chd-mid",
            "chd-diet-not-followed",
            Routine,
            discipline("nutrition"),
            vec![("diet_low_salt_fat", no())],
            vec![("diet_low_salt_fat", yes())],
        ),
        // At the 150 min/week line: 149 is low, 150 is enough.
        case(
            "chd-mid",
            "chd-exercise-low",
            Routine,
            discipline("rehabilitation"),
            vec![("exercise_minutes_week", json!(149))],
            vec![("exercise_minutes_week", json!(150))],
        ),
        case(
            "gad",
            "gad7-severe",
            High,
            discipline("psychology"),
            gad([3, 3, 3, 2, 2, 1, 1]),
            gad([3, 3, 3, 2, 2, 1, 0]),
        ),
        case(
            "gad",
            "gad2-positive",
            Routine,
            discipline("psychology"),
            gad([2, 1, 0, 0, 0, 0, 0]),
            gad([1, 1, 0, 0, 0, 0, 0]),
        ),
    ]
}
