//! What can go wrong on an agent line, with the code the browser sees.

/// Errors of the agent line. Each maps to one signaling error code.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("no line: send an offer first")]
    NoLine,
    #[error("the line is not connected yet; wait for line_state connected")]
    NotConnected,
    #[error("the line is already attached to a call or line check")]
    Busy,
    #[error("the offer was refused: {0}")]
    BadOffer(String),
    #[error("the ICE candidate was refused: {0}")]
    BadCandidate(String),
    #[error("the browser offered no audio codec this server speaks (PCMU or PCMA)")]
    NoCommonCodec,
    #[error("cannot open a UDP port for the line: {0}")]
    Ports(String),
    #[error("line check recording failed: {0}")]
    Recording(String),
    #[error("the line task has stopped")]
    Gone,
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("webrtc: {0}")]
    WebRtc(String),
}

impl LineError {
    /// Stable machine-readable code for `{"type":"error","code":…}`.
    pub fn code(&self) -> &'static str {
        match self {
            LineError::NoLine => "no_line",
            LineError::NotConnected => "not_connected",
            LineError::Busy => "busy",
            LineError::BadOffer(_) => "bad_offer",
            LineError::BadCandidate(_) => "bad_candidate",
            LineError::NoCommonCodec => "no_common_codec",
            LineError::Ports(_) => "no_ports",
            LineError::Recording(_) => "recording_failed",
            LineError::Gone => "line_gone",
            LineError::ShuttingDown => "shutting_down",
            LineError::WebRtc(_) => "webrtc",
        }
    }
}

impl From<webrtc::error::Error> for LineError {
    fn from(e: webrtc::error::Error) -> LineError {
        LineError::WebRtc(e.to_string())
    }
}
