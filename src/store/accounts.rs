//! Account lifecycle: disable and enable a user, reset a password, end every session. Each
//! change is audited in its own transaction, and each one that takes access away also ends
//! the user's sessions, so a stolen cookie dies with the password it was obtained with.

use rusqlite::{params, Transaction};

use super::audit::{append, Actor};
use super::users::{get_user, User};
use super::StoreError;

/// Disables (`active = false`) or enables a user. Disabling ends her sessions; she cannot log
/// in, her desk phone can no longer register, and calls are no longer offered to her.
/// Refuses to disable the acting admin's own account (nobody would be left to undo it).
pub fn set_active(
    tx: &Transaction,
    actor: &Actor,
    user_id: i64,
    active: bool,
    now: i64,
) -> Result<User, StoreError> {
    let user = get_user(tx, user_id)?;
    if !active && actor.id == Some(user_id) {
        return Err(StoreError::Conflict(
            "you cannot disable your own account; ask another admin".into(),
        ));
    }
    tx.execute(
        "UPDATE users SET active = ?2 WHERE id = ?1",
        params![user_id, active],
    )?;
    let ended = if active {
        0
    } else {
        delete_sessions(tx, user_id)?
    };
    let action = if active {
        "user_enabled"
    } else {
        "user_disabled"
    };
    append(
        tx,
        actor,
        action,
        "user",
        Some(&user_id.to_string()),
        &format!("username={} sessions_ended={ended}", user.username),
        now,
    )?;
    get_user(tx, user_id)
}

/// Sets a new password hash (hashed by the caller, off the writer thread) and ends every
/// session of the user.
pub fn reset_password(
    tx: &Transaction,
    actor: &Actor,
    user_id: i64,
    password_hash: &str,
    now: i64,
) -> Result<usize, StoreError> {
    let user = get_user(tx, user_id)?;
    tx.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![user_id, password_hash],
    )?;
    end_sessions_audited(tx, actor, user_id, &user.username, "password_reset", now)
}

/// Ends every session of a user (a lost laptop, a shared screen): she must log in again.
pub fn revoke_sessions(
    tx: &Transaction,
    actor: &Actor,
    user_id: i64,
    now: i64,
) -> Result<usize, StoreError> {
    let user = get_user(tx, user_id)?;
    end_sessions_audited(tx, actor, user_id, &user.username, "sessions_revoked", now)
}

/// Ends every session of a user and audits `action` with how many ended.
fn end_sessions_audited(
    tx: &Transaction,
    actor: &Actor,
    user_id: i64,
    username: &str,
    action: &str,
    now: i64,
) -> Result<usize, StoreError> {
    let ended = delete_sessions(tx, user_id)?;
    append(
        tx,
        actor,
        action,
        "user",
        Some(&user_id.to_string()),
        &format!("username={username} sessions_ended={ended}"),
        now,
    )?;
    Ok(ended)
}

/// The id of the user called `username`.
pub fn user_id(conn: &rusqlite::Connection, username: &str) -> Result<i64, StoreError> {
    use rusqlite::OptionalExtension;
    conn.query_row(
        "SELECT id FROM users WHERE username = ?1",
        [username],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("user `{username}`")))
}

fn delete_sessions(tx: &Transaction, user_id: i64) -> Result<usize, StoreError> {
    Ok(tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::role::Role;
    use crate::store::users::{create_session, create_user, session_user};

    fn db() -> rusqlite::Connection {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut conn, 0).unwrap();
        conn
    }

    #[test]
    fn taking_access_away_ends_sessions_and_is_audited() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let admin = create_user(&tx, "root", "Root", Role::Admin, "h", None, 0).unwrap();
        let nurse = create_user(&tx, "n1", "N", Role::Nurse, "h", None, 0).unwrap();
        let admin_actor = Actor {
            id: Some(admin),
            name: "root".into(),
        };
        create_session(&tx, "t1", nurse, 0, 100).unwrap();
        assert!(session_user(&tx, "t1", 1).unwrap().is_some());
        let u = set_active(&tx, &admin_actor, nurse, false, 1).unwrap();
        assert!(!u.active);
        assert!(session_user(&tx, "t1", 1).unwrap().is_none());
        assert!(matches!(
            set_active(&tx, &admin_actor, admin, false, 1),
            Err(StoreError::Conflict(_))
        ));
        assert!(
            set_active(&tx, &admin_actor, nurse, true, 2)
                .unwrap()
                .active
        );
        create_session(&tx, "t2", nurse, 2, 100).unwrap();
        create_session(&tx, "t3", nurse, 2, 100).unwrap();
        assert_eq!(
            reset_password(&tx, &admin_actor, nurse, "h2", 3).unwrap(),
            2
        );
        create_session(&tx, "t4", nurse, 3, 100).unwrap();
        assert_eq!(revoke_sessions(&tx, &admin_actor, nurse, 4).unwrap(), 1);
        let actions: Vec<String> = tx
            .prepare("SELECT action FROM audit_log ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            actions,
            [
                "user_disabled",
                "user_enabled",
                "password_reset",
                "sessions_revoked"
            ]
        );
        assert!(matches!(
            revoke_sessions(&tx, &admin_actor, 999, 5),
            Err(StoreError::NotFound(_))
        ));
    }
}
