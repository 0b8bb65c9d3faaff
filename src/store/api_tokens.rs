//! API tokens for system clients (the FHIR API): created by an admin (API or CLI), shown once,
//! kept as SHA-256 of the secret, scoped to FHIR resource types, revocable.

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::StoreError;
use crate::fhir::Scopes;

/// Prefix of every token, so a leaked one is recognisable in logs and scanners.
pub const TOKEN_PREFIX: &str = "sft_";

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// A token as listed (never its secret).
#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub scopes: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Creates a token; returns it with its secret, which is not stored and cannot be shown again.
pub fn create(
    tx: &Transaction,
    name: &str,
    scopes: &Scopes,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<(ApiToken, String), StoreError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(StoreError::Invalid("name: 1 to 100 characters".into()));
    }
    let secret = format!("{TOKEN_PREFIX}{}", crate::auth::new_session_token());
    tx.execute(
        "INSERT INTO api_tokens (name, token_hash, scopes, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            name,
            crate::auth::token_hash(&secret),
            scopes.to_text(),
            created_by,
            now.timestamp()
        ],
    )?;
    let id = tx.last_insert_rowid();
    Ok((get(tx, id)?, secret))
}

pub fn get(conn: &Connection, id: i64) -> Result<ApiToken, StoreError> {
    conn.query_row(
        "SELECT id, name, scopes, created_by, created_at, revoked_at, last_used_at
         FROM api_tokens WHERE id = ?1",
        [id],
        token,
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("API token {id}")))
}

fn token(r: &rusqlite::Row) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: r.get(0)?,
        name: r.get(1)?,
        scopes: r.get(2)?,
        created_by: r.get(3)?,
        created_at: ts(r.get(4)?),
        revoked_at: r.get::<_, Option<i64>>(5)?.map(ts),
        last_used_at: r.get::<_, Option<i64>>(6)?.map(ts),
    })
}

pub fn list(conn: &Connection) -> Result<Vec<ApiToken>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, scopes, created_by, created_at, revoked_at, last_used_at
         FROM api_tokens ORDER BY id",
    )?;
    let rows = stmt.query_map([], token)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Revokes a token (it stops working at once). Returns whether it was live.
pub fn revoke(tx: &Transaction, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let n = tx.execute(
        "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, now.timestamp()],
    )?;
    Ok(n == 1)
}

/// The live token with this secret, by its hash.
pub fn find(conn: &Connection, secret: &str) -> Result<Option<ApiToken>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, name, scopes, created_by, created_at, revoked_at, last_used_at
             FROM api_tokens WHERE token_hash = ?1 AND revoked_at IS NULL",
            [crate::auth::token_hash(secret)],
            token,
        )
        .optional()?)
}

/// Notes a use (the admin sees which tokens are still in use before revoking).
pub fn touch(tx: &Transaction, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1",
        params![id, now.timestamp()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::temp_store;

    #[test]
    fn a_token_is_stored_hashed_found_by_its_secret_and_revocable() {
        let (_d, store) = temp_store();
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).unwrap();
        let scopes = Scopes::parse("Patient Observation").unwrap();
        let (t, secret) = store
            .write_blocking(move |tx| create(tx, "emr-sync", &scopes, "admin", now))
            .unwrap();
        assert!(secret.starts_with(TOKEN_PREFIX) && secret.len() == 68);
        let stored: String = store
            .read_blocking(|c| {
                Ok(c.query_row("SELECT token_hash FROM api_tokens", [], |r| r.get(0))?)
            })
            .unwrap();
        assert_ne!(stored, secret, "the secret itself is never stored");
        let s = secret.clone();
        let found = store.read_blocking(move |c| find(c, &s)).unwrap().unwrap();
        assert_eq!(
            (found.id, found.scopes.as_str()),
            (t.id, "Patient Observation")
        );
        assert!(store
            .read_blocking(|c| find(c, "sft_wrong"))
            .unwrap()
            .is_none());
        let id = t.id;
        assert!(store.write_blocking(move |tx| revoke(tx, id, now)).unwrap());
        let s = secret.clone();
        assert!(store.read_blocking(move |c| find(c, &s)).unwrap().is_none());
        let bad = Scopes::parse("Patient").unwrap();
        assert!(store
            .write_blocking(move |tx| create(tx, " ", &bad, "admin", now))
            .is_err());
    }
}
