//! Applies the numbered SQL files of `migrations/` (embedded at build time) in order, once each,
//! tracked in `schema_migrations` with a checksum so an edited migration is noticed.

use rusqlite::{params, Connection};
use sha2::{Digest, Sha256};

use super::StoreError;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}
pub use embedded::MIGRATIONS;

/// The newest schema version this binary knows.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

/// Brings the schema up to date; returns the versions applied now (empty when already current).
pub fn migrate(conn: &mut Connection, now: i64) -> Result<Vec<u32>, StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY, name TEXT NOT NULL,
             checksum TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    )?;
    let found: u32 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    if found > latest_version() {
        return Err(StoreError::TooNew {
            found,
            known: latest_version(),
        });
    }
    let mut applied = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        let checksum = hex::encode(Sha256::digest(sql.as_bytes()));
        let existing: Option<String> = conn
            .query_row(
                "SELECT checksum FROM schema_migrations WHERE version = ?1",
                [version],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                other => Err(other),
            })?;
        match existing {
            Some(sum) if sum == checksum => continue,
            Some(_) => return Err(StoreError::MigrationEdited { version: *version }),
            None => {}
        }
        // SQLite changes a CHECK constraint only by rebuilding the table (create, copy, drop,
        // rename: https://sqlite.org/lang_altertable.html#otheralter), which needs foreign keys
        // off; they are checked before the migration commits, and on again after.
        let rebuilds = sql.starts_with(FOREIGN_KEYS_OFF);
        if rebuilds {
            conn.execute_batch("PRAGMA foreign_keys = OFF")?;
        }
        let result = apply_one(conn, *version, name, sql, &checksum, now, rebuilds);
        if rebuilds {
            conn.execute_batch("PRAGMA foreign_keys = ON")?;
        }
        result?;
        applied.push(*version);
    }
    Ok(applied)
}

/// First line of a migration that rebuilds tables (see `migrate`).
const FOREIGN_KEYS_OFF: &str = "-- suifang: foreign-keys-off";

fn apply_one(
    conn: &mut Connection,
    version: u32,
    name: &str,
    sql: &str,
    checksum: &str,
    now: i64,
    check_foreign_keys: bool,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    tx.execute_batch(sql)?;
    if check_foreign_keys {
        let broken: i64 =
            tx.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })?;
        if broken > 0 {
            return Err(StoreError::Invalid(format!(
                "migration {version} would leave {broken} rows with a dangling reference"
            )));
        }
    }
    tx.execute(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
        params![version, name, checksum, now],
    )?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_to_empty_db_and_is_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        let first = migrate(&mut conn, 1).unwrap();
        assert_eq!(first.len(), MIGRATIONS.len());
        assert!(migrate(&mut conn, 2).unwrap().is_empty());
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM followup_tasks", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn refuses_a_newer_database() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, 1).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?1, 'future', 'x', 0)",
            [latest_version() + 1],
        )
        .unwrap();
        assert!(matches!(
            migrate(&mut conn, 2),
            Err(StoreError::TooNew { .. })
        ));
    }

    #[test]
    fn notices_an_edited_migration() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, 1).unwrap();
        conn.execute(
            "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1",
            [],
        )
        .unwrap();
        assert!(matches!(
            migrate(&mut conn, 2),
            Err(StoreError::MigrationEdited { version: 1 })
        ));
    }
}
