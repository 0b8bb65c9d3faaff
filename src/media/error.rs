//! Errors of the media layer.

use std::path::PathBuf;

/// Everything that can go wrong while recording or processing audio.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The WAV library refused to read or write a file.
    #[error("WAV file {path}: {source}")]
    Wav {
        /// File being read or written.
        path: PathBuf,
        /// Underlying hound error.
        #[source]
        source: hound::Error,
    },
    /// Plain file-system failure (create directory, open, read, truncate).
    #[error("I/O on {path}: {source}")]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file that should be a RIFF/WAVE recording is not one; it cannot be repaired.
    #[error("{path} is not a repairable WAV file: {reason}")]
    NotWav {
        /// File inspected.
        path: PathBuf,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// A call id that would escape the recordings directory or is empty.
    #[error("call id {0:?} is not usable as a file name (use letters, digits, '-', '_', '.')")]
    BadCallId(String),
}

impl MediaError {
    /// What went wrong, without the file's path (for what users and the API see).
    pub fn cause(&self) -> String {
        match self {
            MediaError::Wav { source, .. } => source.to_string(),
            MediaError::Io { source, .. } => source.to_string(),
            other => other.to_string(),
        }
    }
}
