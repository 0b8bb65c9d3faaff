//! SDP offer/answer for G.711 calls (RFC 3264): build our offer, pick the codec from the remote
//! description, build the answer, and detect hold. With SDES-SRTP (RFC 4568, TLS trunks only:
//! see [`super::sdes`]) the stream is `RTP/SAVP` and each side names its key in `a=crypto`.

use std::net::{IpAddr, SocketAddr};

use super::sdes::{Crypto, SrtpPolicy};
use super::sdp::{Direction, MediaDescription, RtpMap, SessionDescription};
use super::SipError;
use crate::media::g711::G711;
use crate::rtp::srtp::MasterKey;

/// What we offer or answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// Address in `c=` and `o=`.
    pub ip: IpAddr,
    /// Our RTP port.
    pub port: u16,
    /// `o=` session id (stable per call).
    pub session_id: u64,
    /// `o=` version; bump on every new offer/answer that changes (RFC 3264 §8).
    pub session_version: u64,
    /// Codecs in preference order.
    pub codecs: Vec<G711>,
    /// Dynamic payload type for telephone-event (RFC 4733), usually 101.
    pub telephone_event_pt: Option<u8>,
    /// Our direction (sendrecv normally; sendonly when we put the patient on hold).
    pub direction: Direction,
    /// Our SRTP master key when the media is SRTP (`RTP/SAVP` + `a=crypto`); `None`: RTP/AVP.
    pub srtp_key: Option<MasterKey>,
}

impl LocalMedia {
    /// A PCMU+PCMA+telephone-event/101 sendrecv description.
    pub fn g711(ip: IpAddr, port: u16, session_id: u64) -> Self {
        Self {
            ip,
            port,
            session_id,
            session_version: 1,
            codecs: vec![G711::Pcmu, G711::Pcma],
            telephone_event_pt: Some(101),
            direction: Direction::SendRecv,
            srtp_key: None,
        }
    }

    /// The same description offering/answering SRTP keyed with `key` (RFC 4568).
    pub fn with_srtp(mut self, key: MasterKey) -> Self {
        self.srtp_key = Some(key);
        self
    }

    fn describe(
        &self,
        codecs: &[(u8, G711)],
        te: Option<u8>,
        direction: Direction,
        crypto_tag: u32,
    ) -> SessionDescription {
        let mut formats: Vec<String> = codecs.iter().map(|(pt, _)| pt.to_string()).collect();
        let mut rtpmaps: Vec<RtpMap> = codecs
            .iter()
            .map(|(pt, c)| RtpMap {
                payload_type: *pt,
                encoding: match c {
                    G711::Pcmu => "PCMU",
                    G711::Pcma => "PCMA",
                }
                .to_owned(),
                clock_rate: 8000,
                channels: None,
            })
            .collect();
        let mut fmtp = Vec::new();
        if let Some(te) = te {
            formats.push(te.to_string());
            rtpmaps.push(RtpMap {
                payload_type: te,
                encoding: "telephone-event".to_owned(),
                clock_rate: 8000,
                channels: None,
            });
            fmtp.push((te, "0-15".to_owned()));
        }
        let (proto, other) = match &self.srtp_key {
            Some(key) => {
                let crypto = Crypto {
                    tag: crypto_tag,
                    key: key.clone(),
                };
                (
                    "RTP/SAVP",
                    vec![("crypto".to_owned(), Some(crypto.value()))],
                )
            }
            None => ("RTP/AVP", Vec::new()),
        };
        SessionDescription {
            origin_user: "suifang".to_owned(),
            session_id: self.session_id,
            session_version: self.session_version,
            origin_addr: self.ip.to_string(),
            session_name: "suifang".to_owned(),
            connection: Some(self.ip),
            direction: None,
            media: vec![MediaDescription {
                media: "audio".to_owned(),
                port: self.port,
                proto: proto.to_owned(),
                formats,
                connection: None,
                rtpmaps,
                fmtp,
                direction: Some(direction),
                ptime: Some(20),
                other,
            }],
        }
    }

    /// Our offer: every codec we support plus telephone-event.
    pub fn offer(&self) -> SessionDescription {
        let codecs: Vec<(u8, G711)> = self.codecs.iter().map(|c| (c.payload_type(), *c)).collect();
        self.describe(&codecs, self.telephone_event_pt, self.direction, 1)
    }

    /// Our answer to a remote offer already negotiated into `chosen`: only the chosen codec,
    /// telephone-event with the offerer's payload type, and the answering direction.
    pub fn answer(&self, chosen: &NegotiatedMedia) -> SessionDescription {
        let direction = combine(self.direction, chosen.remote_direction.answer());
        self.describe(
            &[(chosen.payload_type, chosen.codec)],
            chosen.telephone_event_pt,
            direction,
            // RFC 4568 §6.1: the answer's crypto line carries the tag of the offer's it took
            chosen.crypto.as_ref().map_or(1, |c| c.tag),
        )
    }
}

/// Intersection of what we want and what the answer rules allow.
fn combine(ours: Direction, allowed: Direction) -> Direction {
    let send = matches!(ours, Direction::SendRecv | Direction::SendOnly)
        && matches!(allowed, Direction::SendRecv | Direction::SendOnly);
    let recv = matches!(ours, Direction::SendRecv | Direction::RecvOnly)
        && matches!(allowed, Direction::SendRecv | Direction::RecvOnly);
    match (send, recv) {
        (true, true) => Direction::SendRecv,
        (true, false) => Direction::SendOnly,
        (false, true) => Direction::RecvOnly,
        (false, false) => Direction::Inactive,
    }
}

/// The outcome of negotiation: what to send, where, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedMedia {
    /// Where to send RTP; `None` when the remote asked for no media (port 0 or the RFC 2543
    /// hold address 0.0.0.0).
    pub remote: Option<SocketAddr>,
    /// Codec to encode with.
    pub codec: G711,
    /// Payload type for that codec in this session.
    pub payload_type: u8,
    /// Payload type of telephone-event/8000, if the remote supports it.
    pub telephone_event_pt: Option<u8>,
    /// Direction the remote declared.
    pub remote_direction: Direction,
    /// Packetisation time the remote asked for (ms), default 20.
    pub ptime: u32,
    /// The remote's SRTP key (its `a=crypto` line we took), when the media is SRTP.
    pub crypto: Option<Crypto>,
}

impl NegotiatedMedia {
    /// True when the remote put us on hold (RFC 3264 §8.4): it will not send, or wants nothing.
    pub fn remote_holds(&self) -> bool {
        self.remote.is_none()
            || matches!(
                self.remote_direction,
                Direction::SendOnly | Direction::Inactive
            )
    }

    /// True when we may send media.
    pub fn may_send(&self) -> bool {
        self.remote.is_some()
            && matches!(
                self.remote_direction,
                Direction::SendRecv | Direction::RecvOnly
            )
    }
}

fn codec_of(m: &MediaDescription, pt: u8) -> Option<G711> {
    match m.rtpmaps.iter().find(|r| r.payload_type == pt) {
        Some(r) if r.clock_rate == 8000 && r.encoding.eq_ignore_ascii_case("PCMU") => {
            Some(G711::Pcmu)
        }
        Some(r) if r.clock_rate == 8000 && r.encoding.eq_ignore_ascii_case("PCMA") => {
            Some(G711::Pcma)
        }
        Some(_) => None,
        None => G711::from_payload_type(pt), // static types need no rtpmap (RFC 3551)
    }
}

/// Picks codec, address and DTMF payload type from a remote offer or answer. The remote's
/// format order wins among codecs in `supported`. Plain RTP only; see [`negotiate_with`].
pub fn negotiate(
    remote: &SessionDescription,
    supported: &[G711],
) -> Result<NegotiatedMedia, SipError> {
    negotiate_with(remote, supported, SrtpPolicy::Off)
}

/// [`negotiate`] under an SRTP policy: with [`SrtpPolicy::Mandatory`] only `RTP/SAVP` with an
/// `a=crypto` line of our suite is taken (no fallback to plain RTP: a trunk that cannot do
/// SRTP gets 488), with [`SrtpPolicy::Off`] only `RTP/AVP`.
pub fn negotiate_with(
    remote: &SessionDescription,
    supported: &[G711],
    srtp: SrtpPolicy,
) -> Result<NegotiatedMedia, SipError> {
    let audio = remote
        .audio()
        .ok_or_else(|| SipError::NoCommonCodec("no m=audio section".into()))?;
    let crypto = match srtp {
        SrtpPolicy::Off if audio.proto.eq_ignore_ascii_case("RTP/AVP") => None,
        SrtpPolicy::Off => {
            return Err(SipError::NoCommonCodec(format!(
                "unsupported transport {} (SRTP needs sip.transport = tls)",
                audio.proto
            )))
        }
        SrtpPolicy::Mandatory => {
            if !audio.proto.eq_ignore_ascii_case("RTP/SAVP") {
                return Err(SipError::NoCommonCodec(format!(
                    "SRTP is mandatory here: offer RTP/SAVP, not {}",
                    audio.proto
                )));
            }
            let crypto = audio
                .other
                .iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case("crypto"))
                .find_map(|(_, value)| value.as_deref().and_then(Crypto::parse))
                .ok_or_else(|| {
                    SipError::NoCommonCodec(format!(
                        "SRTP is mandatory here: no a=crypto line with {}",
                        super::sdes::SUITE
                    ))
                })?;
            Some(crypto)
        }
    };
    let (payload_type, codec) = audio
        .formats
        .iter()
        .filter_map(|f| f.parse::<u8>().ok())
        .find_map(|pt| {
            codec_of(audio, pt)
                .filter(|c| supported.contains(c))
                .map(|c| (pt, c))
        })
        .ok_or_else(|| {
            SipError::NoCommonCodec(format!(
                "offered formats {:?}, we support PCMU/PCMA",
                audio.formats
            ))
        })?;
    let telephone_event_pt = audio
        .rtpmaps
        .iter()
        .find(|r| r.encoding.eq_ignore_ascii_case("telephone-event") && r.clock_rate == 8000)
        .map(|r| r.payload_type)
        .filter(|pt| audio.formats.iter().any(|f| f == &pt.to_string()));
    let ip = remote
        .connection_for(audio)
        .ok_or_else(|| SipError::BadSdp("no c= line for the audio stream".into()))?;
    let remote_addr =
        (audio.port != 0 && !ip.is_unspecified()).then(|| SocketAddr::new(ip, audio.port));
    Ok(NegotiatedMedia {
        remote: remote_addr,
        codec,
        payload_type,
        telephone_event_pt,
        remote_direction: remote.direction_for(audio),
        ptime: audio.ptime.unwrap_or(20),
        crypto,
    })
}

#[cfg(test)]
#[path = "negotiate_tests.rs"]
mod tests;
