//! Starts the HTTP server and the background jobs, and drains them on shutdown.

mod workers;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::{router, AppState};
use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::followup::pathway::{PathwayCatalog, PathwayError};
use crate::store::{Store, StoreError};
use workers::Workers;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("pathways: {0}")]
    Pathways(#[from] PathwayError),
    #[error("scripts:\n{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Scripts(Vec<crate::followup::script::ScriptError>),
    #[error("background worker(s) died while the server ran: {0} (see the log)")]
    Workers(String),
    #[error("cannot listen on {addr}: {source} (set SUIFANG_HTTP_ADDR to a free address)")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Prompts(#[from] crate::telephony::prompts::PromptError),
    #[error("cannot start SIP on {addr}: {message} (set sip.bind / SUIFANG_SIP_BIND to a free address, or sip.enabled = false)")]
    Sip {
        addr: std::net::SocketAddr,
        message: String,
    },
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0} (set SUIFANG_AUDIT_KEY or audit.key_file)")]
    AuditAnchor(#[from] crate::store::audit_anchor::AnchorError),
}

/// Everything the server needs, opened and checked before it listens.
pub struct Prepared {
    pub state: AppState,
    /// Agent line registry; `serve` runs it and closes every line when shutdown starts.
    lines: crate::webrtc::LineRegistry,
    lines_stop: watch::Sender<bool>,
    calls_inbox: crate::telephony::center::CallCenterInbox,
    prompts: crate::telephony::Prompts,
}

pub fn prepare(config: Config) -> Result<Prepared, ServerError> {
    let clock = Clock::with_offset_seconds(config.clock.offset_seconds);
    if clock.is_shifted() {
        tracing::warn!(
            offset_seconds = config.clock.offset_seconds,
            "the server clock is shifted (clock.offset_seconds); for tests and drills only"
        );
    }
    let store = Store::open(&config.database_path(), clock.now().timestamp())?;
    let pathways = PathwayCatalog::load_dir(&config.prompts_dir.join("pathways"))?;
    let scripts = crate::followup::script::load_dir(&config.prompts_dir.join("scripts"))
        .map_err(ServerError::Scripts)?;
    for pathway in pathways.pathways.values() {
        for step in &pathway.steps {
            if scripts.get(&step.script).is_none() {
                return Err(ServerError::Pathways(PathwayError::Invalid {
                    path: pathway.code.clone(),
                    line: 1,
                    message: format!(
                        "step `{}` names script `{}`, which is not in prompts/scripts",
                        step.name.en, step.script
                    ),
                }));
            }
        }
    }
    // a `lab(NAME)` rule must read a lab of the catalogue, or it would never fire
    let labs = config.lab_catalog()?;
    let unknown_labs: Vec<crate::followup::script::ScriptError> = scripts
        .iter()
        .flat_map(|s| s.labs().into_iter().map(move |l| (s, l)))
        .filter(|(_, l)| labs.get(l.as_str()).is_none())
        .map(|(s, l)| crate::followup::script::ScriptError {
            file: s.source.clone(),
            line: 0,
            kind: crate::followup::script::ScriptErrorKind::BadField(format!(
                "a rule reads lab({l}), which is not in the lab catalogue (add [labs.{l}] to the config)"
            )),
        })
        .collect();
    if !unknown_labs.is_empty() {
        return Err(ServerError::Scripts(unknown_labs));
    }
    let prompts = if config.sip.enabled {
        let prompts =
            crate::telephony::Prompts::load(&config.prompts_dir.join("audio"), &config.sip)?;
        tracing::info!(prompts = %prompts.summary(), "audio prompts decoded");
        prompts
    } else {
        crate::telephony::Prompts::default()
    };
    tracing::info!(pathways = pathways.pathways.len(), scripts = scripts.len(), database = %config.database_path().display(), "storage ready");
    let (lines_stop, lines_rx) = watch::channel(false);
    let (lines, registry) = crate::webrtc::Lines::new(config.webrtc.clone(), lines_rx);
    let (calls, calls_inbox) = crate::telephony::CallCenter::channel();
    let state = AppState::new(
        store,
        Arc::new(config),
        clock,
        pathways,
        scripts,
        lines,
        calls,
    )?;
    Ok(Prepared {
        state,
        lines: registry,
        lines_stop,
        calls_inbox,
        prompts,
    })
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Rebuilds the queue now and then every `queue.rebuild_minutes`, until shutdown.
async fn queue_rebuilder(state: AppState, mut stop: watch::Receiver<bool>) {
    let every = std::time::Duration::from_secs(state.config.queue.rebuild_minutes.max(1) * 60);
    loop {
        let now = state.clock.now();
        match state
            .store
            .write(move |tx| crate::store::tasks::build_queue(tx, now))
            .await
        {
            Ok(b) => tracing::info!(
                entries = b.entries,
                newly_missed = b.newly_missed,
                "queue rebuilt"
            ),
            Err(e) => tracing::error!(error = %e, "queue rebuild failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// What the call center gets of the application.
fn center_handles(state: &AppState) -> crate::telephony::center::CenterHandles {
    crate::telephony::center::CenterHandles {
        store: state.store.clone(),
        config: state.config.clone(),
        clock: state.clock,
        locale: state.locale,
        events: state.events.clone(),
        lines: state.lines.clone(),
        recordings: state.recordings.clone(),
        transcription: state.transcription.clone(),
        calls: state.calls.clone(),
        scripts: state.scripts.clone(),
        calendar: state.calendar.clone(),
    }
}

/// Binds the SIP socket (when telephony is on), so a port in use stops the start-up.
async fn start_sip(state: &AppState) -> Result<Option<crate::calls::Engine>, ServerError> {
    let sip = &state.config.sip;
    if !sip.enabled {
        tracing::warn!("telephony is off (sip.enabled = false): calls are refused");
        return Ok(None);
    }
    let mut cfg = sip.engine_config(state.recordings.dir())?;
    cfg.sip_counters = state.calls.sip_counters();
    cfg.media_counters = state.calls.media_counters();
    let engine = crate::calls::Engine::start(cfg)
        .await
        .map_err(|e| ServerError::Sip {
            addr: sip.bind,
            message: e.to_string(),
        })?;
    match sip.trunk {
        Some(trunk) => tracing::info!(sip = %engine.sip_addr(), %trunk, "SIP ready"),
        None => {
            tracing::warn!(sip = %engine.sip_addr(), "SIP ready, but no trunk is configured (sip.trunk): outbound calls are refused")
        }
    }
    println!("suifang SIP is listening on udp:{}", engine.sip_addr());
    if sip.transport == crate::sip::ua::Transport::Tls {
        // the trunk is reached over TLS only; media per sip.srtp (validated at start)
        tracing::info!(srtp = ?sip.srtp_policy().ok(), "SIP over TLS to the trunk");
        println!("suifang SIP is listening on tls:{}", engine.sip_addr());
    }
    Ok(Some(engine))
}

/// Says which model transcribes finished calls (or why none does) and starts the pipeline.
fn start_transcription(
    state: &AppState,
    stop: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    use crate::service::transcription::{availability, run, Availability};
    let cfg = &state.config.transcription;
    match availability(cfg) {
        Availability::On(model) => {
            tracing::info!(
                model = %model.name,
                path = %model.path.display(),
                language = %cfg.language,
                workers = cfg.workers,
                threads = cfg.threads,
                "transcription on: finished recordings are transcribed with whisper model `{}`",
                model.name
            );
            let handles = crate::service::transcription::Handles {
                store: state.store.clone(),
                config: state.config.clone(),
                clock: state.clock,
                scripts: state.scripts.clone(),
                calendar: state.calendar.clone(),
                events: state.events.clone(),
                recordings: state.recordings.clone(),
                transcription: state.transcription.clone(),
            };
            Some(tokio::spawn(run(handles, model, stop)))
        }
        Availability::Off(why) => {
            tracing::warn!("transcription off: {why}; calls and recordings work without it");
            None
        }
    }
}

/// Starts the retention sweeper when a retention period is configured, and says what is kept.
fn start_retention(
    state: &AppState,
    stop: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let cfg = &state.config.recordings;
    if cfg.retention_days == 0 {
        tracing::info!("recordings are kept forever ([recordings] retention_days = 0)");
        return None;
    }
    println!(
        "recordings: audio is deleted after {} days (held recordings and those of patients with an open escalation are kept)",
        cfg.retention_days
    );
    Some(tokio::spawn(crate::service::retention::worker(
        state.store.clone(),
        state.recordings.clone(),
        state.clock,
        cfg.retention_days,
        std::time::Duration::from_secs(cfg.sweep_interval_minutes.max(1) * 60),
        stop,
    )))
}

/// Serves until `shutdown` resolves; prints where it listens.
/// The HL7 (MLLP) listener when `hl7.listen` is set; prints the bound address (port 0 works).
async fn start_hl7(
    state: &AppState,
    stop: watch::Receiver<bool>,
) -> Result<Option<tokio::task::JoinHandle<()>>, ServerError> {
    let Some(addr) = state.config.hl7.listen else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let bound = listener.local_addr()?;
    let service = crate::service::hl7::Hl7Service::new(
        &state.config,
        state.store.clone(),
        state.clock,
        state.pathways.clone(),
        state.scripts.clone(),
        state.calendar.clone(),
        state.events.clone(),
    )?;
    println!("suifang HL7 (MLLP) listening on {bound}");
    Ok(Some(tokio::spawn(crate::service::hl7::listen(
        listener,
        std::sync::Arc::new(service),
        stop,
    ))))
}

/// The results sender when `[hl7.results] target` is set. The completion trigger reads the
/// switch written here, so nothing is queued while no sender is configured.
async fn start_hl7_results(
    state: &AppState,
    stop: watch::Receiver<bool>,
) -> Result<Option<tokio::task::JoinHandle<()>>, ServerError> {
    let enabled = state.config.hl7.results.enabled();
    state
        .store
        .write(move |tx| crate::store::hl7_outbox::set_enabled(tx, enabled))
        .await?;
    let sender = crate::service::hl7_results::ResultsSender::new(
        &state.config,
        state.store.clone(),
        state.clock,
        state.scripts.clone(),
    )?;
    Ok(sender.map(|sender| {
        println!("suifang HL7 results go to {}", sender.target);
        tokio::spawn(crate::service::hl7_results::run(sender, stop))
    }))
}

pub async fn serve(
    prepared: Prepared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let state = prepared.state;
    let root = state.recordings.clone();
    let relativized = state
        .store
        .write(move |tx| root.relativize_rows(tx))
        .await?;
    let pathways = state.pathways.clone();
    let named = state
        .store
        .write(move |tx| crate::store::patients::fill_step_names_zh(tx, &pathways))
        .await?;
    if named > 0 {
        tracing::info!(
            tasks = named,
            "Chinese step names filled in from the pathways"
        );
    }
    if relativized > 0 {
        tracing::info!(
            rows = relativized,
            folder = %state.recordings.dir().display(),
            "recording paths now stored relative to the recordings folder"
        );
    }
    // before any call can start: close what a crash left open
    let recovery = crate::telephony::recovery::sweep(
        &state.store,
        &state.recordings,
        state.clock.now().timestamp(),
    )
    .await?;
    if recovery != crate::telephony::recovery::Recovery::default() {
        println!(
            "recovered after an unclean stop: {} recording(s) repaired, {} lost, {} call(s) marked interrupted",
            recovery.repaired,
            recovery.lost.len(),
            recovery.interrupted_calls.len()
        );
    }
    // the key is created at the first start; a broken key stops the start-up
    let anchor = crate::service::audit_anchor::open(&state.config, true)?;
    let engine = start_sip(&state).await?;
    // One shutdown: it begins when `shutdown` resolves or when a worker dies; from then on a
    // worker that ends has ended as asked. Agent lines (and their sockets) close as soon as it
    // begins, so open WebSockets do not hold the graceful shutdown open; the other workers stop
    // once the HTTP server has drained (`stop_tx`), so requests in flight still reach them.
    let (begun_tx, begun_rx) = watch::channel(false);
    let mut workers = Workers::new(begun_rx);
    workers.add("agent lines", Some(tokio::spawn(prepared.lines.run())));
    let lines_stop = prepared.lines_stop;
    let death = workers.first_death();
    let shutdown = async move {
        tokio::select! {
            _ = shutdown => {}
            name = death => tracing::error!(worker = name, "stopping: a background worker died"),
        }
        begun_tx.send_replace(true);
        let _ = lines_stop.send(true);
    };
    let addr = state.config.http.addr;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let local = listener.local_addr()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let call_center = tokio::spawn(crate::telephony::center::run(
        prepared.calls_inbox,
        center_handles(&state),
        engine,
        prepared.prompts,
        stop_rx.clone(),
    ));
    workers.add("call center", Some(call_center));
    let robot_dialer = crate::telephony::robot_dialer::DialerHandles {
        store: state.store.clone(),
        config: state.config.clone(),
        clock: state.clock,
        locale: state.locale,
        calls: state.calls.clone(),
    };
    let robot_dialer = tokio::spawn(crate::telephony::robot_dialer::run(
        robot_dialer,
        stop_rx.clone(),
    ));
    workers.add("robot dialer", Some(robot_dialer));
    let rebuilder = tokio::spawn(queue_rebuilder(state.clone(), stop_rx.clone()));
    workers.add("queue rebuilder", Some(rebuilder));
    let sla = tokio::spawn(crate::service::notify::sla_worker(
        state.store.clone(),
        state.events.clone(),
        state.clock,
        state.config.webhook.enabled(),
        state.calendar.clone(),
        std::time::Duration::from_secs(state.config.escalation.tick_seconds.max(1)),
        stop_rx.clone(),
    ));
    workers.add("escalation SLA timer", Some(sla));
    let webhook = tokio::spawn(crate::service::notify::webhook_worker(
        state.store.clone(),
        state.clock,
        state.config.webhook.clone(),
        stop_rx.clone(),
    ));
    workers.add("webhook sender", Some(webhook));
    if state.config.webhook.enabled() {
        tracing::info!("escalation webhook enabled");
    }
    let (store, clock) = (state.store.clone(), state.clock);
    let anchorer = anchor.clone().map(|anchor| {
        tokio::spawn(crate::service::audit_anchor::worker(
            state.store.clone(),
            state.clock,
            anchor,
            std::time::Duration::from_secs(state.config.audit.anchor_interval_seconds),
            stop_rx.clone(),
        ))
    });
    workers.add("audit anchor", anchorer);
    workers.add(
        "transcription",
        start_transcription(&state, stop_rx.clone()),
    );
    workers.add(
        "recording retention",
        start_retention(&state, stop_rx.clone()),
    );
    let metrics = match state.config.http.metrics_addr {
        None => None,
        Some(addr) => {
            let mut stop = stop_rx.clone();
            let (bound, task) = crate::api::metrics::serve(addr, state.calls.clone(), async move {
                let _ = stop.changed().await;
            })
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
            println!("suifang metrics on http://{bound}/metrics");
            Some(task)
        }
    };
    workers.add("metrics endpoint", metrics);
    workers.add("HL7 listener", start_hl7(&state, stop_rx.clone()).await?);
    workers.add(
        "HL7 results sender",
        start_hl7_results(&state, stop_rx.clone()).await?,
    );
    let outbox = crate::service::sms::OutboxHandles::new(
        state.store.clone(),
        state.clock,
        &state.config,
        local,
    );
    workers.add(
        "SMS outbox",
        Some(tokio::spawn(crate::service::sms::worker(
            outbox,
            stop_rx.clone(),
        ))),
    );
    tracing::info!(%local, "suifang listening");
    println!("suifang is listening on http://{local}/");
    let events = state.events.clone();
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // live streams never end by themselves: end them, or shutdown waits forever
            events.close();
        })
        .await?;
    let _ = stop_tx.send(true);
    let failed = workers.join().await;
    if let Some(anchor) = anchor {
        // last, so the rows every worker wrote while stopping are anchored too
        crate::service::audit_anchor::anchor_once(&store, clock, &anchor).await;
    }
    if !failed.is_empty() {
        return Err(ServerError::Workers(failed.join(", ")));
    }
    tracing::info!("suifang stopped");
    Ok(())
}
