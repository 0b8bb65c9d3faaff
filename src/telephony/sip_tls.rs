//! The `[sip]` keys of SIP over TLS and SDES-SRTP: which media policy applies and where the
//! TLS material is (checked at start; see `calls::tls` and `sip::sdes`).

use std::path::PathBuf;

use crate::config::ConfigError;
use crate::config::SipConfig;

impl SipConfig {
    /// The media policy: `srtp` as set, else mandatory over TLS and off otherwise.
    pub fn srtp_policy(&self) -> Result<crate::sip::sdes::SrtpPolicy, ConfigError> {
        use crate::sip::sdes::SrtpPolicy;
        let tls = self.transport == crate::sip::ua::Transport::Tls;
        match (self.srtp, tls) {
            (Some(SrtpPolicy::Mandatory), false) => Err(ConfigError::Invalid {
                key: "sip.srtp",
                message: "SDES-SRTP keys travel in the SIP body: set sip.transport = \"tls\" \
                          or sip.srtp = \"off\""
                    .into(),
            }),
            (Some(p), _) => Ok(p),
            (None, true) => Ok(SrtpPolicy::Mandatory),
            (None, false) => Ok(SrtpPolicy::Off),
        }
    }

    /// The TLS settings when `transport = "tls"` (checked for presence; the files are read
    /// by [`crate::calls::TlsMaterial::load`]).
    pub fn tls_settings(&self) -> Result<Option<crate::calls::TlsSettings>, ConfigError> {
        if self.transport != crate::sip::ua::Transport::Tls {
            return Ok(None);
        }
        let need = |key: &'static str, v: &Option<PathBuf>| {
            v.clone().ok_or_else(|| ConfigError::Invalid {
                key,
                message: "required with sip.transport = \"tls\"".into(),
            })
        };
        let certificate = need("sip.tls_certificate", &self.tls_certificate)?;
        let private_key = need("sip.tls_private_key", &self.tls_private_key)?;
        if self.tls_verify && self.tls_ca.is_none() {
            return Err(ConfigError::Invalid {
                key: "sip.tls_ca",
                message: "name the CA bundle that signs the trunk's certificate (required \
                          while sip.tls_verify = true)"
                    .into(),
            });
        }
        let server_name = match (&self.tls_server_name, self.trunk) {
            (Some(name), _) => name.clone(),
            (None, Some(trunk)) => trunk.ip().to_string(),
            (None, None) => {
                return Err(ConfigError::Invalid {
                    key: "sip.tls_server_name",
                    message: "set sip.trunk (its IP is the name checked) or sip.tls_server_name"
                        .into(),
                })
            }
        };
        Ok(Some(crate::calls::TlsSettings {
            certificate,
            private_key,
            ca: self.tls_ca.clone(),
            verify: self.tls_verify,
            server_name,
        }))
    }
}
