//! Where agent lines listen and what they announce: the `[webrtc]` table of the configuration.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// Network settings of agent lines. Field docs are the config reference.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebRtcConfig {
    /// Local addresses lines gather host candidates on. `0.0.0.0` means every non-loopback
    /// interface; list `127.0.0.1` too for a browser on the same machine. Default both.
    pub bind_ips: Vec<IpAddr>,
    /// First UDP port a line may use (inclusive). `0` with `udp_port_max = 0`: any free port.
    /// Give a range to open in the firewall, e.g. 40000–40999 (one port per line and address).
    pub udp_port_min: u16,
    /// Last UDP port a line may use (inclusive).
    pub udp_port_max: u16,
    /// Public addresses announced instead of the bound ones, for a server behind 1:1 NAT
    /// (cloud instance with an elastic IP). Empty: announce the bound addresses.
    pub public_ips: Vec<IpAddr>,
    /// STUN/TURN servers handed to the browser for its own candidates.
    pub ice_servers: Vec<IceServer>,
}

/// One STUN or TURN server, in the browser's `RTCIceServer` shape.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl Default for WebRtcConfig {
    fn default() -> Self {
        WebRtcConfig {
            bind_ips: vec![IpAddr::from([0, 0, 0, 0]), IpAddr::from([127, 0, 0, 1])],
            udp_port_min: 0,
            udp_port_max: 0,
            public_ips: Vec::new(),
            ice_servers: Vec::new(),
        }
    }
}

impl WebRtcConfig {
    /// Checks the table before the server starts; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.bind_ips.is_empty() {
            return Err(ConfigError::Invalid {
                key: "webrtc.bind_ips",
                message: "list at least one address, e.g. [\"0.0.0.0\", \"127.0.0.1\"]".into(),
            });
        }
        let ephemeral = self.udp_port_min == 0 && self.udp_port_max == 0;
        if !ephemeral && (self.udp_port_min == 0 || self.udp_port_min > self.udp_port_max) {
            return Err(ConfigError::Invalid {
                key: "webrtc.udp_port_min",
                message: format!(
                    "the range {}-{} is empty; set udp_port_min <= udp_port_max, both above 0 \
                     (or both 0 for any free port)",
                    self.udp_port_min, self.udp_port_max
                ),
            });
        }
        if let Some(bad) = self.ice_servers.iter().flat_map(|s| &s.urls).find(|u| {
            !(u.starts_with("stun:") || u.starts_with("turn:") || u.starts_with("turns:"))
        }) {
            return Err(ConfigError::Invalid {
                key: "webrtc.ice_servers",
                message: format!("`{bad}` is not a stun:, turn: or turns: URL"),
            });
        }
        Ok(())
    }

    /// The inclusive port range, or `None` for ephemeral ports.
    pub fn port_range(&self) -> Option<(u16, u16)> {
        (self.udp_port_min != 0).then_some((self.udp_port_min, self.udp_port_max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_ephemeral() {
        let c = WebRtcConfig::default();
        c.validate().unwrap();
        assert_eq!(c.port_range(), None);
    }

    #[test]
    fn bad_values_name_their_key() {
        let c: WebRtcConfig = toml::from_str("udp_port_min = 5000\nudp_port_max = 4000").unwrap();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("webrtc.udp_port_min"));
        let c: WebRtcConfig = toml::from_str("[[ice_servers]]\nurls = [\"http://x\"]").unwrap();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("webrtc.ice_servers"));
        let c: WebRtcConfig = toml::from_str(
            "udp_port_min = 40000\nudp_port_max = 40009\npublic_ips = [\"203.0.113.7\"]",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.port_range(), Some((40000, 40009)));
    }
}
