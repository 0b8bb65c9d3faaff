//! Settings of the call engine.

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use crate::sip::ua::Credentials;
use crate::sip::uri::SipUri;

/// Everything the engine needs to place calls through one trunk.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where the SIP socket binds (port 0 picks a free one).
    pub sip_bind: SocketAddr,
    /// UDP, or TCP (a listener on the same port; requests to the trunk over TCP).
    pub transport: crate::sip::ua::Transport,
    /// The trunk/proxy every request goes to; `None` sends to the target URI's IP.
    pub outbound_proxy: Option<SocketAddr>,
    /// User part of our From.
    pub from_user: String,
    /// Trunk credentials, if it challenges.
    pub credentials: Option<Credentials>,
    /// Address RTP sockets bind to and that goes into SDP.
    pub rtp_ip: IpAddr,
    /// Even RTP ports to use (RFC 3550 §11 recommends even ports).
    pub rtp_ports: RangeInclusive<u16>,
    /// Root of `YYYY/MM/DD/<call-id>.wav`.
    pub recordings_dir: PathBuf,
    /// Ring timeout before CANCEL.
    pub ring_timeout: Duration,
    /// SIP timer T1 (RFC 3261 §17); unanswered requests time out after 64·T1 (Timer B/F).
    pub sip_t1: Duration,
    /// Register at this registrar on start (e.g. `sip:pbx.hospital.example`), if set.
    pub registrar: Option<SipUri>,
    /// Requested registration lifetime in seconds.
    pub register_expires: u32,
    /// Ping this trunk URI with OPTIONS at this interval, if set.
    pub trunk_keepalive: Option<(SipUri, Duration)>,
    /// Serve REGISTER for agents' desk phones (and authenticate their INVITEs), if set.
    pub agent_registrar: Option<crate::sip::registrar::RegistrarConfig>,
    /// Log and count an answered leg whose far side is silent this long (`None`: off).
    pub silence_alert: Option<Duration>,
    /// Whose RTP a leg takes: the SDP's address by default (see `rtp::latch`).
    pub rtp_latch: crate::rtp::latch::LatchPolicy,
    /// Who may start calls (the call center: the trunk only; a test phone: anyone).
    pub inbound: crate::sip::ua::admission::InboundPolicy,
    /// Where refused INVITEs are tallied (shared with whoever reports them).
    pub sip_counters: std::sync::Arc<super::counters::SipCounters>,
    /// Where packets and playout are tallied (shared likewise).
    pub media_counters: std::sync::Arc<super::counters::MediaCounters>,
    /// Certificates and trust for `Transport::Tls` (required with it).
    pub tls: Option<super::tls::TlsSettings>,
    /// Whether trunk calls' media is SDES-SRTP (`sip.srtp`; only with TLS).
    pub srtp: crate::sip::sdes::SrtpPolicy,
}

impl EngineConfig {
    /// Loopback defaults for tests and the demo.
    pub fn loopback(recordings_dir: PathBuf) -> Self {
        Self {
            sip_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            transport: crate::sip::ua::Transport::Udp,
            outbound_proxy: None,
            from_user: "suifang".to_owned(),
            credentials: None,
            rtp_ip: IpAddr::from([127, 0, 0, 1]),
            rtp_ports: 30000..=39998,
            recordings_dir,
            ring_timeout: Duration::from_secs(45),
            sip_t1: Duration::from_millis(500),
            registrar: None,
            register_expires: 3600,
            trunk_keepalive: None,
            agent_registrar: None,
            rtp_latch: crate::rtp::latch::LatchPolicy::SdpAddress,
            silence_alert: Some(Duration::from_secs(30)),
            inbound: Default::default(),
            sip_counters: Default::default(),
            media_counters: Default::default(),
            tls: None,
            srtp: crate::sip::sdes::SrtpPolicy::Off,
        }
    }
}
