//! Errors of the call engine.

use crate::media::MediaError;
use crate::sip::SipError;

/// Why a call-engine operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CallsError {
    /// Binding or using a socket failed.
    #[error("socket {what}: {source}")]
    Io {
        /// What we were doing (e.g. "bind SIP 127.0.0.1:5060").
        what: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// No free RTP port in the configured range.
    #[error("no free RTP port in {first}..={last}; widen `rtp_ports` or end some calls")]
    NoRtpPort {
        /// First port of the range.
        first: u16,
        /// Last port of the range.
        last: u16,
    },
    /// The SIP layer refused (bad target, no route…).
    #[error(transparent)]
    Sip(#[from] SipError),
    /// Recording failed.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// The SIP TLS material could not be loaded.
    #[error(transparent)]
    Tls(#[from] super::tls::TlsError),
    /// The engine task has stopped.
    #[error("the call engine is not running")]
    EngineStopped,
}
