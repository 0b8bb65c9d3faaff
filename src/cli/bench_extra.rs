//! The parts of `suifang bench transcribe` beyond the engine comparison: real-call conditions
//! (`--loss`) and short answers (`--clips`).

use std::path::Path;

use anyhow::{Context, Result};

use crate::transcribe::bench::{self, BenchCase, RunStats};
use crate::transcribe::bench_clips::{clip_cases, make_clips, report_clips, run_clips};
use crate::transcribe::bench_line::impaired_copy;
use crate::transcribe::{Engine, EngineConfig, Language, LanguageMode};

fn engine(model: &Path, language: Language, threads: usize) -> Result<Engine> {
    Ok(Engine::load(
        model,
        EngineConfig {
            threads,
            language: LanguageMode::Fixed(language),
            ..Default::default()
        },
    )?)
}

/// How the bench runs: threads per transcription, runs per file or clip.
#[derive(Debug, Clone, Copy)]
pub struct Runs {
    pub threads: usize,
    pub repeat: usize,
}

/// `--clips`: every short answer of the language through `Engine::transcribe_clip`.
pub fn run_clip_bench(model: &Path, language: Language, args: Runs, corpus: &Path) -> Result<()> {
    let cases = clip_cases(language);
    let files = make_clips(&corpus.join("clips"), &cases)
        .context("making the clips (needs espeak-ng and sox)")?;
    let engine = engine(model, language, args.threads)?;
    let runs = run_clips(&engine, &cases, &files, args.repeat).map_err(|e| anyhow::anyhow!(e))?;
    println!(
        "suifang bench transcribe --clips: model {}, 1 thread (a clip always uses one), language {}, {} runs per clip",
        model.display(),
        language.code(),
        args.repeat
    );
    print!("{}", report_clips(&runs));
    Ok(())
}

/// `--loss P…`: the recordings through a lossy G.711 line, transcribed like the clean ones.
pub fn run_loss_bench(
    model: &Path,
    language: Language,
    args: Runs,
    losses: &[f64],
    cases: &[BenchCase],
    corpus: &Path,
    clean: &RunStats,
) -> Result<()> {
    let engine = engine(model, language, args.threads)?;
    let mut clean_row = clean.clone();
    clean_row.engine = format!("{} (clean)", clean.engine);
    let mut rows = vec![clean_row];
    let mut notes = Vec::new();
    for &loss in losses {
        let mut lossy = Vec::new();
        let (mut packets, mut lost) = (0, 0);
        for case in cases {
            let (path, r) = impaired_copy(&case.path, &corpus.join("lossy"), loss)
                .with_context(|| format!("{} through a lossy line", case.path.display()))?;
            packets += r.packets;
            lost += r.lost;
            lossy.push(BenchCase {
                path,
                ..case.clone()
            });
        }
        let label = format!("{}, G.711 {loss} % loss", clean.engine);
        eprintln!("bench transcribe: {label} …");
        let runs = bench::run_suifang(&engine, &label, &lossy, args.repeat, false)?;
        rows.push(RunStats::total(&runs, "total"));
        notes.push(format!(
            "{loss} % loss: {lost} of {packets} packets lost ({:.2} %)",
            100.0 * lost as f64 / packets.max(1) as f64
        ));
    }
    println!("\nreal-call conditions: G.711 μ-law, 20 ms packets, lost packets = silence");
    print!("{}", bench::report(&rows));
    for n in notes {
        println!("  {n}");
    }
    Ok(())
}
