//! Benchmark until the CLI's `suifang bench transcribe` is wired:
//! `cargo run --release --example bench_transcribe -- GGML CT2_DIR zh|en FILES…`
//! Environment: SUIFANG_THREADS (default 2), SUIFANG_PYTHON (a Python with faster-whisper;
//! default python3), SUIFANG_BENCH_REPEAT (default 3). References come from each file's `.ref` or `.turns` sidecar.

use std::path::PathBuf;
use std::process::ExitCode;

use suifang::transcribe::bench::{self, BenchCase, FasterWhisper};
use suifang::transcribe::{Engine, EngineConfig, Language, LanguageMode};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_transcribe: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        return Err("usage: bench_transcribe GGML CT2_DIR zh|en FILES…".into());
    }
    let language: Language = args[2].parse()?;
    let threads: usize = std::env::var("SUIFANG_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2);
    let python = std::env::var("SUIFANG_PYTHON").unwrap_or_else(|_| "python3".into());
    let repeat: usize = std::env::var("SUIFANG_BENCH_REPEAT")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(3);
    let cases = args[3..]
        .iter()
        .map(|f| {
            let path = PathBuf::from(f);
            Ok(BenchCase {
                reference: bench::reference_for(&path)?,
                path,
                language,
            })
        })
        .collect::<Result<Vec<_>, std::io::Error>>()?;
    let cfg = EngineConfig {
        threads,
        language: LanguageMode::Fixed(language),
        ..Default::default()
    };
    let engine = Engine::load(&PathBuf::from(&args[0]), cfg)?;
    let mut rows = vec![bench::run_suifang(
        &engine,
        "suifang (whisper.cpp f16, VAD)",
        &cases,
        repeat,
    )?];
    drop(engine);
    for compute_type in ["int8", "float32"] {
        let fw = FasterWhisper {
            python: PathBuf::from(&python),
            script: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("scripts/faster_whisper_bench.py"),
            model_dir: PathBuf::from(&args[1]),
            threads,
            compute_type: compute_type.into(),
            repeat,
        };
        rows.push(bench::run_faster_whisper(&fw, &cases)?);
    }
    println!(
        "{threads} threads, {} recordings, language {}, best of {repeat} runs each",
        cases.len(),
        language.code()
    );
    print!("{}", bench::report(&rows));
    Ok(())
}
