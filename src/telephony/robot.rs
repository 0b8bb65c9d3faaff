//! The thin shell of one robot call (issue 24): it owns the call's audio ends and carries out
//! what the sans-IO [`Dialog`] asks. Paced by the SIP leg like the bridge: every 20 ms frame
//! the patient's side delivers, one frame of the current prompt (or silence) goes back, so the
//! call's clock is the count of frames since the answer — the same as the offset into the
//! recording, which is what the per-question log stores.
//!
//! The call center routes the call's engine events here ([`RobotInput`]) and takes requests
//! back ([`RobotRequest`]: hang up, find a nurse). Answers are saved through the answer
//! service (`service::answers::save_robot_answer`), so rules and escalations apply unchanged.
//! When the leg has ended, the outcome is written: the robot call's row, the task's
//! disposition under the same retry policy as a nurse's, or the task handed to the nurses.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::sync::mpsc;

use super::bridge::BridgeEnds;
use super::prompts::Pcm;
use super::robot_voice::RobotVoice;
use crate::calls::FRAME_SAMPLES;
use crate::followup::pathway::{Calendar, CallMode};
use crate::followup::retry::{Disposition, Locale};
use crate::followup::script::{QuestionId, Script, ScriptCatalog};
use crate::robot::after_call::{task_step, TaskStep, FAILED_ON_OUR_SIDE_RETRY_SECONDS};
use crate::robot::dialog::{Action, Dialog, Event, FindingBrief, Outcome, PlayId};
use crate::robot::{HandoffReason, Lang};
use crate::service::answers::{save_robot_answer, SaveAnswer};
use crate::service::ServiceError;
use crate::store::{robot as db, tasks, Store, StoreError};

/// What the call center tells a robot call.
pub enum RobotInput {
    /// The patient answered.
    Answered,
    /// A key (RFC 4733).
    Key(char),
    /// A free nurse's line takes the hand-off: the robot call becomes a bridge between the
    /// patient's leg and `media`, driven by `control` (the center holds its sender).
    NurseLine {
        /// The nurse's line.
        media: crate::webrtc::LineMedia,
        /// The bridge's control channel.
        control: mpsc::Receiver<super::bridge::BridgeControl>,
    },
    /// Nobody took it within `robot.handoff_wait_seconds`.
    NoNurse,
    /// The SIP leg ended; `unanswered` is the disposition of a call never answered (no
    /// answer, busy, wrong number).
    Ended {
        /// Set when the patient never answered.
        unanswered: Option<Disposition>,
    },
}

/// What a robot call asks of the call center.
#[derive(Debug, Clone, PartialEq)]
pub enum RobotRequest {
    /// Hang up the call (the goodbye has been played).
    HangUp,
    /// Offer the call to a free nurse, or say that none came in time.
    Handoff(HandoffReason),
    /// The hand-off wait is over: a last look for a nurse, then the call-back path.
    HandoffWaitOver,
}

/// The robot call being made.
#[derive(Debug, Clone)]
pub struct RobotCall {
    pub call_id: String,
    pub task_id: i64,
    pub script: Script,
    pub lang: Lang,
    pub mode: CallMode,
}

/// What every robot call uses of the server.
#[derive(Clone)]
pub struct RobotShell {
    pub store: Store,
    pub config: Arc<crate::config::Config>,
    pub clock: crate::clock::Clock,
    pub locale: Locale,
    pub scripts: Arc<ScriptCatalog>,
    pub calendar: Arc<Calendar>,
    pub voice: RobotVoice,
}

/// Silence between the prompts of one playlist, ms.
const PROMPT_GAP_MS: usize = 250;

/// A playlist being sent, frame by frame.
struct Playing {
    id: PlayId,
    samples: Vec<i16>,
    at: usize,
}

/// Runs a robot call until its SIP leg has ended and its outcome is written.
pub async fn run(
    call: RobotCall,
    shell: RobotShell,
    ends: BridgeEnds,
    mut input: mpsc::Receiver<RobotInput>,
    requests: mpsc::Sender<(String, RobotRequest)>,
) {
    let (mut from_patient, to_patient) = ends.into_parts();
    let settings = shell.config.robot.dialog();
    let mut dialog = Dialog::new(&call.script, settings);
    let mut state = CallState {
        shell: &shell,
        call: &call,
        requests: &requests,
        playing: None,
        deadline: None,
        outcome: None,
    };
    let mut answered_at: Option<u64> = None;
    let mut frames: u64 = 0;
    let mut media_open = true;
    let nurse = loop {
        tokio::select! {
            frame = from_patient.recv(), if media_open => {
                if frame.is_none() {
                    media_open = false;
                    continue;
                }
                frames += 1;
                let Some(start) = answered_at else { continue };
                let now = (frames - start) * 20;
                let (out, finished) = state.next_frame();
                let _ = to_patient.try_send(out);
                let mut events = Vec::new();
                if let Some(id) = finished {
                    events.push(Event::PromptDone(id));
                }
                if state.deadline.is_some_and(|d| d <= now) {
                    state.deadline = None;
                    events.push(Event::Timer);
                }
                for e in events {
                    let actions = dialog.handle(e, now);
                    state.perform(&mut dialog, actions, now).await;
                }
            }
            msg = input.recv() => {
                let Some(msg) = msg else { break None };
                let now = answered_at.map_or(0, |s| (frames - s) * 20);
                let event = match msg {
                    RobotInput::Answered => {
                        answered_at = Some(frames);
                        Event::Answered
                    }
                    RobotInput::Key(k) => Event::Key(k),
                    RobotInput::NurseLine { media, control } => {
                        let actions = dialog.handle(Event::NurseTook, now);
                        state.perform(&mut dialog, actions, now).await;
                        break Some((media, control));
                    }
                    RobotInput::NoNurse => Event::NoNurse,
                    RobotInput::Ended { unanswered } => {
                        if answered_at.is_some() && !dialog.ended() {
                            let actions = dialog.handle(Event::HungUp, now);
                            state.perform(&mut dialog, actions, now).await;
                        }
                        let outcome = state.outcome.take();
                        finish(&shell, &call, outcome, unanswered).await;
                        break None;
                    }
                };
                let actions = dialog.handle(event, now);
                state.perform(&mut dialog, actions, now).await;
            }
        }
    };
    let Some((media, control)) = nurse else {
        return;
    };
    // handed off: the nurse talks with the patient through the same leg and recording
    let outcome = state.outcome.take();
    drop(state);
    let ends = BridgeEnds::from_parts(from_patient, to_patient);
    super::bridge::run(ends, media, None, control).await;
    while let Some(msg) = input.recv().await {
        if let RobotInput::Ended { unanswered } = msg {
            finish(&shell, &call, outcome, unanswered).await;
            return;
        }
    }
}

/// The shell's side of a call in progress.
struct CallState<'a> {
    shell: &'a RobotShell,
    call: &'a RobotCall,
    requests: &'a mpsc::Sender<(String, RobotRequest)>,
    playing: Option<Playing>,
    deadline: Option<u64>,
    outcome: Option<Outcome>,
}

impl CallState<'_> {
    /// The next 20 ms to send, and the id of a playlist that just ended.
    fn next_frame(&mut self) -> (Vec<i16>, Option<PlayId>) {
        let Some(p) = &mut self.playing else {
            return (vec![0; FRAME_SAMPLES], None);
        };
        let end = (p.at + FRAME_SAMPLES).min(p.samples.len());
        let mut frame = p.samples[p.at..end].to_vec();
        frame.resize(FRAME_SAMPLES, 0);
        p.at = end;
        if p.at >= p.samples.len() {
            let id = p.id;
            self.playing = None;
            return (frame, Some(id));
        }
        (frame, None)
    }

    /// Carries out the dialog's actions, feeding back what they report (saved answers).
    async fn perform(&mut self, dialog: &mut Dialog<'_>, actions: Vec<Action>, now: u64) {
        let mut queue: VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Play { id, prompts, .. } => {
                    let samples = self.render(&prompts).await;
                    self.playing = Some(Playing { id, samples, at: 0 });
                }
                Action::StopPlaying => self.playing = None,
                Action::WakeAt(at) => self.deadline = Some(at),
                Action::Save { question, value } => {
                    let event = self.save(question, value).await;
                    queue.extend(dialog.handle(event, now));
                }
                Action::Log(line) => {
                    let (id, when) = (self.call.call_id.clone(), self.now());
                    let written = self
                        .shell
                        .store
                        .write(move |tx| db::log_question(tx, &id, &line, when))
                        .await;
                    if let Err(e) = written {
                        tracing::error!(call = %self.call.call_id, error = %e, "robot question log not stored");
                    }
                }
                Action::OfferToNurse(reason) => {
                    tracing::info!(call = %self.call.call_id, ?reason, "robot call handed off");
                    let request = (self.call.call_id.clone(), RobotRequest::Handoff(reason));
                    let _ = self.requests.send(request).await;
                }
                Action::End { outcome, hang_up } => {
                    tracing::info!(call = %self.call.call_id, ?outcome, "robot conversation ended");
                    self.outcome = Some(outcome);
                    if hang_up {
                        let request = (self.call.call_id.clone(), RobotRequest::HangUp);
                        let _ = self.requests.send(request).await;
                    }
                }
            }
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.shell.clock.now()
    }

    /// The playlist as one buffer; a prompt that cannot be rendered is left out (and logged):
    /// the dialog's timers still run, so the call goes on rather than hanging silent.
    async fn render(&self, prompts: &[crate::robot::Prompt]) -> Vec<i16> {
        let mut out = Vec::new();
        for prompt in prompts {
            let (voice, script, lang, p) = (
                self.shell.voice.clone(),
                self.call.script.clone(),
                self.call.lang,
                prompt.clone(),
            );
            let audio: Result<Pcm, String> =
                tokio::task::spawn_blocking(move || voice.audio(&p, &script, lang))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()));
            match audio {
                Ok(pcm) => {
                    if !out.is_empty() {
                        out.extend(std::iter::repeat_n(0, PROMPT_GAP_MS * 8));
                    }
                    out.extend_from_slice(&pcm);
                }
                Err(e) => {
                    tracing::error!(call = %self.call.call_id, ?prompt, error = %e, "robot prompt has no audio")
                }
            }
        }
        out
    }

    /// Saves an answer through the answer service; the event to feed back.
    async fn save(
        &self,
        question: QuestionId,
        value: crate::followup::script::AnswerValue,
    ) -> Event {
        let json = match serde_json::to_value(&value) {
            // the stored form is tagged ({type, value}); the service takes the bare value
            Ok(v) => v.get("value").cloned().unwrap_or(v),
            Err(e) => {
                return Event::SaveFailed {
                    error: e.to_string(),
                }
            }
        };
        let input = SaveAnswer {
            task_id: self.call.task_id,
            question_id: question.0.clone(),
            value: json,
            call_id: Some(self.call.call_id.clone()),
        };
        let (scripts, calendar) = (self.shell.scripts.clone(), self.shell.calendar.clone());
        let webhooks = self.shell.config.webhook.enabled();
        let now = self.now();
        let saved = self
            .shell
            .store
            .write(move |tx| {
                match save_robot_answer(tx, &scripts, &input, webhooks, &calendar, now) {
                    Ok(saved) => Ok(Ok(saved)),
                    Err(ServiceError::Store(e)) => Err(e),
                    Err(rejected) => Ok(Err(rejected)),
                }
            })
            .await;
        match saved {
            Ok(Ok(saved)) => {
                // the worst finding this answer takes part in
                let finding = saved
                    .escalations
                    .iter()
                    .map(|r| &r.finding)
                    .filter(|f| f.questions.contains(&question))
                    .max_by_key(|f| f.severity)
                    .map(|f| FindingBrief {
                        rule: f.rule.0.clone(),
                        severity: f.severity,
                        advice: f.advice.clone(),
                    });
                Event::Saved { finding }
            }
            Ok(Err(rejected)) => Event::SaveFailed {
                error: rejected.to_string(),
            },
            Err(e) => Event::SaveFailed {
                error: e.to_string(),
            },
        }
    }
}

/// Writes how the robot call ended: its row, and the task's next step. Never answered: the
/// disposition under the retry policy, and a `robot_then_nurse` task goes to the nurses.
/// Answered and completed: the task is completed. Answered but not finished (declined,
/// unconfirmed answers, hung up, a hand-off nobody took): the task is the nurses' — at the top
/// of their queue after a hand-off nobody took. Failed on our side: the task waits
/// (`robot::after_call::task_step` decides).
async fn finish(
    shell: &RobotShell,
    call: &RobotCall,
    outcome: Option<Outcome>,
    unanswered: Option<Disposition>,
) {
    let now = shell.clock.now();
    let (policy, locale) = (shell.config.retry.clone(), shell.locale);
    let (call_id, task_id, mode) = (call.call_id.clone(), call.task_id, call.mode);
    let written = shell
        .store
        .write(move |tx| {
            let row = match (&outcome, unanswered) {
                (Some(o), _) => json!(o),
                (None, Some(d)) => json!({ "outcome": "not_answered", "disposition": d.as_str() }),
                (None, None) => json!({ "outcome": "not_answered" }),
            };
            db::end_call(tx, &call_id, &row, now)?;
            let dispose = |d: Disposition| {
                let input = tasks::DispositionInput {
                    task_id,
                    user_id: 0,
                    disposition: d,
                    callback_at: None,
                    note: Some("robot call"),
                    call_id: Some(&call_id),
                };
                tasks::record_robot_disposition(tx, &input, &policy, &locale, now)
                    .map_err(StoreError::from)
            };
            match task_step(outcome.as_ref(), unanswered, mode) {
                TaskStep::Complete => {
                    dispose(Disposition::Completed)?;
                }
                TaskStep::LeftToTheNurse => {}
                TaskStep::ToNurses { urgent } => db::hand_to_nurses(tx, task_id, urgent, now)?,
                TaskStep::Retry {
                    disposition,
                    then_nurses,
                } => {
                    let task = dispose(disposition)?;
                    if then_nurses && task.status == "pending" {
                        db::hand_to_nurses(tx, task_id, false, now)?;
                    }
                }
                TaskStep::Defer => db::defer(
                    tx,
                    task_id,
                    now + chrono::Duration::seconds(FAILED_ON_OUR_SIDE_RETRY_SECONDS),
                )?,
            }
            Ok(())
        })
        .await;
    if let Err(e) = written {
        tracing::error!(call = %call.call_id, task = call.task_id, error = %e, "robot call outcome not stored");
    }
}
