//! Errors of the RTP layer. Every malformed datagram maps to one of these; none panics.

/// Why a datagram was not accepted as RTP, RTCP or a telephone-event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Shorter than the fixed header (or than what the header says follows).
    #[error("packet truncated: need {need} bytes, have {have}")]
    Truncated {
        /// Bytes required.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// Version field is not 2 (RFC 3550 §5.1).
    #[error("unsupported RTP/RTCP version {0}")]
    BadVersion(u8),
    /// Padding count is zero or larger than the payload (RFC 3550 §5.1, P bit).
    #[error("invalid padding length {0}")]
    BadPadding(u8),
    /// An RTCP packet type this module does not parse.
    #[error("unsupported RTCP packet type {0}")]
    UnsupportedRtcp(u8),
    /// A field value that cannot be serialised (e.g. more than 15 CSRCs).
    #[error("invalid field: {0}")]
    Invalid(&'static str),
}
