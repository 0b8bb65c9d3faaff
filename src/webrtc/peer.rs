//! One browser peer connection of a line: how it is built (G.711 only, host candidates incl.
//! loopback, port range, 1:1 NAT), and the glue from webrtc's callbacks to the line task.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use rtc::media_stream::MediaStreamTrack;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder,
    PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceCandidateType,
    RTCPeerConnectionIceEvent, RTCPeerConnectionState, RTCRtcpMuxPolicy, Registry,
    SettingEngineBuilder,
};

use super::config::WebRtcConfig;
use super::error::LineError;
use super::frame::{AudioFrame, Framer};
use super::g711;
use super::signaling::LineState;

/// RTP payload types of G.711 (RFC 3551 §6, static).
pub(crate) const PT_PCMU: u8 = 0;
pub(crate) const PT_PCMA: u8 = 8;
/// Frames in flight from a track reader to its line task (200 ms).
const READER_FRAMES: usize = 10;

/// The G.711 flavour negotiated for what the line sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum G711 {
    Pcmu,
    Pcma,
}

impl G711 {
    pub(crate) fn payload_type(self) -> u8 {
        match self {
            G711::Pcmu => PT_PCMU,
            G711::Pcma => PT_PCMA,
        }
    }

    pub(crate) fn encode(self, frame: &AudioFrame) -> Vec<u8> {
        match self {
            G711::Pcmu => frame.0.iter().map(|&s| g711::ulaw_encode(s)).collect(),
            G711::Pcma => frame.0.iter().map(|&s| g711::alaw_encode(s)).collect(),
        }
    }
}

/// What a peer connection reports to its line task. `generation` tells events of a replaced
/// connection from those of the current one.
// Audio is the common variant (50 a second); boxing it would allocate per frame to save
// bytes on the rare control events.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum PeerEvent {
    LocalCandidate {
        generation: u64,
        candidate: String,
        sdp_mid: Option<String>,
        sdp_mline_index: Option<u16>,
    },
    State {
        generation: u64,
        state: LineState,
    },
    Audio {
        generation: u64,
        frame: AudioFrame,
    },
}

/// Built once from the configuration, shared by every line.
#[derive(Debug)]
pub(crate) struct PeerSettings {
    config: WebRtcConfig,
    /// Next port to try in the configured range (round robin, so a port freed by a closed line
    /// is not immediately reused while the browser may still send to it).
    next_port: AtomicU32,
}

impl PeerSettings {
    pub(crate) fn new(config: WebRtcConfig) -> PeerSettings {
        PeerSettings {
            next_port: AtomicU32::new(u32::from(config.udp_port_min)),
            config,
        }
    }

    /// The UDP addresses for a new connection: each bind IP with a port from the range (probed
    /// free just before webrtc binds it; a lost race fails the offer, and the browser retries).
    fn udp_addrs(&self) -> Result<Vec<SocketAddr>, LineError> {
        let Some((min, max)) = self.config.port_range() else {
            return Ok(self
                .config
                .bind_ips
                .iter()
                .map(|ip| SocketAddr::new(*ip, 0))
                .collect());
        };
        let span = u32::from(max - min) + 1;
        let mut addrs = Vec::new();
        for ip in &self.config.bind_ips {
            let mut found = None;
            for _ in 0..span {
                let n = self.next_port.fetch_add(1, Ordering::Relaxed);
                let port = (u32::from(min) + (n.wrapping_sub(u32::from(min)) % span)) as u16;
                if probe(*ip, port) {
                    found = Some(SocketAddr::new(*ip, port));
                    break;
                }
            }
            addrs.push(found.ok_or_else(|| {
                LineError::Ports(format!(
                    "every port of webrtc.udp_port_min..max ({min}-{max}) on {ip} is taken; \
                     widen the range"
                ))
            })?);
        }
        Ok(addrs)
    }
}

/// Whether `port` is free on `ip` right now (a wildcard is probed as given).
fn probe(ip: IpAddr, port: u16) -> bool {
    UdpSocket::bind(SocketAddr::new(ip, port)).is_ok()
}

fn g711_codec(mime: &str, payload_type: u8) -> RTCRtpCodecParameters {
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: mime.to_owned(),
            clock_rate: 8000,
            channels: 1,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![],
        },
        payload_type,
    }
}

/// Only G.711 (PCMU first) and telephone-event: the answer then picks G.711 from Chromium's
/// offer even though Opus comes first there, so audio passes to the trunk without transcoding.
pub(crate) fn media_engine() -> Result<MediaEngine, LineError> {
    use rtc::peer_connection::configuration::media_engine::{
        MIME_TYPE_PCMA, MIME_TYPE_PCMU, MIME_TYPE_TELEPHONE_EVENT,
    };
    let mut engine = MediaEngine::default();
    engine.register_codec(g711_codec(MIME_TYPE_PCMU, PT_PCMU), RtpCodecKind::Audio)?;
    engine.register_codec(g711_codec(MIME_TYPE_PCMA, PT_PCMA), RtpCodecKind::Audio)?;
    let mut dtmf = g711_codec(MIME_TYPE_TELEPHONE_EVENT, 101);
    dtmf.rtp_codec.sdp_fmtp_line = "0-16".into();
    engine.register_codec(dtmf, RtpCodecKind::Audio)?;
    Ok(engine)
}

/// The line's outgoing audio track: one PCMU encoding with our own SSRC (RTP is written by
/// the line task, which owns sequence numbers and timestamps).
pub(crate) fn pcmu_track(name: &str, ssrc: u32) -> TrackLocalStaticRTP {
    TrackLocalStaticRTP::new(MediaStreamTrack::new(
        format!("suifang-{name}"),
        format!("line-{name}"),
        "agent line".into(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            active: true,
            codec: g711_codec(
                rtc::peer_connection::configuration::media_engine::MIME_TYPE_PCMU,
                PT_PCMU,
            )
            .rtp_codec,
            ..Default::default()
        }],
    ))
}

/// A live browser connection with the track the line sends on.
pub(crate) struct Peer {
    pub(crate) pc: Arc<dyn PeerConnection>,
    pub(crate) track: Arc<TrackLocalStaticRTP>,
    pub(crate) ssrc: u32,
    pub(crate) codec: G711,
    pub(crate) state: LineState,
}

/// Answers `offer_sdp` with a new connection. Events go to `events` tagged with `generation`.
pub(crate) async fn answer(
    settings: &PeerSettings,
    agent: &str,
    generation: u64,
    offer_sdp: String,
    events: mpsc::Sender<PeerEvent>,
) -> Result<(Peer, String), LineError> {
    let offer = webrtc::peer_connection::RTCSessionDescription::offer(offer_sdp)
        .map_err(|e| LineError::BadOffer(e.to_string()))?;
    let mut engine = media_engine()?;
    let registry = register_default_interceptors(Registry::new(), &mut engine)?;
    let mut setting = SettingEngineBuilder::new().with_include_loopback_candidate(true);
    let public: Vec<String> = settings
        .config
        .public_ips
        .iter()
        .map(|ip| ip.to_string())
        .collect();
    if !public.is_empty() {
        setting = setting.with_nat_1to1_ips(public, RTCIceCandidateType::Host);
    }
    let configuration = RTCConfigurationBuilder::new()
        .with_rtcp_mux_policy(RTCRtcpMuxPolicy::Require)
        .build();
    let handler = Arc::new(Handler { generation, events });
    let pc = PeerConnectionBuilder::new()
        .with_configuration(configuration)
        .with_media_engine(engine)
        .with_setting_engine(setting.build())
        .with_interceptor_registry(registry)
        .with_handler(handler)
        .with_udp_addrs(settings.udp_addrs()?)
        .build()
        .await?;
    let pc: Arc<dyn PeerConnection> = Arc::new(pc);
    match negotiate(&pc, agent, offer).await {
        Ok((track, ssrc, codec, sdp)) => Ok((
            Peer {
                pc,
                track,
                ssrc,
                codec,
                state: LineState::New,
            },
            sdp,
        )),
        Err(e) => {
            if let Err(close) = pc.close().await {
                tracing::debug!(error = %close, "closing a refused connection");
            }
            Err(e)
        }
    }
}

async fn negotiate(
    pc: &Arc<dyn PeerConnection>,
    agent: &str,
    offer: webrtc::peer_connection::RTCSessionDescription,
) -> Result<(Arc<TrackLocalStaticRTP>, u32, G711, String), LineError> {
    pc.set_remote_description(offer)
        .await
        .map_err(|e| LineError::BadOffer(e.to_string()))?;
    let ssrc = rand::random::<u32>();
    let track = Arc::new(pcmu_track(agent, ssrc));
    let sender = pc
        .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
        .await?;
    let answer = pc.create_answer(None).await?;
    pc.set_local_description(answer).await?;
    let params = sender.get_parameters().await?;
    let codecs: Vec<u8> = params
        .rtp_parameters
        .codecs
        .iter()
        .map(|c| c.payload_type)
        .collect();
    let codec = if codecs.contains(&PT_PCMU) {
        G711::Pcmu
    } else if codecs.contains(&PT_PCMA) {
        G711::Pcma
    } else {
        return Err(LineError::NoCommonCodec);
    };
    let sdp = pc
        .local_description()
        .await
        .map(|d| d.sdp)
        .ok_or_else(|| LineError::WebRtc("no local description after answering".into()))?;
    Ok((track, ssrc, codec, sdp))
}

/// Forwards webrtc's callbacks to the line task; never blocks the webrtc driver.
struct Handler {
    generation: u64,
    events: mpsc::Sender<PeerEvent>,
}

impl Handler {
    fn send(&self, event: PeerEvent) {
        if let Err(e) = self.events.try_send(event) {
            tracing::warn!(error = %e, "line task is not keeping up with peer events");
        }
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        match event.candidate.to_json() {
            Ok(init) => self.send(PeerEvent::LocalCandidate {
                generation: self.generation,
                candidate: init.candidate,
                sdp_mid: init.sdp_mid,
                sdp_mline_index: init.sdp_mline_index,
            }),
            Err(e) => tracing::warn!(error = %e, "cannot serialise a local candidate"),
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let state = match state {
            RTCPeerConnectionState::Connecting => LineState::Connecting,
            RTCPeerConnectionState::Connected => LineState::Connected,
            RTCPeerConnectionState::Disconnected => LineState::Disconnected,
            RTCPeerConnectionState::Failed => LineState::Failed,
            RTCPeerConnectionState::Closed => LineState::Closed,
            _ => LineState::New,
        };
        self.send(PeerEvent::State {
            generation: self.generation,
            state,
        });
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        if track.kind().await != RtpCodecKind::Audio {
            return;
        }
        let events = self.events.clone();
        let generation = self.generation;
        tokio::spawn(read_track(track, generation, events));
    }
}

/// Decodes the browser's G.711 RTP into frames for the line task. Ends with the track (the
/// connection closing ends it, so this needs no shutdown signal of its own).
async fn read_track(track: Arc<dyn TrackRemote>, generation: u64, events: mpsc::Sender<PeerEvent>) {
    let mut framer = Framer::default();
    let mut dropped = 0u64;
    while let Some(event) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(packet) = event else {
            continue;
        };
        let payload = &packet.payload;
        let mut emit = |frame| {
            if events
                .try_send(PeerEvent::Audio { generation, frame })
                .is_err()
            {
                dropped += 1;
            }
        };
        match packet.header.payload_type {
            PT_PCMU => framer.push(payload.iter().map(|&b| g711::ulaw_decode(b)), &mut emit),
            PT_PCMA => framer.push(payload.iter().map(|&b| g711::alaw_decode(b)), &mut emit),
            _ => {} // telephone-event and comfort noise carry no samples
        }
        if events.is_closed() {
            break;
        }
    }
    if dropped > 0 {
        tracing::debug!(
            dropped,
            "frames dropped between the track reader and its line"
        );
    }
}

/// Capacity of the per-line peer event channel (candidates, states and audio).
pub(crate) const PEER_EVENTS: usize = 64 + READER_FRAMES;
