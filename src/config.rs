//! One typed configuration, loaded once at start: defaults, then an optional TOML file, then
//! `SUIFANG_*` environment overrides. Every error names the key that is wrong.

use std::path::PathBuf;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::Deserialize;

use crate::followup::calling_hours::CallingHours;
use crate::followup::retry::RetryPolicy;

mod clinical;
mod edge;
mod hl7;
mod hl7_results;
mod labs;
mod layers;
mod outcomes;
mod robot;
mod sip;
mod sms;
mod webrtc;
pub use clinical::{ClinicalConfig, EscalationConfig};
pub use edge::{AuditConfig, AuthConfig, HttpConfig};
pub use hl7::Hl7Config;
pub use hl7_results::Hl7ResultsConfig;
pub use labs::{LabEntry, LabsConfig};
pub use layers::DEMO_DEFAULTS;
pub use outcomes::OutcomesConfig;
pub use robot::RobotConfig;
pub use sip::SipConfig;
pub use sms::SmsConfig;
pub use webrtc::{IceServer, WebRtcConfig};

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

/// The whole configuration. Field docs are the config reference (README.md copies them).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Root for the database (`<data_dir>/data/suifang.db`) and recordings
    /// (`<data_dir>/recordings`). Env: `SUIFANG_DATA_DIR`. Default: the current directory.
    pub data_dir: PathBuf,
    /// Explicit database file; overrides the one under `data_dir`. Env: `SUIFANG_DATABASE`.
    pub database: Option<PathBuf>,
    /// Explicit recordings folder; overrides the one under `data_dir`.
    pub recordings_dir: Option<PathBuf>,
    /// Scripts (`scripts/`), pathways (`pathways/`) and audio prompts (`audio/`).
    /// Env: `SUIFANG_PROMPTS_DIR`. Default: `prompts`.
    pub prompts_dir: PathBuf,
    pub http: HttpConfig,
    pub hospital: HospitalConfig,
    pub queue: QueueConfig,
    pub retry: RetryPolicy,
    pub auth: AuthConfig,
    /// The audit log's anchor outside the database (file, key, interval).
    pub audit: AuditConfig,
    pub clock: ClockConfig,
    pub escalation: EscalationConfig,
    /// The multidisciplinary team: disciplines beyond the built-in ones.
    pub clinical: ClinicalConfig,
    /// The HL7 v2 (MLLP) interface from the hospital's systems.
    pub hl7: Hl7Config,
    /// The lab catalogue: `[labs.NAME]` changes or adds to the built-in labs (codes, unit,
    /// exact conversions) that ORU^R01 results are stored and `lab(NAME)` rules read under.
    pub labs: LabsConfig,
    /// Readmissions: which admission types are planned.
    pub outcomes: OutcomesConfig,
    /// Robot follow-up calls (issue 24).
    pub robot: RobotConfig,
    /// SMS links to patients through Kannel (issue 19).
    pub sms: SmsConfig,
    pub webhook: WebhookConfig,
    /// Agent lines: bind addresses, UDP port range, public IPs, STUN/TURN for browsers.
    pub webrtc: WebRtcConfig,
    /// SIP trunk, RTP ports and the prompts the call center plays.
    pub sip: SipConfig,
    /// Post-call transcription: models, language, worker pool.
    pub transcription: TranscriptionConfig,
    /// How long recordings' audio is kept.
    pub recordings: RecordingsConfig,
    /// Loaded for `suifang demo` (`Config::load_demo`): the console says so where a demo
    /// default differs from the real rule. Not a key of the file.
    #[serde(skip)]
    pub demo: bool,
}

/// Recording retention. Only the audio is deleted: the call, its recording row (SHA-256,
/// duration), transcript and answers stay in the patient record, and each deletion is audited.
/// A recording is kept whatever its age while its patient has an unresolved escalation, while
/// it waits for transcription, or while someone has put it on hold
/// (`PUT /api/v1/recordings/{id}/hold`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordingsConfig {
    /// Days the audio is kept; 0 keeps it forever (the default: deleting clinical audio must be
    /// a decision). Env: `SUIFANG_RECORDING_RETENTION_DAYS`.
    pub retention_days: u32,
    /// How often old recordings are looked for, in minutes (also once at start-up).
    pub sweep_interval_minutes: u64,
}

impl Default for RecordingsConfig {
    fn default() -> Self {
        RecordingsConfig {
            retention_days: 0,
            sweep_interval_minutes: 60,
        }
    }
}

/// Post-call transcription (issue 6). Transcription is on when a whisper model is installed in
/// `model_dir`; without one the server says so at start-up and works without it.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TranscriptionConfig {
    /// Turn the pipeline off even if a model is installed. Env: `SUIFANG_TRANSCRIPTION`
    /// (`on`/`off`).
    pub enabled: bool,
    /// Where `ggml-NAME.bin` models live. Env: `SUIFANG_MODEL_DIR`. Default `models`.
    pub model_dir: PathBuf,
    /// Model name to use (`base`, `tiny.en`, …); default: the largest installed one that can
    /// transcribe `language`. Env: `SUIFANG_TRANSCRIPTION_MODEL`.
    pub model: Option<String>,
    /// `zh` (default; simplified characters), `en`, or `auto` (detect between zh and en).
    /// Env: `SUIFANG_TRANSCRIPTION_LANGUAGE`.
    pub language: String,
    /// Transcriptions running at once (each on its own low-priority thread).
    pub workers: usize,
    /// whisper threads per transcription; keep `workers × threads` within the cores left over
    /// from calls.
    pub threads: usize,
    /// Niceness of the transcription threads (Linux), so calls always win the CPU.
    pub nice: i32,
    /// How often finished recordings are looked for, in milliseconds.
    pub poll_millis: u64,
    /// A job interrupted this many times (server crashes mid-job) is failed, not retried.
    pub max_attempts: u32,
    /// Base URL of the whisper.cpp model host for `suifang model fetch` (a mirror works).
    /// Env: `SUIFANG_MODEL_HOST`.
    pub model_host: String,
}

impl Default for TranscriptionConfig {
    fn default() -> Self {
        TranscriptionConfig {
            enabled: true,
            model_dir: PathBuf::from("models"),
            model: None,
            language: "zh".into(),
            workers: 1,
            threads: 2,
            nice: 10,
            poll_millis: 2000,
            max_attempts: 3,
            model_host: "https://huggingface.co/ggerganov/whisper.cpp/resolve/main".into(),
        }
    }
}

impl TranscriptionConfig {
    /// The language setting as the engine takes it.
    pub fn language_mode(&self) -> Result<crate::transcribe::LanguageMode, ConfigError> {
        use crate::transcribe::{Language, LanguageMode};
        if self.language.eq_ignore_ascii_case("auto") {
            return Ok(LanguageMode::Detect(vec![Language::Zh, Language::En]));
        }
        self.language
            .parse::<Language>()
            .map(LanguageMode::Fixed)
            .map_err(|message| ConfigError::Invalid {
                key: "transcription.language",
                message: format!("{message}, or auto"),
            })
    }

    /// Whether the configured language needs a multilingual model (anything but English).
    pub fn needs_multilingual(&self) -> bool {
        !self.language.eq_ignore_ascii_case("en")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HospitalConfig {
    pub name: String,
    /// IANA zone the hospital works in; times are stored in UTC and shown in this zone.
    /// Env: `SUIFANG_TIME_ZONE`. Default `Asia/Shanghai`.
    pub time_zone: String,
    /// Local hours in which patients may be called, `HH:MM-HH:MM`. Default `08:30-20:00`
    /// (CLINICAL-RULES.md: TCPA allows 08:00–21:00; the default is stricter).
    pub calling_hours: String,
    /// Public holidays (local dates) skipped when counting business days.
    pub holidays: Vec<NaiveDate>,
    /// US Transitional Care Management: the first contact is due within two business days
    /// of discharge (CMS TCM rule), whatever the pathway's first step says.
    pub tcm_two_business_days: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// How long a claim lasts without being renewed, so a vanished nurse's task returns.
    pub lease_minutes: i64,
    /// How often the server rebuilds the daily queue in the background.
    pub rebuild_minutes: u64,
}

/// For tests and drills only: shifts the server's clock, so timers that live in the database
/// (leases, SLAs) can be driven past their deadline across a restart without sleeping.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClockConfig {
    /// Env: `SUIFANG_CLOCK_OFFSET_SECONDS`.
    pub offset_seconds: i64,
}

/// Outbound webhook for escalations (bridge to SMS, WeCom, pagers).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// Receiver URL; no webhooks are sent when unset. Env: `SUIFANG_WEBHOOK_URL`.
    pub url: Option<String>,
    /// Shared secret for the HMAC-SHA256 signature. Env: `SUIFANG_WEBHOOK_SECRET`.
    pub secret: String,
    /// Attempts before a delivery is dead-lettered.
    pub max_attempts: u32,
    /// Delay after the first failure; doubles each time up to `max_delay_seconds`.
    pub base_delay_seconds: i64,
    pub max_delay_seconds: i64,
    pub timeout_seconds: u64,
    /// How often due deliveries are looked for.
    pub poll_millis: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            url: None,
            secret: String::new(),
            max_attempts: 8,
            base_delay_seconds: 30,
            max_delay_seconds: 3600,
            timeout_seconds: 10,
            poll_millis: 1000,
        }
    }
}

impl WebhookConfig {
    pub fn enabled(&self) -> bool {
        self.url.is_some()
    }

    pub fn retry_policy(&self) -> crate::followup::escalation::webhook::RetryPolicy {
        crate::followup::escalation::webhook::RetryPolicy {
            base: chrono::Duration::seconds(self.base_delay_seconds),
            max_delay: chrono::Duration::seconds(self.max_delay_seconds),
            max_attempts: self.max_attempts,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("."),
            database: None,
            recordings_dir: None,
            prompts_dir: PathBuf::from("prompts"),
            http: HttpConfig::default(),
            hospital: HospitalConfig::default(),
            queue: QueueConfig::default(),
            retry: RetryPolicy::default(),
            auth: AuthConfig::default(),
            audit: AuditConfig::default(),
            clock: ClockConfig::default(),
            escalation: EscalationConfig::default(),
            clinical: ClinicalConfig::default(),
            hl7: Hl7Config::default(),
            labs: LabsConfig::new(),
            outcomes: OutcomesConfig::default(),
            robot: RobotConfig::default(),
            sms: SmsConfig::default(),
            webhook: WebhookConfig::default(),
            webrtc: WebRtcConfig::default(),
            sip: SipConfig::default(),
            transcription: TranscriptionConfig::default(),
            demo: false,
            recordings: RecordingsConfig::default(),
        }
    }
}

impl Default for HospitalConfig {
    fn default() -> Self {
        HospitalConfig {
            name: "Demo Hospital".into(),
            time_zone: "Asia/Shanghai".into(),
            calling_hours: "08:30-20:00".into(),
            holidays: Vec::new(),
            tcm_two_business_days: false,
        }
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            lease_minutes: 10,
            rebuild_minutes: 5,
        }
    }
}

impl Config {
    /// Applies `SUIFANG_*` overrides; `lookup` is injectable so tests do not touch the
    /// process environment.
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(v) = lookup("SUIFANG_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = lookup("SUIFANG_DATABASE") {
            self.database = Some(v.into());
        }
        if let Some(v) = lookup("SUIFANG_PROMPTS_DIR") {
            self.prompts_dir = v.into();
        }
        if let Some(v) = lookup("SUIFANG_TIME_ZONE") {
            self.hospital.time_zone = v;
        }
        if let Some(v) = lookup("SUIFANG_HTTP_ADDR") {
            self.http.addr = v.parse().map_err(|e| ConfigError::Invalid {
                key: "SUIFANG_HTTP_ADDR",
                message: format!("`{v}` is not an address like 127.0.0.1:8080 ({e})"),
            })?;
        }
        if let Some(v) = lookup("SUIFANG_METRICS_ADDR") {
            self.http.metrics_addr = Some(v.parse().map_err(|e| ConfigError::Invalid {
                key: "SUIFANG_METRICS_ADDR",
                message: format!("`{v}` is not an address like 127.0.0.1:9464 ({e})"),
            })?);
        }
        self.hl7.apply_env(&lookup)?;
        self.sms.apply_env(&lookup)?;
        if let Some(v) = lookup("SUIFANG_WEBHOOK_URL") {
            self.webhook.url = Some(v);
        }
        if let Some(v) = lookup("SUIFANG_WEBHOOK_SECRET") {
            self.webhook.secret = v;
        }
        if let Some(v) = lookup("SUIFANG_WEBHOOK_MAX_ATTEMPTS") {
            self.webhook.max_attempts = v.parse().map_err(|_| ConfigError::Invalid {
                key: "SUIFANG_WEBHOOK_MAX_ATTEMPTS",
                message: format!("`{v}` is not a whole number"),
            })?;
        }
        if let Some(v) = lookup("SUIFANG_WEBHOOK_BASE_DELAY_SECONDS") {
            self.webhook.base_delay_seconds = v.parse().map_err(|_| ConfigError::Invalid {
                key: "SUIFANG_WEBHOOK_BASE_DELAY_SECONDS",
                message: format!("`{v}` is not a whole number of seconds"),
            })?;
        }
        self.sip.apply_env(&lookup)?;
        self.robot.apply_env(&lookup)?;
        self.auth.apply_env(&lookup)?;
        if let Some(v) = lookup("SUIFANG_AUDIT_KEY") {
            self.audit.key = Some(v).filter(|k| !k.is_empty());
        }
        if let Some(v) = lookup("SUIFANG_MODEL_DIR") {
            self.transcription.model_dir = v.into();
        }
        if let Some(v) = lookup("SUIFANG_TRANSCRIPTION_MODEL") {
            self.transcription.model = Some(v).filter(|m| !m.is_empty());
        }
        if let Some(v) = lookup("SUIFANG_TRANSCRIPTION_LANGUAGE") {
            self.transcription.language = v;
        }
        if let Some(v) = lookup("SUIFANG_MODEL_HOST") {
            self.transcription.model_host = v;
        }
        if let Some(v) = lookup("SUIFANG_TRANSCRIPTION") {
            self.transcription.enabled = match v.to_ascii_lowercase().as_str() {
                "on" | "true" | "1" => true,
                "off" | "false" | "0" => false,
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "SUIFANG_TRANSCRIPTION",
                        message: format!("`{v}` is not on or off"),
                    })
                }
            };
        }
        if let Some(v) = lookup("SUIFANG_RECORDING_RETENTION_DAYS") {
            self.recordings.retention_days = v.parse().map_err(|_| ConfigError::Invalid {
                key: "SUIFANG_RECORDING_RETENTION_DAYS",
                message: format!(
                    "`{v}` is not a whole number of days (0 keeps recordings forever)"
                ),
            })?;
        }
        if let Some(v) = lookup("SUIFANG_CLOCK_OFFSET_SECONDS") {
            self.clock.offset_seconds = v.parse().map_err(|_| ConfigError::Invalid {
                key: "SUIFANG_CLOCK_OFFSET_SECONDS",
                message: format!("`{v}` is not a whole number of seconds"),
            })?;
        }
        Ok(())
    }

    /// Checks everything that can be checked before the server starts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.time_zone()?;
        self.calling_hours()?;
        let positive = |key, value: i64| {
            if value > 0 {
                Ok(())
            } else {
                Err(ConfigError::Invalid {
                    key,
                    message: format!("must be positive, got {value}"),
                })
            }
        };
        positive("queue.lease_minutes", self.queue.lease_minutes)?;
        positive("http.session_hours", self.http.session_hours)?;
        positive("auth.login_window_minutes", self.auth.login_window_minutes)?;
        positive(
            "audit.anchor_interval_seconds",
            self.audit.anchor_interval_seconds as i64,
        )?;
        self.http.trusted_proxies()?;
        positive(
            "auth.max_concurrent_verifications",
            self.auth.max_concurrent_verifications as i64,
        )?;
        self.clinical.validate()?;
        self.hl7.validate()?;
        self.sms.validate()?;
        self.lab_catalog()?;
        self.outcomes.validate()?;
        self.robot.validate()?;
        self.webrtc.validate()?;
        self.sip.validate()?;
        self.transcription.language_mode()?;
        let t = &self.transcription;
        for (key, value) in [
            ("transcription.workers", t.workers as i64),
            ("transcription.threads", t.threads as i64),
            ("transcription.poll_millis", t.poll_millis as i64),
            ("transcription.max_attempts", i64::from(t.max_attempts)),
            (
                "recordings.sweep_interval_minutes",
                self.recordings.sweep_interval_minutes as i64,
            ),
        ] {
            positive(key, value)?;
        }
        self.retry
            .validate()
            .map_err(|message| ConfigError::Invalid {
                key: "retry",
                message,
            })?;
        Ok(())
    }

    /// The lab catalogue: the built-in labs with `[labs.NAME]` over them.
    pub fn lab_catalog(&self) -> Result<crate::followup::lab::LabCatalog, ConfigError> {
        labs::catalog(&self.labs)
    }

    pub fn time_zone(&self) -> Result<Tz, ConfigError> {
        self.hospital
            .time_zone
            .parse()
            .map_err(|_| ConfigError::Invalid {
                key: "hospital.time_zone",
                message: format!(
                    "`{}` is not an IANA zone such as Asia/Shanghai",
                    self.hospital.time_zone
                ),
            })
    }

    pub fn calling_hours(&self) -> Result<CallingHours, ConfigError> {
        CallingHours::parse(&self.hospital.calling_hours).ok_or_else(|| ConfigError::Invalid {
            key: "hospital.calling_hours",
            message: format!(
                "expected HH:MM-HH:MM with start before end, got `{}`",
                self.hospital.calling_hours
            ),
        })
    }

    pub fn database_path(&self) -> PathBuf {
        self.database
            .clone()
            .unwrap_or_else(|| self.data_dir.join("data").join("suifang.db"))
    }

    pub fn recordings_path(&self) -> PathBuf {
        self.recordings_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("recordings"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_data_dir_and_addr() {
        let mut config = Config::default();
        config
            .apply_env(|k| match k {
                "SUIFANG_DATA_DIR" => Some("/srv/sf".into()),
                "SUIFANG_HTTP_ADDR" => Some("0.0.0.0:9000".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            config.database_path(),
            PathBuf::from("/srv/sf/data/suifang.db")
        );
        assert_eq!(
            config.recordings_path(),
            PathBuf::from("/srv/sf/recordings")
        );
        assert_eq!(config.http.addr.port(), 9000);
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut config = Config::default();
        let err = config.apply_env(|k| (k == "SUIFANG_HTTP_ADDR").then(|| "nowhere".into()));
        assert!(err.unwrap_err().to_string().contains("SUIFANG_HTTP_ADDR"));
        config.hospital.calling_hours = "20:00-08:30".into();
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("hospital.calling_hours"));
        config.hospital.calling_hours = "08:30-20:00".into();
        config.hospital.time_zone = "Mars/Olympus".into();
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("hospital.time_zone"));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<Config>("[http]\nadress = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("adress"));
    }
}
