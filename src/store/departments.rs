//! Department codes to their rows: shared by discharges, admissions, users, teams and duty.

use rusqlite::Connection;

use super::{optional, StoreError};

/// The row of department `code`, if there is one.
pub fn department_id(conn: &Connection, code: &str) -> Result<Option<i64>, StoreError> {
    optional(
        conn.query_row("SELECT id FROM departments WHERE code = ?1", [code], |r| {
            r.get(0)
        }),
    )
}

/// The row of department `code`; an unknown code is the caller's error, named as such.
pub fn require_department(conn: &Connection, code: &str) -> Result<i64, StoreError> {
    department_id(conn, code)?
        .ok_or_else(|| StoreError::Invalid(format!("department: unknown department `{code}`")))
}
