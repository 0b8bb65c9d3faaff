//! SIP request methods (RFC 3261 §7.1) and the `token` characters they are made of: a type of
//! its own so header parsing (`hdr`) and whole messages (`message`) can both use it without
//! depending on each other.

use std::fmt;

use super::SipError;

/// SIP request methods; extension methods are kept by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// Start a session.
    Invite,
    /// Confirm a final response to INVITE.
    Ack,
    /// End a session.
    Bye,
    /// Cancel a pending INVITE.
    Cancel,
    /// Capability query and keep-alive.
    Options,
    /// Bind an address of record.
    Register,
    /// Mid-session information (legacy DTMF).
    Info,
    /// Session update without re-INVITE (RFC 3311).
    Update,
    /// Provisional response acknowledgement (RFC 3262).
    Prack,
    /// Call transfer (RFC 3515).
    Refer,
    /// Event notification (RFC 6665).
    Notify,
    /// Event subscription (RFC 6665).
    Subscribe,
    /// Instant message (RFC 3428).
    Message,
    /// Any other token.
    Other(String),
}

impl Method {
    /// Parses a method token (case-sensitive, RFC 3261 §7.1).
    pub fn parse(s: &str) -> Result<Self, SipError> {
        Ok(match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "REGISTER" => Method::Register,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "REFER" => Method::Refer,
            "NOTIFY" => Method::Notify,
            "SUBSCRIBE" => Method::Subscribe,
            "MESSAGE" => Method::Message,
            t if !t.is_empty() && t.chars().all(is_token_char) => Method::Other(t.to_owned()),
            _ => return Err(SipError::BadStartLine(s.chars().take(100).collect())),
        })
    }

    /// The method token.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Refer => "REFER",
            Method::Notify => "NOTIFY",
            Method::Subscribe => "SUBSCRIBE",
            Method::Message => "MESSAGE",
            Method::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RFC 3261 §25.1 `token` characters.
pub(crate) fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}
