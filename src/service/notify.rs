//! Keeping promises made to doctors, in the background: the SLA timer (re-escalate what nobody
//! acknowledged in time) and the outbound webhook (deliver, retry with backoff, dead-letter).
//! Both timers live in database rows, so a restart loses nothing: the first tick after start
//! fires whatever fell due while the server was down, exactly once.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::sync::watch;

use crate::auth::role::Role;
use crate::clock::Clock;
use crate::config::WebhookConfig;
use crate::events::{Audience, EventBus, LiveEvent};
use crate::followup::escalation::webhook::{
    payload, sign, RetryPolicy, WebhookEvent, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use crate::followup::escalation::Notified;
use crate::followup::pathway::Calendar;
use crate::store::escalations::{self, webhooks, Change, Recorded};
use crate::store::{Store, StoreError};

/// Pushes escalation changes to the doctors notified and to supervisors' wallboards.
pub fn publish_recorded(events: &EventBus, recorded: &[Recorded], patient_id: i64) {
    for r in recorded {
        if r.change == Change::Unchanged {
            continue;
        }
        let name = match r.change {
            Change::Opened => "escalation.opened",
            Change::Raised => "escalation.raised",
            _ => "escalation.updated",
        };
        // The rule, its severity and its advice travel with the event: a console showing the
        // push can show what the patient must be told without another request (issue 20 item 1).
        let f = &r.finding;
        let data = json!({"escalation_id": r.id.0, "patient_id": patient_id, "change": r.change,
            "notify": r.notify, "script": f.script, "rule": f.rule, "severity": f.severity,
            "route": f.route, "advice": f.advice, "questions": f.questions});
        if r.change == Change::Updated {
            // new evidence on an escalation its doctors already have: wallboards refresh
            events.publish(LiveEvent {
                name: name.into(),
                audience: Audience::Roles(vec![Role::Supervisor, Role::Doctor]),
                data,
            });
        } else {
            publish_to(events, name, &r.notify, data);
        }
    }
}

fn publish_to(events: &EventBus, name: &str, notify: &[Notified], data: serde_json::Value) {
    let users: Vec<i64> = notify.iter().map(|n| n.user.0).collect();
    if !users.is_empty() {
        events.publish(LiveEvent {
            name: name.into(),
            audience: Audience::Users(users),
            data: data.clone(),
        });
    } else {
        tracing::error!(
            event = name,
            "escalation has nobody to notify: check the duty roster"
        );
    }
    events.publish(LiveEvent {
        name: name.into(),
        audience: Audience::Roles(vec![Role::Supervisor]),
        data,
    });
}

/// One SLA tick: re-escalates everything overdue at `now`; returns how many moved up a level.
pub async fn sla_tick(
    store: &Store,
    events: &EventBus,
    webhooks_enabled: bool,
    calendar: &Arc<Calendar>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let calendar = calendar.clone();
    let fired = store
        .write(move |tx| {
            let roster = escalations::load_roster_at(tx, now, &calendar)?;
            let fired = escalations::run_reescalations(tx, &roster, now)?;
            if webhooks_enabled {
                for r in &fired {
                    let e = escalations::get(tx, r.id.clone())?;
                    let event_id: i64 = tx.query_row(
                        "SELECT MAX(id) FROM escalation_events WHERE escalation_id = ?1 AND kind = 'reescalated'",
                        [r.id.0],
                        |row| row.get(0),
                    )?;
                    webhooks::enqueue(tx, &r.id, event_id, &payload(&e, WebhookEvent::Reescalated, &r.notify, now), now)?;
                }
            }
            Ok(fired)
        })
        .await?;
    for r in &fired {
        tracing::warn!(escalation = r.id.0, from = ?r.from, to = ?r.to, "escalation not acknowledged in time: re-escalated");
        let data = json!({"escalation_id": r.id.0, "from": r.from, "to": r.to, "notify": r.notify, "ack_due_at": r.ack_due_at});
        publish_to(events, "escalation.reescalated", &r.notify, data);
    }
    Ok(fired.len())
}

/// Runs the SLA timer every `every` until shutdown (and once at once, for what fell due while
/// the server was down).
pub async fn sla_worker(
    store: Store,
    events: EventBus,
    clock: Clock,
    webhooks_enabled: bool,
    calendar: Arc<Calendar>,
    every: StdDuration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if let Err(e) = sla_tick(&store, &events, webhooks_enabled, &calendar, clock.now()).await {
            tracing::error!(error = %e, "SLA re-escalation tick failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Delivers due webhooks, signed, until shutdown.
pub async fn webhook_worker(
    store: Store,
    clock: Clock,
    config: WebhookConfig,
    mut stop: watch::Receiver<bool>,
) {
    // A worker runs until shutdown (one that ends early is taken for dead): with nothing to
    // do, it waits for the stop signal.
    let Some(url) = config.url.clone() else {
        let _ = stop.wait_for(|s| *s).await;
        return;
    };
    let client = match reqwest::Client::builder()
        .timeout(StdDuration::from_secs(config.timeout_seconds))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook HTTP client; webhooks disabled");
            let _ = stop.wait_for(|s| *s).await;
            return;
        }
    };
    let policy = config.retry_policy();
    loop {
        let now = clock.now();
        match store.read(move |c| webhooks::due(c, now, 32)).await {
            Ok(due) => {
                for d in due {
                    deliver(
                        &store,
                        &client,
                        &url,
                        config.secret.as_bytes(),
                        &policy,
                        &clock,
                        d,
                    )
                    .await;
                }
            }
            Err(e) => tracing::error!(error = %e, "reading due webhooks failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(StdDuration::from_millis(config.poll_millis)) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn deliver(
    store: &Store,
    client: &reqwest::Client,
    url: &str,
    secret: &[u8],
    policy: &RetryPolicy,
    clock: &Clock,
    d: webhooks::Delivery,
) {
    let now = clock.now();
    let signature = sign(secret, now.timestamp(), d.body.as_bytes());
    let sent = client
        .post(url)
        .header("Content-Type", "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header(TIMESTAMP_HEADER, now.timestamp().to_string())
        .header("X-Suifang-Delivery", d.id.to_string())
        .body(d.body.clone())
        .send()
        .await;
    let (status, error) = match sent {
        Ok(resp) => (Some(resp.status().as_u16()), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let policy = *policy;
    let id = d.id;
    let result = store
        .write(move |tx| webhooks::record_attempt(tx, id, status, error.as_deref(), &policy, now))
        .await;
    match result {
        Ok(after) if after.status == "dead" => {
            tracing::error!(delivery = id, attempts = after.attempts, status = ?status, "webhook dead-lettered")
        }
        Ok(_) => {}
        Err(e) => tracing::error!(delivery = id, error = %e, "recording a webhook attempt failed"),
    }
}
