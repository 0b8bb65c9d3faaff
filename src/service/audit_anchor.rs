//! The worker that exports the audit chain's head to the anchor file
//! (`store::audit_anchor`): at start (covering what the CLI wrote while the server was
//! stopped) and every `audit.anchor_interval_seconds` when the head moved; the server calls
//! [`anchor_once`] a last time after every worker has stopped.

use std::time::Duration;

use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::Config;
use crate::store::audit_anchor::{Anchor, AnchorError};
use crate::store::{Store, StoreError};

/// The audit anchor the configuration names (`audit.anchor_file`, beside the database unless
/// set), with the key from `SUIFANG_AUDIT_KEY` or the key file (created when `create`: the
/// server does, `audit verify` only reads).
pub fn open(config: &Config, create: bool) -> Result<Option<Anchor>, AnchorError> {
    let db = config.database_path();
    let beside = |name: &str| db.with_file_name(name);
    Anchor::open(
        config
            .audit
            .anchor_file
            .clone()
            .unwrap_or_else(|| beside("audit-anchor.log")),
        config.audit.key.as_deref(),
        &config
            .audit
            .key_file
            .clone()
            .unwrap_or_else(|| beside("audit.key")),
        create,
    )
}

/// Runs until `stop` changes.
pub async fn worker(
    store: Store,
    clock: Clock,
    anchor: Anchor,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        anchor_once(&store, clock, &anchor).await;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Anchors the current head if it moved; a tampered chain is logged as an error.
pub async fn anchor_once(store: &Store, clock: Clock, anchor: &Anchor) {
    let now = clock.now().timestamp();
    let a = anchor.clone();
    let result = store
        .read(move |c| Ok(a.write(c, now)))
        .await
        .unwrap_or_else(|e: StoreError| {
            Err(AnchorError::Io {
                path: anchor.path.clone(),
                source: std::io::Error::other(e.to_string()),
            })
        });
    match result {
        Ok(Some(id)) => tracing::debug!(row = id, "audit head anchored"),
        Ok(None) => {}
        // every tick, loudly: someone deleted or rewrote audit rows
        Err(e @ AnchorError::Broken { .. }) => tracing::error!(error = %e, "AUDIT LOG TAMPERED"),
        Err(e) => tracing::error!(error = %e, "cannot anchor the audit log"),
    }
}
