//! The bridge task of one call: joins the patient's SIP leg to the nurse's agent line (and any
//! monitors), paced by the SIP leg. Every 20 ms the leg's media task hands over one patient
//! frame; the bridge answers with one frame to send to the patient and one frame for each
//! browser, mixed by [`Mixer`]. Nothing is sent to the patient before the answer.

use tokio::sync::mpsc;

use super::mixer::{Frame, Mixer, MonitorMode, SILENCE};
use super::prompts::Pcm;
use crate::calls::{AgentSource, LegAudio, FRAME_CHANNEL_DEPTH, FRAME_SAMPLES};
use crate::media::cushion::{Cushion, CushionConfig};
use crate::webrtc::{AudioFrame, LineMedia};

/// Changes to a running bridge.
#[derive(Debug)]
pub enum BridgeControl {
    /// The patient answered: start the announcement, then the conversation.
    Answered,
    /// Another agent takes over the nurse's place (blind transfer).
    SwapAgent(LineMedia),
    /// The nurse hung up before the patient answered: her line is free for the next call
    /// while the SIP leg finishes cancelling.
    ReleaseAgent,
    /// A supervisor or doctor joins.
    AddMonitor {
        user_id: i64,
        mode: MonitorMode,
        media: LineMedia,
    },
    /// A monitor switches between listen, whisper and barge.
    SetMonitorMode { user_id: i64, mode: MonitorMode },
    /// A monitor leaves.
    RemoveMonitor { user_id: i64 },
}

/// A browser taking part: its line and the microphone frames not yet mixed. The microphone
/// runs on the browser's clock and arrives with network jitter; the cushion keeps a frame or
/// two in hand and bounds the latency (see `media::cushion`).
struct Party {
    media: LineMedia,
    mic: Cushion<Frame>,
}

impl Party {
    fn new(media: LineMedia) -> Party {
        Party {
            media,
            mic: Cushion::new(CushionConfig::default()),
        }
    }

    /// Takes in what the microphone sent since the last tick; returns this tick's frame.
    /// `catching_up`: the SIP leg's frames are queued behind this one (the bridge fell behind).
    fn next_frame(&mut self, catching_up: bool) -> Option<Frame> {
        while let Ok(f) = self.media.from_agent.try_recv() {
            self.mic.push(f.0);
        }
        self.mic.pop(catching_up)
    }

    fn hear(&self, frame: Frame) {
        // The line keeps its own bounded ring; a full channel means the browser is gone.
        let _ = self.media.to_agent.try_send(AudioFrame(frame));
    }
}

/// The SIP side of a bridge: the [`LegAudio`] to hand to the engine, and the bridge's ends.
pub struct SipSide {
    pub leg: LegAudio,
    from_patient: mpsc::Receiver<Vec<i16>>,
    to_patient: mpsc::Sender<Vec<i16>>,
}

impl SipSide {
    /// A recorded leg (`recording_id`.wav: left = what the bridge sends, right = the patient).
    pub fn recorded(recording_id: &str) -> SipSide {
        let (to_patient, source) = mpsc::channel(FRAME_CHANNEL_DEPTH);
        let (tap, from_patient) = mpsc::channel(FRAME_CHANNEL_DEPTH);
        SipSide {
            leg: LegAudio {
                recording_id: Some(recording_id.to_owned()),
                source: AgentSource::Live(source),
                tap: Some(tap),
            },
            from_patient,
            to_patient,
        }
    }
}

/// Ends of a bridge kept by the bridge task.
pub struct BridgeEnds {
    from_patient: mpsc::Receiver<Vec<i16>>,
    to_patient: mpsc::Sender<Vec<i16>>,
}

impl BridgeEnds {
    /// The patient's frames in, the frames to send out: for a task other than the bridge that
    /// drives the leg (a robot call).
    pub fn into_parts(self) -> (mpsc::Receiver<Vec<i16>>, mpsc::Sender<Vec<i16>>) {
        (self.from_patient, self.to_patient)
    }
    /// Ends given back by [`BridgeEnds::into_parts`]: a robot call handing its leg to a nurse.
    pub fn from_parts(
        from_patient: mpsc::Receiver<Vec<i16>>,
        to_patient: mpsc::Sender<Vec<i16>>,
    ) -> BridgeEnds {
        BridgeEnds {
            from_patient,
            to_patient,
        }
    }
}

impl SipSide {
    /// Splits into the leg for the engine and the ends for [`run`].
    pub fn split(self) -> (LegAudio, BridgeEnds) {
        (
            self.leg,
            BridgeEnds {
                from_patient: self.from_patient,
                to_patient: self.to_patient,
            },
        )
    }
}

/// Runs until the SIP leg's media ends (its tap closes); dropping the lines detaches them.
pub async fn run(
    ends: BridgeEnds,
    agent: LineMedia,
    consent: Option<Pcm>,
    mut control: mpsc::Receiver<BridgeControl>,
) {
    let BridgeEnds {
        mut from_patient,
        to_patient,
    } = ends;
    let mut mixer = Mixer::new();
    let mut nurse = Some(Party::new(agent));
    let mut monitors: Vec<(i64, MonitorMode, Party)> = Vec::new();
    let mut answered = false;
    let mut control_open = true;
    loop {
        tokio::select! {
            biased;
            c = control.recv(), if control_open => match c {
                Some(BridgeControl::Answered) => {
                    answered = true;
                    if let Some(pcm) = &consent {
                        mixer.announce(pcm.clone());
                    }
                }
                Some(BridgeControl::SwapAgent(media)) => nurse = Some(Party::new(media)),
                Some(BridgeControl::ReleaseAgent) => nurse = None,
                Some(BridgeControl::AddMonitor { user_id, mode, media }) => {
                    monitors.retain(|(id, _, _)| *id != user_id);
                    monitors.push((user_id, mode, Party::new(media)));
                }
                Some(BridgeControl::SetMonitorMode { user_id, mode }) => {
                    for m in monitors.iter_mut().filter(|(id, _, _)| *id == user_id) {
                        m.1 = mode;
                    }
                }
                Some(BridgeControl::RemoveMonitor { user_id }) => {
                    monitors.retain(|(id, _, _)| *id != user_id);
                }
                // the call center let go of the call: keep bridging until the media ends
                None => control_open = false,
            },
            frame = from_patient.recv() => {
                let Some(frame) = frame else { break };
                let mut patient = SILENCE;
                let n = frame.len().min(FRAME_SAMPLES);
                patient[..n].copy_from_slice(&frame[..n]);
                let behind = !from_patient.is_empty();
                let nurse_frame = nurse.as_mut().and_then(|p| p.next_frame(behind));
                let monitor_frames: Vec<Option<Frame>> = monitors
                    .iter_mut()
                    .map(|(_, _, p)| p.next_frame(behind))
                    .collect();
                let inputs: Vec<(MonitorMode, Option<&Frame>)> = monitors
                    .iter()
                    .zip(&monitor_frames)
                    .map(|((_, mode, _), f)| (*mode, f.as_ref()))
                    .collect();
                let mixed = mixer.tick(&patient, nurse_frame.as_ref(), &inputs);
                if answered {
                    let _ = to_patient.try_send(mixed.to_patient.to_vec());
                }
                if let Some(nurse) = &nurse {
                    nurse.hear(mixed.to_nurse);
                }
                for ((_, _, party), frame) in monitors.iter().zip(mixed.to_monitors) {
                    party.hear(frame);
                }
            }
        }
    }
}
