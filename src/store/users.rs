//! Users, departments and login sessions.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::StoreError;
use crate::auth::role::Role;
use crate::followup::discipline::Discipline;

/// A user as the rest of the system sees it (never the hash).
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub department: Option<String>,
    pub active: bool,
    /// Who the user is in the multidisciplinary team (issue 20); `None` for staff outside it.
    pub discipline: Option<Discipline>,
}

const USER_SELECT: &str =
    "SELECT u.id, u.username, u.display_name, u.role, d.code, u.active, u.password_hash,
           u.discipline
    FROM users u LEFT JOIN departments d ON d.id = u.department_id";

fn user_row(r: &rusqlite::Row) -> rusqlite::Result<(User, String)> {
    let role: String = r.get(3)?;
    let role = Role::parse(&role).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            3,
            rusqlite::types::Type::Text,
            format!("bad role {role}").into(),
        )
    })?;
    // Written through set_discipline, which checks the code; a hand-edited bad value reads as none
    // rather than locking the user out.
    let discipline = r
        .get::<_, Option<String>>(7)?
        .and_then(|d| Discipline::parse_code(&d).ok());
    Ok((
        User {
            id: r.get(0)?,
            username: r.get(1)?,
            display_name: r.get(2)?,
            role,
            department: r.get(4)?,
            active: r.get(5)?,
            discipline,
        },
        r.get(6)?,
    ))
}

pub fn ensure_department(
    tx: &Transaction,
    code: &str,
    name_en: &str,
    name_zh: &str,
) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO departments (code, name_en, name_zh) VALUES (?1, ?2, ?3)
         ON CONFLICT(code) DO UPDATE SET name_en = excluded.name_en, name_zh = excluded.name_zh",
        params![code, name_en, name_zh],
    )?;
    Ok(
        tx.query_row("SELECT id FROM departments WHERE code = ?1", [code], |r| {
            r.get(0)
        })?,
    )
}

pub fn list_departments(conn: &Connection) -> Result<Vec<serde_json::Value>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, code, name_en, name_zh FROM departments ORDER BY code")?;
    let rows = stmt.query_map([], |r| {
        Ok(
            serde_json::json!({"id": r.get::<_, i64>(0)?, "code": r.get::<_, String>(1)?,
            "name_en": r.get::<_, String>(2)?, "name_zh": r.get::<_, String>(3)?}),
        )
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn create_user(
    tx: &Transaction,
    username: &str,
    display_name: &str,
    role: Role,
    password_hash: &str,
    department: Option<&str>,
    now: i64,
) -> Result<i64, StoreError> {
    let department_id = match department {
        Some(code) => Some(super::patients::department_id(tx, code)?.ok_or_else(|| {
            StoreError::Invalid(format!("department: unknown department `{code}`"))
        })?),
        None => None,
    };
    let taken: Option<i64> = tx
        .query_row(
            "SELECT id FROM users WHERE username = ?1",
            [username],
            |r| r.get(0),
        )
        .optional()?;
    if taken.is_some() {
        return Err(StoreError::Conflict(format!(
            "username `{username}` is taken"
        )));
    }
    tx.execute(
        "INSERT INTO users (username, display_name, role, password_hash, department_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            username,
            display_name,
            role.as_str(),
            password_hash,
            department_id,
            now
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Sets (or clears) a user's discipline; the caller has checked it against the configured list.
pub fn set_discipline(
    tx: &Transaction,
    user_id: i64,
    discipline: Option<&Discipline>,
) -> Result<(), StoreError> {
    let n = tx.execute(
        "UPDATE users SET discipline = ?2 WHERE id = ?1",
        params![user_id, discipline.map(Discipline::as_str)],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("user {user_id}")));
    }
    Ok(())
}

/// The user and password hash for a login attempt.
pub fn user_for_login(
    conn: &Connection,
    username: &str,
) -> Result<Option<(User, String)>, StoreError> {
    Ok(conn
        .query_row(
            &format!("{USER_SELECT} WHERE u.username = ?1"),
            [username],
            user_row,
        )
        .optional()?)
}

pub fn get_user(conn: &Connection, id: i64) -> Result<User, StoreError> {
    conn.query_row(&format!("{USER_SELECT} WHERE u.id = ?1"), [id], user_row)
        .optional()?
        .map(|(u, _)| u)
        .ok_or_else(|| StoreError::NotFound(format!("user {id}")))
}

pub fn list_users(conn: &Connection) -> Result<Vec<User>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{USER_SELECT} ORDER BY u.id"))?;
    let rows = stmt.query_map([], user_row)?;
    Ok(rows.map(|r| r.map(|(u, _)| u)).collect::<Result<_, _>>()?)
}

pub fn create_session(
    tx: &Transaction,
    token_hash: &str,
    user_id: i64,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
    tx.execute(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![token_hash, user_id, now, expires_at],
    )?;
    Ok(())
}

/// The active user behind a session token hash, if the session is still valid.
pub fn session_user(
    conn: &Connection,
    token_hash: &str,
    now: i64,
) -> Result<Option<User>, StoreError> {
    let user = conn
        .query_row(
            &format!("{USER_SELECT} JOIN sessions s ON s.user_id = u.id WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.active = 1"),
            params![token_hash, now],
            user_row,
        )
        .optional()?;
    Ok(user.map(|(u, _)| u))
}

pub fn delete_session(tx: &Transaction, token_hash: &str) -> Result<(), StoreError> {
    tx.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
    Ok(())
}
