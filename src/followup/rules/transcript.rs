//! Red-flag search over a finished call's transcript (ARCHITECTURE.md flow 5).

use serde::{Deserialize, Serialize};

use super::{Evidence, Finding};
use crate::followup::script::Script;

/// Who spoke: the recording is stereo, one channel per party, so this comes for free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    /// The nurse.
    Agent,
    /// The patient (or whoever answered the patient's phone).
    Patient,
}

/// One transcript segment as stored in `transcript_segments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Channel.
    pub speaker: Speaker,
    /// Start offset in the recording.
    pub start_ms: u64,
    /// Text.
    pub text: String,
}

/// A red flag found in a transcript, with the phrase that matched first (for
/// [`crate::followup::escalation::Source::Transcript`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptFinding {
    /// The finding, ready for [`crate::followup::escalation::decide`].
    pub finding: Finding,
    /// The first phrase that matched.
    pub phrase: String,
}

/// Most excerpts quoted in one finding's evidence.
const MAX_EXCERPTS: usize = 3;

/// Searches the patient's side of a transcript for the script's red-flag phrases. Only the
/// patient channel counts: the nurse reading out "if you have chest pain, call 120" is not a
/// symptom. Each red flag fires at most once per transcript, quoting where it matched.
pub fn scan_transcript(script: &Script, segments: &[Segment]) -> Vec<TranscriptFinding> {
    let patient: Vec<(&Segment, String)> = segments
        .iter()
        .filter(|s| s.speaker == Speaker::Patient)
        .map(|s| (s, s.text.to_lowercase()))
        .collect();
    let mut out = Vec::new();
    for rf in &script.red_flags {
        let mut first: Option<&str> = None;
        let mut excerpts = Vec::new();
        for (seg, lower) in &patient {
            if let Some(p) = rf.phrases.iter().find(|p| lower.contains(p.as_str())) {
                first.get_or_insert(p.as_str());
                if excerpts.len() < MAX_EXCERPTS {
                    let secs = seg.start_ms / 1000;
                    excerpts.push(format!("{:02}:{:02} «{}»", secs / 60, secs % 60, seg.text));
                }
            }
        }
        let Some(phrase) = first else { continue };
        out.push(TranscriptFinding {
            phrase: phrase.to_owned(),
            finding: Finding {
                script: script.code.clone(),
                rule: rf.id.clone(),
                severity: rf.severity,
                route: rf.route.clone(),
                ack_sla_minutes: rf.ack_sla_minutes,
                advice_en: rf.advice.as_ref().map(|a| a.en.clone()),
                advice_zh: rf.advice.as_ref().map(|a| a.zh.clone()),
                tags: Vec::new(),
                evidence: Evidence {
                    script: script.code.clone(),
                    script_version: script.version,
                    condition: format!("transcript mentions any of: {}", rf.phrases.join(", ")),
                    answers: Vec::new(),
                    trends: Vec::new(),
                    excerpts,
                },
            },
        });
    }
    out.sort_by_key(|t| std::cmp::Reverse(t.finding.severity));
    out
}
