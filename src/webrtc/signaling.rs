//! The line's JSON messages on the agent WebSocket (`GET /api/v1/agent/ws`, served by
//! `api::agent_line`, which adds the call commands).
//!
//! Client → server: `offer`, `candidate`, `ping`, `line_check`, `hangup_line` (here), and the
//! call commands `dial`, `hangup`, `dtmf`, `mute`, `hold`, `transfer`, `monitor` (the same as
//! the REST call API, answered with `call` or `error`; parsed by the web layer).
//! Server → client: `hello`, `answer`, `candidate`, `line_state`, `pong`, `line_check_started`,
//! `line_check_playing`, `line_check_done`, `call` (a command's result), `call_event` (live
//! `call.*` events for this user), `error`, `replaced`.
//! Anything that does not parse is answered with `{"type":"error","code":"bad_message"}`.

use serde::{Deserialize, Serialize};

use super::error::LineError;
use crate::config::IceServer;

/// Longest SDP accepted from a browser; Chromium's audio-only offers are ~5 KB.
pub const MAX_SDP_BYTES: usize = 32 * 1024;
/// Longest line check a nurse may ask for.
pub const MAX_LINE_CHECK_SECONDS: u32 = 30;

/// A message from the browser about the line itself (the socket's other messages, the call
/// commands, belong to the web layer: `api::agent_line`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LineRequest {
    /// A (re)negotiation: replaces the agent's peer connection.
    Offer {
        sdp: String,
    },
    /// A trickled ICE candidate, in the shape of `RTCIceCandidate.toJSON()`. An empty
    /// `candidate` means the browser finished gathering.
    Candidate {
        candidate: String,
        #[serde(default, rename = "sdpMid")]
        sdp_mid: Option<String>,
        #[serde(default, rename = "sdpMLineIndex")]
        sdp_mline_index: Option<u16>,
        #[serde(default, rename = "usernameFragment")]
        username_fragment: Option<String>,
    },
    Ping,
    /// Record `seconds` of the microphone, then play it back.
    LineCheck {
        seconds: u32,
    },
    /// Close the line (the console's "disconnect").
    HangupLine,
}

/// Connection state of the line, as the browser names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineState {
    New,
    Connecting,
    Connected,
    Disconnected,
    Failed,
    Closed,
}

/// A message to the browser.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First message on a socket: who the line belongs to and which STUN/TURN servers to use.
    Hello {
        agent: String,
        ice_servers: Vec<IceServer>,
    },
    Answer {
        sdp: String,
    },
    Candidate {
        candidate: String,
        #[serde(rename = "sdpMid")]
        sdp_mid: Option<String>,
        #[serde(rename = "sdpMLineIndex")]
        sdp_mline_index: Option<u16>,
    },
    LineState {
        state: LineState,
    },
    Pong,
    LineCheckStarted {
        seconds: u32,
    },
    LineCheckPlaying,
    LineCheckDone {
        /// Relative to the recordings directory.
        path: String,
        /// RMS of the recording, 0.0–1.0 of full scale.
        rms: f64,
    },
    Error {
        code: &'static str,
        message: String,
    },
    /// The result of a call command: the call as `GET /api/v1/calls/{id}` shows it.
    Call {
        call: serde_json::Value,
    },
    /// A live call event (`call.state`, `call.dtmf`) for this user.
    CallEvent {
        name: String,
        data: serde_json::Value,
    },
    /// Another socket of the same agent took the line over (a second tab, or a reload whose
    /// old socket had not closed yet); this socket is closed next.
    Replaced,
}

impl ServerMessage {
    /// The `error` message for a line error, with its stable code.
    pub fn error(e: &LineError) -> ServerMessage {
        ServerMessage::Error {
            code: e.code(),
            message: e.to_string(),
        }
    }

    /// A `bad_message` error: the frame could not be understood.
    pub fn bad(message: impl Into<String>) -> ServerMessage {
        ServerMessage::Error {
            code: "bad_message",
            message: message.into(),
        }
    }

    /// The text frame sent to the browser.
    pub fn to_json(&self) -> String {
        // Serialising these plain structs cannot fail; keep a valid fallback anyway.
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"type":"error","code":"internal","message":"unserialisable"}"#.into()
        })
    }
}

/// The `type`s of [`LineRequest`], for the error a frame of unknown type gets.
pub const LINE_REQUEST_TYPES: &str = "offer, candidate, ping, line_check, hangup_line";

impl LineRequest {
    /// Checks the limits serde cannot state (sizes, ranges).
    pub fn validate(self) -> Result<LineRequest, ServerMessage> {
        match &self {
            LineRequest::Offer { sdp } if sdp.len() > MAX_SDP_BYTES => Err(ServerMessage::bad(
                format!("sdp is {} bytes; the limit is {MAX_SDP_BYTES}", sdp.len()),
            )),
            LineRequest::Offer { sdp } if !sdp.starts_with("v=0") => Err(ServerMessage::bad(
                "sdp must be an SDP offer starting with v=0",
            )),
            LineRequest::LineCheck { seconds }
                if *seconds == 0 || *seconds > MAX_LINE_CHECK_SECONDS =>
            {
                Err(ServerMessage::bad(format!(
                    "seconds must be 1 to {MAX_LINE_CHECK_SECONDS}, got {seconds}"
                )))
            }
            LineRequest::Candidate { candidate, .. } if candidate.len() > 1024 => {
                Err(ServerMessage::bad("candidate is longer than 1024 bytes"))
            }
            _ => Ok(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_have_the_documented_shape() {
        let m = ServerMessage::LineCheckDone {
            path: "line-checks/nurse-1.wav".into(),
            rms: 0.25,
        };
        assert_eq!(
            m.to_json(),
            r#"{"type":"line_check_done","path":"line-checks/nurse-1.wav","rms":0.25}"#
        );
        let e = ServerMessage::error(&LineError::NoLine);
        assert!(e.to_json().contains(r#""code":"no_line""#));
        let s = ServerMessage::LineState {
            state: LineState::Connected,
        };
        assert_eq!(s.to_json(), r#"{"type":"line_state","state":"connected"}"#);
    }
}
