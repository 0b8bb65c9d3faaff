//! The engine's SIP sockets: UDP always, TCP when configured, and which of them a message to a
//! peer goes over.

use std::collections::HashMap;
use std::net::SocketAddr;

use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::tcp::TcpSide;

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
