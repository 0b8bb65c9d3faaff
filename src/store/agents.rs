//! Agents' SIP desk phones: their extension and digest hashes (`agent_extensions`), and the
//! registrar's persisted bindings (`sip_registrations`) so a restart keeps routing calls to a
//! registered phone until its registration runs out.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::audit::{append, Actor};
use super::StoreError;
use crate::auth::role::Role;
use crate::sip::registrar::{AgentAccount, Ha1};

/// An agent's extension as admins see it (never the hashes).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExtensionView {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub extension: String,
    pub realm: String,
    pub updated_at: i64,
}

/// A registered desk phone as supervisors see it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RegistrationView {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub extension: String,
    pub contact: String,
    pub source: String,
    pub transport: String,
    pub user_agent: Option<String>,
    pub registered_at: i64,
    pub expires_at: i64,
}

/// A binding to persist (times in Unix seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationRow {
    pub extension: String,
    pub contact: String,
    pub user_id: i64,
    pub source: String,
    pub transport: String,
    pub call_id: String,
    pub cseq: u32,
    pub user_agent: Option<String>,
    pub expires_at: i64,
}

/// Checks an extension: 2–6 digits, so it can never be mistaken for a phone number a desk
/// phone dials.
pub fn check_extension(extension: &str) -> Result<(), StoreError> {
    if (2..=6).contains(&extension.len()) && extension.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(StoreError::Invalid(
            "extension: use 2–6 digits, e.g. 1001".into(),
        ))
    }
}

/// Checks a SIP password: 8–128 printable characters.
pub fn check_sip_password(password: &str) -> Result<(), StoreError> {
    let n = password.chars().count();
    if !(8..=128).contains(&n) || password.chars().any(char::is_control) {
        return Err(StoreError::Invalid(
            "password: use 8–128 characters, no control characters".into(),
        ));
    }
    Ok(())
}

/// The login password hash of a user (to refuse a SIP password equal to it).
pub fn login_hash(conn: &Connection, user_id: i64) -> Result<String, StoreError> {
    conn.query_row(
        "SELECT password_hash FROM users WHERE id = ?1",
        [user_id],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("user {user_id}")))
}

/// Sets (or replaces) a user's extension and digest hashes, audited in the same transaction.
/// Only agents who take calls (nurse, supervisor, doctor) may have one. Registrations made with
/// the old credentials are dropped.
pub fn set_extension(
    tx: &Transaction,
    actor: &Actor,
    user_id: i64,
    extension: &str,
    realm: &str,
    ha1: &Ha1,
    now: i64,
) -> Result<(), StoreError> {
    check_extension(extension)?;
    let role: Option<(String, bool)> = tx
        .query_row(
            "SELECT role, active FROM users WHERE id = ?1",
            [user_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((role, active)) = role else {
        return Err(StoreError::NotFound(format!("user {user_id}")));
    };
    if !active
        || !matches!(
            Role::parse(&role),
            Some(Role::Nurse | Role::Supervisor | Role::Doctor)
        )
    {
        return Err(StoreError::Invalid(
            "user: only active nurses, supervisors and doctors take calls on a desk phone".into(),
        ));
    }
    let holder: Option<i64> = tx
        .query_row(
            "SELECT user_id FROM agent_extensions WHERE extension = ?1",
            [extension],
            |r| r.get(0),
        )
        .optional()?;
    if holder.is_some_and(|h| h != user_id) {
        return Err(StoreError::Conflict(format!(
            "extension {extension} belongs to another user"
        )));
    }
    tx.execute(
        "INSERT INTO agent_extensions (user_id, extension, realm, ha1_md5, ha1_sha256, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(user_id) DO UPDATE SET extension = excluded.extension,
             realm = excluded.realm, ha1_md5 = excluded.ha1_md5,
             ha1_sha256 = excluded.ha1_sha256, updated_at = excluded.updated_at",
        params![user_id, extension, realm, ha1.md5, ha1.sha256, now],
    )?;
    tx.execute(
        "DELETE FROM sip_registrations WHERE user_id = ?1",
        [user_id],
    )?;
    append(
        tx,
        actor,
        "sip_credentials_set",
        "user",
        Some(&user_id.to_string()),
        &format!("extension={extension} realm={realm}"),
        now,
    )
}

/// Removes a user's extension (and its registrations), audited. False if there was none.
pub fn remove_extension(
    tx: &Transaction,
    actor: &Actor,
    user_id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let ext: Option<String> = tx
        .query_row(
            "SELECT extension FROM agent_extensions WHERE user_id = ?1",
            [user_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(ext) = ext else {
        return Ok(false);
    };
    tx.execute("DELETE FROM agent_extensions WHERE user_id = ?1", [user_id])?;
    tx.execute(
        "DELETE FROM sip_registrations WHERE user_id = ?1",
        [user_id],
    )?;
    append(
        tx,
        actor,
        "sip_credentials_removed",
        "user",
        Some(&user_id.to_string()),
        &format!("extension={ext}"),
        now,
    )?;
    Ok(true)
}

/// Every extension, for admins.
pub fn extensions(conn: &Connection) -> Result<Vec<ExtensionView>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT a.user_id, u.username, u.display_name, a.extension, a.realm, a.updated_at
         FROM agent_extensions a JOIN users u ON u.id = a.user_id ORDER BY a.extension",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(ExtensionView {
            user_id: r.get(0)?,
            username: r.get(1)?,
            display_name: r.get(2)?,
            extension: r.get(3)?,
            realm: r.get(4)?,
            updated_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A user's extension, if they have one.
pub fn extension_of(conn: &Connection, user_id: i64) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT extension FROM agent_extensions WHERE user_id = ?1",
            [user_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// The accounts the registrar may authenticate: active users' extensions whose hashes were
/// made for `realm`. Also returns the extensions made for another realm (to warn about).
pub fn accounts(
    conn: &Connection,
    realm: &str,
) -> Result<(Vec<AgentAccount>, Vec<String>), StoreError> {
    let mut stmt = conn.prepare(
        "SELECT a.user_id, a.extension, a.realm, a.ha1_md5, a.ha1_sha256
         FROM agent_extensions a JOIN users u ON u.id = a.user_id
         WHERE u.active = 1 ORDER BY a.extension",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let (mut ok, mut other_realm) = (Vec::new(), Vec::new());
    for (user_id, extension, r, md5, sha256) in rows {
        if r == realm {
            ok.push(AgentAccount {
                user_id,
                extension,
                ha1: Ha1 { md5, sha256 },
            });
        } else {
            other_realm.push(extension);
        }
    }
    Ok((ok, other_realm))
}

/// Creates or refreshes a persisted binding.
pub fn upsert_registration(
    tx: &Transaction,
    row: &RegistrationRow,
    now: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO sip_registrations (extension, contact, user_id, source, transport, call_id,
                                        cseq, user_agent, registered_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(extension, contact) DO UPDATE SET user_id = excluded.user_id,
             source = excluded.source, transport = excluded.transport,
             call_id = excluded.call_id, cseq = excluded.cseq,
             user_agent = excluded.user_agent, expires_at = excluded.expires_at",
        params![
            row.extension,
            row.contact,
            row.user_id,
            row.source,
            row.transport,
            row.call_id,
            row.cseq,
            row.user_agent,
            now,
            row.expires_at
        ],
    )?;
    Ok(())
}

/// Forgets a persisted binding.
pub fn delete_registration(
    tx: &Transaction,
    extension: &str,
    contact: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM sip_registrations WHERE extension = ?1 AND contact = ?2",
        params![extension, contact],
    )?;
    Ok(())
}

/// Drops bindings that ran out while the server was down; returns how many.
pub fn purge_expired(tx: &Transaction, now: i64) -> Result<usize, StoreError> {
    Ok(tx.execute(
        "DELETE FROM sip_registrations WHERE expires_at <= ?1",
        [now],
    )?)
}

/// Bindings still valid at `now`, to restore into the registrar.
pub fn live_registrations(conn: &Connection, now: i64) -> Result<Vec<RegistrationRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT extension, contact, user_id, source, transport, call_id, cseq, user_agent,
                expires_at
         FROM sip_registrations WHERE expires_at > ?1",
    )?;
    let rows = stmt.query_map([now], |r| {
        Ok(RegistrationRow {
            extension: r.get(0)?,
            contact: r.get(1)?,
            user_id: r.get(2)?,
            source: r.get(3)?,
            transport: r.get(4)?,
            call_id: r.get(5)?,
            cseq: r.get(6)?,
            user_agent: r.get(7)?,
            expires_at: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Registered desk phones for supervisors and admins (no secrets here to hide).
pub fn registrations(conn: &Connection, now: i64) -> Result<Vec<RegistrationView>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT s.user_id, u.username, u.display_name, s.extension, s.contact, s.source,
                s.transport, s.user_agent, s.registered_at, s.expires_at
         FROM sip_registrations s JOIN users u ON u.id = s.user_id
         WHERE s.expires_at > ?1 ORDER BY s.extension, s.contact",
    )?;
    let rows = stmt.query_map([now], |r| {
        Ok(RegistrationView {
            user_id: r.get(0)?,
            username: r.get(1)?,
            display_name: r.get(2)?,
            extension: r.get(3)?,
            contact: r.get(4)?,
            source: r.get(5)?,
            transport: r.get(6)?,
            user_agent: r.get(7)?,
            registered_at: r.get(8)?,
            expires_at: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{temp_store as store, Store};

    fn user(s: &Store, name: &str, role: Role) -> i64 {
        let name = name.to_owned();
        s.write_blocking(move |tx| {
            crate::store::users::create_user(tx, &name, &name, role, "x", None, 1)
        })
        .unwrap()
    }

    #[test]
    fn extensions_are_hashed_checked_audited_and_drop_old_registrations() {
        let (_d, s) = store();
        let nurse = user(&s, "n1", Role::Nurse);
        let other = user(&s, "n2", Role::Nurse);
        let admin = user(&s, "a1", Role::Admin);
        let actor = Actor::system("test");
        let ha1 = Ha1::compute("1001", "suifang", "pw-123456");
        let (a, h) = (actor.clone(), ha1.clone());
        s.write_blocking(move |tx| set_extension(tx, &a, nurse, "1001", "suifang", &h, 10))
            .unwrap();
        let row = RegistrationRow {
            extension: "1001".into(),
            contact: "sip:1001@127.0.0.1:5099".into(),
            user_id: nurse,
            source: "127.0.0.1:5099".into(),
            transport: "udp".into(),
            call_id: "c".into(),
            cseq: 1,
            user_agent: Some("baresip".into()),
            expires_at: 500,
        };
        let r = row.clone();
        s.write_blocking(move |tx| upsert_registration(tx, &r, 20))
            .unwrap();
        let shown = s.read_blocking(|c| registrations(c, 100)).unwrap();
        assert_eq!(shown.len(), 1);
        assert_eq!(
            (shown[0].username.as_str(), shown[0].registered_at),
            ("n1", 20)
        );
        assert!(
            s.read_blocking(|c| registrations(c, 500))
                .unwrap()
                .is_empty(),
            "expired"
        );
        // taken, bad, or not an agent
        for (uid, ext, want) in [
            (other, "1001", "belongs to another user"),
            (other, "12345678", "2–6 digits"),
            (other, "10a1", "2–6 digits"),
            (admin, "2001", "nurses, supervisors and doctors"),
        ] {
            let (a, h) = (actor.clone(), ha1.clone());
            let err = s
                .write_blocking(move |tx| set_extension(tx, &a, uid, ext, "suifang", &h, 11))
                .unwrap_err();
            assert!(err.to_string().contains(want), "{ext}: {err}");
        }
        // a new password drops the registration made with the old one
        let (a, h) = (actor.clone(), Ha1::compute("1001", "suifang", "another-pw"));
        s.write_blocking(move |tx| set_extension(tx, &a, nurse, "1001", "suifang", &h, 30))
            .unwrap();
        assert!(s
            .read_blocking(|c| registrations(c, 100))
            .unwrap()
            .is_empty());
        let (found, stale) = s.read_blocking(|c| accounts(c, "suifang")).unwrap();
        assert_eq!(found.len(), 1);
        assert!(stale.is_empty());
        assert_eq!(
            s.read_blocking(|c| accounts(c, "elsewhere")).unwrap().1,
            vec!["1001"]
        );
        // nothing secret in the audit, and the chain holds
        let audit: Vec<String> = s
            .read_blocking(|c| {
                let mut st = c.prepare("SELECT action || ' ' || detail FROM audit_log")?;
                let rows = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                Ok(rows)
            })
            .unwrap();
        assert_eq!(
            audit
                .iter()
                .filter(|a| a.starts_with("sip_credentials_set"))
                .count(),
            2
        );
        assert!(audit
            .iter()
            .all(|a| !a.contains(&ha1.md5) && !a.contains("pw-123456")));
        let a = actor.clone();
        assert!(s
            .write_blocking(move |tx| remove_extension(tx, &a, nurse, 40))
            .unwrap());
        let a = actor.clone();
        assert!(!s
            .write_blocking(move |tx| remove_extension(tx, &a, nurse, 41))
            .unwrap());
        assert!(s.read_blocking(extensions).unwrap().is_empty());
        assert!(s
            .read_blocking(crate::store::audit::verify)
            .unwrap()
            .broken_at
            .is_none());
    }

    #[test]
    fn passwords_and_extensions_table() {
        for (ext, ok) in [
            ("10", true),
            ("100199", true),
            ("1", false),
            ("1234567", false),
            ("", false),
            ("12 3", false),
        ] {
            assert_eq!(check_extension(ext).is_ok(), ok, "{ext:?}");
        }
        for (pw, ok) in [("12345678", true), ("short", false), ("tab\there!", false)] {
            assert_eq!(check_sip_password(pw).is_ok(), ok, "{pw:?}");
        }
        assert!(check_sip_password(&"x".repeat(129)).is_err());
    }
}
