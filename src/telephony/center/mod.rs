//! The call center actor: one task owns the SIP engine and every live call. HTTP handlers send
//! it [`CallCommand`]s through a cloneable [`CallCenter`]; engine events (progress, answer,
//! DTMF, recordings, hang-ups) come back to the same task, which writes the rows, disposes
//! tasks of unanswered calls and publishes `call.*` live events. One owner means no locks and
//! no two places that could disagree about a call's state.

mod agents;
mod commands;
mod desk;
mod dial;
mod events;
mod inbound;
mod robot;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::Instant;

use super::bridge::{self, BridgeControl, SipSide};
use super::call_state::CallState;
use super::outcome::end_record;
use super::routing::{self, Contact, DialRefusal};
use super::{MonitorMode, Prompts};
use crate::auth::role::Role;
use crate::calls::{AgentSource, Engine, EngineEvent, LegAudio};
use crate::events::{Audience, LiveEvent};
use crate::sip::ua::{CallEvent, CallHandle, CallOutcome, RegistrationState, TrunkHealth};
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
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    #[error("only the call's own nurse or a supervisor may do that")]
    NotYourCall,
    #[error("the SIP engine: {0}")]
    Sip(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the call center has stopped")]
    Stopped,
}

impl CallCenterError {
    /// The stable code of a dial refused for the patient's sake (calling hours, do-not-call),
    /// the same on the REST API and the agent socket, so the console can say why clearly.
    pub fn refusal_code(&self) -> Option<&'static str> {
        match self {
            CallCenterError::Refused(DialRefusal::OutsideCallingHours { .. }) => {
                Some("outside_calling_hours")
            }
            CallCenterError::Refused(DialRefusal::DoNotCall) => Some("do_not_call"),
            _ => None,
        }
    }
}

/// What a handler asks of the call center.
#[derive(Debug)]
pub enum CallCommand {
    Dial {
        task_id: i64,
        contact: Option<Contact>,
    },
    /// A call to a patient outside the queue (a doctor following up an escalation).
    DialPatient {
        patient_id: i64,
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
    /// A robot call for a robot task (issue 24; the robot dialer sends it).
    DialRobot(RobotDial),
}

pub use robot::RobotDial;

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
    agents_changed: Arc<Notify>,
    sip_counters: Arc<crate::calls::counters::SipCounters>,
    media_counters: Arc<crate::calls::counters::MediaCounters>,
}

/// What the admin page shows about the trunk.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TrunkStatus {
    pub enabled: bool,
    pub sip_addr: Option<String>,
    pub trunk: Option<String>,
    pub registration: Option<String>,
    /// What the last OPTIONS ping to the trunk found (`None`: not pinged yet, or pings off).
    pub trunk_reachable: Option<bool>,
    /// Round trip of the last answered ping, milliseconds.
    pub trunk_rtt_ms: Option<u64>,
    /// Status of the last answered ping (a PBX may answer 405 and still route calls).
    pub trunk_ping_status: Option<u16>,
    pub live_calls: usize,
    /// Agents' desk phones may register (`sip.registrar`).
    pub registrar: bool,
    /// Agents whose desk phone may register (extension and SIP password set).
    pub agent_accounts: usize,
    /// Desk phone bindings now (details: `GET /api/v1/telephony/registrations`).
    pub desk_phones: usize,
    /// New INVITEs refused at the door since start, by reason (`sip::ua::admission`).
    pub refused_invites: crate::calls::counters::RefusedInvites,
    /// Answered calls whose patient side went silent past `sip.silence_alert_seconds`.
    pub silent_legs: u64,
}

/// The actor's end of the handle; [`run`] consumes it.
pub struct CallCenterInbox {
    rx: mpsc::Receiver<Request>,
    status: watch::Sender<TrunkStatus>,
    agents_changed: Arc<Notify>,
}

impl CallCenter {
    pub fn channel() -> (CallCenter, CallCenterInbox) {
        let (tx, rx) = mpsc::channel(256);
        let (status_tx, status) = watch::channel(TrunkStatus::default());
        let agents_changed = Arc::new(Notify::new());
        (
            CallCenter {
                tx,
                status,
                agents_changed: agents_changed.clone(),
                sip_counters: Arc::default(),
                media_counters: Arc::default(),
            },
            CallCenterInbox {
                rx,
                status: status_tx,
                agents_changed,
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
        let mut status = self.status.borrow().clone();
        status.refused_invites = self.sip_counters.snapshot();
        status
    }

    /// Where the engine tallies refused INVITEs (read by [`CallCenter::status`]).
    pub fn sip_counters(&self) -> Arc<crate::calls::counters::SipCounters> {
        self.sip_counters.clone()
    }

    /// Where the engine tallies media (RTP in/out, latch drops, silent legs).
    pub fn media_counters(&self) -> Arc<crate::calls::counters::MediaCounters> {
        self.media_counters.clone()
    }

    /// An agent's SIP credentials changed: the registrar takes them at once (it also looks
    /// for changes made by the command line every few seconds).
    pub fn agents_changed(&self) {
        self.agents_changed.notify_one();
    }
}

struct LiveCall {
    id: String,
    task_id: Option<i64>,
    patient_id: Option<i64>,
    agent_id: Option<i64>,
    inbound: bool,
    /// Moved only through [`Center::set_state`] (and to `Ended` when the call is dropped).
    state: CallState,
    bridge: Option<mpsc::Sender<BridgeControl>>,
    /// Voicemail: hang up when this passes.
    deadline: Option<Instant>,
    /// Users whose line is attached to this call as monitors.
    monitors: Vec<i64>,
    /// The nurse hung up before an answer and is free again; the SIP leg is still being
    /// cancelled (a CANCEL may only follow a provisional response, RFC 3261 §9.1).
    released: bool,
    /// The agent's desk phone leg, when she takes the call on her desk phone.
    desk: Option<CallHandle>,
    /// A robot call: its task, which gets the call's answer, keys and end.
    robot: Option<mpsc::Sender<super::robot::RobotInput>>,
}

impl LiveCall {
    /// A call a nurse places to a patient; `state` is `Dialing`, or `AgentRinging` while her
    /// desk phone rings first.
    fn outbound(
        id: String,
        task_id: Option<i64>,
        target: &routing::DialTarget,
        agent_id: i64,
        state: CallState,
    ) -> LiveCall {
        LiveCall {
            id,
            task_id,
            patient_id: Some(target.patient_id),
            agent_id: Some(agent_id),
            inbound: false,
            state,
            bridge: None,
            deadline: None,
            monitors: Vec::new(),
            released: false,
            desk: None,
            robot: None,
        }
    }

    /// A patient's call-back, ringing until a nurse (or voicemail) takes it.
    fn inbound(id: String, patient_id: Option<i64>) -> LiveCall {
        LiveCall {
            id,
            task_id: None,
            patient_id,
            agent_id: None,
            inbound: true,
            state: CallState::Ringing,
            bridge: None,
            deadline: None,
            monitors: Vec::new(),
            released: false,
            desk: None,
            robot: None,
        }
    }

    /// Bridged to the nurse's line by the bridge task `control` drives.
    fn bridged(mut self, control: mpsc::Sender<BridgeControl>) -> LiveCall {
        self.bridge = Some(control);
        self
    }

    /// Taken on the nurse's desk phone leg `desk`.
    fn on_desk(mut self, desk: CallHandle) -> LiveCall {
        self.desk = Some(desk);
        self
    }

    fn direction(&self) -> &'static str {
        if self.inbound {
            "inbound"
        } else {
            "outbound"
        }
    }
}

/// What the call center uses of the application, and nothing else.
#[derive(Clone)]
pub struct CenterHandles {
    pub store: crate::store::Store,
    pub config: std::sync::Arc<crate::config::Config>,
    pub clock: crate::clock::Clock,
    /// The hospital's zone and calling hours (dial-time refusals).
    pub locale: crate::followup::retry::Locale,
    pub events: crate::events::EventBus,
    /// Agents' WebRTC lines, which calls are bridged to.
    pub lines: crate::webrtc::Lines,
    pub recordings: crate::store::recording_files::RecordingsRoot,
    /// Wakes the transcription pipeline when a recording is finalized.
    pub transcription: crate::service::transcription::Wake,
    /// The center's own handle: its counters and status.
    pub calls: CallCenter,
    /// Scripts and the calendar, for robot calls' answers (issue 24).
    pub scripts: std::sync::Arc<crate::followup::script::ScriptCatalog>,
    pub calendar: std::sync::Arc<crate::followup::pathway::Calendar>,
}

struct Center {
    state: CenterHandles,
    engine: Engine,
    prompts: Prompts,
    calls: HashMap<CallHandle, LiveCall>,
    /// Legs to agents' desk phones, by their own handle.
    desk: HashMap<CallHandle, desk::DeskLeg>,
    /// Played to a nurse on her desk phone while the patient's phone rings.
    ringback: Arc<Vec<i16>>,
    /// The accounts last given to the registrar (to notice changes).
    agents: Vec<crate::sip::registrar::AgentAccount>,
    /// Desk phone bindings now (extension, contact).
    bindings: HashSet<(String, String)>,
    /// When a failed desk-phone login of (user, address) was last audited.
    auth_audited: HashMap<String, Instant>,
    status: watch::Sender<TrunkStatus>,
    /// Robot calls' requests (hang up, find a nurse), and what each robot call uses.
    robots: robot::Robots,
}

// one value per loop turn, moved straight into its handler: boxing would buy nothing
#[allow(clippy::large_enum_variant)]
enum Input {
    Request(Request),
    Engine(EngineEvent),
    Tick,
    AgentsChanged,
    Robot(String, super::robot::RobotRequest),
    Stop,
}

/// Serves commands and engine events until `stop` turns true, then hangs up every call and
/// waits for the recordings to close.
pub async fn run(
    inbox: CallCenterInbox,
    state: CenterHandles,
    engine: Option<Engine>,
    prompts: Prompts,
    mut stop: watch::Receiver<bool>,
) {
    let CallCenterInbox {
        mut rx,
        status,
        agents_changed,
    } = inbox;
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
        trunk_reachable: None,
        trunk_rtt_ms: None,
        trunk_ping_status: None,
        live_calls: 0,
        registrar: sip.registrar,
        agent_accounts: 0,
        desk_phones: 0,
        refused_invites: Default::default(),
        silent_legs: 0,
    });
    let mut center = Center {
        state,
        engine,
        prompts,
        calls: HashMap::new(),
        desk: HashMap::new(),
        ringback: crate::telephony::desk_line::ringback_tone(),
        agents: Vec::new(),
        bindings: HashSet::new(),
        auth_audited: HashMap::new(),
        status,
        robots: robot::Robots::new(),
    };
    if center.state.config.sip.registrar {
        center.load_agents(true).await;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut ticks = 0u64;
    loop {
        let input = tokio::select! {
            r = rx.recv() => r.map_or(Input::Stop, Input::Request),
            e = center.engine.next_event() => e.map_or(Input::Stop, Input::Engine),
            _ = tick.tick() => Input::Tick,
            _ = agents_changed.notified() => Input::AgentsChanged,
            r = center.robots.next_request() => Input::Robot(r.0, r.1),
            _ = stop.changed() => Input::Stop,
        };
        match input {
            Input::Request(r) => {
                let result = center.request(&r.user, r.call_id, r.command).await;
                let _ = r.reply.send(result);
            }
            Input::Engine(e) => center.engine_event(e).await,
            Input::Tick => {
                center.expire_voicemails().await;
                ticks += 1;
                // changes made with `suifang user sip` while the server runs
                if ticks % 5 == 0 && center.state.config.sip.registrar {
                    center.load_agents(false).await;
                }
            }
            Input::AgentsChanged => {
                if center.state.config.sip.registrar {
                    center.load_agents(false).await;
                }
            }
            Input::Robot(call_id, request) => center.robot_request(&call_id, request).await,
            Input::Stop => break,
        }
        let live = center.calls.len();
        center.status.send_modify(|s| s.live_calls = live);
    }
    center.shutdown().await;
}

impl Center {
    async fn audit(
        &self,
        user: &User,
        action: &str,
        call_id: &str,
        detail: String,
    ) -> Result<(), StoreError> {
        let who = crate::store::audit::Actor::user(user);
        let (action, id, now) = (format!("call_{action}"), call_id.to_owned(), self.now());
        self.state
            .store
            .write(move |tx| {
                crate::store::audit::append(tx, &who, &action, "call", Some(&id), &detail, now)
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

impl Center {
    /// Starts the bridge task between a SIP leg's `ends` and the nurse's `line` (the consent
    /// announcement first); the returned sender controls it.
    fn spawn_bridge(
        &self,
        ends: bridge::BridgeEnds,
        line: crate::webrtc::LineMedia,
    ) -> mpsc::Sender<BridgeControl> {
        let (control, control_rx) = mpsc::channel(8);
        tokio::spawn(bridge::run(
            ends,
            line,
            self.prompts.consent.clone(),
            control_rx,
        ));
        control
    }

    /// Ends the row of a call that never reached the patient (not placed, or the nurse's desk
    /// phone not answered): no disposition, no SIP status.
    async fn end_unplaced(&self, call_id: &str, reason: &str) -> Result<(), StoreError> {
        let (id, reason, now) = (call_id.to_owned(), reason.to_owned(), self.now());
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
            .await
    }

    /// A new call id: the hospital-local time it was made (so it sorts by time, and its date
    /// is the recording's folder: `media::recorder::recording_path`) and a random part; safe in
    /// a file name.
    fn new_call_id(&self) -> String {
        call_id_at(self.state.clock.now().with_timezone(&self.state.locale.tz))
    }
}

fn call_id_at(local: chrono::DateTime<chrono_tz::Tz>) -> String {
    format!(
        "{}-{:08x}",
        local.format("%Y%m%dT%H%M%S"),
        rand::random::<u32>()
    )
}
