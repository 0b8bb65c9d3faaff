//! The robot's voice: a [`Prompt`] as 8 kHz audio. A recording made by staff wins
//! (`<recorded>/<name>.<lang>.<ext>`, question prompts under `<recorded>/<script>/`, any
//! format symphonia decodes); otherwise the prompt's words are spoken by espeak-ng (Debian's
//! offline TTS, as `prompts/audio/make-prompts.sh` uses) and the file is cached under a name
//! made from the voice and the words, so each text is rendered once per server, not per call.
//!
//! Known limit: espeak-ng's Mandarin voice reads pinyin, not characters (make-prompts.sh), so
//! Chinese prompts must be recorded (or written in pinyin) to be understood; English renders.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::prompts::{decode_8k, Pcm, PromptError};
use crate::followup::script::Script;
use crate::robot::{Lang, Prompt};

/// Whether the robot can hold a call in `lang` that the patient understands. Read-backs and
/// the rules' advice are always synthesised, and espeak-ng's Mandarin voice spells Chinese
/// characters out instead of reading them: a Chinese robot call would ask health questions
/// and give "call 120" advice as noise. So no Chinese robot call is placed yet (the task goes
/// to the nurses) until Chinese prompts are recorded or a Chinese TTS is found.
pub fn speaks_intelligibly(lang: Lang) -> bool {
    match lang {
        Lang::En => true,
        Lang::Zh => false,
    }
}

/// Why a prompt has no audio.
#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    #[error(transparent)]
    Decode(#[from] PromptError),
    #[error("espeak-ng could not render {text:?}: {reason} (apt-get install espeak-ng)")]
    Tts { text: String, reason: String },
    #[error("the prompt cache {0}: {1}")]
    Cache(PathBuf, std::io::Error),
}

/// Where prompts come from; cheap to clone, shared by every robot call.
#[derive(Clone)]
pub struct RobotVoice {
    recorded: PathBuf,
    cache: PathBuf,
    /// Decoded audio by cache key, so a prompt is decoded once per server.
    memory: Arc<Mutex<HashMap<String, Pcm>>>,
}

/// Formats a recorded prompt may have, in the order looked for.
const EXTENSIONS: [&str; 4] = ["wav", "flac", "mp3", "ogg"];

impl RobotVoice {
    /// Recorded prompts under `recorded`, rendered ones cached in `cache`.
    pub fn new(recorded: PathBuf, cache: PathBuf) -> RobotVoice {
        RobotVoice {
            recorded,
            cache,
            memory: Arc::default(),
        }
    }

    /// The recording staff made for this prompt, if any.
    fn recorded_file(&self, prompt: &Prompt, script: &Script, lang: Lang) -> Option<PathBuf> {
        let (dir, name) = match prompt {
            Prompt::Question { question } => {
                (self.recorded.join(&script.code.0), question.0.clone())
            }
            Prompt::RecordingNotice => (self.recorded.clone(), "recording_notice".into()),
            Prompt::Consent => (self.recorded.clone(), "consent".into()),
            Prompt::NotUnderstood => (self.recorded.clone(), "not_understood".into()),
            Prompt::ConnectingNurse => (self.recorded.clone(), "connecting_nurse".into()),
            Prompt::NurseWillCallBack => (self.recorded.clone(), "nurse_will_call_back".into()),
            Prompt::Declined => (self.recorded.clone(), "declined".into()),
            Prompt::Goodbye => (self.recorded.clone(), "goodbye".into()),
            // built from the value (read-back) or the script's words (advice): rendered
            Prompt::ReadBack { .. } | Prompt::Advice { .. } => return None,
        };
        EXTENSIONS
            .iter()
            .map(|ext| dir.join(format!("{name}.{}.{ext}", lang.as_str())))
            .find(|p| p.is_file())
    }

    /// The prompt's audio: recorded, else synthesised (blocking: call from a blocking thread).
    pub fn audio(&self, prompt: &Prompt, script: &Script, lang: Lang) -> Result<Pcm, VoiceError> {
        if let Some(file) = self.recorded_file(prompt, script, lang) {
            let key = file.display().to_string();
            if let Some(pcm) = self.remembered(&key) {
                return Ok(pcm);
            }
            let pcm = decode_8k(&file)?;
            self.remember(key, pcm.clone());
            return Ok(pcm);
        }
        let text = prompt.text(script, lang);
        self.spoken(&text, lang)
    }

    /// Whether this prompt is synthetic (no recording), for the admin page.
    pub fn is_synthetic(&self, prompt: &Prompt, script: &Script, lang: Lang) -> bool {
        self.recorded_file(prompt, script, lang).is_none()
    }

    /// `text` spoken by espeak-ng, from the cache when rendered before.
    pub fn spoken(&self, text: &str, lang: Lang) -> Result<Pcm, VoiceError> {
        let voice = match lang {
            Lang::En => "en-us",
            Lang::Zh => "cmn",
        };
        let digest = Sha256::digest(format!("espeak-ng {voice} 150\n{text}").as_bytes());
        let key = hex::encode(&digest[..12]);
        if let Some(pcm) = self.remembered(&key) {
            return Ok(pcm);
        }
        let file = self.cache.join(format!("{key}.wav"));
        if !file.is_file() {
            std::fs::create_dir_all(&self.cache)
                .map_err(|e| VoiceError::Cache(self.cache.clone(), e))?;
            // rendered beside and renamed: a crash mid-render leaves no half file in the cache
            let partial = self.cache.join(format!("{key}.partial.wav"));
            render(voice, text, &partial)?;
            std::fs::rename(&partial, &file).map_err(|e| VoiceError::Cache(file.clone(), e))?;
        }
        let pcm = decode_8k(&file)?;
        self.remember(key, pcm.clone());
        Ok(pcm)
    }

    fn remembered(&self, key: &str) -> Option<Pcm> {
        self.memory.lock().ok()?.get(key).cloned()
    }

    fn remember(&self, key: String, pcm: Pcm) {
        if let Ok(mut m) = self.memory.lock() {
            m.insert(key, pcm);
        }
    }
}

fn render(voice: &str, text: &str, out: &Path) -> Result<(), VoiceError> {
    let fail = |reason: String| VoiceError::Tts {
        text: text.to_owned(),
        reason,
    };
    let status = std::process::Command::new("espeak-ng")
        .args(["-v", voice, "-s", "150", "-w"])
        .arg(out)
        .arg("--")
        .arg(text)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| fail(e.to_string()))?;
    if !status.success() {
        return Err(fail(format!("exit {status}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::followup::script::QuestionId;

    fn script() -> Script {
        crate::followup::script::load_str(
            Path::new("s.toml"),
            r#"
            code = "s"
            version = 1
            title = { zh = "测", en = "T" }
            [[questions]]
            id = "ok"
            text = { zh = "好吗", en = "Are you well?" }
            type = "yes_no"
            "#,
        )
        .expect("script")
    }

    #[test]
    fn a_recording_wins_and_the_rest_is_spoken_and_cached() {
        let dir = tempfile::tempdir().expect("tempdir");
        let recorded = dir.path().join("robot");
        std::fs::create_dir_all(recorded.join("s")).expect("mkdir");
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/audio/beep.wav");
        std::fs::copy(&shipped, recorded.join("s/ok.en.wav")).expect("copy");
        let voice = RobotVoice::new(recorded, dir.path().join("cache"));
        let s = script();
        let q = Prompt::Question {
            question: QuestionId("ok".into()),
        };
        assert!(!voice.is_synthetic(&q, &s, Lang::En));
        assert!(voice.is_synthetic(&q, &s, Lang::Zh), "no zh recording");
        let beep = decode_8k(&shipped).expect("beep");
        assert_eq!(voice.audio(&q, &s, Lang::En).expect("recorded"), beep);
        if std::process::Command::new("espeak-ng")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("SKIPPED the synthetic half: espeak-ng is not installed");
            return;
        }
        let goodbye = voice.audio(&Prompt::Goodbye, &s, Lang::En).expect("spoken");
        // "That is all my questions. Thank you, goodbye." is about 3 s of speech
        assert!(
            (8_000..40_000).contains(&goodbye.len()),
            "{}",
            goodbye.len()
        );
        assert!(
            goodbye.iter().any(|s| s.unsigned_abs() > 2_000),
            "not silent"
        );
        let cached: Vec<_> = std::fs::read_dir(dir.path().join("cache"))
            .expect("cache dir")
            .collect();
        assert_eq!(cached.len(), 1, "one file per text");
        // a second voice on the same cache renders nothing new
        let again = RobotVoice::new(dir.path().join("none"), dir.path().join("cache"));
        assert_eq!(
            again.audio(&Prompt::Goodbye, &s, Lang::En).expect("cached"),
            goodbye
        );
    }
}
