//! Errors of the SIP layer. Malformed input from the network always becomes one of these
//! (answered with 400 or dropped by the endpoint), never a panic.

/// What was wrong with a SIP message, URI, SDP body or protocol exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SipError {
    /// The message ended before the blank line that closes the headers, or before the body
    /// that Content-Length announced.
    #[error("message truncated: {0}")]
    Truncated(&'static str),
    /// Larger than [`crate::sip::message::MAX_MESSAGE_LEN`] or a Content-Length beyond it.
    #[error("message too large: {0} bytes (limit {limit})", limit = crate::sip::message::MAX_MESSAGE_LEN)]
    TooLarge(u64),
    /// Content-Length is not a decimal number (negative, junk, several values).
    #[error("invalid Content-Length {0:?}")]
    BadContentLength(String),
    /// The first line is neither a request line nor a status line.
    #[error("invalid start line {0:?}")]
    BadStartLine(String),
    /// A header line without a name or colon, or with bytes that are not UTF-8.
    #[error("invalid header: {0}")]
    BadHeader(String),
    /// A mandatory header (RFC 3261 §8.1.1) is missing.
    #[error("missing mandatory header {0}")]
    MissingHeader(&'static str),
    /// A header value that does not follow its grammar (Via, CSeq, From…).
    #[error("invalid {header} header: {value:?}")]
    BadHeaderValue {
        /// Header name.
        header: &'static str,
        /// Offending value.
        value: String,
    },
    /// A URI that is not a valid `sip:`/`sips:` URI.
    #[error("invalid SIP URI {0:?}")]
    BadUri(String),
    /// An SDP body that does not follow RFC 4566.
    #[error("invalid SDP: {0}")]
    BadSdp(String),
    /// The remote SDP offers nothing we can use (no PCMU/PCMA, no audio, port 0).
    #[error("SDP negotiation failed: {0}")]
    NoCommonCodec(String),
    /// A digest challenge that cannot be answered (unknown algorithm, missing nonce…).
    #[error("cannot answer authentication challenge: {0}")]
    BadChallenge(String),
    /// A request that is not valid in the current dialog or transaction state.
    #[error("invalid in this state: {0}")]
    InvalidState(&'static str),
    /// The trunk answered 503 with Retry-After: no new call goes to it until then.
    #[error(
        "the trunk asked to hold new calls for {seconds} s more (503 Retry-After); try again then"
    )]
    TrunkHolding {
        /// Seconds left.
        seconds: u64,
    },
}
