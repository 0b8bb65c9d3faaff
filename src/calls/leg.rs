//! What a call leg sends and where its received audio goes: the seam between a SIP leg and
//! whatever is on the other side (a prompt, another SIP leg, later the nurse's WebRTC leg).
//!
//! Bridging two legs is two bounded channels crossed over: leg A's received audio is leg B's
//! source and vice versa. Frames are 20 ms of 8 kHz PCM (160 samples).

use std::sync::Arc;

use tokio::sync::mpsc;

/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

/// A frame channel deep enough to absorb scheduling jitter between two media tasks, small
/// enough that a stalled consumer cannot add more than ~100 ms of delay or grow memory.
pub const FRAME_CHANNEL_DEPTH: usize = 5;

/// Where the audio we send to the remote party comes from.
#[derive(Debug)]
pub enum AgentSource {
    /// A fixed buffer (prompt, test speech), silence after it ends.
    Samples(Arc<Vec<i16>>),
    /// Live 20 ms frames from another leg; silence when none is ready.
    Live(mpsc::Receiver<Vec<i16>>),
}

/// Media wiring of one call leg.
#[derive(Debug)]
pub struct LegAudio {
    /// Record this leg as `recordings/YYYY/MM/DD/<id>.wav` (left = sent, right = received).
    pub recording_id: Option<String>,
    /// What to send.
    pub source: AgentSource,
    /// Where each received (played-out) 20 ms frame goes, if anywhere. Frames are dropped
    /// rather than queued when the consumer is behind.
    pub tap: Option<mpsc::Sender<Vec<i16>>>,
}

impl LegAudio {
    /// A recorded leg that plays `audio`.
    pub fn recorded_playing(recording_id: &str, audio: Arc<Vec<i16>>) -> Self {
        Self {
            recording_id: Some(recording_id.to_owned()),
            source: AgentSource::Samples(audio),
            tap: None,
        }
    }
}

/// Two crossed legs: returns the audio wiring for the patient leg (recorded as
/// `recording_id`: left = the nurse as sent to the patient, right = the patient) and for the
/// nurse's leg (not recorded; it hears the patient).
pub fn bridge_pair(recording_id: &str) -> (LegAudio, LegAudio) {
    let (to_patient_tx, to_patient_rx) = mpsc::channel(FRAME_CHANNEL_DEPTH);
    let (to_nurse_tx, to_nurse_rx) = mpsc::channel(FRAME_CHANNEL_DEPTH);
    let patient = LegAudio {
        recording_id: Some(recording_id.to_owned()),
        source: AgentSource::Live(to_patient_rx),
        tap: Some(to_nurse_tx),
    };
    let nurse = LegAudio {
        recording_id: None,
        source: AgentSource::Live(to_nurse_rx),
        tap: Some(to_patient_tx),
    };
    (patient, nurse)
}
