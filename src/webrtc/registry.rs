//! Which agent has which line: one task owns the map and starts, finds and forgets line tasks.
//!
//! Per-frame work never passes through here: sockets and the SIP bridge get a line's own
//! channel (via [`Lines::connect`] / [`Lines::attach`]) and talk to it directly.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use webrtc::peer_connection::RTCIceCandidateInit;

use super::error::LineError;
use super::frame::LineMedia;
use super::line::{Agent, Line, LineCommand, CLIENT_EVENTS};
use super::peer::PeerSettings;
use super::signaling::ServerMessage;
use crate::config::{IceServer, WebRtcConfig};

/// Commands queued for one line task.
const LINE_COMMANDS: usize = 32;
/// Requests queued for the registry.
const REGISTRY_COMMANDS: usize = 256;
/// How long shutdown waits for lines to close their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

enum RegistryCommand {
    Connect {
        agent: Agent,
        reply: oneshot::Sender<Result<ClientLink, LineError>>,
    },
    Attach {
        agent_id: i64,
        require_connected: bool,
        reply: oneshot::Sender<Result<LineMedia, LineError>>,
    },
    Ended {
        agent_id: i64,
        task: u64,
    },
}

/// Cheap, cloneable handle to the agent lines; lives in `AppState`.
#[derive(Clone)]
pub struct Lines {
    tx: mpsc::Sender<RegistryCommand>,
    ice_servers: Arc<Vec<IceServer>>,
    shutdown: watch::Receiver<bool>,
}

/// The registry task; spawn [`LineRegistry::run`] once at start-up.
pub struct LineRegistry {
    rx: mpsc::Receiver<RegistryCommand>,
    tx: mpsc::Sender<RegistryCommand>,
    settings: Arc<PeerSettings>,
    shutdown: watch::Receiver<bool>,
}

/// A browser socket's link to its line: commands go to the line, messages come back on
/// `events`. Call [`ClientLink::gone`] when the socket closes.
pub struct ClientLink {
    line: mpsc::Sender<LineCommand>,
    id: u64,
    pub events: mpsc::Receiver<ServerMessage>,
}

impl Lines {
    /// Creates the handle and the registry task (not yet running). `shutdown` turning `true`
    /// closes every line.
    pub fn new(config: WebRtcConfig, shutdown: watch::Receiver<bool>) -> (Lines, LineRegistry) {
        let (tx, rx) = mpsc::channel(REGISTRY_COMMANDS);
        let ice_servers = Arc::new(config.ice_servers.clone());
        let registry = LineRegistry {
            rx,
            tx: tx.clone(),
            settings: Arc::new(PeerSettings::new(config)),
            shutdown: shutdown.clone(),
        };
        (
            Lines {
                tx,
                ice_servers,
                shutdown,
            },
            registry,
        )
    }

    /// STUN/TURN servers for the browser.
    pub fn ice_servers(&self) -> &[IceServer] {
        &self.ice_servers
    }

    /// Resolves when the server starts shutting down (sockets close then).
    pub fn shutdown(&self) -> watch::Receiver<bool> {
        self.shutdown.clone()
    }

    /// Links a browser socket to the agent's line, starting the line if needed. A previous
    /// socket of the same agent is told it was replaced.
    pub async fn connect(&self, agent: Agent) -> Result<ClientLink, LineError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(RegistryCommand::Connect { agent, reply })
            .await
            .map_err(|_| LineError::ShuttingDown)?;
        rx.await.map_err(|_| LineError::ShuttingDown)?
    }

    /// Attaches audio to the agent's line: the SIP bridge calls this when a call is answered
    /// (with `require_connected = false`, so a call survives a console reload), the line check
    /// with `true`. Only one attachment at a time ([`LineError::Busy`]); dropping the returned
    /// [`LineMedia`] detaches.
    pub async fn attach(
        &self,
        agent_id: i64,
        require_connected: bool,
    ) -> Result<LineMedia, LineError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(RegistryCommand::Attach {
                agent_id,
                require_connected,
                reply,
            })
            .await
            .map_err(|_| LineError::ShuttingDown)?;
        rx.await.map_err(|_| LineError::Gone)?
    }
}

impl ClientLink {
    async fn send(&self, command: LineCommand) -> Result<(), LineError> {
        self.line.send(command).await.map_err(|_| LineError::Gone)
    }

    /// Replaces the line's peer connection with one answering `sdp`; the answer arrives on
    /// `events`.
    pub async fn offer(&self, sdp: String) -> Result<(), LineError> {
        self.send(LineCommand::Offer { sdp }).await
    }

    /// Hands the line a trickled browser candidate.
    pub async fn candidate(&self, init: RTCIceCandidateInit) -> Result<(), LineError> {
        self.send(LineCommand::Candidate(init)).await
    }

    /// Closes the line (the console's "disconnect"); the socket stays open.
    pub async fn close_line(&self) -> Result<(), LineError> {
        self.send(LineCommand::Close).await
    }

    /// The socket closed: an idle line closes with it, an attached one waits for a reload.
    pub async fn gone(self) {
        if self
            .send(LineCommand::ClientGone { id: self.id })
            .await
            .is_err()
        {
            tracing::debug!("line already closed when its socket left");
        }
    }
}

struct Entry {
    tx: mpsc::Sender<LineCommand>,
    task: u64,
    join: JoinHandle<()>,
}

impl LineRegistry {
    /// Serves until shutdown, then closes every line (waiting up to 3 s for them).
    pub async fn run(mut self) {
        let mut lines: HashMap<i64, Entry> = HashMap::new();
        let mut next_id = 0u64;
        loop {
            tokio::select! {
                _ = self.shutdown.changed() => break,
                command = self.rx.recv() => {
                    let Some(command) = command else { break };
                    next_id += 1;
                    self.handle(&mut lines, command, next_id);
                }
            }
        }
        tracing::info!(lines = lines.len(), "closing agent lines");
        for entry in lines.values() {
            if entry.tx.try_send(LineCommand::Close).is_err() {
                tracing::debug!("line busy or gone at shutdown");
            }
        }
        for (_, entry) in lines.drain() {
            if tokio::time::timeout(SHUTDOWN_GRACE, entry.join)
                .await
                .is_err()
            {
                tracing::warn!("a line did not close within the grace period");
            }
        }
    }

    fn handle(&self, lines: &mut HashMap<i64, Entry>, command: RegistryCommand, id: u64) {
        match command {
            RegistryCommand::Connect { agent, reply } => {
                let (events_tx, events) = mpsc::channel(CLIENT_EVENTS);
                let link = |line| ClientLink { line, id, events };
                let command = LineCommand::Client {
                    id,
                    events: events_tx,
                };
                let command = match lines.get(&agent.id) {
                    None => command,
                    Some(entry) => match entry.tx.try_send(command) {
                        Ok(()) => {
                            let _ = reply.send(Ok(link(entry.tx.clone())));
                            return;
                        }
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            let _ = reply.send(Err(LineError::Busy));
                            return;
                        }
                        // the line just ended: start a new one
                        Err(mpsc::error::TrySendError::Closed(command)) => command,
                    },
                };
                let entry = self.spawn_line(agent.clone(), id);
                if entry.tx.try_send(command).is_err() {
                    tracing::error!("a new line refused its first command");
                }
                let line = entry.tx.clone();
                lines.insert(agent.id, entry);
                let _ = reply.send(Ok(link(line)));
            }
            RegistryCommand::Attach {
                agent_id,
                require_connected,
                reply,
            } => match lines.get(&agent_id) {
                None => {
                    let _ = reply.send(Err(LineError::NoLine));
                }
                Some(entry) => {
                    if let Err(e) = entry.tx.try_send(LineCommand::Attach {
                        require_connected,
                        reply,
                    }) {
                        let (mpsc::error::TrySendError::Full(cmd)
                        | mpsc::error::TrySendError::Closed(cmd)) = e;
                        if let LineCommand::Attach { reply, .. } = cmd {
                            let _ = reply.send(Err(LineError::Busy));
                        }
                    }
                }
            },
            RegistryCommand::Ended { agent_id, task } => {
                if lines.get(&agent_id).is_some_and(|e| e.task == task) {
                    lines.remove(&agent_id);
                }
            }
        }
    }

    fn spawn_line(&self, agent: Agent, task: u64) -> Entry {
        let (tx, rx) = mpsc::channel(LINE_COMMANDS);
        let line = Line::new(agent.clone(), Arc::clone(&self.settings), rx);
        let registry = self.tx.clone();
        let shutdown = self.shutdown.clone();
        let join = tokio::spawn(async move {
            line.run(shutdown).await;
            // the registry may itself be gone at shutdown
            let _ = registry
                .send(RegistryCommand::Ended {
                    agent_id: agent.id,
                    task,
                })
                .await;
        });
        Entry { tx, task, join }
    }
}
