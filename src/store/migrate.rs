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

    /// Migration 0019 rebuilds `enrollments` and `followup_tasks` (a wider status CHECK):
    /// rows and the rows that point at them survive, and foreign keys are enforced after.
    #[test]
    fn a_table_rebuild_keeps_rows_and_references() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                 checksum TEXT NOT NULL, applied_at INTEGER NOT NULL)",
        )
        .unwrap();
        for (version, name, sql) in MIGRATIONS.iter().take_while(|m| m.0 < 19) {
            conn.execute_batch(sql).unwrap();
            let sum = hex::encode(Sha256::digest(sql.as_bytes()));
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?1, ?2, ?3, 0)",
                params![version, name, sum],
            )
            .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO users (id, username, display_name, role, password_hash, created_at)
                 VALUES (1, 'n', 'n', 'nurse', 'x', 0);
             INSERT INTO patients (id, mrn, name, phone, created_at, updated_at)
                 VALUES (1, 'M1', 'p', '+86138', 0, 0);
             INSERT INTO discharges (id, patient_id, discharged_at, created_at) VALUES (1, 1, 0, 0);
             INSERT INTO enrollments (id, patient_id, discharge_id, pathway_code, pathway_version,
                 enrolled_at) VALUES (7, 1, 1, 'hf', 1, 0);
             INSERT INTO followup_tasks (id, enrollment_id, patient_id, step_name, due_at,
                 window_start_at, window_end_at, status, lease_owner, created_at, updated_at,
                 step_name_zh) VALUES (9, 7, 1, 'd1', 0, 0, 0, 'missed', 1, 0, 0, '第1天');
             INSERT INTO queue_entries (rank, task_id, built_at) VALUES (1, 9, 0);
             INSERT INTO task_attempts (task_id, disposition, contact, at)
                 VALUES (9, 'no_answer', 'primary', 0);",
        )
        .unwrap();
        let applied = migrate(&mut conn, 1).unwrap();
        assert!(applied.contains(&19), "{applied:?}");
        let task: (i64, String, Option<i64>, String) = conn
            .query_row(
                "SELECT enrollment_id, status, lease_owner, step_name_zh FROM followup_tasks
                 WHERE id = 9",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(task, (7, "missed".into(), Some(1), "第1天".into()));
        let dangling: i64 = conn
            .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(dangling, 0);
        conn.execute(
            "UPDATE followup_tasks SET status = 'paused' WHERE id = 9",
            [],
        )
        .unwrap();
        assert!(conn
            .execute(
                "UPDATE followup_tasks SET status = 'asleep' WHERE id = 9",
                []
            )
            .is_err());
        let fk_on: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk_on, 1, "foreign keys are on again");
        assert!(conn
            .execute(
                "INSERT INTO followup_tasks (enrollment_id, patient_id, step_name, due_at,
                     window_start_at, window_end_at, created_at, updated_at)
                 VALUES (99, 1, 's', 0, 0, 0, 0, 0)",
                [],
            )
            .is_err());
        let indexes: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index'
                 AND tbl_name = 'followup_tasks' AND name LIKE 'followup_tasks_%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 6);
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
