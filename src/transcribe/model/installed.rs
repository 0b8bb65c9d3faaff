//! Which ggml models are installed, so the server can say at start-up which one it uses (or
//! that none is there) without loading any of them.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::error::ModelError;
use super::ggml::MAGIC;

/// A ggml whisper file found in the models directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledModel {
    /// The file.
    pub path: PathBuf,
    /// Name from the file name: `ggml-base.bin` → `base`.
    pub name: String,
    /// Whether it knows languages other than English (Mandarin needs this).
    pub multilingual: bool,
    /// File size; larger models are slower and more accurate.
    pub bytes: u64,
}

/// Lists `dir/ggml-*.bin` files that start with the ggml magic, smallest first. A missing
/// directory is an empty list: running without transcription is allowed.
pub fn installed_models(dir: &Path) -> Result<Vec<InstalledModel>, ModelError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ModelError::io(dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(ModelError::io(dir))?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("ggml-"))
            .and_then(|n| n.strip_suffix(".bin"))
            .map(str::to_string)
        else {
            continue;
        };
        let mut header = [0u8; 8];
        let ok = File::open(&path)
            .and_then(|mut f| f.read_exact(&mut header))
            .is_ok();
        if !ok || u32::from_le_bytes([header[0], header[1], header[2], header[3]]) != MAGIC {
            tracing::warn!(path = %path.display(), "not a ggml whisper model; ignored");
            continue;
        }
        let n_vocab = i32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let bytes = std::fs::metadata(&path)
            .map_err(ModelError::io(&path))?
            .len();
        out.push(InstalledModel {
            path,
            name,
            multilingual: n_vocab >= 51865,
            bytes,
        });
    }
    out.sort_by_key(|m| (m.bytes, m.name.clone()));
    Ok(out)
}

/// The model to use: the one named `preferred` if installed, else the largest one that can
/// transcribe the required languages (`multilingual` for Mandarin).
pub fn pick_model<'a>(
    models: &'a [InstalledModel],
    preferred: Option<&str>,
    multilingual: bool,
) -> Option<&'a InstalledModel> {
    if let Some(m) = preferred.and_then(|p| models.iter().find(|m| m.name == p)) {
        return Some(m);
    }
    models
        .iter()
        .filter(|m| m.multilingual || !multilingual)
        .max_by_key(|m| m.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(dir: &Path, name: &str, n_vocab: i32, pad: usize) {
        let mut b = MAGIC.to_le_bytes().to_vec();
        b.extend_from_slice(&n_vocab.to_le_bytes());
        b.resize(8 + pad, 0);
        std::fs::write(dir.join(name), b).unwrap();
    }

    #[test]
    fn lists_ggml_models_and_picks_one_for_the_languages() {
        let dir = tempfile::tempdir().unwrap();
        fake(dir.path(), "ggml-tiny.en.bin", 51864, 10);
        fake(dir.path(), "ggml-base.bin", 51865, 20);
        fake(dir.path(), "ggml-small.en.bin", 51864, 30);
        std::fs::write(dir.path().join("ggml-broken.bin"), b"GGUF....").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        let models = installed_models(dir.path()).unwrap();
        let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["tiny.en", "base", "small.en"]);
        assert_eq!(
            pick_model(&models, None, true).map(|m| m.name.as_str()),
            Some("base")
        );
        assert_eq!(
            pick_model(&models, None, false).map(|m| m.name.as_str()),
            Some("small.en")
        );
        assert_eq!(
            pick_model(&models, Some("tiny.en"), false).map(|m| m.name.as_str()),
            Some("tiny.en")
        );
        assert!(pick_model(&models[..1], None, true).is_none());
        assert!(installed_models(&dir.path().join("none"))
            .unwrap()
            .is_empty());
    }
}
