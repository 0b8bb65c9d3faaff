//! `GET /api/v1/agent/ws`: the console's socket for the agent line (its WebRTC signaling, from
//! `webrtc`) and for call commands (to the call center).
//!
//! The session cookie authenticates the upgrade (the access middleware runs first). One socket
//! per agent holds the line; a newer socket (page reload, second tab) takes it over. Every
//! message that cannot be acted upon gets an `error` back; nothing a browser sends ends the
//! socket except closing it.

use std::path::PathBuf;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use webrtc::peer_connection::RTCIceCandidateInit;

mod messages;

use messages::{parse, CallRequest, ClientMessage};

use crate::api::csrf::same_origin;
use crate::api::error::ApiError;
use crate::api::session_user::{session_token, CurrentUser};
use crate::api::AppState;
use crate::clock::Clock;
use crate::store::users::session_user;
use crate::store::Store;
use crate::webrtc::line_check;
use crate::webrtc::signaling::{LineRequest, ServerMessage};
use crate::webrtc::{Agent, ClientLink, LineError, Lines};

/// Largest text frame accepted (an SDP offer with margin).
const MAX_FRAME_BYTES: usize = 64 * 1024;
/// How often an idle socket re-checks its login session (each message re-checks too).
const SESSION_RECHECK: std::time::Duration = std::time::Duration::from_secs(60);

/// Upgrades to the signaling socket after checking the request comes from our own pages.
pub async fn agent_ws(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    // Cross-site WebSocket hijacking defence: browsers always send `Origin` on WebSocket
    // handshakes, and it must name the host the page was served from.
    same_origin(&headers)?;
    let agent = Agent {
        id: user.id,
        name: user.username.clone(),
    };
    let session = Session {
        lines: state.lines.clone(),
        agent,
        recordings: state.recordings.dir().to_path_buf(),
        clock: state.clock,
        store: state.store.clone(),
        token_hash: session_token(&headers).map(|t| crate::auth::token_hash(&t)),
        calls: state.calls.clone(),
        events: state.events.clone(),
        user,
    };
    Ok(ws
        .max_message_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| session.run(socket)))
}

struct Session {
    lines: Lines,
    agent: Agent,
    recordings: PathBuf,
    clock: Clock,
    store: Store,
    /// The login session the upgrade was authorised with; a socket must not outlive it.
    token_hash: Option<String>,
    calls: crate::telephony::CallCenter,
    events: crate::events::EventBus,
    user: crate::store::users::User,
}

impl Session {
    async fn run(self, mut socket: WebSocket) {
        let mut shutdown = self.lines.shutdown();
        let hello = ServerMessage::Hello {
            agent: self.agent.name.clone(),
            ice_servers: self.lines.ice_servers().to_vec(),
        };
        let mut link = match self.lines.connect(self.agent.clone()).await {
            Ok(link) => link,
            Err(e) => {
                send(&mut socket, &ServerMessage::error(&e)).await;
                return;
            }
        };
        tracing::info!(agent = %self.agent.name, "console socket open");
        // replies of this socket itself (pong, errors, line check results)
        let (local_tx, mut local_rx) = mpsc::channel::<ServerMessage>(16);
        let mut check: Option<JoinHandle<()>> = None;
        let mut open = send(&mut socket, &hello).await;
        let mut recheck = tokio::time::interval(SESSION_RECHECK);
        recheck.reset();
        let mut live = self.events.subscribe();
        while open {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = recheck.tick() => {
                    if !self.session_valid().await {
                        send(&mut socket, &expired()).await;
                        break;
                    }
                }
                incoming = socket.recv() => match incoming {
                    Some(Ok(Message::Text(text))) => {
                        if !self.session_valid().await {
                            send(&mut socket, &expired()).await;
                            break;
                        }
                        self.on_text(text.as_str(), &link, &local_tx, &mut check).await;
                    }
                    Some(Ok(Message::Binary(_))) => {
                        open = send(&mut socket, &bad("send JSON text frames, not binary")).await;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {} // answered by axum
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                },
                Some(message) = link.events.recv() => {
                    let replaced = message == ServerMessage::Replaced;
                    open = send(&mut socket, &message).await && !replaced;
                }
                Some(message) = local_rx.recv() => open = send(&mut socket, &message).await,
                event = live.recv() => match event {
                    Ok(e) if e.name.starts_with("call.") && e.visible_to(&self.user) => {
                        let message = ServerMessage::CallEvent { name: e.name, data: e.data };
                        open = send(&mut socket, &message).await;
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "console socket fell behind the live events");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
            }
        }
        tracing::info!(agent = %self.agent.name, "console socket closed");
        if let Err(e) = socket.send(Message::Close(None)).await {
            tracing::debug!(error = %e, "socket already closed");
        }
        link.gone().await;
    }

    /// Whether the login session behind this socket is still valid (logout and expiry end
    /// the socket, not only new requests).
    async fn session_valid(&self) -> bool {
        let Some(hash) = self.token_hash.clone() else {
            return false;
        };
        let now = self.clock.now().timestamp();
        match self.store.read(move |c| session_user(c, &hash, now)).await {
            Ok(user) => user.is_some_and(|u| u.id == self.agent.id),
            Err(e) => {
                // a database hiccup must not drop a nurse's line mid-call
                tracing::warn!(error = %e, "cannot re-check the session; keeping the socket");
                true
            }
        }
    }

    async fn on_text(
        &self,
        text: &str,
        link: &ClientLink,
        local: &mpsc::Sender<ServerMessage>,
        check: &mut Option<JoinHandle<()>>,
    ) {
        let reply = |m: ServerMessage| {
            if local.try_send(m).is_err() {
                tracing::warn!("console socket is not reading its replies");
            }
        };
        let message = match parse(text) {
            Ok(m) => m,
            Err(error) => return reply(error),
        };
        let request = match message {
            ClientMessage::Call(command) => return self.spawn_call_command(command, local.clone()),
            ClientMessage::Line(request) => request,
        };
        let result = match request {
            LineRequest::Ping => {
                reply(ServerMessage::Pong);
                Ok(())
            }
            LineRequest::Offer { sdp } => link.offer(sdp).await,
            LineRequest::Candidate {
                candidate,
                sdp_mid,
                sdp_mline_index,
                username_fragment,
            } => {
                link.candidate(RTCIceCandidateInit {
                    candidate,
                    sdp_mid,
                    sdp_mline_index,
                    username_fragment,
                    url: None,
                })
                .await
            }
            LineRequest::HangupLine => link.close_line().await,
            LineRequest::LineCheck { seconds } => {
                if check.as_ref().is_some_and(|c| !c.is_finished()) {
                    Err(LineError::Busy)
                } else {
                    *check = Some(self.spawn_line_check(seconds, local.clone()));
                    Ok(())
                }
            }
        };
        if let Err(e) = result {
            reply(ServerMessage::error(&e));
        }
    }

    /// Runs a call command off the socket's loop (placing a call waits for the trunk) and
    /// sends back the call or the error.
    fn spawn_call_command(&self, message: CallRequest, notify: mpsc::Sender<ServerMessage>) {
        use crate::telephony::CallCommand;
        let (call_id, command) = match message {
            CallRequest::Dial { task_id, contact } => {
                (None, CallCommand::Dial { task_id, contact })
            }
            CallRequest::Hangup { call_id } => (Some(call_id), CallCommand::Hangup),
            CallRequest::Dtmf { call_id, digits } => (Some(call_id), CallCommand::Dtmf(digits)),
            CallRequest::Mute { call_id, muted } => (Some(call_id), CallCommand::Mute(muted)),
            CallRequest::Hold { call_id, held } => (Some(call_id), CallCommand::Hold(held)),
            CallRequest::Transfer { call_id, user_id } => {
                (Some(call_id), CallCommand::Transfer { to_user: user_id })
            }
            CallRequest::Monitor { call_id, mode } => (
                Some(call_id),
                mode.map_or(CallCommand::StopMonitor, CallCommand::Monitor),
            ),
        };
        let (calls, user) = (self.calls.clone(), self.user.clone());
        tokio::spawn(async move {
            let message = match calls.command(user, call_id, command).await {
                Ok(call) => ServerMessage::Call {
                    call: serde_json::json!(call),
                },
                Err(e) => ServerMessage::Error {
                    code: e.refusal_code().unwrap_or("call_failed"),
                    message: e.to_string(),
                },
            };
            let _ = notify.send(message).await;
        });
    }

    fn spawn_line_check(
        &self,
        seconds: u32,
        notify: mpsc::Sender<ServerMessage>,
    ) -> JoinHandle<()> {
        let lines = self.lines.clone();
        let agent = self.agent.clone();
        let recordings = self.recordings.clone();
        let now = self.clock.now();
        let mut shutdown: watch::Receiver<bool> = lines.shutdown();
        tokio::spawn(async move {
            let check = line_check::run(
                &lines,
                agent.id,
                &agent.name,
                seconds,
                &recordings,
                now,
                &notify,
            );
            let message = tokio::select! {
                _ = shutdown.changed() => return,
                outcome = check => match outcome {
                    Ok(done) => {
                        tracing::info!(agent = %agent.name, path = %done.relative_path, rms = done.rms, frames = done.frames, "line check done");
                        ServerMessage::LineCheckDone { path: done.relative_path, rms: done.rms }
                    }
                    Err(e) => ServerMessage::error(&e),
                },
            };
            if notify.send(message).await.is_err() {
                tracing::debug!("line check finished after its socket closed");
            }
        })
    }
}

fn expired() -> ServerMessage {
    ServerMessage::Error {
        code: "session_expired",
        message: "your login session ended; log in again".into(),
    }
}

fn bad(message: &str) -> ServerMessage {
    ServerMessage::Error {
        code: "bad_message",
        message: message.into(),
    }
}

/// Sends one message; `false` once the socket is gone.
async fn send(socket: &mut WebSocket, message: &ServerMessage) -> bool {
    socket
        .send(Message::Text(message.to_json().into()))
        .await
        .is_ok()
}
