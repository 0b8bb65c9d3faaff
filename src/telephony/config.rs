//! The `[sip]` table: the trunk patients are called through, where SIP and RTP listen, and
//! which prompts the call center plays.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::calls::EngineConfig;
use crate::config::ConfigError;
use crate::sip::ua::Credentials;

/// Telephony settings. Field docs are the config reference (README.md copies them).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipConfig {
    /// Run the SIP user agent. Off: the console works, calls are refused with a clear error.
    /// Env: `SUIFANG_SIP_ENABLED` (`true`/`false`).
    pub enabled: bool,
    /// Where the SIP socket listens (UDP). Env: `SUIFANG_SIP_BIND`. Default `0.0.0.0:5060`;
    /// port 0 picks a free port (tests).
    pub bind: SocketAddr,
    /// `udp` or `tcp` (SIP to the trunk over TCP; suifang then also listens on TCP at `bind`).
    /// Env: `SUIFANG_SIP_TRANSPORT`.
    pub transport: crate::sip::ua::Transport,
    /// The trunk (PBX or PSTN gateway) every outbound call goes to, `host:port`.
    /// Env: `SUIFANG_SIP_TRUNK`. The demo points it at its simulated patient phone.
    pub trunk: Option<SocketAddr>,
    /// Domain in the request URI of outbound calls (`sip:+8613…@domain`); default: the trunk's
    /// address.
    pub trunk_domain: Option<String>,
    /// User part of our From header (the hospital's caller id).
    pub from_user: String,
    /// Digest user name, if the trunk challenges.
    pub username: Option<String>,
    /// Digest password. Env: `SUIFANG_SIP_PASSWORD`.
    pub password: Option<String>,
    /// Register with the trunk at start (and refresh before expiry).
    pub register: bool,
    /// Requested registration lifetime in seconds.
    pub register_expires: u32,
    /// Address RTP binds to and announces in SDP. Env: `SUIFANG_SIP_RTP_IP`.
    pub rtp_ip: IpAddr,
    /// First RTP port (even ports are used; one per call leg).
    pub rtp_port_min: u16,
    /// Last RTP port.
    pub rtp_port_max: u16,
    /// Seconds a patient's phone may ring before the call is cancelled as no answer.
    pub ring_timeout_seconds: u64,
    /// Prompt (file in `prompts/audio/`) played to both parties when the patient answers, and
    /// recorded; empty disables it.
    pub consent_prompt: String,
    /// Prompt looped to the patient on hold.
    pub hold_prompt: String,
    /// Greeting for inbound callers when no nurse is free; the message after it is recorded.
    pub voicemail_prompt: String,
    /// Tone after the voicemail greeting.
    pub voicemail_beep: String,
    /// Longest voicemail message, in seconds.
    pub voicemail_max_seconds: u64,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            enabled: true,
            bind: SocketAddr::from(([0, 0, 0, 0], 5060)),
            transport: crate::sip::ua::Transport::Udp,
            trunk: None,
            trunk_domain: None,
            from_user: "suifang".into(),
            username: None,
            password: None,
            register: false,
            register_expires: 3600,
            rtp_ip: IpAddr::from([127, 0, 0, 1]),
            rtp_port_min: 30000,
            rtp_port_max: 39998,
            ring_timeout_seconds: 45,
            consent_prompt: "consent.wav".into(),
            hold_prompt: "hold.flac".into(),
            voicemail_prompt: "voicemail.wav".into(),
            voicemail_beep: "beep.wav".into(),
            voicemail_max_seconds: 120,
        }
    }
}

impl SipConfig {
    /// Applies `SUIFANG_SIP_*` overrides.
    pub fn apply_env(
        &mut self,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(v) = lookup("SUIFANG_SIP_ENABLED") {
            self.enabled = match v.as_str() {
                "true" | "1" | "on" => true,
                "false" | "0" | "off" => false,
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "SUIFANG_SIP_ENABLED",
                        message: format!("`{v}` is not true or false"),
                    })
                }
            };
        }
        if let Some(v) = lookup("SUIFANG_SIP_BIND") {
            self.bind = parse_addr("SUIFANG_SIP_BIND", &v)?;
        }
        if let Some(v) = lookup("SUIFANG_SIP_TRANSPORT") {
            self.transport = match v.to_ascii_lowercase().as_str() {
                "udp" => crate::sip::ua::Transport::Udp,
                "tcp" => crate::sip::ua::Transport::Tcp,
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "SUIFANG_SIP_TRANSPORT",
                        message: format!("`{v}` is not udp or tcp"),
                    })
                }
            };
        }
        if let Some(v) = lookup("SUIFANG_SIP_TRUNK") {
            self.trunk = Some(parse_addr("SUIFANG_SIP_TRUNK", &v)?);
        }
        if let Some(v) = lookup("SUIFANG_SIP_PASSWORD") {
            self.password = Some(v);
        }
        if let Some(v) = lookup("SUIFANG_SIP_RTP_IP") {
            self.rtp_ip = v.parse().map_err(|_| ConfigError::Invalid {
                key: "SUIFANG_SIP_RTP_IP",
                message: format!("`{v}` is not an IP address"),
            })?;
        }
        Ok(())
    }

    /// Checks the table before the server starts; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.rtp_port_min > self.rtp_port_max || self.rtp_port_max - self.rtp_port_min < 2 {
            return Err(ConfigError::Invalid {
                key: "sip.rtp_port_min",
                message: format!(
                    "the RTP range {}–{} must hold at least two even ports",
                    self.rtp_port_min, self.rtp_port_max
                ),
            });
        }
        if self.ring_timeout_seconds == 0 {
            return Err(ConfigError::Invalid {
                key: "sip.ring_timeout_seconds",
                message: "must be positive".into(),
            });
        }
        if self.password.is_some() != self.username.is_some() {
            return Err(ConfigError::Invalid {
                key: "sip.username",
                message: "set both username and password for digest authentication, or neither"
                    .into(),
            });
        }
        if self.register && self.trunk.is_none() {
            return Err(ConfigError::Invalid {
                key: "sip.register",
                message: "registration needs `sip.trunk`".into(),
            });
        }
        Ok(())
    }

    /// Settings of the call engine for this table.
    pub fn engine_config(&self, recordings_dir: &Path) -> Result<EngineConfig, ConfigError> {
        let registrar = if self.register {
            let domain = self.domain().unwrap_or_default();
            Some(
                crate::sip::uri::SipUri::parse(&format!("sip:{domain}")).map_err(|e| {
                    ConfigError::Invalid {
                        key: "sip.trunk_domain",
                        message: e.to_string(),
                    }
                })?,
            )
        } else {
            None
        };
        Ok(EngineConfig {
            sip_bind: self.bind,
            transport: self.transport,
            outbound_proxy: self.trunk,
            from_user: self.from_user.clone(),
            credentials: match (&self.username, &self.password) {
                (Some(username), Some(password)) => Some(Credentials {
                    user: username.clone(),
                    password: password.clone(),
                }),
                _ => None,
            },
            rtp_ip: self.rtp_ip,
            rtp_ports: self.rtp_port_min..=self.rtp_port_max,
            recordings_dir: recordings_dir.to_path_buf(),
            ring_timeout: Duration::from_secs(self.ring_timeout_seconds),
            registrar,
            register_expires: self.register_expires,
        })
    }

    /// The host part of outbound request URIs.
    pub fn domain(&self) -> Option<String> {
        self.trunk_domain
            .clone()
            .or_else(|| self.trunk.map(|t| t.to_string()))
    }
}

fn parse_addr(key: &'static str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.parse().map_err(|e| ConfigError::Invalid {
        key,
        message: format!("`{v}` is not an address like 127.0.0.1:5060 ({e})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_and_validation_name_the_key() {
        let mut c = SipConfig::default();
        c.apply_env(&|k| match k {
            "SUIFANG_SIP_BIND" => Some("127.0.0.1:0".into()),
            "SUIFANG_SIP_TRUNK" => Some("127.0.0.1:5070".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.bind.port(), 0);
        assert_eq!(c.domain().as_deref(), Some("127.0.0.1:5070"));
        let err = c
            .apply_env(&|k| (k == "SUIFANG_SIP_TRUNK").then(|| "pbx".into()))
            .unwrap_err();
        assert!(err.to_string().contains("SUIFANG_SIP_TRUNK"), "{err}");
        c.username = Some("u".into());
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("sip.username"));
        c.password = Some("p".into());
        c.validate().unwrap();
        c.rtp_port_max = c.rtp_port_min;
        assert!(c.validate().unwrap_err().to_string().contains("rtp_port"));
    }
}
