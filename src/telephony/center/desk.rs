//! Agents on SIP desk phones. A desk phone's call leg is adapted to the bridge's `LineMedia`
//! ([`crate::telephony::desk_line`]), so once it is up everything else (consent, recording,
//! hold, mute, DTMF, transfer, supervision) is the browser path unchanged.
//!
//! - Click-to-call: the nurse dials a task while her browser line is not connected: her desk
//!   phone rings first; when she answers the patient is dialled and she hears ring-back (or the
//!   trunk's early media). If she does not answer, the call ends `agent_no_answer` and the task
//!   is not disposed: the patient was never called.
//! - Call-backs: a nurse without a browser line is offered the call on her desk phone while the
//!   patient hears ringing; if she does not answer the next nurse is tried, then voicemail.
//! - Calls placed from a desk phone (authenticated by the registrar) go to the trunk, matched to
//!   the patient by number and to the nurse's claimed task for them.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::*;
use crate::sip::registrar::{AgentIdentity, Binding};
use crate::sip::ua::CallOptions;
use crate::telephony::desk_line::desk_line;
use crate::webrtc::LineMedia;

/// What a desk phone's call is for.
pub(super) enum DeskRole {
    /// Click-to-call: dial `uri` (the patient) once the nurse answers.
    Dial { uri: SipUri },
    /// A call-back waits, ringing, for this phone; `next` are the nurses to try after it.
    Offer { next: Vec<i64>, since: Instant },
    /// The target of a blind transfer: swapped into the bridge when answered.
    TransferTo,
    /// The phone is the agent's line of its call.
    Bridged,
}

/// A call leg to (or from) an agent's desk phone.
pub(super) struct DeskLeg {
    pub(super) user_id: i64,
    /// The key in `calls` of the call this leg serves.
    pub(super) call: CallHandle,
    pub(super) role: DeskRole,
    /// The phone as a line, until it is handed to the bridge.
    pub(super) line: Option<LineMedia>,
    pub(super) ringback: watch::Sender<bool>,
}

/// The agent's end of a new call.
pub(super) enum AgentEnd {
    Browser(LineMedia),
    Desk(Box<Binding>),
}

impl AgentEnd {
    pub(super) fn device(&self) -> &'static str {
        match self {
            AgentEnd::Browser(_) => "browser",
            AgentEnd::Desk(_) => "desk_phone",
        }
    }
}

/// The end reason of a click-to-call whose desk phone never answered.
fn agent_unanswered(outcome: CallOutcome) -> &'static str {
    match outcome {
        CallOutcome::Cancelled => "cancelled_before_agent_answered",
        CallOutcome::Busy => "agent_busy",
        CallOutcome::Declined => "agent_declined",
        CallOutcome::Unreachable => "agent_phone_unreachable",
        CallOutcome::NoAnswer => "agent_no_answer",
        _ => "agent_phone_failed",
    }
}

impl Center {
    /// Where the agent takes a call: her browser line when it is connected (she is at the
    /// console), else her registered desk phone.
    pub(super) async fn agent_end(&self, user_id: i64) -> Result<AgentEnd, CallCenterError> {
        let why = match self.state.lines.attach(user_id, true).await {
            Ok(media) => return Ok(AgentEnd::Browser(media)),
            Err(crate::webrtc::LineError::Busy) => {
                return Err(CallCenterError::Conflict(
                    "your line is in use (a line check?); try again in a moment".into(),
                ))
            }
            Err(e) => e,
        };
        match self.desk_binding(user_id).await {
            Some(binding) => Ok(AgentEnd::Desk(Box::new(binding))),
            None => Err(CallCenterError::Conflict(format!(
                "connect your line (or register your desk phone) before dialling: {why}"
            ))),
        }
    }

    /// The registered desk phone of a user, if any.
    pub(super) async fn desk_binding(&self, user_id: i64) -> Option<Binding> {
        let ext = self
            .state
            .store
            .read(move |c| crate::store::agents::extension_of(c, user_id))
            .await
            .ok()
            .flatten()?;
        self.engine.agent_binding(&ext).await.ok().flatten()
    }

    /// Rings `user_id`'s desk phone for the call keyed `call`; returns the leg's handle.
    pub(super) async fn ring_desk(
        &mut self,
        user_id: i64,
        binding: &Binding,
        display: String,
        call: CallHandle,
        role: DeskRole,
    ) -> Result<CallHandle, CallCenterError> {
        let desk = desk_line(self.ringback.clone());
        let options = CallOptions {
            dest: Some(binding.source),
            display_name: Some(display),
            ring_timeout: Some(Duration::from_secs(
                self.state.config.sip.agent_ring_seconds,
            )),
        };
        let handle = self
            .engine
            .place_call_with(binding.contact.clone(), options, desk.leg)
            .await
            .map_err(|e| CallCenterError::Sip(format!("cannot ring the desk phone: {e}")))?;
        // a click-to-call is keyed by its desk leg until the patient is dialled
        let call = if matches!(role, DeskRole::Dial { .. }) {
            handle
        } else {
            call
        };
        self.desk.insert(
            handle,
            DeskLeg {
                user_id,
                call,
                role,
                line: Some(desk.line),
                ringback: desk.ringback,
            },
        );
        tracing::info!(user = user_id, extension = %binding.extension, to = %binding.source, "ringing the desk phone");
        Ok(handle)
    }

    /// Events of desk-phone legs.
    pub(super) async fn desk_event(
        &mut self,
        desk: CallHandle,
        event: CallEvent,
    ) -> Result<(), StoreError> {
        match event {
            CallEvent::Answered { .. } => self.desk_answered(desk).await,
            CallEvent::Ended { outcome, .. } => self.desk_ended(desk, outcome).await,
            _ => Ok(()),
        }
    }

    async fn desk_answered(&mut self, desk: CallHandle) -> Result<(), StoreError> {
        let Some(leg) = self.desk.get_mut(&desk) else {
            return Ok(());
        };
        let role = std::mem::replace(&mut leg.role, DeskRole::Bridged);
        let (call, line) = (leg.call, leg.line.take());
        let Some(line) = line else {
            return Ok(()); // already bridged (a re-answer cannot happen; nothing to do)
        };
        match role {
            DeskRole::Bridged => Ok(()),
            DeskRole::Dial { uri } => self.dial_after_agent_answered(desk, uri, line).await,
            DeskRole::Offer { .. } => {
                let user_id = self.desk.get(&desk).map_or(0, |l| l.user_id);
                self.take_call_back(call, user_id, line, Some(desk)).await
            }
            DeskRole::TransferTo => {
                let user_id = self.desk.get(&desk).map_or(0, |l| l.user_id);
                self.complete_transfer(call, user_id, line, Some(desk))
                    .await?;
                if let Some(id) = self.calls.get(&call).map(|c| c.id.clone()) {
                    let (detail, now) = (format!("desk phone of user {user_id}"), self.now());
                    self.state
                        .store
                        .write(move |tx| db::log(tx, &id, "transferred", Some(&detail), now))
                        .await?;
                }
                self.publish_state(call, None);
                Ok(())
            }
        }
    }

    /// Click-to-call, second half: the nurse picked up, now call the patient.
    async fn dial_after_agent_answered(
        &mut self,
        desk: CallHandle,
        uri: SipUri,
        line: LineMedia,
    ) -> Result<(), StoreError> {
        let Some(mut live) = self.calls.remove(&desk) else {
            let _ = self.engine.hangup(desk).await;
            return Ok(());
        };
        let (leg, ends) = SipSide::recorded(&live.id).split();
        let patient = match self.engine.place_call_leg(uri, leg).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(call = %live.id, error = %e, "cannot dial the patient");
                self.end_unplaced(&live.id, &format!("not placed: {e}"))
                    .await?;
                let _ = self.engine.hangup(desk).await;
                return Ok(());
            }
        };
        let control = self.spawn_bridge(ends, line);
        live.bridge = Some(control);
        self.calls.insert(patient, live);
        if let Some(leg) = self.desk.get_mut(&desk) {
            leg.call = patient;
            leg.ringback.send_replace(true);
        }
        self.set_state(patient, CallState::Dialing).await
    }

    async fn desk_ended(
        &mut self,
        desk: CallHandle,
        outcome: CallOutcome,
    ) -> Result<(), StoreError> {
        let Some(leg) = self.desk.remove(&desk) else {
            return Ok(());
        };
        tracing::info!(user = leg.user_id, ?outcome, "desk phone leg ended");
        match leg.role {
            DeskRole::Dial { .. } => {
                // the nurse never answered her phone: the patient was not called
                let Some(mut live) = self.calls.remove(&desk) else {
                    return Ok(());
                };
                let reason = agent_unanswered(outcome);
                self.end_unplaced(&live.id, reason).await?;
                live.state = CallState::Ended;
                self.publish_live(&live, Some(reason));
                Ok(())
            }
            DeskRole::Offer { next, since } => {
                if let Some(c) = self.calls.get_mut(&leg.call) {
                    c.agent_id = None;
                    c.desk = None;
                }
                if self.calls.contains_key(&leg.call) {
                    self.offer_call(leg.call, next, since).await?;
                }
                Ok(())
            }
            DeskRole::TransferTo => {
                if let Some(id) = self.calls.get(&leg.call).map(|c| c.id.clone()) {
                    let (detail, now) =
                        (format!("user {} did not answer", leg.user_id), self.now());
                    self.state
                        .store
                        .write(move |tx| db::log(tx, &id, "transfer_failed", Some(&detail), now))
                        .await?;
                }
                Ok(())
            }
            DeskRole::Bridged => {
                // the nurse hung up her phone: that hangs up the call
                let ours = self
                    .calls
                    .get(&leg.call)
                    .is_some_and(|c| c.desk == Some(desk));
                if ours {
                    if let Some(c) = self.calls.get_mut(&leg.call) {
                        c.desk = None;
                    }
                    let _ = self.engine.hangup(leg.call).await;
                    self.release_unanswered(leg.call).await;
                }
                Ok(())
            }
        }
    }

    /// Hangs up every desk leg serving `call` (it ended, or the nurse let go of it).
    pub(super) async fn hang_up_desks_of(&mut self, call: CallHandle) {
        let legs: Vec<CallHandle> = self
            .desk
            .iter()
            .filter(|(_, l)| l.call == call)
            .map(|(h, _)| *h)
            .collect();
        for h in legs {
            let _ = self.engine.hangup(h).await;
        }
    }

    /// Stops the ring-back of the desk phone on `call` (the patient answered).
    pub(super) fn stop_ringback(&self, call: CallHandle) {
        if let Some(d) = self.calls.get(&call).and_then(|c| c.desk) {
            if let Some(leg) = self.desk.get(&d) {
                leg.ringback.send_replace(false);
            }
        }
    }

    /// A key pressed on a desk phone goes on to the patient (RFC 4733).
    pub(super) async fn desk_dtmf(&mut self, desk: CallHandle, key: char) {
        let Some(call) = self.desk.get(&desk).map(|l| l.call) else {
            return;
        };
        if self.calls.get(&call).is_some_and(|c| c.desk == Some(desk)) {
            let _ = self.engine.send_dtmf(call, &key.to_string()).await;
        }
    }

    /// A call placed on an agent's desk phone (authenticated): to a patient's number through
    /// the trunk, bridged to the phone like a click-to-call.
    pub(super) async fn desk_outbound(
        &mut self,
        desk: CallHandle,
        agent: AgentIdentity,
        dialled: SipUri,
    ) -> Result<(), StoreError> {
        let refuse = |status: u16, why: String| (status, why);
        let sip = &self.state.config.sip;
        let number = dialled
            .user
            .as_deref()
            .and_then(|u| routing::dialled_number(u, &sip.country_code));
        let (uid, now) = (agent.user_id, self.now());
        let checked = match (number, sip.domain()) {
            (None, _) => Err(refuse(484, format!("{dialled} is not a phone number"))),
            (_, None) => Err(refuse(503, "no SIP trunk is configured".into())),
            (Some(_), _) if self.agent_busy(uid) => Err(refuse(486, "already on a call".into())),
            (Some(n), Some(domain)) => {
                let who = n.clone();
                match self
                    .state
                    .store
                    .read(move |c| Ok(routing::desk_dial_target(c, &who, uid, now)))
                    .await?
                {
                    Ok(t) => {
                        routing::check_calling_hours(&self.state.locale, self.state.clock.now())
                            .map(|()| (t, domain))
                            .map_err(|e| refuse(403, e.to_string()))
                    }
                    Err(DialRefusal::UnknownNumber) => {
                        // logged below: masked, it may be anyone's number
                        Err(refuse(
                            404,
                            format!(
                                "{} is no patient's number",
                                crate::followup::phone::mask(&n)
                            ),
                        ))
                    }
                    Err(e) => Err(refuse(403, e.to_string())),
                }
            }
        };
        let ((target, task_id), domain) = match checked {
            Ok(ok) => ok,
            Err((status, why)) => {
                tracing::warn!(extension = %agent.extension, status, %why, "desk phone call refused");
                let _ = self.engine.reject(desk, status).await;
                return Ok(());
            }
        };
        let Ok(uri) = SipUri::parse(&format!("sip:{}@{domain}", target.number)) else {
            let _ = self.engine.reject(desk, 484).await;
            return Ok(());
        };
        let call_id = self.new_call_id();
        let row = (call_id.clone(), target.clone(), agent.extension.clone());
        self.state
            .store
            .write(move |tx| {
                let (id, t, ext) = &row;
                let row = t.new_call(id, task_id, uid, CallState::Dialing);
                db::insert(tx, &row, now)?;
                db::set_agent_device(tx, id, "desk_phone")?;
                db::log(tx, id, "dialled_from_desk_phone", Some(ext), now)
            })
            .await?;
        let line = desk_line(self.ringback.clone());
        if let Err(e) = self.engine.answer_leg(desk, line.leg).await {
            tracing::error!(call = %call_id, error = %e, "cannot answer the desk phone");
            return self
                .end_unplaced(&call_id, &format!("desk phone: {e}"))
                .await;
        }
        let (leg, ends) = SipSide::recorded(&call_id).split();
        let patient = match self.engine.place_call_leg(uri, leg).await {
            Ok(h) => h,
            Err(e) => {
                let _ = self.engine.hangup(desk).await;
                return self
                    .end_unplaced(&call_id, &format!("not placed: {e}"))
                    .await;
            }
        };
        let control = self.spawn_bridge(ends, line.line);
        line.ringback.send_replace(true);
        self.desk.insert(
            desk,
            DeskLeg {
                user_id: uid,
                call: patient,
                role: DeskRole::Bridged,
                line: None,
                ringback: line.ringback,
            },
        );
        let live = LiveCall::outbound(call_id.clone(), task_id, &target, uid, CallState::Dialing);
        self.calls
            .insert(patient, live.bridged(control).on_desk(desk));
        tracing::info!(call = %call_id, extension = %agent.extension, task = ?task_id, "desk phone dials a patient");
        self.publish_state(patient, None);
        Ok(())
    }
}
