//! SIP over TCP for the engine (RFC 3261 §18): accepted and dialled connections, framed by
//! Content-Length ([`Framer`], sans-IO). Each connection has a reader task that hands whole
//! messages to the engine loop with the peer's address (the same contract as a UDP datagram)
//! and a writer task fed by a bounded channel, so a stalled peer never blocks the loop.
//!
//! What a hostile or careless peer cannot do: keep a closed connection's socket open (the
//! reader reports the close and the engine drops the writer, which closes the socket), make a
//! connection buffer grow without bound (a message or a keep-alive stream over
//! [`MAX_BUFFERED`] closes it), or stall the engine while a connection is being opened (the
//! connect runs in the connection's own task; messages queue meanwhile).
//!
//! With TLS ([`TlsMaterial`]) every connection is wrapped before its first byte: accepted ones
//! in our server certificate, dialled ones verified against the trunk's CA. A handshake that
//! fails is a connection that failed ([`TcpEvent::ConnectFailed`]); nothing is ever sent in
//! the clear instead.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::tls::TlsMaterial;
use crate::sip::parse::parse_stream;
use crate::sip::SipError;

/// Messages queued for one connection before it counts as stalled.
const WRITE_QUEUE: usize = 64;
/// Longest time a connection to a peer may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Bytes a connection may hold without a whole message (the largest SIP message suifang takes
/// is 64 KiB; a bigger Content-Length or an endless run of CRLFs closes the connection).
pub(super) const MAX_BUFFERED: usize = 128 * 1024;

/// Identifies one connection, so the close of an old connection from a peer address does not
/// drop a newer one from the same address.
pub(super) type ConnId = u64;

/// What the TCP side hands the engine loop.
pub(super) enum TcpEvent {
    /// A peer connected; replies to it go over this writer.
    Accepted(SocketAddr, ConnId, mpsc::Sender<Vec<u8>>),
    /// One whole SIP message from a peer.
    Message(Vec<u8>, SocketAddr),
    /// The connection ended (closed by the peer, an error, a malformed stream, a failed
    /// handshake of an accepted one): its writer is dropped, which closes the socket.
    Closed(SocketAddr, ConnId),
    /// A connection we dialled could not be opened (refused, no answer, TLS handshake
    /// refused — e.g. a certificate not signed by `sip.tls_ca`): what was queued is dropped
    /// and the requests waiting on it fail now.
    ConnectFailed(SocketAddr, ConnId, String),
}

/// The engine's TCP side.
pub(super) struct TcpSide {
    conns: HashMap<SocketAddr, (ConnId, mpsc::Sender<Vec<u8>>)>,
    next_id: ConnId,
    events_tx: mpsc::Sender<TcpEvent>,
    tls: Option<TlsMaterial>,
    /// Accepted connections and received messages, in order.
    pub events: mpsc::Receiver<TcpEvent>,
}

impl TcpSide {
    /// Starts accepting on `listener` (inside TLS when `tls` is given).
    pub(super) fn start(listener: TcpListener, tls: Option<TlsMaterial>) -> TcpSide {
        let (events_tx, events) = mpsc::channel(1024);
        let tx = events_tx.clone();
        let acceptor = tls.as_ref().map(|t| t.acceptor.clone());
        tokio::spawn(async move {
            // accepted connections count down from the top, dialled ones up from 1
            let mut id: ConnId = u64::MAX;
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        id -= 1;
                        let (writer, queue) = mpsc::channel(WRITE_QUEUE);
                        let (events, acceptor) = (tx.clone(), acceptor.clone());
                        tokio::spawn(async move {
                            let Some(acceptor) = acceptor else {
                                return run_connection(Ok(stream), peer, id, queue, events).await;
                            };
                            // the handshake runs here, not in the accept loop: a peer that
                            // stalls it holds only its own task
                            match tokio::time::timeout(CONNECT_TIMEOUT, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(tls)) => {
                                    run_connection(Ok(tls), peer, id, queue, events).await
                                }
                                Ok(Err(e)) => {
                                    tracing::warn!(%peer, error = %e, "SIP TLS handshake from a peer failed");
                                    let _ = events.send(TcpEvent::Closed(peer, id)).await;
                                }
                                Err(_) => {
                                    tracing::warn!(%peer, "SIP TLS handshake from a peer timed out");
                                    let _ = events.send(TcpEvent::Closed(peer, id)).await;
                                }
                            }
                        });
                        if tx.send(TcpEvent::Accepted(peer, id, writer)).await.is_err() {
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
            next_id: 1,
            events_tx,
            tls,
            events,
        }
    }

    /// Registers an accepted connection so replies to its peer go back over it.
    pub(super) fn register(&mut self, peer: SocketAddr, id: ConnId, writer: mpsc::Sender<Vec<u8>>) {
        self.conns.insert(peer, (id, writer));
    }

    /// Forgets a connection that ended (unless a newer one from that address replaced it).
    pub(super) fn closed(&mut self, peer: SocketAddr, id: ConnId) {
        if self.conns.get(&peer).is_some_and(|(c, _)| *c == id) {
            self.conns.remove(&peer);
        }
    }

    /// Whether a connection to or from `peer` is open.
    pub(super) fn has(&self, peer: SocketAddr) -> bool {
        self.conns.contains_key(&peer)
    }

    /// Connections held now.
    pub(super) fn open_connections(&self) -> usize {
        self.conns.len()
    }

    /// Sends one message to `to`, over its connection or a new one opened in the background
    /// (never waits: the message queues until the connection is up).
    pub(super) fn send(&mut self, to: SocketAddr, data: Vec<u8>) {
        if let Some((_, w)) = self.conns.get(&to) {
            match w.try_send(data) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(%to, "SIP TCP peer is not reading; message dropped");
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(d)) => {
                    self.conns.remove(&to);
                    return self.send(to, d);
                }
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let (writer, queue) = mpsc::channel(WRITE_QUEUE);
        let _ = writer.try_send(data);
        self.conns.insert(to, (id, writer));
        let events = self.events_tx.clone();
        let tls = self.tls.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(to)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    Ok(stream)
                }
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
            };
            let Some(tls) = tls else {
                return run_connection(stream, to, id, queue, events).await;
            };
            let stream = match stream {
                Ok(s) => {
                    let handshake = tls.connector.connect(tls.server_name.clone(), s);
                    match tokio::time::timeout(CONNECT_TIMEOUT, handshake).await {
                        Ok(Ok(s)) => Ok(s),
                        Ok(Err(e)) => Err(format!("TLS handshake refused: {e}")),
                        Err(_) => Err(format!("no TLS handshake within {CONNECT_TIMEOUT:?}")),
                    }
                }
                Err(e) => Err(e),
            };
            run_connection(stream, to, id, queue, events).await;
        });
    }
}

/// Runs one connection (reader here, writer in a task of its own) until it ends, then tells
/// the engine.
async fn run_connection<S>(
    stream: Result<S, String>,
    peer: SocketAddr,
    id: ConnId,
    mut queue: mpsc::Receiver<Vec<u8>>,
    events: mpsc::Sender<TcpEvent>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let stream = match stream {
        Ok(s) => s,
        Err(why) => {
            tracing::error!(%peer, %why, "cannot open SIP connection; nothing is sent in the clear instead");
            let _ = events.send(TcpEvent::ConnectFailed(peer, id, why)).await;
            return;
        }
    };
    let (mut read, mut write) = tokio::io::split(stream);
    // pongs (RFC 5626 §4.4.1) go through the same writer, in order with messages
    let (pong_tx, mut pongs) = mpsc::channel::<()>(4);
    let writer = tokio::spawn(async move {
        loop {
            let data = tokio::select! {
                d = queue.recv() => d,
                p = pongs.recv() => p.map(|()| b"\r\n".to_vec()),
            };
            let Some(data) = data else { return };
            if let Err(e) = write.write_all(&data).await {
                tracing::debug!(%peer, error = %e, "SIP TCP write failed");
                return;
            }
        }
    });
    let mut framer = Framer::default();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = match read.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match framer.push(chunk.get(..n).unwrap_or(&[])) {
            Ok(framed) => {
                for _ in 0..framed.pongs {
                    let _ = pong_tx.try_send(());
                }
                for message in framed.messages {
                    if events.send(TcpEvent::Message(message, peer)).await.is_err() {
                        writer.abort();
                        return;
                    }
                }
            }
            Err(e) => {
                // a stream cannot resynchronise after garbage: close it (§18.3)
                tracing::warn!(%peer, error = %e, "closing SIP TCP connection");
                break;
            }
        }
    }
    // the engine drops its writer on Closed; the write half goes when the writer task ends
    writer.abort();
    let _ = events.send(TcpEvent::Closed(peer, id)).await;
}

/// What one read of a stream yields.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Framed {
    /// Whole SIP messages, without the keep-alive CRLFs before them.
    pub messages: Vec<Vec<u8>>,
    /// Double-CRLF pings seen (each is answered with one CRLF).
    pub pongs: usize,
}

/// Cuts a TCP byte stream into SIP messages (sans-IO).
#[derive(Debug, Default)]
pub(super) struct Framer {
    buf: Vec<u8>,
    /// CRLFs seen since the last message (a ping is two).
    crlfs: usize,
}

impl Framer {
    /// Takes the bytes of one read.
    pub(super) fn push(&mut self, data: &[u8]) -> Result<Framed, SipError> {
        self.buf.extend_from_slice(data);
        let mut out = Framed::default();
        loop {
            // keep-alives between messages: CRLF pairs (RFC 5626 §3.5.1)
            while self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
                self.crlfs += 1;
                if self.crlfs == 2 {
                    out.pongs += 1;
                    self.crlfs = 0;
                }
            }
            if self.buf.is_empty() || self.buf == b"\r" {
                return Ok(out);
            }
            match parse_stream(&self.buf)? {
                Some((_, used)) => {
                    out.messages.push(self.buf.drain(..used).collect());
                    self.crlfs = 0;
                }
                None if self.buf.len() > MAX_BUFFERED => {
                    return Err(SipError::TooLarge(self.buf.len() as u64));
                }
                None => return Ok(out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[u8] = b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bKa\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn messages_are_cut_across_reads_and_pings_get_pongs() {
        let mut f = Framer::default();
        let (a, b) = OPTIONS.split_at(40);
        assert_eq!(f.push(a).unwrap(), Framed::default());
        let got = f.push(b).unwrap();
        assert_eq!(got.messages, [OPTIONS.to_vec()]);
        // a ping split over two reads, then a message after a single keep-alive CRLF
        assert_eq!(f.push(b"\r\n\r").unwrap().pongs, 0);
        assert_eq!(f.push(b"\n").unwrap().pongs, 1);
        let mut next = b"\r\n".to_vec();
        next.extend_from_slice(OPTIONS);
        let got = f.push(&next).unwrap();
        assert_eq!((got.pongs, got.messages.len()), (0, 1));
        assert_eq!(
            got.messages[0], OPTIONS,
            "the CRLF before it is not part of it"
        );
    }

    #[test]
    fn an_endless_message_or_crlf_stream_is_bounded() {
        let mut f = Framer::default();
        let mut head =
            b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nContent-Length: 100000000\r\nCall-ID: c\r\n\r\n"
                .to_vec();
        head.extend(std::iter::repeat_n(b'a', MAX_BUFFERED));
        assert!(f.push(&head).is_err(), "a body larger than the limit");
        let mut f = Framer::default();
        let pings = b"\r\n".repeat(MAX_BUFFERED);
        let got = f.push(&pings).unwrap();
        assert_eq!(got.pongs, MAX_BUFFERED / 2);
        assert!(f.buf.is_empty(), "keep-alives are not kept");
    }
}
