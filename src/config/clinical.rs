//! `[escalation]` and `[clinical]`: the SLA timer and the multidisciplinary team.

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EscalationConfig {
    /// How often the SLA timer looks for unacknowledged escalations.
    pub tick_seconds: u64,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        EscalationConfig { tick_seconds: 15 }
    }
}

/// The multidisciplinary team (issue 20).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClinicalConfig {
    /// Discipline codes a hospital adds to the built-in ones (cardiology, pharmacy,
    /// rehabilitation, nutrition, psychology, social_work, nursing), e.g. `["wound_care"]`.
    pub disciplines: Vec<String>,
}

impl ClinicalConfig {
    /// Every added discipline is a well-formed code.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for code in &self.disciplines {
            crate::followup::discipline::Discipline::parse_code(code).map_err(|e| {
                ConfigError::Invalid {
                    key: "clinical.disciplines",
                    message: e.to_string(),
                }
            })?;
        }
        Ok(())
    }
}
