//! Transcription of finished call recordings with whisper (whisper.cpp through whisper-rs).
//!
//! - [`model`]: whisper model files; imports CTranslate2 (faster-whisper) models as ggml so that
//!   offline installs need only PyPI.

pub mod model;
