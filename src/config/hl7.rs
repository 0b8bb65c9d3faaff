//! `[hl7]`: the MLLP listener the hospital's interface engine sends ADT and ORU messages to.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Deserialize;

use super::ConfigError;
use crate::hl7::charset::Charset;

/// The HL7 v2 interface (issue 17). Off unless `listen` is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hl7Config {
    /// Where the MLLP listener binds, e.g. `0.0.0.0:2575`. Env: `SUIFANG_HL7_LISTEN`.
    /// Default: off.
    pub listen: Option<SocketAddr>,
    /// Source networks allowed to connect (CIDRs, e.g. the interface engine's
    /// `10.1.2.7/32`). Env: `SUIFANG_HL7_ALLOW` (comma-separated). Default: loopback only.
    pub allow: Vec<String>,
    /// Largest message accepted, in bytes. Default: 1 MiB.
    pub max_message_bytes: usize,
    /// The character set of messages whose MSH-18 is empty and whose bytes are not UTF-8:
    /// `GB 18030-2000` (Chinese HIS feeds, also reads GB 2312 and GBK), `8859/1` or `BIG-5`.
    pub default_charset: String,
    /// Country code added to domestic phone numbers (`13800000001` → `+8613800000001`).
    pub country_code: String,
    /// HIS department codes (PV1-3.1 point of care or PV1-10 service) to suifang's
    /// (`CARD = "cardiology"`). A code without an entry is used lower-cased.
    pub departments: BTreeMap<String, String>,
    /// MSH-3/4 of suifang's replies.
    pub application: String,
    pub facility: String,
    /// `[hl7.results]`: completed follow-ups back to the EMR.
    pub results: super::Hl7ResultsConfig,
}

impl Default for Hl7Config {
    fn default() -> Self {
        Hl7Config {
            listen: None,
            allow: Vec::new(),
            max_message_bytes: 1 << 20,
            default_charset: "GB 18030-2000".into(),
            country_code: "86".into(),
            departments: BTreeMap::new(),
            application: "SUIFANG".into(),
            facility: String::new(),
            results: super::Hl7ResultsConfig::default(),
        }
    }
}

impl Hl7Config {
    /// The allowed source networks; loopback when none are configured.
    pub fn allowed(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        if self.allow.is_empty() {
            return Ok(vec![
                "127.0.0.0/8".parse().expect("literal"),
                "::1/128".parse().expect("literal"),
            ]);
        }
        self.allow
            .iter()
            .map(|c| {
                c.trim()
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| c.trim().parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| ConfigError::Invalid {
                        key: "hl7.allow",
                        message: format!("`{c}` is not a network like 10.1.2.0/24"),
                    })
            })
            .collect()
    }

    pub fn fallback_charset(&self) -> Result<Charset, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            key: "hl7.default_charset",
            message,
        };
        Charset::from_msh18(&self.default_charset)
            .map_err(|e| invalid(e.to_string()))?
            .ok_or_else(|| invalid("must name a character set".into()))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.allowed()?;
        self.fallback_charset()?;
        self.results.validate()?;
        if self.max_message_bytes < 1024 {
            return Err(ConfigError::Invalid {
                key: "hl7.max_message_bytes",
                message: "must be at least 1024".into(),
            });
        }
        if !self.country_code.chars().all(|c| c.is_ascii_digit())
            || !(1..=3).contains(&self.country_code.len())
        {
            return Err(ConfigError::Invalid {
                key: "hl7.country_code",
                message: format!("`{}` is not a country code like 86", self.country_code),
            });
        }
        Ok(())
    }

    /// `SUIFANG_HL7_LISTEN`, `SUIFANG_HL7_ALLOW`.
    pub fn apply_env(
        &mut self,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(v) = lookup("SUIFANG_HL7_LISTEN") {
            self.listen = Some(v.parse().map_err(|e| ConfigError::Invalid {
                key: "SUIFANG_HL7_LISTEN",
                message: format!("`{v}` is not an address like 0.0.0.0:2575 ({e})"),
            })?);
        }
        if let Some(v) = lookup("SUIFANG_HL7_ALLOW") {
            self.allow = v.split(',').map(|s| s.trim().to_string()).collect();
        }
        self.results.apply_env(lookup)?;
        Ok(())
    }

    /// The code maps the ADT reader uses.
    pub fn mapping(&self) -> crate::hl7::adt::Mapping {
        crate::hl7::adt::Mapping {
            country_code: self.country_code.clone(),
            departments: self.departments.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_nowhere_and_allow_loopback() {
        let c = Hl7Config::default();
        assert!(c.listen.is_none());
        assert!(c.validate().is_ok());
        assert_eq!(c.allowed().unwrap().len(), 2);
        assert_eq!(c.fallback_charset().unwrap(), Charset::Gb18030);
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut c = Hl7Config {
            allow: vec!["10.0.0.0/33".into()],
            ..Hl7Config::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("hl7.allow"));
        c.allow = vec!["10.1.2.7".into()];
        assert!(c.validate().is_ok());
        c.default_charset = "EBCDIC".into();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("hl7.default_charset"));
    }
}
