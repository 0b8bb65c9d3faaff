//! The keys that decide who is trusted at the edge: the HTTP listener, the proxies in front of
//! it, and logins.

use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Listen address. Env: `SUIFANG_HTTP_ADDR`. Default `127.0.0.1:8080`.
    pub addr: SocketAddr,
    /// Mark the session cookie `Secure` (set when served over HTTPS).
    pub secure_cookies: bool,
    /// Session lifetime in hours.
    pub session_hours: i64,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed. From
    /// anyone else the header is ignored: otherwise a client could name any address and
    /// escape the per-address login limit. Default: none.
    pub trusted_proxies: Vec<String>,
    /// Serve Prometheus metrics (`GET /metrics`) on this separate address, e.g.
    /// `127.0.0.1:9464` (keep it on loopback or the management network: it has no login).
    /// Env: `SUIFANG_METRICS_ADDR`. Default: off.
    pub metrics_addr: Option<SocketAddr>,
}

impl HttpConfig {
    /// `trusted_proxies` parsed; a bare address is a one-address range.
    pub fn trusted_proxies(&self) -> Result<Vec<IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| ConfigError::Invalid {
                        key: "http.trusted_proxies",
                        message: format!("`{s}` is not an IP address or CIDR range"),
                    })
            })
            .collect()
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            secure_cookies: false,
            session_hours: 12,
            trusted_proxies: Vec::new(),
            metrics_addr: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Failed logins allowed per username and per client address within the window.
    pub login_max_failures: u32,
    pub login_window_minutes: i64,
    /// Password verifications (argon2id, ~19 MiB and tens of ms of CPU each) run at once;
    /// more logins wait, so a login flood cannot take the memory and cores calls need.
    pub max_concurrent_verifications: usize,
    /// Let `suifang serve` start while a demo login (published in the README) still works
    /// with its demo password. Off: the server refuses to start until those accounts are
    /// disabled or have new passwords. `suifang demo` never asks. Env:
    /// `SUIFANG_ALLOW_DEMO_LOGINS` (`true`/`false`).
    pub allow_demo_logins: bool,
}

impl AuthConfig {
    pub(super) fn apply_env(
        &mut self,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(v) = lookup("SUIFANG_ALLOW_DEMO_LOGINS") {
            self.allow_demo_logins = match v.to_ascii_lowercase().as_str() {
                "true" | "on" | "1" => true,
                "false" | "off" | "0" => false,
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "SUIFANG_ALLOW_DEMO_LOGINS",
                        message: format!("`{v}` is not true or false"),
                    })
                }
            };
        }
        Ok(())
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            login_max_failures: 5,
            login_window_minutes: 15,
            max_concurrent_verifications: 2,
            allow_demo_logins: false,
        }
    }
}

/// Where the audit log's anchor lives (`store::audit_anchor`): outside the database, so that
/// deleting the newest audit rows or rewriting the chain is detected.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Append-only file the chain's head is exported to. Default: `audit-anchor.log` next to
    /// the database. In production, make it append-only (`chattr +a`) or ship it off the
    /// machine (syslog, WORM storage).
    pub anchor_file: Option<PathBuf>,
    /// The HMAC key file, created (0600) at the first start. Default: `audit.key` next to the
    /// database. `SUIFANG_AUDIT_KEY` replaces it (keep it in a secret store).
    pub key_file: Option<PathBuf>,
    /// How often the head is exported (only when it changed), and once more at shutdown.
    pub anchor_interval_seconds: u64,
    /// Env `SUIFANG_AUDIT_KEY` only: a secret never belongs in the config file.
    #[serde(skip)]
    pub key: Option<String>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            anchor_file: None,
            key_file: None,
            anchor_interval_seconds: 60,
            key: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_take_addresses_and_ranges_and_name_the_key() {
        let mut http = HttpConfig {
            trusted_proxies: vec!["127.0.0.1".into(), "10.0.0.0/8".into(), "::1".into()],
            ..HttpConfig::default()
        };
        let nets = http.trusted_proxies().unwrap();
        assert!(nets[0].contains(&"127.0.0.1".parse::<std::net::IpAddr>().unwrap()));
        assert!(nets[1].contains(&"10.9.8.7".parse::<std::net::IpAddr>().unwrap()));
        http.trusted_proxies.push("proxy.local".into());
        let err = http.trusted_proxies().unwrap_err().to_string();
        assert!(
            err.contains("http.trusted_proxies") && err.contains("proxy.local"),
            "{err}"
        );
    }
}
