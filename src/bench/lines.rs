//! "What does one agent line cost?": runs N lines with an echo attached (the work a bridged
//! call adds on the line side) against N in-process [`Probe`] softphones streaming PCMU, and
//! measures the CPU time of the line side only.
//!
//! Lines and probes run on two separate tokio runtimes with named threads, so the CPU of the
//! threads named `suifang-line` is the server's cost (ICE consent, SRTP both ways, G.711
//! decode/encode, pacing) and the probes' cost is reported apart. Linux only (`/proc`).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::bench::procstat::{thread_cpu_seconds_between, thread_ticks};
use crate::config::WebRtcConfig;
use crate::webrtc::frame::{AudioFrame, FRAME_DURATION, FRAME_SAMPLES};
use crate::webrtc::probe::Probe;
use crate::webrtc::{Agent, LineError, Lines};

const LINE_THREADS: &str = "suifang-line";
const PROBE_THREADS: &str = "bench-probe";

/// Result of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LineBenchReport {
    pub lines: usize,
    pub seconds: f64,
    /// CPU seconds used by the line side during the measured window.
    pub line_cpu_seconds: f64,
    /// Line-side CPU as a percentage of one core, per line.
    pub cpu_percent_per_line: f64,
    /// CPU seconds of the probe softphones (the "browsers"), for comparison.
    pub probe_cpu_seconds: f64,
    /// Frames the probes received back (the echo, or silence while the echo had none).
    pub frames_heard: u64,
    /// Time from offer to `connected`, median over lines, in ms.
    pub connect_ms_p50: u64,
}

/// Why a bench run could not measure.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot start a runtime: {0}")]
    Runtime(#[from] std::io::Error),
    #[error("line {index}: {source}")]
    Line { index: usize, source: LineError },
}

fn runtime(name: &'static str, threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
}

/// Runs `lines` lines for `seconds` of streaming. Call from a thread that is not inside a
/// tokio runtime (the CLI's main thread, a plain `#[test]`).
pub fn run(lines: usize, seconds: u64) -> Result<LineBenchReport, BenchError> {
    let line_rt = runtime(LINE_THREADS, 2)?;
    let probe_rt = runtime(PROBE_THREADS, 2)?;
    let config = WebRtcConfig {
        bind_ips: vec![IpAddr::from([127, 0, 0, 1])],
        ..WebRtcConfig::default()
    };
    let (stop, stop_rx) = watch::channel(false);
    let (handle, registry) = Lines::new(config, stop_rx);
    let registry = line_rt.spawn(registry.run());

    // connect every line from the probe side, then attach an echo on the line side
    let mut probes = Vec::with_capacity(lines);
    let mut connect_ms = Vec::with_capacity(lines);
    for index in 0..lines {
        let agent = Agent {
            id: index as i64 + 1,
            name: format!("bench{index}"),
        };
        let h = handle.clone();
        let started = Instant::now();
        let probe = probe_rt.block_on(async move {
            let mut link = h.connect(agent).await?;
            let probe = Probe::connect(&mut link, Duration::from_secs(15)).await?;
            Ok::<_, LineError>((probe, link))
        });
        let (probe, link) = probe.map_err(|source| BenchError::Line { index, source })?;
        connect_ms.push(started.elapsed().as_millis() as u64);
        let h = handle.clone();
        let mut media = line_rt
            .block_on(async move { h.attach(index as i64 + 1, true).await })
            .map_err(|source| BenchError::Line { index, source })?;
        line_rt.spawn(async move {
            while let Some(frame) = media.from_agent.recv().await {
                if media.to_agent.try_send(frame).is_err() {
                    tracing::debug!("echo backlog full");
                }
            }
        });
        probes.push((probe, link));
    }

    // stream for `seconds`, measuring CPU from just after all lines are up
    let (line_before, probe_before) = (thread_ticks(LINE_THREADS), thread_ticks(PROBE_THREADS));
    let started = Instant::now();
    let echoed = probe_rt.block_on(async move {
        let mut tasks = Vec::new();
        for (mut probe, link) in probes {
            tasks.push(tokio::spawn(async move {
                let _link = link; // keep the socket side of the line open
                let mut frame = AudioFrame::SILENCE;
                for (i, s) in frame.0.iter_mut().enumerate() {
                    *s = ((i as f64 / FRAME_SAMPLES as f64 * 2.0 * std::f64::consts::PI).sin()
                        * 6000.0) as i16;
                }
                let mut ticker = tokio::time::interval(FRAME_DURATION);
                let mut heard = 0u64;
                for _ in 0..seconds * 50 {
                    ticker.tick().await;
                    if probe.send(&frame).await.is_err() {
                        break;
                    }
                    while probe.heard.try_recv().is_ok() {
                        heard += 1;
                    }
                }
                if let Err(e) = probe.close().await {
                    tracing::debug!(error = %e, "closing a bench probe");
                }
                heard
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap_or(0);
        }
        total
    });
    let elapsed = started.elapsed().as_secs_f64();
    let line_cpu = thread_cpu_seconds_between(&line_before, &thread_ticks(LINE_THREADS));
    let probe_cpu = thread_cpu_seconds_between(&probe_before, &thread_ticks(PROBE_THREADS));

    let _ = stop.send(true);
    if line_rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(5), registry).await })
        .is_err()
    {
        tracing::warn!("bench lines did not close within 5 s");
    }
    connect_ms.sort_unstable();
    Ok(LineBenchReport {
        lines,
        seconds: elapsed,
        line_cpu_seconds: line_cpu,
        cpu_percent_per_line: if lines == 0 {
            0.0
        } else {
            line_cpu / elapsed / lines as f64 * 100.0
        },
        probe_cpu_seconds: probe_cpu,
        frames_heard: echoed,
        connect_ms_p50: connect_ms.get(connect_ms.len() / 2).copied().unwrap_or(0),
    })
}
