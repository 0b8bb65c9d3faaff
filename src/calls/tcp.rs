//! SIP over TCP for the engine (RFC 3261 §18): accepted and dialled connections, framed by
//! Content-Length with [`parse_stream`]. Each connection has a reader task that hands whole
//! messages to the engine loop with the peer's address (the same contract as a UDP datagram)
//! and a writer task fed by a bounded channel, so a stalled peer never blocks the loop.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::sip::parse::parse_stream;

/// Messages queued for one connection before it counts as stalled.
const WRITE_QUEUE: usize = 64;
/// Longest time the engine waits to open a connection to a peer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// What the TCP side hands the engine loop.
pub(super) enum TcpEvent {
    /// A peer connected; replies to it go over this writer.
    Accepted(SocketAddr, mpsc::Sender<Vec<u8>>),
    /// One whole SIP message from a peer.
    Message(Vec<u8>, SocketAddr),
}

/// The engine's TCP side.
pub(super) struct TcpSide {
    conns: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    events_tx: mpsc::Sender<TcpEvent>,
    /// Accepted connections and received messages, in order.
    pub events: mpsc::Receiver<TcpEvent>,
}

impl TcpSide {
    /// Starts accepting on `listener`.
    pub(super) fn start(listener: TcpListener) -> TcpSide {
        let (events_tx, events) = mpsc::channel(1024);
        let tx = events_tx.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let writer = connection(stream, peer, tx.clone());
                        if tx.send(TcpEvent::Accepted(peer, writer)).await.is_err() {
                            return; // engine stopped
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "SIP TCP accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        TcpSide {
            conns: HashMap::new(),
            events_tx,
            events,
        }
    }

    /// Registers an accepted connection so replies to its peer go back over it.
    pub(super) fn register(&mut self, peer: SocketAddr, writer: mpsc::Sender<Vec<u8>>) {
        self.conns.insert(peer, writer);
    }

    /// Sends one message to `to`, over its connection or a new one.
    pub(super) async fn send(&mut self, to: SocketAddr, data: Vec<u8>) {
        if let Some(w) = self.conns.get(&to) {
            match w.try_send(data) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(%to, "SIP TCP peer is not reading; message dropped");
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(d)) => {
                    self.conns.remove(&to);
                    return Box::pin(self.send(to, d)).await;
                }
            }
        }
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(to)).await {
            Ok(Ok(stream)) => {
                let writer = connection(stream, to, self.events_tx.clone());
                let _ = writer.try_send(data);
                self.conns.insert(to, writer);
            }
            Ok(Err(e)) => tracing::warn!(%to, error = %e, "cannot open SIP TCP connection"),
            Err(_) => tracing::warn!(%to, "SIP TCP connection timed out"),
        }
    }
}

/// Spawns the reader and writer of one connection; returns the writer's queue.
fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    inbound: mpsc::Sender<TcpEvent>,
) -> mpsc::Sender<Vec<u8>> {
    let _ = stream.set_nodelay(true);
    let (mut read, mut write) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    tokio::spawn(async move {
        while let Some(data) = rx.recv().await {
            if let Err(e) = write.write_all(&data).await {
                tracing::debug!(%peer, error = %e, "SIP TCP write failed");
                return;
            }
        }
    });
    tokio::spawn(async move {
        let mut buf: Vec<u8> = Vec::with_capacity(8192);
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            match read.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
            }
            loop {
                match parse_stream(&buf) {
                    Ok(Some((_, used))) => {
                        let message: Vec<u8> = buf.drain(..used).collect();
                        // keep-alive CRLFs before a message are not part of it
                        let start = message
                            .iter()
                            .position(|b| *b != b'\r' && *b != b'\n')
                            .unwrap_or(message.len());
                        let body = message.get(start..).unwrap_or(&[]).to_vec();
                        if !body.is_empty()
                            && inbound.send(TcpEvent::Message(body, peer)).await.is_err()
                        {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        // a stream cannot resynchronise after garbage: close it (§18.3)
                        tracing::warn!(%peer, error = %e, "closing SIP TCP connection after a malformed message");
                        return;
                    }
                }
            }
        }
    });
    tx
}
