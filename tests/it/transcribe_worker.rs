//! The worker pool with a real model: results come back to async callers, and a corrupt WAV
//! fails its own job with a clear error without stopping the worker.
//!
//! Needs `models/ggml-tiny.en.bin` (`scripts/fetch-models.sh tiny.en`) or `$SUIFANG_MODEL_DIR`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use suifang::transcribe::{
    Engine, EngineConfig, Language, LanguageMode, Speaker, TranscribeError, Transcriber,
    WorkerConfig,
};

use crate::common::serial;

fn model() -> PathBuf {
    let dir = std::env::var_os("SUIFANG_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("models"));
    let path = dir.join("ggml-tiny.en.bin");
    assert!(
        path.is_file(),
        "whisper model {} is missing: run `scripts/fetch-models.sh tiny.en`, or set SUIFANG_MODEL_DIR",
        path.display()
    );
    path
}

#[tokio::test]
async fn corrupt_wav_fails_its_job_and_the_worker_goes_on() {
    let _machine = serial::exclusive();
    let cfg = EngineConfig {
        threads: 1,
        language: LanguageMode::Fixed(Language::En),
        ..Default::default()
    };
    let engine = Arc::new(Engine::load(&model(), cfg).unwrap());
    let pool = Transcriber::spawn(engine, &WorkerConfig::default()).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.wav");
    let good = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transcribe/en_one_sided.wav"),
    )
    .unwrap();
    // A real header with its data cut short and garbage in the format chunk.
    let mut bad = good[..200].to_vec();
    bad[20] = 0x55;
    std::fs::write(&corrupt, &bad).unwrap();

    let err = pool.transcribe(corrupt.clone()).await.unwrap_err();
    eprintln!("corrupt file: {err}");
    assert!(matches!(err, TranscribeError::Audio(_)), "{err}");
    assert!(err.to_string().contains("corrupt.wav"), "{err}");

    let t = pool
        .transcribe(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/transcribe/en_one_sided.wav"),
        )
        .await
        .unwrap();
    assert_eq!(t.channels[0].speaker, Speaker::Agent);
    assert!(!t.channels[0].transcript.segments.is_empty());
    assert!(t.channels[1].transcript.segments.is_empty());
    tokio::task::spawn_blocking(move || pool.shutdown())
        .await
        .unwrap();
}
