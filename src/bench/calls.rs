//! `suifang bench calls`: N concurrent bridged, recorded calls through the call engine in this
//! process, against real phones (sipp) on loopback; optionally the same load through rtpengine.
//!
//! Each call is two outbound legs placed by one [`Engine`]: an agent leg to a sipp that plays a
//! 425 Hz tone and a patient leg to a sipp that plays 697 Hz, crossed with [`bridge_pair`] and
//! recorded on the patient leg (left = what the patient was sent, i.e. the agent's tone as
//! bridged; right = the patient's tone as received). Tones never hold 20 ms of zeros, so every
//! silent frame between a channel's first and last audio is a recorded gap (see [`super::gaps`]).
//! Two sipp processes serve all calls (`-m N -l N`, one RTP port per call).
//!
//! CPU is this process's getrusage over a steady window after every leg answered, divided by the
//! window and the number of established calls; memory is VmRSS growth over the idle engine.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use super::gaps::{scan_recordings, tone, GapPhases};
use super::procstat::{
    load_average, raise_nofile, rss_bytes, run_and_wait_seconds_between, self_cpu_seconds,
    thread_run_and_wait,
};
pub use super::relay::CallsBenchOptions;
use super::relay::{free_udp_port, RelayFigures, AGENT_HZ, PATIENT_HZ};
use super::rtpengine;
use crate::calls::{
    bridge_pair, CallsError, Engine, EngineConfig, EngineEvent, LATE_FRAME_WAIT, LATE_TICK_MS,
};
use crate::media::cushion::CushionConfig;
use crate::media::g711::G711;
use crate::sip::ua::{CallEvent, CallHandle};
use crate::sip::uri::SipUri;

const SCENARIO: &str = include_str!("sipp_uas_tone.xml");
const FRAME_MS: u64 = 20;
/// Thread names of the runtime (tokio names them "tokio-runtime-worker" or, newer,
/// "tokio-rt-worker"; its blocking threads share the name).
const RUNTIME_THREADS: &str = "tokio-r";
/// Base RTP ports of the two sipp processes (each takes 2 per call: up to 2 500 calls each),
/// apart from the engine's 30000–39998 and rtpengine's 40000–49999.
const AGENT_MEDIA_PORT: u16 = 20000;
const PATIENT_MEDIA_PORT: u16 = 25000;
/// Why the benchmark could not measure.
#[derive(Debug, thiserror::Error)]
pub enum CallsBenchError {
    #[error("cannot start sipp ({0}); install it with `apt-get install -y sip-tester`")]
    NoSipp(#[source] std::io::Error),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the call engine: {0}")]
    Engine(#[from] CallsError),
    #[error("no call was established (both legs answered); see the sipp logs in {0}")]
    NoCalls(String),
}

/// Runs the benchmark and prints the figures.
pub fn run(opts: CallsBenchOptions) -> Result<(), CallsBenchError> {
    // 2 sockets per leg + the recording + sipp's and rtpengine's sockets (they inherit it).
    let wanted = (opts.calls as u64) * 8 + 1024;
    match raise_nofile(wanted) {
        Ok((old, new)) if new > old => eprintln!("bench calls: raised RLIMIT_NOFILE {old} → {new}"),
        Ok((_, new)) if new < wanted => {
            eprintln!("bench calls: RLIMIT_NOFILE is {new} (hard limit), wanted {wanted}")
        }
        Ok(_) => {}
        Err(e) => eprintln!("bench calls: cannot raise RLIMIT_NOFILE: {e}"),
    }
    let work = std::env::temp_dir().join(format!("suifang-bench-calls-{}", std::process::id()));
    let io = |what, path: &Path| {
        let path = path.to_owned();
        move |source| CallsBenchError::Io { what, path, source }
    };
    std::fs::create_dir_all(&work).map_err(io("create", &work))?;
    let rt = tokio::runtime::Runtime::new().map_err(io("start a runtime in", &work))?;
    let load_before = load_average();
    let ours = rt.block_on(run_suifang(&opts, &work));
    let theirs = match (&ours, opts.compare_rtpengine) {
        (Ok(_), true) => Some(rt.block_on(rtpengine::run(&opts, &work))),
        _ => None,
    };
    let load_after = load_average();
    let ours = ours?;
    super::calls_report::print_report(&opts, &ours, theirs.as_ref(), load_before, load_after);
    if opts.keep {
        eprintln!("bench calls: kept {}", work.display());
    } else if let Err(e) = std::fs::remove_dir_all(&work) {
        eprintln!("bench calls: could not remove {}: {e}", work.display());
    }
    Ok(())
}

/// Which leg of which call a handle is.
#[derive(Debug, Clone, Copy)]
struct Leg {
    call: usize,
    patient: bool,
}

#[derive(Debug, Default)]
struct Tally {
    legs: std::collections::HashMap<CallHandle, Leg>,
    /// Per call: (agent answered, patient answered).
    answered: Vec<(bool, bool)>,
    answered_legs: usize,
    ended_early: usize,
    media_failed: usize,
    first_failure: Option<String>,
    /// Closed recordings and when their close was reported.
    recordings: Vec<(PathBuf, Instant)>,
    hanging_up: bool,
}

impl Tally {
    fn established(&self) -> usize {
        self.answered.iter().filter(|(a, p)| *a && *p).count()
    }

    fn on_event(&mut self, ev: EngineEvent) {
        match ev {
            EngineEvent::Call {
                call,
                event: CallEvent::Answered { .. },
            } => {
                if let Some(leg) = self.legs.get(&call) {
                    if let Some(a) = self.answered.get_mut(leg.call) {
                        if leg.patient {
                            a.1 = true;
                        } else {
                            a.0 = true;
                        }
                    }
                    self.answered_legs += 1;
                }
            }
            EngineEvent::Call {
                event: CallEvent::Ended { outcome, .. },
                ..
            } if !self.hanging_up => {
                self.ended_early += 1;
                self.first_failure
                    .get_or_insert_with(|| format!("a leg ended early: {outcome:?}"));
            }
            EngineEvent::Recording { info, .. } => {
                self.recordings.push((info.path, Instant::now()))
            }
            EngineEvent::MediaFailed { error, .. } => {
                self.media_failed += 1;
                self.first_failure
                    .get_or_insert_with(|| format!("media failed: {error}"));
            }
            _ => {}
        }
    }
}

/// A sipp UAS process serving many calls; killed on drop if still running.
struct SippPeer {
    child: Child,
    port: u16,
}

impl SippPeer {
    fn start(
        work: &Path,
        name: &str,
        audio: &Path,
        calls: usize,
        media_port: u16,
        bye_timeout_ms: u64,
    ) -> Result<Self, CallsBenchError> {
        let scenario = SCENARIO
            .replace("AUDIOFILE", &audio.display().to_string())
            .replace("BYE_TIMEOUT_MS", &bye_timeout_ms.to_string());
        let path = work.join(format!("{name}.xml"));
        std::fs::write(&path, scenario).map_err(|source| CallsBenchError::Io {
            what: "write",
            path: path.clone(),
            source,
        })?;
        let port = free_udp_port().map_err(|source| CallsBenchError::Io {
            what: "find a free UDP port near",
            path: path.clone(),
            source,
        })?;
        let err = std::fs::File::create(work.join(format!("{name}.stderr"))).ok();
        let n = calls.to_string();
        let child = Command::new("sipp")
            .arg("-sf")
            .arg(&path)
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-mi", "127.0.0.1", "-mp", &media_port.to_string()])
            .args(["-m", &n, "-l", &n, "-nostdin", "-trace_err"])
            .current_dir(work)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err.map_or_else(Stdio::null, Stdio::from))
            .spawn()
            .map_err(CallsBenchError::NoSipp)?;
        Ok(Self { child, port })
    }

    fn uri(&self, user: &str) -> Option<SipUri> {
        SipUri::parse(&format!("sip:{user}@127.0.0.1:{}", self.port)).ok()
    }

    /// Waits for sipp to finish its calls; `Some(code)` if it exited in time (0 = all calls
    /// succeeded).
    async fn finish(mut self, within: Duration) -> Option<i32> {
        let until = Instant::now() + within;
        while Instant::now() < until {
            match self.child.try_wait() {
                Ok(Some(status)) => return status.code(),
                Ok(None) => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(_) => return None,
            }
        }
        None
    }
}

impl Drop for SippPeer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            if let Err(e) = self.child.kill() {
                eprintln!("bench calls: cannot stop sipp: {e}");
            }
            // reap it so no zombie is left behind
            let _ = self.child.wait();
        }
    }
}

/// Writes `seconds` of a tone as raw µ-law for sipp's `rtp_stream`.
pub(super) fn write_tone(path: &Path, hz: f64) -> Result<(), CallsBenchError> {
    let pcm = tone(hz, 1, 8000.0);
    std::fs::write(path, G711::Pcmu.encode(&pcm)).map_err(|source| CallsBenchError::Io {
        what: "write",
        path: path.to_owned(),
        source,
    })
}

async fn run_suifang(
    opts: &CallsBenchOptions,
    work: &Path,
) -> Result<RelayFigures, CallsBenchError> {
    let n = opts.calls;
    let rate = opts.rate.max(1);
    let (agent_audio, patient_audio) = (work.join("agent.ulaw"), work.join("patient.ulaw"));
    write_tone(&agent_audio, AGENT_HZ)?;
    write_tone(&patient_audio, PATIENT_HZ)?;
    let ramp = Duration::from_secs_f64(n as f64 / f64::from(rate));
    let bye_timeout = ramp + Duration::from_secs(opts.seconds + 120);
    let agents = SippPeer::start(
        work,
        "sipp-agents",
        &agent_audio,
        n,
        AGENT_MEDIA_PORT,
        bye_timeout.as_millis() as u64,
    )?;
    let patients = SippPeer::start(
        work,
        "sipp-patients",
        &patient_audio,
        n,
        PATIENT_MEDIA_PORT,
        bye_timeout.as_millis() as u64,
    )?;
    tokio::time::sleep(Duration::from_millis(500)).await; // let sipp bind its port

    let mut engine = Engine::start(EngineConfig::loopback(work.join("recordings"))).await?;
    let counters = engine.media_counters();
    let rss_idle = rss_bytes("self").unwrap_or(0);
    let mut tally = Tally {
        answered: vec![(false, false); n],
        ..Tally::default()
    };
    let mut progress = tokio::time::interval(Duration::from_secs(2));
    progress.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut place = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    place.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let started = Instant::now();
    eprintln!(
        "bench calls: suifang: placing {n} calls at {rate}/s (2 legs each, patient leg recorded)"
    );

    // Ramp up, then wait (at most 15 s after the last INVITE) for every leg to answer.
    let mut placed = 0usize;
    let mut settle_until = None;
    loop {
        if placed == n && tally.answered_legs >= 2 * n {
            break;
        }
        if settle_until.is_some_and(|t| Instant::now() >= t) {
            break;
        }
        tokio::select! {
            _ = place.tick(), if placed < n => {
                let (patient_leg, agent_leg) = bridge_pair(&format!("bench-{placed:05}"));
                let (Some(agent_uri), Some(patient_uri)) = (agents.uri(&format!("agent{placed}")), patients.uri(&format!("patient{placed}"))) else {
                    break;
                };
                let agent = engine.place_call_leg(agent_uri, agent_leg).await?;
                tally.legs.insert(agent, Leg { call: placed, patient: false });
                let patient = engine.place_call_leg(patient_uri, patient_leg).await?;
                tally.legs.insert(patient, Leg { call: placed, patient: true });
                placed += 1;
                if placed == n {
                    settle_until = Some(Instant::now() + Duration::from_secs(15));
                }
            }
            ev = engine.next_event() => match ev {
                Some(ev) => tally.on_event(ev),
                None => return Err(CallsBenchError::Engine(CallsError::EngineStopped)),
            },
            _ = progress.tick() => print_progress("ramp", started, placed, &tally, &counters.snapshot()),
        }
    }
    let established = tally.established();
    if established == 0 {
        return Err(CallsBenchError::NoCalls(work.display().to_string()));
    }

    // The measured window: every established call streaming both ways.
    let (cpu0, c0, t0) = (self_cpu_seconds(), counters.snapshot(), Instant::now());
    let sched0 = thread_run_and_wait(RUNTIME_THREADS);
    let window_end = t0 + Duration::from_secs(opts.seconds);
    while Instant::now() < window_end {
        tokio::select! {
            ev = engine.next_event() => match ev {
                Some(ev) => tally.on_event(ev),
                None => return Err(CallsBenchError::Engine(CallsError::EngineStopped)),
            },
            _ = progress.tick() => print_progress("measure", started, placed, &tally, &counters.snapshot()),
            _ = tokio::time::sleep_until(window_end) => {}
        }
    }
    let (cpu1, c1, wall) = (self_cpu_seconds(), counters.snapshot(), t0.elapsed());
    let (ran, waited) =
        run_and_wait_seconds_between(&sched0, &thread_run_and_wait(RUNTIME_THREADS));
    let rss_loaded = rss_bytes("self").unwrap_or(0);
    let window = c1.since(&c0);

    // Hang up every call, paced like the ramp (1 000 BYEs at once overflow sipp's socket and
    // wait for retransmissions), and collect the recordings.
    tally.hanging_up = true;
    let mut by_call: Vec<(usize, CallHandle)> =
        tally.legs.iter().map(|(h, l)| (l.call, *h)).collect();
    by_call.sort_by_key(|(call, _)| *call);
    let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(2 * rate)));
    let mut legs = by_call.into_iter().map(|(_, h)| h).peekable();
    while legs.peek().is_some() {
        tokio::select! {
            _ = pace.tick() => {
                for call in legs.by_ref().take(2) {
                    engine.hangup(call).await?;
                }
            }
            Some(ev) = engine.next_event() => tally.on_event(ev),
        }
    }
    let recorded_legs = tally
        .answered
        .iter()
        .filter(|(_, patient)| *patient)
        .count();
    let drain_until = Instant::now() + Duration::from_secs(40);
    while tally.recordings.len() < recorded_legs && Instant::now() < drain_until {
        match tokio::time::timeout_at(drain_until, engine.next_event()).await {
            Ok(Some(ev)) => tally.on_event(ev),
            Ok(None) | Err(_) => break,
        }
    }
    if tally.recordings.len() < recorded_legs {
        eprintln!(
            "bench calls: only {} of {recorded_legs} recordings closed within 40 s of the last hang-up",
            tally.recordings.len()
        );
    }
    let after_window = counters.snapshot().since(&c1);
    engine.shutdown().await;
    let sipp_codes = (
        agents.finish(Duration::from_secs(15)).await,
        patients.finish(Duration::from_secs(15)).await,
    );

    let recordings: Vec<(PathBuf, f64)> = tally
        .recordings
        .iter()
        .map(|(path, closed)| (path.clone(), signed_secs(*closed, t0)))
        .collect();
    let window_secs = wall.as_secs_f64();
    let scanned = tokio::task::spawn_blocking(move || scan_recordings(&recordings, window_secs))
        .await
        .unwrap_or_default();
    let (left, right, unreadable) = (scanned.left, scanned.right, scanned.unreadable);

    let mut notes = vec![format!(
        "engine counters in the window: {} jitter-buffer losses (silence recorded), {} bridged frames not ready in time (silence sent), {} bridged frames dropped to bound latency",
        window.playout_lost, window.live_underruns, window.live_trimmed
    )];
    let late_wait = LATE_FRAME_WAIT.as_millis() as u64;
    notes.push(format!(
        "runtime threads in the window: ran {ran:.1} s, waited runnable for a CPU {waited:.1} s (a bridged frame survives {}–{} ms of its producer's delay: the cushion, by the two tasks' phase, plus the wait for a late frame)",
        FRAME_MS * (CushionConfig::default().target as u64 - 1) + late_wait,
        FRAME_MS * CushionConfig::default().target as u64 + late_wait
    ));
    notes.push(format!(
        "media ticks run late in the window (runtime thread not scheduled in time): ≥ {} ms {}, ≥ {} ms {}, ≥ {} ms {}",
        LATE_TICK_MS[0],
        window.late_ticks[0],
        LATE_TICK_MS[1],
        window.late_ticks[1],
        LATE_TICK_MS[2],
        window.late_ticks[2]
    ));
    if left.runs + right.runs > 0 {
        let phases = |p: &GapPhases| {
            format!(
                "{} in the bridge's first second, {} later in the ramp, {} in the window, {} at hang-up",
                p.first_second, p.ramp, p.window, p.hang_up
            )
        };
        notes.push(format!(
            "when the gap runs happened: left {}; right {}; after the window (hang-ups) the engine counted {} jitter-buffer losses (a phone's packets late or lost) and {} bridged frames not ready",
            phases(&scanned.left_phases),
            phases(&scanned.right_phases),
            after_window.playout_lost,
            after_window.live_underruns
        ));
    }
    notes.push(format!(
        "sipp exit codes (0 = every call completed): agents {:?}, patients {:?}",
        sipp_codes.0, sipp_codes.1
    ));
    if tally.ended_early + tally.media_failed + unreadable > 0
        || established < n
        || tally.recordings.len() < recorded_legs
    {
        notes.push(format!(
            "{} of {n} calls established, {} of {recorded_legs} recordings closed; {} legs ended early, {} media failures, {unreadable} unreadable recordings; first: {}",
            established,
            tally.recordings.len(),
            tally.ended_early,
            tally.media_failed,
            tally.first_failure.as_deref().unwrap_or("-")
        ));
    }
    Ok(RelayFigures {
        calls_established: established,
        window_seconds: wall.as_secs_f64(),
        cpu_seconds: cpu1 - cpu0,
        rss_growth: rss_loaded.saturating_sub(rss_idle),
        packets_in: window.rtp_in,
        packets_out: window.rtp_out,
        left,
        right,
        recordings: tally.recordings.len(),
        pcap: None,
        notes,
    })
}

/// Seconds from `origin` to `t`, negative when `t` is earlier.
fn signed_secs(t: Instant, origin: Instant) -> f64 {
    if t >= origin {
        (t - origin).as_secs_f64()
    } else {
        -(origin - t).as_secs_f64()
    }
}

fn print_progress(
    phase: &str,
    started: Instant,
    placed: usize,
    tally: &Tally,
    c: &crate::calls::MediaSnapshot,
) {
    eprintln!(
        "  [{:>5.1} s] {phase}: {placed} calls placed, {} legs answered, {} established, {} ended early; RTP in {} out {}; load {:.2}",
        started.elapsed().as_secs_f64(),
        tally.answered_legs,
        tally.established(),
        tally.ended_early,
        c.rtp_in,
        c.rtp_out,
        load_average().unwrap_or(f64::NAN)
    );
}
