//! Where a configuration comes from, in layers: the defaults, `suifang demo`'s own defaults
//! ([`DEMO_DEFAULTS`], for the demo only), the TOML file, then the environment. A layer sets
//! only the keys it names; every error names its file, line or key.

use std::path::Path;

use super::{Config, ConfigError};

/// What `suifang demo` changes from `serve`'s defaults, below the config file and the
/// environment (either still wins): patients can be called at any hour, so the demo works
/// whenever and wherever a newcomer runs it; SIP answers on loopback only, since the demo's
/// desk-phone and login passwords are published in the README.
pub const DEMO_DEFAULTS: &str = r#"
[hospital]
calling_hours = "00:00-24:00"

[sip]
bind = "127.0.0.1:5060"
"#;

/// Deep-merges `over` into `base`: tables merge key by key, any other value replaces.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

impl Config {
    /// Defaults, then `file` (if given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = Self::layered(file, None)?;
        config.apply_env(|key| std::env::var(key).ok())?;
        config.validate()?;
        Ok(config)
    }

    /// As `load`, with `DEMO_DEFAULTS` between the defaults and the file (`suifang demo`).
    pub fn load_demo(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = Self::layered(file, Some(DEMO_DEFAULTS))?;
        config.demo = true;
        config.apply_env(|key| std::env::var(key).ok())?;
        config.validate()?;
        Ok(config)
    }

    /// Defaults, then the TOML `below` (if given), then `file` (if given).
    fn layered(file: Option<&Path>, below: Option<&str>) -> Result<Config, ConfigError> {
        let text = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.into(),
                    source,
                })?;
                // parsed on its own first: its errors keep their line and column
                toml::from_str::<Config>(&text).map_err(|e| ConfigError::Parse {
                    path: path.into(),
                    message: e.to_string(),
                })?;
                Some(text)
            }
            None => None,
        };
        let mut table = toml::Table::new();
        for layer in [below, text.as_deref()].into_iter().flatten() {
            let parsed: toml::Table =
                layer
                    .parse()
                    .map_err(|e: toml::de::Error| ConfigError::Parse {
                        path: file.map(Path::to_path_buf).unwrap_or_default(),
                        message: e.to_string(),
                    })?;
            merge(&mut table, parsed);
        }
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                path: file.map(Path::to_path_buf).unwrap_or_default(),
                message: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    #[test]
    fn the_demo_calls_at_any_hour_on_loopback_sip_unless_told_otherwise() {
        let serve = Config::layered(None, None).unwrap();
        assert_eq!(serve.hospital.calling_hours, "08:30-20:00");
        assert_eq!(serve.sip.bind.to_string(), "0.0.0.0:5060");
        let demo = Config::layered(None, Some(DEMO_DEFAULTS)).unwrap();
        let hours = demo.calling_hours().unwrap();
        for (h, m) in [(0, 0), (3, 17), (20, 0), (23, 59)] {
            assert!(hours.contains(NaiveTime::from_hms_opt(h, m, 0).unwrap()));
        }
        assert_eq!(demo.sip.bind.to_string(), "127.0.0.1:5060");
        // a config file still wins over the demo's defaults, key by key
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("suifang.toml");
        std::fs::write(&file, "[sip]\nbind = \"0.0.0.0:5090\"\n").unwrap();
        let told = Config::layered(Some(&file), Some(DEMO_DEFAULTS)).unwrap();
        assert_eq!(told.sip.bind.to_string(), "0.0.0.0:5090");
        assert_eq!(told.hospital.calling_hours, "00:00-24:00");
        // and a bad file still names its line
        std::fs::write(&file, "[sip]\nbnid = 1\n").unwrap();
        let err = Config::layered(Some(&file), Some(DEMO_DEFAULTS)).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
