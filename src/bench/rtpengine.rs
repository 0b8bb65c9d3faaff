//! The same call load through rtpengine (Sipwise's media relay, Debian `rtpengine-daemon`),
//! for a side-by-side figure: userspace forwarding only (`--table=-1`, no kernel module),
//! interfaces on 127.0.0.1, recording every call as pcap (`--recording-method=pcap`, written by
//! the daemon itself; the `proc` method needs the kernel module and the recording daemon).
//!
//! rtpengine is no SIP user agent, so the calls are set up the way a SIP proxy would: an ng
//! `offer` with the agent phone's SDP and an `answer` with the patient phone's (bencoded over
//! UDP, see [`super::bencode`]). The phones are in-process RTP generators streaming the same
//! tones as the sipp phones of the suifang run; only rtpengine's own process is measured
//! (/proc/PID/stat and VmRSS).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use super::bencode::{BencodeError, Value};
use super::gaps::tone;
use super::pcap::tally_dir;
use super::procstat::{pid_cpu_seconds, rss_bytes};
use super::relay::{free_udp_port, CallsBenchOptions, RelayFigures, AGENT_HZ, PATIENT_HZ};
use crate::media::g711::G711;

/// rtpengine's RTP ports (apart from the engine's and the sipp phones').
const PORT_MIN: u16 = 40000;
const PORT_MAX: u16 = 49999;

/// Why the rtpengine run could not measure.
#[derive(Debug, thiserror::Error)]
pub enum RtpengineError {
    #[error("the rtpengine binary is not installed (`scripts/bench.sh calls` installs it: apt-get install -y rtpengine-daemon)")]
    Missing,
    #[error("cannot start rtpengine: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("rtpengine did not answer `{0}` on its ng port within 3 tries")]
    NoReply(String),
    #[error("rtpengine refused `{command}`: {reason}")]
    Refused { command: String, reason: String },
    #[error("rtpengine's `{0}` reply has no usable SDP media port")]
    NoMediaPort(String),
    #[error("bad ng reply: {0}")]
    Bencode(#[from] BencodeError),
    #[error("socket or file: {0}")]
    Io(#[from] std::io::Error),
    #[error("no call could be set up; first error: {0}")]
    NoCalls(String),
}

/// The daemon, stopped on drop.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            if let Err(e) = self.0.kill() {
                eprintln!("bench calls: cannot stop rtpengine: {e}");
            }
            let _ = self.0.wait();
        }
    }
}

/// An ng control connection: one request at a time, matched by cookie.
struct Ng {
    socket: UdpSocket,
    to: SocketAddr,
    cookie: u64,
    buf: Vec<u8>,
}

impl Ng {
    async fn request(
        &mut self,
        command: &str,
        mut args: Vec<(&str, Value)>,
    ) -> Result<Value, RtpengineError> {
        self.cookie += 1;
        let cookie = format!("{}_{}", std::process::id(), self.cookie);
        args.push(("command", Value::str(command)));
        let mut msg = format!("{cookie} ").into_bytes();
        Value::dict(args).encode_into(&mut msg);
        for _ in 0..3 {
            self.socket.send_to(&msg, self.to).await?;
            let until = Instant::now() + Duration::from_secs(1);
            while let Ok(r) =
                tokio::time::timeout_at(until, self.socket.recv_from(&mut self.buf)).await
            {
                let (n, _) = r?;
                let reply = self.buf.get(..n).unwrap_or(&[]);
                let Some(body) = reply.strip_prefix(format!("{cookie} ").as_bytes()) else {
                    continue; // a late reply to an earlier try
                };
                let v = Value::decode(body)?;
                let result = v.get("result").and_then(Value::as_text).unwrap_or_default();
                if result == "ok" || result == "pong" {
                    return Ok(v);
                }
                let reason = v
                    .get("error-reason")
                    .and_then(Value::as_text)
                    .unwrap_or(result);
                return Err(RtpengineError::Refused {
                    command: command.to_owned(),
                    reason,
                });
            }
        }
        Err(RtpengineError::NoReply(command.to_owned()))
    }

    /// `offer`/`answer` with our SDP; returns the port rtpengine put into the rewritten SDP.
    async fn negotiate(
        &mut self,
        command: &str,
        args: Vec<(&str, Value)>,
    ) -> Result<u16, RtpengineError> {
        let v = self.request(command, args).await?;
        v.get("sdp")
            .and_then(Value::as_text)
            .and_then(|sdp| sdp_port(&sdp))
            .ok_or_else(|| RtpengineError::NoMediaPort(command.to_owned()))
    }
}

fn sdp(port: u16) -> Value {
    Value::str(&format!(
        "v=0\r\no=- {port} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    ))
}

fn sdp_port(sdp: &str) -> Option<u16> {
    sdp.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
}

/// What the generators saw, all calls together.
#[derive(Debug, Default)]
struct GenTally {
    sent: AtomicU64,
    received: AtomicU64,
    /// Sequence numbers skipped at the receiving phone (lost, or reordered: a late packet
    /// still counts as received).
    lost: AtomicU64,
}

/// Runs the load through rtpengine and returns its figures.
pub(super) async fn run(
    opts: &CallsBenchOptions,
    work: &Path,
) -> Result<RelayFigures, RtpengineError> {
    match Command::new("rtpengine")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(RtpengineError::Missing),
        Err(e) => return Err(RtpengineError::Spawn(e)),
        Ok(_) => {}
    }
    let rec = work.join("rtpengine-recordings");
    std::fs::create_dir_all(&rec)?;
    let ng_port = free_udp_port()?;
    let log = std::fs::File::create(work.join("rtpengine.log"))?;
    let child = Command::new("rtpengine")
        .args([
            "--config-file=none",
            "--foreground",
            "--log-stderr",
            "--log-level=4",
            "--table=-1",
        ])
        .args([
            "--interface=127.0.0.1",
            &format!("--listen-ng=127.0.0.1:{ng_port}"),
        ])
        .args([
            format!("--port-min={PORT_MIN}"),
            format!("--port-max={PORT_MAX}"),
        ])
        .arg(format!("--recording-dir={}", rec.display()))
        .args(["--recording-method=pcap", "--delete-delay=0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .map_err(RtpengineError::Spawn)?;
    let pid = child.id();
    let daemon = Daemon(child);
    let mut ng = Ng {
        socket: UdpSocket::bind("127.0.0.1:0").await?,
        to: SocketAddr::from(([127, 0, 0, 1], ng_port)),
        cookie: 0,
        buf: vec![0u8; 65_535],
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    ng.request("ping", Vec::new()).await?;
    let rss_idle = rss_bytes(&pid.to_string()).unwrap_or(0);

    let n = opts.calls;
    let rate = opts.rate.max(1);
    let agent_tone = Arc::new(G711::Pcmu.encode(&tone(AGENT_HZ, 1, 8000.0)));
    let patient_tone = Arc::new(G711::Pcmu.encode(&tone(PATIENT_HZ, 1, 8000.0)));
    let tally = Arc::new(GenTally::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::with_capacity(n);
    let mut calls = Vec::with_capacity(n);
    let mut first_error = None;
    let mut place = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    place.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let started = Instant::now();
    eprintln!("bench calls: rtpengine (pid {pid}): setting up {n} calls at {rate}/s over ng, recording as pcap");
    for i in 0..n {
        place.tick().await;
        let call_id = format!("bench-{i:05}-{}", std::process::id());
        let (a, b) = (
            UdpSocket::bind("127.0.0.1:0").await?,
            UdpSocket::bind("127.0.0.1:0").await?,
        );
        let (a_port, b_port) = (a.local_addr()?.port(), b.local_addr()?.port());
        let common = |extra: Vec<(&'static str, Value)>| {
            let mut v = vec![
                ("call-id", Value::str(&call_id)),
                ("from-tag", Value::str("agent")),
                ("record call", Value::str("yes")),
            ];
            v.extend(extra);
            v
        };
        let setup = async {
            // offer: the agent phone's SDP; rtpengine's rewrite is what the patient sends to.
            let to_patient_side = ng
                .negotiate("offer", common(vec![("sdp", sdp(a_port))]))
                .await?;
            let to_agent_side = ng
                .negotiate(
                    "answer",
                    common(vec![
                        ("to-tag", Value::str("patient")),
                        ("sdp", sdp(b_port)),
                    ]),
                )
                .await?;
            Ok::<_, RtpengineError>((to_agent_side, to_patient_side))
        };
        match setup.await {
            Ok((a_to, b_to)) => {
                let to = |p| SocketAddr::from(([127, 0, 0, 1], p));
                let phones = Phones {
                    a,
                    b,
                    a_to: to(a_to),
                    b_to: to(b_to),
                };
                tasks.push(tokio::spawn(stream_pair(
                    phones,
                    agent_tone.clone(),
                    patient_tone.clone(),
                    stop_rx.clone(),
                    tally.clone(),
                )));
                calls.push(call_id);
            }
            Err(e) => {
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
        if i % (2 * rate as usize).max(1) == 0 {
            eprintln!(
                "  [{:>5.1} s] ramp: {} calls up through rtpengine; packets received by the phones {}",
                started.elapsed().as_secs_f64(),
                calls.len(),
                tally.received.load(Ordering::Relaxed)
            );
        }
    }
    if calls.is_empty() {
        return Err(RtpengineError::NoCalls(first_error.unwrap_or_default()));
    }
    tokio::time::sleep(Duration::from_millis(500)).await; // the last call's first packets

    let snap = |t: &GenTally| {
        (
            t.sent.load(Ordering::Relaxed),
            t.received.load(Ordering::Relaxed),
            t.lost.load(Ordering::Relaxed),
        )
    };
    let (cpu0, g0, t0) = (
        pid_cpu_seconds(pid).unwrap_or(f64::NAN),
        snap(&tally),
        Instant::now(),
    );
    let mut progress = tokio::time::interval(Duration::from_secs(2));
    let end = t0 + Duration::from_secs(opts.seconds);
    while Instant::now() < end {
        tokio::select! {
            _ = progress.tick() => eprintln!(
                "  [{:>5.1} s] measure: {} calls; packets received by the phones {}; rtpengine CPU {:.1} s",
                started.elapsed().as_secs_f64(),
                calls.len(),
                tally.received.load(Ordering::Relaxed),
                pid_cpu_seconds(pid).unwrap_or(f64::NAN)
            ),
            _ = tokio::time::sleep_until(end) => {}
        }
    }
    let (cpu1, g1, wall) = (
        pid_cpu_seconds(pid).unwrap_or(f64::NAN),
        snap(&tally),
        t0.elapsed(),
    );
    let rss_loaded = rss_bytes(&pid.to_string()).unwrap_or(0);

    if stop_tx.send(true).is_err() {
        eprintln!("bench calls: the RTP generators had already stopped");
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut delete_failures = 0;
    for call_id in &calls {
        let args = vec![
            ("call-id", Value::str(call_id)),
            ("from-tag", Value::str("agent")),
        ];
        if ng.request("delete", args).await.is_err() {
            delete_failures += 1;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await; // pcap files are closed on delete
    let pcap = tally_dir(&rec.join("pcaps")).ok();
    drop(daemon);

    let mut notes = vec![format!(
        "phones: {} packets sent, {} received, {} sequence jumps (lost or reordered; in the window: {} sent, {} received, {} jumps)",
        g1.0, g1.1, g1.2, g1.0 - g0.0, g1.1 - g0.1, g1.2 - g0.2
    )];
    if calls.len() < n || delete_failures > 0 {
        notes.push(format!(
            "{} of {n} calls set up ({delete_failures} deletes failed); first error: {}",
            calls.len(),
            first_error.as_deref().unwrap_or("-")
        ));
    }
    Ok(RelayFigures {
        calls_established: calls.len(),
        window_seconds: wall.as_secs_f64(),
        cpu_seconds: cpu1 - cpu0,
        rss_growth: rss_loaded.saturating_sub(rss_idle),
        packets_in: g1.0 - g0.0,
        packets_out: g1.1 - g0.1,
        recordings: pcap.map_or(0, |(_, files)| files),
        pcap,
        notes,
        ..RelayFigures::default()
    })
}

/// The two phones of one call and where each sends (rtpengine's port facing it).
struct Phones {
    a: UdpSocket,
    b: UdpSocket,
    a_to: SocketAddr,
    b_to: SocketAddr,
}

/// One call's phones: each sends 20 ms of its tone every tick to rtpengine and counts what
/// comes back from the other side.
async fn stream_pair(
    p: Phones,
    a_tone: Arc<Vec<u8>>,
    b_tone: Arc<Vec<u8>>,
    mut stop: watch::Receiver<bool>,
    tally: Arc<GenTally>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let (ssrc_a, ssrc_b): (u32, u32) = (rand::random(), rand::random());
    let (mut seq, mut ts, mut pos) = (rand::random::<u16>(), rand::random::<u32>(), 0usize);
    let (mut buf_a, mut buf_b) = (vec![0u8; 1500], vec![0u8; 1500]);
    let (mut next_a, mut next_b): (Option<u16>, Option<u16>) = (None, None);
    let mut pkt = Vec::with_capacity(172);
    let on_packet = |data: &[u8], next: &mut Option<u16>| {
        if data.len() < 12 {
            return;
        }
        tally.received.fetch_add(1, Ordering::Relaxed);
        let s = u16::from_be_bytes([data[2], data[3]]);
        if let Some(expected) = *next {
            let ahead = s.wrapping_sub(expected);
            if ahead > 0 && ahead < 1000 {
                tally.lost.fetch_add(u64::from(ahead), Ordering::Relaxed);
            }
        }
        *next = Some(s.wrapping_add(1));
    };
    loop {
        tokio::select! {
            _ = tick.tick() => {
                for (sock, to, tone, ssrc) in [(&p.a, p.a_to, &a_tone, ssrc_a), (&p.b, p.b_to, &b_tone, ssrc_b)] {
                    pkt.clear();
                    pkt.extend([0x80, 0]);
                    pkt.extend(seq.to_be_bytes());
                    pkt.extend(ts.to_be_bytes());
                    pkt.extend(ssrc.to_be_bytes());
                    // the tone is whole 20 ms frames long, so a frame never straddles the loop
                    let at = pos % tone.len().max(1);
                    pkt.extend_from_slice(tone.get(at..at + 160).unwrap_or(&[]));
                    if sock.send_to(&pkt, to).await.is_ok() {
                        tally.sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
                seq = seq.wrapping_add(1);
                ts = ts.wrapping_add(160);
                pos += 160;
            }
            r = p.a.recv_from(&mut buf_a) => if let Ok((n, _)) = r { on_packet(buf_a.get(..n).unwrap_or(&[]), &mut next_a) },
            r = p.b.recv_from(&mut buf_b) => if let Ok((n, _)) = r { on_packet(buf_b.get(..n).unwrap_or(&[]), &mut next_b) },
            _ = stop.changed() => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_media_port_is_read_from_rtpengine_sdp() {
        let s = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 40012 RTP/AVP 0\r\na=rtcp:40013\r\n";
        assert_eq!(sdp_port(s), Some(40012));
        assert_eq!(sdp_port("v=0\r\n"), None);
    }
}
