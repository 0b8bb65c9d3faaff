//! One robot call's conversation as a sans-IO state machine (str0m's shape): the shell feeds
//! [`Event`]s with the call's clock (milliseconds since the patient answered, which is also the
//! offset into the recording) and carries out the [`Action`]s it gets back. Nothing here plays
//! audio, reads a socket or a clock.
//!
//! The conversation: the recording notice (not interruptible), the consent question (1
//! continue, 2 stop, 0 nurse), then each script question the keypad can answer, in order and
//! with the script's skip logic. Keys interrupt a prompt (barge-in). A wrong or missing answer
//! is asked once more, then marked unconfirmed and the call moves on. Typed numbers are read
//! back for confirmation. Every saved answer goes through the rules (the shell saves it and
//! reports the worst finding); a finding at or above the hand-off severity, or 0, hands the
//! call to a nurse, and when none is free the rule's advice is played and a nurse will call back.

use std::collections::BTreeMap;

pub use super::dialog_io::{
    Action, DialogSettings, Event, FindingBrief, HandoffReason, Outcome, PlayId, QuestionLog,
    QuestionStatus,
};
use super::keys::{KeyAnswer, KeyEntry, KeyRule, KeyStep};
use super::prompt::Prompt;
use crate::followup::rules::{visible_questions, Answers};
use crate::followup::script::{validate_answer, AnswerValue, QuestionId, QuestionKind, Script};

/// What the conversation waits for.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    Consent,
    Question(usize),
    /// A typed number read back: 1 keeps it, 2 asks the question again.
    Confirm {
        index: usize,
        value: AnswerValue,
        question_attempt: u8,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Stage {
    NotAnswered,
    Notice,
    Collect {
        target: Target,
        attempt: u8,
        entry: KeyEntry,
    },
    Saving(usize),
    HandingOff(HandoffReason),
    Closing(Outcome),
    Ended,
}

/// A robot call's conversation over one script.
pub struct Dialog<'s> {
    script: &'s Script,
    settings: DialogSettings,
    stage: Stage,
    /// The playlist playing, and whether a key may interrupt it.
    playing: Option<(PlayId, bool)>,
    next_play: PlayId,
    deadline: Option<u64>,
    answers: Answers,
    unconfirmed: Vec<QuestionId>,
    /// The log line of the question being asked.
    open: Option<QuestionLog>,
    /// Questions closed (answered, unconfirmed, skipped), by index.
    closed: BTreeMap<usize, QuestionStatus>,
    /// Keys pressed while a prompt that may not be interrupted played (ignored, counted).
    pub ignored_keys: u32,
}

const CONSENT: &str = "consent";

impl<'s> Dialog<'s> {
    /// A conversation over `script`, not started yet.
    pub fn new(script: &'s Script, settings: DialogSettings) -> Dialog<'s> {
        Dialog {
            script,
            settings,
            stage: Stage::NotAnswered,
            playing: None,
            next_play: 0,
            deadline: None,
            answers: Answers::new(),
            unconfirmed: Vec::new(),
            open: None,
            closed: BTreeMap::new(),
            ignored_keys: 0,
        }
    }

    /// The answers taken so far.
    pub fn answers(&self) -> &Answers {
        &self.answers
    }

    /// Whether the conversation is over.
    pub fn ended(&self) -> bool {
        self.stage == Stage::Ended
    }

    /// Feeds one event at `now` (ms since the answer); returns what to do, in order.
    pub fn handle(&mut self, event: Event, now: u64) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Answered if self.stage == Stage::NotAnswered => {
                self.stage = Stage::Notice;
                self.play(vec![Prompt::RecordingNotice], false, &mut out);
            }
            Event::Answered => {}
            Event::PromptDone(id) => {
                if self.playing.map(|(p, _)| p) != Some(id) {
                    return out; // a playlist already replaced or stopped
                }
                self.playing = None;
                self.prompt_done(now, &mut out);
            }
            Event::Key(key) => self.key(key, now, &mut out),
            Event::Timer => {
                if self.deadline.is_some_and(|d| d <= now) {
                    self.deadline = None;
                    self.timer(now, &mut out);
                }
            }
            Event::HungUp => {
                if self.stage != Stage::Ended {
                    let during = self.open.as_ref().map(|l| QuestionId(l.question.clone()));
                    self.close_open(QuestionStatus::HungUp, None, now, &mut out);
                    let outcome = match std::mem::replace(&mut self.stage, Stage::Ended) {
                        // the goodbye or the advice was playing: the outcome stands
                        Stage::Closing(outcome) => outcome,
                        _ => Outcome::HungUp { during },
                    };
                    out.push(Action::End {
                        outcome,
                        hang_up: false,
                    });
                }
            }
            Event::Saved { finding } => {
                if let Stage::Saving(index) = self.stage {
                    let question = self.script.questions[index].id.clone();
                    match finding.filter(|f| f.severity >= self.settings.handoff_at) {
                        Some(finding) => {
                            self.hand_off(HandoffReason::Finding { question, finding }, &mut out)
                        }
                        None => self.next_question(index + 1, now, &mut out),
                    }
                }
            }
            Event::SaveFailed { .. } => {
                if let Stage::Saving(index) = self.stage {
                    let q = self.script.questions[index].id.clone();
                    self.answers.remove(&q);
                    self.unconfirmed.push(q);
                    self.closed.insert(index, QuestionStatus::NotSaved);
                    self.next_question(index + 1, now, &mut out);
                }
            }
            Event::NurseTook => {
                if let Stage::HandingOff(reason) = &self.stage {
                    let outcome = Outcome::HandedOff {
                        reason: reason.clone(),
                    };
                    self.stage = Stage::Ended;
                    self.deadline = None;
                    out.push(Action::StopPlaying);
                    out.push(Action::End {
                        outcome,
                        hang_up: false,
                    });
                }
            }
            Event::NoNurse => {
                if let Stage::HandingOff(reason) = &self.stage {
                    let mut prompts = Vec::new();
                    if let HandoffReason::Finding { finding, .. } = reason {
                        prompts.extend(finding.advice.clone().map(|text| Prompt::Advice { text }));
                    }
                    prompts.push(Prompt::NurseWillCallBack);
                    self.stage = Stage::Closing(Outcome::CallBack {
                        reason: reason.clone(),
                    });
                    self.play(prompts, false, &mut out);
                }
            }
        }
        out
    }

    fn play(&mut self, prompts: Vec<Prompt>, barge_in: bool, out: &mut Vec<Action>) {
        self.next_play += 1;
        let id = self.next_play;
        self.playing = Some((id, barge_in));
        self.deadline = None;
        out.push(Action::Play {
            id,
            prompts,
            barge_in,
        });
    }

    fn wake(&mut self, at: u64, out: &mut Vec<Action>) {
        self.deadline = Some(at);
        out.push(Action::WakeAt(at));
    }

    fn prompt_done(&mut self, now: u64, out: &mut Vec<Action>) {
        match &self.stage {
            Stage::Notice => self.ask(Target::Consent, 1, now, out),
            Stage::Collect { entry, .. } => {
                let wait = if entry.is_empty() {
                    self.settings.first_key_ms
                } else {
                    self.settings.inter_key_ms
                };
                self.wake(now + wait, out);
            }
            Stage::Closing(outcome) => {
                let outcome = outcome.clone();
                self.stage = Stage::Ended;
                out.push(Action::End {
                    outcome,
                    hang_up: true,
                });
            }
            // "connecting you to a nurse" ended: keep the line quiet while she is sought
            Stage::HandingOff(_) | Stage::NotAnswered | Stage::Saving(_) | Stage::Ended => {}
        }
    }

    fn key(&mut self, key: char, now: u64, out: &mut Vec<Action>) {
        let Stage::Collect { entry, .. } = &mut self.stage else {
            self.ignored_keys += 1;
            return;
        };
        if let Some((_, barge_in)) = self.playing {
            if !barge_in {
                self.ignored_keys += 1;
                return;
            }
            self.playing = None;
            out.push(Action::StopPlaying);
        }
        if let Some(log) = &mut self.open {
            log.keys.push(key);
        }
        match entry.press(key) {
            KeyStep::More => {
                let at = now + self.settings.inter_key_ms;
                self.wake(at, out);
            }
            KeyStep::Done(answer) => {
                self.deadline = None;
                self.answered(answer, now, out);
            }
            KeyStep::Invalid(_) => {
                self.deadline = None;
                self.retry(now, out);
            }
        }
    }

    fn timer(&mut self, now: u64, out: &mut Vec<Action>) {
        let Stage::Collect { entry, .. } = &mut self.stage else {
            return;
        };
        if entry.is_empty() {
            return self.retry(now, out);
        }
        match entry.timeout() {
            KeyStep::Done(answer) => self.answered(answer, now, out),
            KeyStep::More | KeyStep::Invalid(_) => self.retry(now, out),
        }
    }

    /// Asks `target` (attempt 1, or 2 after "sorry").
    fn ask(&mut self, target: Target, attempt: u8, now: u64, out: &mut Vec<Action>) {
        let (rule, prompt) = match &target {
            Target::Consent => (KeyRule::Consent, Prompt::Consent),
            Target::Question(i) => {
                let q = &self.script.questions[*i];
                (
                    key_rule(&q.kind),
                    Prompt::Question {
                        question: q.id.clone(),
                    },
                )
            }
            Target::Confirm { index, value, .. } => (
                KeyRule::Confirm,
                Prompt::ReadBack {
                    question: self.script.questions[*index].id.clone(),
                    value: value.clone(),
                },
            ),
        };
        let name = match &target {
            Target::Consent => CONSENT.to_owned(),
            Target::Question(i) | Target::Confirm { index: i, .. } => {
                self.script.questions[*i].id.0.clone()
            }
        };
        if self.open.as_ref().map(|l| &l.question) != Some(&name) {
            self.open = Some(QuestionLog {
                question: name,
                prompt_at_ms: now,
                answer_at_ms: None,
                keys: String::new(),
                value: None,
                attempts: 0,
                status: QuestionStatus::Unconfirmed,
            });
        }
        if let (Some(log), false) = (&mut self.open, matches!(target, Target::Confirm { .. })) {
            log.attempts = log.attempts.max(attempt);
        }
        let mut prompts = Vec::new();
        if attempt > 1 {
            prompts.push(Prompt::NotUnderstood);
        }
        prompts.push(prompt);
        self.stage = Stage::Collect {
            target,
            attempt,
            entry: KeyEntry::new(rule),
        };
        self.play(prompts, true, out);
    }

    /// A wrong, incomplete or missing answer: ask once more, then give up on the question.
    fn retry(&mut self, now: u64, out: &mut Vec<Action>) {
        let Stage::Collect {
            target, attempt, ..
        } = self.stage.clone()
        else {
            return;
        };
        match target {
            Target::Confirm {
                index,
                question_attempt,
                ..
            } if question_attempt < 2 => {
                self.ask(Target::Question(index), question_attempt + 1, now, out)
            }
            Target::Confirm { index, .. } => self.give_up(index, now, out),
            target if attempt < 2 => self.ask(target, attempt + 1, now, out),
            Target::Consent => {
                self.close_open(QuestionStatus::Unconfirmed, None, now, out);
                self.closing(Outcome::NoConsent, Prompt::Declined, out);
            }
            Target::Question(index) => self.give_up(index, now, out),
        }
    }

    fn give_up(&mut self, index: usize, now: u64, out: &mut Vec<Action>) {
        self.unconfirmed
            .push(self.script.questions[index].id.clone());
        self.closed.insert(index, QuestionStatus::Unconfirmed);
        self.close_open(QuestionStatus::Unconfirmed, None, now, out);
        self.next_question(index + 1, now, out);
    }

    fn answered(&mut self, answer: KeyAnswer, now: u64, out: &mut Vec<Action>) {
        let Stage::Collect {
            target, attempt, ..
        } = self.stage.clone()
        else {
            return;
        };
        if answer == KeyAnswer::Nurse {
            self.close_open(QuestionStatus::NurseRequested, None, now, out);
            return self.hand_off(HandoffReason::PatientAsked, out);
        }
        match target {
            Target::Consent => match answer {
                KeyAnswer::YesNo(true) => {
                    self.close_open(QuestionStatus::Answered, None, now, out);
                    self.next_question(0, now, out);
                }
                _ => {
                    self.close_open(QuestionStatus::Answered, None, now, out);
                    self.closing(Outcome::Declined, Prompt::Declined, out);
                }
            },
            Target::Question(index) => {
                let q = &self.script.questions[index];
                let Some(value) = to_value(self.script, index, answer) else {
                    // out of the question's range: as if mistyped
                    return self.retry(now, out);
                };
                if matches!(
                    q.kind,
                    QuestionKind::Number { .. } | QuestionKind::BloodPressure
                ) {
                    let confirm = Target::Confirm {
                        index,
                        value,
                        question_attempt: attempt,
                    };
                    self.ask(confirm, 1, now, out);
                } else {
                    self.save(index, value, now, out);
                }
            }
            Target::Confirm {
                index,
                value,
                question_attempt,
            } => match answer {
                KeyAnswer::YesNo(true) => self.save(index, value, now, out),
                _ if question_attempt < 2 => {
                    self.ask(Target::Question(index), question_attempt + 1, now, out)
                }
                _ => self.give_up(index, now, out),
            },
        }
    }

    fn save(&mut self, index: usize, value: AnswerValue, now: u64, out: &mut Vec<Action>) {
        let question = self.script.questions[index].id.clone();
        self.answers.insert(question.clone(), value.clone());
        self.closed.insert(index, QuestionStatus::Answered);
        self.close_open(QuestionStatus::Answered, Some(value.clone()), now, out);
        self.stage = Stage::Saving(index);
        out.push(Action::Save { question, value });
    }

    fn hand_off(&mut self, reason: HandoffReason, out: &mut Vec<Action>) {
        self.stage = Stage::HandingOff(reason.clone());
        self.play(vec![Prompt::ConnectingNurse], false, out);
        out.push(Action::OfferToNurse(reason));
    }

    fn closing(&mut self, outcome: Outcome, prompt: Prompt, out: &mut Vec<Action>) {
        self.stage = Stage::Closing(outcome);
        self.play(vec![prompt], false, out);
    }

    /// Asks the first question from `from` on that is shown (skip logic) and answerable by
    /// keypad; free-text and date questions are logged as left to a nurse.
    fn next_question(&mut self, from: usize, now: u64, out: &mut Vec<Action>) {
        let visible = visible_questions(self.script, &self.answers);
        for index in from..self.script.questions.len() {
            let q = &self.script.questions[index];
            if !visible.contains(&q.id) || self.closed.contains_key(&index) {
                continue;
            }
            if matches!(q.kind, QuestionKind::Text { .. } | QuestionKind::Date) {
                self.closed.insert(index, QuestionStatus::Skipped);
                out.push(Action::Log(QuestionLog {
                    question: q.id.0.clone(),
                    prompt_at_ms: now,
                    answer_at_ms: None,
                    keys: String::new(),
                    value: None,
                    attempts: 0,
                    status: QuestionStatus::Skipped,
                }));
                continue;
            }
            return self.ask(Target::Question(index), 1, now, out);
        }
        let outcome = if self.unconfirmed.is_empty() {
            Outcome::Completed
        } else {
            Outcome::Incomplete {
                unconfirmed: self.unconfirmed.clone(),
            }
        };
        self.closing(outcome, Prompt::Goodbye, out);
    }

    /// Ends the open question's log line with `status` and emits it.
    fn close_open(
        &mut self,
        status: QuestionStatus,
        value: Option<AnswerValue>,
        now: u64,
        out: &mut Vec<Action>,
    ) {
        if let Some(mut log) = self.open.take() {
            log.status = status;
            log.value = value;
            if matches!(
                status,
                QuestionStatus::Answered | QuestionStatus::NurseRequested
            ) {
                log.answer_at_ms = Some(now);
            }
            out.push(Action::Log(log));
        }
    }
}

/// The keypad rule of a question kind.
fn key_rule(kind: &QuestionKind) -> KeyRule {
    match kind {
        QuestionKind::YesNo => KeyRule::YesNo,
        QuestionKind::Number { decimals, .. } => KeyRule::Number {
            decimals: *decimals,
        },
        QuestionKind::BloodPressure => KeyRule::BloodPressure,
        QuestionKind::Choice { options } => KeyRule::Choice {
            count: options.len().min(9) as u8,
        },
        QuestionKind::Scale { max } => KeyRule::Scale { max: *max },
        // never asked by the robot (see `next_question`)
        QuestionKind::Text { .. } | QuestionKind::Date => KeyRule::Confirm,
    }
}

/// A keypad answer as the question's value, checked by the script's own validation (range,
/// decimals, options); `None` when it does not pass.
fn to_value(script: &Script, index: usize, answer: KeyAnswer) -> Option<AnswerValue> {
    let q = &script.questions[index];
    let json = match (answer, &q.kind) {
        (KeyAnswer::YesNo(b), QuestionKind::YesNo) => serde_json::json!(b),
        (KeyAnswer::Number(n), QuestionKind::Number { .. }) => serde_json::json!(n),
        (KeyAnswer::BloodPressure(s, d), QuestionKind::BloodPressure) => {
            serde_json::json!({ "systolic": s, "diastolic": d })
        }
        (KeyAnswer::Choice(pos), QuestionKind::Choice { options }) => {
            let option = options.get(usize::from(pos).checked_sub(1)?)?;
            serde_json::json!(option.id.0)
        }
        (KeyAnswer::Scale(v), QuestionKind::Scale { .. }) => serde_json::json!(v),
        _ => return None,
    };
    validate_answer(script, q.id.as_str(), json).ok()
}

#[cfg(test)]
#[path = "dialog_tests.rs"]
mod tests;
