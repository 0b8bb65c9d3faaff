//! Every path of the robot conversation, driven event by event with a hand-moved clock.

use super::*;
use crate::followup::script::{load_str, Bilingual, OptionId, Severity};

fn script() -> Script {
    load_str(
        std::path::Path::new("robot-test.toml"),
        r#"
        code = "robot-test"
        version = 1
        title = { zh = "测", en = "Test" }
        [[questions]]
        id = "weight"
        text = { zh = "体重", en = "Weight" }
        type = "number"
        unit = "kg"
        min = 20
        max = 300
        decimals = 1
        [[questions]]
        id = "breathless"
        text = { zh = "气短", en = "Breathless" }
        type = "yes_no"
        [[questions]]
        id = "at_rest"
        text = { zh = "休息时", en = "At rest" }
        type = "yes_no"
        show_if = "breathless"
        [[questions]]
        id = "bp"
        text = { zh = "血压", en = "Blood pressure" }
        type = "blood_pressure"
        [[questions]]
        id = "pain"
        text = { zh = "疼痛", en = "Pain" }
        type = "scale"
        max = 10
        [[questions]]
        id = "mood"
        text = { zh = "心情", en = "Mood" }
        type = "choice"
        options = [
          { id = "good", zh = "好", en = "good" },
          { id = "bad", zh = "差", en = "bad" },
        ]
        [[questions]]
        id = "notes"
        text = { zh = "其他", en = "Notes" }
        type = "text"
        max_chars = 100
        [[rules]]
        id = "rest"
        when = "at_rest"
        severity = "urgent"
        ack_sla_minutes = 15
        advice = { zh = "请拨打120。", en = "Call 120 now." }
        "#,
    )
    .expect("test script")
}

/// Drives a dialog: a clock moved by hand, every action kept.
struct Call<'s> {
    dialog: Dialog<'s>,
    now: u64,
    log: Vec<Action>,
}

impl<'s> Call<'s> {
    fn new(script: &'s Script) -> Call<'s> {
        Call {
            dialog: Dialog::new(script, DialogSettings::default()),
            now: 0,
            log: Vec::new(),
        }
    }

    fn ev(&mut self, e: Event) -> Vec<Action> {
        let out = self.dialog.handle(e, self.now);
        self.log.extend(out.clone());
        out
    }

    fn after(&mut self, ms: u64) -> &mut Self {
        self.now += ms;
        self
    }

    /// The playlist playing now (the last Play not yet finished).
    fn last_play(&self) -> (PlayId, Vec<Prompt>, bool) {
        self.log
            .iter()
            .rev()
            .find_map(|a| match a {
                Action::Play {
                    id,
                    prompts,
                    barge_in,
                } => Some((*id, prompts.clone(), *barge_in)),
                _ => None,
            })
            .expect("something was played")
    }

    /// The current playlist plays to its end.
    fn finish_prompt(&mut self) -> Vec<Action> {
        let (id, _, _) = self.last_play();
        self.after(1500);
        self.ev(Event::PromptDone(id))
    }

    fn keys(&mut self, keys: &str) -> Vec<Action> {
        let mut out = Vec::new();
        for k in keys.chars() {
            self.after(300);
            out.extend(self.ev(Event::Key(k)));
        }
        out
    }

    /// Answered, notice played, consent prompt played, 1 pressed.
    fn consented(script: &'s Script) -> Call<'s> {
        let mut c = Call::new(script);
        c.ev(Event::Answered);
        c.finish_prompt();
        c.finish_prompt();
        c.keys("1");
        c
    }

    fn asking(&self) -> Vec<Prompt> {
        self.last_play().1
    }

    fn saves(&self) -> Vec<(String, AnswerValue)> {
        self.log
            .iter()
            .filter_map(|a| match a {
                Action::Save { question, value } => Some((question.0.clone(), value.clone())),
                _ => None,
            })
            .collect()
    }

    fn logs(&self) -> Vec<QuestionLog> {
        self.log
            .iter()
            .filter_map(|a| match a {
                Action::Log(l) => Some(l.clone()),
                _ => None,
            })
            .collect()
    }

    fn end(&self) -> Option<(Outcome, bool)> {
        self.log.iter().find_map(|a| match a {
            Action::End { outcome, hang_up } => Some((outcome.clone(), *hang_up)),
            _ => None,
        })
    }

    fn saved_fine(&mut self) -> Vec<Action> {
        self.ev(Event::Saved { finding: None })
    }
}

fn question(id: &str) -> Prompt {
    Prompt::Question {
        question: QuestionId(id.into()),
    }
}

#[test]
fn a_whole_call_by_keypad() {
    let s = script();
    let mut c = Call::new(&s);
    let first = c.ev(Event::Answered);
    assert!(
        matches!(&first[..], [Action::Play { prompts, barge_in: false, .. }]
        if prompts == &vec![Prompt::RecordingNotice])
    );
    c.finish_prompt();
    assert_eq!(c.asking(), vec![Prompt::Consent]);
    assert!(c.last_play().2, "the consent question may be interrupted");
    c.finish_prompt();
    c.keys("1");
    assert_eq!(c.asking(), vec![question("weight")]);
    c.finish_prompt();
    c.keys("72*5#");
    assert_eq!(
        c.asking(),
        vec![Prompt::ReadBack {
            question: QuestionId("weight".into()),
            value: AnswerValue::Number(72.5)
        }]
    );
    c.keys("1");
    c.saved_fine();
    assert_eq!(c.asking(), vec![question("breathless")]);
    c.keys("2");
    c.saved_fine();
    // at_rest is shown only when breathless: skipped
    assert_eq!(c.asking(), vec![question("bp")]);
    c.keys("145#90#1");
    c.saved_fine();
    assert_eq!(c.asking(), vec![question("pain")]);
    c.keys("10");
    c.saved_fine();
    c.keys("2");
    c.saved_fine();
    assert_eq!(c.asking(), vec![Prompt::Goodbye]);
    assert_eq!(c.end(), None, "the goodbye is heard before hanging up");
    c.finish_prompt();
    assert_eq!(c.end(), Some((Outcome::Completed, true)));
    assert!(c.dialog.ended());
    assert_eq!(
        c.saves(),
        vec![
            ("weight".into(), AnswerValue::Number(72.5)),
            ("breathless".into(), AnswerValue::YesNo(false)),
            (
                "bp".into(),
                AnswerValue::BloodPressure {
                    systolic: 145,
                    diastolic: 90
                }
            ),
            ("pain".into(), AnswerValue::Scale(10)),
            ("mood".into(), AnswerValue::Choice(OptionId("bad".into()))),
        ]
    );
    let logs = c.logs();
    let names: Vec<&str> = logs.iter().map(|l| l.question.as_str()).collect();
    assert_eq!(
        names,
        [
            "consent",
            "weight",
            "breathless",
            "bp",
            "pain",
            "mood",
            "notes"
        ]
    );
    let weight = &logs[1];
    assert_eq!(weight.keys, "72*5#1", "typed keys and the confirmation");
    assert_eq!(weight.status, QuestionStatus::Answered);
    assert_eq!(weight.attempts, 1);
    assert!(weight.answer_at_ms.expect("answered") > weight.prompt_at_ms);
    assert_eq!(
        logs[6].status,
        QuestionStatus::Skipped,
        "free text is a nurse's"
    );
}

#[test]
fn a_key_interrupts_a_question_but_not_the_recording_notice() {
    let s = script();
    let mut c = Call::new(&s);
    c.ev(Event::Answered);
    let ignored = c.keys("1");
    assert!(ignored.is_empty(), "keys during the notice are ignored");
    assert_eq!(c.dialog.ignored_keys, 1);
    c.finish_prompt();
    // consent still playing: 1 interrupts it
    let out = c.keys("1");
    assert_eq!(out[0], Action::StopPlaying);
    assert_eq!(c.asking(), vec![question("weight")]);
    // the weight question is playing: typing starts at once
    let out = c.keys("7");
    assert_eq!(out[0], Action::StopPlaying);
    assert!(matches!(out[1], Action::WakeAt(_)));
    // a stale "finished" of the interrupted prompt changes nothing
    let (id, _, _) = c.last_play();
    assert!(c.ev(Event::PromptDone(id - 1)).is_empty());
}

#[test]
fn a_wrong_key_is_asked_once_more_then_left_unconfirmed() {
    let s = script();
    let mut c = Call::consented(&s);
    c.keys("1#"); // weight: not a number? "1#" is 1 kg: out of range 20..=300
    assert_eq!(
        c.asking(),
        vec![Prompt::NotUnderstood, question("weight")],
        "asked again after sorry"
    );
    c.keys("#");
    assert_eq!(c.asking(), vec![question("breathless")], "moved on");
    let weight = &c.logs()[1];
    assert_eq!(weight.status, QuestionStatus::Unconfirmed);
    assert_eq!(weight.attempts, 2);
    assert_eq!(weight.keys, "1##");
    assert!(c.saves().is_empty(), "nothing saved for it");
    // the rest answered: the call ends incomplete
    c.keys("2");
    c.saved_fine();
    c.keys("120#80#1");
    c.saved_fine();
    c.keys("0");
    // 0 on a scale is a value, not the nurse
    c.saved_fine();
    c.keys("1");
    c.saved_fine();
    c.finish_prompt();
    assert_eq!(
        c.end(),
        Some((
            Outcome::Incomplete {
                unconfirmed: vec![QuestionId("weight".into())]
            },
            true
        ))
    );
}

#[test]
fn silence_times_out_twice_then_the_question_is_unconfirmed() {
    let s = script();
    let mut c = Call::consented(&s);
    let out = c.finish_prompt();
    let Some(Action::WakeAt(at)) = out.last().cloned() else {
        panic!("a first-key timer after the prompt: {out:?}");
    };
    assert_eq!(at, c.now + DialogSettings::default().first_key_ms);
    // a timer that fires early (stale) does nothing
    assert!(c.ev(Event::Timer).is_empty());
    c.now = at;
    c.ev(Event::Timer);
    assert_eq!(c.asking(), vec![Prompt::NotUnderstood, question("weight")]);
    c.finish_prompt();
    c.after(DialogSettings::default().first_key_ms);
    c.ev(Event::Timer);
    assert_eq!(c.asking(), vec![question("breathless")]);
    assert_eq!(c.logs()[1].status, QuestionStatus::Unconfirmed);
}

#[test]
fn a_half_typed_number_times_out_and_a_lone_one_on_a_scale_means_one() {
    let s = script();
    let mut c = Call::consented(&s);
    c.keys("72");
    c.after(DialogSettings::default().inter_key_ms);
    c.ev(Event::Timer);
    assert_eq!(c.asking(), vec![Prompt::NotUnderstood, question("weight")]);
    c.keys("70#1");
    c.saved_fine();
    c.keys("2");
    c.saved_fine();
    c.keys("120#80#1");
    c.saved_fine();
    c.keys("1");
    c.after(DialogSettings::default().inter_key_ms);
    c.ev(Event::Timer);
    assert_eq!(c.saves()[3], ("pain".into(), AnswerValue::Scale(1)));
}

#[test]
fn a_number_read_back_as_wrong_is_entered_again() {
    let s = script();
    let mut c = Call::consented(&s);
    c.keys("27#");
    c.keys("2");
    assert_eq!(c.asking(), vec![Prompt::NotUnderstood, question("weight")]);
    c.keys("72#1");
    assert_eq!(
        c.saves(),
        vec![("weight".into(), AnswerValue::Number(72.0))]
    );
    let weight = &c.logs()[1];
    assert_eq!((weight.attempts, weight.keys.as_str()), (2, "27#272#1"));
    // wrong twice: unconfirmed
    let mut c = Call::consented(&s);
    c.keys("27#2");
    c.keys("28#2");
    assert_eq!(c.asking(), vec![question("breathless")]);
    assert!(c.saves().is_empty());
}

#[test]
fn consent_two_stops_and_no_consent_key_stops_too() {
    let s = script();
    let mut c = Call::new(&s);
    c.ev(Event::Answered);
    c.finish_prompt();
    c.keys("2");
    assert_eq!(c.asking(), vec![Prompt::Declined]);
    c.finish_prompt();
    assert_eq!(c.end(), Some((Outcome::Declined, true)));
    assert!(c.saves().is_empty());

    let mut c = Call::new(&s);
    c.ev(Event::Answered);
    c.finish_prompt();
    c.keys("5");
    c.keys("9");
    c.finish_prompt();
    assert_eq!(c.end(), Some((Outcome::NoConsent, true)));
}

#[test]
fn zero_asks_for_a_nurse_and_nobody_free_means_a_call_back() {
    let s = script();
    let mut c = Call::new(&s);
    c.ev(Event::Answered);
    c.finish_prompt();
    let out = c.keys("0");
    assert!(out.contains(&Action::OfferToNurse(HandoffReason::PatientAsked)));
    assert_eq!(c.asking(), vec![Prompt::ConnectingNurse]);
    assert!(!c.last_play().2, "not interrupted by keys");
    c.finish_prompt();
    c.ev(Event::NoNurse);
    assert_eq!(c.asking(), vec![Prompt::NurseWillCallBack]);
    c.finish_prompt();
    assert_eq!(
        c.end(),
        Some((
            Outcome::CallBack {
                reason: HandoffReason::PatientAsked
            },
            true
        ))
    );
    assert_eq!(c.logs()[0].status, QuestionStatus::NurseRequested);
}

#[test]
fn an_urgent_finding_hands_off_and_without_a_nurse_the_advice_is_played() {
    let s = script();
    let mut c = Call::consented(&s);
    c.keys("72#1");
    c.saved_fine();
    c.keys("1"); // breathless
    c.saved_fine();
    assert_eq!(c.asking(), vec![question("at_rest")], "shown now");
    c.keys("1");
    let finding = FindingBrief {
        rule: "rest".into(),
        severity: Severity::Urgent,
        advice: Some(Bilingual {
            zh: "请拨打120。".into(),
            en: "Call 120 now.".into(),
        }),
    };
    let out = c.ev(Event::Saved {
        finding: Some(finding.clone()),
    });
    let reason = HandoffReason::Finding {
        question: QuestionId("at_rest".into()),
        finding: finding.clone(),
    };
    assert!(
        out.contains(&Action::OfferToNurse(reason.clone())),
        "{out:?}"
    );
    // keys while waiting for a nurse change nothing
    assert!(c.keys("1").is_empty());
    c.ev(Event::NoNurse);
    assert_eq!(
        c.asking(),
        vec![
            Prompt::Advice {
                text: finding.advice.clone().expect("advice")
            },
            Prompt::NurseWillCallBack
        ]
    );
    c.finish_prompt();
    assert_eq!(c.end(), Some((Outcome::CallBack { reason }, true)));
}

#[test]
fn a_routine_finding_does_not_hand_off_and_a_nurse_can_take_the_call() {
    let s = script();
    let mut c = Call::consented(&s);
    c.keys("72#1");
    let routine = FindingBrief {
        rule: "r".into(),
        severity: Severity::Routine,
        advice: None,
    };
    c.ev(Event::Saved {
        finding: Some(routine),
    });
    assert_eq!(c.asking(), vec![question("breathless")]);
    c.keys("0");
    let out = c.ev(Event::NurseTook);
    assert_eq!(out[0], Action::StopPlaying);
    assert_eq!(
        c.end(),
        Some((
            Outcome::HandedOff {
                reason: HandoffReason::PatientAsked
            },
            false
        ))
    );
}

#[test]
fn hanging_up_mid_question_ends_with_the_question_open() {
    let s = script();
    let mut c = Call::consented(&s);
    c.keys("7");
    let out = c.ev(Event::HungUp);
    assert_eq!(
        out.last(),
        Some(&Action::End {
            outcome: Outcome::HungUp {
                during: Some(QuestionId("weight".into()))
            },
            hang_up: false
        })
    );
    assert_eq!(c.logs()[1].status, QuestionStatus::HungUp);
    assert!(c.ev(Event::Key('1')).is_empty(), "nothing after the end");
    // hanging up during the goodbye keeps the call's outcome
    let mut c = Call::consented(&s);
    c.keys("72#1");
    c.saved_fine();
    c.keys("2");
    c.saved_fine();
    c.keys("120#80#1");
    c.saved_fine();
    c.keys("3");
    c.saved_fine();
    c.keys("1");
    c.saved_fine();
    c.ev(Event::HungUp);
    assert_eq!(c.end(), Some((Outcome::Completed, false)));
}

#[test]
fn an_answer_that_cannot_be_stored_is_not_counted() {
    let s = script();
    let mut c = Call::consented(&s);
    c.keys("72#1");
    c.ev(Event::SaveFailed {
        error: "disk".into(),
    });
    assert_eq!(c.asking(), vec![question("breathless")]);
    assert!(!c
        .dialog
        .answers()
        .contains_key(&QuestionId("weight".into())));
}
