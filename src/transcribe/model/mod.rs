//! Whisper model files: importing CTranslate2 (faster-whisper) models as ggml, and fetching
//! ggml models from the whisper.cpp host ([`fetch`]) with checksum verification.
//!
//! whisper.cpp loads only its own ggml format, usually downloaded from the whisper.cpp model
//! host. Hospitals often install offline, and faster-whisper users already have CTranslate2
//! directories (`model.bin`, `vocabulary.txt`, `config.json`), so suifang converts those in
//! Rust: no Python, no PyTorch, about a second for `base`.
//!
//! ```no_run
//! use std::path::Path;
//! use suifang::transcribe::model::import_ct2;
//!
//! let info = import_ct2(
//!     Path::new("models/ct2/base"),
//!     Path::new("models/ggml-base.bin"),
//!     |p| eprintln!("{}/{} {}", p.done, p.total, p.tensor),
//! )?;
//! println!("{} ({} bytes)", info.size_name(), info.file_bytes);
//! # Ok::<(), suifang::transcribe::model::ModelError>(())
//! ```

mod ct2;
mod error;
pub mod fetch;
mod ggml;
mod installed;
mod mel;
mod quant;
mod vocab;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

pub use error::ModelError;
pub use installed::{installed_models, pick_model, InstalledModel};
pub use quant::Quantization;

use ct2::Ct2File;
use ggml::Hparams;

/// Progress of an import, reported once per tensor written (for a CLI progress bar).
#[derive(Debug, Clone)]
pub struct Progress {
    /// Tensors written so far.
    pub done: usize,
    /// Tensors the output will hold.
    pub total: usize,
    /// ggml name of the tensor just written.
    pub tensor: String,
}

/// What was imported: the model's dimensions and the file written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// The ggml file written.
    pub path: PathBuf,
    /// Size of that file in bytes.
    pub file_bytes: u64,
    /// Number of tensors written.
    pub tensors: usize,
    /// Vocabulary size including special tokens (51864 English-only, 51865+ multilingual).
    pub n_vocab: usize,
    /// Width of the audio encoder.
    pub n_audio_state: usize,
    /// Encoder blocks (4 tiny, 6 base, 12 small, 24 medium, 32 large).
    pub n_audio_layer: usize,
    /// Width of the text decoder.
    pub n_text_state: usize,
    /// Decoder blocks.
    pub n_text_layer: usize,
    /// Mel bands the model expects (80, or 128 for large-v3).
    pub n_mels: usize,
    /// Languages listed in `config.json` (`lang_ids`), if the file is present.
    pub languages: Option<usize>,
}

impl ModelInfo {
    /// Whether the model knows languages other than English (whisper.cpp's own test).
    pub fn multilingual(&self) -> bool {
        self.n_vocab >= 51865
    }

    /// The usual name of this size ("tiny", "base.en", …), from the encoder depth and width.
    pub fn size_name(&self) -> String {
        let size = match (self.n_audio_layer, self.n_audio_state) {
            (4, 384) => "tiny",
            (6, 512) => "base",
            (12, 768) => "small",
            (24, 1024) => "medium",
            (32, 1280) => "large",
            _ => "custom",
        };
        if self.multilingual() {
            size.to_string()
        } else {
            format!("{size}.en")
        }
    }
}

/// Converts the CTranslate2 whisper model in `src_dir` into a ggml file at `dst`.
///
/// The output is written to `dst` plus `.partial` and renamed at the end, so a crash or an
/// error never leaves a truncated model where the server would load it. `progress` is called
/// after each tensor.
pub fn import_ct2(
    src_dir: &Path,
    dst: &Path,
    progress: impl FnMut(Progress),
) -> Result<ModelInfo, ModelError> {
    import_ct2_as(src_dir, dst, None, progress)
}

/// Like [`import_ct2`], with the weight matrices block-quantized (`q8_0`, …) as whisper.cpp's
/// `quantize` tool would write them, or f16 for `None`. Quantized matrices are smaller and
/// multiply faster on the CPU; whisper.cpp loads such files like any other.
pub fn import_ct2_as(
    src_dir: &Path,
    dst: &Path,
    quantization: Option<Quantization>,
    mut progress: impl FnMut(Progress),
) -> Result<ModelInfo, ModelError> {
    let bin = src_dir.join("model.bin");
    let vocab_path = src_dir.join("vocabulary.txt");
    let config_path = src_dir.join("config.json");
    for (path, hint) in [
        (
            &bin,
            "expected a CTranslate2 (faster-whisper) model directory",
        ),
        (
            &vocab_path,
            "CTranslate2 whisper directories carry vocabulary.txt beside model.bin",
        ),
    ] {
        if !path.is_file() {
            return Err(ModelError::MissingFile {
                path: path.clone(),
                hint,
            });
        }
    }
    let languages = read_config(&config_path)?;
    let mut model = Ct2File::open(&bin)?;
    let hp = hparams(&mut model)?;
    let vocab = vocab::read_vocabulary(&vocab_path)?;
    if vocab.len() > hp.n_vocab {
        return Err(ModelError::Vocabulary {
            path: vocab_path,
            line: vocab.len(),
            reason: format!("{} tokens but the model has {}", vocab.len(), hp.n_vocab),
        });
    }
    let matrix = quantization.map_or(ggml::GgmlType::F16, ggml::GgmlType::Quant);
    let plan = ggml::plan(&hp, matrix);
    ggml::check_sources(&model, &plan)?;

    let partial = partial_path(dst);
    if let Some(dir) = dst.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(ModelError::io(dir))?;
    }
    let ftype = ggml::ftype(matrix);
    let result = write_ggml(
        &mut model,
        &hp,
        ftype,
        &vocab,
        &plan,
        &partial,
        &mut progress,
    );
    if let Err(e) = result {
        // The partial file is useless; failing to remove it must not hide the real error.
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, dst).map_err(ModelError::io(dst))?;
    let file_bytes = std::fs::metadata(dst).map_err(ModelError::io(dst))?.len();
    Ok(ModelInfo {
        path: dst.to_path_buf(),
        file_bytes,
        tensors: plan.len(),
        n_vocab: hp.n_vocab,
        n_audio_state: hp.n_audio_state,
        n_audio_layer: hp.n_audio_layer,
        n_text_state: hp.n_text_state,
        n_text_layer: hp.n_text_layer,
        n_mels: hp.n_mels,
        languages,
    })
}

fn partial_path(dst: &Path) -> PathBuf {
    let mut s = dst.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

fn write_ggml(
    model: &mut Ct2File,
    hp: &Hparams,
    ftype: i32,
    vocab: &[Vec<u8>],
    plan: &[ggml::Planned],
    path: &Path,
    progress: &mut impl FnMut(Progress),
) -> Result<(), ModelError> {
    let file = File::create(path).map_err(ModelError::io(path))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    ggml::write_preamble(&mut w, hp, ftype, &mel::mel_filters(hp.n_mels), vocab)
        .map_err(ModelError::io(path))?;
    for (i, t) in plan.iter().enumerate() {
        let data = ggml::tensor_data(model, t)?;
        ggml::write_tensor(&mut w, t, &data).map_err(ModelError::io(path))?;
        progress(Progress {
            done: i + 1,
            total: plan.len(),
            tensor: t.name.clone(),
        });
    }
    let file = w.into_inner().map_err(|e| ModelError::Io {
        path: path.to_path_buf(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(ModelError::io(path))?;
    Ok(())
}

/// Reads `config.json` if present; returns the number of languages it lists.
fn read_config(path: &Path) -> Result<Option<usize>, ModelError> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(ModelError::io(path))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| ModelError::Config {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(v.get("lang_ids")
        .and_then(|l| l.as_array())
        .map(|a| a.len()))
}

/// Derives the model dimensions from the variables' shapes and the head-count scalars.
fn hparams(model: &mut Ct2File) -> Result<Hparams, ModelError> {
    let dim = |m: &Ct2File, name: &str, axis: usize| -> Result<usize, ModelError> {
        let var = m.var(name)?;
        var.shape
            .get(axis)
            .copied()
            .ok_or_else(|| ModelError::BadShape {
                name: name.into(),
                expected: vec![0; axis + 1],
                found: var.shape.clone(),
            })
    };
    let heads = |m: &mut Ct2File, name: &str| -> Result<usize, ModelError> {
        let n = m.scalar_int(name)?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ModelError::NotCt2 {
                path: PathBuf::from(name),
                reason: format!("head count {n}"),
            })
    };
    Ok(Hparams {
        n_vocab: dim(model, "decoder/embeddings/weight", 0)?,
        n_audio_ctx: dim(model, "encoder/position_encodings/encodings", 0)?,
        n_audio_state: dim(model, "encoder/conv1/weight", 0)?,
        n_audio_head: heads(model, "encoder/num_heads")?,
        n_audio_layer: count_layers(model, "encoder"),
        n_text_ctx: dim(model, "decoder/position_encodings/encodings", 0)?,
        n_text_state: dim(model, "decoder/embeddings/weight", 1)?,
        n_text_head: heads(model, "decoder/num_heads")?,
        n_text_layer: count_layers(model, "decoder"),
        n_mels: dim(model, "encoder/conv1/weight", 1)?,
    })
}

/// Counts `<side>/layer_<digits>/` prefixes (not `<side>/layer_norm`).
fn count_layers(model: &Ct2File, side: &str) -> usize {
    let prefix = format!("{side}/layer_");
    model
        .vars
        .keys()
        .filter_map(|k| k.strip_prefix(&prefix))
        .filter_map(|rest| rest.split('/').next())
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .collect::<BTreeSet<_>>()
        .len()
}
