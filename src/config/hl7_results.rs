//! `[hl7.results]`: where completed follow-ups are sent back to (the EMR's MLLP listener, or
//! the interface engine's channel in front of it), as which message, and how to retry.

use std::net::SocketAddr;

use serde::Deserialize;

use super::ConfigError;
use crate::hl7::outbox::Backoff;
use crate::hl7::results::{Addressing, ResultMessage};

/// Results back to the EMR (issue 17 item 5). Off unless `target` is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hl7ResultsConfig {
    /// The EMR's MLLP address, e.g. `10.1.2.7:6661`. Env: `SUIFANG_HL7_RESULTS_TARGET`.
    /// Default: off (nothing is queued).
    pub target: Option<SocketAddr>,
    /// `oru` (ORU^R01, one OBX per answer) or `mdm` (MDM^T02 with a summary).
    /// Env: `SUIFANG_HL7_RESULTS_MESSAGE`.
    pub message: String,
    /// MSH-5/6 of what is sent.
    pub receiving_application: String,
    pub receiving_facility: String,
    /// Seconds to wait for the ACK before the connection is dropped and the message retried.
    pub ack_timeout_seconds: u64,
    /// First wait after a failed try, doubled per try up to `retry_max_seconds`.
    /// Env: `SUIFANG_HL7_RESULTS_RETRY_SECONDS`.
    pub retry_base_seconds: u64,
    pub retry_max_seconds: u64,
}

impl Default for Hl7ResultsConfig {
    fn default() -> Self {
        Hl7ResultsConfig {
            target: None,
            message: "oru".into(),
            receiving_application: "EMR".into(),
            receiving_facility: String::new(),
            ack_timeout_seconds: 30,
            retry_base_seconds: 30,
            retry_max_seconds: 3600,
        }
    }
}

impl Hl7ResultsConfig {
    /// Whether completed follow-ups are queued and sent.
    pub fn enabled(&self) -> bool {
        self.target.is_some()
    }

    pub fn message_kind(&self) -> Result<ResultMessage, ConfigError> {
        ResultMessage::parse(&self.message).ok_or_else(|| ConfigError::Invalid {
            key: "hl7.results.message",
            message: format!("`{}` is neither `oru` nor `mdm`", self.message),
        })
    }

    pub fn backoff(&self) -> Backoff {
        Backoff {
            base: chrono::Duration::seconds(self.retry_base_seconds as i64),
            max: chrono::Duration::seconds(self.retry_max_seconds as i64),
        }
    }

    /// MSH-3..6: suifang as `[hl7] application`/`facility`, the EMR as configured here.
    pub fn addressing(&self, application: &str, facility: &str) -> Addressing {
        Addressing {
            application: application.to_string(),
            facility: facility.to_string(),
            receiving_application: self.receiving_application.clone(),
            receiving_facility: self.receiving_facility.clone(),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.message_kind()?;
        let invalid = |key, message: &str| ConfigError::Invalid {
            key,
            message: message.into(),
        };
        if !(1..=600).contains(&self.ack_timeout_seconds) {
            return Err(invalid(
                "hl7.results.ack_timeout_seconds",
                "must be between 1 and 600",
            ));
        }
        if self.retry_base_seconds == 0 || self.retry_base_seconds > 86_400 {
            return Err(invalid(
                "hl7.results.retry_base_seconds",
                "must be between 1 and 86400",
            ));
        }
        if self.retry_max_seconds < self.retry_base_seconds || self.retry_max_seconds > 86_400 {
            return Err(invalid(
                "hl7.results.retry_max_seconds",
                "must be at least retry_base_seconds and at most 86400",
            ));
        }
        Ok(())
    }

    /// `SUIFANG_HL7_RESULTS_TARGET`, `SUIFANG_HL7_RESULTS_MESSAGE`,
    /// `SUIFANG_HL7_RESULTS_RETRY_SECONDS` (sets the first wait; the ceiling rises to it if lower).
    pub fn apply_env(
        &mut self,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(v) = lookup("SUIFANG_HL7_RESULTS_TARGET") {
            self.target = Some(v.parse().map_err(|e| ConfigError::Invalid {
                key: "SUIFANG_HL7_RESULTS_TARGET",
                message: format!("`{v}` is not an address like 10.1.2.7:6661 ({e})"),
            })?);
        }
        if let Some(v) = lookup("SUIFANG_HL7_RESULTS_MESSAGE") {
            self.message = v;
        }
        if let Some(v) = lookup("SUIFANG_HL7_RESULTS_RETRY_SECONDS") {
            self.retry_base_seconds = v.parse().map_err(|_| ConfigError::Invalid {
                key: "SUIFANG_HL7_RESULTS_RETRY_SECONDS",
                message: format!("`{v}` is not a number of seconds"),
            })?;
            self.retry_max_seconds = self.retry_max_seconds.max(self.retry_base_seconds);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_and_valid() {
        let c = Hl7ResultsConfig::default();
        assert!(!c.enabled());
        assert!(c.validate().is_ok());
        assert_eq!(c.message_kind().unwrap(), ResultMessage::Observations);
    }

    #[test]
    fn bad_values_name_their_key() {
        let c = Hl7ResultsConfig {
            message: "pdf".into(),
            ..Default::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("hl7.results.message"));
        let c = Hl7ResultsConfig {
            retry_max_seconds: 1,
            ..Default::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("retry_max_seconds"));
        let env = |k: &str| (k == "SUIFANG_HL7_RESULTS_TARGET").then(|| "nowhere".to_string());
        let mut c = Hl7ResultsConfig::default();
        assert!(c
            .apply_env(&env)
            .unwrap_err()
            .to_string()
            .contains("SUIFANG_HL7_RESULTS_TARGET"));
    }
}
