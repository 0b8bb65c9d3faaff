//! The engine task: SIP socket + endpoint, call commands, media task lifecycle.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::config::EngineConfig;
use super::counters::{MediaCounters, RefusalLog};
use super::event::EngineEvent;
use super::leg::LegAudio;
use super::media_session::{bind_rtp, MediaCommand, MediaSession, RtpSockets};
use super::sip_io::SipIo;
use super::tcp::{TcpEvent, TcpSide};
use super::tls::TlsMaterial;
use super::CallsError;
use crate::media::recorder::recording_path;
use crate::rtp::srtp::MasterKey;
use crate::sip::negotiate::{LocalMedia, NegotiatedMedia};
use crate::sip::registrar::Registrar;
use crate::sip::sdes::SrtpPolicy;
use crate::sip::ua::{
    CallEvent, CallHandle, CallOptions, Endpoint, EndpointConfig, EndpointOutput, Transport,
};
use crate::sip::uri::SipUri;

pub(super) enum Command {
    Place {
        target: SipUri,
        options: CallOptions,
        leg: LegAudio,
        reply: oneshot::Sender<Result<CallHandle, CallsError>>,
    },
    /// Desk phones: accounts, bindings, ringing (see `agents.rs`).
    Agents(super::agents::AgentCommand),
    Answer {
        call: CallHandle,
        leg: LegAudio,
        reply: oneshot::Sender<Result<(), CallsError>>,
    },
    Mute(CallHandle, bool),
    Hold(CallHandle, Option<Arc<Vec<i16>>>),
    Reject(CallHandle, u16),
    Hangup(CallHandle),
    Dtmf(CallHandle, String),
    Shutdown,
}

struct CallMedia {
    sockets: Option<RtpSockets>,
    /// Our SRTP key, when the call's media is SDES-SRTP.
    srtp_key: Option<MasterKey>,
    leg: Option<LegAudio>,
    stop: Option<watch::Sender<bool>>,
    media: Option<mpsc::Sender<MediaCommand>>,
    task: Option<JoinHandle<()>>,
}

/// Handle to a running engine. Dropping it (or [`Engine::shutdown`]) stops the engine task.
#[derive(Debug)]
pub struct Engine {
    commands: mpsc::Sender<Command>,
    events: mpsc::Receiver<EngineEvent>,
    sip_addr: SocketAddr,
    counters: Arc<MediaCounters>,
    task: JoinHandle<()>,
}

impl Engine {
    /// Binds the SIP socket and starts the engine task.
    pub async fn start(cfg: EngineConfig) -> Result<Self, CallsError> {
        let (socket, listener) =
            super::sip_io::bind_sip(cfg.sip_bind, cfg.transport.is_stream()).await?;
        let sip_addr = socket.local_addr().map_err(|source| CallsError::Io {
            what: "SIP local address".into(),
            source,
        })?;
        let tls = match (cfg.transport, &cfg.tls) {
            (Transport::Tls, Some(settings)) => Some(TlsMaterial::load(settings)?),
            (Transport::Tls, None) => {
                return Err(CallsError::Tls(super::TlsError::Rejected {
                    key: "sip.tls_certificate",
                    message: "SIP over TLS needs a certificate and key".into(),
                }))
            }
            _ => None,
        };
        let tcp = listener.map(|l| TcpSide::start(l, tls));
        let mut ep_cfg = EndpointConfig::new(sip_addr);
        ep_cfg.transport = cfg.transport;
        ep_cfg.timers.reliable = cfg.transport.is_stream();
        ep_cfg.timers.t1 = cfg.sip_t1;
        ep_cfg.srtp = cfg.srtp;
        ep_cfg.outbound_proxy = cfg.outbound_proxy;
        ep_cfg.from_user.clone_from(&cfg.from_user);
        ep_cfg.credentials.clone_from(&cfg.credentials);
        ep_cfg.ring_timeout = cfg.ring_timeout;
        ep_cfg.inbound = cfg.inbound.clone();
        let mut endpoint = Endpoint::new(ep_cfg);
        if let Some(r) = cfg.agent_registrar.clone() {
            endpoint.set_registrar(Some(Registrar::new(r, Instant::now().into_std())));
        }
        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        let (ev_tx, ev_rx) = mpsc::channel(1024);
        let io = SipIo {
            udp: socket,
            tcp,
            udp_peers: HashMap::new(),
        };
        let counters = cfg.media_counters.clone();
        let task = tokio::spawn(run(cfg, endpoint, io, cmd_rx, ev_tx, counters.clone()));
        Ok(Self {
            commands: cmd_tx,
            events: ev_rx,
            sip_addr,
            counters,
            task,
        })
    }

    /// The bound SIP address (useful with port 0).
    pub fn sip_addr(&self) -> SocketAddr {
        self.sip_addr
    }

    /// Packet and playout tallies over all calls (for benchmarks and health figures).
    pub fn media_counters(&self) -> Arc<MediaCounters> {
        self.counters.clone()
    }

    /// Places a call; `recording_id` names the WAV (the domain call id), `agent_audio` is 8 kHz
    /// PCM sent to the patient (silence after it ends) and recorded on the left channel.
    pub async fn place_call(
        &self,
        target: SipUri,
        recording_id: &str,
        agent_audio: Arc<Vec<i16>>,
    ) -> Result<CallHandle, CallsError> {
        self.place_call_leg(
            target,
            LegAudio::recorded_playing(recording_id, agent_audio),
        )
        .await
    }

    /// Places a call with explicit media wiring (live source, tap, optional recording), e.g.
    /// one side of [`super::bridge_pair`].
    pub async fn place_call_leg(
        &self,
        target: SipUri,
        leg: LegAudio,
    ) -> Result<CallHandle, CallsError> {
        self.place_call_with(target, CallOptions::default(), leg)
            .await
    }

    /// Places a call with per-call options, e.g. to a registered desk phone (its address, a
    /// caller name for its display, a shorter ring timeout).
    pub async fn place_call_with(
        &self,
        target: SipUri,
        options: CallOptions,
        leg: LegAudio,
    ) -> Result<CallHandle, CallsError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Place {
            target,
            options,
            leg,
            reply,
        })
        .await?;
        rx.await.map_err(|_| CallsError::EngineStopped)?
    }

    /// Answers an inbound call ([`CallEvent::Incoming`]) playing `agent_audio` (a prompt) and
    /// records it as `recording_id`. Unanswered inbound calls are refused with 480 after the
    /// ring timeout.
    pub async fn answer(
        &self,
        call: CallHandle,
        recording_id: &str,
        agent_audio: Arc<Vec<i16>>,
    ) -> Result<(), CallsError> {
        self.answer_leg(call, LegAudio::recorded_playing(recording_id, agent_audio))
            .await
    }

    /// Answers an inbound call with explicit media wiring (e.g. bridged to a nurse's leg).
    pub async fn answer_leg(&self, call: CallHandle, leg: LegAudio) -> Result<(), CallsError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Answer { call, leg, reply }).await?;
        rx.await.map_err(|_| CallsError::EngineStopped)?
    }

    /// Puts the remote party on hold with `music` (8 kHz PCM, looped) or resumes with `None`.
    pub async fn hold(
        &self,
        call: CallHandle,
        music: Option<Arc<Vec<i16>>>,
    ) -> Result<(), CallsError> {
        self.send(Command::Hold(call, music)).await
    }

    /// Mutes (sends silence instead of the source) or unmutes what this leg sends.
    pub async fn set_mute(&self, call: CallHandle, muted: bool) -> Result<(), CallsError> {
        self.send(Command::Mute(call, muted)).await
    }

    /// Refuses an inbound call with `status` (486 busy, 480 unavailable, 603 decline…).
    pub async fn reject(&self, call: CallHandle, status: u16) -> Result<(), CallsError> {
        self.send(Command::Reject(call, status)).await
    }

    /// Hangs up (CANCEL or BYE as appropriate).
    pub async fn hangup(&self, call: CallHandle) -> Result<(), CallsError> {
        self.send(Command::Hangup(call)).await
    }

    /// Sends keys (`0-9*#A-D`) to the patient as RFC 4733 events on an answered call.
    pub async fn send_dtmf(&self, call: CallHandle, keys: &str) -> Result<(), CallsError> {
        self.send(Command::Dtmf(call, keys.to_owned())).await
    }

    /// Hands a command to the engine task; the only error is that the task has stopped.
    pub(super) async fn send(&self, command: Command) -> Result<(), CallsError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| CallsError::EngineStopped)
    }

    /// Next event; `None` once the engine has stopped.
    pub async fn next_event(&mut self) -> Option<EngineEvent> {
        self.events.recv().await
    }

    /// Hangs up every call, closes recordings and stops the task.
    pub async fn shutdown(self) {
        let _ = self.commands.send(Command::Shutdown).await;
        let _ = self.task.await;
    }
}

async fn run(
    cfg: EngineConfig,
    mut ep: Endpoint,
    mut io: SipIo,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<EngineEvent>,
    counters: Arc<MediaCounters>,
) {
    let mut calls: HashMap<CallHandle, CallMedia> = HashMap::new();
    let mut buf = vec![0u8; 65_535];
    let mut shutting_down = false;
    let mut refusal_log = RefusalLog::default();
    if let Some(registrar) = cfg.registrar.clone() {
        if let Err(e) = ep.register(registrar, cfg.register_expires, Instant::now().into_std()) {
            tracing::warn!(error = %e, "cannot register");
        }
    }
    if let Some((target, every)) = cfg.trunk_keepalive.clone() {
        ep.keep_alive(target, every, Instant::now().into_std());
    }
    loop {
        // Outputs first: results of the previous turn (or of start-up registration).
        while let Some(out) = ep.poll_output() {
            match out {
                EndpointOutput::Transmit { to, data } => io.send(to, data).await,
                EndpointOutput::Registration(state) => {
                    tracing::info!(?state, "SIP registration");
                    let _ = events.send(EngineEvent::Registration(state)).await;
                }
                EndpointOutput::Event { call, event } => {
                    on_event(&cfg, &mut calls, &events, &counters, call, &event);
                    let _ = events.send(EngineEvent::Call { call, event }).await;
                }
                EndpointOutput::TrunkHealth(health) => {
                    let _ = events.send(EngineEvent::TrunkHealth(health)).await;
                }
                EndpointOutput::Registrar(e) => {
                    let _ = events.send(EngineEvent::Registrar(e)).await;
                }
                EndpointOutput::InviteRefused { source, refusal } => {
                    cfg.sip_counters.refused(refusal);
                    refusal_log.note(source, refusal, Instant::now().into_std());
                }
            }
        }
        if shutting_down && calls.is_empty() {
            break;
        }
        let wake = ep.poll_timeout().map(Instant::from_std);
        tokio::select! {
            Some(ev) = async {
                match io.tcp.as_mut() {
                    Some(t) => t.events.recv().await,
                    None => std::future::pending().await,
                }
            } => match ev {
                TcpEvent::Accepted(peer, id, writer) => {
                    if let Some(t) = io.tcp.as_mut() {
                        t.register(peer, id, writer);
                    }
                }
                TcpEvent::Message(data, from) => ep.handle_datagram(&data, from, Instant::now().into_std()),
                TcpEvent::Closed(peer, id) => {
                    if let Some(t) = io.tcp.as_mut() {
                        t.closed(peer, id);
                        tracing::debug!(%peer, open = t.open_connections(), "SIP TCP connection closed");
                    }
                }
                TcpEvent::ConnectFailed(peer, id, error) => {
                    if let Some(t) = io.tcp.as_mut() {
                        t.closed(peer, id);
                    }
                    // the calls waiting on it end now, not at Timer B
                    ep.transport_failed(peer, Instant::now().into_std());
                    let _ = events.send(EngineEvent::TransportFailed { peer, error }).await;
                }
            },
            r = io.udp.recv_from(&mut buf) => match r {
                Ok((n, from)) => {
                    io.heard_over_udp(from);
                    ep.handle_datagram(buf.get(..n).unwrap_or(&[]), from, Instant::now().into_std())
                }
                Err(e) => tracing::warn!(error = %e, "SIP receive failed"),
            },
            _ = async { match wake { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {
                ep.handle_timeout(Instant::now().into_std());
            }
            cmd = commands.recv(), if !shutting_down => match cmd {
                Some(Command::Place { target, options, leg, reply }) => {
                    let r = place(&cfg, &mut ep, &mut calls, (target, options), leg).await;
                    let _ = reply.send(r);
                }
                Some(Command::Agents(cmd)) => super::agents::handle(&mut ep, cmd),
                Some(Command::Answer { call, leg, reply }) => {
                    let r = answer(&cfg, &mut ep, &mut calls, call, leg).await;
                    let _ = reply.send(r);
                }
                Some(Command::Mute(call, muted)) => media_command(&calls, call, MediaCommand::Mute(muted)),
                Some(Command::Hold(call, music)) => media_command(&calls, call, MediaCommand::Hold(music)),
                Some(Command::Reject(call, status)) => ep.reject(call, status, Instant::now().into_std()),
                Some(Command::Hangup(call)) => ep.hangup(call, Instant::now().into_std()),
                Some(Command::Dtmf(call, keys)) => {
                    if let Some(tx) = calls.get(&call).and_then(|c| c.media.as_ref()) {
                        if tx.try_send(MediaCommand::Dtmf(keys)).is_err() {
                            tracing::warn!(?call, "media task busy; DTMF dropped");
                        }
                    }
                }
                Some(Command::Shutdown) | None => {
                    shutting_down = true;
                    for call in calls.keys().copied().collect::<Vec<_>>() {
                        ep.hangup(call, Instant::now().into_std());
                    }
                }
            },
        }
    }
}

async fn place(
    cfg: &EngineConfig,
    ep: &mut Endpoint,
    calls: &mut HashMap<CallHandle, CallMedia>,
    (target, options): (SipUri, CallOptions),
    leg: LegAudio,
) -> Result<CallHandle, CallsError> {
    let sockets = bind_rtp(cfg.rtp_ip, &cfg.rtp_ports).await?;
    let port = sockets
        .rtp
        .local_addr()
        .map_err(|source| CallsError::Io {
            what: "RTP local address".into(),
            source,
        })?
        .port();
    let mut local = LocalMedia::g711(cfg.rtp_ip, port, u64::from(rand::random::<u32>()));
    let srtp_key =
        (ep.srtp_policy(options.dest.is_some()) == SrtpPolicy::Mandatory).then(MasterKey::random);
    if let Some(key) = &srtp_key {
        local = local.with_srtp(key.clone());
    }
    let call = ep.place_call_with(target, local, options, Instant::now().into_std())?;
    calls.insert(
        call,
        CallMedia {
            sockets: Some(sockets),
            srtp_key,
            leg: Some(leg),
            stop: None,
            media: None,
            task: None,
        },
    );
    Ok(call)
}

fn on_event(
    cfg: &EngineConfig,
    calls: &mut HashMap<CallHandle, CallMedia>,
    events: &mpsc::Sender<EngineEvent>,
    counters: &Arc<MediaCounters>,
    call: CallHandle,
    event: &CallEvent,
) {
    match event {
        CallEvent::Progress {
            early_media: Some(media),
            ..
        } => {
            // 183 with SDP: record the patient side's announcements/ring-back from now on
            // (a "number not in service" message is evidence for the wrong-number outcome),
            // but send nothing until the call is answered.
            start_media(cfg, calls, events, counters, call, media, false);
        }
        CallEvent::Answered { media } => {
            let running = calls.get(&call).and_then(|c| c.media.as_ref());
            match running {
                Some(tx) => {
                    if tx.try_send(MediaCommand::Answered(media.clone())).is_err() {
                        tracing::warn!(?call, "media task busy; answer not applied");
                    }
                }
                None => start_media(cfg, calls, events, counters, call, media, true),
            }
        }
        CallEvent::MediaChanged { media } => {
            if let Some(tx) = calls.get(&call).and_then(|c| c.media.as_ref()) {
                if tx.try_send(MediaCommand::Update(media.clone())).is_err() {
                    tracing::warn!(?call, "media task busy; media update dropped");
                }
            }
        }
        CallEvent::Ended { .. } => {
            if let Some(cm) = calls.remove(&call) {
                if let Some(stop) = cm.stop {
                    let _ = stop.send(true);
                }
                drop(cm.task); // the task finishes on its own and reports the recording
            }
        }
        _ => {}
    }
}

async fn answer(
    cfg: &EngineConfig,
    ep: &mut Endpoint,
    calls: &mut HashMap<CallHandle, CallMedia>,
    call: CallHandle,
    leg: LegAudio,
) -> Result<(), CallsError> {
    let sockets = bind_rtp(cfg.rtp_ip, &cfg.rtp_ports).await?;
    let port = sockets
        .rtp
        .local_addr()
        .map_err(|source| CallsError::Io {
            what: "RTP local address".into(),
            source,
        })?
        .port();
    let mut local = LocalMedia::g711(cfg.rtp_ip, port, u64::from(rand::random::<u32>()));
    let srtp_key = (ep.call_srtp(call) == SrtpPolicy::Mandatory).then(MasterKey::random);
    if let Some(key) = &srtp_key {
        local = local.with_srtp(key.clone());
    }
    // Register the media first: answering emits Answered, which starts the media task.
    calls.insert(
        call,
        CallMedia {
            sockets: Some(sockets),
            srtp_key,
            leg: Some(leg),
            stop: None,
            media: None,
            task: None,
        },
    );
    if let Err(e) = ep.answer(call, local, Instant::now().into_std()) {
        calls.remove(&call);
        return Err(e.into());
    }
    Ok(())
}

/// Spawns the media task of a call (once; later changes go through its command channel).
fn start_media(
    cfg: &EngineConfig,
    calls: &mut HashMap<CallHandle, CallMedia>,
    events: &mpsc::Sender<EngineEvent>,
    counters: &Arc<MediaCounters>,
    call: CallHandle,
    media: &NegotiatedMedia,
    answered: bool,
) {
    let Some(cm) = calls.get_mut(&call) else {
        return;
    };
    let (Some(sockets), Some(leg)) = (cm.sockets.take(), cm.leg.take()) else {
        return;
    };
    let recording = match &leg.recording_id {
        None => None,
        Some(id) => {
            match recording_path(&cfg.recordings_dir, id, chrono::Utc::now().date_naive()) {
                Ok(p) => {
                    let _ = events.try_send(EngineEvent::RecordingStarted {
                        call,
                        path: p.clone(),
                    });
                    Some(p)
                }
                Err(e) => {
                    let _ = events.try_send(EngineEvent::MediaFailed {
                        call,
                        error: e.to_string(),
                    });
                    None
                }
            }
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let (media_tx, media_rx) = mpsc::channel(16);
    let session = MediaSession {
        call,
        sockets,
        media: media.clone(),
        answered,
        source: leg.source,
        tap: leg.tap,
        recording,
        ssrc: rand::random(),
        counters: counters.clone(),
        latch: cfg.rtp_latch,
        silence_alert: cfg.silence_alert,
        srtp_key: cm.srtp_key.clone(),
    };
    let tx = events.clone();
    cm.stop = Some(stop_tx);
    cm.media = Some(media_tx);
    cm.task = Some(tokio::spawn(async move {
        let event = match session.run(stop_rx, media_rx, tx.clone()).await {
            Ok(None) => return,
            Ok(Some(info)) => EngineEvent::Recording { call, info },
            Err(e) => EngineEvent::MediaFailed {
                call,
                error: e.to_string(),
            },
        };
        let _ = tx.send(event).await;
    }));
}

/// Forwards a command to a call's media task (dropped with a warning if it is not running or
/// its queue is full: media commands must never block the signalling loop).
fn media_command(calls: &HashMap<CallHandle, CallMedia>, call: CallHandle, cmd: MediaCommand) {
    match calls.get(&call).and_then(|c| c.media.as_ref()) {
        Some(tx) => {
            if tx.try_send(cmd).is_err() {
                tracing::warn!(?call, "media task busy; command dropped");
            }
        }
        None => tracing::warn!(?call, "no media for this call yet; command dropped"),
    }
}
