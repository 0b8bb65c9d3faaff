//! One browser peer connection of a line: how it is built (G.711 only, host candidates incl.
//! loopback, port range, 1:1 NAT), and the glue from webrtc's callbacks to the line task.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};

use std::sync::Arc;

use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_PCMA, MIME_TYPE_PCMU, MIME_TYPE_TELEPHONE_EVENT,
};
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

use super::codec::{OpusDecoder, SendCodec, G711, PT_OPUS, PT_PCMA, PT_PCMU};
use super::error::LineError;
use super::frame::{AudioFrame, Framer};
use super::g711;
use super::signaling::LineState;
use crate::config::WebRtcConfig;

/// Frames in flight from a track reader to its line task (200 ms).
const READER_FRAMES: usize = 10;
/// `opus_pt` value while Opus is not negotiated.
const NO_PT: u32 = u32::MAX;

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

/// G.711 (PCMU first), Opus and telephone-event. The answer prefers G.711 even though
/// Chromium's offer lists Opus first (see [`negotiate`]), so audio passes to the trunk
/// without transcoding; Opus is used only when the browser offers no G.711.
pub(crate) fn media_engine() -> Result<MediaEngine, LineError> {
    let mut engine = MediaEngine::default();
    engine.register_codec(g711_codec(MIME_TYPE_PCMU, PT_PCMU), RtpCodecKind::Audio)?;
    engine.register_codec(g711_codec(MIME_TYPE_PCMA, PT_PCMA), RtpCodecKind::Audio)?;
    engine.register_codec(opus_codec(), RtpCodecKind::Audio)?;
    let mut dtmf = g711_codec(MIME_TYPE_TELEPHONE_EVENT, 101);
    dtmf.rtp_codec.sdp_fmtp_line = "0-16".into();
    engine.register_codec(dtmf, RtpCodecKind::Audio)?;
    Ok(engine)
}

fn opus_codec() -> RTCRtpCodecParameters {
    let mut opus = g711_codec(MIME_TYPE_OPUS, PT_OPUS);
    opus.rtp_codec.clock_rate = 48000;
    opus.rtp_codec.channels = 2;
    opus.rtp_codec.sdp_fmtp_line = "minptime=10;useinbandfec=1".into();
    opus
}

/// Whether the SDP offers `encoding` (e.g. `PCMU/8000`) in an `a=rtpmap` line.
fn offers(sdp: &str, encoding: &str) -> bool {
    sdp.lines()
        .filter_map(|l| l.strip_prefix("a=rtpmap:"))
        .filter_map(|l| l.split_once(' '))
        .any(|(_, enc)| {
            enc.trim()
                .to_ascii_lowercase()
                .starts_with(&encoding.to_ascii_lowercase())
        })
}

/// The line's outgoing audio track: one PCMU encoding with our own SSRC (RTP is written by
/// the line task, which owns sequence numbers and timestamps).
pub(crate) fn pcmu_track(name: &str, ssrc: u32) -> TrackLocalStaticRTP {
    audio_track(name, ssrc, g711_codec(MIME_TYPE_PCMU, PT_PCMU))
}

/// An outgoing track whose one encoding uses `codec` (it must be one the offer allows, or
/// the transceiver refuses the track).
fn audio_track(name: &str, ssrc: u32, codec: RTCRtpCodecParameters) -> TrackLocalStaticRTP {
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
            codec: codec.rtp_codec,
            ..Default::default()
        }],
    ))
}

/// A live browser connection with the track the line sends on.
pub(crate) struct Peer {
    pub(crate) pc: Arc<dyn PeerConnection>,
    pub(crate) track: Arc<TrackLocalStaticRTP>,
    pub(crate) ssrc: u32,
    pub(crate) codec: SendCodec,
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
    let opus_pt = Arc::new(AtomicU32::new(NO_PT));
    let handler = Arc::new(Handler {
        generation,
        events,
        opus_pt: Arc::clone(&opus_pt),
    });
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
    match negotiate(&pc, agent, offer, &opus_pt).await {
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
    opus_pt: &AtomicU32,
) -> Result<(Arc<TrackLocalStaticRTP>, u32, SendCodec, String), LineError> {
    let offered = offer.sdp.clone();
    pc.set_remote_description(offer)
        .await
        .map_err(|e| LineError::BadOffer(e.to_string()))?;
    let ssrc = rand::random::<u32>();
    let codec = if offers(&offered, "PCMU/8000") {
        g711_codec(MIME_TYPE_PCMU, PT_PCMU)
    } else if offers(&offered, "PCMA/8000") {
        g711_codec(MIME_TYPE_PCMA, PT_PCMA)
    } else if offers(&offered, "opus/48000") {
        opus_codec()
    } else {
        return Err(LineError::NoCommonCodec);
    };
    let track = Arc::new(audio_track(agent, ssrc, codec));
    let sender = pc
        .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
        .await?;
    prefer_g711(pc).await?;
    let answer = pc.create_answer(None).await?;
    pc.set_local_description(answer).await?;
    let params = sender.get_parameters().await?;
    let codecs = &params.rtp_parameters.codecs;
    let has = |mime: &str| {
        codecs
            .iter()
            .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(mime))
            .map(|c| c.payload_type)
    };
    if let Some(pt) = has(MIME_TYPE_OPUS) {
        opus_pt.store(u32::from(pt), Ordering::Relaxed);
    }
    // the first codec of the answer is what the browser sends; send the same back
    let first = codecs
        .first()
        .map(|c| c.rtp_codec.mime_type.to_ascii_lowercase());
    let codec = match first.as_deref() {
        Some(m) if m == MIME_TYPE_PCMU.to_ascii_lowercase() => SendCodec::G711(G711::Pcmu),
        Some(m) if m == MIME_TYPE_PCMA.to_ascii_lowercase() => SendCodec::G711(G711::Pcma),
        Some(m) if m == MIME_TYPE_OPUS.to_ascii_lowercase() => {
            SendCodec::opus(has(MIME_TYPE_OPUS).unwrap_or(PT_OPUS))?
        }
        _ => return Err(LineError::NoCommonCodec),
    };
    let sdp = pc
        .local_description()
        .await
        .map(|d| d.sdp)
        .ok_or_else(|| LineError::WebRtc("no local description after answering".into()))?;
    Ok((track, ssrc, codec, sdp))
}

/// Orders the answer's codecs G.711 first: Chromium lists Opus first, and an answer follows
/// the answerer's preferences among what was offered.
async fn prefer_g711(pc: &Arc<dyn PeerConnection>) -> Result<(), LineError> {
    let mut dtmf = g711_codec(MIME_TYPE_TELEPHONE_EVENT, 101);
    dtmf.rtp_codec.sdp_fmtp_line = "0-16".into();
    let order = vec![
        g711_codec(MIME_TYPE_PCMU, PT_PCMU),
        g711_codec(MIME_TYPE_PCMA, PT_PCMA),
        opus_codec(),
        dtmf,
    ];
    for transceiver in pc.get_transceivers().await {
        if let Err(e) = transceiver.set_codec_preferences(order.clone()).await {
            tracing::debug!(error = %e, "codec preferences not applied");
        }
    }
    Ok(())
}

/// Forwards webrtc's callbacks to the line task; never blocks the webrtc driver.
struct Handler {
    generation: u64,
    events: mpsc::Sender<PeerEvent>,
    /// Payload type of Opus once negotiated ([`NO_PT`] before).
    opus_pt: Arc<AtomicU32>,
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
        let opus_pt = Arc::clone(&self.opus_pt);
        tokio::spawn(read_track(track, generation, events, opus_pt));
    }
}

/// Decodes the browser's G.711 RTP into frames for the line task. Ends with the track (the
/// connection closing ends it, so this needs no shutdown signal of its own).
async fn read_track(
    track: Arc<dyn TrackRemote>,
    generation: u64,
    events: mpsc::Sender<PeerEvent>,
    opus_pt: Arc<AtomicU32>,
) {
    let mut framer = Framer::default();
    let mut opus: Option<OpusDecoder> = None;
    let mut pcm = Vec::with_capacity(960);
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
            pt if u32::from(pt) == opus_pt.load(Ordering::Relaxed) => {
                if opus.is_none() {
                    match OpusDecoder::new() {
                        Ok(d) => opus = Some(d),
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot decode the browser's Opus");
                            break;
                        }
                    }
                }
                if let Some(decoder) = &mut opus {
                    pcm.clear();
                    decoder.decode(payload, &mut pcm);
                    framer.push(pcm.iter().copied(), &mut emit);
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(min: u16, max: u16) -> PeerSettings {
        PeerSettings::new(WebRtcConfig {
            bind_ips: vec![IpAddr::from([127, 0, 0, 1])],
            udp_port_min: min,
            udp_port_max: max,
            ..WebRtcConfig::default()
        })
    }

    #[test]
    fn ports_come_from_the_configured_range_and_skip_taken_ones() {
        let s = settings(47811, 47812);
        let held = UdpSocket::bind("127.0.0.1:47811").expect("hold 47811");
        for _ in 0..3 {
            assert_eq!(s.udp_addrs().unwrap()[0].port(), 47812);
        }
        let held2 = UdpSocket::bind("127.0.0.1:47812").expect("hold 47812");
        let err = s.udp_addrs().unwrap_err();
        assert_eq!(err.code(), "no_ports");
        assert!(err.to_string().contains("47811-47812"), "{err}");
        drop((held, held2));
        assert!(settings(0, 0).udp_addrs().unwrap()[0].port() == 0);
    }

    #[test]
    fn offers_are_searched_by_encoding_name() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n";
        assert!(offers(sdp, "PCMU/8000"));
        assert!(offers(sdp, "opus/48000"));
        assert!(!offers(sdp, "PCMA/8000"));
    }
}
