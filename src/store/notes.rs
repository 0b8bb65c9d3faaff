//! Versioned clinical notes (issue 20 item 5): a `notes` row per note and one `note_versions`
//! row per version, append-only (triggers refuse updates and deletes). `notes` mirrors the
//! latest version so the timeline and the full-text index (`note_fts`, trigram like
//! [`super::transcript_search`]) read one row.

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use serde_json::Value;

use super::transcript_search::{match_argument, SearchMode};
use super::StoreError;
use crate::followup::discipline::Discipline;
use crate::followup::note::{NoteContent, NoteKind};

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// What a note is about besides the patient; each is checked to belong to the patient.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct NoteLinks {
    #[serde(default)]
    pub call_id: Option<String>,
    #[serde(default)]
    pub answer_id: Option<i64>,
    #[serde(default)]
    pub escalation_id: Option<i64>,
}

/// Who writes a version.
#[derive(Debug, Clone)]
pub struct Author {
    pub user_id: i64,
    pub discipline: Option<Discipline>,
}

/// One version of a note.
#[derive(Debug, Clone, Serialize)]
pub struct NoteVersion {
    pub version: i64,
    pub kind: NoteKind,
    pub body: String,
    pub data: Option<Value>,
    pub author_id: i64,
    pub author_name: String,
    pub discipline: Option<String>,
    /// Why the note was corrected (versions after the first).
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A note as read: its latest version, and every version newest first in `history`.
#[derive(Debug, Clone, Serialize)]
pub struct Note {
    pub id: i64,
    pub patient_id: i64,
    pub kind: NoteKind,
    pub body: String,
    pub data: Option<Value>,
    pub version: i64,
    /// Who wrote the first version, and in which discipline.
    pub author_id: i64,
    pub author_name: String,
    pub discipline: Option<String>,
    #[serde(flatten)]
    pub links: NoteLinks,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub history: Vec<NoteVersion>,
}

fn check_links(tx: &Transaction, patient_id: i64, links: &NoteLinks) -> Result<(), StoreError> {
    let belongs = |sql: &str, id: &dyn rusqlite::ToSql, what: &str| -> Result<(), StoreError> {
        let owner: Option<Option<i64>> = tx.query_row(sql, [id], |r| r.get(0)).optional()?;
        match owner {
            Some(Some(p)) if p == patient_id => Ok(()),
            _ => Err(StoreError::Invalid(format!(
                "{what}: not a {} of patient {patient_id}",
                what.trim_end_matches("_id")
            ))),
        }
    };
    if let Some(c) = &links.call_id {
        belongs("SELECT patient_id FROM calls WHERE id = ?1", c, "call_id")?;
    }
    if let Some(a) = &links.answer_id {
        belongs(
            "SELECT patient_id FROM answers WHERE id = ?1",
            a,
            "answer_id",
        )?;
    }
    if let Some(e) = &links.escalation_id {
        belongs(
            "SELECT patient_id FROM escalations WHERE id = ?1",
            e,
            "escalation_id",
        )?;
    }
    Ok(())
}

fn data_text(content: &NoteContent) -> Option<String> {
    content.data.as_ref().map(Value::to_string)
}

/// Adds a note (version 1); returns its id.
pub fn create(
    tx: &Transaction,
    patient_id: i64,
    author: &Author,
    content: &NoteContent,
    links: &NoteLinks,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    super::patients::get_patient(tx, patient_id)?;
    check_links(tx, patient_id, links)?;
    let t = now.timestamp();
    let discipline = author.discipline.as_ref().map(Discipline::as_str);
    tx.execute(
        "INSERT INTO notes (patient_id, call_id, author_id, body, created_at, kind, data, discipline,
             answer_id, escalation_id, version, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?5)",
        params![
            patient_id,
            links.call_id,
            author.user_id,
            content.body,
            t,
            content.kind.as_str(),
            data_text(content),
            discipline,
            links.answer_id,
            links.escalation_id
        ],
    )?;
    let id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO note_versions (note_id, version, kind, body, data, author_id, discipline, created_at)
         VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![id, content.kind.as_str(), content.body, data_text(content), author.user_id, discipline, t],
    )?;
    Ok(id)
}

/// Corrects a note: a new version becomes the latest, the earlier ones stay. Returns the note's
/// patient and the new version number.
pub fn correct(
    tx: &Transaction,
    note_id: i64,
    author: &Author,
    content: &NoteContent,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(i64, i64), StoreError> {
    let (patient_id, version): (i64, i64) = tx
        .query_row(
            "SELECT patient_id, version FROM notes WHERE id = ?1",
            [note_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("note {note_id}")))?;
    let next = version + 1;
    let t = now.timestamp();
    tx.execute(
        "INSERT INTO note_versions (note_id, version, kind, body, data, author_id, discipline, reason, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            note_id,
            next,
            content.kind.as_str(),
            content.body,
            data_text(content),
            author.user_id,
            author.discipline.as_ref().map(Discipline::as_str),
            reason,
            t
        ],
    )?;
    tx.execute(
        "UPDATE notes SET body = ?2, kind = ?3, data = ?4, version = ?5, updated_at = ?6 WHERE id = ?1",
        params![note_id, content.body, content.kind.as_str(), data_text(content), next, t],
    )?;
    Ok((patient_id, next))
}

fn parse_data(text: Option<String>) -> Option<Value> {
    text.and_then(|s| serde_json::from_str(&s).ok())
}

fn history(conn: &Connection, note_id: i64) -> Result<Vec<NoteVersion>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT v.version, v.kind, v.body, v.data, v.author_id, COALESCE(u.display_name, ''),
                v.discipline, v.reason, v.created_at
         FROM note_versions v LEFT JOIN users u ON u.id = v.author_id
         WHERE v.note_id = ?1 ORDER BY v.version DESC",
    )?;
    let rows = stmt.query_map([note_id], |r| {
        Ok(NoteVersion {
            version: r.get(0)?,
            kind: NoteKind::from_stored(&r.get::<_, String>(1)?),
            body: r.get(2)?,
            data: parse_data(r.get(3)?),
            author_id: r.get(4)?,
            author_name: r.get(5)?,
            discipline: r.get(6)?,
            reason: r.get(7)?,
            created_at: ts(r.get(8)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

const NOTE_SELECT: &str =
    "SELECT n.id, n.patient_id, n.kind, n.body, n.data, n.version, n.author_id,
        COALESCE(u.display_name, ''), n.discipline, n.call_id, n.answer_id, n.escalation_id,
        n.created_at, COALESCE(n.updated_at, n.created_at)
    FROM notes n LEFT JOIN users u ON u.id = n.author_id";

fn note_row(r: &rusqlite::Row) -> rusqlite::Result<Note> {
    Ok(Note {
        id: r.get(0)?,
        patient_id: r.get(1)?,
        kind: NoteKind::from_stored(&r.get::<_, String>(2)?),
        body: r.get(3)?,
        data: parse_data(r.get(4)?),
        version: r.get(5)?,
        author_id: r.get(6)?,
        author_name: r.get(7)?,
        discipline: r.get(8)?,
        links: NoteLinks {
            call_id: r.get(9)?,
            answer_id: r.get(10)?,
            escalation_id: r.get(11)?,
        },
        created_at: ts(r.get(12)?),
        updated_at: ts(r.get(13)?),
        history: Vec::new(),
    })
}

/// One note with its history.
pub fn get(conn: &Connection, note_id: i64) -> Result<Note, StoreError> {
    let mut note = conn
        .prepare_cached(&format!("{NOTE_SELECT} WHERE n.id = ?1"))?
        .query_row([note_id], note_row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("note {note_id}")))?;
    note.history = history(conn, note_id)?;
    Ok(note)
}

/// A patient's notes, newest first, each with its history.
pub fn for_patient(conn: &Connection, patient_id: i64) -> Result<Vec<Note>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{NOTE_SELECT} WHERE n.patient_id = ?1 ORDER BY n.created_at DESC, n.id DESC"
    ))?;
    let mut notes = stmt
        .query_map([patient_id], note_row)?
        .collect::<Result<Vec<_>, _>>()?;
    for n in &mut notes {
        n.history = history(conn, n.id)?;
    }
    Ok(notes)
}

/// One note that matched a search (its latest version).
#[derive(Debug, Clone, Serialize)]
pub struct NoteHit {
    pub note_id: i64,
    pub patient_id: i64,
    pub patient_name: String,
    pub kind: NoteKind,
    pub body: String,
    pub version: i64,
    pub author_name: String,
    pub updated_at: DateTime<Utc>,
}

/// Notes whose latest text contains `q` (a literal substring, never FTS syntax), newest first.
/// From three characters the trigram index answers; shorter queries (胸痛) scan.
pub fn search(
    conn: &Connection,
    q: &str,
    limit: i64,
) -> Result<(SearchMode, Vec<NoteHit>), StoreError> {
    let q = q.trim();
    if q.is_empty() {
        return Err(StoreError::Invalid("q: must not be empty".into()));
    }
    const COLUMNS: &str = "n.id, n.patient_id, p.name, n.kind, n.body, n.version,
        COALESCE(u.display_name, ''), COALESCE(n.updated_at, n.created_at)";
    const JOINS: &str =
        "JOIN patients p ON p.id = n.patient_id LEFT JOIN users u ON u.id = n.author_id";
    let (mode, arg) = match_argument(q);
    let sql = match mode {
        SearchMode::Fts => format!(
            "SELECT {COLUMNS} FROM note_fts f JOIN notes n ON n.id = f.rowid {JOINS}
             WHERE note_fts MATCH ?1 ORDER BY n.updated_at DESC, n.id DESC LIMIT ?2"
        ),
        SearchMode::Substring => format!(
            "SELECT {COLUMNS} FROM notes n {JOINS}
             WHERE n.body LIKE ?1 ESCAPE '\\' ORDER BY n.updated_at DESC, n.id DESC LIMIT ?2"
        ),
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![arg, limit], |r| {
        Ok(NoteHit {
            note_id: r.get(0)?,
            patient_id: r.get(1)?,
            patient_name: r.get(2)?,
            kind: NoteKind::from_stored(&r.get::<_, String>(3)?),
            body: r.get(4)?,
            version: r.get(5)?,
            author_name: r.get(6)?,
            updated_at: ts(r.get(7)?),
        })
    })?;
    Ok((mode, rows.collect::<Result<_, _>>()?))
}
