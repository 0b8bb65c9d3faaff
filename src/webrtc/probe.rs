//! A minimal softphone in Rust that offers to a line the way the console does (PCMU, trickled
//! candidates on loopback). For in-process tests of the media path and for measuring the cost
//! of a line, where a browser per line would measure Chromium rather than suifang.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    register_default_interceptors, PeerConnection, PeerConnectionBuilder,
    PeerConnectionEventHandler, RTCIceCandidateInit, RTCPeerConnectionIceEvent,
    RTCSessionDescription, Registry, SettingEngineBuilder,
};

use super::codec::{G711, PT_PCMU};
use super::error::LineError;
use super::frame::{AudioFrame, Framer, FRAME_SAMPLES};
use super::peer::{media_engine, pcmu_track};
use super::registry::ClientLink;
use super::signaling::{LineState, ServerMessage};
use crate::media::g711;

/// Frames the probe keeps of what it heard before dropping new ones (2 s).
const HEARD_FRAMES: usize = 100;

/// The offering side of a line, connected.
pub struct Probe {
    pc: Arc<dyn PeerConnection>,
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    /// What the line sent, decoded.
    pub heard: mpsc::Receiver<AudioFrame>,
}

impl Probe {
    /// Offers on `link`, trickles candidates both ways and returns once the line reports
    /// `connected`.
    pub async fn connect(link: &mut ClientLink, limit: Duration) -> Result<Probe, LineError> {
        let (candidates_tx, mut candidates) = mpsc::channel(32);
        let (heard_tx, heard) = mpsc::channel(HEARD_FRAMES);
        let mut engine = media_engine()?;
        let registry = register_default_interceptors(Registry::new(), &mut engine)?;
        let pc = PeerConnectionBuilder::new()
            .with_media_engine(engine)
            .with_setting_engine(
                SettingEngineBuilder::new()
                    .with_include_loopback_candidate(true)
                    .build(),
            )
            .with_interceptor_registry(registry)
            .with_handler(Arc::new(ProbeHandler {
                candidates: candidates_tx,
                heard: heard_tx,
            }))
            .with_udp_addrs(vec![SocketAddr::from(([127, 0, 0, 1], 0))])
            .build()
            .await?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let ssrc = rand::random::<u32>();
        let track = Arc::new(pcmu_track("probe", ssrc));
        pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
            .await?;
        let offer = pc.create_offer(None).await?;
        let sdp = offer.sdp.clone();
        pc.set_local_description(offer).await?;
        link.offer(sdp).await?;
        let deadline = tokio::time::Instant::now() + limit;
        // a state sent before our answer describes the connection this offer replaces
        let mut answered = false;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(LineError::WebRtc(format!("line not connected within {limit:?}")));
                }
                Some(candidate) = candidates.recv() => link.candidate(candidate).await?,
                message = link.events.recv() => match message {
                    None => return Err(LineError::Gone),
                    Some(ServerMessage::Answer { sdp }) => {
                        let answer = RTCSessionDescription::answer(sdp)?;
                        pc.set_remote_description(answer).await?;
                        answered = true;
                    }
                    Some(ServerMessage::Candidate { candidate, sdp_mid, sdp_mline_index }) => {
                        pc.add_ice_candidate(RTCIceCandidateInit {
                            candidate,
                            sdp_mid,
                            sdp_mline_index,
                            ..Default::default()
                        })
                        .await?;
                    }
                    Some(ServerMessage::LineState { state: LineState::Connected }) if answered => {
                        break
                    }
                    Some(ServerMessage::Error { message, .. }) => {
                        return Err(LineError::WebRtc(message));
                    }
                    Some(_) => {}
                },
            }
        }
        Ok(Probe {
            pc,
            track,
            ssrc,
            sequence: rand::random(),
            timestamp: rand::random(),
            heard,
        })
    }

    /// Sends one 20 ms frame as PCMU (the caller paces).
    pub async fn send(&mut self, frame: &AudioFrame) -> Result<(), LineError> {
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES as u32);
        let packet = rtp::Packet {
            header: rtp::Header {
                version: 2,
                payload_type: PT_PCMU,
                sequence_number: self.sequence,
                timestamp: self.timestamp,
                ssrc: self.ssrc,
                ..Default::default()
            },
            payload: Bytes::from(G711::Pcmu.encode(&frame.0)),
        };
        Ok(self.track.write_rtp(packet).await?)
    }

    /// Closes the connection (the line sees it end, as when a browser tab closes).
    pub async fn close(self) -> Result<(), LineError> {
        Ok(self.pc.close().await?)
    }
}

struct ProbeHandler {
    candidates: mpsc::Sender<RTCIceCandidateInit>,
    heard: mpsc::Sender<AudioFrame>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for ProbeHandler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json() {
            if self.candidates.try_send(init).is_err() {
                tracing::debug!("probe candidate dropped");
            }
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        if track.kind().await != RtpCodecKind::Audio {
            return;
        }
        let heard = self.heard.clone();
        tokio::spawn(async move {
            let mut framer = Framer::default();
            while let Some(event) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(packet) = event {
                    if packet.header.payload_type == PT_PCMU {
                        let samples = packet.payload.iter().map(|&b| g711::ulaw_to_linear(b));
                        framer.push(samples, |f| {
                            let _full = heard.try_send(f);
                        });
                    }
                }
                if heard.is_closed() {
                    break;
                }
            }
        });
    }
}
