//! The whisper engine: one loaded model, transcribing one channel of audio at a time.
//!
//! A channel is first cut into speech regions by [`vad`](super::vad); the regions are joined
//! with short pauses and cut into windows of up to 30 s ([`batch`](super::batch)), each run with
//! an encoder context sized to it, and segment times are mapped back to the recording. Calls are
//! blocking and CPU-heavy: run them on dedicated threads (see [`worker`](super::worker)), never
//! on tokio's.

use std::path::{Path, PathBuf};

use whisper_rs::{WhisperContext, WhisperContextParameters, WhisperError, WhisperState};

use super::batch::{join, samples_to_ms, Speech};
use super::vad::{speech_regions, VadConfig};

/// A language the hospital transcribes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// Mandarin, written in simplified characters.
    Zh,
    /// English.
    En,
}

impl Language {
    /// whisper's language code.
    pub fn code(self) -> &'static str {
        match self {
            Language::Zh => "zh",
            Language::En => "en",
        }
    }

    /// Text given to whisper as previous context. For Mandarin it steers the output to
    /// simplified characters (without it whisper often writes traditional ones).
    pub(super) fn initial_prompt(self) -> Option<&'static str> {
        match self {
            Language::Zh => Some("以下是普通话的句子。"),
            Language::En => None,
        }
    }
}

impl std::str::FromStr for Language {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "zh" | "cmn" | "zh-cn" | "mandarin" => Ok(Language::Zh),
            "en" | "english" => Ok(Language::En),
            other => Err(format!(
                "unsupported language {other:?} (supported: zh, en)"
            )),
        }
    }
}

/// Which language to transcribe in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LanguageMode {
    /// Always this language (the hospital's; the most robust choice).
    Fixed(Language),
    /// Detect per channel, but only among these: unrestricted detection picked Thai on clean
    /// synthetic Mandarin, and a hospital knows which languages its patients speak.
    Detect(Vec<Language>),
}

/// How the engine transcribes.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Threads whisper uses for one transcription.
    pub threads: usize,
    /// Language choice.
    pub language: LanguageMode,
    /// Segments whose no-speech probability is above this *and* whose tokens are unsure
    /// (mean log-probability below `logprob_threshold`) are dropped as invented text.
    pub no_speech_threshold: f32,
    /// See `no_speech_threshold`.
    pub logprob_threshold: f32,
    /// Voice-activity settings.
    pub vad: VadConfig,
    /// whisper.cpp's repetition guard: a window decoded into more than 32 tokens whose entropy
    /// is below this is a loop ("好的好的好的…") and is decoded again at a higher temperature
    /// (whisper.cpp's stand-in for openai-whisper's compression-ratio threshold of 2.4).
    pub entropy_threshold: f32,
    /// Temperature added on each retry of a failed window (too unsure or a loop); 0 turns
    /// the fallback off. A window decoded confidently at temperature 0 is never retried.
    pub temperature_increment: f32,
    /// Run whisper's encoder on a context sized to each window instead of the full 30 s
    /// (much faster for short windows; `false` only to measure what it buys).
    pub fit_audio_ctx: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            threads: 2,
            language: LanguageMode::Fixed(Language::Zh),
            no_speech_threshold: 0.6,
            logprob_threshold: -1.0,
            entropy_threshold: 2.4,
            temperature_increment: 0.2,
            vad: VadConfig::default(),
            fit_audio_ctx: true,
        }
    }
}

/// One transcribed stretch of speech.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Start, in milliseconds from the start of the recording.
    pub start_ms: u64,
    /// End, in milliseconds from the start of the recording.
    pub end_ms: u64,
    /// The text, trimmed.
    pub text: String,
    /// Mean probability of the segment's text tokens (0..=1). Below [`LOW_CONFIDENCE`] the
    /// segment is shown as unsure and does not open an escalation on its own.
    pub confidence: f32,
    /// whisper's probability that the window held no speech.
    pub no_speech_prob: f32,
}

/// Segments whose mean token probability is below this are *low-confidence*: marked in the
/// transcript API and the player, and a red-flag phrase found only in one of them does not open
/// an escalation (`service::transcript_evidence`). On the espeak-ng test calls correctly heard
/// words came out at 0.6–0.95, garbled ones (a drug name, a number) at 0.3–0.5.
pub const LOW_CONFIDENCE: f32 = 0.5;

impl Segment {
    /// Whether whisper was unsure of this text (see [`LOW_CONFIDENCE`]).
    pub fn is_low_confidence(&self) -> bool {
        self.confidence < LOW_CONFIDENCE
    }
}

/// Words to give the decoder for one call, as previous context: the script's question texts,
/// the patient's discharge drugs, symptom words. whisper then favours those spellings (drug
/// names came out garbled without). Never taken for speech: text said back from it is dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vocabulary {
    /// Terms or short phrases, in the call's language.
    pub terms: Vec<String>,
}

impl Vocabulary {
    /// The terms joined for the prompt, within whisper's prompt budget (the decoder keeps at
    /// most 224 prompt tokens; about 150 characters of Chinese or 400 of English stay well
    /// inside it). Control characters are removed: they have no place in a prompt, and a NUL
    /// would make whisper-rs panic.
    pub fn prompt_text(&self, language: Language) -> Option<String> {
        let (sep, budget) = match language {
            Language::Zh => ("、", 150),
            Language::En => (", ", 400),
        };
        let mut out = String::new();
        for term in &self.terms {
            let term: String = term.chars().filter(|c| !c.is_control()).collect();
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            if out.chars().count() + term.chars().count() + 2 > budget {
                break;
            }
            if !out.is_empty() {
                out.push_str(sep);
            }
            out.push_str(term);
        }
        (!out.is_empty()).then_some(out)
    }
}

/// The result for one channel.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChannelTranscript {
    /// Language used (`None` when the channel had no speech and whisper was not run).
    pub language: Option<Language>,
    /// Segments in time order.
    pub segments: Vec<Segment>,
    /// Milliseconds of audio the voice-activity step kept.
    pub speech_ms: u64,
    /// Wall-clock milliseconds spent in whisper.
    pub whisper_ms: u64,
}

/// Why the engine failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No model file where the configuration says.
    #[error(
        "no whisper model at {path}: run scripts/fetch-models.sh (or `suifang model import-ct2 DIR`) \
         to install one"
    )]
    ModelMissing {
        /// The configured model path.
        path: PathBuf,
    },
    /// whisper.cpp refused the model file.
    #[error(
        "{path}: whisper.cpp could not load this model ({source}); is it a ggml whisper file?"
    )]
    Load {
        /// The model file.
        path: PathBuf,
        /// whisper-rs' error.
        #[source]
        source: WhisperError,
    },
    /// Running whisper failed.
    #[error("whisper failed: {0}")]
    Whisper(#[from] WhisperError),
    /// The configuration cannot work.
    #[error("invalid transcription config: {0}")]
    Config(String),
    /// A short clip came at a rate other than the phone's 8 kHz or whisper's 16 kHz.
    #[error("a clip must be 8000 or 16000 Hz mono, not {0} Hz")]
    ClipRate(u32),
}

/// A loaded whisper model. Cheap to share (`&Engine` across threads); each transcription makes
/// its own whisper state.
pub struct Engine {
    pub(super) ctx: WhisperContext,
    pub(super) cfg: EngineConfig,
    path: PathBuf,
}

impl Engine {
    /// Loads the ggml model at `model` (0.1–0.3 s for base from the page cache).
    pub fn load(model: &Path, cfg: EngineConfig) -> Result<Engine, EngineError> {
        if cfg.threads == 0 {
            return Err(EngineError::Config("threads must be at least 1".into()));
        }
        if let LanguageMode::Detect(langs) = &cfg.language {
            if langs.is_empty() {
                return Err(EngineError::Config(
                    "language detection needs at least one language".into(),
                ));
            }
        }
        if !model.is_file() {
            return Err(EngineError::ModelMissing {
                path: model.to_path_buf(),
            });
        }
        // Route whisper.cpp's own logging (very chatty on stderr) into `tracing`.
        whisper_rs::install_logging_hooks();
        let ctx = WhisperContext::new_with_params(model, WhisperContextParameters::default())
            .map_err(|source| EngineError::Load {
                path: model.to_path_buf(),
                source,
            })?;
        Ok(Engine {
            ctx,
            cfg,
            path: model.to_path_buf(),
        })
    }

    /// The model file this engine was loaded from.
    pub fn model_path(&self) -> &Path {
        &self.path
    }

    /// Whether the model knows languages other than English.
    pub fn multilingual(&self) -> bool {
        self.ctx.is_multilingual()
    }

    /// The configuration in use.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Transcribes one channel (16 kHz mono). Silence is skipped: a channel without speech
    /// returns no segments and never reaches whisper.
    pub fn transcribe(&self, samples: &[f32]) -> Result<ChannelTranscript, EngineError> {
        self.transcribe_in(samples, None)
    }

    /// Like [`transcribe`](Self::transcribe), in `language` if given (e.g. the language detected
    /// once for the whole recording) instead of the configured choice. English-only models
    /// always transcribe English.
    pub fn transcribe_in(
        &self,
        samples: &[f32],
        language: Option<Language>,
    ) -> Result<ChannelTranscript, EngineError> {
        self.transcribe_hinted(samples, language, &Vocabulary::default())
    }

    /// Milliseconds of speech the voice-activity step finds in `samples` (cheap; no whisper).
    pub fn speech_ms(&self, samples: &[f32]) -> u64 {
        let regions = speech_regions(samples, &self.cfg.vad);
        samples_to_ms(regions.iter().map(|r| r.len()).sum())
    }

    /// Detects the language of a recording among the configured ones from all its channels
    /// (`None` without speech or without detection configured): each channel's language
    /// probabilities, weighted by its amount of speech, are added up. Both sides of a call speak
    /// one language, and one side's synthetic or accented speech alone misled detection.
    pub fn detect_language(&self, channels: &[&[f32]]) -> Result<Option<Language>, EngineError> {
        let allowed = match &self.cfg.language {
            LanguageMode::Detect(langs) if self.multilingual() => langs.clone(),
            _ => return Ok(None),
        };
        let mut score = vec![0.0f32; allowed.len()];
        let mut any = false;
        for samples in channels {
            let Some(speech) = self.speech(samples) else {
                continue;
            };
            any = true;
            let mut state = self.ctx.create_state()?;
            let probs = self.language_probs(&mut state, &speech.audio, &allowed)?;
            for (s, p) in score.iter_mut().zip(probs) {
                *s += p * speech.speech_ms as f32;
            }
        }
        if !any {
            return Ok(None);
        }
        Ok(score
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| allowed[i]))
    }

    /// whisper's probability of each language in `allowed` for `audio`.
    fn language_probs(
        &self,
        state: &mut WhisperState,
        audio: &[f32],
        allowed: &[Language],
    ) -> Result<Vec<f32>, EngineError> {
        state.pcm_to_mel(audio, self.cfg.threads)?;
        let (_, probs) = state.lang_detect(0, self.cfg.threads)?;
        Ok(allowed
            .iter()
            .map(|l| {
                whisper_rs::get_lang_id(l.code())
                    .and_then(|id| probs.get(id as usize).copied())
                    .unwrap_or(0.0)
            })
            .collect())
    }

    /// The speech regions of `samples` joined with short pauses, or `None` if there is none.
    pub(super) fn speech(&self, samples: &[f32]) -> Option<Speech> {
        join(samples, &speech_regions(samples, &self.cfg.vad))
    }

    /// The configured language, or the most probable allowed one. English-only models always
    /// get English.
    pub(super) fn choose_language(
        &self,
        state: &mut WhisperState,
        audio: &[f32],
    ) -> Result<Language, EngineError> {
        if !self.multilingual() {
            return Ok(Language::En);
        }
        let allowed = match &self.cfg.language {
            LanguageMode::Fixed(l) => return Ok(*l),
            LanguageMode::Detect(langs) if langs.len() == 1 => return Ok(langs[0]),
            LanguageMode::Detect(langs) => langs,
        };
        let probs = self.language_probs(state, audio, allowed)?;
        let best = allowed
            .iter()
            .zip(probs)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(l, _)| *l)
            .unwrap_or(Language::Zh);
        tracing::debug!(
            language = best.code(),
            "detected language among allowed ones"
        );
        Ok(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_parse_and_config_is_checked() {
        assert_eq!("ZH".parse::<Language>(), Ok(Language::Zh));
        assert_eq!("en".parse::<Language>(), Ok(Language::En));
        assert!("fr".parse::<Language>().is_err());
        let missing = Engine::load(Path::new("/nonexistent/ggml.bin"), EngineConfig::default());
        assert!(matches!(missing, Err(EngineError::ModelMissing { .. })));
        let cfg = EngineConfig {
            threads: 0,
            ..Default::default()
        };
        assert!(matches!(
            Engine::load(Path::new("x"), cfg),
            Err(EngineError::Config(_))
        ));
    }

    #[test]
    fn a_file_that_is_not_a_model_fails_to_load() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ggml-bad.bin");
        std::fs::write(&p, b"this is not a ggml model").unwrap();
        let e = Engine::load(&p, EngineConfig::default()).err();
        assert!(matches!(e, Some(EngineError::Load { .. })), "{e:?}");
    }
}
