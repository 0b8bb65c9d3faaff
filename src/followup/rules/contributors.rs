//! Which answers made a rule hold: the OBX-8 flag of a result sent back to the EMR belongs on
//! those answers only, not on every question the rule reads (the stroke rule reads all six
//! BE-FAST signs; when only balance is abnormal, only balance is flagged).

use chrono::{DateTime, Utc};

use super::{Answers, Ctx};
use crate::followup::script::expr::Expr;
use crate::followup::script::{QuestionId, Rule, Script};

/// The questions of the atoms of `rule` that did not go against it with these answers (an
/// atom that is unknown, e.g. a trend without its history, is kept: it cannot be ruled out).
/// Under a `not`, an atom goes against the rule by holding.
pub fn contributing(
    script: &Script,
    rule: &Rule,
    answers: &Answers,
    now: DateTime<Utc>,
) -> Vec<QuestionId> {
    let ctx = Ctx::new(script, answers, &[], now);
    let mut out = Vec::new();
    walk(&ctx, &rule.when, true, &mut out);
    out.dedup();
    out
}

fn walk(ctx: &Ctx, e: &Expr, want: bool, out: &mut Vec<QuestionId>) {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|c| walk(ctx, c, want, out)),
        Expr::Not(inner) => walk(ctx, inner, !want, out),
        atom => {
            if ctx.eval(atom) != Some(!want) {
                for q in atom.questions() {
                    if !out.contains(&q) {
                        out.push(q);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::followup::script::{load_str, AnswerValue};
    use chrono::TimeZone;

    const SCRIPT: &str = r#"
code = "t"
version = 1
title = { zh = "t", en = "t" }

[[questions]]
id = "balance"
text = { zh = "b", en = "b" }
type = "yes_no"

[[questions]]
id = "eyes"
text = { zh = "e", en = "e" }
type = "yes_no"

[[questions]]
id = "weight"
text = { zh = "w", en = "w" }
type = "number"
unit = "kg"
min = 20
max = 300
decimals = 1

[[rules]]
id = "signs"
when = "balance or eyes"
severity = "emergency"
ack_sla_minutes = 5

[[rules]]
id = "heavy-and-steady"
when = "weight > 100 and not balance"
severity = "high"
ack_sla_minutes = 60
"#;

    #[test]
    fn only_the_answers_that_made_the_rule_hold_are_named() {
        let script = load_str(std::path::Path::new("t.toml"), SCRIPT).expect("script loads");
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).unwrap();
        let mut answers = Answers::new();
        answers.insert(QuestionId("balance".into()), AnswerValue::YesNo(true));
        answers.insert(QuestionId("eyes".into()), AnswerValue::YesNo(false));
        answers.insert(QuestionId("weight".into()), AnswerValue::Number(120.0));
        let names = |rule: &str, answers: &Answers| -> Vec<String> {
            contributing(&script, script.rule(rule).unwrap(), answers, now)
                .into_iter()
                .map(|q| q.0)
                .collect()
        };
        assert_eq!(names("signs", &answers), ["balance"]);
        // balance holds, so under `not` it went against the rule: only weight is named
        assert_eq!(names("heavy-and-steady", &answers), ["weight"]);
        answers.insert(QuestionId("balance".into()), AnswerValue::YesNo(false));
        assert_eq!(names("heavy-and-steady", &answers), ["weight", "balance"]);
    }
}
