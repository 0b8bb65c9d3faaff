//! Transcription of finished call recordings with whisper (whisper.cpp through whisper-rs).
//!
//! - [`model`]: whisper model files; imports CTranslate2 (faster-whisper) models as ggml so that
//!   offline installs need only PyPI.
//! - [`audio`]: decodes recordings into per-channel 16 kHz f32 (channel 0 agent, 1 patient).
//! - [`vad`]: finds speech regions per channel, so silence never reaches whisper.

pub mod audio;
pub mod model;
pub mod vad;
