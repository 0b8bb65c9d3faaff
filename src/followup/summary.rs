//! Call summary with evidence (issue 18 item 5): after a completed follow-up, a short summary
//! in Chinese and English, made by fixed templates from what the record holds — the answers,
//! the findings (escalations) with the advice given, red-flag transcript segments, abnormal
//! labs, the nurse's notes and the next contact. No external service: the same record gives
//! the same summary.
//!
//! Every sentence carries pointers to its evidence, and [`check`] refuses a summary in which a
//! sentence has none or points at evidence the record does not hold (deleted, or never
//! there). The store runs the check against the database before it saves a summary.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::script::Severity;

/// Where a sentence's claim comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// A saved answer (`answers.id`).
    Answer { id: i64 },
    /// A finding: an escalation a rule or red flag opened (`escalations.id`).
    Finding { id: i64 },
    /// A transcript segment (`transcript_segments.id`) and where it starts in the audio.
    Transcript { id: i64, offset_ms: i64 },
    /// A lab result (`lab_observations.id`).
    Lab { id: i64 },
    /// A clinical note (`notes.id`).
    Note { id: i64 },
    /// A follow-up task (`followup_tasks.id`): the next contact.
    Task { id: i64 },
}

/// One sentence in both languages with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sentence {
    pub zh: String,
    pub en: String,
    pub evidence: Vec<Evidence>,
}

/// An answer as the summary names it.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerFact {
    pub id: i64,
    pub question_zh: String,
    pub question_en: String,
    /// The answer as shown (`72.5 kg`, `yes`).
    pub value: String,
}

/// An escalation opened from this call, with the answers it read and its advice.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingFact {
    pub id: i64,
    pub rule_id: String,
    pub severity: Severity,
    /// Answer ids (of this call) the rule read.
    pub answer_ids: Vec<i64>,
    pub advice_zh: Option<String>,
    pub advice_en: Option<String>,
}

/// A patient transcript segment a red flag matched.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptFact {
    pub segment_id: i64,
    pub start_ms: i64,
    pub text: String,
    /// The finding it raised.
    pub finding_id: i64,
}

/// An abnormal lab result of the period.
#[derive(Debug, Clone, PartialEq)]
pub struct LabFact {
    pub id: i64,
    pub lab: String,
    /// Value with its unit and flags (`6.2 mmol/L H`).
    pub value: String,
}

/// A note written on the call.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteFact {
    pub id: i64,
    pub body: String,
}

/// The next pending contact of the pathway.
#[derive(Debug, Clone, PartialEq)]
pub struct NextContact {
    pub task_id: i64,
    pub step_zh: String,
    pub step_en: String,
    pub due: NaiveDate,
}

/// Everything a summary may say.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SummaryInput {
    pub answers: Vec<AnswerFact>,
    pub findings: Vec<FindingFact>,
    pub transcript: Vec<TranscriptFact>,
    pub labs: Vec<LabFact>,
    pub notes: Vec<NoteFact>,
    pub next: Option<NextContact>,
}

fn severity_words(s: Severity) -> (&'static str, &'static str) {
    match s {
        Severity::Emergency => ("紧急", "emergency"),
        Severity::Urgent => ("急", "urgent"),
        Severity::High => ("高", "high"),
        Severity::Routine => ("常规", "routine"),
    }
}

/// Time in the recording as `m:ss`.
fn clock(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

/// The summary's sentences, in order: what was asked, what was abnormal (with what the patient
/// said), what was advised, labs, what was done (notes), what happens next.
pub fn compose(input: &SummaryInput) -> Vec<Sentence> {
    let mut out = Vec::new();
    for a in &input.answers {
        out.push(Sentence {
            zh: format!("询问“{}”，回答：{}。", a.question_zh, a.value),
            en: format!("Asked \"{}\": {}.", a.question_en, a.value),
            evidence: vec![Evidence::Answer { id: a.id }],
        });
    }
    for f in &input.findings {
        let (zh, en) = severity_words(f.severity);
        let mut evidence = vec![Evidence::Finding { id: f.id }];
        evidence.extend(f.answer_ids.iter().map(|&id| Evidence::Answer { id }));
        out.push(Sentence {
            zh: format!("异常：规则 {}（{zh}级）触发预警。", f.rule_id),
            en: format!("Abnormal: rule {} raised an escalation ({en}).", f.rule_id),
            evidence,
        });
    }
    for t in &input.transcript {
        out.push(Sentence {
            zh: format!("患者在录音 {} 处说：“{}”。", clock(t.start_ms), t.text),
            en: format!(
                "At {} in the recording the patient said: \"{}\".",
                clock(t.start_ms),
                t.text
            ),
            evidence: vec![
                Evidence::Transcript {
                    id: t.segment_id,
                    offset_ms: t.start_ms,
                },
                Evidence::Finding { id: t.finding_id },
            ],
        });
    }
    for f in &input.findings {
        if let (Some(zh), Some(en)) = (&f.advice_zh, &f.advice_en) {
            out.push(Sentence {
                zh: format!("已告知患者：{zh}"),
                en: format!("The patient was advised: {en}"),
                evidence: vec![Evidence::Finding { id: f.id }],
            });
        }
    }
    for l in &input.labs {
        out.push(Sentence {
            zh: format!("化验 {} 异常：{}。", l.lab, l.value),
            en: format!("Abnormal lab {}: {}.", l.lab, l.value),
            evidence: vec![Evidence::Lab { id: l.id }],
        });
    }
    for n in &input.notes {
        out.push(Sentence {
            zh: format!("护士记录：{}", n.body),
            en: format!("Nurse's note: {}", n.body),
            evidence: vec![Evidence::Note { id: n.id }],
        });
    }
    if let Some(n) = &input.next {
        out.push(Sentence {
            zh: format!("下一次随访：{}，{}。", n.step_zh, n.due),
            en: format!("Next contact: {} on {}.", n.step_en, n.due),
            evidence: vec![Evidence::Task { id: n.task_id }],
        });
    }
    out
}

/// What the record holds, as the checker asks it.
pub trait EvidenceStore {
    /// Whether `e` exists (for a transcript segment: and starts at `offset_ms`).
    fn holds(&self, e: &Evidence) -> bool;
}

/// An in-memory record (tests, and the store's snapshot of one patient).
#[derive(Debug, Clone, Default)]
pub struct KnownEvidence(pub BTreeSet<Evidence>);

impl EvidenceStore for KnownEvidence {
    fn holds(&self, e: &Evidence) -> bool {
        self.0.contains(e)
    }
}

/// Why a summary was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SummaryError {
    #[error("sentence {index} (\"{text}\") has no evidence")]
    NoEvidence { index: usize, text: String },
    #[error(
        "sentence {index} (\"{text}\") points at {evidence:?}, which the record does not hold"
    )]
    Missing {
        index: usize,
        text: String,
        evidence: Evidence,
    },
    #[error("a summary needs at least one sentence")]
    Empty,
}

/// Refuses a summary unless every sentence has evidence and all of it exists.
pub fn check(sentences: &[Sentence], store: &impl EvidenceStore) -> Result<(), SummaryError> {
    if sentences.is_empty() {
        return Err(SummaryError::Empty);
    }
    for (index, s) in sentences.iter().enumerate() {
        if s.evidence.is_empty() {
            return Err(SummaryError::NoEvidence {
                index,
                text: s.en.clone(),
            });
        }
        if let Some(e) = s.evidence.iter().find(|e| !store.holds(e)) {
            return Err(SummaryError::Missing {
                index,
                text: s.en.clone(),
                evidence: *e,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;
