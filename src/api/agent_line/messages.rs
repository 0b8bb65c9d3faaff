//! The agent WebSocket's messages as the web layer reads them: the line's own requests
//! ([`LineRequest`], defined by `webrtc::signaling`) and the call commands, which are the
//! REST call API's commands over the socket.

use serde::Deserialize;

use crate::telephony::routing::Contact;
use crate::telephony::MonitorMode;
use crate::webrtc::signaling::{LineRequest, ServerMessage, LINE_REQUEST_TYPES};

/// A call command from the browser.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CallRequest {
    /// Dial the patient of a task this agent holds.
    Dial {
        task_id: i64,
        #[serde(default)]
        contact: Option<Contact>,
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
        mode: Option<MonitorMode>,
    },
}

/// The `type`s of [`CallRequest`].
const CALL_REQUEST_TYPES: [&str; 7] = [
    "dial", "hangup", "dtmf", "mute", "hold", "transfer", "monitor",
];

/// One text frame from the browser.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    Line(LineRequest),
    Call(CallRequest),
}

/// Parses and validates one text frame from the browser.
pub fn parse(text: &str) -> Result<ClientMessage, ServerMessage> {
    let bad = |e: serde_json::Error| {
        ServerMessage::bad(format!(
            "expected a JSON object with a known \"type\" ({LINE_REQUEST_TYPES}, {}): {e}",
            CALL_REQUEST_TYPES.join(", ")
        ))
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(bad)?;
    let is_call = value
        .get("type")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|t| CALL_REQUEST_TYPES.contains(&t));
    if is_call {
        CallRequest::deserialize(value)
            .map(ClientMessage::Call)
            .map_err(bad)
    } else {
        LineRequest::deserialize(value)
            .map_err(bad)?
            .validate()
            .map(ClientMessage::Line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_browser_sends() {
        assert_eq!(
            parse(r#"{"type":"ping"}"#),
            Ok(ClientMessage::Line(LineRequest::Ping))
        );
        assert_eq!(
            parse(r#"{"type":"line_check","seconds":3}"#),
            Ok(ClientMessage::Line(LineRequest::LineCheck { seconds: 3 }))
        );
        let c = parse(
            r#"{"type":"candidate","candidate":"candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}"#,
        )
        .unwrap();
        assert!(matches!(
            c,
            ClientMessage::Line(LineRequest::Candidate {
                sdp_mline_index: Some(0),
                ..
            })
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
    fn call_commands_parse_with_their_payloads() {
        assert_eq!(
            parse(r#"{"type":"hangup","call_id":"c1"}"#),
            Ok(ClientMessage::Call(CallRequest::Hangup {
                call_id: "c1".into()
            }))
        );
        match parse(r#"{"type":"dial"}"#) {
            Err(ServerMessage::Error { message, .. }) => {
                assert!(message.contains("missing field `task_id`"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
}
