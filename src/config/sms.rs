//! `[sms]`: SMS to patients through Kannel's smsbox, and the patient links they carry.

use serde::Deserialize;

use super::ConfigError;
use crate::followup::link::IdentityCheck;

/// SMS links (issue 19). Sending is off unless `sendsms_url` is set; links can still be made
/// and shown to a nurse.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    /// smsbox's `sendsms` URL, e.g. `http://10.1.2.9:13013/cgi-bin/sendsms`.
    /// Env: `SUIFANG_SMS_SENDSMS_URL`. Default: off.
    pub sendsms_url: Option<String>,
    /// A `sendsms-user` of smsbox. Env: `SUIFANG_SMS_USERNAME`.
    pub username: String,
    /// Its password. Env: `SUIFANG_SMS_PASSWORD`.
    pub password: String,
    /// Sender id or short code (`from`); empty lets the carrier choose.
    /// Env: `SUIFANG_SMS_SENDER_ID`.
    pub sender_id: String,
    /// Delivery reports asked for (Kannel `dlr-mask`: 1 delivered, 2 failed, 4 buffered,
    /// 8 SMSC accepted, 16 SMSC rejected). Default 31 (all).
    pub dlr_mask: u8,
    /// The address patients open links at (`https://followup.example-hospital.cn`).
    /// Env: `SUIFANG_SMS_PUBLIC_URL`. Default: the address the server bound.
    pub public_url: Option<String>,
    /// The address Kannel reaches suifang at for delivery reports.
    /// Env: `SUIFANG_SMS_CALLBACK_URL`. Default: the address the server bound.
    pub callback_url: Option<String>,
    /// Secret Kannel puts in every callback URL (`…/sms/kannel/dlr?key=…`), at least 16
    /// characters; required when sending is on. Env: `SUIFANG_SMS_CALLBACK_SECRET`.
    pub callback_secret: String,
    /// Networks Kannel's callbacks may come from (CIDRs). Default: loopback only.
    /// Env: `SUIFANG_SMS_CALLBACK_ALLOW` (comma-separated).
    pub callback_allow: Vec<String>,
    /// Country code added to a domestic sender number of an inbound SMS. Default `86`.
    pub country_code: String,
    /// The hospital's name in SMS texts; default `hospital.name`.
    pub hospital_name_zh: Option<String>,
    pub hospital_name_en: Option<String>,
    /// Hours a link works. Default 72.
    pub link_valid_hours: u32,
    /// Hours after the link SMS before the one reminder. Default 24.
    /// Env: `SUIFANG_SMS_REMIND_AFTER_HOURS`.
    pub remind_after_hours: u32,
    /// What the patient confirms before anything is shown: `birth_year` (default) or
    /// `mrn_last4`.
    pub identity_check: IdentityCheck,
    /// Wrong identity answers that lock a link (and alert the nurse). Default 5.
    pub max_identity_failures: u32,
    /// Requests to `/f/…` per client address per minute. Default 30.
    pub link_requests_per_minute: u32,
    /// Outbox: attempts before a message is failed, and the backoff between them.
    pub max_attempts: u32,
    pub base_delay_seconds: i64,
    pub max_delay_seconds: i64,
    /// How long one `sendsms` request may take.
    pub timeout_seconds: u64,
    /// How often the outbox looks for work, in milliseconds.
    pub poll_millis: u64,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            sendsms_url: None,
            username: String::new(),
            password: String::new(),
            sender_id: String::new(),
            dlr_mask: 31,
            public_url: None,
            callback_url: None,
            callback_secret: String::new(),
            callback_allow: Vec::new(),
            country_code: "86".into(),
            hospital_name_zh: None,
            hospital_name_en: None,
            link_valid_hours: 72,
            remind_after_hours: 24,
            identity_check: IdentityCheck::BirthYear,
            max_identity_failures: 5,
            link_requests_per_minute: 30,
            max_attempts: 8,
            base_delay_seconds: 30,
            max_delay_seconds: 3600,
            timeout_seconds: 10,
            poll_millis: 1000,
        }
    }
}

impl SmsConfig {
    pub fn enabled(&self) -> bool {
        self.sendsms_url.is_some()
    }

    /// The networks callbacks are accepted from; loopback when none are configured.
    pub fn allowed(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        if self.callback_allow.is_empty() {
            return Ok(vec![
                "127.0.0.0/8".parse().expect("literal"),
                "::1/128".parse().expect("literal"),
            ]);
        }
        self.callback_allow
            .iter()
            .map(|c| {
                c.trim()
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| c.trim().parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| ConfigError::Invalid {
                        key: "sms.callback_allow",
                        message: format!("`{c}` is not a network like 10.1.2.0/24"),
                    })
            })
            .collect()
    }

    pub fn retry_policy(&self) -> crate::followup::sms::outbox::RetryPolicy {
        crate::followup::sms::outbox::RetryPolicy {
            base: chrono::Duration::seconds(self.base_delay_seconds),
            max_delay: chrono::Duration::seconds(self.max_delay_seconds),
            max_attempts: self.max_attempts,
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: String| Err(ConfigError::Invalid { key, message });
        self.allowed()?;
        if let Some(url) = &self.sendsms_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return invalid("sms.sendsms_url", format!("`{url}` is not an http(s) URL"));
            }
            if self.callback_secret.chars().count() < 16 {
                return invalid(
                    "sms.callback_secret",
                    "must be at least 16 characters when sending is on (Kannel's callbacks carry it)".into(),
                );
            }
        }
        if !self.callback_secret.is_empty()
            && !self
                .callback_secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return invalid(
                "sms.callback_secret",
                "may hold only letters, digits, - and _ (it travels in a URL)".into(),
            );
        }
        for (key, url) in [
            ("sms.public_url", &self.public_url),
            ("sms.callback_url", &self.callback_url),
        ] {
            if let Some(u) = url {
                if !(u.starts_with("http://") || u.starts_with("https://")) {
                    return invalid(key, format!("`{u}` is not an http(s) URL"));
                }
            }
        }
        for (key, v) in [
            ("sms.link_valid_hours", i64::from(self.link_valid_hours)),
            ("sms.remind_after_hours", i64::from(self.remind_after_hours)),
            (
                "sms.max_identity_failures",
                i64::from(self.max_identity_failures),
            ),
            (
                "sms.link_requests_per_minute",
                i64::from(self.link_requests_per_minute),
            ),
            ("sms.max_attempts", i64::from(self.max_attempts)),
            ("sms.base_delay_seconds", self.base_delay_seconds),
            ("sms.max_delay_seconds", self.max_delay_seconds),
            ("sms.poll_millis", self.poll_millis as i64),
            ("sms.timeout_seconds", self.timeout_seconds as i64),
        ] {
            if v <= 0 {
                return invalid(key, format!("must be positive, got {v}"));
            }
        }
        if !(1..=31).contains(&self.dlr_mask) {
            return invalid(
                "sms.dlr_mask",
                format!("must be 1 to 31, got {}", self.dlr_mask),
            );
        }
        Ok(())
    }

    /// `SUIFANG_SMS_*`.
    pub fn apply_env(
        &mut self,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let text = |key: &str| lookup(key).filter(|v| !v.is_empty());
        if let Some(v) = text("SUIFANG_SMS_SENDSMS_URL") {
            self.sendsms_url = Some(v);
        }
        if let Some(v) = lookup("SUIFANG_SMS_USERNAME") {
            self.username = v;
        }
        if let Some(v) = lookup("SUIFANG_SMS_PASSWORD") {
            self.password = v;
        }
        if let Some(v) = lookup("SUIFANG_SMS_SENDER_ID") {
            self.sender_id = v;
        }
        if let Some(v) = text("SUIFANG_SMS_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = text("SUIFANG_SMS_CALLBACK_URL") {
            self.callback_url = Some(v);
        }
        if let Some(v) = lookup("SUIFANG_SMS_CALLBACK_SECRET") {
            self.callback_secret = v;
        }
        if let Some(v) = lookup("SUIFANG_SMS_CALLBACK_ALLOW") {
            self.callback_allow = v.split(',').map(|s| s.trim().to_string()).collect();
        }
        if let Some(v) = lookup("SUIFANG_SMS_REMIND_AFTER_HOURS") {
            self.remind_after_hours = v.parse().map_err(|_| ConfigError::Invalid {
                key: "SUIFANG_SMS_REMIND_AFTER_HOURS",
                message: format!("`{v}` is not a whole number of hours"),
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_and_valid() {
        let c = SmsConfig::default();
        assert!(!c.enabled());
        assert!(c.validate().is_ok());
        assert_eq!(c.allowed().unwrap().len(), 2);
    }

    #[test]
    fn sending_needs_a_callback_secret_and_bad_values_name_their_key() {
        let mut c = SmsConfig {
            sendsms_url: Some("http://127.0.0.1:13013/cgi-bin/sendsms".into()),
            ..SmsConfig::default()
        };
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("sms.callback_secret"), "{err}");
        c.callback_secret = "0123456789abcdef".into();
        assert!(c.validate().is_ok());
        c.callback_secret = "0123456789abcdef&x=1".into();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("sms.callback_secret"));
        c.callback_secret = "0123456789abcdef".into();
        c.callback_allow = vec!["10.0.0.0/33".into()];
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("sms.callback_allow"));
        c.callback_allow = vec!["10.1.2.9".into()];
        c.dlr_mask = 0;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("sms.dlr_mask"));
        c.dlr_mask = 31;
        c.sendsms_url = Some("ftp://x".into());
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("sms.sendsms_url"));
    }

    #[test]
    fn environment_overrides() {
        let mut c = SmsConfig::default();
        let env = |k: &str| match k {
            "SUIFANG_SMS_SENDSMS_URL" => Some("http://127.0.0.1:13013/cgi-bin/sendsms".to_string()),
            "SUIFANG_SMS_CALLBACK_SECRET" => Some("s".repeat(20)),
            "SUIFANG_SMS_REMIND_AFTER_HOURS" => Some("6".to_string()),
            _ => None,
        };
        c.apply_env(&env).unwrap();
        assert!(c.enabled());
        assert_eq!(c.remind_after_hours, 6);
        assert!(c.validate().is_ok());
        let bad = |k: &str| (k == "SUIFANG_SMS_REMIND_AFTER_HOURS").then(|| "soon".to_string());
        assert!(c.apply_env(&bad).is_err());
    }
}
