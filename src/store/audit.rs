//! The append-only, hash-chained audit log (HIPAA §164.312(b) audit controls; 网络安全法 Art. 21
//! log retention). Each row's hash covers the previous row's hash and its own content, so an
//! edited or deleted row breaks the chain from that point on.

use rusqlite::{params, Connection, Transaction};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::StoreError;

/// Who did it: a user, or the system itself (background jobs, the CLI).
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Option<i64>,
    pub name: String,
}

impl Actor {
    /// A logged-in user acting.
    pub fn user(user: &crate::store::users::User) -> Actor {
        Actor {
            id: Some(user.id),
            name: user.username.clone(),
        }
    }

    pub fn system(name: &str) -> Actor {
        Actor {
            id: None,
            name: name.to_string(),
        }
    }
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[allow(clippy::too_many_arguments)]
fn row_hash(
    prev: &str,
    id: i64,
    at: i64,
    actor_id: Option<i64>,
    actor: &str,
    action: &str,
    entity: &str,
    entity_id: Option<&str>,
    detail: &str,
) -> String {
    // Length-prefixed fields: no two different rows serialise to the same bytes.
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    let fields = [
        id.to_string(),
        at.to_string(),
        actor_id.map(|i| i.to_string()).unwrap_or_default(),
        actor.to_string(),
        action.to_string(),
        entity.to_string(),
        entity_id.unwrap_or("").to_string(),
        detail.to_string(),
    ];
    for f in &fields {
        h.update((f.len() as u64).to_le_bytes());
        h.update(f.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Appends one entry in the caller's transaction (so the entry commits with the change).
pub fn append(
    tx: &Transaction,
    actor: &Actor,
    action: &str,
    entity: &str,
    entity_id: Option<&str>,
    detail: &str,
    now: i64,
) -> Result<(), StoreError> {
    let (last_id, prev): (i64, String) = tx
        .query_row(
            "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok((0, GENESIS.to_string())),
            other => Err(other),
        })?;
    let id = last_id + 1;
    let hash = row_hash(
        &prev,
        id,
        now,
        actor.id,
        &actor.name,
        action,
        entity,
        entity_id,
        detail,
    );
    tx.execute(
        "INSERT INTO audit_log (id, at, actor_id, actor, action, entity, entity_id, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![id, now, actor.id, actor.name, action, entity, entity_id, detail, prev, hash],
    )?;
    Ok(())
}

/// Result of checking the chain.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub rows: i64,
    /// The first row that does not fit the chain, with why.
    pub broken_at: Option<(i64, String)>,
}

/// Recomputes every hash. Detects edited rows, deleted rows (a gap in ids or a `prev_hash` that
/// no longer matches) and inserted rows.
pub fn verify(conn: &Connection) -> Result<VerifyReport, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, at, actor_id, actor, action, entity, entity_id, detail, prev_hash, hash
         FROM audit_log ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let mut prev = GENESIS.to_string();
    let mut expected_id = 1;
    let mut count = 0;
    while let Some(r) = rows.next()? {
        count += 1;
        let id: i64 = r.get(0)?;
        let stored_prev: String = r.get(8)?;
        let stored_hash: String = r.get(9)?;
        let broken = |why: &str| {
            Ok(VerifyReport {
                rows: count,
                broken_at: Some((id, why.to_string())),
            })
        };
        if id != expected_id {
            return broken(&format!("row {expected_id} is missing"));
        }
        if stored_prev != prev {
            return broken("prev_hash does not match the previous row");
        }
        let entity_id: Option<String> = r.get(6)?;
        let recomputed = row_hash(
            &prev,
            id,
            r.get(1)?,
            r.get(2)?,
            &r.get::<_, String>(3)?,
            &r.get::<_, String>(4)?,
            &r.get::<_, String>(5)?,
            entity_id.as_deref(),
            &r.get::<_, String>(7)?,
        );
        if recomputed != stored_hash {
            return broken("row content does not match its hash (edited)");
        }
        prev = stored_hash;
        expected_id += 1;
    }
    Ok(VerifyReport {
        rows: count,
        broken_at: None,
    })
}

/// Recent entries, newest first (for the admin console).
pub fn recent(conn: &Connection, limit: i64) -> Result<Vec<serde_json::Value>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, actor, action, entity, entity_id, detail FROM audit_log ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| {
        Ok(serde_json::json!({
            "id": r.get::<_, i64>(0)?, "at": r.get::<_, i64>(1)?, "actor": r.get::<_, String>(2)?,
            "action": r.get::<_, String>(3)?, "entity": r.get::<_, String>(4)?,
            "entity_id": r.get::<_, Option<String>>(5)?, "detail": r.get::<_, String>(6)?,
        }))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::temp_store;

    #[test]
    fn detects_edit_and_delete_after_triggers_are_dropped() {
        let (_dir, store) = temp_store();
        for i in 0..5 {
            store
                .write_blocking(move |tx| {
                    append(
                        tx,
                        &Actor::system("test"),
                        "login",
                        "user",
                        Some(&i.to_string()),
                        "",
                        i,
                    )
                })
                .unwrap();
        }
        let report = store.read_blocking(verify).unwrap();
        assert_eq!((report.rows, report.broken_at), (5, None));
        // the triggers refuse edits…
        let refused = store.write_blocking(|tx| {
            Ok(tx.execute("UPDATE audit_log SET actor = 'x' WHERE id = 2", [])?)
        });
        assert!(refused.is_err());
        // …and someone who drops them is caught by verify
        store
            .write_blocking(|tx| {
                tx.execute_batch("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET detail = 'forged' WHERE id = 3;")?;
                Ok(())
            })
            .unwrap();
        assert_eq!(
            store.read_blocking(verify).unwrap().broken_at.map(|b| b.0),
            Some(3)
        );
    }

    #[test]
    fn detects_a_deleted_row() {
        let (_dir, store) = temp_store();
        for i in 0..3 {
            store
                .write_blocking(move |tx| append(tx, &Actor::system("t"), "a", "e", None, "", i))
                .unwrap();
        }
        store
            .write_blocking(|tx| {
                tx.execute_batch(
                    "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE id = 2;",
                )?;
                Ok(())
            })
            .unwrap();
        assert_eq!(
            store.read_blocking(verify).unwrap().broken_at.map(|b| b.0),
            Some(3)
        );
    }
}
