//! Rules evaluation: which rules of a script fire for the answers given so far and the patient's
//! earlier measurements.
//!
//! Pure: the caller passes the answers, the measurement history and `now`; nothing is read from
//! storage or the clock. The lead's store calls [`evaluate`] after every autosaved answer and
//! hands each [`Finding`] to [`crate::followup::escalation::decide`].
//!
//! Conditions use three-valued logic: a comparison on an unanswered (or skipped) question is
//! *unknown*, not false, so `not breathless` does not fire before the nurse asked. A rule fires
//! only when its condition is definitely true.

pub mod contributors;
pub mod labs;
mod transcript;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::followup::lab::{LabEvidence, LabName, LabPoint};
use crate::followup::script::expr::{CmpOp, Literal, Operand};
use crate::followup::script::{
    AnswerValue, Bilingual, Expr, MeasurementKind, QuestionId, QuestionKind, Route, Rule, RuleId,
    Script, ScriptCode, Severity,
};

pub use transcript::{scan_transcript, Segment, Speaker, TranscriptFinding};

/// Answers of one call so far, by question id.
pub type Answers = BTreeMap<QuestionId, AnswerValue>;

/// One point of a patient's measurement series (from an earlier call, or a device).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Which series.
    pub kind: MeasurementKind,
    /// Value in the series' unit.
    pub value: f64,
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
}

/// Why a rule fired, in words a doctor reads on the escalation: the question, the answer, the
/// rule and the script version (issue 3: evidence).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Script code.
    pub script: ScriptCode,
    /// Script version the answers were given against.
    pub script_version: u32,
    /// The rule's condition as written.
    pub condition: String,
    /// `(question, its English text, the answer)` for every question the rule reads.
    pub answers: Vec<(QuestionId, String, String)>,
    /// Measurement series the rule compared (`weight_kg: 70 → 72.5 within 3 days`).
    pub trends: Vec<String>,
    /// Transcript excerpts that matched a red flag (`01:23 «胸口疼»`).
    #[serde(default)]
    pub excerpts: Vec<String>,
    /// The lab results a `lab()` rule read: lab, value, unit, flags, status, time, baseline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labs: Vec<LabEvidence>,
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} v{}: {}",
            self.script, self.script_version, self.condition
        )?;
        for (q, text, a) in &self.answers {
            write!(f, "; {q} ({text}) = {a}")?;
        }
        for t in self.trends.iter().chain(&self.excerpts) {
            write!(f, "; {t}")?;
        }
        for l in &self.labs {
            write!(f, "; {l}")?;
        }
        Ok(())
    }
}

/// A rule that fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Script code.
    pub script: ScriptCode,
    /// The rule.
    pub rule: RuleId,
    /// How urgent.
    pub severity: Severity,
    /// To whom.
    pub route: Route,
    /// Minutes to acknowledge before re-escalation.
    pub ack_sla_minutes: u32,
    /// What the nurse tells the patient now, if the script says.
    pub advice_en: Option<String>,
    /// Same, in Chinese.
    pub advice_zh: Option<String>,
    /// Why.
    pub evidence: Evidence,
    /// Tags the rule puts on the patient (none for transcript red flags).
    #[serde(default)]
    pub tags: Vec<crate::followup::tag::Tag>,
}

impl Finding {
    /// The rule's advice in both languages, when the script gives one. The nurse reads it to the
    /// patient before the next question, and it is stored with the escalation's evidence so the
    /// record shows what the patient was told (issue 20 item 1).
    pub fn advice(&self) -> Option<Bilingual> {
        match (&self.advice_en, &self.advice_zh) {
            (Some(en), Some(zh)) => Some(Bilingual {
                en: en.clone(),
                zh: zh.clone(),
            }),
            (Some(one), None) | (None, Some(one)) => Some(Bilingual {
                en: one.clone(),
                zh: one.clone(),
            }),
            (None, None) => None,
        }
    }

    /// The questions whose answers made the rule fire: where the console shows the advice.
    pub fn questions(&self) -> Vec<QuestionId> {
        self.evidence
            .answers
            .iter()
            .map(|(q, _, _)| q.clone())
            .collect()
    }
}

/// Evaluates every rule of `script`; returns the ones that fire, most severe first. Rules
/// reading `lab()` see no results here and stay unknown: they run in [`evaluate_labs`].
pub fn evaluate(
    script: &Script,
    answers: &Answers,
    history: &[Measurement],
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let ctx = Ctx::new(script, answers, history, now);
    findings(&ctx, script.rules.iter())
}

/// Evaluates the lab rules of `script` that read one of the labs that just `arrived`, over the
/// patient's final results (`labs`, see [`labs`] for `lab()` and `baseline`) and the
/// discharge of the active enrolment. Each finding's evidence carries the results it read.
pub fn evaluate_labs(
    script: &Script,
    arrived: &[LabName],
    labs: &[LabPoint],
    discharged_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let mut ctx = Ctx::new(script, &Answers::new(), &[], now);
    ctx.labs = labs;
    ctx.discharged_at = discharged_at;
    let rules = script
        .rules
        .iter()
        .filter(|r| r.when.labs().iter().any(|l| arrived.contains(l)));
    findings(&ctx, rules)
}

fn findings<'r>(ctx: &Ctx<'_>, rules: impl Iterator<Item = &'r Rule>) -> Vec<Finding> {
    let script = ctx.script;
    let mut out: Vec<Finding> = rules
        .filter(|r| ctx.eval(&r.when) == Some(true))
        .map(|r| Finding {
            script: script.code.clone(),
            rule: r.id.clone(),
            severity: r.severity,
            route: r.route.clone(),
            ack_sla_minutes: r.ack_sla_minutes,
            advice_en: r.advice.as_ref().map(|a| a.en.clone()),
            advice_zh: r.advice.as_ref().map(|a| a.zh.clone()),
            tags: r.tags.clone(),
            evidence: Evidence {
                script: script.code.clone(),
                script_version: script.version,
                condition: r.when_text.clone(),
                answers: r
                    .when
                    .questions()
                    .into_iter()
                    .filter_map(|q| {
                        let a = ctx.answers.get(&q)?;
                        let text = script.question(q.as_str())?.text.en.clone();
                        Some((q, text, a.to_string()))
                    })
                    .collect(),
                trends: r
                    .when
                    .measurements()
                    .into_iter()
                    .filter_map(|k| ctx.trend_text(k))
                    .collect(),
                excerpts: Vec::new(),
                labs: ctx.lab_evidence(&r.when),
            },
        })
        .collect();
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

/// Ids of the questions to show, in order, given the answers so far (skip logic).
pub fn visible_questions(script: &Script, answers: &Answers) -> Vec<QuestionId> {
    let ctx = Ctx::new(script, answers, &[], DateTime::<Utc>::MIN_UTC);
    script
        .questions
        .iter()
        .filter(|q| ctx.visible(q.id.as_str()))
        .map(|q| q.id.clone())
        .collect()
}

/// Measurements the answers of one call add to the patient's series (issue 3: measurements
/// become a time series for trends). Answers to hidden questions add nothing.
pub fn measurements_from_answers(
    script: &Script,
    answers: &Answers,
    taken_at: DateTime<Utc>,
) -> Vec<Measurement> {
    let ctx = Ctx::new(script, answers, &[], taken_at);
    ctx.current
        .iter()
        .map(|(&kind, &value)| Measurement {
            kind,
            value,
            taken_at,
        })
        .collect()
}

struct Ctx<'a> {
    script: &'a Script,
    /// Answers to visible questions only.
    answers: Answers,
    history: &'a [Measurement],
    now: DateTime<Utc>,
    current: BTreeMap<MeasurementKind, f64>,
    /// Final lab results (empty outside [`evaluate_labs`]).
    labs: &'a [LabPoint],
    /// The active enrolment's discharge: the baseline's anchor.
    discharged_at: Option<DateTime<Utc>>,
}

impl<'a> Ctx<'a> {
    fn new(
        script: &'a Script,
        answers: &Answers,
        history: &'a [Measurement],
        now: DateTime<Utc>,
    ) -> Self {
        let mut ctx = Ctx {
            script,
            answers: Answers::new(),
            history,
            now,
            current: BTreeMap::new(),
            labs: &[],
            discharged_at: None,
        };
        // Questions are in order and show_if reads only earlier ones, so one pass decides
        // visibility: an answer to a question that is now hidden (the nurse changed an earlier
        // answer) is ignored.
        for q in &script.questions {
            let shown = q.show_if.as_ref().is_none_or(|e| ctx.eval(e) == Some(true));
            if let (true, Some(a)) = (shown, answers.get(&q.id)) {
                ctx.answers.insert(q.id.clone(), a.clone());
                match (a, q.measurement) {
                    (AnswerValue::Number(n), Some(k)) => {
                        ctx.current.insert(k, *n);
                    }
                    (
                        AnswerValue::BloodPressure {
                            systolic,
                            diastolic,
                        },
                        _,
                    ) => {
                        ctx.current
                            .insert(MeasurementKind::Sbp, f64::from(*systolic));
                        ctx.current
                            .insert(MeasurementKind::Dbp, f64::from(*diastolic));
                    }
                    _ => {}
                }
            }
        }
        ctx
    }

    fn visible(&self, id: &str) -> bool {
        self.script
            .question(id)
            .and_then(|q| q.show_if.as_ref())
            .is_none_or(|e| self.eval(e) == Some(true))
    }

    /// Kleene three-valued logic; `None` = unknown (unanswered or skipped).
    fn eval(&self, e: &Expr) -> Option<bool> {
        match e {
            Expr::And(v) => {
                let vals: Vec<Option<bool>> = v.iter().map(|e| self.eval(e)).collect();
                if vals.contains(&Some(false)) {
                    Some(false)
                } else if vals.contains(&None) {
                    None
                } else {
                    Some(true)
                }
            }
            Expr::Or(v) => {
                let vals: Vec<Option<bool>> = v.iter().map(|e| self.eval(e)).collect();
                if vals.contains(&Some(true)) {
                    Some(true)
                } else if vals.contains(&None) {
                    None
                } else {
                    Some(false)
                }
            }
            Expr::Not(e) => self.eval(e).map(|b| !b),
            Expr::Answered(q) => Some(self.answers.contains_key(q)),
            Expr::Yes(q) => match self.answers.get(q)? {
                AnswerValue::YesNo(b) => Some(*b),
                _ => None,
            },
            Expr::In(q, opts) => match self.answers.get(q)? {
                AnswerValue::Choice(o) => Some(opts.contains(o)),
                _ => None,
            },
            Expr::Cmp(operand, op, lit) => self.compare(operand, *op, lit),
        }
    }

    fn compare(&self, operand: &Operand, op: CmpOp, lit: &Literal) -> Option<bool> {
        match (operand, lit) {
            (Operand::Answer(q), Literal::Bool(want)) => match self.answers.get(q)? {
                AnswerValue::YesNo(b) => Some(if op == CmpOp::Eq {
                    b == want
                } else {
                    b != want
                }),
                _ => None,
            },
            (Operand::Answer(q), Literal::Option(want)) => match self.answers.get(q)? {
                AnswerValue::Choice(o) => Some(if op == CmpOp::Eq {
                    o == want
                } else {
                    o != want
                }),
                _ => None,
            },
            (Operand::Sum(qs), Literal::Number(n)) => {
                let mut total = 0.0;
                let mut complete = true;
                for q in qs {
                    match self.number(q) {
                        Some(v) => total += v,
                        None => complete = false,
                    }
                }
                if complete {
                    Some(op.test(total, *n))
                } else if matches!(op, CmpOp::Gt | CmpOp::Ge) && op.test(total, *n) {
                    // Items are checked non-negative at load, so a partial sum is a lower
                    // bound: if it already reaches the threshold, the full total will too.
                    Some(true)
                } else {
                    None
                }
            }
            (Operand::Lab(name, window), Literal::Baseline(factor)) => {
                let current = labs::latest(self.labs, name, *window, self.now)?;
                let base = labs::baseline(self.labs, current, self.discharged_at)?;
                Some(op.test(current.value, factor * base.value))
            }
            (operand, Literal::Number(n)) => self.value(operand).map(|v| op.test(v, *n)),
            _ => None,
        }
    }

    /// Numeric value of an answer: numbers, scales, and scored choices.
    fn number(&self, q: &QuestionId) -> Option<f64> {
        match self.answers.get(q)? {
            AnswerValue::Number(n) => Some(*n),
            AnswerValue::Scale(s) => Some(f64::from(*s)),
            AnswerValue::Choice(o) => match &self.script.question(q.as_str())?.kind {
                QuestionKind::Choice { options } => options.iter().find(|x| x.id == *o)?.score,
                _ => None,
            },
            _ => None,
        }
    }

    fn value(&self, operand: &Operand) -> Option<f64> {
        match operand {
            Operand::Answer(q) => self.number(q),
            Operand::Systolic(q) | Operand::Diastolic(q) => match self.answers.get(q)? {
                AnswerValue::BloodPressure {
                    systolic,
                    diastolic,
                } => Some(f64::from(if matches!(operand, Operand::Systolic(_)) {
                    *systolic
                } else {
                    *diastolic
                })),
                _ => None,
            },
            Operand::Sum(_) => None,
            Operand::Rise(k, w) => {
                let (lo, _, today) = self.window(*k, *w)?;
                Some(today - lo)
            }
            Operand::Fall(k, w) => {
                let (_, hi, today) = self.window(*k, *w)?;
                Some(hi - today)
            }
            Operand::Lab(name, window) => {
                labs::latest(self.labs, name, *window, self.now).map(|p| p.value)
            }
        }
    }

    /// `(lowest, highest, today)` of a series over `[now - window, now]`; unknown without
    /// today's value or without any earlier point in the window.
    fn window(&self, kind: MeasurementKind, window: Duration) -> Option<(f64, f64, f64)> {
        let today = *self.current.get(&kind)?;
        let since = self.now - window;
        let mut points = self
            .history
            .iter()
            .filter(|m| m.kind == kind && m.taken_at >= since && m.taken_at <= self.now)
            .map(|m| m.value)
            .peekable();
        points.peek()?;
        let (lo, hi) = points.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        Some((lo.min(today), hi.max(today), today))
    }

    /// The results a condition's `lab()` comparisons read, with the baseline where the
    /// comparison used one.
    fn lab_evidence(&self, e: &Expr) -> Vec<LabEvidence> {
        let mut out: Vec<LabEvidence> = Vec::new();
        let mut visit = |operand: &Operand, lit: &Literal| {
            let Operand::Lab(name, window) = operand else {
                return;
            };
            let Some(p) = labs::latest(self.labs, name, *window, self.now) else {
                return;
            };
            let base = matches!(lit, Literal::Baseline(_))
                .then(|| labs::baseline(self.labs, p, self.discharged_at))
                .flatten();
            if let Some(existing) = out.iter_mut().find(|x| x.observation == p.id) {
                if existing.baseline.is_none() {
                    existing.baseline = base.map(|b| b.value);
                    existing.baseline_at = base.map(|b| b.observed_at);
                }
                return;
            }
            out.push(LabEvidence {
                observation: p.id,
                lab: p.lab.clone(),
                value: p.value,
                unit: p.unit.clone(),
                flags: p.flags.iter().map(|f| f.code().to_string()).collect(),
                status: p.status,
                observed_at: p.observed_at,
                baseline: base.map(|b| b.value),
                baseline_at: base.map(|b| b.observed_at),
            });
        };
        fn walk(e: &Expr, visit: &mut dyn FnMut(&Operand, &Literal)) {
            match e {
                Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| walk(e, visit)),
                Expr::Not(e) => walk(e, visit),
                Expr::Cmp(o, _, l) => visit(o, l),
                _ => {}
            }
        }
        walk(e, &mut visit);
        out
    }

    fn trend_text(&self, kind: MeasurementKind) -> Option<String> {
        let today = self.current.get(&kind)?;
        let mut earlier: Vec<&Measurement> = self
            .history
            .iter()
            .filter(|m| m.kind == kind && m.taken_at <= self.now)
            .collect();
        earlier.sort_by_key(|m| m.taken_at);
        let series: Vec<String> = earlier
            .iter()
            .rev()
            .take(5)
            .rev()
            .map(|m| format!("{} on {}", m.value, m.taken_at.format("%Y-%m-%d %H:%M")))
            .collect();
        Some(format!("{kind}: {} → {today} now", series.join(", ")))
    }
}

#[cfg(test)]
mod tests;
