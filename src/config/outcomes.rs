//! `[outcomes]`: what the readmission measures count (issue 18).

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutcomesConfig {
    /// Admission types (PV1-4, HL7 table 0007) whose readmissions are planned: recorded and
    /// flagged, left out of the readmission rate, as the CMS Planned Readmission Algorithm
    /// leaves out scheduled care. Names (`elective`, `routine`) or codes (`C`, `R`, or a
    /// hospital's local code). Default: `["elective"]`.
    pub planned_admission_types: Vec<String>,
}

impl Default for OutcomesConfig {
    fn default() -> Self {
        OutcomesConfig {
            planned_admission_types: vec!["elective".into()],
        }
    }
}

impl OutcomesConfig {
    /// Every entry names something.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self
            .planned_admission_types
            .iter()
            .any(|t| t.trim().is_empty())
        {
            return Err(ConfigError::Invalid {
                key: "outcomes.planned_admission_types",
                message: "an entry is empty (use a name like \"elective\" or a code like \"C\")"
                    .into(),
            });
        }
        Ok(())
    }
}
