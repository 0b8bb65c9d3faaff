//! Downloading ggml models from the whisper.cpp model host, for installs that are online.
//!
//! Every file is checked against the SHA-1 that whisper.cpp publishes for it (`models/README.md`
//! of ggerganov/whisper.cpp, the same list its `download-ggml-model.sh` serves), so a truncated
//! download, a captive portal's HTML page or a tampered mirror never becomes the model the server
//! loads. The file is written to `ggml-NAME.bin.partial` and renamed only once verified.

use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};
use tokio::io::AsyncWriteExt;

/// SHA-1 of each model file on the whisper.cpp host, from whisper.cpp's `models/README.md`.
pub const PINNED_SHA1: &[(&str, &str)] = &[
    ("tiny", "bd577a113a864445d4c299885e0cb97d4ba92b5f"),
    ("tiny.en", "c78c86eb1a8faa21b369bcd33207cc90d64ae9df"),
    ("base", "465707469ff3a37a2b9b8d8f89f2f99de7299dac"),
    ("base.en", "137c40403d78fd54d454da0f9bd998f78703390c"),
    ("small", "55356645c2b361a969dfd0ef2c5a50d530afd8d5"),
    ("small.en", "db8a495a91d927739e50b3fc1cc4c6b8f6c2d022"),
    ("small.en-tdrz", "b6c6e7e89af1a35c08e6de56b66ca6a02a2fdfa1"),
    ("medium", "fd9727b6e1217c2f614f9b698455c4ffd82463b4"),
    ("medium.en", "8c30f0e44ce9560643ebd10bbe50cd20eafd3723"),
    ("large-v1", "b1caaf735c4cc1429223d5a74f0f4d0b9b59a299"),
    ("large-v2", "0f4c8e34f21cf1a914c59d8b3ce882345ad349d6"),
    ("large-v2-q5_0", "00e39f2196344e901b3a2bd5814807a769bd1630"),
    ("large-v3", "ad82bf6a9043ceed055076d0fd39f5f186ff8062"),
    ("large-v3-q5_0", "e6e2ed78495d403bef4b7cff42ef4aaadcfea8de"),
];

/// The published SHA-1 of model `name`, if whisper.cpp lists it.
pub fn pinned_sha1(name: &str) -> Option<&'static str> {
    PINNED_SHA1
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
}

/// Why a download failed. Nothing is left in the models directory in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("`{0}` is not a model name (letters, digits, `.`, `-`, `_`; e.g. base, tiny.en)")]
    BadName(String),
    #[error(
        "no published checksum for model `{name}`; known: {known}. Pass --sha1 HEX to fetch it anyway"
    )]
    Unpinned { name: String, known: String },
    #[error("--sha1 must be 40 hex digits, got `{0}`")]
    BadChecksum(String),
    #[error("downloading {url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("downloading {url}: the server answered {status} (is the model name right? is transcription.model_host a whisper.cpp mirror?)")]
    Status { url: String, status: u16 },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{url}: checksum mismatch: expected SHA-1 {expected}, got {found} ({bytes} bytes); the download was deleted"
    )]
    Mismatch {
        url: String,
        expected: String,
        found: String,
        bytes: u64,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What to fetch.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    /// Base URL of the host (`…/resolve/main`); the file is `{host}/ggml-{name}.bin`.
    pub host: String,
    /// Model name: `base`, `tiny.en`, …
    pub name: String,
    /// Directory the model is installed in.
    pub dir: PathBuf,
    /// Expected SHA-1; default: the published one.
    pub sha1: Option<String>,
}

/// The URL and checksum a request resolves to (checked before any network access).
pub fn resolve(req: &FetchRequest) -> Result<(String, String), FetchError> {
    let ok = !req.name.is_empty()
        && !req.name.starts_with('.')
        && req
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !ok {
        return Err(FetchError::BadName(req.name.clone()));
    }
    let sha1 = match &req.sha1 {
        Some(s) if s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit()) => s.to_lowercase(),
        Some(s) => return Err(FetchError::BadChecksum(s.clone())),
        None => pinned_sha1(&req.name)
            .ok_or_else(|| FetchError::Unpinned {
                name: req.name.clone(),
                known: PINNED_SHA1
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?
            .to_string(),
    };
    let url = format!("{}/ggml-{}.bin", req.host.trim_end_matches('/'), req.name);
    Ok((url, sha1))
}

/// Downloads and verifies the model; returns the installed file. `progress(done, total)` is
/// called as bytes arrive (`total` when the server sends a length).
pub async fn fetch(
    req: &FetchRequest,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<PathBuf, FetchError> {
    let (url, expected) = resolve(req)?;
    tokio::fs::create_dir_all(&req.dir)
        .await
        .map_err(io(&req.dir))?;
    let dst = req.dir.join(format!("ggml-{}.bin", req.name));
    let partial = req.dir.join(format!("ggml-{}.bin.partial", req.name));
    let http = |source| FetchError::Http {
        url: url.clone(),
        source,
    };
    let mut resp = reqwest::get(&url).await.map_err(http)?;
    if !resp.status().is_success() {
        return Err(FetchError::Status {
            url: url.clone(),
            status: resp.status().as_u16(),
        });
    }
    let total = resp.content_length();
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(io(&partial))?;
    let result: Result<(String, u64), FetchError> = async {
        let mut hasher = Sha1::new();
        let mut done = 0u64;
        while let Some(chunk) = resp.chunk().await.map_err(http)? {
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(io(&partial))?;
            done += chunk.len() as u64;
            progress(done, total);
        }
        file.flush().await.map_err(io(&partial))?;
        file.sync_all().await.map_err(io(&partial))?;
        Ok((hex::encode(hasher.finalize()), done))
    }
    .await;
    drop(file);
    let outcome = match result {
        Ok((found, _)) if found == expected => Ok(()),
        Ok((found, bytes)) => Err(FetchError::Mismatch {
            url: url.clone(),
            expected,
            found,
            bytes,
        }),
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        // The partial file is useless; failing to remove it must not hide why.
        if let Err(rm) = tokio::fs::remove_file(&partial).await {
            tracing::warn!(path = %partial.display(), error = %rm, "could not remove a failed download");
        }
        return Err(e);
    }
    tokio::fs::rename(&partial, &dst).await.map_err(io(&dst))?;
    Ok(dst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str, sha1: Option<&str>) -> FetchRequest {
        FetchRequest {
            host: "https://example.org/resolve/main/".into(),
            name: name.into(),
            dir: PathBuf::from("models"),
            sha1: sha1.map(str::to_string),
        }
    }

    #[test]
    fn names_resolve_to_the_host_file_and_its_published_checksum() {
        let (url, sha) = resolve(&req("tiny.en", None)).unwrap();
        assert_eq!(url, "https://example.org/resolve/main/ggml-tiny.en.bin");
        assert_eq!(sha, "c78c86eb1a8faa21b369bcd33207cc90d64ae9df");
        assert!(matches!(
            resolve(&req("../etc/passwd", None)),
            Err(FetchError::BadName(_))
        ));
        assert!(matches!(
            resolve(&req("custom", None)),
            Err(FetchError::Unpinned { .. })
        ));
        assert!(matches!(
            resolve(&req("custom", Some("abc"))),
            Err(FetchError::BadChecksum(_))
        ));
        let own = "A".repeat(40);
        assert_eq!(
            resolve(&req("custom", Some(&own))).unwrap().1,
            "a".repeat(40)
        );
    }
}
