//! The endpoint's public types: its settings, call handles, the events it reports and the
//! outputs the I/O shell acts on.

use std::net::SocketAddr;
use std::time::Duration;

use crate::media::g711::G711;
use crate::sip::negotiate::NegotiatedMedia;
use crate::sip::registrar::{AgentIdentity, RegistrarEvent};
use crate::sip::transaction::TimerConfig;
pub use crate::sip::transport::Transport;
use crate::sip::uri::{NameAddr, SipUri};

use super::keepalive::TrunkHealth;
use super::outcome::CallOutcome;
use super::register::RegistrationState;

/// Username and password for the trunk's digest challenges.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Digest username.
    pub user: String,
    /// Digest password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Static settings of an endpoint (one per SIP socket / trunk).
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Our address as put in Via and Contact (the socket's bound address).
    pub local_addr: SocketAddr,
    /// The transport our requests go over (Via, Contact); TCP also turns retransmissions off
    /// (`timers.reliable`, §17.1.1.2).
    pub transport: Transport,
    /// Send every request here (the trunk/proxy); if `None`, to the Request-URI's IP.
    pub outbound_proxy: Option<SocketAddr>,
    /// User part of our From address.
    pub from_user: String,
    /// Host part of our From address (the trunk's domain).
    pub from_domain: String,
    /// Digest credentials, if the trunk challenges.
    pub credentials: Option<Credentials>,
    /// User-Agent header value.
    pub user_agent: String,
    /// Transaction timers.
    pub timers: TimerConfig,
    /// How long an outbound call may ring before we CANCEL it (outcome: no answer).
    pub ring_timeout: Duration,
    /// Codecs we accept, in preference order.
    pub codecs: Vec<G711>,
    /// Who may start calls (not agents' desk phones, which authenticate).
    pub inbound: super::admission::InboundPolicy,
    /// Whether trunk calls' media must be SDES-SRTP (TLS trunks only).
    pub srtp: crate::sip::sdes::SrtpPolicy,
}

impl EndpointConfig {
    /// Defaults for a UDP endpoint on `local_addr` without a proxy.
    pub fn new(local_addr: SocketAddr) -> Self {
        Self {
            local_addr,
            transport: Transport::Udp,
            outbound_proxy: None,
            from_user: "suifang".to_owned(),
            from_domain: local_addr.ip().to_string(),
            credentials: None,
            user_agent: concat!("suifang/", env!("CARGO_PKG_VERSION")).to_owned(),
            timers: TimerConfig::default(),
            ring_timeout: Duration::from_secs(45),
            codecs: vec![G711::Pcmu, G711::Pcma],
            inbound: super::admission::InboundPolicy::Open,
            srtp: crate::sip::sdes::SrtpPolicy::Off,
        }
    }
}

/// Local handle of a call (stable for its lifetime, never reused by one endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallHandle(pub u64);

/// What happened to a call.
// Signalling events are a handful per call; boxing the big variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    /// An inbound INVITE: answer with [`Endpoint::answer`] or refuse with [`Endpoint::reject`].
    Incoming {
        /// Caller (match the patient by `from.uri.user`).
        from: NameAddr,
        /// Who they called (an agent extension or the hotline).
        to: NameAddr,
        /// The Request-URI (what a desk phone dialled).
        request_uri: SipUri,
        /// Negotiated media from their offer, if the INVITE carried one.
        media: Option<NegotiatedMedia>,
        /// Set when an agent's desk phone placed the call and proved it with digest (see
        /// [`Endpoint::set_registrar`]); `None` for calls from the trunk.
        agent: Option<AgentIdentity>,
    },
    /// 180/183 for an outbound call; `early_media` when the provisional carried SDP.
    Progress {
        /// Status code.
        status: u16,
        /// Where early media (ring-back, announcements) comes from.
        early_media: Option<NegotiatedMedia>,
    },
    /// The call is up; start RTP with these parameters.
    Answered {
        /// Negotiated media.
        media: NegotiatedMedia,
    },
    /// A re-INVITE changed the media (hold, resume, new address).
    MediaChanged {
        /// New parameters.
        media: NegotiatedMedia,
    },
    /// The call is over; the handle is dead after this.
    Ended {
        /// How it ended.
        outcome: CallOutcome,
        /// The final response to the initial INVITE that was on the wire (received for our
        /// calls, sent for calls to us); `None` when there was none (Timer B, a CANCEL before
        /// any provisional). An answered call has 200 even if a CANCEL crossed it.
        final_status: Option<u16>,
    },
}

/// Something for the I/O shell to do.
#[allow(clippy::large_enum_variant)] // see CallEvent
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointOutput {
    /// Send a datagram.
    Transmit {
        /// Destination.
        to: SocketAddr,
        /// Serialised SIP message.
        data: Vec<u8>,
    },
    /// Registration status changed (see [`Endpoint::register`]).
    Registration(RegistrationState),
    /// The result of an OPTIONS ping to the trunk (see [`Endpoint::keep_alive`]).
    TrunkHealth(TrunkHealth),
    /// Our registrar bound, refreshed or removed a desk phone, or refused credentials.
    Registrar(RegistrarEvent),
    /// A new INVITE was refused at the door, statelessly (see [`super::admission`]).
    InviteRefused {
        /// Where it came from.
        source: SocketAddr,
        /// Why.
        refusal: super::admission::Refusal,
    },
    /// Report a call event.
    Event {
        /// Which call.
        call: CallHandle,
        /// What happened.
        event: CallEvent,
    },
}

/// Per-call choices of [`Endpoint::place_call_with`].
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// Send this call's requests here instead of the outbound proxy (a registered desk phone).
    pub dest: Option<SocketAddr>,
    /// Display name in our From (what a desk phone shows).
    pub display_name: Option<String>,
    /// Ring timeout for this call instead of the endpoint's.
    pub ring_timeout: Option<Duration>,
}
