//! One agent's line: a task that owns the agent's current browser connection, the socket it
//! reports to, and the audio attachment (a call or a line check).
//!
//! The attachment outlives connections: a page reload replaces the peer connection (new offer,
//! new generation) while the call stays attached, and audio resumes when the new connection is
//! up. Everything is owned by this one task; others talk to it through [`LineCommand`]s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::rtp;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::MissedTickBehavior;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::peer_connection::RTCIceCandidateInit;

use super::error::LineError;
use super::frame::{
    next_paced, AudioFrame, FrameRing, LineMedia, FRAME_DURATION, MAX_TO_AGENT_BACKLOG,
    MEDIA_CHANNEL_FRAMES,
};
use super::peer::{self, Peer, PeerEvent, PeerSettings};
use super::signaling::{LineState, ServerMessage};

/// Frames waiting for a slow `from_agent` consumer before the oldest is dropped (160 ms).
const FROM_AGENT_RING: usize = 8;
/// `from_agent` itself stays short so the ring, not the channel, holds the backlog: only the
/// ring can drop its oldest frame.
const FROM_AGENT_CHANNEL: usize = 2;
/// Messages queued for a browser socket; a socket that cannot keep up loses messages rather
/// than stalling the line.
pub(crate) const CLIENT_EVENTS: usize = 128;

/// Who a line belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Agent {
    /// `users.id`.
    pub id: i64,
    /// Username, for logs and line-check file names.
    pub name: String,
}

/// Requests to a line task.
#[derive(Debug)]
pub(crate) enum LineCommand {
    /// A browser socket took the line over; messages for the browser go to `events`.
    Client {
        id: u64,
        events: mpsc::Sender<ServerMessage>,
    },
    /// That socket closed.
    ClientGone {
        id: u64,
    },
    /// A new offer: replaces the peer connection; the answer goes to the current socket.
    Offer {
        sdp: String,
    },
    Candidate(RTCIceCandidateInit),
    Attach {
        require_connected: bool,
        reply: oneshot::Sender<Result<LineMedia, LineError>>,
    },
    Close,
}

struct Client {
    id: u64,
    events: mpsc::Sender<ServerMessage>,
}

struct Attachment {
    from_agent: mpsc::Sender<AudioFrame>,
    to_agent: mpsc::Receiver<AudioFrame>,
    ring: FrameRing,
}

impl Attachment {
    /// Moves waiting frames into `from_agent` as far as it has room.
    fn flush(&mut self) {
        while let Some(frame) = self.ring.pop() {
            match self.from_agent.try_send(frame) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(frame)) => {
                    // keep it first in line: order matters more than one frame
                    self.ring.unpop(frame);
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
    }
}

/// Outgoing RTP numbering, continuous across pauses and reconnections of the same peer.
struct RtpClock {
    sequence: u16,
    timestamp: u32,
    last_sent: Option<Instant>,
}

impl RtpClock {
    fn new() -> RtpClock {
        RtpClock {
            sequence: rand::random(),
            timestamp: rand::random(),
            last_sent: None,
        }
    }

    /// Header fields of the next packet; after a pause the timestamp jumps by the pause and the
    /// marker bit is set (RFC 3551 §4.1: first packet of a talkspurt).
    /// `per_frame` and `per_ms` are the codec's RTP clock ticks (160/8 for G.711, 960/48
    /// for Opus).
    fn next(&mut self, now: Instant, per_frame: u32, per_ms: u32) -> (u16, u32, bool) {
        let marker = match self.last_sent {
            Some(last) if now.duration_since(last) < FRAME_DURATION * 3 => {
                self.timestamp = self.timestamp.wrapping_add(per_frame);
                false
            }
            Some(last) => {
                let samples = now.duration_since(last).as_millis() as u64 * u64::from(per_ms);
                self.timestamp = self.timestamp.wrapping_add(samples as u32);
                true
            }
            None => true,
        };
        self.sequence = self.sequence.wrapping_add(1);
        self.last_sent = Some(now);
        (self.sequence, self.timestamp, marker)
    }
}

/// The line task's state. Runs until closed, until its last socket leaves while nothing is
/// attached, or until shutdown.
pub(crate) struct Line {
    agent: Agent,
    settings: Arc<PeerSettings>,
    commands: mpsc::Receiver<LineCommand>,
    peer_tx: mpsc::Sender<PeerEvent>,
    peer_rx: mpsc::Receiver<PeerEvent>,
    client: Option<Client>,
    /// The console left (its socket closed); the line ends once nothing is attached.
    abandoned: bool,
    peer: Option<Peer>,
    generation: u64,
    attachment: Option<Attachment>,
    rtp: RtpClock,
}

impl Line {
    pub(crate) fn new(
        agent: Agent,
        settings: Arc<PeerSettings>,
        commands: mpsc::Receiver<LineCommand>,
    ) -> Line {
        let (peer_tx, peer_rx) = mpsc::channel(peer::PEER_EVENTS);
        Line {
            agent,
            settings,
            commands,
            peer_tx,
            peer_rx,
            client: None,
            abandoned: false,
            peer: None,
            generation: 0,
            attachment: None,
            rtp: RtpClock::new(),
        }
    }

    pub(crate) async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(FRAME_DURATION);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        // notices a detached call on a line nobody is connected to (no media ticks then)
        let mut housekeeping = tokio::time::interval(Duration::from_secs(1));
        loop {
            if self.abandoned && self.client.is_none() && !self.attached() {
                tracing::info!(agent = %self.agent.name, "console gone and nothing attached");
                break;
            }
            let sending = self.attachment.is_some()
                && self
                    .peer
                    .as_ref()
                    .is_some_and(|p| p.state == LineState::Connected);
            tokio::select! {
                _ = shutdown.changed() => break,
                command = self.commands.recv() => {
                    let Some(command) = command else { break };
                    if !self.handle(command).await {
                        break;
                    }
                }
                Some(event) = self.peer_rx.recv() => self.on_peer_event(event).await,
                _ = ticker.tick(), if sending => self.send_frame().await,
                _ = housekeeping.tick(), if self.abandoned => {}
            }
        }
        self.close_peer().await;
        self.notify(ServerMessage::LineState {
            state: LineState::Closed,
        });
        tracing::info!(agent = %self.agent.name, "line closed");
    }

    /// Handles one command; `false` ends the line.
    async fn handle(&mut self, command: LineCommand) -> bool {
        match command {
            LineCommand::Client { id, events } => {
                self.abandoned = false;
                if let Some(old) = self.client.replace(Client { id, events }) {
                    if let Err(e) = old.events.try_send(ServerMessage::Replaced) {
                        tracing::debug!(error = %e, "old socket already gone");
                    }
                }
                if let Some(peer) = &self.peer {
                    self.notify(ServerMessage::LineState { state: peer.state });
                }
            }
            LineCommand::ClientGone { id } => {
                if self.client.as_ref().is_some_and(|c| c.id == id) {
                    // an attached call waits for the console to come back (a reload)
                    self.client = None;
                    self.abandoned = true;
                }
            }
            LineCommand::Offer { sdp } => self.on_offer(sdp).await,
            LineCommand::Candidate(init) => {
                if let Err(e) = self.add_candidate(init).await {
                    self.notify(ServerMessage::error(&e));
                }
            }
            LineCommand::Attach {
                require_connected,
                reply,
            } => {
                let result = self.attach(require_connected);
                if let Err(Ok(media)) = reply.send(result) {
                    drop(media);
                    self.attachment = None;
                }
            }
            LineCommand::Close => return false,
        }
        true
    }

    fn attached(&self) -> bool {
        self.attachment
            .as_ref()
            .is_some_and(|a| !a.from_agent.is_closed())
    }

    fn attach(&mut self, require_connected: bool) -> Result<LineMedia, LineError> {
        if self.attached() {
            return Err(LineError::Busy);
        }
        if require_connected {
            match &self.peer {
                None => return Err(LineError::NoLine),
                Some(p) if p.state != LineState::Connected => return Err(LineError::NotConnected),
                Some(_) => {}
            }
        }
        let (from_tx, from_rx) = mpsc::channel(FROM_AGENT_CHANNEL);
        let (to_tx, to_rx) = mpsc::channel(MEDIA_CHANNEL_FRAMES);
        self.attachment = Some(Attachment {
            from_agent: from_tx,
            to_agent: to_rx,
            ring: FrameRing::new(FROM_AGENT_RING),
        });
        Ok(LineMedia {
            from_agent: from_rx,
            to_agent: to_tx,
        })
    }

    async fn on_offer(&mut self, sdp: String) {
        self.close_peer().await;
        self.generation += 1;
        let started = Instant::now();
        match peer::answer(
            &self.settings,
            &self.agent.name,
            self.generation,
            sdp,
            self.peer_tx.clone(),
        )
        .await
        {
            Ok((peer, answer)) => {
                tracing::info!(
                    agent = %self.agent.name,
                    generation = self.generation,
                    codec = ?peer.codec,
                    ms = started.elapsed().as_millis() as u64,
                    "line answered"
                );
                self.peer = Some(peer);
                self.notify(ServerMessage::Answer { sdp: answer });
            }
            Err(e) => {
                tracing::warn!(agent = %self.agent.name, error = %e, "offer refused");
                self.notify(ServerMessage::error(&e));
            }
        }
    }

    async fn add_candidate(&mut self, init: RTCIceCandidateInit) -> Result<(), LineError> {
        let peer = self.peer.as_ref().ok_or(LineError::NoLine)?;
        if init.candidate.is_empty() {
            return Ok(()); // end of candidates
        }
        peer.pc
            .add_ice_candidate(init)
            .await
            .map_err(|e| LineError::BadCandidate(e.to_string()))
    }

    async fn on_peer_event(&mut self, event: PeerEvent) {
        match event {
            PeerEvent::LocalCandidate {
                generation,
                candidate,
                sdp_mid,
                sdp_mline_index,
            } if generation == self.generation => self.notify(ServerMessage::Candidate {
                candidate,
                sdp_mid,
                sdp_mline_index,
            }),
            PeerEvent::State { generation, state } if generation == self.generation => {
                tracing::info!(agent = %self.agent.name, generation, ?state, "line state");
                if let Some(peer) = &mut self.peer {
                    peer.state = state;
                }
                self.notify(ServerMessage::LineState { state });
                if matches!(state, LineState::Failed | LineState::Closed) {
                    // the call (if any) stays attached and resumes on the next offer
                    self.close_peer().await;
                }
            }
            PeerEvent::Audio { generation, frame } if generation == self.generation => {
                if let Some(a) = &mut self.attachment {
                    a.ring.push(frame);
                    a.flush();
                }
            }
            _ => {} // from a replaced connection
        }
    }

    /// Sends the next 20 ms to the browser (silence when the attachment has nothing).
    async fn send_frame(&mut self) {
        let Some(attachment) = &mut self.attachment else {
            return;
        };
        attachment.flush();
        if attachment.from_agent.is_closed() {
            tracing::info!(
                agent = %self.agent.name,
                dropped_from_agent = attachment.ring.dropped(),
                "line detached"
            );
            self.attachment = None;
            return;
        }
        let frame = match next_paced(&mut attachment.to_agent, MAX_TO_AGENT_BACKLOG) {
            Ok(frame) => frame.unwrap_or(AudioFrame::SILENCE),
            Err(_) => AudioFrame::SILENCE, // producer gone: the consumer may still listen
        };
        let Some(peer) = &mut self.peer else { return };
        let payload = match peer.codec.encode(&frame) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot encode for the browser");
                return;
            }
        };
        let (sequence_number, timestamp, marker) = self.rtp.next(
            Instant::now(),
            peer.codec.ticks_per_frame(),
            peer.codec.ticks_per_ms(),
        );
        let packet = rtp::Packet {
            header: rtp::Header {
                version: 2,
                marker,
                payload_type: peer.codec.payload_type(),
                sequence_number,
                timestamp,
                ssrc: peer.ssrc,
                ..Default::default()
            },
            payload: Bytes::from(payload),
        };
        match tokio::time::timeout(Duration::from_millis(100), peer.track.write_rtp(packet)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "rtp write failed"),
            Err(_) => tracing::warn!("rtp write stalled for 100 ms"),
        }
    }

    async fn close_peer(&mut self) {
        if let Some(peer) = self.peer.take() {
            if let Err(e) = peer.pc.close().await {
                tracing::debug!(error = %e, "closing the peer connection");
            }
            self.rtp.last_sent = None;
        }
    }

    fn notify(&self, message: ServerMessage) {
        if let Some(client) = &self.client {
            if let Err(e) = client.events.try_send(message) {
                tracing::warn!(agent = %self.agent.name, error = %e, "console socket is not keeping up");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_clock_is_continuous_then_marks_a_resumption() {
        let mut clock = RtpClock::new();
        let t0 = Instant::now();
        let (s0, ts0, m0) = clock.next(t0, 160, 8);
        assert!(m0);
        let (s1, ts1, m1) = clock.next(t0 + FRAME_DURATION, 160, 8);
        assert_eq!(
            (s1, ts1, m1),
            (s0.wrapping_add(1), ts0.wrapping_add(160), false)
        );
        let (_, ts2, m2) = clock.next(t0 + FRAME_DURATION + Duration::from_secs(1), 160, 8);
        assert!(m2);
        assert_eq!(ts2, ts1.wrapping_add(8000));
    }
}
