//! The whisper calls of one channel: each window of joined speech decoded with whisper's own
//! safeguards, and every segment that is not speech dropped before it can reach a transcript.
//!
//! whisper.cpp's safeguards, as openai-whisper has them: a window whose decoding is unsure
//! (mean token log-probability below `logprob_threshold` while whisper does not think it is
//! silence) or caught in a loop (entropy below `entropy_threshold`) is decoded again at a higher
//! temperature; a window whisper thinks holds no speech (`no_speech_threshold`) with unsure text
//! is dropped. What still gets through is checked here segment by segment: markers
//! (`[BLANK_AUDIO]`, `♪`), the prompt or the call's vocabulary said back, subtitle credits,
//! decoding loops (see [`phantom`](super::phantom)).

use std::time::Instant;

use whisper_rs::{FullParams, SamplingStrategy, WhisperState};

use super::batch::{
    cs_to_samples, samples_to_ms, split_by_region, windows, Piece, Tok, FULL_AUDIO_CTX,
    MAX_WINDOW_MS,
};
use super::engine::{ChannelTranscript, Engine, EngineError, Language, Segment, Vocabulary};
use super::phantom;

/// What the decoder is told before the audio.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Prompt {
    pub language: Language,
    /// The language's fixed prompt (Mandarin: simplified characters).
    pub fixed: Option<&'static str>,
    /// The call's vocabulary, joined.
    pub hint: Option<String>,
}

impl Prompt {
    pub fn new(language: Language, hint: Option<String>) -> Prompt {
        Prompt {
            language,
            fixed: language.initial_prompt(),
            hint,
        }
    }

    /// The whole initial prompt: the hint first, the fixed prompt last (it is what whisper
    /// reads just before the audio, and it sets the script).
    pub fn text(&self) -> Option<String> {
        match (&self.hint, self.fixed) {
            (Some(h), Some(f)) => Some(format!("{h}。{f}")),
            (Some(h), None) => Some(format!("{h}.")),
            (None, Some(f)) => Some(f.to_string()),
            (None, None) => None,
        }
    }
}

impl Engine {
    /// Like [`transcribe_in`](Self::transcribe_in), with the call's `vocabulary` given to the
    /// decoder as a hint.
    pub fn transcribe_hinted(
        &self,
        samples: &[f32],
        language: Option<Language>,
        vocabulary: &Vocabulary,
    ) -> Result<ChannelTranscript, EngineError> {
        let Some(speech) = self.speech(samples) else {
            return Ok(ChannelTranscript::default());
        };
        let started = Instant::now();
        let mut state = self.ctx.create_state()?;
        let language = match language {
            Some(l) if self.multilingual() => l,
            _ => self.choose_language(&mut state, &speech.audio)?,
        };
        let prompt = Prompt::new(language, vocabulary.prompt_text(language));
        let segments = self.run(
            &mut state,
            &speech.audio,
            &prompt,
            &speech.map,
            self.cfg.threads,
        )?;
        Ok(ChannelTranscript {
            language: Some(language),
            segments,
            speech_ms: speech.speech_ms,
            whisper_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// Runs whisper on the joined `audio`, window by window, and keeps the segments that hold
    /// real speech, split where they cross from one speech region to the next and timed in
    /// recording time.
    pub(super) fn run(
        &self,
        state: &mut WhisperState,
        audio: &[f32],
        prompt: &Prompt,
        map: &[Piece],
        threads: usize,
    ) -> Result<Vec<Segment>, EngineError> {
        let mut out: Vec<Segment> = Vec::new();
        let prompt_text = prompt.text();
        for window in windows(map, MAX_WINDOW_MS) {
            let audio_ctx = if self.cfg.fit_audio_ctx {
                window.audio_ctx()
            } else {
                FULL_AUDIO_CTX
            };
            let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
            params.set_n_threads(threads.max(1) as i32);
            params.set_language(Some(prompt.language.code()));
            if let Some(text) = &prompt_text {
                params.set_initial_prompt(text);
            }
            params.set_print_special(false);
            params.set_print_progress(false);
            params.set_print_realtime(false);
            params.set_print_timestamps(false);
            params.set_suppress_blank(true);
            // Per-token times let a segment that spans two regions be split between them.
            params.set_token_timestamps(true);
            params.set_no_speech_thold(self.cfg.no_speech_threshold);
            params.set_logprob_thold(self.cfg.logprob_threshold);
            params.set_entropy_thold(self.cfg.entropy_threshold);
            params.set_temperature(0.0);
            params.set_temperature_inc(self.cfg.temperature_increment);
            params.set_audio_ctx(audio_ctx as i32);
            state.full(params, &audio[window.range.clone()])?;
            self.collect(
                state,
                window.range.start,
                &map[window.pieces],
                prompt,
                &mut out,
            );
        }
        Ok(out)
    }

    /// Appends the segments of the last whisper call (on a window starting at `offset` in the
    /// joined buffer, holding the regions `map`, decoded after `prompt`) to `out`, dropping
    /// invented text.
    fn collect(
        &self,
        state: &WhisperState,
        offset: usize,
        map: &[Piece],
        prompt: &Prompt,
        out: &mut Vec<Segment>,
    ) {
        let eot = self.ctx.token_eot();
        for seg in state.as_iter() {
            let no_speech_prob = seg.no_speech_probability();
            let tokens: Vec<Tok> = (0..seg.n_tokens())
                .filter_map(|i| seg.get_token(i))
                .filter(|t| t.token_id() < eot)
                .map(|t| {
                    let d = t.token_data();
                    Tok {
                        bytes: t.to_bytes().unwrap_or_default().to_vec(),
                        p: d.p,
                        // centiseconds of the window → samples of the joined buffer
                        t0: cs_to_samples(d.t0.max(seg.start_timestamp()), offset),
                        t1: cs_to_samples(d.t1.min(seg.end_timestamp()).max(d.t0), offset),
                    }
                })
                .collect();
            // A marker such as "[BLANK_AUDIO]", or a loop, must be recognised before its tokens
            // are split between regions.
            let whole: Vec<u8> = tokens
                .iter()
                .flat_map(|t| t.bytes.iter().copied())
                .collect();
            let whole = String::from_utf8_lossy(&whole);
            if phantom::is_marker(&whole) || phantom::is_loop(&whole) {
                tracing::debug!(text = %whole, "dropped a marker or a decoding loop");
                continue;
            }
            for group in split_by_region(&tokens, map) {
                let text = String::from_utf8_lossy(&group.bytes).trim().to_string();
                let mean_logprob = mean(
                    &group
                        .probs
                        .iter()
                        .map(|p| p.max(1e-10).ln())
                        .collect::<Vec<_>>(),
                );
                if phantom::is_marker(&text)
                    || (no_speech_prob > self.cfg.no_speech_threshold
                        && mean_logprob < self.cfg.logprob_threshold)
                {
                    tracing::debug!(%text, no_speech_prob, mean_logprob, "dropped non-speech segment");
                    continue;
                }
                let Some(text) = phantom::speech_part(&text, prompt.fixed) else {
                    tracing::debug!(%text, "dropped the prompt or subtitle credits said back");
                    continue;
                };
                if phantom::is_hint_echo(&text, prompt.hint.as_deref()) {
                    tracing::debug!(%text, "dropped the vocabulary hint said back");
                    continue;
                }
                // Punctuation alone (whisper often times a final "?" after the pause) belongs
                // to the words before it.
                if !text.chars().any(char::is_alphanumeric) {
                    if let Some(prev) = out.last_mut() {
                        prev.text.push_str(&text);
                    }
                    continue;
                }
                out.push(Segment {
                    start_ms: samples_to_ms(group.start),
                    end_ms: samples_to_ms(group.end),
                    text,
                    confidence: mean(&group.probs),
                    no_speech_prob,
                });
            }
        }
    }
}

pub(super) fn mean(v: &[f32]) -> f32 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f32>() / v.len() as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_comes_before_the_fixed_prompt() {
        let zh = Prompt::new(Language::Zh, Some("阿司匹林、胸痛".into()));
        assert_eq!(
            zh.text().as_deref(),
            Some("阿司匹林、胸痛。以下是普通话的句子。")
        );
        assert_eq!(
            Prompt::new(Language::Zh, None).text().as_deref(),
            Some("以下是普通话的句子。")
        );
        let en = Prompt::new(Language::En, Some("aspirin, chest pain".into()));
        assert_eq!(en.text().as_deref(), Some("aspirin, chest pain."));
        assert_eq!(Prompt::new(Language::En, None).text(), None);
    }
}
