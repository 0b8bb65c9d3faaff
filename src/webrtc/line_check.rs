//! The line check (echo test): records a few seconds of the agent's microphone from the line,
//! saves it as a WAV under `recordings/line-checks/`, and plays it back. It proves the whole
//! media path (ICE, DTLS-SRTP, G.711 both ways) before a nurse dials a patient, and gives
//! support a file to listen to when a nurse says "the patient can't hear me".

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::error::LineError;
use super::frame::{AudioFrame, FRAME_DURATION, FRAME_SAMPLES};
use super::registry::Lines;
use super::signaling::ServerMessage;

/// Slack on top of the requested seconds before recording gives up waiting for frames
/// (the browser may pause sending briefly).
const RECORD_SLACK: Duration = Duration::from_secs(3);

/// What a finished line check produced.
#[derive(Debug, Clone, PartialEq)]
pub struct LineCheckOutcome {
    /// Relative to the recordings directory, e.g. `line-checks/nurse-20261125T101500.123Z.wav`.
    pub relative_path: String,
    /// RMS of the recording, 0.0–1.0 of full scale; ~0 means the microphone sent silence.
    pub rms: f64,
    pub frames: usize,
}

/// Runs a line check for `agent_id`, reporting progress on `notify`.
pub async fn run(
    lines: &Lines,
    agent_id: i64,
    agent_name: &str,
    seconds: u32,
    recordings_dir: &Path,
    now: DateTime<Utc>,
    notify: &mpsc::Sender<ServerMessage>,
) -> Result<LineCheckOutcome, LineError> {
    let mut media = lines.attach(agent_id, true).await?;
    let progress = |m| {
        if notify.try_send(m).is_err() {
            tracing::debug!("line check progress not delivered");
        }
    };
    progress(ServerMessage::LineCheckStarted { seconds });
    let wanted = seconds as usize * 50;
    let mut frames = Vec::with_capacity(wanted);
    let deadline =
        tokio::time::Instant::now() + Duration::from_secs(u64::from(seconds)) + RECORD_SLACK;
    while frames.len() < wanted {
        match tokio::time::timeout_at(deadline, media.from_agent.recv()).await {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => return Err(LineError::Gone),
            Err(_) => break,
        }
    }
    if frames.is_empty() {
        return Err(LineError::Recording(
            "no audio arrived from the browser; check the microphone permission".into(),
        ));
    }
    let relative_path = format!(
        "line-checks/{}-{}.wav",
        file_safe(agent_name),
        now.format("%Y%m%dT%H%M%S%.3fZ")
    );
    let path = recordings_dir.join(&relative_path);
    let rms = rms(&frames);
    let saved = frames.clone();
    tokio::task::spawn_blocking(move || write_wav(&path, &saved))
        .await
        .map_err(|e| LineError::Recording(e.to_string()))??;
    progress(ServerMessage::LineCheckPlaying);
    let mut ticker = tokio::time::interval(FRAME_DURATION);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    for frame in frames.iter() {
        ticker.tick().await;
        if media.to_agent.send(*frame).await.is_err() {
            return Err(LineError::Gone);
        }
        // keep draining the microphone so the line does not count it as a stalled consumer
        while media.from_agent.try_recv().is_ok() {}
    }
    // let the last frames leave before detaching
    tokio::time::sleep(FRAME_DURATION * 4).await;
    Ok(LineCheckOutcome {
        relative_path,
        rms,
        frames: frames.len(),
    })
}

/// RMS over all frames, as a fraction of full scale.
pub fn rms(frames: &[AudioFrame]) -> f64 {
    if frames.is_empty() {
        return 0.0;
    }
    let energy: f64 = frames.iter().map(AudioFrame::energy).sum();
    (energy / (frames.len() * FRAME_SAMPLES) as f64).sqrt() / 32768.0
}

fn file_safe(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if safe.is_empty() {
        "agent".into()
    } else {
        safe
    }
}

fn write_wav(path: &Path, frames: &[AudioFrame]) -> Result<(), LineError> {
    let fail = |e: &dyn std::fmt::Display| {
        LineError::Recording(format!("cannot write {}: {e}", path.display()))
    };
    if let Some(dir) = path.parent() {
        crate::private_fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let file = crate::private_fs::create_file(path).map_err(|e| fail(&e))?;
    let mut writer =
        hound::WavWriter::new(std::io::BufWriter::new(file), spec).map_err(|e| fail(&e))?;
    for frame in frames {
        for &s in &frame.0 {
            writer.write_sample(s).map_err(|e| fail(&e))?;
        }
    }
    writer.finalize().map_err(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_is_a_fraction_of_full_scale() {
        assert_eq!(rms(&[]), 0.0);
        assert_eq!(rms(&[AudioFrame::SILENCE]), 0.0);
        let half = AudioFrame([16384; FRAME_SAMPLES]);
        assert!((rms(&[half, AudioFrame::SILENCE]) - 0.5 / 2f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(file_safe("nurse"), "nurse");
        assert_eq!(file_safe("../../etc"), "______etc");
        assert_eq!(file_safe(""), "agent");
    }

    #[test]
    fn writes_a_readable_8khz_wav() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("line-checks/a.wav");
        let frame = AudioFrame([1000; FRAME_SAMPLES]);
        write_wav(&path, &[frame, frame]).unwrap();
        let reader = hound::WavReader::open(&path).unwrap();
        assert_eq!(reader.spec().sample_rate, 8000);
        assert_eq!(reader.len(), 320);
    }
}
