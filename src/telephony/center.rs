//! The call center actor: one task owns the SIP engine and every live call. HTTP handlers send
//! it [`CallCommand`]s through a cloneable [`CallCenter`]; engine events (progress, answer,
//! DTMF, recordings, hang-ups) come back to the same task, which writes the rows, disposes
//! tasks of unanswered calls and publishes `call.*` live events. One owner means no locks and
//! no two places that could disagree about a call's state.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::bridge::{self, BridgeControl, SipSide};
use super::outcome::end_record;
use super::routing::{self, Contact, DialRefusal};
use super::{MonitorMode, Prompts};
use crate::api::events::{Audience, LiveEvent};
use crate::api::AppState;
use crate::auth::role::Role;
use crate::calls::{AgentSource, Engine, EngineEvent, LegAudio};
use crate::sip::ua::{CallEvent, CallHandle, CallOutcome, RegistrationState};
use crate::sip::uri::SipUri;
use crate::store::calls::{self as db, CallEnd, CallView, NewCall};
use crate::store::users::User;
use crate::store::StoreError;

/// Why a call command failed; the API maps these to status codes.
#[derive(Debug, thiserror::Error)]
pub enum CallCenterError {
    #[error("telephony is off on this server (sip.enabled = false)")]
    Disabled,
    #[error("call {0} is not live")]
    NoSuchCall(String),
    #[error("{0}")]
    Refused(#[from] DialRefusal),
    #[error("{0}")]
    Conflict(String),
    #[error("only the call's own nurse or a supervisor may do that")]
    NotYourCall,
    #[error("the SIP engine: {0}")]
    Sip(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the call center has stopped")]
    Stopped,
}

/// What a handler asks of the call center.
#[derive(Debug)]
pub enum CallCommand {
    Dial {
        task_id: i64,
        contact: Option<Contact>,
    },
    Hangup,
    Dtmf(String),
    Mute(bool),
    Hold(bool),
    Transfer {
        to_user: i64,
    },
    Monitor(MonitorMode),
    StopMonitor,
}

struct Request {
    user: User,
    /// The call a command is about (`None` for Dial).
    call_id: Option<String>,
    command: CallCommand,
    reply: oneshot::Sender<Result<CallView, CallCenterError>>,
}

/// Cheap, cloneable handle to the call center; lives in `AppState`.
#[derive(Clone)]
pub struct CallCenter {
    tx: mpsc::Sender<Request>,
    status: watch::Receiver<TrunkStatus>,
}

/// What the admin page shows about the trunk.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TrunkStatus {
    pub enabled: bool,
    pub sip_addr: Option<String>,
    pub trunk: Option<String>,
    pub registration: Option<String>,
    pub live_calls: usize,
}

/// The actor's end of the handle; [`run`] consumes it.
pub struct CallCenterInbox {
    rx: mpsc::Receiver<Request>,
    status: watch::Sender<TrunkStatus>,
}

impl CallCenter {
    pub fn channel() -> (CallCenter, CallCenterInbox) {
        let (tx, rx) = mpsc::channel(256);
        let (status_tx, status) = watch::channel(TrunkStatus::default());
        (
            CallCenter { tx, status },
            CallCenterInbox {
                rx,
                status: status_tx,
            },
        )
    }

    /// Runs `command` for `user` on `call_id` (or a new call for Dial).
    pub async fn command(
        &self,
        user: User,
        call_id: Option<String>,
        command: CallCommand,
    ) -> Result<CallView, CallCenterError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request {
                user,
                call_id,
                command,
                reply,
            })
            .await
            .map_err(|_| CallCenterError::Stopped)?;
        rx.await.map_err(|_| CallCenterError::Stopped)?
    }

    pub fn status(&self) -> TrunkStatus {
        self.status.borrow().clone()
    }
}

struct LiveCall {
    id: String,
    task_id: Option<i64>,
    patient_id: Option<i64>,
    agent_id: Option<i64>,
    inbound: bool,
    state: &'static str,
    bridge: Option<mpsc::Sender<BridgeControl>>,
    /// Voicemail: hang up when this passes.
    deadline: Option<Instant>,
    /// Users whose line is attached to this call as monitors.
    monitors: Vec<i64>,
}

struct Center {
    state: AppState,
    engine: Engine,
    prompts: Prompts,
    calls: HashMap<CallHandle, LiveCall>,
    status: watch::Sender<TrunkStatus>,
}

#[allow(clippy::large_enum_variant)] // one input at a time through the actor's loop; see EngineEvent
enum Input {
    Request(Request),
    Engine(EngineEvent),
    Tick,
    Stop,
}

/// Serves commands and engine events until `stop` turns true, then hangs up every call and
/// waits for the recordings to close.
pub async fn run(
    inbox: CallCenterInbox,
    state: AppState,
    engine: Option<Engine>,
    prompts: Prompts,
    mut stop: watch::Receiver<bool>,
) {
    let CallCenterInbox { mut rx, status } = inbox;
    let Some(engine) = engine else {
        // Telephony is off: answer every command with a clear error.
        loop {
            tokio::select! {
                r = rx.recv() => match r {
                    Some(r) => { let _ = r.reply.send(Err(CallCenterError::Disabled)); }
                    None => return,
                },
                _ = stop.changed() => return,
            }
        }
    };
    let sip = &state.config.sip;
    status.send_replace(TrunkStatus {
        enabled: true,
        sip_addr: Some(engine.sip_addr().to_string()),
        trunk: sip.trunk.map(|t| t.to_string()),
        registration: sip.register.then(|| "registering".to_owned()),
        live_calls: 0,
    });
    let mut center = Center {
        state,
        engine,
        prompts,
        calls: HashMap::new(),
        status,
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let input = tokio::select! {
            r = rx.recv() => r.map_or(Input::Stop, Input::Request),
            e = center.engine.next_event() => e.map_or(Input::Stop, Input::Engine),
            _ = tick.tick() => Input::Tick,
            _ = stop.changed() => Input::Stop,
        };
        match input {
            Input::Request(r) => {
                let result = center.request(&r.user, r.call_id, r.command).await;
                let _ = r.reply.send(result);
            }
            Input::Engine(e) => center.engine_event(e).await,
            Input::Tick => center.expire_voicemails().await,
            Input::Stop => break,
        }
        let live = center.calls.len();
        center.status.send_modify(|s| s.live_calls = live);
    }
    center.shutdown().await;
}

impl Center {
    async fn request(
        &mut self,
        user: &User,
        call_id: Option<String>,
        command: CallCommand,
    ) -> Result<CallView, CallCenterError> {
        if let CallCommand::Dial { task_id, contact } = command {
            return self.dial(user, task_id, contact).await;
        }
        let call_id = call_id.unwrap_or_default();
        let handle = self
            .calls
            .iter()
            .find(|(_, c)| c.id == call_id)
            .map(|(h, _)| *h)
            .ok_or_else(|| CallCenterError::NoSuchCall(call_id.clone()))?;
        let supervises = matches!(user.role, Role::Supervisor | Role::Admin);
        let (own, bridge, monitoring) = {
            let c = self
                .calls
                .get(&handle)
                .ok_or_else(|| CallCenterError::NoSuchCall(call_id.clone()))?;
            (
                c.agent_id == Some(user.id),
                c.bridge.clone(),
                c.monitors.contains(&user.id),
            )
        };
        let is_monitor = matches!(command, CallCommand::Monitor(_) | CallCommand::StopMonitor);
        if !is_monitor && !own && !supervises {
            return Err(CallCenterError::NotYourCall);
        }
        let sip_err = |e: crate::calls::CallsError| CallCenterError::Sip(e.to_string());
        let (kind, detail) = match command {
            CallCommand::Dial { .. } => unreachable!("handled above"),
            CallCommand::Hangup => {
                self.engine.hangup(handle).await.map_err(sip_err)?;
                ("hangup_requested", user.username.clone())
            }
            CallCommand::Dtmf(digits) => {
                if digits.is_empty()
                    || digits.len() > 32
                    || !digits.chars().all(|c| "0123456789*#ABCD".contains(c))
                {
                    return Err(CallCenterError::Conflict(
                        "digits must be 1–32 of 0-9 * # A-D".into(),
                    ));
                }
                self.engine
                    .send_dtmf(handle, &digits)
                    .await
                    .map_err(sip_err)?;
                ("dtmf_sent", digits)
            }
            CallCommand::Mute(m) => {
                self.engine.set_mute(handle, m).await.map_err(sip_err)?;
                (if m { "muted" } else { "unmuted" }, user.username.clone())
            }
            CallCommand::Hold(h) => {
                let music = h.then(|| self.prompts.hold.clone()).flatten();
                let music = if h {
                    Some(music.unwrap_or_default())
                } else {
                    None
                };
                self.engine.hold(handle, music).await.map_err(sip_err)?;
                let state = if h { "held" } else { "answered" };
                self.set_state(handle, state).await?;
                (if h { "hold" } else { "resume" }, user.username.clone())
            }
            CallCommand::Transfer { to_user } => {
                let bridge = bridge.ok_or_else(|| {
                    CallCenterError::Conflict("only bridged calls can be transferred".into())
                })?;
                if self.agent_busy(to_user) {
                    return Err(CallCenterError::Conflict(format!(
                        "user {to_user} is already on a call"
                    )));
                }
                let media = self.state.lines.attach(to_user, true).await.map_err(|e| {
                    CallCenterError::Conflict(format!("user {to_user} cannot take the call: {e}"))
                })?;
                let _ = bridge.send(BridgeControl::SwapAgent(media)).await;
                if let Some(c) = self.calls.get_mut(&handle) {
                    c.agent_id = Some(to_user);
                }
                let id = call_id.clone();
                self.state
                    .store
                    .write(move |tx| db::set_agent(tx, &id, to_user))
                    .await?;
                (
                    "transferred",
                    format!("{} -> user {to_user}", user.username),
                )
            }
            CallCommand::Monitor(mode) => {
                if !(supervises || mode == MonitorMode::Barge && user.role == Role::Doctor) {
                    return Err(CallCenterError::NotYourCall);
                }
                let bridge = bridge.ok_or_else(|| {
                    CallCenterError::Conflict("only bridged calls can be monitored".into())
                })?;
                if monitoring {
                    let change = BridgeControl::SetMonitorMode {
                        user_id: user.id,
                        mode,
                    };
                    let _ = bridge.send(change).await;
                } else {
                    let media = self.state.lines.attach(user.id, true).await.map_err(|e| {
                        CallCenterError::Conflict(format!("connect your line first: {e}"))
                    })?;
                    let _ = bridge
                        .send(BridgeControl::AddMonitor {
                            user_id: user.id,
                            mode,
                            media,
                        })
                        .await;
                    if let Some(c) = self.calls.get_mut(&handle) {
                        c.monitors.push(user.id);
                    }
                }
                self.audit(user, mode.as_str(), &call_id).await?;
                (mode.as_str(), user.username.clone())
            }
            CallCommand::StopMonitor => {
                if let Some(b) = bridge {
                    let _ = b
                        .send(BridgeControl::RemoveMonitor { user_id: user.id })
                        .await;
                }
                if let Some(c) = self.calls.get_mut(&handle) {
                    c.monitors.retain(|id| *id != user.id);
                }
                ("monitor_stopped", user.username.clone())
            }
        };
        let id = call_id.clone();
        let now = self.now();
        self.state
            .store
            .write(move |tx| db::log(tx, &id, kind, Some(&detail), now))
            .await?;
        self.publish_state(handle, None);
        self.view(&call_id).await
    }

    async fn dial(
        &mut self,
        user: &User,
        task_id: i64,
        contact: Option<Contact>,
    ) -> Result<CallView, CallCenterError> {
        if self.agent_busy(user.id) {
            return Err(CallCenterError::Conflict(
                "you are already on a call: hang up first".into(),
            ));
        }
        let (uid, now) = (user.id, self.now());
        let target = self
            .state
            .store
            .read(move |conn| Ok(routing::dial_target(conn, task_id, uid, contact, now)))
            .await??;
        let domain = self.state.config.sip.domain().ok_or_else(|| {
            CallCenterError::Conflict("no SIP trunk is configured (sip.trunk)".into())
        })?;
        let uri = SipUri::parse(&format!("sip:{}@{domain}", target.number))
            .map_err(|e| CallCenterError::Sip(format!("bad number {}: {e}", target.number)))?;
        let media = self.state.lines.attach(user.id, true).await.map_err(|e| {
            CallCenterError::Conflict(format!("connect your line before dialling: {e}"))
        })?;
        let call_id = new_call_id(self.state.clock.now());
        let row = (call_id.clone(), target.clone());
        self.state
            .store
            .write(move |tx| {
                let (id, t) = &row;
                db::insert(
                    tx,
                    &NewCall {
                        id,
                        task_id: Some(task_id),
                        patient_id: Some(t.patient_id),
                        agent_id: Some(uid),
                        direction: "outbound",
                        remote_number: Some(&t.number),
                        contact: Some(t.contact.as_str()),
                        state: "dialing",
                    },
                    now,
                )
            })
            .await?;
        let (leg, ends) = SipSide::recorded(&call_id).split();
        let handle = match self.engine.place_call_leg(uri, leg).await {
            Ok(h) => h,
            Err(e) => {
                let (id, reason) = (call_id.clone(), format!("not placed: {e}"));
                self.state
                    .store
                    .write(move |tx| {
                        let end = CallEnd {
                            reason: &reason,
                            disposition: None,
                            sip_status: None,
                        };
                        db::end(tx, &id, &end, now)
                    })
                    .await?;
                return Err(CallCenterError::Sip(e.to_string()));
            }
        };
        let (control, control_rx) = mpsc::channel(8);
        tokio::spawn(bridge::run(
            ends,
            media,
            self.prompts.consent.clone(),
            control_rx,
        ));
        self.calls.insert(
            handle,
            LiveCall {
                id: call_id.clone(),
                task_id: Some(task_id),
                patient_id: Some(target.patient_id),
                agent_id: Some(uid),
                inbound: false,
                state: "dialing",
                bridge: Some(control),
                deadline: None,
                monitors: Vec::new(),
            },
        );
        tracing::info!(call = %call_id, task = task_id, nurse = %user.username, "dialling");
        self.publish_state(handle, None);
        self.view(&call_id).await
    }

    fn agent_busy(&self, user_id: i64) -> bool {
        self.calls.values().any(|c| c.agent_id == Some(user_id))
    }

    async fn engine_event(&mut self, event: EngineEvent) {
        let result = match event {
            EngineEvent::Call { call, event } => self.call_event(call, event).await,
            EngineEvent::Dtmf { call, digit } => {
                let Some(c) = self.calls.get(&call) else {
                    return;
                };
                let d = digit
                    .digit
                    .map_or_else(|| format!("event {}", digit.event), String::from);
                let (id, now) = (c.id.clone(), self.now());
                let publish = json!({ "call_id": c.id, "digit": d, "task_id": c.task_id });
                let audience = audience(c.agent_id);
                self.state.events.publish(LiveEvent {
                    name: "call.dtmf".into(),
                    audience,
                    data: publish,
                });
                self.state
                    .store
                    .write(move |tx| db::log(tx, &id, "dtmf", Some(&d), now))
                    .await
                    .map(|_| ())
            }
            EngineEvent::RecordingStarted { call, path } => {
                let Some(id) = self.calls.get(&call).map(|c| c.id.clone()) else {
                    return;
                };
                let now = self.now();
                self.state
                    .store
                    .write(move |tx| db::recording_started(tx, &id, &path, now))
                    .await
                    .map(|_| ())
            }
            EngineEvent::Recording { call: _, info } => {
                // the call may be gone already: find it by the file name
                let id = info
                    .path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_owned();
                let now = self.now();
                let ms = i64::try_from(info.duration.as_millis()).unwrap_or(i64::MAX);
                tracing::info!(call = %id, seconds = ms / 1000, path = %info.path.display(), "recording closed");
                self.state
                    .store
                    .write(move |tx| {
                        db::recording_finished(
                            tx,
                            &id,
                            &info.path,
                            &info.sha256,
                            ms,
                            "complete",
                            now,
                        )
                    })
                    .await
                    .map(|_| ())
                    // transcribe it now rather than at the pipeline's next poll
                    .inspect(|()| self.state.transcription.wake())
            }
            EngineEvent::Registration(reg) => {
                let text = match reg {
                    RegistrationState::Registered { expires } => {
                        format!("registered ({} s)", expires.as_secs())
                    }
                    other => format!("{other:?}").to_lowercase(),
                };
                self.status.send_modify(|s| s.registration = Some(text));
                Ok(())
            }
            EngineEvent::MediaFailed { call, error } => {
                tracing::error!(?call, %error, "call media failed");
                let Some(id) = self.calls.get(&call).map(|c| c.id.clone()) else {
                    return;
                };
                let now = self.now();
                self.state
                    .store
                    .write(move |tx| db::log(tx, &id, "media_failed", Some(&error), now))
                    .await
                    .map(|_| ())
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "call center could not record an event");
        }
    }

    async fn call_event(&mut self, handle: CallHandle, event: CallEvent) -> Result<(), StoreError> {
        match event {
            CallEvent::Incoming { from, .. } => {
                let caller = from.uri.user.clone().unwrap_or_default();
                self.inbound(handle, caller).await
            }
            CallEvent::Progress { .. } => {
                if self
                    .calls
                    .get(&handle)
                    .is_some_and(|c| c.state == "dialing")
                {
                    self.set_state(handle, "ringing").await?;
                }
                Ok(())
            }
            CallEvent::Answered { .. } => {
                let Some(c) = self.calls.get(&handle) else {
                    return Ok(());
                };
                if let Some(b) = &c.bridge {
                    let _ = b.send(BridgeControl::Answered).await;
                }
                let state = if c.deadline.is_some() {
                    "voicemail"
                } else {
                    "answered"
                };
                self.set_state(handle, state).await
            }
            CallEvent::MediaChanged { .. } => Ok(()),
            CallEvent::Ended { outcome } => self.ended(handle, outcome).await,
        }
    }

    async fn ended(&mut self, handle: CallHandle, outcome: CallOutcome) -> Result<(), StoreError> {
        let Some(mut call) = self.calls.remove(&handle) else {
            return Ok(());
        };
        let mut record = end_record(outcome);
        if call.deadline.is_some() {
            record.reason = "voicemail".into();
        }
        if call.inbound || call.state != "dialing" && call.state != "ringing" {
            record.disposition = None;
        }
        let (id, now, task, agent) = (
            call.id.clone(),
            self.state.clock.now(),
            call.task_id,
            call.agent_id,
        );
        let (policy, locale) = (self.state.config.retry.clone(), self.state.locale);
        let rec = record.clone();
        let disposed = self
            .state
            .store
            .write(move |tx| {
                let end = CallEnd {
                    reason: &rec.reason,
                    disposition: rec.disposition.map(|d| d.as_str()),
                    sip_status: rec.sip_status,
                };
                db::end(tx, &id, &end, now.timestamp())?;
                let (Some(d), Some(task_id), Some(user_id)) = (rec.disposition, task, agent) else {
                    return Ok(None);
                };
                let input = crate::store::tasks::DispositionInput {
                    task_id,
                    user_id,
                    disposition: d,
                    callback_at: None,
                    note: Some(&rec.reason),
                    call_id: Some(&id),
                };
                match crate::store::tasks::record_disposition(tx, &input, &policy, &locale, now) {
                    Ok(task) => Ok(Some(task)),
                    // the lease ran out meanwhile: the nurse records it by hand
                    Err(e) => {
                        tracing::warn!(task = task_id, error = ?e, "could not dispose the task");
                        Ok(None)
                    }
                }
            })
            .await?;
        tracing::info!(call = %call.id, reason = %record.reason, disposed = disposed.is_some(), "call ended");
        call.state = "ended";
        let data = json!({
            "call_id": call.id, "task_id": call.task_id, "patient_id": call.patient_id,
            "agent_id": call.agent_id, "direction": if call.inbound { "inbound" } else { "outbound" },
            "state": "ended", "reason": record.reason,
            "disposition": record.disposition.map(|d| d.as_str()),
            "task": disposed,
        });
        self.state.events.publish(LiveEvent {
            name: "call.state".into(),
            audience: audience(call.agent_id),
            data,
        });
        Ok(())
    }

    async fn set_state(
        &mut self,
        handle: CallHandle,
        state: &'static str,
    ) -> Result<(), StoreError> {
        let Some(c) = self.calls.get_mut(&handle) else {
            return Ok(());
        };
        c.state = state;
        let (id, now) = (c.id.clone(), self.state.clock.now().timestamp());
        self.state
            .store
            .write(move |tx| db::set_state(tx, &id, state, now))
            .await?;
        self.publish_state(handle, None);
        Ok(())
    }

    fn publish_state(&self, handle: CallHandle, reason: Option<&str>) {
        let Some(c) = self.calls.get(&handle) else {
            return;
        };
        self.state.events.publish(LiveEvent {
            name: "call.state".into(),
            audience: audience(c.agent_id),
            data: json!({
                "call_id": c.id, "task_id": c.task_id, "patient_id": c.patient_id,
                "agent_id": c.agent_id, "direction": if c.inbound { "inbound" } else { "outbound" },
                "state": c.state, "reason": reason,
            }),
        });
    }

    /// A patient calls back: offer the call to their nurse, else any free nurse with a
    /// connected line, else take a voicemail.
    async fn inbound(&mut self, handle: CallHandle, caller: String) -> Result<(), StoreError> {
        let who = caller.clone();
        let route = self
            .state
            .store
            .read(move |conn| routing::inbound_route(conn, &who))
            .await?;
        let call_id = new_call_id(self.state.clock.now());
        let mut agent = None;
        for candidate in &route.candidates {
            if self.agent_busy(*candidate) {
                continue;
            }
            if let Ok(media) = self.state.lines.attach(*candidate, true).await {
                agent = Some((*candidate, media));
                break;
            }
        }
        let now = self.now();
        let row = (
            call_id.clone(),
            route.clone(),
            agent.as_ref().map(|(id, _)| *id),
        );
        self.state
            .store
            .write(move |tx| {
                let (id, r, agent_id) = &row;
                db::insert(
                    tx,
                    &NewCall {
                        id,
                        task_id: None,
                        patient_id: r.patient_id,
                        agent_id: *agent_id,
                        direction: "inbound",
                        remote_number: r.number.as_deref(),
                        contact: None,
                        state: "ringing",
                    },
                    now,
                )
            })
            .await?;
        let mut live = LiveCall {
            id: call_id.clone(),
            task_id: None,
            patient_id: route.patient_id,
            agent_id: None,
            inbound: true,
            state: "ringing",
            bridge: None,
            deadline: None,
            monitors: Vec::new(),
        };
        let leg = match agent {
            Some((agent_id, media)) => {
                let (leg, ends) = SipSide::recorded(&call_id).split();
                let (control, control_rx) = mpsc::channel(8);
                tokio::spawn(bridge::run(
                    ends,
                    media,
                    self.prompts.consent.clone(),
                    control_rx,
                ));
                live.agent_id = Some(agent_id);
                live.bridge = Some(control);
                tracing::info!(call = %call_id, caller = %caller, agent = agent_id, "call-back routed");
                leg
            }
            None => {
                let max = Duration::from_secs(self.state.config.sip.voicemail_max_seconds.max(5));
                live.deadline = Some(Instant::now() + max);
                tracing::info!(call = %call_id, caller = %caller, "nobody free: voicemail");
                LegAudio {
                    recording_id: Some(call_id.clone()),
                    source: AgentSource::Samples(self.voicemail_greeting()),
                    tap: None,
                }
            }
        };
        self.calls.insert(handle, live);
        if let Err(e) = self.engine.answer_leg(handle, leg).await {
            tracing::error!(call = %call_id, error = %e, "cannot answer the call-back");
            let _ = self.engine.reject(handle, 480).await;
        }
        self.publish_state(handle, None);
        Ok(())
    }

    fn voicemail_greeting(&self) -> std::sync::Arc<Vec<i16>> {
        let mut pcm: Vec<i16> = Vec::new();
        for part in [&self.prompts.voicemail, &self.prompts.beep]
            .into_iter()
            .flatten()
        {
            pcm.extend_from_slice(part);
        }
        std::sync::Arc::new(pcm)
    }

    async fn expire_voicemails(&mut self) {
        let now = Instant::now();
        let due: Vec<CallHandle> = self
            .calls
            .iter()
            .filter(|(_, c)| c.deadline.is_some_and(|d| d <= now))
            .map(|(h, _)| *h)
            .collect();
        for handle in due {
            if let Some(c) = self.calls.get_mut(&handle) {
                c.deadline = Some(now + Duration::from_secs(3600)); // once
            }
            let _ = self.engine.hangup(handle).await;
        }
    }

    async fn audit(&self, user: &User, action: &str, call_id: &str) -> Result<(), StoreError> {
        let who = crate::api::actor(user);
        let (action, id, now) = (format!("call_{action}"), call_id.to_owned(), self.now());
        self.state
            .store
            .write(move |tx| {
                crate::store::audit::append(tx, &who, &action, "call", Some(&id), "", now)
            })
            .await
    }

    async fn view(&self, call_id: &str) -> Result<CallView, CallCenterError> {
        let id = call_id.to_owned();
        self.state
            .store
            .read(move |conn| db::get(conn, &id))
            .await?
            .ok_or_else(|| CallCenterError::NoSuchCall(call_id.to_owned()))
    }

    fn now(&self) -> i64 {
        self.state.clock.now().timestamp()
    }

    /// Hangs up every live call and waits (bounded) for their recordings to be stored.
    async fn shutdown(mut self) {
        let live: Vec<CallHandle> = self.calls.keys().copied().collect();
        for h in live {
            let _ = self.engine.hangup(h).await;
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while !self.calls.is_empty() && Instant::now() < deadline {
            match tokio::time::timeout_at(deadline, self.engine.next_event()).await {
                Ok(Some(e)) => self.engine_event(e).await,
                _ => break,
            }
        }
        // drain recordings closed by the hang-ups
        while let Ok(Some(e)) =
            tokio::time::timeout(Duration::from_millis(300), self.engine.next_event()).await
        {
            self.engine_event(e).await;
        }
        self.engine.shutdown().await;
    }
}

/// The nurse on the call and everyone watching the floor.
fn audience(agent: Option<i64>) -> Audience {
    Audience::UsersAndRoles(
        agent.into_iter().collect(),
        vec![Role::Supervisor, Role::Admin],
    )
}

/// A call id that sorts by time and is safe in a file name.
fn new_call_id(now: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "{}-{:08x}",
        now.format("%Y%m%dT%H%M%S"),
        rand::random::<u32>()
    )
}
