//! The engine's SIP sockets: UDP always, TCP when configured, and which of them a message to a
//! peer goes over.

use std::collections::HashMap;
use std::net::SocketAddr;

use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::tcp::TcpSide;
use super::CallsError;

/// The engine's SIP sockets: always UDP, plus TCP when configured.
pub(super) struct SipIo {
    pub(super) udp: UdpSocket,
    pub(super) tcp: Option<TcpSide>,
    /// Peers heard from over UDP lately: replies go back over UDP even when the trunk is
    /// reached over TCP (RFC 3261 §18.2.2: a response goes over the transport the request
    /// came on).
    pub(super) udp_peers: HashMap<SocketAddr, Instant>,
}

/// UDP peers remembered at most (the oldest half is forgotten when full).
const UDP_PEERS: usize = 4096;

impl SipIo {
    pub(super) async fn send(&mut self, to: SocketAddr, data: Vec<u8>) {
        match self.tcp.as_mut() {
            Some(tcp) if tcp.has(to) || !self.udp_peers.contains_key(&to) => tcp.send(to, data),
            _ => {
                if let Err(e) = self.udp.send_to(&data, to).await {
                    tracing::warn!(%to, error = %e, "SIP send failed");
                }
            }
        }
    }

    /// Notes a datagram's source (only needed when TCP is on).
    pub(super) fn heard_over_udp(&mut self, from: SocketAddr) {
        if self.tcp.is_none() {
            return;
        }
        if self.udp_peers.len() >= UDP_PEERS && !self.udp_peers.contains_key(&from) {
            let mut ages: Vec<Instant> = self.udp_peers.values().copied().collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            self.udp_peers.retain(|_, at| *at > cut);
        }
        self.udp_peers.insert(from, Instant::now());
    }
}

/// Binds the SIP UDP socket and, for TCP/TLS, a listener on the same port number, so one
/// address serves both. With port 0 the kernel picks the UDP port, and that number may be held
/// by some TCP socket (another connection's ephemeral port): then another UDP port is tried,
/// rather than failing the start.
pub(super) async fn bind_sip(
    bind: SocketAddr,
    stream: bool,
) -> Result<(UdpSocket, Option<tokio::net::TcpListener>), CallsError> {
    let attempts = if bind.port() == 0 { 20 } else { 1 };
    let mut last = None;
    for _ in 0..attempts {
        let socket = UdpSocket::bind(bind)
            .await
            .map_err(|source| CallsError::Io {
                what: format!("bind SIP {bind}"),
                source,
            })?;
        if !stream {
            return Ok((socket, None));
        }
        let addr = socket.local_addr().map_err(|source| CallsError::Io {
            what: "SIP local address".into(),
            source,
        })?;
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => return Ok((socket, Some(listener))),
            Err(source) => {
                last = Some(CallsError::Io {
                    what: format!("bind SIP TCP {addr}"),
                    source,
                })
            }
        }
    }
    Err(last.unwrap_or_else(|| CallsError::Io {
        what: format!("bind SIP TCP {bind}"),
        source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
    }))
}
