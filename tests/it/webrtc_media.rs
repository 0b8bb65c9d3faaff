//! The line's media contract for the SIP bridge, in process: a Rust softphone ([`Probe`])
//! offers over loopback, [`Lines::attach`] hands out plain 8 kHz frames both ways, only one
//! attachment at a time, and the attachment survives the console reconnecting (a reload).

use std::net::IpAddr;
use std::time::Duration;

use suifang::webrtc::probe::Probe;
use suifang::webrtc::{
    Agent, AudioFrame, LineError, LineMedia, Lines, WebRtcConfig, FRAME_SAMPLES,
};
use tokio::sync::watch;
use tokio::time::{timeout, Instant};

use crate::common::serial;

const LIMIT: Duration = Duration::from_secs(10);

fn tone(amplitude: f64, hz: f64, frame_index: usize) -> AudioFrame {
    let mut f = AudioFrame::SILENCE;
    for (i, s) in f.0.iter_mut().enumerate() {
        let t = (frame_index * FRAME_SAMPLES + i) as f64 / 8000.0;
        *s = (amplitude * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16;
    }
    f
}

fn rms(frames: &[AudioFrame]) -> f64 {
    let energy: f64 = frames.iter().map(AudioFrame::energy).sum();
    (energy / (frames.len() * FRAME_SAMPLES).max(1) as f64).sqrt()
}

fn start() -> (Lines, watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let config = WebRtcConfig {
        bind_ips: vec![IpAddr::from([127, 0, 0, 1])],
        ..WebRtcConfig::default()
    };
    let (stop, stop_rx) = watch::channel(false);
    let (lines, registry) = Lines::new(config, stop_rx);
    (lines, stop, tokio::spawn(registry.run()))
}

fn nurse() -> Agent {
    Agent {
        id: 7,
        name: "nurse".into(),
    }
}

/// Sends `frames` tone frames from the probe, paced at 20 ms, and collects what the line
/// hands to the bridge meanwhile.
async fn probe_to_bridge(
    probe: &mut Probe,
    media: &mut LineMedia,
    frames: usize,
) -> Vec<AudioFrame> {
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    let mut got = Vec::new();
    for i in 0..frames {
        ticker.tick().await;
        probe
            .send(&tone(8000.0, 440.0, i))
            .await
            .expect("probe send");
        while let Ok(f) = media.from_agent.try_recv() {
            got.push(f);
        }
    }
    let settle = Instant::now() + Duration::from_millis(200);
    while let Ok(Some(f)) = tokio::time::timeout_at(settle, media.from_agent.recv()).await {
        got.push(f);
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attached_audio_flows_both_ways_and_survives_a_reconnect() {
    let _machine = serial::shared();
    // The subscriber is process-wide and every test module shares the process now: write
    // through libtest's capture, so the log shows with the failing test it belongs to, not
    // on the run's stdout for whichever in-process test logs later.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("suifang=info")
        .with_test_writer()
        .try_init();
    let (lines, stop, registry) = start();

    // nothing to attach to before the console connected
    assert!(matches!(
        lines.attach(7, false).await,
        Err(LineError::NoLine)
    ));

    let mut link = lines.connect(nurse()).await.expect("connect");
    let mut probe = Probe::connect(&mut link, LIMIT)
        .await
        .expect("line connects");
    let mut media = lines.attach(7, true).await.expect("attach");
    assert!(matches!(lines.attach(7, true).await, Err(LineError::Busy)));

    // browser -> bridge: a 440 Hz tone at 8000 peak arrives as frames with its RMS (~5657)
    let got = probe_to_bridge(&mut probe, &mut media, 50).await;
    assert!(
        got.len() >= 40,
        "only {} of 50 frames reached the bridge",
        got.len()
    );
    let level = rms(&got[5..]);
    assert!((5000.0..6300.0).contains(&level), "rms {level}");

    // bridge -> browser: paced frames come out of the probe's track
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    for i in 0..50 {
        ticker.tick().await;
        media
            .to_agent
            .send(tone(4000.0, 300.0, i))
            .await
            .expect("to_agent");
    }
    let mut heard = Vec::new();
    let until = Instant::now() + Duration::from_millis(300);
    while let Ok(Some(f)) = tokio::time::timeout_at(until, probe.heard.recv()).await {
        heard.push(f);
    }
    let loud: Vec<AudioFrame> = heard.into_iter().filter(|f| f.energy() > 0.0).collect();
    assert!(
        loud.len() >= 40,
        "browser heard {} tone frames of 50",
        loud.len()
    );
    let level = rms(&loud[5..loud.len() - 2]);
    assert!((2500.0..3200.0).contains(&level), "rms {level}");

    // reload: a new socket and a new offer replace the connection; the call stays attached
    let mut link2 = lines.connect(nurse()).await.expect("reconnect");
    probe.close().await.expect("close old peer");
    let mut probe2 = Probe::connect(&mut link2, LIMIT)
        .await
        .expect("line reconnects");
    let again = probe_to_bridge(&mut probe2, &mut media, 50).await;
    assert!(
        again.len() >= 40,
        "after reconnect {} of 50 frames",
        again.len()
    );
    assert!(rms(&again[5..]) > 5000.0);
    let replaced = timeout(LIMIT, async {
        while let Some(m) = link.events.recv().await {
            if m == suifang::webrtc::signaling::ServerMessage::Replaced {
                return true;
            }
        }
        false
    });
    assert!(
        replaced.await.unwrap_or(false),
        "the first socket was not told it was replaced"
    );

    // dropping the media detaches; the line can be attached again
    // (the line learns of the detach when it sees the dropped channel: until then, Busy)
    drop(media);
    let detached_by = tokio::time::Instant::now() + Duration::from_secs(5);
    let media = loop {
        match lines.attach(7, true).await {
            Ok(media) => break media,
            Err(LineError::Busy) if tokio::time::Instant::now() < detached_by => {
                tokio::time::sleep(Duration::from_millis(5)).await
            }
            Err(e) => panic!("re-attach after detach: {e}"),
        }
    };
    drop(media);

    // shutdown closes every line promptly
    stop.send(true).expect("stop");
    timeout(Duration::from_secs(5), registry)
        .await
        .expect("registry stops within 5 s")
        .expect("registry task");
    probe2.close().await.expect("close probe");
}
