//! `bench transcribe --clips`: what robot calls send, short spoken answers (1–4 s), through
//! [`Engine::transcribe_clip`]: latency per clip (p50/p95 over all runs) and accuracy.
//!
//! The clips are made with espeak-ng (Mandarin through its pinyin voice), put in the phone band
//! at 8 kHz with 0.4 s of line hiss around them and through μ-law, like a robot call's
//! recording of the answer. A yes/no clip is right when the best candidate is the expected
//! one; a number clip (no candidates) when the text holds the number as digits or in words.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::audio::decode_file;
use super::clip::Clip;
use super::engine::{Engine, Language};

/// One short answer to recognise.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipCase {
    /// File stem.
    pub name: &'static str,
    /// The language.
    pub language: Language,
    /// What espeak-ng says (pinyin for Mandarin).
    pub spoken: &'static str,
    /// The question asked before it (the prompt).
    pub question: &'static str,
    /// Expected answers offered to the recogniser.
    pub candidates: &'static [&'static str],
    /// For yes/no: the right candidate; for numbers: `None`.
    pub expected: Option<usize>,
    /// For numbers: forms that count as right (digits first).
    pub accepted: &'static [&'static str],
}

const ZH_YES_NO: &[&str] = &["是", "不是"];
const ZH_HAVE: &[&str] = &["有", "没有"];
const EN_YES_NO: &[&str] = &["yes", "no"];

/// The clips of `language`.
pub fn clip_cases(language: Language) -> Vec<ClipCase> {
    let yn = |name, spoken, question, candidates, expected| ClipCase {
        name,
        language,
        spoken,
        question,
        candidates,
        expected: Some(expected),
        accepted: &[],
    };
    let num = |name, spoken, question, accepted| ClipCase {
        name,
        language,
        spoken,
        question,
        candidates: &[],
        expected: None,
        accepted,
    };
    match language {
        Language::Zh => vec![
            yn("zh_shide", "shi4 de5", "您是王先生吗？", ZH_YES_NO, 0),
            yn("zh_bushi", "bu2 shi4", "您是王先生吗？", ZH_YES_NO, 1),
            yn("zh_you", "you3", "您最近有没有胸痛？", ZH_HAVE, 0),
            yn("zh_meiyou", "mei2 you3", "您最近有没有胸痛？", ZH_HAVE, 1),
            yn(
                "zh_meiyou_long",
                "mei2 you3, yi1 dian3 dou1 mei2 you3",
                "您最近有没有胸痛？",
                ZH_HAVE,
                1,
            ),
            num(
                "zh_72",
                "qi1 shi2 er4 gong1 jin1",
                "您现在体重多少公斤？",
                &["72", "七十二"],
            ),
            num(
                "zh_145",
                "yi1 bai3 si4 shi2 wu3",
                "您的高压是多少？",
                &["145", "一百四十五"],
            ),
            num("zh_90", "jiu3 shi2", "低压是多少？", &["90", "九十"]),
        ],
        Language::En => vec![
            yn("en_yes", "yes", "Are you Mr Wang?", EN_YES_NO, 0),
            yn("en_no", "no", "Are you Mr Wang?", EN_YES_NO, 1),
            yn(
                "en_yes_i_do",
                "yes, I do",
                "Do you have chest pain?",
                EN_YES_NO,
                0,
            ),
            yn(
                "en_no_not_at_all",
                "no, not at all",
                "Do you have chest pain?",
                EN_YES_NO,
                1,
            ),
            num(
                "en_72",
                "seventy two kilograms",
                "What is your weight in kilograms?",
                &["72", "seventy two", "seventytwo"],
            ),
            num(
                "en_145",
                "one hundred and forty five",
                "What was the upper blood pressure?",
                &["145", "one hundred and forty five"],
            ),
            num("en_90", "ninety", "And the lower one?", &["90", "ninety"]),
        ],
    }
}

/// Makes `dir/NAME.wav` for each case (again only if missing).
pub fn make_clips(dir: &Path, cases: &[ClipCase]) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let run = |tool: &str, args: &[&str]| -> std::io::Result<()> {
        let status = Command::new(tool).args(args).status()?;
        if status.success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!("{tool} {args:?}: {status}")))
        }
    };
    let mut out = Vec::new();
    for c in cases {
        let wav = dir.join(format!("{}.wav", c.name));
        if !wav.is_file() {
            let raw = dir.join(format!("{}.raw.wav", c.name));
            let voice = match c.language {
                Language::Zh => "cmn-latn-pinyin",
                Language::En => "en-us",
            };
            let (raw_s, wav_s) = (raw.to_string_lossy(), wav.to_string_lossy());
            run(
                "espeak-ng",
                &["-v", voice, "-s", "140", "-w", &raw_s, c.spoken],
            )?;
            let band = dir.join(format!("{}.band.wav", c.name));
            let band_s = band.to_string_lossy();
            let phone = ["-r", "8000", "-c", "1", "-b", "16"];
            let mut a = vec!["-G", &*raw_s];
            a.extend(phone);
            a.extend([
                &*band_s, "sinc", "300-3400", "norm", "-6", "pad", "0.4", "0.4",
            ]);
            run("sox", &a)?;
            let hiss = dir.join(format!("{}.hiss.wav", c.name));
            let hiss_s = hiss.to_string_lossy();
            let len = format!(
                "{:.3}",
                decode_file(&band)
                    .map_err(std::io::Error::other)?
                    .duration_ms() as f64
                    / 1000.0
            );
            let mut h = vec!["-n"];
            h.extend(phone);
            h.extend([&*hiss_s, "synth", &len, "whitenoise", "vol", "0.002"]);
            run("sox", &h)?;
            let ulaw = dir.join(format!("{}.ulaw.wav", c.name));
            let ulaw_s = ulaw.to_string_lossy();
            run("sox", &["-m", &band_s, &hiss_s, "-e", "u-law", &ulaw_s])?;
            run(
                "sox",
                &[&*ulaw_s, "-e", "signed-integer", "-b", "16", &wav_s],
            )?;
            for f in [raw, band, hiss, ulaw] {
                let _ = std::fs::remove_file(f);
            }
        }
        out.push(wav);
    }
    Ok(out)
}

/// One clip's outcome over its runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipRun {
    /// The case's name.
    pub name: &'static str,
    /// Seconds of audio.
    pub audio_s: f64,
    /// Wall-clock seconds of each run.
    pub latencies: Vec<f64>,
    /// The text of the last run.
    pub text: String,
    /// Whether the last run was right.
    pub right: bool,
}

fn normalized(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Runs every clip `repeat` times.
pub fn run_clips(
    engine: &Engine,
    cases: &[ClipCase],
    files: &[PathBuf],
    repeat: usize,
) -> Result<Vec<ClipRun>, Box<dyn std::error::Error + Send + Sync>> {
    let mut out = Vec::new();
    for (case, file) in cases.iter().zip(files) {
        let audio = decode_file(file)?;
        let samples = crate::media::resample::resample(&audio.channels[0], 16_000, 8000);
        let mut run = ClipRun {
            name: case.name,
            audio_s: audio.duration_ms() as f64 / 1000.0,
            latencies: Vec::new(),
            text: String::new(),
            right: false,
        };
        for _ in 0..repeat.max(1) {
            let started = Instant::now();
            let answer = engine.transcribe_clip(&Clip {
                samples: &samples,
                sample_rate: 8000,
                language: case.language,
                prompt: Some(case.question),
                candidates: case.candidates,
            })?;
            run.latencies.push(started.elapsed().as_secs_f64());
            run.right = match case.expected {
                Some(i) => answer.best.map(|m| m.index) == Some(i),
                None => {
                    let heard = normalized(&answer.text);
                    case.accepted.iter().any(|a| heard.contains(&normalized(a)))
                }
            };
            run.text = answer.text;
        }
        out.push(run);
    }
    Ok(out)
}

/// The `p`-th percentile (0..=100) of `v`, nearest rank.
pub fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * s.len() as f64).ceil().max(1.0) as usize;
    s[rank.min(s.len()) - 1]
}

/// The table: one row per clip, then p50/p95 over all runs and the accuracy.
pub fn report_clips(runs: &[ClipRun]) -> String {
    let mut s = format!(
        "{:<18} {:>7} {:>8} {:>8} {:>5}  text\n",
        "clip", "audio s", "p50 s", "p95 s", "right"
    );
    for r in runs {
        s.push_str(&format!(
            "{:<18} {:>7.2} {:>8.3} {:>8.3} {:>5}  {}\n",
            r.name,
            r.audio_s,
            percentile(&r.latencies, 50.0),
            percentile(&r.latencies, 95.0),
            if r.right { "yes" } else { "NO" },
            r.text
        ));
    }
    let all: Vec<f64> = runs.iter().flat_map(|r| r.latencies.clone()).collect();
    let right = runs.iter().filter(|r| r.right).count();
    s.push_str(&format!(
        "all clips: latency p50 {:.3} s, p95 {:.3} s over {} runs; {} of {} right ({:.0} %)\n",
        percentile(&all, 50.0),
        percentile(&all, 95.0),
        all.len(),
        right,
        runs.len(),
        100.0 * right as f64 / runs.len().max(1) as f64
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v = [0.5, 0.1, 0.3, 0.2, 0.4];
        assert_eq!(percentile(&v, 50.0), 0.3);
        assert_eq!(percentile(&v, 95.0), 0.5);
        assert_eq!(percentile(&v, 0.0), 0.1);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn every_yes_no_case_names_a_candidate_and_every_number_its_digits() {
        for lang in [Language::Zh, Language::En] {
            for c in clip_cases(lang) {
                match c.expected {
                    Some(i) => assert!(i < c.candidates.len(), "{c:?}"),
                    None => assert!(c.accepted[0].chars().all(|ch| ch.is_ascii_digit()), "{c:?}"),
                }
            }
        }
    }
}
