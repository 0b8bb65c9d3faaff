//! Audio prompts (`prompts/audio/`): decoded with symphonia (WAV, MP3, OGG, FLAC), resampled to
//! the 8 kHz telephone rate once at start-up and shared by every call. A prompt the config
//! names but that is missing or cannot be decoded stops the start-up with the file's name, so
//! a bad file is found by whoever deploys it, not by a patient mid-call.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::SipConfig;

/// 8 kHz mono PCM, ready to send.
pub type Pcm = Arc<Vec<i16>>;

/// Why a prompt could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The config names a prompt that is not there.
    #[error("prompt `{name}` (config key sip.{key}) is missing: expected {path}")]
    Missing {
        name: String,
        key: &'static str,
        path: PathBuf,
    },
    /// The file exists but is not audio symphonia can decode.
    #[error("prompt {path} cannot be used: {reason}")]
    Decode { path: PathBuf, reason: String },
}

/// The prompts the call center plays, by role.
#[derive(Debug, Clone, Default)]
pub struct Prompts {
    /// Played to both parties on answer and recorded.
    pub consent: Option<Pcm>,
    /// Looped to a patient on hold.
    pub hold: Option<Pcm>,
    /// Greeting for callers nobody can take.
    pub voicemail: Option<Pcm>,
    /// Tone before the voicemail message.
    pub beep: Option<Pcm>,
    /// Every decoded file by name, for the admin page.
    pub all: HashMap<String, Pcm>,
}

impl Prompts {
    /// Loads the prompts the config names from `dir` (an empty name leaves that prompt out).
    pub fn load(dir: &Path, sip: &SipConfig) -> Result<Prompts, PromptError> {
        let mut prompts = Prompts::default();
        let wanted: [(&'static str, &str); 4] = [
            ("consent_prompt", &sip.consent_prompt),
            ("hold_prompt", &sip.hold_prompt),
            ("voicemail_prompt", &sip.voicemail_prompt),
            ("voicemail_beep", &sip.voicemail_beep),
        ];
        for (key, name) in wanted {
            if name.is_empty() {
                continue;
            }
            let path = dir.join(name);
            if !path.is_file() {
                return Err(PromptError::Missing {
                    name: name.to_owned(),
                    key,
                    path,
                });
            }
            let pcm = decode_8k(&path)?;
            prompts.all.insert(name.to_owned(), pcm.clone());
            let slot = match key {
                "consent_prompt" => &mut prompts.consent,
                "hold_prompt" => &mut prompts.hold,
                "voicemail_prompt" => &mut prompts.voicemail,
                _ => &mut prompts.beep,
            };
            *slot = Some(pcm);
        }
        Ok(prompts)
    }

    /// Seconds of audio per loaded prompt, for the start-up log.
    pub fn summary(&self) -> String {
        let mut names: Vec<_> = self
            .all
            .iter()
            .map(|(n, pcm)| format!("{n} {:.1}s", pcm.len() as f64 / 8000.0))
            .collect();
        names.sort();
        names.join(", ")
    }
}

/// Decodes any format symphonia knows into 8 kHz mono i16 (first channel).
pub fn decode_8k(path: &Path) -> Result<Pcm, PromptError> {
    use crate::media::resample::resample;
    use crate::transcribe::audio::{decode_file, SAMPLE_RATE};
    let err = |reason: String| PromptError::Decode {
        path: path.to_path_buf(),
        reason,
    };
    let audio = decode_file(path).map_err(|e| err(e.to_string()))?;
    let first = audio
        .channels
        .first()
        .ok_or_else(|| err("no audio channel".into()))?;
    let eight = resample(first, SAMPLE_RATE, 8000);
    if eight.len() < 160 {
        return Err(err("shorter than one 20 ms frame".into()));
    }
    Ok(Arc::new(
        eight
            .iter()
            .map(|s| (s.clamp(-1.0, 1.0) * 32767.0) as i16)
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("prompts/audio")
    }

    #[test]
    fn shipped_prompts_decode_to_8k() {
        let p = Prompts::load(&shipped(), &SipConfig::default()).unwrap();
        let consent = p.consent.clone().expect("consent");
        // 4.7 s of speech at 8 kHz, whatever rate the file has
        assert!(
            (30_000..45_000).contains(&consent.len()),
            "{}",
            consent.len()
        );
        assert!(
            consent.iter().any(|s| s.unsigned_abs() > 3000),
            "silent consent"
        );
        assert!(p.hold.is_some(), "FLAC hold music decodes");
        assert!(p.summary().contains("consent.wav"));
    }

    #[test]
    fn a_bad_prompt_names_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("consent.wav"), b"RIFF\0\0\0\0WAVEjunk").unwrap();
        let sip = SipConfig {
            hold_prompt: String::new(),
            voicemail_prompt: String::new(),
            voicemail_beep: String::new(),
            ..SipConfig::default()
        };
        let err = Prompts::load(dir.path(), &sip).unwrap_err().to_string();
        assert!(err.contains("consent.wav"), "{err}");
        let sip = SipConfig {
            consent_prompt: "nope.mp3".into(),
            ..sip
        };
        let err = Prompts::load(dir.path(), &sip).unwrap_err().to_string();
        assert!(
            err.contains("sip.consent_prompt") && err.contains("nope.mp3"),
            "{err}"
        );
    }
}
