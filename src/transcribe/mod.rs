//! Transcription of finished call recordings with whisper (whisper.cpp through whisper-rs).
//!
//! - [`model`]: whisper model files; imports CTranslate2 (faster-whisper) models as ggml so that
//!   offline installs need only PyPI.
//! - [`audio`]: decodes recordings into per-channel 16 kHz f32 (channel 0 agent, 1 patient).
//! - [`vad`]: finds speech regions per channel, so silence never reaches whisper.
//! - [`engine`]: a loaded whisper model that transcribes one channel into timed segments.
//! - [`transcript`]: a whole recording, channel by channel, labelled agent / patient.
//! - [`worker`]: low-priority OS threads that run transcriptions for async callers.
//! - [`bench`]: suifang against faster-whisper: real-time factor, CPU time, error rates.

pub mod audio;
pub mod bench;
pub mod engine;
pub mod model;
pub mod transcript;
pub mod vad;
pub mod worker;

pub use engine::{
    ChannelTranscript, Engine, EngineConfig, EngineError, Language, LanguageMode, Segment,
};
pub use transcript::{transcribe_audio, transcribe_file, Speaker, TranscribeError, Transcript};
pub use worker::{Transcriber, WorkerConfig};
