//! Short answers: what a robot call records after asking a question (1–4 s: "是的", "没有",
//! "seventy-two"), recognised with the question and the expected answers as a hint.
//!
//! The same engine and safeguards as whole calls (voice activity on the phone band first,
//! nothing said back from the prompt is kept); the answer is also matched against the candidate
//! phrases, so the caller gets "which of the expected answers, and how sure" besides the text.
//!
//! ```no_run
//! use std::path::Path;
//! use suifang::transcribe::{clip::Clip, Engine, EngineConfig, Language};
//!
//! # fn run(samples_8k: Vec<f32>) -> Result<(), Box<dyn std::error::Error>> {
//! let engine = Engine::load(Path::new("models/ggml-base.bin"), EngineConfig::default())?;
//! let answer = engine.transcribe_clip(&Clip {
//!     samples: &samples_8k,
//!     sample_rate: 8000,
//!     language: Language::Zh,
//!     prompt: Some("您最近有没有胸痛？"),
//!     candidates: &["有", "没有"],
//! })?;
//! if let Some(m) = answer.best {
//!     println!("answer {} ({:.2}): {}", m.index, m.score, answer.text);
//! }
//! # Ok(()) }
//! ```

use std::time::Instant;

use super::audio::SAMPLE_RATE;
use super::decode::{mean, Prompt};
use super::engine::{Engine, EngineError, Language};
use crate::media::resample::resample;

/// A short mono clip to recognise.
#[derive(Debug, Clone, Copy)]
pub struct Clip<'a> {
    /// Mono samples in -1.0..=1.0.
    pub samples: &'a [f32],
    /// 8000 (a phone leg) or 16000.
    pub sample_rate: u32,
    /// The answer's language (an English-only model always hears English).
    pub language: Language,
    /// Text said just before the answer, usually the question; helps the decoder and is never
    /// returned as the answer.
    pub prompt: Option<&'a str>,
    /// The answers expected ("是", "不是", "72"); may be empty.
    pub candidates: &'a [&'a str],
}

/// The best-matching candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CandidateMatch {
    /// Index into [`Clip::candidates`].
    pub index: usize,
    /// 1.0 when the answer contains the candidate, else 1 − edit distance / length (≥ 0.5).
    pub score: f32,
}

/// What was heard.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClipAnswer {
    /// The text, empty when the clip held no speech.
    pub text: String,
    /// Mean token probability of the text (0 without speech).
    pub confidence: f32,
    /// The candidate the text matches, if any matches well enough.
    pub best: Option<CandidateMatch>,
    /// Milliseconds of speech found.
    pub speech_ms: u64,
    /// Wall-clock milliseconds spent (resampling, voice activity, whisper).
    pub elapsed_ms: u64,
}

/// Whisper threads for a clip, whatever the engine's setting. A clip is one window of a few
/// seconds (a small encoder); a second thread saves little there, and ggml's threads spin while
/// waiting for each other, which on a busy machine costs far more: `bench transcribe --clips
/// --repeat 3` at load 2.5–3.5 on 2 cores gave p50/p95 0.98/4.5 s with one thread against
/// 3.1/50.8 s with two (en, tiny.en q8_0), and 0.41/4.6 s against 0.24/10.0 s (zh, base q8_0).
const CLIP_THREADS: usize = 1;

impl Engine {
    /// Recognises a short answer on one thread. Blocking and CPU-heavy (p50 0.4–1 s for a
    /// 2–4 s clip on a busy 2-core machine, see `bench transcribe --clips`): call it from a
    /// blocking thread.
    pub fn transcribe_clip(&self, clip: &Clip<'_>) -> Result<ClipAnswer, EngineError> {
        let started = Instant::now();
        let samples = match clip.sample_rate {
            SAMPLE_RATE => clip.samples.to_vec(),
            8000 => resample(clip.samples, 8000, SAMPLE_RATE),
            other => return Err(EngineError::ClipRate(other)),
        };
        let Some(speech) = self.speech(&samples) else {
            return Ok(ClipAnswer {
                elapsed_ms: started.elapsed().as_millis() as u64,
                ..Default::default()
            });
        };
        let language = if self.multilingual() {
            clip.language
        } else {
            Language::En
        };
        let hint = clip_hint(clip.prompt, clip.candidates, language);
        let prompt = Prompt::new(language, hint);
        let mut state = self.ctx.create_state()?;
        let segments = self.run(
            &mut state,
            &speech.audio,
            &prompt,
            &speech.map,
            CLIP_THREADS,
        )?;
        let text = segments
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let confidence = mean(&segments.iter().map(|s| s.confidence).collect::<Vec<_>>());
        Ok(ClipAnswer {
            best: best_candidate(&text, clip.candidates),
            text,
            confidence,
            speech_ms: speech.speech_ms,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }
}

/// The hint for a clip: the question, then the expected answers.
fn clip_hint(prompt: Option<&str>, candidates: &[&str], language: Language) -> Option<String> {
    let sep = match language {
        Language::Zh => "、",
        Language::En => ", ",
    };
    let answers = candidates
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join(sep);
    let parts: Vec<String> = [prompt.map(str::trim).unwrap_or(""), answers.as_str()]
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| p.chars().filter(|c| !c.is_control()).collect())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

fn normalize(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The candidate the answer names: the longest one it contains ("不是" over "是"), else the
/// closest by edit distance if at least half of it matches.
pub fn best_candidate(text: &str, candidates: &[&str]) -> Option<CandidateMatch> {
    let heard = normalize(text);
    if heard.is_empty() {
        return None;
    }
    let contains = |c: &[char]| !c.is_empty() && heard.windows(c.len()).any(|w| w == c);
    let normalized: Vec<Vec<char>> = candidates.iter().map(|c| normalize(c)).collect();
    if let Some((index, _)) = normalized
        .iter()
        .enumerate()
        .filter(|(_, c)| contains(c))
        .max_by_key(|(_, c)| c.len())
    {
        return Some(CandidateMatch { index, score: 1.0 });
    }
    normalized
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.is_empty())
        .map(|(index, c)| {
            let d = edit_distance(&heard, c) as f32;
            let score = 1.0 - d / heard.len().max(c.len()) as f32;
            CandidateMatch { index, score }
        })
        .filter(|m| m.score >= 0.5)
        .max_by(|a, b| a.score.total_cmp(&b.score))
}

fn edit_distance(a: &[char], b: &[char]) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_contained_candidate_wins_else_the_closest() {
        let yes_no = ["是", "不是"];
        assert_eq!(
            best_candidate("不是的。", &yes_no).map(|m| m.index),
            Some(1)
        );
        assert_eq!(best_candidate("是的", &yes_no).map(|m| m.index), Some(0));
        let en = ["yes", "no"];
        assert_eq!(best_candidate("Yes.", &en).map(|m| m.index), Some(0));
        assert_eq!(
            best_candidate("No, I don't.", &en).map(|m| m.index),
            Some(1)
        );
        let m = best_candidate("yep", &["yes", "no"]).unwrap();
        assert_eq!((m.index, (m.score * 100.0).round()), (0, 67.0));
        assert_eq!(best_candidate("maybe later", &en), None);
        assert_eq!(best_candidate("", &en), None);
        assert_eq!(best_candidate("yes", &[]), None);
    }

    #[test]
    fn the_hint_is_the_question_then_the_answers() {
        assert_eq!(
            clip_hint(Some("您有没有胸痛？"), &["有", "没有"], Language::Zh).as_deref(),
            Some("您有没有胸痛？ 有、没有")
        );
        assert_eq!(
            clip_hint(None, &["yes", " ", "no"], Language::En).as_deref(),
            Some("yes, no")
        );
        assert_eq!(clip_hint(Some("  "), &[], Language::En), None);
    }

    #[test]
    fn a_clip_at_another_rate_is_refused() {
        assert!(EngineError::ClipRate(44_100)
            .to_string()
            .contains("8000 or 16000"));
    }
}
