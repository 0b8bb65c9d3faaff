//! `suifang bench dial`: what a nurse's click costs.
//!
//! 1. **Click → INVITE on the wire**: a demo server in this process, the nurse's agent line
//!    connected by a real WebRTC client ([`Probe`], DTLS-SRTP over loopback), and a raw UDP
//!    socket as the trunk. Each round posts `POST /api/v1/tasks/{id}/call` over HTTP and
//!    times until the INVITE datagram arrives at the trunk socket; the trunk answers 503 (a
//!    trunk failure does not use up the patient's attempt, so the same task is dialled again).
//! 2. **CPU per bridged call, WebRTC agent vs SIP-only**: the simulated patient phone answers;
//!    the server's threads (runtime `suifang-srv`) are measured while idle with the line up,
//!    during a call bridged to the WebRTC line, and during a SIP⇄SIP bridged call placed with
//!    the engine directly (the desk-phone case). Peers run on `bench-peer` threads and are not
//!    counted.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use tokio::sync::mpsc;

use super::harness::{err, BenchError, DemoServer};
use super::percentile;
use super::procstat::{thread_cpu_seconds_between, thread_ticks};
use crate::sip::message::Response;
use crate::webrtc::probe::Probe;
use crate::webrtc::{Agent, AudioFrame, FRAME_SAMPLES};

const SERVER_THREADS: &str = "suifang-srv";
const PEER_THREADS: &str = "bench-peer";

fn runtime(name: &'static str) -> Result<tokio::runtime::Runtime, BenchError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(err)
}

/// CPU of the server's threads over `seconds`, as % of one core.
fn measure(seconds: u64) -> f64 {
    let (before, t0) = (thread_ticks(SERVER_THREADS), Instant::now());
    std::thread::sleep(Duration::from_secs(seconds));
    let used = thread_cpu_seconds_between(&before, &thread_ticks(SERVER_THREADS));
    used / t0.elapsed().as_secs_f64() * 100.0
}

/// A trunk that notes when each INVITE arrives and refuses it with 503.
async fn refusing_trunk(socket: tokio::net::UdpSocket, arrivals: mpsc::Sender<Instant>) {
    let mut buf = vec![0u8; 65_535];
    while let Ok((n, from)) = socket.recv_from(&mut buf).await {
        let at = Instant::now();
        let Ok(crate::sip::message::Message::Request(req)) =
            crate::sip::parse::parse_datagram(buf.get(..n).unwrap_or(&[]))
        else {
            continue;
        };
        if req.method != crate::sip::message::Method::Invite {
            continue; // the ACK for our 503
        }
        let _ = arrivals.try_send(at);
        let reply = Response::for_request(&req, 503, Some("bench")).to_bytes();
        let _ = socket.send_to(&reply, from).await;
    }
}

/// Connects `user`'s line with an in-process WebRTC client that streams a tone.
async fn connect_line(state: &crate::api::AppState, id: i64, name: &str) -> Result<(), BenchError> {
    let mut link = state
        .lines
        .connect(Agent {
            id,
            name: name.into(),
        })
        .await
        .map_err(err)?;
    let mut probe = Probe::connect(&mut link, Duration::from_secs(15))
        .await
        .map_err(err)?;
    tokio::spawn(async move {
        let _link = link;
        let mut frame = AudioFrame::SILENCE;
        for (i, s) in frame.0.iter_mut().enumerate() {
            *s = ((i as f64 / FRAME_SAMPLES as f64 * 2.0 * std::f64::consts::PI).sin() * 6000.0)
                as i16;
        }
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        loop {
            tick.tick().await;
            if probe.send(&frame).await.is_err() {
                break;
            }
            while probe.heard.try_recv().is_ok() {}
        }
    });
    Ok(())
}

/// The nurse's session cookie, user id and a claimed task.
async fn nurse_with_task(server: &DemoServer) -> Result<(String, i64, i64), BenchError> {
    let cookie = server.login("nurse", "nurse-demo-1").await?;
    let (_, me) = server
        .call(Method::GET, "/api/v1/me", &cookie, None)
        .await?;
    let id = me["user"]["id"]
        .as_i64()
        .ok_or_else(|| err(format!("no user id in {me}")))?;
    let (_, claim) = server
        .call(
            Method::POST,
            "/api/v1/queue/claim",
            &cookie,
            Some(json!({})),
        )
        .await?;
    let task = claim["task"]["id"]
        .as_i64()
        .ok_or_else(|| err(format!("claim failed: {claim}")))?;
    Ok((cookie, id, task))
}

/// Waits until the call's row shows `state`.
async fn wait_state(
    server: &DemoServer,
    cookie: &str,
    call: &str,
    state: &str,
) -> Result<(), BenchError> {
    for _ in 0..300 {
        let (_, c) = server
            .call(Method::GET, &format!("/api/v1/calls/{call}"), cookie, None)
            .await?;
        if c["state"] == state {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(err(format!("call {call} never reached {state}")))
}

/// Runs both parts and prints the figures.
pub fn run(dials: usize, seconds: u64) -> Result<(), BenchError> {
    let srv = runtime(SERVER_THREADS)?;
    let peer = runtime(PEER_THREADS)?;

    // 1. click → INVITE
    let trunk = peer
        .block_on(tokio::net::UdpSocket::bind("127.0.0.1:0"))
        .map_err(err)?;
    let trunk_addr = trunk.local_addr().map_err(err)?;
    let (arrived_tx, mut arrived) = mpsc::channel(4);
    peer.spawn(refusing_trunk(trunk, arrived_tx));
    let server = srv.block_on(DemoServer::start("dial", |c| {
        c.sip.trunk = Some(trunk_addr);
        c.transcription.enabled = false;
    }))?;
    let (cookie, nurse_id, task) = srv.block_on(nurse_with_task(&server))?;
    peer.block_on(connect_line(&server.state, nurse_id, "nurse"))?;
    eprintln!("bench dial: {dials} dials over the connected line …");
    let mut latencies = Vec::with_capacity(dials);
    for i in 0..dials {
        while arrived.try_recv().is_ok() {}
        let clicked = Instant::now();
        let (status, call) = srv.block_on(server.call(
            Method::POST,
            &format!("/api/v1/tasks/{task}/call"),
            &cookie,
            Some(json!({})),
        ))?;
        if status != 201 {
            return Err(err(format!("dial {i}: {status} {call}")));
        }
        let at = peer
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), arrived.recv()).await })
            .map_err(|_| err(format!("dial {i}: no INVITE within 5 s")))?
            .ok_or_else(|| err("trunk stopped"))?;
        latencies.push((at - clicked).as_secs_f64() * 1000.0);
        let id = call["id"].as_str().unwrap_or_default().to_owned();
        srv.block_on(wait_state(&server, &cookie, &id, "ended"))?;
    }
    srv.block_on(server.stop());
    latencies.sort_by(f64::total_cmp);

    // 2. CPU per bridged call
    let sim_addr = free_udp(&peer)?;
    let audio =
        crate::sim::load_audio(std::path::Path::new("prompts/demo/patient-zh.wav")).map_err(err)?;
    let sim_dir = std::env::temp_dir().join(format!("suifang-bench-sim-{}", std::process::id()));
    let opts = crate::sim::SimOptions {
        listen: sim_addr,
        ring: Duration::from_millis(200),
        hangup_after: Duration::from_secs(3600),
        recordings_dir: sim_dir.clone(),
    };
    peer.spawn(async move {
        if let Err(e) = crate::sim::run(opts, audio, std::future::pending()).await {
            eprintln!("bench dial: simulated patient failed: {e}");
        }
    });
    let server = srv.block_on(DemoServer::start("dial-cpu", |c| {
        c.sip.trunk = Some(sim_addr);
        c.transcription.enabled = false;
    }))?;
    let (cookie, nurse_id, task) = srv.block_on(nurse_with_task(&server))?;
    peer.block_on(connect_line(&server.state, nurse_id, "nurse"))?;
    eprintln!("bench dial: measuring CPU, {seconds} s per window …");
    let idle = measure(seconds);
    let (status, call) = srv.block_on(server.call(
        Method::POST,
        &format!("/api/v1/tasks/{task}/call"),
        &cookie,
        Some(json!({})),
    ))?;
    if status != 201 {
        return Err(err(format!("dial: {status} {call}")));
    }
    let id = call["id"].as_str().unwrap_or_default().to_owned();
    srv.block_on(wait_state(&server, &cookie, &id, "answered"))?;
    std::thread::sleep(Duration::from_secs(5)); // past the announcement
    let webrtc = measure(seconds);
    srv.block_on(server.call(
        Method::POST,
        &format!("/api/v1/calls/{id}/hangup"),
        &cookie,
        None,
    ))?;
    srv.block_on(wait_state(&server, &cookie, &id, "ended"))?;

    let sip_only = srv.block_on(async {
        let cfg = crate::calls::EngineConfig::loopback(sim_dir.join("sip-only"));
        let engine = crate::calls::Engine::start(cfg).await.map_err(err)?;
        let (patient_leg, agent_leg) = crate::calls::bridge_pair("bench-sip-only");
        let to = |user: &str| crate::sip::uri::SipUri::parse(&format!("sip:{user}@{sim_addr}"));
        let a = engine
            .place_call_leg(to("agent").map_err(err)?, agent_leg)
            .await
            .map_err(err)?;
        let p = engine
            .place_call_leg(to("patient").map_err(err)?, patient_leg)
            .await
            .map_err(err)?;
        Ok::<_, BenchError>((engine, a, p))
    })?;
    std::thread::sleep(Duration::from_secs(2)); // both legs answered
    let sip = measure(seconds);
    srv.block_on(async {
        let (engine, a, p) = sip_only;
        let _ = engine.hangup(a).await;
        let _ = engine.hangup(p).await;
        engine.shutdown().await;
    });
    srv.block_on(server.stop());
    let _ = std::fs::remove_dir_all(&sim_dir);

    let per_webrtc = (webrtc - idle).max(0.0);
    let per_sip = (sip - idle).max(0.0);
    println!("suifang bench dial ({dials} dials with a persistent agent line; HTTP click → INVITE at the trunk)");
    println!(
        "  click → INVITE: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (goal p99 < 50 ms)",
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "  server CPU, % of one core over {seconds} s windows: idle with the line up {idle:.2}; \
         bridged to the WebRTC line {webrtc:.2} (call adds {per_webrtc:.2}); \
         SIP⇄SIP bridged {sip:.2} (call adds {per_sip:.2})"
    );
    if per_sip > 0.0 {
        println!(
            "  a WebRTC-bridged call costs {:.1}× a SIP-only bridged call (both recorded)",
            per_webrtc / per_sip
        );
    }
    Ok(())
}

fn free_udp(rt: &tokio::runtime::Runtime) -> Result<SocketAddr, BenchError> {
    let s = rt
        .block_on(tokio::net::UdpSocket::bind("127.0.0.1:0"))
        .map_err(err)?;
    s.local_addr().map_err(err)
}
