//! SMS links (issue 19 item 1): making a task's link and queueing its SMS, the outbox worker
//! that sends through Kannel's smsbox with retries, the one reminder, and what Kannel calls
//! back with (delivery reports, patients' SMS). Decisions are `followup::sms`'s; this is the
//! shell that stores them and does the HTTP.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use rusqlite::{OptionalExtension, Transaction};
use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::SmsConfig;
use crate::followup::link::{token_from_bytes, IdentityCheck, TOKEN_BYTES, TOKEN_CHARS};
use crate::followup::patient::Language;
use crate::followup::sms::outbox::{self, Next};
use crate::followup::sms::reply::{self, Reply};
use crate::followup::sms::template::{render, TextParts};
use crate::followup::sms::{kannel, DeliveryState, MessageKind};
use crate::store::audit::{append, Actor};
use crate::store::sms::{NewSms, ReportOutcome};
use crate::store::{links, sms as db, Store, StoreError};

/// Stands for the public address in a queued text until the worker sends it (the server may
/// learn its own address only once it has bound its port).
pub const PUBLIC_URL: &str = "{public_url}";

/// Why a link could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("task {0} not found")]
    NoTask(i64),
    #[error("task {id} is {status}: links are sent only for pending tasks")]
    NotPending { id: i64, status: String },
    #[error("task {0} has no script for the patient to answer")]
    NoScript(i64),
    #[error("the patient opted out of SMS (replied TD/STOP/退订)")]
    OptedOut,
    #[error("the identity check ({0}) needs what the record does not have (add the patient's birth date or record number first)")]
    NoIdentity(&'static str),
}

impl From<rusqlite::Error> for LinkError {
    fn from(e: rusqlite::Error) -> Self {
        LinkError::Store(e.into())
    }
}

/// What making a link needs from the configuration.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    pub valid: Duration,
    pub identity: IdentityCheck,
    pub hospital_zh: String,
    pub hospital_en: String,
}

impl LinkSettings {
    pub fn new(sms: &SmsConfig, hospital: &str) -> LinkSettings {
        LinkSettings {
            valid: Duration::hours(i64::from(sms.link_valid_hours)),
            identity: sms.identity_check,
            hospital_zh: sms
                .hospital_name_zh
                .clone()
                .unwrap_or_else(|| hospital.into()),
            hospital_en: sms
                .hospital_name_en
                .clone()
                .unwrap_or_else(|| hospital.into()),
        }
    }
}

/// A link made and its SMS queued.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SentLink {
    pub link_id: i64,
    pub message_id: i64,
    pub task_id: i64,
    pub expires_at: DateTime<Utc>,
}

/// Makes a new link for `task_id` (earlier open links of the task are revoked) and queues its
/// SMS to the patient's phone. `by` is the nurse who sent it (`None`: the reminder sweep).
pub fn send_link(
    tx: &Transaction,
    settings: &LinkSettings,
    task_id: i64,
    kind: MessageKind,
    by: &Actor,
    now: DateTime<Utc>,
) -> Result<SentLink, LinkError> {
    type Row = (
        i64,
        String,
        Option<String>,
        String,
        Option<String>,
        String,
        String,
    );
    let row: Option<Row> = tx
        .query_row(
            "SELECT t.patient_id, t.status, t.script_code, p.phone, p.birth_date, p.mrn, p.language
             FROM followup_tasks t JOIN patients p ON p.id = t.patient_id WHERE t.id = ?1",
            [task_id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            },
        )
        .optional()?;
    let (patient_id, status, script, phone, birth, mrn, language) =
        row.ok_or(LinkError::NoTask(task_id))?;
    if status != "pending" {
        return Err(LinkError::NotPending {
            id: task_id,
            status,
        });
    }
    if script.is_none() {
        return Err(LinkError::NoScript(task_id));
    }
    if db::is_opted_out(tx, patient_id)? {
        return Err(LinkError::OptedOut);
    }
    let birth = birth.and_then(|b| b.parse().ok());
    if settings.identity.expected(birth, &mrn).is_none() {
        return Err(LinkError::NoIdentity(settings.identity.as_str()));
    }
    links::revoke_of_task(tx, task_id, now)?;
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = token_from_bytes(&bytes);
    let expires_at = now + settings.valid;
    let link_id = links::insert(
        tx,
        &crate::auth::token_hash(&token),
        patient_id,
        task_id,
        by.id,
        expires_at,
        now,
    )?;
    if kind == MessageKind::Reminder {
        // the reminder's link is the last one: it earns no reminder of its own
        links::record_reminded(tx, link_id, now)?;
    }
    let language = if language == "en" {
        Language::En
    } else {
        Language::Zh
    };
    let link = format!("{PUBLIC_URL}/f/{token}");
    let body = render(&TextParts {
        kind,
        language,
        hospital: match language {
            Language::Zh => &settings.hospital_zh,
            Language::En => &settings.hospital_en,
        },
        link: &link,
        valid_hours: u32::try_from(settings.valid.num_hours()).unwrap_or(u32::MAX),
    });
    let message_id = db::enqueue(
        tx,
        &NewSms {
            patient_id,
            link_id: Some(link_id),
            kind,
            to_number: &phone,
            body: &body,
        },
        now,
    )?;
    append(
        tx,
        by,
        "sms_link.send",
        "task",
        Some(&task_id.to_string()),
        &format!("link={link_id} message={message_id} kind={}", kind.as_str()),
        now.timestamp(),
    )?;
    Ok(SentLink {
        link_id,
        message_id,
        task_id,
        expires_at,
    })
}

/// The stored copy of a text: any link token cut out (`/f/…`), so the outbox does not keep a
/// usable link once the message has left.
pub fn redact_tokens(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find("/f/") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let token_len = tail
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            .count();
        if token_len == TOKEN_CHARS {
            out.push('…');
            rest = &tail[token_len..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// What the outbox worker is given.
pub struct OutboxHandles {
    pub store: Store,
    pub clock: Clock,
    pub config: SmsConfig,
    pub links: LinkSettings,
    /// Where patients open links (`sms.public_url`, else the address the server bound).
    pub public_url: String,
    /// Where Kannel sends delivery reports (`sms.callback_url`, else the bound address).
    pub callback_url: String,
}

impl OutboxHandles {
    /// The handles from the configuration; `bound` is the HTTP address the server bound,
    /// the default for `sms.public_url` and `sms.callback_url`.
    pub fn new(
        store: Store,
        clock: Clock,
        config: &crate::config::Config,
        bound: std::net::SocketAddr,
    ) -> Self {
        let own = format!("http://{bound}");
        let trim = |u: &Option<String>| u.as_deref().map(|u| u.trim_end_matches('/').to_string());
        OutboxHandles {
            store,
            clock,
            links: LinkSettings::new(&config.sms, &config.hospital.name),
            public_url: trim(&config.sms.public_url).unwrap_or_else(|| own.clone()),
            callback_url: trim(&config.sms.callback_url).unwrap_or(own),
            config: config.sms.clone(),
        }
    }
}

/// How often the reminder sweep runs.
const REMINDER_SWEEP: std::time::Duration = std::time::Duration::from_secs(60);

/// The outbox worker: sends due messages, schedules retries, queues the one reminder per link.
/// With sending off it only waits for the stop signal (a worker that returned would count as
/// dead: `server::workers`).
pub async fn worker(h: OutboxHandles, mut stop: watch::Receiver<bool>) {
    if !h.config.enabled() {
        let _ = stop.changed().await;
        return;
    }
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(h.config.timeout_seconds))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("SMS outbox: cannot build its HTTP client: {e}");
            let _ = stop.changed().await;
            return;
        }
    };
    let poll = std::time::Duration::from_millis(h.config.poll_millis);
    let mut last_sweep: Option<std::time::Instant> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        if last_sweep.is_none_or(|t| t.elapsed() >= REMINDER_SWEEP) {
            last_sweep = Some(std::time::Instant::now());
            if let Err(e) = queue_reminders(&h).await {
                tracing::warn!("SMS reminders: {e}");
            }
        }
        if let Err(e) = send_due(&h, &client).await {
            tracing::warn!("SMS outbox: {e}");
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

async fn send_due(h: &OutboxHandles, client: &reqwest::Client) -> Result<(), StoreError> {
    let now = h.clock.now();
    let due = h.store.read(move |c| db::due(c, now, 20)).await?;
    let Some(endpoint) = h.config.sendsms_url.clone() else {
        return Ok(());
    };
    for m in due {
        let attempts = m.attempts + 1;
        let stored = redact_tokens(&m.body);
        if let Err(why) = outbox::may_send(m.check) {
            let now = h.clock.now();
            h.store
                .write(move |tx| {
                    db::record_failed(tx, m.id, m.attempts, why.reason(), &stored, now)
                })
                .await?;
            continue;
        }
        let text = m.body.replace(PUBLIC_URL, &h.public_url);
        let dlr_url = format!(
            "{}/sms/kannel/dlr?key={}&msg={}&status=%d&answer=%A",
            h.callback_url, h.config.callback_secret, m.id
        );
        let url = kannel::SendSms {
            endpoint: &endpoint,
            username: &h.config.username,
            password: &h.config.password,
            from: &h.config.sender_id,
            to: &m.to_number,
            text: &text,
            dlr_mask: h.config.dlr_mask,
            dlr_url: &dlr_url,
        }
        .url();
        let attempt = match client.get(&url).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.text().await.unwrap_or_default();
                outbox::classify(status, &body)
            }
            // reqwest's error text names the URL, which holds the password: say what failed only
            Err(e) => outbox::Attempt::NoAnswer(describe(&e)),
        };
        let now = h.clock.now();
        let next = outbox::after_attempt(&h.config.retry_policy(), attempts, &attempt, now);
        let id = m.id;
        match &next {
            Next::Submitted => {
                tracing::info!(message = id, attempts, "SMS accepted by the gateway")
            }
            Next::RetryAt { at, error } => {
                tracing::warn!(message = id, attempts, %at, "SMS not sent, will retry: {error}")
            }
            Next::GiveUp { error } => tracing::warn!(message = id, attempts, "SMS failed: {error}"),
        }
        h.store
            .write(move |tx| match next {
                Next::Submitted => db::record_submitted(tx, id, attempts, &stored, now),
                Next::RetryAt { at, error } => db::record_retry(tx, id, attempts, at, &error, now),
                Next::GiveUp { error } => db::record_failed(tx, id, attempts, &error, &stored, now),
            })
            .await?;
    }
    Ok(())
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else if e.is_body() || e.is_decode() {
        "broken response".into()
    } else {
        "request failed".into()
    }
}

async fn queue_reminders(h: &OutboxHandles) -> Result<(), StoreError> {
    let now = h.clock.now();
    let after = Duration::hours(i64::from(h.config.remind_after_hours));
    let candidates = h
        .store
        .read(move |c| links::reminder_candidates(c, now))
        .await?;
    for (link_id, sent_at) in candidates {
        let progress = outbox::LinkProgress {
            sent_at: Some(sent_at),
            reminded: false,
            completed: false,
            usable: true,
        };
        if !outbox::reminder_due(progress, after, now) {
            continue;
        }
        let settings = h.links.clone();
        let result = h
            .store
            .write(move |tx| {
                let Some(link) = links::by_id(tx, link_id)? else {
                    return Ok(None);
                };
                links::record_reminded(tx, link_id, now)?;
                let by = Actor::system("sms reminder");
                match send_link(tx, &settings, link.task_id, MessageKind::Reminder, &by, now) {
                    Ok(sent) => Ok(Some(Ok(sent))),
                    Err(LinkError::Store(e)) => Err(e),
                    // opted out since, no birth date any more: no reminder, and none later
                    Err(other) => Ok(Some(Err(other.to_string()))),
                }
            })
            .await?;
        match result {
            Some(Ok(sent)) => {
                tracing::info!(link = link_id, task = sent.task_id, "SMS reminder queued")
            }
            Some(Err(why)) => tracing::info!(link = link_id, "no SMS reminder: {why}"),
            None => {}
        }
    }
    Ok(())
}

/// What a delivery report did, for the callback's answer and the log.
pub fn apply_report(
    tx: &Transaction,
    message_id: i64,
    code: &str,
    answer: &str,
    now: DateTime<Utc>,
) -> Result<ReportOutcome, StoreError> {
    let state: Option<DeliveryState> = kannel::report_state(code);
    let (outcome, _) = db::record_report(tx, message_id, code, answer, state, now)?;
    Ok(outcome)
}

/// What an inbound SMS came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// Opted these patients out (new opt-outs only are audited).
    OptedOut(Vec<i64>),
    /// Attached to these patients' records.
    Attached(Vec<i64>),
    /// Nobody has this number (or it is no number): kept without a patient.
    Unmatched,
}

/// Stores an SMS from a patient: `TD`/`STOP`/`退订` opts every patient with that phone out of
/// SMS (audited); other text is attached to them for their nurse.
pub fn receive(
    tx: &Transaction,
    from: &str,
    text: &str,
    country_code: &str,
    now: DateTime<Utc>,
) -> Result<Inbound, StoreError> {
    let sender = reply::sender_e164(from, country_code);
    let patients = match &sender {
        Some(number) => db::patients_with_phone(tx, number)?,
        None => Vec::new(),
    };
    let from_stored: String = from.trim().chars().take(32).collect();
    let reply = reply::classify(text);
    let (opt_out, body) = match &reply {
        Reply::OptOut => (true, text.trim().chars().take(32).collect::<String>()),
        Reply::Message(m) => (false, m.clone()),
    };
    if patients.is_empty() {
        db::record_inbound(tx, None, &from_stored, &body, opt_out, now)?;
        return Ok(Inbound::Unmatched);
    }
    for &patient in &patients {
        let inbound = db::record_inbound(tx, Some(patient), &from_stored, &body, opt_out, now)?;
        if opt_out && db::opt_out(tx, patient, inbound, now)? {
            append(
                tx,
                &Actor::system("sms inbound"),
                "sms.opt_out",
                "patient",
                Some(&patient.to_string()),
                &format!("replied {body:?}"),
                now.timestamp(),
            )?;
        }
    }
    Ok(if opt_out {
        Inbound::OptedOut(patients)
    } else {
        Inbound::Attached(patients)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_texts_lose_their_tokens_only() {
        let token = "AbCdEfGhIjKlMnOpQrStUv-_";
        assert_eq!(token.len(), TOKEN_CHARS);
        let body = format!("【医院】请点击：https://h.example/f/{token} 回TD退订");
        assert_eq!(
            redact_tokens(&body),
            "【医院】请点击：https://h.example/f/… 回TD退订"
        );
        // not a token's length: left alone
        assert_eq!(redact_tokens("see /f/abc and /f/"), "see /f/abc and /f/");
    }
}
