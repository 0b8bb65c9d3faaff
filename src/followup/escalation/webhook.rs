//! Outbound webhook, pure parts: signing, verification and the retry schedule.
//!
//! Hospitals bridge escalations to SMS/WeCom/pagers with a webhook. The receiver must be able to
//! trust the body (HMAC-SHA256 with a shared secret) and reject replays (the signed string
//! includes a timestamp that must be recent). The signed string is `"{timestamp}.{body}"`, the
//! scheme GitHub and Stripe receivers already know; the header value is `sha256=<hex>`.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::{Escalation, Notified};

/// Header carrying `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Suifang-Signature";
/// Header carrying the Unix timestamp (seconds) that was signed.
pub const TIMESTAMP_HEADER: &str = "X-Suifang-Timestamp";

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // RFC 2104 §2: HMAC accepts keys of any length (long ones are hashed), so this cannot fail.
    #[allow(clippy::expect_used)]
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The signature header value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// Why a received webhook was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature header is not `sha256=<hex>`.
    #[error("signature header must be `sha256=<hex>`")]
    Malformed,
    /// The timestamp header is not an integer.
    #[error("timestamp header must be Unix seconds")]
    BadTimestamp,
    /// The timestamp is too far from now: a replay or a wrong clock.
    #[error("timestamp is {0} s away from now; replay or clock skew")]
    Stale(i64),
    /// The body or secret does not match.
    #[error("signature does not match the body")]
    Mismatch,
}

/// Verifies a received webhook: the timestamp is within `tolerance` of `now` and the signature
/// matches (constant-time comparison).
pub fn verify(
    secret: &[u8],
    signature: &str,
    timestamp: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let skew = (now.timestamp() - ts).abs();
    if skew > tolerance.num_seconds() {
        return Err(SignatureError::Stale(skew));
    }
    let hex_sig = signature
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let bytes = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed)?;
    mac(secret, ts, body)
        .verify_slice(&bytes)
        .map_err(|_| SignatureError::Mismatch)
}

/// What happened to the escalation, as named in the webhook body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEvent {
    /// A new escalation.
    Opened,
    /// Severity went up; re-notified.
    Raised,
    /// Moved to the next level after the SLA.
    Reescalated,
    /// A doctor acknowledged.
    Acknowledged,
    /// A doctor resolved.
    Resolved,
}

/// The JSON body for an escalation change. Ids only, never the patient's name or phone number
/// (HIPAA minimum necessary, §164.502(b); PIPL sensitive data): the pager or SMS bridge tells
/// the doctor to open the console, where access is audited.
pub fn payload(
    e: &Escalation,
    event: WebhookEvent,
    notify: &[Notified],
    now: DateTime<Utc>,
) -> String {
    let latest = e.evidence.last();
    serde_json::json!({
        "event": event,
        "escalation_id": e.id.0,
        "patient_id": e.key.patient.0,
        "script": e.key.script,
        "rule": e.key.rule,
        "severity": e.severity,
        "traffic_light": e.severity.traffic_light(),
        "level": e.level,
        "department": e.department,
        "recipients": notify.iter().map(|n| n.user.0).collect::<Vec<_>>(),
        "ack_due_at": e.ack_due_at,
        "evidence": latest.map(|l| l.evidence.condition.clone()),
        "script_version": latest.map(|l| l.evidence.script_version),
        "sent_at": now,
    })
    .to_string()
}

/// What the receiver's HTTP status means for the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: done.
    Delivered,
    /// 5xx, 408, 429 or no response: try again later.
    Retry,
    /// Other 4xx: the receiver refuses this body; retrying will not help, dead-letter now.
    Rejected,
}

/// Classifies a response status; `None` = no response (timeout, connection refused).
pub fn outcome(status: Option<u16>) -> Outcome {
    match status {
        Some(200..=299) => Outcome::Delivered,
        Some(408 | 429) | Some(500..=599) | None => Outcome::Retry,
        Some(_) => Outcome::Rejected,
    }
}

/// Exponential backoff with a cap and a dead-letter limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay after the first failed attempt.
    pub base: Duration,
    /// Longest delay between attempts.
    pub max_delay: Duration,
    /// Attempts (including the first) before dead-lettering.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// 30 s, 1 min, 2 min, … capped at 1 h, 8 attempts: about 64 min of retries before dead-letter,
    /// long enough to ride out a receiver restart, short enough that a human notices the same
    /// shift.
    fn default() -> Self {
        RetryPolicy {
            base: Duration::seconds(30),
            max_delay: Duration::hours(1),
            max_attempts: 8,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextAttempt {
    /// Try again after this delay.
    After(Duration),
    /// Give up; move the delivery to the dead-letter list.
    DeadLetter,
}

impl RetryPolicy {
    /// Given that attempt number `attempt` (1-based) just failed, when to try again.
    /// Delay = base × 2^(attempt-1), capped at `max_delay`.
    pub fn after_failure(&self, attempt: u32) -> NextAttempt {
        if attempt >= self.max_attempts {
            return NextAttempt::DeadLetter;
        }
        let exp = attempt.saturating_sub(1).min(30);
        let delay = self
            .base
            .checked_mul(1i32 << exp)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        NextAttempt::After(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn signs_and_verifies() {
        let now = Utc.timestamp_opt(1_764_000_000, 0).single().expect("valid");
        let body = br#"{"escalation":1}"#;
        let sig = sign(b"s3cret", now.timestamp(), body);
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        let ts = now.timestamp().to_string();
        let tol = Duration::minutes(5);
        assert_eq!(verify(b"s3cret", &sig, &ts, body, now, tol), Ok(()));
        assert_eq!(
            verify(b"other", &sig, &ts, body, now, tol),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"s3cret", &sig, &ts, b"{}", now, tol),
            Err(SignatureError::Mismatch)
        );
        let later = now + Duration::minutes(6);
        assert_eq!(
            verify(b"s3cret", &sig, &ts, body, later, tol),
            Err(SignatureError::Stale(360))
        );
        assert_eq!(
            verify(b"s3cret", "md5=00", &ts, body, now, tol),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn known_vector() {
        // Independent check: python3 -c "import hmac,hashlib;
        // print(hmac.new(b'key', b'0.body', hashlib.sha256).hexdigest())"
        assert_eq!(
            sign(b"key", 0, b"body"),
            "sha256=e0af04d5c83b24373ff89f540d0c8fd9a4e097e2b3ee8318ab5541047697626d"
        );
    }

    #[test]
    fn backoff_then_dead_letter() {
        let p = RetryPolicy::default();
        let delays: Vec<_> = (1..=8).map(|a| p.after_failure(a)).collect();
        let s = |n| NextAttempt::After(Duration::seconds(n));
        assert_eq!(
            delays,
            [
                s(30),
                s(60),
                s(120),
                s(240),
                s(480),
                s(960),
                s(1920),
                NextAttempt::DeadLetter
            ]
        );
        let p = RetryPolicy {
            max_attempts: 40,
            ..p
        };
        assert_eq!(p.after_failure(39), s(3600));
        assert_eq!(outcome(Some(500)), Outcome::Retry);
        assert_eq!(outcome(None), Outcome::Retry);
        assert_eq!(outcome(Some(404)), Outcome::Rejected);
        assert_eq!(outcome(Some(204)), Outcome::Delivered);
    }
}
