//! The `[sip]` table: the trunk patients are called through, where SIP and RTP listen, and
//! which prompts the call center plays.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::calls::EngineConfig;
use crate::config::ConfigError;
use crate::sip::auth::Algorithm;
use crate::sip::registrar::RegistrarConfig;
use crate::sip::ua::admission::{InboundPolicy, TrunkPolicy};
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
    /// `udp`, `tcp` (SIP to the trunk over TCP; suifang then also listens on TCP at `bind`)
    /// or `tls` (TCP inside TLS, the trunk's certificate verified; suifang listens for TLS at
    /// `bind`'s port). Env: `SUIFANG_SIP_TRANSPORT`.
    pub transport: crate::sip::ua::Transport,
    /// Our certificate chain (PEM) for TLS: served to trunks calling in, offered to trunks
    /// that ask for a client certificate. Required with `transport = "tls"`.
    pub tls_certificate: Option<PathBuf>,
    /// The private key (PEM) of `tls_certificate`. Keep it 0600.
    pub tls_private_key: Option<PathBuf>,
    /// CA certificates (PEM bundle) the trunk's certificate must be signed by. Required with
    /// `transport = "tls"` unless `tls_verify = false`.
    pub tls_ca: Option<PathBuf>,
    /// Verify the trunk's certificate (chain to `tls_ca`, name `tls_server_name`). Turning
    /// it off lets anyone on the path pose as the trunk and read the SRTP keys; lab use only.
    pub tls_verify: bool,
    /// The name the trunk's certificate must carry (a DNS name or IP); default: the trunk's
    /// IP address.
    pub tls_server_name: Option<String>,
    /// `mandatory` (media is SDES-SRTP, RTP/SAVP with AES_CM_128_HMAC_SHA1_80; an offer
    /// without a key gets 488) or `off` (plain RTP). Default: `mandatory` with `transport =
    /// "tls"`, `off` otherwise; `mandatory` needs TLS, since SDES keys travel in the SIP body.
    pub srtp: Option<crate::sip::sdes::SrtpPolicy>,
    /// The trunk (PBX or PSTN gateway) every outbound call goes to, `host:port`.
    /// Env: `SUIFANG_SIP_TRUNK`. The demo points it at its simulated patient phone.
    pub trunk: Option<SocketAddr>,
    /// Further carrier signalling networks whose INVITEs are taken (CIDRs such as
    /// `10.1.2.0/24`; a bare IP is a /32). Patients' calls are otherwise taken only from
    /// `trunk` (its address over UDP, its IP over TCP); other INVITEs not from an agent's
    /// desk phone get 403. Env: `SUIFANG_SIP_TRUNK_ALLOW` (comma-separated).
    pub trunk_allow: Vec<String>,
    /// Patients' calls (call-backs, voicemails) up at once; more get 503 with Retry-After.
    pub max_inbound_calls: usize,
    /// New INVITEs a second one trusted source may send (bursts of twice that); more get 503.
    pub invites_per_second: u32,
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
    /// Seconds between OPTIONS pings to the trunk (its health in `GET /api/v1/telephony`);
    /// 0 turns them off. Env: `SUIFANG_SIP_OPTIONS_INTERVAL_SECONDS`.
    pub options_interval_seconds: u64,
    /// Address RTP binds to and announces in SDP. Env: `SUIFANG_SIP_RTP_IP`.
    pub rtp_ip: IpAddr,
    /// First RTP port (even ports are used; one per call leg).
    pub rtp_port_min: u16,
    /// Last RTP port.
    pub rtp_port_max: u16,
    /// Whose RTP a call takes: `sdp_address` (only the address the SDP names; default),
    /// `same_ip_as_sdp` (any port of that IP: peers behind a port-rewriting NAT) or
    /// `any_first` (the first sender: phones behind NATs that rewrite addresses; weakest).
    pub rtp_latch: crate::rtp::latch::LatchPolicy,
    /// Seconds of silence on the patient's side of an answered call after which it is logged
    /// (one-way audio?) and counted; 0 turns it off.
    pub silence_alert_seconds: u64,
    /// Seconds a patient's phone may ring before the call is cancelled as no answer.
    pub ring_timeout_seconds: u64,
    /// SIP timer T1 in milliseconds (RFC 3261 §17: the round-trip estimate). Retransmissions
    /// start at T1 and a request nobody answers times out after 64·T1 (Timer B/F: 32 s at the
    /// default 500). Lower it only on a fast, reliable network (tests use it to reach Timer B
    /// in seconds). Env: `SUIFANG_SIP_TIMER_T1_MS`.
    pub timer_t1_ms: u64,
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
    /// Serve REGISTER so agents' SIP desk phones can register (`suifang user sip` sets their
    /// extension and password), and authenticate calls they place.
    pub registrar: bool,
    /// Digest realm of the registrar. Changing it invalidates every stored SIP password.
    pub registrar_realm: String,
    /// Digest algorithms offered to desk phones, in preference order: `MD5` (default) and/or
    /// `SHA-256`. Offer SHA-256 only if every phone supports it: baresip 1.0, for one, refuses
    /// a challenge that includes an algorithm it lacks.
    pub registrar_algorithms: Vec<String>,
    /// Shortest registration accepted, seconds (shorter: 423 Interval Too Brief).
    pub registrar_min_expires: u32,
    /// Longest registration granted, seconds (longer requests are shortened).
    pub registrar_max_expires: u32,
    /// Seconds a digest nonce may be used before the phone must take a fresh one (`stale`).
    pub registrar_nonce_seconds: u64,
    /// Wrong desk-phone passwords per extension and address within the failure window before
    /// that address is locked out of that extension for the rest of the window (four times
    /// as many from anywhere throttle the extension for addresses not registered with it).
    pub registrar_max_failures: usize,
    /// The failure window, seconds.
    pub registrar_failure_window_seconds: u64,
    /// Seconds an agent's desk phone rings (before a click-to-call is dropped, or a call-back
    /// moves on to the next nurse).
    pub agent_ring_seconds: u64,
    /// Country code of national numbers dialled from desk phones (`13800000001` →
    /// `+8613800000001`; a leading trunk `0` is dropped).
    pub country_code: String,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            enabled: true,
            bind: SocketAddr::from(([0, 0, 0, 0], 5060)),
            transport: crate::sip::ua::Transport::Udp,
            tls_certificate: None,
            tls_private_key: None,
            tls_ca: None,
            tls_verify: true,
            tls_server_name: None,
            srtp: None,
            trunk: None,
            trunk_allow: Vec::new(),
            max_inbound_calls: 50,
            invites_per_second: 20,
            trunk_domain: None,
            from_user: "suifang".into(),
            username: None,
            password: None,
            register: false,
            register_expires: 3600,
            options_interval_seconds: 30,
            rtp_ip: IpAddr::from([127, 0, 0, 1]),
            rtp_port_min: 30000,
            rtp_port_max: 39998,
            rtp_latch: crate::rtp::latch::LatchPolicy::SdpAddress,
            ring_timeout_seconds: 45,
            timer_t1_ms: 500,
            silence_alert_seconds: 30,
            consent_prompt: "consent.wav".into(),
            hold_prompt: "hold.flac".into(),
            voicemail_prompt: "voicemail.wav".into(),
            voicemail_beep: "beep.wav".into(),
            voicemail_max_seconds: 120,
            registrar: true,
            registrar_realm: "suifang".into(),
            registrar_algorithms: vec!["MD5".into()],
            registrar_min_expires: 60,
            registrar_max_expires: 3600,
            registrar_nonce_seconds: 300,
            registrar_max_failures: 5,
            registrar_failure_window_seconds: 900,
            agent_ring_seconds: 20,
            country_code: "86".into(),
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
                "tls" => crate::sip::ua::Transport::Tls,
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "SUIFANG_SIP_TRANSPORT",
                        message: format!("`{v}` is not udp, tcp or tls"),
                    })
                }
            };
        }
        if let Some(v) = lookup("SUIFANG_SIP_TRUNK") {
            self.trunk = Some(parse_addr("SUIFANG_SIP_TRUNK", &v)?);
        }
        if let Some(v) = lookup("SUIFANG_SIP_TRUNK_ALLOW") {
            self.trunk_allow = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
        }
        if let Some(v) = lookup("SUIFANG_SIP_PASSWORD") {
            self.password = Some(v);
        }
        if let Some(v) = lookup("SUIFANG_SIP_TIMER_T1_MS") {
            self.timer_t1_ms = v.parse().map_err(|_| ConfigError::Invalid {
                key: "SUIFANG_SIP_TIMER_T1_MS",
                message: format!("`{v}` is not a number of milliseconds"),
            })?;
        }
        if let Some(v) = lookup("SUIFANG_SIP_OPTIONS_INTERVAL_SECONDS") {
            self.options_interval_seconds = v.parse().map_err(|_| ConfigError::Invalid {
                key: "SUIFANG_SIP_OPTIONS_INTERVAL_SECONDS",
                message: format!("`{v}` is not a number of seconds"),
            })?;
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
        // T2 (the retransmission cap) is 4 s: a T1 above it would make no sense, and below
        // 10 ms a loopback retransmission storm would be all the timer buys
        if !(10..=4_000).contains(&self.timer_t1_ms) {
            return Err(ConfigError::Invalid {
                key: "sip.timer_t1_ms",
                message: format!("{} is outside 10–4000 ms", self.timer_t1_ms),
            });
        }
        if self.password.is_some() != self.username.is_some() {
            return Err(ConfigError::Invalid {
                key: "sip.username",
                message: "set both username and password for digest authentication, or neither"
                    .into(),
            });
        }
        self.registrar_config()?;
        // (a call-back rings a desk phone only while this long is left before the caller's
        // ring timeout; with a longer value desk phones take no call-backs)
        if self.agent_ring_seconds == 0 {
            return Err(ConfigError::Invalid {
                key: "sip.agent_ring_seconds",
                message: "must be positive".into(),
            });
        }
        if self.country_code.is_empty()
            || self.country_code.len() > 3
            || !self.country_code.chars().all(|c| c.is_ascii_digit())
            || self.country_code.starts_with('0')
        {
            return Err(ConfigError::Invalid {
                key: "sip.country_code",
                message: format!("`{}` is not a country code like 86", self.country_code),
            });
        }
        self.trunk_networks()?;
        if self.max_inbound_calls == 0 || self.invites_per_second == 0 {
            return Err(ConfigError::Invalid {
                key: "sip.max_inbound_calls",
                message: "max_inbound_calls and invites_per_second must be positive".into(),
            });
        }
        self.srtp_policy()?;
        if let Some(tls) = self.tls_settings()? {
            // read the files now: a wrong path or key shows at start, not at the first call
            crate::calls::TlsMaterial::load(&tls).map_err(|e| ConfigError::Invalid {
                key: match &e {
                    crate::calls::TlsError::File { key, .. }
                    | crate::calls::TlsError::Rejected { key, .. } => key,
                },
                message: e.to_string(),
            })?;
        }
        if self.register && self.trunk.is_none() {
            return Err(ConfigError::Invalid {
                key: "sip.register",
                message: "registration needs `sip.trunk`".into(),
            });
        }
        Ok(())
    }

    /// `trunk_allow` parsed; a bare address is a single host.
    pub fn trunk_networks(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.trunk_allow
            .iter()
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| ConfigError::Invalid {
                        key: "sip.trunk_allow",
                        message: format!("`{s}` is not a network like 10.1.2.0/24 or an IP"),
                    })
            })
            .collect()
    }

    /// Who may start calls: the trunk and `trunk_allow`, within the limits.
    pub fn inbound_policy(&self) -> Result<InboundPolicy, ConfigError> {
        Ok(InboundPolicy::TrunkOnly(TrunkPolicy {
            trunk: self.trunk,
            tcp: self.transport.is_stream(),
            allow: self.trunk_networks()?,
            max_inbound_calls: self.max_inbound_calls,
            invites_per_second: self.invites_per_second,
        }))
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
        let trunk_keepalive = match (self.trunk, self.options_interval_seconds) {
            (Some(_), secs) if secs > 0 => {
                let domain = self.domain().unwrap_or_default();
                let target =
                    crate::sip::uri::SipUri::parse(&format!("sip:{domain}")).map_err(|e| {
                        ConfigError::Invalid {
                            key: "sip.trunk_domain",
                            message: e.to_string(),
                        }
                    })?;
                Some((target, Duration::from_secs(secs)))
            }
            _ => None,
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
            inbound: self.inbound_policy()?,
            rtp_latch: self.rtp_latch,
            silence_alert: (self.silence_alert_seconds > 0)
                .then(|| Duration::from_secs(self.silence_alert_seconds)),
            sip_counters: Default::default(),
            media_counters: Default::default(),
            ring_timeout: Duration::from_secs(self.ring_timeout_seconds),
            sip_t1: Duration::from_millis(self.timer_t1_ms),
            registrar,
            register_expires: self.register_expires,
            trunk_keepalive,
            tls: self.tls_settings()?,
            srtp: self.srtp_policy()?,
            agent_registrar: if self.registrar {
                Some(self.registrar_config()?)
            } else {
                None
            },
        })
    }

    /// The registrar's settings (checked), whether or not it is on.
    pub fn registrar_config(&self) -> Result<RegistrarConfig, ConfigError> {
        let invalid = |key, message: String| ConfigError::Invalid { key, message };
        if self.registrar_realm.trim().is_empty() || self.registrar_realm.contains('"') {
            return Err(invalid(
                "sip.registrar_realm",
                "must be non-empty, without quotes".into(),
            ));
        }
        let mut algorithms = Vec::new();
        for name in &self.registrar_algorithms {
            match Algorithm::parse(name) {
                Some(a @ (Algorithm::Md5 | Algorithm::Sha256)) if !algorithms.contains(&a) => {
                    algorithms.push(a)
                }
                _ => {
                    return Err(invalid(
                        "sip.registrar_algorithms",
                        format!("`{name}`: use SHA-256 and/or MD5, each once"),
                    ))
                }
            }
        }
        if algorithms.is_empty() {
            return Err(invalid(
                "sip.registrar_algorithms",
                "name at least one".into(),
            ));
        }
        if self.registrar_min_expires == 0
            || self.registrar_min_expires > self.registrar_max_expires
        {
            return Err(invalid(
                "sip.registrar_min_expires",
                format!(
                    "must be positive and at most sip.registrar_max_expires ({})",
                    self.registrar_max_expires
                ),
            ));
        }
        if self.registrar_nonce_seconds == 0 {
            return Err(invalid(
                "sip.registrar_nonce_seconds",
                "must be positive".into(),
            ));
        }
        if self.registrar_max_failures == 0 || self.registrar_failure_window_seconds == 0 {
            return Err(invalid(
                "sip.registrar_max_failures",
                "registrar_max_failures and registrar_failure_window_seconds must be positive"
                    .into(),
            ));
        }
        Ok(RegistrarConfig {
            realm: self.registrar_realm.clone(),
            algorithms,
            nonce_lifetime: Duration::from_secs(self.registrar_nonce_seconds),
            min_expires: self.registrar_min_expires,
            max_expires: self.registrar_max_expires,
            default_expires: self.registrar_max_expires,
            max_failures: self.registrar_max_failures,
            failure_window: Duration::from_secs(self.registrar_failure_window_seconds),
            ..RegistrarConfig::default()
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
mod tests;
