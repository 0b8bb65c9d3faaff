//! SIP over TCP at the edge (issue "Harden the edge", item 3), against the real `suifang demo`
//! with `sip.transport = "tcp"` and raw sockets from the test: 2,000 connections opened and
//! closed leave no file descriptor behind; a double-CRLF keep-alive ping gets its CRLF pong
//! (RFC 5626 §4.4.1); a connection that sends more than the buffer limit without a whole
//! message is closed; a request that came over UDP is answered over UDP.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use crate::common::call_harness::Suifang;
use crate::common::serial;
use crate::common::wait_for;

fn options(transport: &str, local: SocketAddr, n: u32) -> Vec<u8> {
    format!(
        "OPTIONS sip:hotline@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {local};branch=z9hG4bKtcp{n}\r\n\
         From: <sip:probe@{local}>;tag=p{n}\r\n\
         To: <sip:hotline@127.0.0.1>\r\n\
         Call-ID: tcp-edge-{n}@{local}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Reads from `stream` until the end of a SIP head (or `limit`); returns what came.
fn read_head(stream: &mut TcpStream, limit: Duration) -> String {
    stream.set_read_timeout(Some(limit)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fd dir")
        .count()
}

/// Whether the server has closed its socket of the connection from our `client_port`: the
/// kernel's table has no row for it that is still open on the server's side (ESTABLISHED
/// `01`, or CLOSE_WAIT `08`: our FIN seen, the server's close not yet made).
fn server_side_closed(server_port: u16, client_port: u16) -> bool {
    let (local, remote) = (format!(":{server_port:04X}"), format!(":{client_port:04X}"));
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().all(|table| {
        std::fs::read_to_string(table).is_ok_and(|text| {
            !text.lines().skip(1).any(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                f.len() > 3
                    && f[1].ends_with(&local)
                    && f[2].ends_with(&remote)
                    && (f[3] == "01" || f[3] == "08")
            })
        })
    })
}

fn tcp_server(dir: &std::path::Path) -> Suifang {
    Suifang::start(dir, &[("SUIFANG_SIP_TRANSPORT", "tcp")])
}

#[test]
fn two_thousand_closed_connections_leave_no_descriptor_behind() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let suifang = tcp_server(dir.path());
    let pid = suifang.server.child.id();
    // one connection first, so lazily opened files (logs, the database) are open already
    let first = {
        let mut s = TcpStream::connect(suifang.sip).expect("connect");
        let me = s.local_addr().expect("addr");
        s.write_all(&options("TCP", me, 0)).expect("write");
        assert!(read_head(&mut s, Duration::from_secs(5)).starts_with("SIP/2.0 200"));
        me
    };
    let closed_settles = |limit: usize| {
        wait_for(
            "descriptors back to the baseline",
            Duration::from_secs(10),
            || (open_fds(pid) <= limit).then_some(()),
        )
    };
    // the baseline once the server has closed its side of that first connection
    wait_for(
        "the server to close the first connection",
        Duration::from_secs(10),
        || server_side_closed(suifang.sip.port(), first.port()).then_some(()),
    );
    let baseline = open_fds(pid);
    let started = Instant::now();
    for n in 1..=2000u32 {
        let mut s = TcpStream::connect(suifang.sip).expect("connect");
        let me = s.local_addr().expect("addr");
        s.write_all(&options("TCP", me, n)).expect("write");
        // every connection is answered (it was registered) before it is closed
        let head = read_head(&mut s, Duration::from_secs(5));
        assert!(head.starts_with("SIP/2.0 200"), "connection {n}: {head:?}");
    }
    eprintln!(
        "2000 connections in {:?}; descriptors {} at the baseline, {} right after",
        started.elapsed(),
        baseline,
        open_fds(pid)
    );
    closed_settles(baseline + 2);
}

#[test]
fn keep_alive_pings_get_pongs_and_a_flooding_connection_is_closed() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let suifang = tcp_server(dir.path());

    let mut s = TcpStream::connect(suifang.sip).expect("connect");
    s.write_all(b"\r\n\r\n").expect("ping");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut pong = [0u8; 2];
    s.read_exact(&mut pong).expect("a pong");
    assert_eq!(&pong, b"\r\n");
    // and the connection still carries SIP afterwards
    let me = s.local_addr().expect("addr");
    s.write_all(&options("TCP", me, 1)).expect("write");
    assert!(read_head(&mut s, Duration::from_secs(5)).starts_with("SIP/2.0 200"));

    // 1 MiB that never becomes a message: the server closes the connection
    let mut flood = TcpStream::connect(suifang.sip).expect("connect");
    let junk = vec![b'a'; 64 * 1024];
    let mut sent = 0usize;
    for _ in 0..16 {
        match flood.write_all(&junk) {
            Ok(()) => sent += junk.len(),
            Err(_) => break, // already closed by the server
        }
    }
    flood
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 16];
    let closed = matches!(flood.read(&mut buf), Ok(0) | Err(_));
    // (the kernel's socket buffers take the writes; the server reads at most MAX_BUFFERED)
    eprintln!("flooding connection: {sent} bytes written before the close was seen");
    assert!(closed, "the server closed the flooding connection");
}

#[test]
fn a_request_over_udp_is_answered_over_udp_when_the_trunk_is_on_tcp() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let suifang = tcp_server(dir.path());
    let udp = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let me = udp.local_addr().expect("addr");
    udp.send_to(&options("UDP", me, 7), suifang.sip)
        .expect("send");
    udp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = vec![0u8; 65536];
    let (n, _) = udp
        .recv_from(&mut buf)
        .expect("the answer came back over UDP");
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("SIP/2.0 200"), "{text}");
}
