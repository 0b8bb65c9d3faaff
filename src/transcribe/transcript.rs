//! A whole recording's transcript: each channel transcribed separately and labelled with its
//! speaker (suifang records the agent on the left channel and the patient on the right).

use std::path::Path;
use std::time::Instant;

use super::audio::{decode_file, Audio, AudioError};
use super::engine::{ChannelTranscript, Engine, EngineError, LanguageMode, Segment, Vocabulary};

/// Who speaks on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Speaker {
    /// The nurse (left channel of a call recording).
    Agent,
    /// The patient (right channel).
    Patient,
    /// A mono file or an extra channel: the speaker is not known.
    Unknown,
}

impl Speaker {
    /// The speaker recorded on `channel` of a file with `n_channels` channels.
    pub fn for_channel(channel: usize, n_channels: usize) -> Speaker {
        match (n_channels, channel) {
            (1, _) => Speaker::Unknown,
            (_, 0) => Speaker::Agent,
            (_, 1) => Speaker::Patient,
            _ => Speaker::Unknown,
        }
    }

    /// A short label for display and storage.
    pub fn label(self) -> &'static str {
        match self {
            Speaker::Agent => "agent",
            Speaker::Patient => "patient",
            Speaker::Unknown => "speaker",
        }
    }
}

/// One channel's transcript with its speaker.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelResult {
    /// Channel index in the file.
    pub channel: usize,
    /// Who speaks on it.
    pub speaker: Speaker,
    /// What was said.
    pub transcript: ChannelTranscript,
}

/// A recording's transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// Length of the recording.
    pub duration_ms: u64,
    /// Per channel, in channel order.
    pub channels: Vec<ChannelResult>,
    /// Wall-clock milliseconds for decoding and transcribing.
    pub elapsed_ms: u64,
}

impl Transcript {
    /// All segments of all channels, ordered by start time, with their speaker (for display).
    pub fn interleaved(&self) -> Vec<(Speaker, &Segment)> {
        let mut all: Vec<(Speaker, &Segment)> = self
            .channels
            .iter()
            .flat_map(|c| c.transcript.segments.iter().map(move |s| (c.speaker, s)))
            .collect();
        all.sort_by_key(|(_, s)| (s.start_ms, s.end_ms));
        all
    }

    /// Processing time divided by audio time (lower is faster).
    pub fn real_time_factor(&self) -> f64 {
        self.elapsed_ms as f64 / self.duration_ms.max(1) as f64
    }
}

/// Why a recording could not be transcribed.
#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    /// The audio could not be read (corrupt or unsupported file).
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// whisper failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// whisper crashed on this recording (the worker survives and takes the next job).
    #[error("{0}: transcription panicked")]
    Panicked(std::path::PathBuf),
    /// The worker pool has shut down.
    #[error("the transcription workers have stopped")]
    WorkersGone,
    /// A pool started without a default model was asked to use it.
    #[error("this transcription pool has no default model: pass one with transcribe_with")]
    NoDefaultModel,
}

/// Decodes and transcribes the recording at `path`. Blocking and CPU-heavy.
pub fn transcribe_file(engine: &Engine, path: &Path) -> Result<Transcript, TranscribeError> {
    transcribe_file_hinted(engine, path, &Vocabulary::default())
}

/// Like [`transcribe_file`], with the call's vocabulary given to the decoder.
pub fn transcribe_file_hinted(
    engine: &Engine,
    path: &Path,
    vocabulary: &Vocabulary,
) -> Result<Transcript, TranscribeError> {
    let started = Instant::now();
    let audio = decode_file(path)?;
    let mut t = transcribe_audio_hinted(engine, &audio, vocabulary)?;
    t.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(t)
}

/// Transcribes decoded audio, one channel after the other. Blocking and CPU-heavy.
pub fn transcribe_audio(engine: &Engine, audio: &Audio) -> Result<Transcript, TranscribeError> {
    transcribe_audio_hinted(engine, audio, &Vocabulary::default())
}

/// Like [`transcribe_audio`], with the call's vocabulary given to the decoder.
pub fn transcribe_audio_hinted(
    engine: &Engine,
    audio: &Audio,
    vocabulary: &Vocabulary,
) -> Result<Transcript, TranscribeError> {
    let started = Instant::now();
    let n = audio.channels.len();
    // Both sides of a call speak one language: detect it once, from all channels together.
    let language = match &engine.config().language {
        LanguageMode::Detect(langs) if langs.len() > 1 => {
            let channels: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
            engine.detect_language(&channels)?
        }
        _ => None,
    };
    let channels = audio
        .channels
        .iter()
        .enumerate()
        .map(|(channel, samples)| {
            Ok(ChannelResult {
                channel,
                speaker: Speaker::for_channel(channel, n),
                transcript: engine.transcribe_hinted(samples, language, vocabulary)?,
            })
        })
        .collect::<Result<Vec<_>, EngineError>>()?;
    Ok(Transcript {
        duration_ms: audio.duration_ms(),
        channels,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stereo_is_agent_then_patient() {
        assert_eq!(Speaker::for_channel(0, 2), Speaker::Agent);
        assert_eq!(Speaker::for_channel(1, 2), Speaker::Patient);
        assert_eq!(Speaker::for_channel(0, 1), Speaker::Unknown);
        assert_eq!(Speaker::for_channel(2, 4), Speaker::Unknown);
    }
}
