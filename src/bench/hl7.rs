//! `suifang bench hl7`: ADT^A03 discharges over MLLP, one message in flight per connection (as
//! an interface engine sends: the next only after the ACK), over 1 and over N connections.
//! suifang parses, stores the message with its effect (patient, discharge, enrolment, tasks) in
//! one SQLite transaction and only then ACKs; the peer, python-hl7's asyncio MLLP server
//! (`hl7_peer.py`), parses and ACKs without storing anything. The same client drives both and
//! prints throughput and ACK latency side by side; afterwards the bench counts the stored
//! messages, so every ACK it timed was a commit.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::harness::{err, BenchError, DemoServer};
use super::percentile;
use crate::hl7::mllp::{frame, Frame, MllpDecoder};

/// The peer's script, written next to the bench's data when it runs.
const PEER_SCRIPT: &str = include_str!("hl7_peer.py");

/// What to run.
#[derive(Debug, Clone)]
pub struct Hl7BenchOptions {
    /// Messages per run (each run sends this many, split over its connections).
    pub messages: usize,
    /// The connection counts to run with, e.g. `[1, 8]`.
    pub connections: Vec<usize>,
    /// The python with python-hl7 installed (`scripts/setup.sh` makes
    /// `~/.cache/suifang/venv`); `None` skips the peer.
    pub peer_python: Option<String>,
}

/// One run's figures.
#[derive(Debug, Clone)]
struct RunFigures {
    messages: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl RunFigures {
    fn per_second(&self) -> f64 {
        self.messages as f64 / self.seconds.max(1e-9)
    }
}

pub async fn run(opts: Hl7BenchOptions) -> Result<(), BenchError> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(err)?
        .port();
    let hl7_addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = DemoServer::start("hl7", |c| {
        c.transcription.enabled = false;
        c.sip.enabled = false;
        c.hl7.listen = Some(hl7_addr);
    })
    .await?;
    let stored_before = stored(&server).await?;
    let mut peer = match &opts.peer_python {
        Some(python) => Some(Peer::start(python).await?),
        None => None,
    };
    println!(
        "suifang bench hl7: {} ADT^A03 per run, one message in flight per connection",
        opts.messages
    );
    println!(
        "{:>11}  {:>40}  {:>40}",
        "connections",
        "suifang (parse, commit, then ACK)",
        "python-hl7 (parse, ACK; stores nothing)"
    );
    let mut sent = 0usize;
    for (run, &connections) in opts.connections.iter().enumerate() {
        let ours = drive(hl7_addr, connections, opts.messages, &format!("S{run}")).await?;
        sent += ours.messages;
        let theirs = match &peer {
            Some(p) => Some(drive(p.addr, connections, opts.messages, &format!("P{run}")).await?),
            None => None,
        };
        println!(
            "{connections:>11}  {:>40}  {:>40}",
            figures(&ours),
            theirs.as_ref().map_or("(not run)".into(), figures)
        );
        if let Some(t) = theirs {
            println!(
                "{:>11}  suifang reaches {:.2}× the peer's throughput, with a commit per message",
                "",
                ours.per_second() / t.per_second().max(1e-9)
            );
        }
    }
    let stored_after = stored(&server).await?;
    println!(
        "stored: {} messages in hl7_messages for {sent} ACKed (goal ≥ 2,000 messages/s)",
        stored_after - stored_before
    );
    if let Some(p) = peer.as_mut() {
        p.stop().await;
    }
    server.stop().await;
    if stored_after - stored_before != sent as i64 {
        return Err(err(format!(
            "{sent} messages were ACKed but {} stored",
            stored_after - stored_before
        )));
    }
    Ok(())
}

fn figures(f: &RunFigures) -> String {
    format!(
        "{:>7.0} msg/s, ACK p50 {:.2} ms p99 {:.2} ms",
        f.per_second(),
        f.p50_ms,
        f.p99_ms
    )
}

async fn stored(server: &DemoServer) -> Result<i64, BenchError> {
    server
        .state
        .store
        .read(|c| Ok(c.query_row("SELECT count(*) FROM hl7_messages", [], |r| r.get(0))?))
        .await
        .map_err(err)
}

/// Sends `total` messages over `connections` connections, one in flight on each.
async fn drive(
    addr: SocketAddr,
    connections: usize,
    total: usize,
    prefix: &str,
) -> Result<RunFigures, BenchError> {
    let connections = connections.max(1);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..connections {
        let share = total / connections + usize::from(c < total % connections);
        let prefix = format!("{prefix}C{c}");
        tasks.spawn(async move { sender(addr, &prefix, share).await });
    }
    let mut latencies = Vec::with_capacity(total);
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done.map_err(err)??);
    }
    let seconds = start.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    Ok(RunFigures {
        messages: latencies.len(),
        seconds,
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
    })
}

/// One connection: each message, then its ACK (which must be AA and name the message).
async fn sender(addr: SocketAddr, prefix: &str, count: usize) -> Result<Vec<f64>, BenchError> {
    let mut stream = TcpStream::connect(addr).await.map_err(err)?;
    stream.set_nodelay(true).map_err(err)?;
    let mut decoder = MllpDecoder::new(1 << 20);
    let mut buf = vec![0u8; 8192];
    let mut latencies = Vec::with_capacity(count);
    for i in 0..count {
        let control = format!("{prefix}-{i}");
        let message = discharge(prefix, i, &control);
        let sent = Instant::now();
        stream
            .write_all(&frame(message.as_bytes()))
            .await
            .map_err(err)?;
        let ack = loop {
            let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf))
                .await
                .map_err(|_| err(format!("no ACK for {control} within 30 s")))?
                .map_err(err)?;
            if n == 0 {
                return Err(err(format!(
                    "the receiver closed the connection at {control}"
                )));
            }
            let frames = decoder.push(&buf[..n]).map_err(err)?;
            if let Some(Frame::Message(ack)) = frames.into_iter().next() {
                break ack;
            }
        };
        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
        let ack = String::from_utf8_lossy(&ack);
        let msa = ack
            .split(['\r', '\n'])
            .find(|s| s.starts_with("MSA|"))
            .unwrap_or_default();
        if !msa.starts_with("MSA|AA|") && !msa.starts_with("MSA|CA|") || !msa.contains(&control) {
            return Err(err(format!("{control}: unexpected ACK {msa:?}")));
        }
    }
    Ok(latencies)
}

/// An ADT^A03 discharge of a new heart-failure patient (enrolled in the pathway on receipt).
fn discharge(prefix: &str, i: usize, control: &str) -> String {
    let mut pv1 = vec![""; 46];
    let visit = format!("V-{prefix}-{i}");
    pv1[0] = "PV1";
    pv1[1] = "1";
    pv1[2] = "I";
    pv1[3] = "cardiology^301^1";
    pv1[19] = &visit;
    pv1[36] = "01";
    pv1[45] = "20261206080000";
    [
        format!("MSH|^~\\&|HIS|HOSP|SUIFANG|HOSP|20261206083000||ADT^A03^ADT_A03|{control}|P|2.5"),
        "EVN|A03|20261206083000".to_string(),
        format!("PID|1||B{prefix}{i:06}^^^HOSP^MR||BENCH^PATIENT {i}||19500101|F|||||13800000001"),
        pv1.join("|"),
        "DG1|1||I50.9^Heart failure^I10".to_string(),
    ]
    .join("\r")
}

/// python-hl7's MLLP server, in its own process.
struct Peer {
    child: tokio::process::Child,
    addr: SocketAddr,
    dir: std::path::PathBuf,
}

impl Peer {
    async fn start(python: &str) -> Result<Peer, BenchError> {
        let dir =
            std::env::temp_dir().join(format!("suifang-bench-hl7-peer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(err)?;
        let script = dir.join("hl7_peer.py");
        std::fs::write(&script, PEER_SCRIPT).map_err(err)?;
        let mut child = tokio::process::Command::new(python)
            .arg(&script)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                err(format!(
                    "cannot start the peer with {python} ({e}); run scripts/setup.sh (it installs python-hl7 in ~/.cache/suifang/venv) or pass --no-peer"
                ))
            })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| err("peer has no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .map_err(|_| err("the python-hl7 peer did not start within 20 s"))?
            .map_err(err)?
            .ok_or_else(|| {
                err("the python-hl7 peer exited before listening (is python-hl7 installed?)")
            })?;
        let port: u16 = line
            .strip_prefix("listening ")
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(|| err(format!("the peer said {line:?}")))?;
        Ok(Peer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        })
    }

    async fn stop(&mut self) {
        let _ = self.child.kill().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
