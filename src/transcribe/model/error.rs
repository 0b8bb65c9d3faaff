//! Errors of the CTranslate2 → ggml import, worded so that a user can fix the input.

use std::path::PathBuf;

/// Everything that can go wrong while importing a CTranslate2 whisper model.
///
/// Each variant names the file or variable at fault, because the usual cause is a wrong or
/// incomplete directory (a model split in parts that were not joined, a non-whisper model, an
/// int8 export), not a bug.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file the import needs is missing from the model directory.
    #[error("{path} is missing: {hint}")]
    MissingFile {
        /// The file that was looked for.
        path: PathBuf,
        /// What the file is and where it usually comes from.
        hint: &'static str,
    },
    /// The file does not have the CTranslate2 `model.bin` layout.
    #[error("{path} is not a CTranslate2 model.bin: {reason}")]
    NotCt2 {
        /// The file.
        path: PathBuf,
        /// What did not match.
        reason: String,
    },
    /// A CTranslate2 model of another architecture (e.g. a translation model).
    #[error("{path} holds a CTranslate2 {spec}, not a WhisperSpec model")]
    NotWhisper {
        /// The file.
        path: PathBuf,
        /// The spec name found in the header.
        spec: String,
    },
    /// The file ends in the middle of a variable: usually one part of a split model.
    #[error(
        "{path} is truncated: variable {index} of {total} ({name}) ends past the end of the file \
         (if the model came in parts, join them first: cat model.bin.part1 model.bin.part2 > model.bin)"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// 0-based index of the first incomplete variable.
        index: usize,
        /// Number of variables the header announces.
        total: usize,
        /// Name of the incomplete variable (empty if even its name was cut).
        name: String,
    },
    /// A variable whisper.cpp needs is not in the model.
    #[error("variable {name} is missing from the CTranslate2 model")]
    MissingVariable {
        /// CTranslate2 variable name.
        name: String,
    },
    /// A variable has a shape that does not fit the model's dimensions.
    #[error("variable {name} has shape {found:?}, expected {expected:?}")]
    BadShape {
        /// CTranslate2 variable name.
        name: String,
        /// Shape derived from the model's dimensions.
        expected: Vec<usize>,
        /// Shape stored in the file.
        found: Vec<usize>,
    },
    /// A variable is stored in a type the converter cannot turn into f16/f32.
    #[error("variable {name} has unsupported type {dtype}: {why}")]
    UnsupportedDtype {
        /// CTranslate2 variable name.
        name: String,
        /// The CTranslate2 type (code or name).
        dtype: String,
        /// Why, and what to do instead.
        why: &'static str,
    },
    /// A matrix whose rows are not a whole number of 32-value quantization blocks.
    #[error("tensor {name} cannot be quantized: its rows hold {row} values, not a multiple of 32")]
    Unquantizable {
        /// ggml tensor name.
        name: String,
        /// Values per row.
        row: usize,
    },
    /// `vocabulary.txt` cannot be turned into whisper's byte-level tokens.
    #[error("{path} line {line}: {reason}")]
    Vocabulary {
        /// The vocabulary file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// `config.json` is present but not valid JSON.
    #[error("{path}: {source}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// The JSON parser's error.
        #[source]
        source: serde_json::Error,
    },
}

impl ModelError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ModelError {
        let path = path.into();
        move |source| ModelError::Io { path, source }
    }
}
