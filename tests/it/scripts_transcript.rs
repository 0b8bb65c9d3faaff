//! Red-flag phrases in transcripts, per shipped red flag: the patient saying it fires, the nurse
//! saying it or unrelated talk does not.

use std::collections::BTreeSet;
use std::path::Path;

use suifang::followup::rules::{scan_transcript, Segment, Speaker};
use suifang::followup::script::{load_dir, Route, ScriptCatalog, Severity};

fn catalog() -> ScriptCatalog {
    match load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/scripts")) {
        Ok(c) => c,
        Err(e) => panic!("{e:#?}"),
    }
}

fn seg(speaker: Speaker, start_ms: u64, text: &str) -> Segment {
    Segment {
        speaker,
        start_ms,
        text: text.into(),
    }
}

/// (script, red flag, what the patient says, severity)
const CASES: &[(&str, &str, &str, Severity)] = &[
    (
        "chest-pain",
        "cp-transcript-chest-pain",
        "昨天晚上胸口疼了半个小时",
        Severity::Urgent,
    ),
    (
        "stroke",
        "stroke-transcript-signs",
        "My husband has slurred speech since lunch",
        Severity::Urgent,
    ),
    (
        "phq",
        "phq-transcript-self-harm",
        "有时候觉得活着没意思",
        Severity::Urgent,
    ),
    (
        "heart-failure",
        "hf-transcript-breathless",
        "晚上经常憋醒",
        Severity::Urgent,
    ),
];

#[test]
fn patient_phrases_fire_and_nurse_phrases_do_not() {
    let c = catalog();
    for (script, flag, said, severity) in CASES {
        let s = c.get(script).expect("script");
        let rf = s
            .red_flags
            .iter()
            .find(|r| r.id.as_str() == *flag)
            .expect("red flag");
        let nurse_says = format!("如果有{}，请马上打120。", rf.phrases[0]);
        let transcript = vec![
            seg(Speaker::Agent, 1_000, &nurse_says),
            seg(Speaker::Patient, 65_000, said),
            seg(Speaker::Patient, 70_000, "谢谢"),
        ];
        let found = scan_transcript(s, &transcript);
        let f = found
            .iter()
            .find(|t| t.finding.rule.as_str() == *flag)
            .unwrap_or_else(|| panic!("{script}/{flag} did not fire on «{said}»"));
        assert_eq!(f.finding.severity, *severity);
        assert_eq!(
            f.finding.evidence.excerpts.len(),
            1,
            "only the patient's line is quoted"
        );
        assert!(f.finding.evidence.excerpts[0].starts_with("01:05 «"));
        if *script == "phq" {
            assert_eq!(f.finding.route, Route::Role("psychiatry_liaison".into()));
        }
        let quiet = vec![
            seg(Speaker::Agent, 0, &nurse_says),
            seg(Speaker::Patient, 5_000, "都挺好的，按时吃药"),
        ];
        assert!(
            scan_transcript(s, &quiet)
                .iter()
                .all(|t| t.finding.rule.as_str() != *flag),
            "{script}/{flag} fired on the nurse's words"
        );
    }
}

#[test]
fn every_shipped_red_flag_has_a_case() {
    let tested: BTreeSet<&str> = CASES.iter().map(|c| c.1).collect();
    let missing: Vec<String> = catalog()
        .iter()
        .flat_map(|s| s.red_flags.iter().map(|r| r.id.to_string()))
        .filter(|id| !tested.contains(id.as_str()))
        .collect();
    assert!(missing.is_empty(), "red flags without a case: {missing:?}");
}
