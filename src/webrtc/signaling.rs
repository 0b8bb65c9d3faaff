//! The JSON messages of the agent WebSocket (`GET /api/v1/agent/ws`).
//!
//! Client → server: `offer`, `candidate`, `ping`, `line_check`, `hangup_line`, and the call
//! commands `dial`, `hangup`, `dtmf`, `mute`, `hold`, `transfer`, `monitor` (the same as the
//! REST call API, answered with `call` or `error`).
//! Server → client: `hello`, `answer`, `candidate`, `line_state`, `pong`, `line_check_started`,
//! `line_check_playing`, `line_check_done`, `call` (a command's result), `call_event` (live
//! `call.*` events for this user), `error`, `replaced`.
//! Anything that does not parse is answered with `{"type":"error","code":"bad_message"}`.

use serde::{Deserialize, Serialize};

use super::config::IceServer;
use super::error::LineError;

/// Longest SDP accepted from a browser; Chromium's audio-only offers are ~5 KB.
pub const MAX_SDP_BYTES: usize = 32 * 1024;
/// Longest line check a nurse may ask for.
pub const MAX_LINE_CHECK_SECONDS: u32 = 30;

/// A message from the browser.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
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
    /// Dial the patient of a task this agent holds.
    Dial {
        task_id: i64,
        #[serde(default)]
        contact: Option<crate::telephony::routing::Contact>,
    },
    Hangup {
        call_id: String,
    },
    Dtmf {
        call_id: String,
        digits: String,
    },
    Mute {
        call_id: String,
        muted: bool,
    },
    Hold {
        call_id: String,
        held: bool,
    },
    Transfer {
        call_id: String,
        user_id: i64,
    },
    /// Listen, whisper or barge (`mode: null` stops).
    Monitor {
        call_id: String,
        mode: Option<crate::telephony::MonitorMode>,
    },
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

    fn bad(message: impl Into<String>) -> ServerMessage {
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

/// Parses and validates one text frame from the browser.
pub fn parse(text: &str) -> Result<ClientMessage, ServerMessage> {
    let message: ClientMessage = serde_json::from_str(text).map_err(|e| {
        ServerMessage::bad(format!(
            "expected a JSON object with a known \"type\" (offer, candidate, ping, line_check, \
             hangup_line, dial, hangup, dtmf, mute, hold, transfer, monitor): {e}"
        ))
    })?;
    match &message {
        ClientMessage::Offer { sdp } if sdp.len() > MAX_SDP_BYTES => Err(ServerMessage::bad(
            format!("sdp is {} bytes; the limit is {MAX_SDP_BYTES}", sdp.len()),
        )),
        ClientMessage::Offer { sdp } if !sdp.starts_with("v=0") => Err(ServerMessage::bad(
            "sdp must be an SDP offer starting with v=0",
        )),
        ClientMessage::LineCheck { seconds }
            if *seconds == 0 || *seconds > MAX_LINE_CHECK_SECONDS =>
        {
            Err(ServerMessage::bad(format!(
                "seconds must be 1 to {MAX_LINE_CHECK_SECONDS}, got {seconds}"
            )))
        }
        ClientMessage::Candidate { candidate, .. } if candidate.len() > 1024 => {
            Err(ServerMessage::bad("candidate is longer than 1024 bytes"))
        }
        _ => Ok(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_browser_sends() {
        assert_eq!(parse(r#"{"type":"ping"}"#), Ok(ClientMessage::Ping));
        assert_eq!(
            parse(r#"{"type":"line_check","seconds":3}"#),
            Ok(ClientMessage::LineCheck { seconds: 3 })
        );
        let c = parse(
            r#"{"type":"candidate","candidate":"candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}"#,
        )
        .unwrap();
        assert!(matches!(
            c,
            ClientMessage::Candidate {
                sdp_mline_index: Some(0),
                ..
            }
        ));
    }

    #[test]
    fn refuses_bad_messages_with_a_reason() {
        for (text, needle) in [
            ("not json", "expected a JSON object"),
            (r#"{"type":"dance"}"#, "unknown variant"),
            (r#"{"type":"offer"}"#, "missing field `sdp`"),
            (r#"{"type":"offer","sdp":"hello"}"#, "v=0"),
            (r#"{"type":"line_check","seconds":0}"#, "1 to 30"),
            (
                r#"{"type":"line_check","seconds":-1}"#,
                "expected a JSON object",
            ),
            (r#"{"type":"line_check","seconds":99}"#, "got 99"),
        ] {
            match parse(text) {
                Err(ServerMessage::Error { code, message }) => {
                    assert_eq!(code, "bad_message");
                    assert!(message.contains(needle), "{text}: {message}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

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
