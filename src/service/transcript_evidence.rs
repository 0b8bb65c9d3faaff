//! Which transcript segments may open an escalation (issue 23 item 1).
//!
//! A red-flag phrase in the patient's words opens an escalation, and whisper is sometimes
//! unsure: a segment below [`LOW_CONFIDENCE`] may be a garbled word or invented text, and one
//! unsure "胸痛" should not page a cardiologist at night. The rule chosen:
//!
//! - a red flag found in a **confident** patient segment escalates, as before;
//! - a red flag found **only in low-confidence** segments escalates when a second signal backs
//!   it: its phrases occur in **at least two different** low-confidence patient segments (the
//!   patient said it twice, or the nurse's question and the answer both carried it on the
//!   patient's channel); once, alone, it is logged and left to the transcript, where the
//!   segment is marked unsure for the nurse who listens to it.
//!
//! A pure function over the segments and the script; the transcription pipeline calls it.

use crate::followup::rules::{
    scan_transcript, Segment as RuleSegment, Speaker as RuleSpeaker, TranscriptFinding,
};
use crate::followup::script::Script;
use crate::store::transcripts::NewSegment;
use crate::transcribe::LOW_CONFIDENCE;

/// Low-confidence patient segments that must carry a red flag's phrase before it escalates
/// without a confident one.
pub const UNSURE_MENTIONS_NEEDED: usize = 2;

fn rule_segment(s: &NewSegment) -> RuleSegment {
    RuleSegment {
        speaker: s.speaker,
        start_ms: s.start_ms,
        text: s.text.clone(),
    }
}

/// The red flags of `script` that `segments` support, by the rule above.
pub fn supported_findings(script: &Script, segments: &[NewSegment]) -> Vec<TranscriptFinding> {
    let confident: Vec<RuleSegment> = segments
        .iter()
        .filter(|s| s.confidence >= LOW_CONFIDENCE)
        .map(rule_segment)
        .collect();
    let all: Vec<RuleSegment> = segments.iter().map(rule_segment).collect();
    let mut found = scan_transcript(script, &confident);
    for f in scan_transcript(script, &all) {
        if found.iter().any(|g| g.finding.rule == f.finding.rule) {
            continue;
        }
        let Some(flag) = script.red_flags.iter().find(|r| r.id == f.finding.rule) else {
            continue;
        };
        let mentions = segments
            .iter()
            .filter(|s| s.speaker == RuleSpeaker::Patient && s.confidence < LOW_CONFIDENCE)
            .filter(|s| {
                let lower = s.text.to_lowercase();
                flag.phrases.iter().any(|p| lower.contains(p.as_str()))
            })
            .count();
        if mentions >= UNSURE_MENTIONS_NEEDED {
            found.push(f);
        } else {
            tracing::info!(
                rule = f.finding.rule.as_str(),
                "red-flag phrase only in one low-confidence segment: no escalation"
            );
        }
    }
    found.sort_by_key(|t| std::cmp::Reverse(t.finding.severity));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script() -> Script {
        let catalog = crate::followup::script::load_dir(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/scripts"),
        )
        .expect("shipped scripts");
        catalog
            .get("chest-pain")
            .expect("chest-pain script")
            .clone()
    }

    fn seg(speaker: RuleSpeaker, at_s: u64, text: &str, confidence: f32) -> NewSegment {
        NewSegment {
            speaker,
            start_ms: at_s * 1000,
            end_ms: at_s * 1000 + 2000,
            text: text.into(),
            confidence,
        }
    }

    const RULE: &str = "cp-transcript-chest-pain";

    fn rules(found: &[TranscriptFinding]) -> Vec<&str> {
        found.iter().map(|f| f.finding.rule.as_str()).collect()
    }

    #[test]
    fn a_confident_mention_escalates_one_unsure_mention_does_not_two_do() {
        let s = script();
        let p = RuleSpeaker::Patient;
        let confident = [seg(p, 5, "昨天晚上胸口疼了很久", 0.8)];
        assert!(rules(&supported_findings(&s, &confident)).contains(&RULE));
        let once = [seg(p, 5, "昨天晚上胸口疼了很久", 0.3)];
        assert!(!rules(&supported_findings(&s, &once)).contains(&RULE));
        let twice = [
            seg(p, 5, "昨天晚上胸口疼了很久", 0.3),
            seg(p, 20, "就是胸口疼", 0.4),
        ];
        assert!(rules(&supported_findings(&s, &twice)).contains(&RULE));
        // the agent's unsure words are no second signal
        let agent_too = [
            seg(p, 5, "昨天晚上胸口疼了很久", 0.3),
            seg(RuleSpeaker::Agent, 20, "您说胸口疼？", 0.3),
        ];
        assert!(!rules(&supported_findings(&s, &agent_too)).contains(&RULE));
    }
}
