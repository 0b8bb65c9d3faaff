//! The SIP transports suifang speaks (RFC 3261 §18, §26.2): a type of its own so the user agent
//! (`ua`) and the registrar of agents' desk phones (`registrar`) can both name it without
//! depending on each other.

/// SIP transport of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
    /// TCP inside TLS (RFC 3261 §26.2); the trunk's certificate is verified.
    Tls,
}

impl Transport {
    /// As written in a Via header.
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// Whether messages travel over a connection (TCP or TLS): no retransmissions
    /// (§17.1.1.2) and replies on the connection a request came on.
    pub fn is_stream(self) -> bool {
        matches!(self, Transport::Tcp | Transport::Tls)
    }
}
