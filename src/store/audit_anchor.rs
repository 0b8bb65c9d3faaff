//! The audit log's anchor outside the database.
//!
//! The hash chain in `audit_log` catches an edited or deleted row in the middle, but not the
//! newest rows deleted from the end (what is left is still a valid chain), nor a chain
//! rewritten from some row on (SHA-256 needs no secret). So the head of the chain — the newest
//! row's id and hash — is exported on a schedule to an append-only file, each line signed with
//! HMAC-SHA256 under a key that is not in the database (`SUIFANG_AUDIT_KEY`, else a 0600 key
//! file). `suifang audit verify` checks that the chain still contains the last anchored row
//! with the anchored hash: rows deleted from the end, or a chain rewritten before the anchor,
//! are reported, and a forged anchor line fails its signature.

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use sha2::Sha256;

/// Why the anchor could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error("audit anchor {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("audit key {path}: {message}")]
    Key { path: PathBuf, message: String },
    #[error("audit anchor: {0}")]
    Store(#[from] rusqlite::Error),
    /// The chain no longer holds the last anchored head: no new head is anchored over it, so
    /// the evidence stays until someone looks.
    #[error("audit log does not match its anchor ({path}, line {line}): {why}")]
    Broken {
        path: PathBuf,
        line: usize,
        why: String,
    },
}

/// Shortest key accepted (bytes): HMAC-SHA256 keys shorter than its output weaken it.
const MIN_KEY_BYTES: usize = 32;

/// The secret the anchor lines are signed with; never stored in the database.
#[derive(Clone)]
pub struct AuditKey(Vec<u8>);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(…)")
    }
}

impl AuditKey {
    /// `from_env` (`SUIFANG_AUDIT_KEY`) if given, else the key file, created with 32 random
    /// bytes (hex, mode 0600) when `create` and it does not exist yet.
    pub fn load(
        from_env: Option<&str>,
        file: &Path,
        create: bool,
    ) -> Result<Option<AuditKey>, AnchorError> {
        let bad = |message: String| AnchorError::Key {
            path: file.to_path_buf(),
            message,
        };
        if let Some(key) = from_env {
            if key.len() < MIN_KEY_BYTES {
                return Err(AnchorError::Key {
                    path: PathBuf::from("SUIFANG_AUDIT_KEY"),
                    message: format!("must be at least {MIN_KEY_BYTES} characters"),
                });
            }
            return Ok(Some(AuditKey(key.as_bytes().to_vec())));
        }
        match std::fs::read_to_string(file) {
            Ok(text) => {
                let key = text.trim();
                if key.len() < MIN_KEY_BYTES {
                    return Err(bad(format!(
                        "must hold at least {MIN_KEY_BYTES} characters"
                    )));
                }
                Ok(Some(AuditKey(key.as_bytes().to_vec())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let mut bytes = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut bytes);
                let key = hex::encode(bytes);
                let io = |source| AnchorError::Io {
                    path: file.to_path_buf(),
                    source,
                };
                if let Some(dir) = file.parent() {
                    crate::private_fs::create_dir_all(dir).map_err(io)?;
                }
                let mut f = crate::private_fs::create_file(file).map_err(io)?;
                f.write_all(key.as_bytes()).map_err(io)?;
                f.sync_all().map_err(io)?;
                tracing::info!(file = %file.display(), "audit key created; keep a copy outside this machine");
                Ok(Some(AuditKey(key.into_bytes())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(AnchorError::Io {
                path: file.to_path_buf(),
                source,
            }),
        }
    }

    fn sign(&self, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(body.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn signed(&self, body: &str, signature: &str) -> bool {
        let Ok(expected) = hex::decode(signature) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(body.as_bytes());
        mac.verify_slice(&expected).is_ok() // constant time
    }
}

/// One anchored head: the newest audit row at `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    pub id: i64,
    pub hash: String,
    pub at: i64,
}

/// What the anchor says about the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AnchorCheck {
    /// No anchor file (or no key): deletions from the end cannot be detected.
    Absent,
    /// The chain still holds the last anchored row with its hash.
    Holds { anchored: Head },
    /// It does not: rows were deleted from the end, or the chain was rewritten.
    Broken { line: usize, why: String },
}

/// The anchor file and its key.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub path: PathBuf,
    key: AuditKey,
}

const VERSION: &str = "v1";

impl Anchor {
    pub fn new(path: PathBuf, key: AuditKey) -> Anchor {
        Anchor { path, key }
    }

    /// The anchor at `path` with the key from `key_env` or `key_file` (created when `create`,
    /// i.e. by the server; `None` when there is no key yet, so nothing was ever anchored).
    pub fn open(
        path: PathBuf,
        key_env: Option<&str>,
        key_file: &Path,
        create: bool,
    ) -> Result<Option<Anchor>, AnchorError> {
        Ok(AuditKey::load(key_env, key_file, create)?.map(|key| Anchor::new(path, key)))
    }

    fn io(&self, source: std::io::Error) -> AnchorError {
        AnchorError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Appends the chain's current head unless it is the last line already; returns the
    /// anchored row id when a line was written. Refuses (`Broken`) when the chain no longer
    /// holds the last anchored head.
    pub fn write(&self, conn: &Connection, now: i64) -> Result<Option<i64>, AnchorError> {
        let Some((id, hash)) = head(conn)? else {
            return Ok(None);
        };
        match self.check(conn)? {
            AnchorCheck::Broken { line, why } => {
                // anchoring the shortened chain would make it look whole again
                return Err(AnchorError::Broken {
                    path: self.path.clone(),
                    line,
                    why,
                });
            }
            AnchorCheck::Holds { anchored } if anchored.id == id && anchored.hash == hash => {
                return Ok(None);
            }
            _ => {}
        }
        let body = format!("{VERSION} {id} {hash} {now}");
        let line = format!("{body} {}\n", self.key.sign(&body));
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&self.path).map_err(|e| self.io(e))?;
        // one write of the whole line: appends of concurrent writers never interleave
        f.write_all(line.as_bytes()).map_err(|e| self.io(e))?;
        f.sync_data().map_err(|e| self.io(e))?;
        Ok(Some(id))
    }

    /// Checks the chain in `conn` against the last line of the anchor file.
    pub fn check(&self, conn: &Connection) -> Result<AnchorCheck, AnchorError> {
        let Some((line_no, line)) = self.last_line()? else {
            return Ok(AnchorCheck::Absent);
        };
        let anchored = match self.parse(&line) {
            Ok(h) => h,
            Err(why) => return Ok(AnchorCheck::Broken { line: line_no, why }),
        };
        let stored: Option<String> = conn
            .query_row(
                "SELECT hash FROM audit_log WHERE id = ?1",
                [anchored.id],
                |r| r.get(0),
            )
            .optional()?;
        let newest = head(conn)?.map(|(id, _)| id).unwrap_or(0);
        Ok(match stored {
            None => AnchorCheck::Broken {
                line: line_no,
                why: format!(
                    "row {} was anchored but the log ends at row {newest}: the newest rows were deleted",
                    anchored.id
                ),
            },
            Some(h) if h != anchored.hash => AnchorCheck::Broken {
                line: line_no,
                why: format!(
                    "row {} does not have the anchored hash: the log was rewritten",
                    anchored.id
                ),
            },
            Some(_) => AnchorCheck::Holds { anchored },
        })
    }

    fn parse(&self, line: &str) -> Result<Head, String> {
        let parts: Vec<&str> = line.split(' ').collect();
        let [VERSION, id, hash, at, signature] = parts.as_slice() else {
            return Err("malformed anchor line".into());
        };
        let body = format!("{VERSION} {id} {hash} {at}");
        if !self.key.signed(&body, signature) {
            return Err(
                "anchor line is not signed with this audit key (forged, or another key)".into(),
            );
        }
        match (id.parse(), at.parse()) {
            (Ok(id), Ok(at)) => Ok(Head {
                id,
                hash: hash.to_string(),
                at,
            }),
            _ => Err("malformed anchor line".into()),
        }
    }

    /// The last non-empty line and its number (1-based), if the file exists.
    fn last_line(&self) -> Result<Option<(usize, String)>, AnchorError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(e)),
        };
        Ok(text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .last()
            .map(|(i, l)| (i + 1, l.trim().to_string())))
    }
}

fn head(conn: &Connection) -> Result<Option<(i64, String)>, rusqlite::Error> {
    conn.query_row(
        "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::audit::{append, Actor};
    use crate::store::temp_store;

    fn add(store: &crate::store::Store, n: i64) {
        for i in 0..n {
            store
                .write_blocking(move |tx| append(tx, &Actor::system("t"), "a", "e", None, "", i))
                .unwrap();
        }
    }

    #[test]
    fn deleting_the_newest_rows_or_forging_the_anchor_is_caught() {
        let (dir, store) = temp_store();
        let key_file = dir.path().join("audit.key");
        assert!(AuditKey::load(None, &key_file, false).unwrap().is_none());
        let key = AuditKey::load(None, &key_file, true).unwrap().unwrap();
        let anchor = Anchor::new(dir.path().join("audit-anchor.log"), key.clone());
        assert_eq!(
            store
                .read_blocking(|c| Ok(anchor.check(c).unwrap()))
                .unwrap(),
            AnchorCheck::Absent
        );
        add(&store, 3);
        assert_eq!(
            store
                .read_blocking(|c| Ok(anchor.write(c, 10).unwrap()))
                .unwrap(),
            Some(3)
        );
        // nothing new: no new line
        assert_eq!(
            store
                .read_blocking(|c| Ok(anchor.write(c, 11).unwrap()))
                .unwrap(),
            None
        );
        add(&store, 2);
        store
            .read_blocking(|c| Ok(anchor.write(c, 12).unwrap()))
            .unwrap();
        let check = store
            .read_blocking(|c| Ok(anchor.check(c).unwrap()))
            .unwrap();
        assert!(
            matches!(check, AnchorCheck::Holds { ref anchored } if anchored.id == 5),
            "{check:?}"
        );

        // the two newest rows deleted: the chain left is valid, the anchor is not
        store
            .write_blocking(|tx| {
                tx.execute_batch(
                    "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE id > 3;",
                )?;
                Ok(())
            })
            .unwrap();
        assert_eq!(
            store
                .read_blocking(crate::store::audit::verify)
                .unwrap()
                .broken_at,
            None
        );
        let check = store
            .read_blocking(|c| Ok(anchor.check(c).unwrap()))
            .unwrap();
        assert!(
            matches!(check, AnchorCheck::Broken { line: 2, ref why } if why.contains("deleted")),
            "{check:?}"
        );
        // and the server does not anchor the shortened chain over the evidence
        let refused = store
            .read_blocking(|c| Ok(anchor.write(c, 13).is_err()))
            .unwrap();
        assert!(refused);

        // a line written without the key does not count
        let text = std::fs::read_to_string(&anchor.path).unwrap();
        let forged = text.lines().next().unwrap().replace(" 10 ", " 12 ");
        std::fs::write(&anchor.path, format!("{text}{forged}\n")).unwrap();
        let check = store
            .read_blocking(|c| Ok(anchor.check(c).unwrap()))
            .unwrap();
        assert!(
            matches!(check, AnchorCheck::Broken { ref why, .. } if why.contains("not signed")),
            "{check:?}"
        );

        // a different key cannot vouch for the file either
        let other = AuditKey::load(Some(&"k".repeat(40)), &key_file, false)
            .unwrap()
            .unwrap();
        let foreign = Anchor::new(dir.path().join("audit-anchor.log"), other);
        let check = store
            .read_blocking(|c| Ok(foreign.check(c).unwrap()))
            .unwrap();
        assert!(matches!(check, AnchorCheck::Broken { .. }), "{check:?}");
        assert!(AuditKey::load(Some("short"), &key_file, false).is_err());
    }
}
