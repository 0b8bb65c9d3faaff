//! Benchmark pieces: suifang's whisper pipeline against faster-whisper on the same recordings,
//! with real-time factor, CPU seconds and word/character error rate against the known text.
//!
//! faster-whisper runs as a Python child process (`scripts/faster_whisper_bench.py`) on the
//! CTranslate2 model that suifang imported, so both sides use the same weights. This is a
//! benchmark, not a test: the figures depend on the machine and on what else runs on it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::engine::{Engine, Language, Vocabulary};
use super::transcript::{transcribe_file_hinted, TranscribeError, Transcript};

/// One recording with the words actually spoken on each channel.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchCase {
    /// The stereo recording.
    pub path: PathBuf,
    /// Reference text per channel (agent, patient).
    pub reference: Vec<String>,
    /// Language of the reference (character error rate for zh, word error rate for en).
    pub language: Language,
    /// The call's vocabulary (from its script's `# vocabulary:` line), given to the decoder
    /// only by a run that measures the hint.
    pub vocabulary: Vocabulary,
}

/// Figures of one engine on one recording, or summed over several.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunStats {
    /// Engine and settings, e.g. "suifang (whisper.cpp f16)".
    pub engine: String,
    /// The recording's file name ("total" for sums).
    pub file: String,
    /// Seconds of audio (per recording, not per channel).
    pub audio_s: f64,
    /// Wall-clock seconds spent transcribing.
    pub wall_s: f64,
    /// CPU seconds (user + system) spent transcribing.
    pub cpu_s: f64,
    /// Edit operations against the references, and reference length (words or characters).
    pub errors: usize,
    /// See `errors`.
    pub reference_len: usize,
    /// Channels whose output is degenerate ("FILE ch N: why"): a decoding loop or an error
    /// rate above 80 %. A comparison on such a file says more about the broken output than
    /// about speed, so the goal is also judged without them.
    pub degenerate: Vec<String>,
    channels_scored: usize,
}

/// An error rate above this marks a channel's output as degenerate.
pub const DEGENERATE_ERROR_RATE: f64 = 0.8;

/// Why an engine's output for one channel is degenerate, if it is: a repetition loop covering
/// at least a quarter of the text (`phantom::repetition_span`), or more errors than 80 % of the
/// reference.
pub fn degeneracy(hypothesis: &str, errors: usize, reference_len: usize) -> Option<String> {
    let span = super::phantom::repetition_span(hypothesis);
    let len = hypothesis.chars().filter(|c| c.is_alphanumeric()).count();
    if span > 0 && 4 * span >= len {
        return Some(format!("repetition loop ({span} of {len} characters)"));
    }
    let rate = errors as f64 / reference_len.max(1) as f64;
    (reference_len > 0 && rate > DEGENERATE_ERROR_RATE)
        .then(|| format!("error rate {:.0} %", 100.0 * rate))
}

impl RunStats {
    /// Wall time over audio time.
    pub fn rtf(&self) -> f64 {
        self.wall_s / self.audio_s.max(1e-9)
    }

    /// Errors over reference length.
    pub fn error_rate(&self) -> f64 {
        self.errors as f64 / self.reference_len.max(1) as f64
    }

    fn add_text(&mut self, language: Language, reference: &str, hypothesis: &str) {
        let (r, h) = (units(language, reference), units(language, hypothesis));
        let errors = edit_distance(&r, &h);
        if let Some(why) = degeneracy(hypothesis, errors, r.len()) {
            let channel = self.channels_scored;
            self.degenerate
                .push(format!("{} ch {channel}: {why}", self.file));
        }
        self.channels_scored += 1;
        self.errors += errors;
        self.reference_len += r.len();
    }

    /// The sum of `runs` (one engine on several recordings), labelled `file`.
    pub fn total(runs: &[RunStats], file: &str) -> RunStats {
        let mut t = RunStats {
            engine: runs.first().map(|r| r.engine.clone()).unwrap_or_default(),
            file: file.to_string(),
            ..Default::default()
        };
        for r in runs {
            t.audio_s += r.audio_s;
            t.wall_s += r.wall_s;
            t.cpu_s += r.cpu_s;
            t.errors += r.errors;
            t.reference_len += r.reference_len;
            t.degenerate.extend(r.degenerate.iter().cloned());
        }
        t
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Why a benchmark run failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// suifang's own pipeline failed.
    #[error(transparent)]
    Transcribe(#[from] TranscribeError),
    /// The faster-whisper helper could not be run or failed.
    #[error("faster-whisper: {0}")]
    FasterWhisper(String),
}

/// Normalised comparison units: lower-case words for English, characters (no punctuation or
/// spaces) for Chinese.
pub fn units(language: Language, text: &str) -> Vec<String> {
    match language {
        Language::En => text
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric() && c != '\'')
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect(),
        Language::Zh => text
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric())
            .map(String::from)
            .collect(),
    }
}

/// Levenshtein distance between two token sequences.
pub fn edit_distance(a: &[String], b: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(x != y))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// CPU seconds (user + system) used by this process so far.
pub fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass and reads nothing else.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

/// Runs suifang's pipeline (decode, VAD, per-channel batched whisper) on every case, `repeat`
/// times each, keeping the fastest run: the machine may be shared, and the minimum is the least
/// disturbed measurement. One result per case.
pub fn run_suifang(
    engine: &Engine,
    label: &str,
    cases: &[BenchCase],
    repeat: usize,
    hint: bool,
) -> Result<Vec<RunStats>, BenchError> {
    let none = Vocabulary::default();
    let mut all = Vec::new();
    for case in cases {
        let mut stats = RunStats {
            engine: label.to_string(),
            file: file_name(&case.path),
            ..Default::default()
        };
        let mut best: Option<(f64, f64, Transcript)> = None;
        for _ in 0..repeat.max(1) {
            let (wall0, cpu0) = (Instant::now(), process_cpu_seconds());
            let vocabulary = if hint { &case.vocabulary } else { &none };
            let t = transcribe_file_hinted(engine, &case.path, vocabulary)?;
            let (wall, cpu) = (wall0.elapsed().as_secs_f64(), process_cpu_seconds() - cpu0);
            if best.as_ref().is_none_or(|(w, _, _)| wall < *w) {
                best = Some((wall, cpu, t));
            }
        }
        let Some((wall, cpu, t)) = best else { continue };
        stats.wall_s += wall;
        stats.cpu_s += cpu;
        stats.audio_s += t.duration_ms as f64 / 1000.0;
        for (c, reference) in t.channels.iter().zip(&case.reference) {
            let text: Vec<&str> = c
                .transcript
                .segments
                .iter()
                .map(|s| s.text.as_str())
                .collect();
            stats.add_text(case.language, reference, &text.join(" "));
        }
        all.push(stats);
    }
    Ok(all)
}

/// How to run faster-whisper.
#[derive(Debug, Clone, PartialEq)]
pub struct FasterWhisper {
    /// Python interpreter that has `faster_whisper` installed.
    pub python: PathBuf,
    /// `scripts/faster_whisper_bench.py`.
    pub script: PathBuf,
    /// The CTranslate2 model directory (the one imported into suifang).
    pub model_dir: PathBuf,
    /// CPU threads (same as suifang's).
    pub threads: usize,
    /// CTranslate2 compute type: "int8", "float32", …
    pub compute_type: String,
    /// Runs per file; the fastest is kept.
    pub repeat: usize,
    /// Use faster-whisper's own Silero voice-activity filter (`vad_filter=True`).
    pub vad: bool,
    /// Beam size: 1 is greedy like suifang (faster-whisper's own default is 5).
    pub beam: usize,
}

impl FasterWhisper {
    /// The row label.
    pub fn label(&self) -> String {
        format!(
            "faster-whisper {}{}{}",
            self.compute_type,
            if self.vad { ", Silero VAD" } else { "" },
            if self.beam > 1 {
                format!(", beam {}", self.beam)
            } else {
                String::new()
            }
        )
    }
}

/// Runs faster-whisper (greedy, per channel like suifang; its VAD filter only if asked) on every
/// case. One result per case.
pub fn run_faster_whisper(
    fw: &FasterWhisper,
    cases: &[BenchCase],
) -> Result<Vec<RunStats>, BenchError> {
    let Some(language) = cases.first().map(|c| c.language) else {
        return Ok(Vec::new());
    };
    if cases.iter().any(|c| c.language != language) {
        return Err(BenchError::FasterWhisper(
            "run one language at a time".into(),
        ));
    }
    let out = Command::new(&fw.python)
        .arg(&fw.script)
        .arg("--model")
        .arg(&fw.model_dir)
        .args(["--threads", &fw.threads.to_string()])
        .args(["--compute-type", &fw.compute_type])
        .args(["--language", language.code()])
        .args(["--repeat", &fw.repeat.max(1).to_string()])
        .args(["--beam", &fw.beam.max(1).to_string()])
        .args(fw.vad.then_some("--vad"))
        .args(cases.iter().map(|c| c.path.as_os_str()))
        .output()
        .map_err(|e| {
            BenchError::FasterWhisper(format!("cannot run {}: {e}", fw.python.display()))
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(BenchError::FasterWhisper(format!(
            "{}: {}",
            out.status,
            tail.join(" | ")
        )));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines().filter(|l| l.starts_with('{'));
    let mut all = Vec::new();
    for case in cases {
        let mut stats = RunStats {
            engine: fw.label(),
            file: file_name(&case.path),
            ..Default::default()
        };
        let line = lines.next().ok_or_else(|| {
            BenchError::FasterWhisper(format!("no result for {}", case.path.display()))
        })?;
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| BenchError::FasterWhisper(e.to_string()))?;
        let num = |k: &str| v.get(k).and_then(|x| x.as_f64()).unwrap_or(0.0);
        stats.audio_s += num("duration_s");
        stats.wall_s += num("wall_s");
        stats.cpu_s += num("cpu_s");
        let texts = v
            .get("channels")
            .and_then(|c| c.as_array())
            .cloned()
            .unwrap_or_default();
        for (text, reference) in texts.iter().zip(&case.reference) {
            stats.add_text(case.language, reference, text.as_str().unwrap_or(""));
        }
        all.push(stats);
    }
    Ok(all)
}

/// A side-by-side table of one recording (or of totals). The ratio columns compare each row
/// with the first (suifang): how many times its wall-clock time and its CPU time are
/// suifang's, so 2.00 means suifang has twice that row's throughput.
pub fn report(rows: &[RunStats]) -> String {
    // the engine column is as wide as its longest name, so the figures stay in columns
    let w = rows
        .iter()
        .map(|r| r.engine.chars().count())
        .max()
        .unwrap_or(0)
        .max(38);
    let mut s = format!(
        "{:<w$} {:>7} {:>7} {:>6} {:>7} {:>8} {:>10} {:>10}\n",
        "engine", "audio s", "wall s", "RTF", "CPU s", "err rate", "time ×sf", "CPU ×sf"
    );
    let (base_wall, base_cpu) = rows
        .first()
        .map(|r| (r.wall_s, r.cpu_s))
        .unwrap_or((1.0, 1.0));
    for r in rows {
        s.push_str(&format!(
            "{:<w$} {:>7.1} {:>7.2} {:>6.3} {:>7.2} {:>7.1}% {:>10.2} {:>10.2}\n",
            r.engine,
            r.audio_s,
            r.wall_s,
            r.rtf(),
            r.cpu_s,
            100.0 * r.error_rate(),
            r.wall_s / base_wall.max(1e-9),
            r.cpu_s / base_cpu.max(1e-9),
        ));
    }
    for r in rows {
        for d in &r.degenerate {
            s.push_str(&format!("  DEGENERATE {}: {d}\n", r.engine));
        }
    }
    s
}

/// Totals per engine over the recordings on which no engine's output is degenerate, and how
/// many recordings that is. `runs` holds one result per recording for each engine.
pub fn sound_totals(runs: &[Vec<RunStats>]) -> (Vec<RunStats>, usize) {
    let n = runs.iter().map(Vec::len).min().unwrap_or(0);
    let sound: Vec<usize> = (0..n)
        .filter(|&i| runs.iter().all(|r| r[i].degenerate.is_empty()))
        .collect();
    let totals = runs
        .iter()
        .map(|r| {
            let picked: Vec<RunStats> = sound.iter().map(|&i| r[i].clone()).collect();
            let mut t = RunStats::total(&picked, "sound recordings");
            if let Some(first) = r.first() {
                t.engine = first.engine.clone();
            }
            t
        })
        .collect();
    (totals, sound.len())
}

/// Totals of `ours` and `theirs` (one result per recording each) over the recordings on which
/// neither output is degenerate, and how many that is; `None` when there is no such recording,
/// so a comparison on nothing is never called a win.
pub fn pair_totals(ours: &[RunStats], theirs: &[RunStats]) -> Option<(RunStats, RunStats, usize)> {
    let (a, b): (Vec<RunStats>, Vec<RunStats>) = ours
        .iter()
        .zip(theirs)
        .filter(|(a, b)| a.degenerate.is_empty() && b.degenerate.is_empty())
        .map(|(a, b)| (a.clone(), b.clone()))
        .unzip();
    let n = a.len();
    if n == 0 {
        return None;
    }
    let mut ta = RunStats::total(&a, "sound recordings");
    let mut tb = RunStats::total(&b, "sound recordings");
    ta.engine = a[0].engine.clone();
    tb.engine = b[0].engine.clone();
    Some((ta, tb, n))
}

/// Whether `ours` meets the goal against `theirs`: at least `factor` times the
/// throughput (wall clock), no more CPU seconds, at an error rate no worse.
pub fn meets_goal(ours: &RunStats, theirs: &RunStats, factor: f64) -> bool {
    theirs.wall_s >= factor * ours.wall_s
        && ours.cpu_s <= theirs.cpu_s
        && ours.errors * theirs.reference_len.max(1) <= theirs.errors * ours.reference_len.max(1)
}

/// The vocabulary of the bench script `scripts_dir/NAME.script` that made `wav` (its
/// `# vocabulary: a, b` or `# vocabulary: 甲、乙` line), or none.
pub fn vocabulary_for(wav: &Path, scripts_dir: &Path) -> Vocabulary {
    let Some(stem) = wav.file_stem().and_then(|s| s.to_str()) else {
        return Vocabulary::default();
    };
    // a lossy copy NAME.lossP.wav has the vocabulary of NAME
    let name = stem.split(".loss").next().unwrap_or(stem);
    let text =
        std::fs::read_to_string(scripts_dir.join(format!("{name}.script"))).unwrap_or_default();
    let terms = text
        .lines()
        .find_map(|l| l.strip_prefix("# vocabulary:"))
        .map(|v| {
            v.split(['、', ','])
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Vocabulary { terms }
}

/// Reference text per channel of `wav`: from `NAME.ref` if present ("agent|patient TEXT" per
/// line), else from the `NAME.turns` file made with the fixtures.
pub fn reference_for(wav: &Path) -> std::io::Result<Vec<String>> {
    let refs = wav.with_extension("ref");
    let (path, skip) = if refs.is_file() {
        (refs, 1)
    } else {
        (wav.with_extension("turns"), 3)
    };
    let mut out = vec![String::new(), String::new()];
    for line in std::fs::read_to_string(path)?.lines() {
        let mut f = line.splitn(skip + 1, ' ');
        let ch = match f.next() {
            Some("agent") => 0,
            Some("patient") => 1,
            _ => continue,
        };
        let text = f.nth(skip - 1).unwrap_or("");
        out[ch].push(' ');
        out[ch].push_str(text);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_and_character_error_rates() {
        let r = units(
            Language::En,
            "I have chest pain, and my breathing is difficult.",
        );
        let h = units(
            Language::En,
            "i have kept paying and my breathing is difficult",
        );
        assert_eq!(r.len(), 9);
        assert_eq!(edit_distance(&r, &h), 2);
        let r = units(Language::Zh, "我最近血压很高，还有点心痛。");
        let h = units(Language::Zh, "我最近血亚很高,还有点心痛");
        assert_eq!((r.len(), edit_distance(&r, &h)), (12, 1));
        assert_eq!(edit_distance(&r, &[]), 12);
    }

    #[test]
    fn the_vocabulary_comes_from_the_script_of_the_recording() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("zh_x.script"),
            "# about\n# vocabulary: 阿司匹林、 胸闷 ,心率\npause 1\n",
        )
        .unwrap();
        let v = vocabulary_for(Path::new("/corpus/zh_x.loss3.wav"), dir.path());
        assert_eq!(v.terms, ["阿司匹林", "胸闷", "心率"]);
        assert!(vocabulary_for(Path::new("/corpus/other.wav"), dir.path())
            .terms
            .is_empty());
    }

    #[test]
    fn a_loop_or_a_wild_error_rate_is_degenerate() {
        let mut r = RunStats {
            file: "a.wav".into(),
            ..Default::default()
        };
        r.add_text(
            Language::Zh,
            "我最近血压很高，还有点心痛。",
            "我最近血压很高还有点心痛好的好的好的好的好的好的好的好的好的好的",
        );
        r.add_text(Language::En, "I have chest pain.", "I have chest pain.");
        r.add_text(
            Language::En,
            "I have chest pain since yesterday.",
            "Thank you.",
        );
        assert_eq!(r.degenerate.len(), 2, "{:?}", r.degenerate);
        assert!(r.degenerate[0].starts_with("a.wav ch 0: repetition loop"));
        assert!(r.degenerate[1].starts_with("a.wav ch 2: error rate"));
        // only recordings every engine got right count for the sound totals
        let ok = RunStats {
            file: "b.wav".into(),
            wall_s: 2.0,
            ..Default::default()
        };
        let (totals, n) =
            sound_totals(&[vec![ok.clone(), ok.clone()], vec![r.clone(), ok.clone()]]);
        assert_eq!(n, 1);
        assert_eq!(totals[1].wall_s, 2.0);
        // the goal is judged per pair: only where neither side is degenerate, never on nothing
        let (_, theirs, n) = pair_totals(&[ok.clone(), ok.clone()], &[r.clone(), ok.clone()])
            .expect("one sound recording");
        assert_eq!((n, theirs.wall_s), (1, 2.0));
        assert!(pair_totals(&[ok], &[r]).is_none());
    }

    #[test]
    fn totals_ratios_and_the_goal() {
        let run = |engine: &str, wall_s: f64, cpu_s: f64, errors: usize| RunStats {
            engine: engine.into(),
            file: "a.wav".into(),
            audio_s: 60.0,
            wall_s,
            cpu_s,
            errors,
            reference_len: 100,
            ..Default::default()
        };
        let ours = [run("suifang", 1.0, 2.0, 5), run("suifang", 3.0, 4.0, 5)];
        let t = RunStats::total(&ours, "total");
        assert_eq!((t.audio_s, t.wall_s, t.cpu_s), (120.0, 4.0, 6.0));
        assert_eq!(
            (t.errors, t.reference_len, t.file.as_str()),
            (10, 200, "total")
        );
        let theirs = RunStats::total(&[run("fw", 6.0, 9.0, 10)], "total");
        let table = report(&[t.clone(), theirs.clone()]);
        assert!(
            table.lines().nth(2).unwrap().ends_with("1.50       1.50"),
            "{table}"
        );
        // 6 s against 4 s is exactly 1.5×; same error rate (5 %) is "no worse".
        assert!(meets_goal(&t, &theirs, 1.5));
        assert!(!meets_goal(&t, &theirs, 1.6));
        let better = RunStats::total(&[run("fw", 6.0, 9.0, 4)], "total");
        assert!(!meets_goal(&t, &better, 1.5), "their 4 % beats our 5 %");
        let frugal = RunStats::total(&[run("fw", 6.0, 5.0, 10)], "total");
        assert!(!meets_goal(&t, &frugal, 1.5), "they use less CPU");
    }
}
