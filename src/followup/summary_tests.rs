//! The summary templates and the evidence checker, on a fixture call (heart failure: weight up,
//! blood pressure high, breathless; a red flag in the transcript; a high potassium; a note).

use super::*;

fn fixture() -> SummaryInput {
    let answer = |id, zh: &str, en: &str, value: &str| AnswerFact {
        id,
        question_zh: zh.into(),
        question_en: en.into(),
        value: value.into(),
    };
    SummaryInput {
        answers: vec![
            answer(11, "今天早上的体重", "Weight this morning", "72.5 kg"),
            answer(12, "血压", "Blood pressure", "152/95 mmHg"),
            answer(13, "气短加重了吗", "More breathless than before", "yes"),
        ],
        findings: vec![FindingFact {
            id: 7,
            rule_id: "hf-breathless-worse".into(),
            severity: Severity::Urgent,
            answer_ids: vec![13],
            advice_zh: Some("今天请到心内科门诊就诊。".into()),
            advice_en: Some("Please come to the cardiology clinic today.".into()),
        }],
        transcript: vec![TranscriptFact {
            segment_id: 31,
            start_ms: 65_400,
            text: "晚上躺下就喘不过气".into(),
            finding_id: 7,
        }],
        labs: vec![LabFact {
            id: 41,
            lab: "potassium".into(),
            value: "5.9 mmol/L H".into(),
        }],
        notes: vec![NoteFact {
            id: 51,
            body: "已通知主治医生。".into(),
        }],
        next: Some(NextContact {
            task_id: 61,
            step_zh: "第7天护士随访".into(),
            step_en: "Day 7 nurse call".into(),
            due: NaiveDate::from_ymd_opt(2026, 12, 14).unwrap(),
        }),
    }
}

fn everything(sentences: &[Sentence]) -> KnownEvidence {
    KnownEvidence(
        sentences
            .iter()
            .flat_map(|s| s.evidence.iter().copied())
            .collect(),
    )
}

#[test]
fn each_part_of_the_record_makes_a_sentence_in_both_languages() {
    let s = compose(&fixture());
    let en: Vec<&str> = s.iter().map(|s| s.en.as_str()).collect();
    assert_eq!(
        en,
        [
            "Asked \"Weight this morning\": 72.5 kg.",
            "Asked \"Blood pressure\": 152/95 mmHg.",
            "Asked \"More breathless than before\": yes.",
            "Abnormal: rule hf-breathless-worse raised an escalation (urgent).",
            "At 1:05 in the recording the patient said: \"晚上躺下就喘不过气\".",
            "The patient was advised: Please come to the cardiology clinic today.",
            "Abnormal lab potassium: 5.9 mmol/L H.",
            "Nurse's note: 已通知主治医生。",
            "Next contact: Day 7 nurse call on 2026-12-14.",
        ]
    );
    assert_eq!(s[4].zh, "患者在录音 1:05 处说：“晚上躺下就喘不过气”。");
    assert_eq!(
        s[4].evidence[0],
        Evidence::Transcript {
            id: 31,
            offset_ms: 65_400
        }
    );
    assert_eq!(
        s[3].evidence,
        [Evidence::Finding { id: 7 }, Evidence::Answer { id: 13 }]
    );
    assert!(s.iter().all(|x| !x.zh.is_empty() && !x.evidence.is_empty()));
    // deterministic: the same record gives the same summary
    assert_eq!(compose(&fixture()), s);
}

#[test]
fn a_summary_whose_evidence_all_exists_passes() {
    let s = compose(&fixture());
    assert_eq!(check(&s, &everything(&s)), Ok(()));
}

#[test]
fn removing_any_piece_of_evidence_makes_the_checker_refuse() {
    let s = compose(&fixture());
    let all = everything(&s);
    // three answers, the finding, the segment, the lab, the note, the next task
    assert_eq!(all.0.len(), 8, "{all:?}");
    for gone in all.0.iter() {
        let mut known = all.clone();
        known.0.remove(gone);
        match check(&s, &known) {
            Err(SummaryError::Missing { evidence, .. }) => assert_eq!(evidence, *gone),
            other => panic!("without {gone:?}: {other:?}"),
        }
    }
}

#[test]
fn a_sentence_without_evidence_or_a_moved_offset_is_refused() {
    let mut s = compose(&fixture());
    let known = everything(&s);
    s[2].evidence.clear();
    assert!(matches!(
        check(&s, &known),
        Err(SummaryError::NoEvidence { index: 2, .. })
    ));
    let mut s = compose(&fixture());
    s[4].evidence[0] = Evidence::Transcript {
        id: 31,
        offset_ms: 1_000,
    };
    assert!(matches!(
        check(&s, &known),
        Err(SummaryError::Missing { index: 4, .. })
    ));
    assert_eq!(check(&[], &known), Err(SummaryError::Empty));
}

#[test]
fn evidence_serialises_with_its_kind() {
    let e = Evidence::Transcript {
        id: 31,
        offset_ms: 65_400,
    };
    assert_eq!(
        serde_json::to_value(e).unwrap(),
        serde_json::json!({"kind": "transcript", "id": 31, "offset_ms": 65400})
    );
}
