//! One call's media task: RTP out (agent audio), RTP in (patient audio and DTMF), recording.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

use super::counters::MediaCounters;
use super::event::EngineEvent;
use super::leg::AgentSource;
use super::CallsError;
use crate::media::cushion::{Cushion, CushionConfig};
use crate::media::g711::G711;
use crate::media::recorder::{RecordingInfo, StereoRecorder};
use crate::rtp::dtmf::{key_press_payloads, DtmfReceiver};
use crate::rtp::jitter::{JitterBuffer, JitterConfig, Playout};
use crate::rtp::latch::{LatchPolicy, RtpLatch};
use crate::rtp::packet::looks_like_rtcp;
use crate::rtp::rtcp::{RtcpReport, SenderInfo};
use crate::rtp::srtp::{MasterKey, SrtpSession};
use crate::rtp::stats::{ntp_timestamp, ReceiverStats};
use crate::rtp::RtpPacket;
use crate::sip::negotiate::NegotiatedMedia;
use crate::sip::ua::CallHandle;

/// Samples per 20 ms G.711 frame.
const FRAME: usize = super::leg::FRAME_SAMPLES;

/// How long a tick may wait for a bridged frame that is not there yet before it sends silence.
/// Most of a frame's period: the frame then still goes out before the next tick.
pub const LATE_FRAME_WAIT: Duration = Duration::from_millis(15);

/// Requests to a running media task.
#[derive(Debug, Clone)]
pub(super) enum MediaCommand {
    /// A re-INVITE changed the media (hold: stop sending; resume; new address).
    Update(NegotiatedMedia),
    /// The call was answered after early media: start sending with the final parameters.
    Answered(NegotiatedMedia),
    /// Send silence instead of the source (true) or resume (false).
    Mute(bool),
    /// Put the remote party on hold with this music (looped) instead of the source, or resume
    /// with `None`. Local hold: no re-INVITE, the trunk keeps seeing a live stream.
    Hold(Option<Arc<Vec<i16>>>),
    /// Send these keys as RFC 4733 events (100 ms each, 60 ms apart).
    Dtmf(String),
}

/// One queued 20 ms slot of outgoing DTMF.
enum DtmfSlot {
    /// An RFC 4733 packet; `starts_event` takes a fresh timestamp.
    Event {
        marker: bool,
        payload: [u8; 4],
        starts_event: bool,
    },
    /// Audio between two key presses so receivers see separate presses.
    Gap,
}

/// Inputs of a media task.
pub(super) struct MediaSession {
    pub(super) call: CallHandle,
    pub(super) sockets: RtpSockets,
    pub(super) media: NegotiatedMedia,
    /// False during early media: record what arrives, send nothing.
    pub(super) answered: bool,
    pub(super) source: AgentSource,
    pub(super) tap: Option<mpsc::Sender<Vec<i16>>>,
    /// Where to record, if this leg is recorded.
    pub(super) recording: Option<PathBuf>,
    pub(super) ssrc: u32,
    /// Engine-wide tallies this task adds to.
    pub(super) counters: Arc<MediaCounters>,
    /// Whose packets are taken (`sip.rtp_latch`).
    pub(super) latch: LatchPolicy,
    /// Log and count a patient channel silent this long in an answered call (`None`: off).
    pub(super) silence_alert: Option<Duration>,
    /// Our SRTP master key when this leg is SRTP (then nothing goes out or is taken in the
    /// clear, whatever happens to the keys).
    pub(super) srtp_key: Option<MasterKey>,
}

/// A leg's SRTP state: off (plain RTP), keyed, or required but not usable (the peer's key is
/// missing: everything is dropped rather than sent in the clear).
enum Srtp {
    Off,
    On(Box<SrtpSession>),
    Broken,
}

impl Srtp {
    fn new(call: CallHandle, ours: Option<&MasterKey>, media: &NegotiatedMedia) -> Srtp {
        let Some(ours) = ours else { return Srtp::Off };
        match media
            .crypto
            .as_ref()
            .map(|c| SrtpSession::new(ours, &c.key))
        {
            Some(Ok(s)) => Srtp::On(Box::new(s)),
            Some(Err(e)) => {
                tracing::error!(?call, error = %e, "SRTP could not start; no media is sent");
                Srtp::Broken
            }
            None => {
                tracing::error!(?call, "SRTP leg without the peer's key; no media is sent");
                Srtp::Broken
            }
        }
    }

    /// Bytes to send for a plain packet (`None`: send nothing).
    fn seal(&mut self, packet: &[u8], rtcp: bool) -> Option<Vec<u8>> {
        match self {
            Srtp::Off => Some(packet.to_vec()),
            Srtp::On(s) if rtcp => s.protect_rtcp(packet).ok(),
            Srtp::On(s) => s.protect_rtp(packet).ok(),
            Srtp::Broken => None,
        }
    }

    /// The plain packet of received bytes (`None`: not authentic, replayed, or no key).
    fn open(&mut self, packet: &[u8], rtcp: bool) -> Option<Vec<u8>> {
        match self {
            Srtp::Off => Some(packet.to_vec()),
            Srtp::On(s) if rtcp => s.unprotect_rtcp(packet).ok(),
            Srtp::On(s) => s.unprotect_rtp(packet).ok(),
            Srtp::Broken => None,
        }
    }
}

impl MediaSession {
    /// Runs until `stop` flips to true, then finalizes the recording (if any).
    pub(super) async fn run(
        self,
        mut stop: watch::Receiver<bool>,
        mut commands: mpsc::Receiver<MediaCommand>,
        events: mpsc::Sender<EngineEvent>,
    ) -> Result<Option<RecordingInfo>, CallsError> {
        let Self {
            call,
            sockets: RtpSockets { rtp: socket, rtcp },
            mut media,
            mut answered,
            mut source,
            tap,
            recording,
            ssrc,
            counters,
            latch,
            silence_alert,
            srtp_key,
        } = self;
        let mut srtp = Srtp::new(call, srtp_key.as_ref(), &media);
        let mut silence = silence_alert.map(crate::media::silence::SilenceWatch::new);
        let mut dtmf_out: VecDeque<DtmfSlot> = VecDeque::new();
        let mut event_ts = 0u32;
        let mut recorder = match &recording {
            Some(path) => match StereoRecorder::create(path, 8000) {
                Ok(r) => Some(r),
                Err(e) => {
                    // no recording, but the call must still carry audio
                    tracing::error!(?call, error = %e, "recording could not start; the call goes on");
                    let _ = events.try_send(EngineEvent::RecordingFailed {
                        call,
                        path: path.clone(),
                        error: e.cause(),
                    });
                    None
                }
            },
            None => None,
        };
        let mut muted = false;
        let mut hold: Option<(Arc<Vec<i16>>, usize)> = None;
        let mut cushion: Cushion<Vec<i16>> = Cushion::new(CushionConfig::default());
        let mut inbound = Inbound {
            latch: RtpLatch::new(latch, media.remote),
            stats: ReceiverStats::new(8000, Instant::now().into_std()),
            dtmf: media.telephone_event_pt.map(DtmfReceiver::new),
            jitter: JitterBuffer::new(JitterConfig::default()),
        };
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let (mut seq, mut ts, mut pos) = (rand::random::<u16>(), rand::random::<u32>(), 0usize);
        let mut buf = vec![0u8; 2048];
        let mut agent = vec![0i16; FRAME];
        let mut patient = Vec::with_capacity(FRAME);
        let mut payload = Vec::with_capacity(FRAME);
        let mut out = Vec::with_capacity(FRAME + 12);
        let mut first = true;
        let mut pending: VecDeque<i16> = VecDeque::with_capacity(4 * FRAME);
        let mut decoded: Vec<i16> = Vec::with_capacity(FRAME);
        let mut last_packet_len = FRAME;
        // RFC 3550 §6.2: 5 s minimum report interval; counters for the sender info.
        let mut rtcp_tick = tokio::time::interval_at(
            Instant::now() + Duration::from_secs(5),
            Duration::from_secs(5),
        );
        rtcp_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let (mut sent_packets, mut sent_octets) = (0u32, 0u32);
        let mut rtcp_peer: Option<SocketAddr> = None;
        let mut rtcp_buf = vec![0u8; 1500];
        loop {
            tokio::select! {
                scheduled = tick.tick() => {
                    let now = Instant::now().into_std();
                    // A tick firing a whole frame late is one of a catch-up burst after this
                    // task was not scheduled for a while.
                    let late = Instant::now().saturating_duration_since(scheduled);
                    counters.tick_lateness(late);
                    let catching_up = late >= Duration::from_millis(20);
                    // Agent → patient (left channel = exactly what we sent).
                    agent.fill(0);
                    if !answered {
                        // What the other side said before the answer is stale by then.
                        if let AgentSource::Live(rx) = &mut source {
                            take_frames(rx, &mut cushion);
                            cushion.keep_newest();
                        }
                    }
                    if answered {
                        // Agent audio starts at the answer; the left channel is silent before.
                        match &mut source {
                            AgentSource::Samples(audio) => {
                                if let Some(src) = audio.get(pos..) {
                                    let n = src.len().min(FRAME);
                                    agent[..n].copy_from_slice(&src[..n]);
                                }
                                pos += FRAME;
                            }
                            AgentSource::Live(rx) => {
                                // The other task ticks on its own 20 ms clock; the cushion
                                // keeps a frame or two in hand so its tick landing just after
                                // ours is not 20 ms of silence (see media::cushion).
                                take_frames(rx, &mut cushion);
                                if cushion.starved() {
                                    if catching_up || hold.is_some() || muted {
                                        // Both came out of the same stall (or the frame would
                                        // not be heard): let the producer's due tick run once.
                                        tokio::task::yield_now().await;
                                    } else if let Ok(Some(frame)) = tokio::time::timeout(LATE_FRAME_WAIT, rx.recv()).await {
                                        // The producer is late (its runtime thread waits for a
                                        // CPU). Sending its frame a few ms late is jitter the
                                        // far end's buffer absorbs; sending silence is a gap in
                                        // the call and in its recording. The next tick keeps
                                        // its schedule, so no latency stays behind.
                                        cushion.push(frame);
                                    }
                                    take_frames(rx, &mut cushion);
                                }
                                let before = cushion.stats();
                                if let Some(frame) = cushion.pop(catching_up) {
                                    let n = frame.len().min(FRAME);
                                    agent[..n].copy_from_slice(&frame[..n]);
                                }
                                let after = cushion.stats();
                                if after.underruns > before.underruns {
                                    counters.underrun();
                                }
                                if after.trimmed > before.trimmed {
                                    counters.trimmed();
                                }
                            }
                        }
                        if let Some((music, at)) = hold.as_mut() {
                            // Music replaces the source (a live source was drained above, so
                            // the nurse's audio does not pile up while held).
                            for sample in agent.iter_mut() {
                                *sample = music.get(*at).copied().unwrap_or(0);
                                *at = if *at + 1 >= music.len() { 0 } else { *at + 1 };
                            }
                        }
                        if muted {
                            agent.fill(0);
                        }
                    }
                    if answered && media.may_send() {
                        if let Some(dest) = inbound.latch.destination() {
                            let pkt = match (dtmf_out.pop_front(), media.telephone_event_pt) {
                                // RFC 4733 §2.5.1.2: one timestamp for all packets of an event;
                                // no audio is sent while the event lasts.
                                (Some(DtmfSlot::Event { marker, payload: ev, starts_event }), Some(pt)) => {
                                    if starts_event {
                                        event_ts = ts;
                                    }
                                    let mut p = RtpPacket::new(pt, seq, event_ts, ssrc, ev.to_vec());
                                    p.marker = marker;
                                    p
                                }
                                _ => {
                                    media.codec.encode_into(&agent, &mut payload);
                                    let mut p = RtpPacket::new(media.payload_type, seq, ts, ssrc, std::mem::take(&mut payload));
                                    p.marker = first;
                                    first = false;
                                    p
                                }
                            };
                            if let Some(wire) = pkt.write_to(&mut out).ok().and_then(|()| srtp.seal(&out, false)) {
                                match socket.send_to(&wire, dest).await {
                                    Ok(_) => {
                                        counters.packet_out();
                                        sent_packets = sent_packets.wrapping_add(1);
                                        sent_octets = sent_octets.wrapping_add(pkt.payload.len() as u32);
                                    }
                                    Err(e) => tracing::debug!(error = %e, "RTP send failed"),
                                }
                            }
                            if pkt.payload_type == media.payload_type {
                                payload = pkt.payload;
                            }
                        }
                    }
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(FRAME as u32);
                    // Patient → recorder (right channel), one frame per tick whatever arrived.
                    // Packets may carry 10/20/30 ms: decode into a FIFO and pop packets only
                    // while it holds less than one frame; a lost packet becomes silence of the
                    // last packet's length.
                    // After a scheduling stall the ticks fire in a burst and may all run before
                    // the receive branch: move what the kernel already holds into the jitter
                    // buffer first, so a packet that has arrived is never played out as lost.
                    while let Ok((n, src)) = socket.try_recv_from(&mut buf) {
                        inbound.on_datagram(buf.get(..n).unwrap_or(&[]), src, (&media, &mut srtp), &counters, now);
                    }
                    while pending.len() < FRAME {
                        match inbound.jitter.pop(now) {
                            Playout::Packet(p) => {
                                let codec = if p.payload_type == media.payload_type {
                                    media.codec
                                } else {
                                    G711::from_payload_type(p.payload_type).unwrap_or(media.codec)
                                };
                                codec.decode_into(&p.payload, &mut decoded);
                                last_packet_len = decoded.len().clamp(1, 8 * FRAME);
                                pending.extend(decoded.iter().copied());
                            }
                            Playout::Lost => {
                                counters.lost();
                                pending.extend(std::iter::repeat_n(0i16, last_packet_len));
                            }
                            Playout::Buffering => break,
                        }
                    }
                    patient.clear();
                    let take = pending.len().min(FRAME);
                    patient.extend(pending.drain(..take));
                    patient.resize(FRAME, 0);
                    // Bound the FIFO (a sender running fast must not grow memory).
                    if pending.len() > 8000 {
                        let excess = pending.len() - 8000;
                        pending.drain(..excess);
                    }
                    if let Some(Err(e)) = recorder.as_mut().map(|r| r.write(&agent, &patient)) {
                        // Disk full or failing: the call goes on without its recording (no
                        // dead air); the partial file is repaired and marked by the center.
                        if let Some(r) = recorder.take() {
                            let path = r.path().to_owned();
                            drop(r);
                            tracing::error!(?call, error = %e, "recording stopped; the call goes on");
                            let _ = events.try_send(EngineEvent::RecordingFailed { call, path, error: e.cause() });
                        }
                    }
                    if let (true, Some(watch)) = (answered, silence.as_mut()) {
                        if let Some(silent) = watch.frame(&patient, now) {
                            counters.silent_leg();
                            tracing::warn!(?call, seconds = silent.as_secs(), latched = ?inbound.latch.latched(), "the patient's side of an answered call has been silent: one-way audio?");
                        }
                    }
                    if let Some(t) = &tap {
                        // A slow consumer loses frames instead of delaying this call.
                        let _ = t.try_send(patient.clone());
                    }
                    if let Some(rx) = inbound.dtmf.as_mut() {
                        rx.handle_timeout(now);
                    }
                    inbound.report_digits(call, &events);
                }
                r = socket.recv_from(&mut buf) => {
                    let (n, src) = r.map_err(|source| CallsError::Io { what: "RTP receive".into(), source })?;
                    inbound.on_datagram(buf.get(..n).unwrap_or(&[]), src, (&media, &mut srtp), &counters, Instant::now().into_std());
                    inbound.report_digits(call, &events);
                }
                _ = rtcp_tick.tick() => {
                    // Send to where the peer's RTCP comes from, else RTP port + 1.
                    let dest = rtcp_peer.or_else(|| inbound.latch.destination().map(|a| SocketAddr::new(a.ip(), a.port().wrapping_add(1))));
                    let now = Instant::now().into_std();
                    let blocks: Vec<_> = inbound.stats.report_block(now).into_iter().collect();
                    let report = if sent_packets > 0 {
                        let info = SenderInfo {
                            ntp_timestamp: ntp_timestamp(std::time::SystemTime::now()),
                            rtp_timestamp: ts,
                            packet_count: sent_packets,
                            octet_count: sent_octets,
                        };
                        RtcpReport::Sender { ssrc, info, blocks }
                    } else {
                        RtcpReport::Receiver { ssrc, blocks }
                    };
                    if let (Some(dest), Some(bytes)) = (dest, report.to_bytes().ok().and_then(|b| srtp.seal(&b, true))) {
                        if let Err(e) = rtcp.send_to(&bytes, dest).await {
                            tracing::debug!(error = %e, "RTCP send failed");
                        }
                    }
                }
                r = rtcp.recv_from(&mut rtcp_buf) => {
                    let Ok((n, src)) = r else { continue };
                    // Only from the media peer's host (the latch's policy, at IP level).
                    if inbound.latch.destination().is_some_and(|d| d.ip() != src.ip()) {
                        continue;
                    }
                    let Some(plain) = srtp.open(rtcp_buf.get(..n).unwrap_or(&[]), true) else { continue };
                    rtcp_peer.get_or_insert(src);
                    for report in RtcpReport::parse_compound(&plain).unwrap_or_default() {
                        if let RtcpReport::Sender { ssrc: s, info, .. } = &report {
                            if Some(*s) == inbound.stats.ssrc() {
                                inbound.stats.on_sender_report(info.ntp_timestamp, Instant::now().into_std());
                            }
                        }
                        tracing::debug!(?call, ?report, "RTCP received");
                    }
                }
                cmd = commands.recv() => match cmd {
                    Some(MediaCommand::Update(m)) => {
                        // a re-INVITE that moves the patient's media moves the latch with it
                        inbound.latch.sdp_changed(m.remote);
                        if m.crypto != media.crypto {
                            // RFC 4568 §7.1.4: a new offer may re-key
                            srtp = Srtp::new(call, srtp_key.as_ref(), &m);
                        }
                        media = m;
                    }
                    Some(MediaCommand::Mute(m)) => muted = m,
                    Some(MediaCommand::Hold(music)) => hold = music.filter(|m| !m.is_empty()).map(|m| (m, 0)),
                    Some(MediaCommand::Answered(m)) => {
                        // Early media may come from an announcement server; the answer's
                        // media may not: latch afresh only if the answer names another address.
                        inbound.latch.sdp_changed(m.remote);
                        if m.crypto != media.crypto {
                            srtp = Srtp::new(call, srtp_key.as_ref(), &m);
                        }
                        media = m;
                        answered = true;
                    }
                    Some(MediaCommand::Dtmf(keys)) => {
                        for key in keys.chars() {
                            let Some(packets) = key_press_payloads(key, 100, 10) else { continue };
                            for (i, (marker, payload)) in packets.into_iter().enumerate() {
                                dtmf_out.push_back(DtmfSlot::Event { marker, payload, starts_event: i == 0 });
                            }
                            dtmf_out.extend([DtmfSlot::Gap, DtmfSlot::Gap, DtmfSlot::Gap]);
                        }
                    }
                    None => {}
                },
                _ = stop.changed() => break,
            }
        }
        let stats = inbound.jitter.stats();
        tracing::info!(?call, latched = ?inbound.latch.latched(), dropped = inbound.latch.dropped(), ?stats, "media ended");
        match recorder {
            // Closing rewrites the header and hashes the whole file (SHA-256): file work kept
            // off the threads the other calls' 20 ms ticks run on, at low priority.
            Some(r) => super::finisher::finish(r).await.map(Some),
            None => Ok(None),
        }
    }
}

/// The receive side of a leg: the source we latched to, reception statistics (for RTCP), DTMF
/// and the jitter buffer. Fed when a datagram wakes the task and at every tick.
struct Inbound {
    latch: RtpLatch,
    stats: ReceiverStats,
    dtmf: Option<DtmfReceiver>,
    jitter: JitterBuffer,
}

impl Inbound {
    /// Takes one datagram from the RTP socket: RTCP (it has its own socket; a peer muxing it is
    /// not supported), other sources than the latched one and unknown payload types are dropped.
    fn on_datagram(
        &mut self,
        data: &[u8],
        src: SocketAddr,
        (media, srtp): (&NegotiatedMedia, &mut Srtp),
        counters: &MediaCounters,
        now: std::time::Instant,
    ) {
        if looks_like_rtcp(data) {
            return;
        }
        if !self.latch.accept(src) {
            counters.latch_dropped();
            return;
        }
        // RFC 3711 §3.3: authenticated (and not replayed) before anything reads the payload
        let Some(plain) = srtp.open(data, false) else {
            return;
        };
        let Ok(pkt) = RtpPacket::parse(&plain) else {
            return;
        };
        counters.packet_in();
        self.stats.on_packet(&pkt, now);
        match self.dtmf.as_mut() {
            Some(rx) if pkt.payload_type == rx.payload_type() => rx.push(&pkt, now),
            _ if pkt.payload_type == media.payload_type
                || G711::from_payload_type(pkt.payload_type).is_some() =>
            {
                self.jitter.push(pkt, now);
            }
            _ => {}
        }
    }

    /// Reports the key presses detected so far.
    fn report_digits(&mut self, call: CallHandle, events: &mpsc::Sender<EngineEvent>) {
        if let Some(rx) = self.dtmf.as_mut() {
            while let Some(digit) = rx.poll() {
                // a full event queue drops a digit rather than stall the media clock
                let _ = events.try_send(EngineEvent::Dtmf { call, digit });
            }
        }
    }
}

/// The RTP socket of a call and its RTCP companion on port + 1 (RFC 3550 §11).
pub(super) struct RtpSockets {
    pub(super) rtp: UdpSocket,
    pub(super) rtcp: UdpSocket,
}

/// Binds a free even port of `range` (and the odd port above it for RTCP) on `ip`, searching
/// from a random point of the range: a leg's port cannot be guessed from the last call's.
pub(super) async fn bind_rtp(
    ip: std::net::IpAddr,
    range: &std::ops::RangeInclusive<u16>,
) -> Result<RtpSockets, CallsError> {
    let start: u16 = rand::random();
    let (first, last) = (*range.start(), *range.end());
    let span = u32::from(last.saturating_sub(first)) / 2 + 1;
    for i in 0..span {
        let offset = ((u32::from(start) + i) % span) * 2;
        let port = u32::from(first) + offset;
        if port >= u32::from(u16::MAX) || port > u32::from(last) {
            continue;
        }
        let Ok(rtp) = UdpSocket::bind(SocketAddr::new(ip, port as u16)).await else {
            continue;
        };
        if let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(ip, port as u16 + 1)).await {
            return Ok(RtpSockets { rtp, rtcp });
        }
    }
    Err(CallsError::NoRtpPort { first, last })
}

/// Moves the frames a bridged source queued into the cushion.
fn take_frames(rx: &mut mpsc::Receiver<Vec<i16>>, cushion: &mut Cushion<Vec<i16>>) {
    while let Ok(frame) = rx.try_recv() {
        cushion.push(frame);
    }
}
