//! `[robot]`: robot follow-up calls (issue 24) — whether the robot dialer runs, how many calls
//! it keeps up at once and how fast it starts them, how long a patient waits for a nurse on a
//! hand-off, and the keypad timers.

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;
use crate::followup::script::Severity;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RobotConfig {
    /// Run the robot dialer (tasks of `mode = "robot"` / `"robot_then_nurse"` steps). Default
    /// off: a hospital turns it on when its prompts are ready. Env: `SUIFANG_ROBOT` (on/off).
    pub enabled: bool,
    /// Robot calls up at once.
    pub max_concurrent_calls: u32,
    /// Robot calls started per minute at most (pacing, so a backlog does not hit the trunk at
    /// once).
    pub calls_per_minute: u32,
    /// Seconds a patient handed off waits for a free nurse before the advice is played and a
    /// nurse call-back is queued.
    pub handoff_wait_seconds: u64,
    /// A finding at least this severe hands the call to a nurse (`high`, `urgent`,
    /// `emergency`).
    pub handoff_at: Severity,
    /// Milliseconds to wait for the first key after a question.
    pub first_key_ms: u64,
    /// Milliseconds to wait for the next key of a number.
    pub inter_key_ms: u64,
    /// Seconds between looks for due robot tasks.
    pub poll_seconds: u64,
    /// Recorded prompts: `<dir>/<name>.<lang>.wav` (`recording_notice`, `consent`, …) and
    /// `<dir>/<script>/<question>.<lang>.wav`; relative to `prompts_dir`. What is not
    /// recorded is spoken by espeak-ng and cached under `<data_dir>/robot-tts`.
    pub recorded_prompts: PathBuf,
}

impl Default for RobotConfig {
    fn default() -> Self {
        RobotConfig {
            enabled: false,
            max_concurrent_calls: 4,
            calls_per_minute: 20,
            handoff_wait_seconds: 20,
            handoff_at: Severity::High,
            first_key_ms: 7_000,
            inter_key_ms: 4_000,
            poll_seconds: 5,
            recorded_prompts: PathBuf::from("audio/robot"),
        }
    }
}

impl RobotConfig {
    /// `SUIFANG_ROBOT` = on/off, `SUIFANG_ROBOT_HANDOFF_WAIT_SECONDS`.
    pub fn apply_env(
        &mut self,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(v) = lookup("SUIFANG_ROBOT") {
            self.enabled = match v.to_ascii_lowercase().as_str() {
                "on" | "true" | "1" => true,
                "off" | "false" | "0" => false,
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "SUIFANG_ROBOT",
                        message: format!("`{v}` is not on or off"),
                    })
                }
            };
        }
        if let Some(v) = lookup("SUIFANG_ROBOT_HANDOFF_WAIT_SECONDS") {
            self.handoff_wait_seconds = v.parse().map_err(|_| ConfigError::Invalid {
                key: "SUIFANG_ROBOT_HANDOFF_WAIT_SECONDS",
                message: format!("`{v}` is not a whole number of seconds"),
            })?;
        }
        Ok(())
    }

    /// Limits that would stop the dialer or make it hammer the trunk.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = |key, v: u64| {
            if v > 0 {
                Ok(())
            } else {
                Err(ConfigError::Invalid {
                    key,
                    message: "must be positive".into(),
                })
            }
        };
        positive(
            "robot.max_concurrent_calls",
            u64::from(self.max_concurrent_calls),
        )?;
        positive("robot.calls_per_minute", u64::from(self.calls_per_minute))?;
        positive("robot.first_key_ms", self.first_key_ms)?;
        positive("robot.inter_key_ms", self.inter_key_ms)?;
        positive("robot.poll_seconds", self.poll_seconds)?;
        if self.handoff_at < Severity::High {
            return Err(ConfigError::Invalid {
                key: "robot.handoff_at",
                message: "must be high, urgent or emergency: a routine finding does not need a nurse on the line".into(),
            });
        }
        Ok(())
    }

    /// The conversation's timers and threshold.
    pub fn dialog(&self) -> crate::robot::DialogSettings {
        crate::robot::DialogSettings {
            first_key_ms: self.first_key_ms,
            inter_key_ms: self.inter_key_ms,
            handoff_at: self.handoff_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_environment_turns_the_robot_on_and_sets_the_hand_off_wait() {
        let mut c = RobotConfig::default();
        assert!(!c.enabled, "off until a hospital turns it on");
        c.apply_env(&env(&[
            ("SUIFANG_ROBOT", "ON"),
            ("SUIFANG_ROBOT_HANDOFF_WAIT_SECONDS", "45"),
        ]))
        .expect("env");
        assert!(c.enabled);
        assert_eq!(c.handoff_wait_seconds, 45);
        const BAD: [&[(&str, &str)]; 2] = [
            &[("SUIFANG_ROBOT", "maybe")],
            &[("SUIFANG_ROBOT_HANDOFF_WAIT_SECONDS", "-1")],
        ];
        for pairs in BAD {
            let key = pairs[0].0;
            let err = RobotConfig::default()
                .apply_env(&env(pairs))
                .expect_err("bad value");
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn limits_that_would_stop_the_dialer_or_hand_off_routine_findings_are_refused() {
        assert!(RobotConfig::default().validate().is_ok());
        let bad = [
            (
                RobotConfig {
                    max_concurrent_calls: 0,
                    ..RobotConfig::default()
                },
                "robot.max_concurrent_calls",
            ),
            (
                RobotConfig {
                    calls_per_minute: 0,
                    ..RobotConfig::default()
                },
                "robot.calls_per_minute",
            ),
            (
                RobotConfig {
                    first_key_ms: 0,
                    ..RobotConfig::default()
                },
                "robot.first_key_ms",
            ),
            (
                RobotConfig {
                    handoff_at: Severity::Routine,
                    ..RobotConfig::default()
                },
                "robot.handoff_at",
            ),
        ];
        for (config, key) in bad {
            let err = config.validate().expect_err(key);
            assert!(err.to_string().contains(key), "{err}");
        }
        let toml_err = toml::from_str::<RobotConfig>("enabled = true\nmax_calls = 3\n")
            .expect_err("unknown key");
        assert!(toml_err.to_string().contains("max_calls"), "{toml_err}");
    }
}
