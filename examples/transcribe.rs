//! Prints the speaker-labelled transcript of recordings, until the CLI's `suifang transcribe`
//! is wired: `cargo run --release --example transcribe -- MODEL.bin [zh|en|auto] FILES…`.

use std::path::PathBuf;
use std::process::ExitCode;

use suifang::transcribe::{transcribe_file, Engine, EngineConfig, Language, LanguageMode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: transcribe MODEL.bin zh|en|auto FILES…");
        return ExitCode::from(2);
    }
    let language = match args[1].as_str() {
        "auto" => LanguageMode::Detect(vec![Language::Zh, Language::En]),
        other => match other.parse() {
            Ok(l) => LanguageMode::Fixed(l),
            Err(e) => {
                eprintln!("transcribe: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let threads = std::env::var("SUIFANG_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2);
    let cfg = EngineConfig {
        language,
        threads,
        ..Default::default()
    };
    let engine = match Engine::load(&PathBuf::from(&args[0]), cfg) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("transcribe: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    for file in &args[2..] {
        match transcribe_file(&engine, &PathBuf::from(file)) {
            Ok(t) => {
                println!("== {file}");
                for (speaker, s) in t.interleaved() {
                    println!(
                        "[{:>7.2} – {:>7.2}] {:<7} {} (p={:.2})",
                        s.start_ms as f64 / 1000.0,
                        s.end_ms as f64 / 1000.0,
                        speaker.label(),
                        s.text,
                        s.confidence
                    );
                }
                let speech: u64 = t.channels.iter().map(|c| c.transcript.speech_ms).sum();
                eprintln!(
                    "{file}: {:.1} s audio, {:.1} s speech over all channels, {:.2} s, RTF {:.3}",
                    t.duration_ms as f64 / 1000.0,
                    speech as f64 / 1000.0,
                    t.elapsed_ms as f64 / 1000.0,
                    t.real_time_factor()
                );
            }
            Err(e) => {
                eprintln!("transcribe: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
