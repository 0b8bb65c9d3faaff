//! A SIP desk phone as an agent's line: the phone's call leg adapted to the bridge's
//! [`LineMedia`], so the mixer, consent, recording, hold, mute, transfer and supervision work
//! as they do for a browser line. The leg's received frames (the nurse's voice) become
//! `from_agent`; what the bridge sends to `to_agent` is what the phone plays. While the
//! patient's phone rings and no early media arrives, the nurse hears a ring-back tone.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

use crate::calls::{AgentSource, LegAudio, FRAME_CHANNEL_DEPTH, FRAME_SAMPLES};
use crate::webrtc::frame::{FRAME_DURATION, MEDIA_CHANNEL_FRAMES};
use crate::webrtc::{AudioFrame, LineMedia};

/// Ring-back after this long without audio from the bridge (early media takes precedence).
const QUIET_BEFORE_RINGBACK: Duration = Duration::from_millis(60);

/// The ring-back tone of China's networks (GB 16838): 450 Hz, 1 s on, 4 s off, at −16 dBFS.
pub fn ringback_tone() -> Arc<Vec<i16>> {
    let on = 8000;
    let mut pcm = Vec::with_capacity(5 * 8000);
    for i in 0..on {
        let t = i as f64 / 8000.0;
        pcm.push((5000.0 * (2.0 * std::f64::consts::PI * 450.0 * t).sin()) as i16);
    }
    pcm.resize(5 * 8000, 0);
    Arc::new(pcm)
}

/// The two ends of a desk phone's line: the leg for the engine, the line for the bridge.
pub struct DeskLine {
    /// Media wiring of the call to (or from) the desk phone; not recorded (the patient's leg
    /// records the conversation).
    pub leg: LegAudio,
    /// The phone as the bridge sees it.
    pub line: LineMedia,
    /// True while the nurse should hear ring-back (the patient's phone rings).
    pub ringback: watch::Sender<bool>,
}

/// Builds the adapter and starts its task; the task ends when the phone's media or the bridge
/// lets go.
pub fn desk_line(tone: Arc<Vec<i16>>) -> DeskLine {
    let (to_phone, source) = mpsc::channel::<Vec<i16>>(FRAME_CHANNEL_DEPTH);
    let (tap, from_phone) = mpsc::channel::<Vec<i16>>(FRAME_CHANNEL_DEPTH);
    let (from_agent_tx, from_agent) = mpsc::channel::<AudioFrame>(MEDIA_CHANNEL_FRAMES);
    let (to_agent, to_agent_rx) = mpsc::channel::<AudioFrame>(MEDIA_CHANNEL_FRAMES);
    let (ringback, ringback_rx) = watch::channel(false);
    tokio::spawn(adapt(
        from_phone,
        from_agent_tx,
        to_agent_rx,
        to_phone,
        ringback_rx,
        tone,
    ));
    DeskLine {
        leg: LegAudio {
            recording_id: None,
            source: AgentSource::Live(source),
            tap: Some(tap),
        },
        line: LineMedia {
            from_agent,
            to_agent,
        },
        ringback,
    }
}

async fn adapt(
    mut from_phone: mpsc::Receiver<Vec<i16>>,
    from_agent: mpsc::Sender<AudioFrame>,
    mut to_agent: mpsc::Receiver<AudioFrame>,
    to_phone: mpsc::Sender<Vec<i16>>,
    ringback: watch::Receiver<bool>,
    tone: Arc<Vec<i16>>,
) {
    let mut tick = tokio::time::interval(FRAME_DURATION);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut last_from_bridge = Instant::now();
    let mut tone_at = 0usize;
    loop {
        tokio::select! {
            frame = from_phone.recv() => {
                // the phone's media ended: the call to it is over
                let Some(frame) = frame else { break };
                let mut f = AudioFrame::SILENCE;
                let n = frame.len().min(FRAME_SAMPLES);
                f.0[..n].copy_from_slice(&frame[..n]);
                // a full channel means the bridge is behind: drop rather than delay
                if let Err(mpsc::error::TrySendError::Closed(_)) = from_agent.try_send(f) {
                    break; // the bridge let go of this line
                }
            }
            frame = to_agent.recv() => {
                let Some(frame) = frame else { break };
                last_from_bridge = Instant::now();
                let _ = to_phone.try_send(frame.0.to_vec());
            }
            _ = tick.tick() => {
                let quiet = last_from_bridge.elapsed() >= QUIET_BEFORE_RINGBACK;
                if *ringback.borrow() && quiet && !tone.is_empty() {
                    let frame: Vec<i16> = (0..FRAME_SAMPLES)
                        .map(|i| tone[(tone_at + i) % tone.len()])
                        .collect();
                    tone_at = (tone_at + FRAME_SAMPLES) % tone.len();
                    let _ = to_phone.try_send(frame);
                } else if !*ringback.borrow() {
                    tone_at = 0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms(f: &[i16]) -> f64 {
        (f.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / f.len() as f64).sqrt()
    }

    #[tokio::test]
    async fn frames_cross_and_ringback_fills_the_silence_until_audio_comes() {
        let DeskLine {
            leg,
            mut line,
            ringback,
        } = desk_line(ringback_tone());
        let (AgentSource::Live(mut to_phone), Some(tap)) = (leg.source, leg.tap) else {
            panic!("a live leg with a tap");
        };
        assert!(leg.recording_id.is_none(), "the desk leg is not recorded");
        // the nurse speaks into the phone: the bridge hears it
        tap.send(vec![1000; FRAME_SAMPLES]).await.unwrap();
        let heard = line.from_agent.recv().await.unwrap();
        assert_eq!(heard.0[0], 1000);
        // ring-back while the patient's phone rings and nothing comes from the bridge
        ringback.send_replace(true);
        let tone = tokio::time::timeout(Duration::from_secs(1), to_phone.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(rms(&tone) > 1000.0, "450 Hz tone: rms {}", rms(&tone));
        // early media from the bridge takes over from the tone
        ringback.send_replace(false);
        while to_phone.try_recv().is_ok() {}
        line.to_agent
            .send(AudioFrame([7; FRAME_SAMPLES]))
            .await
            .unwrap();
        let played = tokio::time::timeout(Duration::from_secs(1), to_phone.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(played, vec![7; FRAME_SAMPLES]);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            to_phone.try_recv().is_err(),
            "no tone once ring-back is off"
        );
        // the bridge drops the line: the adapter ends and the phone's source closes
        drop(line);
        let closed = tokio::time::timeout(Duration::from_secs(1), to_phone.recv()).await;
        assert_eq!(closed.unwrap(), None);
    }

    #[test]
    fn the_tone_is_one_second_on_four_off() {
        let t = ringback_tone();
        assert_eq!(t.len(), 40_000);
        assert!(rms(&t[..8000]) > 3000.0);
        assert_eq!(rms(&t[8000..]), 0.0);
    }
}
