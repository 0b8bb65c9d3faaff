//! Tags set by rules (issue 20 item 6), in the answer's transaction: a rule with
//! `tags = [...]` that fires puts them on the patient, unless staff removed them and the answer
//! that fired it brings nothing new ([`crate::followup::tag::decide`] documents why).

use chrono::{DateTime, Utc};
use rusqlite::Transaction;
use serde::Serialize;

use crate::followup::rules::Finding;
use crate::followup::script::{QuestionId, Script};
use crate::followup::tag::{decide, RuleTagAction, Tag};
use crate::store::audit::{append, Actor};
use crate::store::{tags, StoreError};

/// What one firing rule did to one tag.
#[derive(Debug, Clone, Serialize)]
pub struct TagChange {
    pub tag: Tag,
    pub rule: String,
    pub action: RuleTagAction,
}

/// The save that fired `finding` is fresh evidence for it: the saved answer is new or changed
/// and the rule reads it (its question, or a measurement series it feeds).
fn reads(script: &Script, finding: &Finding, question: &QuestionId) -> bool {
    let Some(rule) = script.rules.iter().find(|r| r.id == finding.rule) else {
        return false;
    };
    if rule.when.questions().contains(question) {
        return true;
    }
    let fed = script.measurement_kinds(question.as_str());
    rule.when.measurements().iter().any(|k| fed.contains(k))
}

/// The answer being saved, as far as tagging cares.
pub struct SavedAnswer<'a> {
    pub patient_id: i64,
    pub answer_id: i64,
    pub question: &'a QuestionId,
    /// Its value is new or differs from the one stored before this save.
    pub changed: bool,
}

/// Applies the tags of every finding; audits each tag added or added again.
pub fn apply(
    tx: &Transaction,
    script: &Script,
    findings: &[Finding],
    saved: &SavedAnswer,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Vec<TagChange>, StoreError> {
    let mut out = Vec::new();
    for finding in findings.iter().filter(|f| !f.tags.is_empty()) {
        let fresh = saved.changed && reads(script, finding, saved.question);
        for tag in &finding.tags {
            // Two rules of one save may carry the same tag: the first decides.
            if out.iter().any(|c: &TagChange| &c.tag == tag) {
                continue;
            }
            let action = decide(tags::state(tx, saved.patient_id, tag)?, fresh);
            if matches!(action, RuleTagAction::Add | RuleTagAction::ReAdd) {
                tags::set_by_rule(
                    tx,
                    saved.patient_id,
                    tag,
                    finding.rule.as_str(),
                    saved.answer_id,
                    now,
                )?;
                append(
                    tx,
                    actor,
                    "tag_by_rule",
                    "patient",
                    Some(&saved.patient_id.to_string()),
                    &format!(
                        "tag={tag} rule={} answer={} action={}",
                        finding.rule,
                        saved.answer_id,
                        if action == RuleTagAction::Add {
                            "add"
                        } else {
                            "re_add"
                        }
                    ),
                    now.timestamp(),
                )?;
            }
            out.push(TagChange {
                tag: tag.clone(),
                rule: finding.rule.to_string(),
                action,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::{Duration, TimeZone, Utc};

    use super::*;
    use crate::followup::rules::{evaluate, Answers, Measurement};
    use crate::followup::script::{load_dir, validate_answer, MeasurementKind};

    /// Which saves count as fresh evidence for the shipped heart-failure rules: the question a
    /// rule reads, or a question feeding the measurement series a trend rule compares.
    #[test]
    fn a_rule_reads_its_question_or_the_series_it_compares() {
        let catalog = load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/scripts"))
            .expect("shipped scripts load");
        let hf = catalog.get("heart-failure").expect("heart-failure script");
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
        let mut answers = Answers::new();
        for (q, v) in [
            ("weight", serde_json::json!(72.5)),
            ("leg_swelling", serde_json::json!(true)),
        ] {
            let value = validate_answer(hf, q, v).expect("valid answer");
            answers.insert(QuestionId(q.into()), value);
        }
        let history = [Measurement {
            kind: MeasurementKind::WeightKg,
            value: 70.0,
            taken_at: now - Duration::hours(48),
        }];
        let findings = evaluate(hf, &answers, &history, now);
        let finding = |rule: &str| {
            findings
                .iter()
                .find(|f| f.rule.as_str() == rule)
                .unwrap_or_else(|| panic!("{rule} fires"))
        };
        let q = |id: &str| QuestionId(id.into());
        let table = [
            ("hf-leg-swelling", "leg_swelling", true),
            ("hf-leg-swelling", "weight", false),
            ("hf-weight-gain-3d", "weight", true),
            ("hf-weight-gain-3d", "leg_swelling", false),
        ];
        for (rule, question, want) in table {
            assert_eq!(
                reads(hf, finding(rule), &q(question)),
                want,
                "{rule} reads {question}"
            );
        }
    }
}
