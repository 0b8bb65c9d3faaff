//! Transcription of finished call recordings with whisper (whisper.cpp through whisper-rs).
//!
//! Each channel of a stereo recording (left agent, right patient) is transcribed on its own, so
//! speaker labels come for free; a voice-activity step keeps silence away from whisper (it costs
//! a 30 s window and whisper invents text there), and the speech of one channel is batched into
//! as few whisper windows as possible, each encoded only as long as it is.
//!
//! - [`model`]: whisper model files; imports CTranslate2 (faster-whisper) models as ggml so that
//!   offline installs need only PyPI; lists installed models.
//! - [`audio`]: decodes recordings into per-channel 16 kHz f32 (channel 0 agent, 1 patient).
//! - [`vad`]: finds speech regions per channel, so silence, tones, DTMF, music and noise never
//!   reach whisper; [`spectrum`] holds the per-frame features it uses.
//! - `batch`: joins a channel's speech regions, cuts them into windows of up to 30 s with an
//!   encoder context sized to each, and maps whisper's times back to the recording.
//! - [`engine`]: a loaded whisper model that transcribes one channel into timed segments;
//!   `decode` runs its whisper calls with whisper's safeguards and drops invented text.
//! - [`clip`]: short answers (1–4 s) for robot calls, matched against the expected answers.
//! - [`phantom`]: text whisper invents (its prompt said back, subtitle credits), never kept.
//! - [`transcript`]: a whole recording, channel by channel, labelled agent / patient.
//! - [`worker`]: low-priority OS threads that run transcriptions for async callers.
//! - [`export`]: WebVTT and SRT exports of a stored transcript.
//! - [`bench`]: suifang against faster-whisper: real-time factor, CPU time, error rates, with
//!   degenerate outputs flagged; [`bench_line`] makes G.711 copies with packet loss,
//!   [`bench_clips`] measures short answers.
//!
//! ```no_run
//! use std::{path::Path, sync::Arc};
//! use suifang::transcribe::{Engine, EngineConfig, Transcriber, WorkerConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = Engine::load(Path::new("models/ggml-base.bin"), EngineConfig::default())?;
//! let pool = Transcriber::spawn(Arc::new(engine), &WorkerConfig::default())?;
//! let transcript = pool.transcribe("recordings/call.wav".into()).await?;
//! for (speaker, seg) in transcript.interleaved() {
//!     println!("{} {}–{} ms {}", speaker.label(), seg.start_ms, seg.end_ms, seg.text);
//! }
//! # Ok(()) }
//! ```

pub mod audio;
mod batch;
pub mod bench;
pub mod bench_clips;
pub mod bench_line;
pub mod clip;
mod decode;
pub mod engine;
pub mod export;
pub mod model;
pub mod phantom;
pub mod spectrum;
pub mod transcript;
pub mod vad;
pub mod worker;

pub use engine::{
    ChannelTranscript, Engine, EngineConfig, EngineError, Language, LanguageMode, Segment,
    Vocabulary, LOW_CONFIDENCE,
};
pub use transcript::{
    transcribe_audio, transcribe_audio_hinted, transcribe_file, transcribe_file_hinted, Speaker,
    TranscribeError, Transcript,
};
pub use worker::{Transcriber, WorkerConfig};
