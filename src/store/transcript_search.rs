//! Full-text search over transcript segments.
//!
//! `transcript_fts` uses SQLite's FTS5 `trigram` tokenizer: Chinese has no spaces between words,
//! so a word tokenizer would index whole clauses; trigrams match any substring of three or more
//! characters in Chinese and English alike (case-insensitively). A trigram index cannot answer
//! a query shorter than three characters (two-character words such as 胸痛 are common), so those
//! fall back to a `LIKE` substring scan of the segments, which is slower but exact.

use rusqlite::{params, Connection};
use serde::Serialize;

use super::phi_access::CallReader;
use super::transcripts::{RecordingId, TranscriptId};
use super::StoreError;
use crate::followup::rules::Speaker;

/// How a query was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// The FTS5 trigram index (three characters or more).
    Fts,
    /// A substring scan (queries of one or two characters).
    Substring,
}

/// One matching segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub segment_id: i64,
    pub transcript_id: TranscriptId,
    pub recording_id: RecordingId,
    pub call_id: String,
    pub model: String,
    pub speaker: Speaker,
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

/// Shortest query the trigram index can answer, in characters.
pub const TRIGRAM_MIN_CHARS: usize = 3;

/// How a search text is matched, and the value the query binds for it (transcripts and
/// notes): from [`TRIGRAM_MIN_CHARS`] characters a quoted FTS5 phrase (with trigrams, any
/// substring; quotes inside are doubled, so user input never reaches FTS5's query syntax),
/// below it a `LIKE` pattern with `\`, `%` and `_` escaped (for `ESCAPE '\'`).
pub fn match_argument(q: &str) -> (SearchMode, String) {
    if q.chars().count() >= TRIGRAM_MIN_CHARS {
        (SearchMode::Fts, format!("\"{}\"", q.replace('"', "\"\"")))
    } else {
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        (SearchMode::Substring, format!("%{escaped}%"))
    }
}

/// Segments containing `q` (a literal substring, not FTS syntax), newest transcripts first.
pub fn search(
    conn: &Connection,
    q: &str,
    limit: i64,
    reader: CallReader,
) -> Result<(SearchMode, Vec<Hit>), StoreError> {
    let q = q.trim();
    if q.is_empty() {
        return Err(StoreError::Invalid("q: must not be empty".into()));
    }
    const COLUMNS: &str = "s.id, s.transcript_id, t.recording_id, r.call_id, t.model, s.channel,
        s.start_ms, s.end_ms, s.text";
    // A nurse finds only what she may read (store::phi_access), so the LIMIT counts her hits.
    let scope = CallReader::sql_term(3, 4);
    let (user, now) = reader.bindings();
    let (mode, arg) = match_argument(q);
    let sql = match mode {
        SearchMode::Fts => format!(
            "SELECT {COLUMNS} FROM transcript_fts f
             JOIN transcript_segments s ON s.id = f.rowid
             JOIN transcripts t ON t.id = s.transcript_id
             JOIN recordings r ON r.id = t.recording_id
             LEFT JOIN calls c ON c.id = r.call_id
             WHERE transcript_fts MATCH ?1 AND t.status = 'done' AND {scope}
             ORDER BY t.id DESC, s.start_ms LIMIT ?2"
        ),
        SearchMode::Substring => format!(
            "SELECT {COLUMNS} FROM transcript_segments s
             JOIN transcripts t ON t.id = s.transcript_id
             JOIN recordings r ON r.id = t.recording_id
             LEFT JOIN calls c ON c.id = r.call_id
             WHERE s.text LIKE ?1 ESCAPE '\\' AND t.status = 'done' AND {scope}
             ORDER BY t.id DESC, s.start_ms LIMIT ?2"
        ),
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![arg, limit, user, now], |r| {
        Ok(Hit {
            segment_id: r.get(0)?,
            transcript_id: TranscriptId(r.get(1)?),
            recording_id: RecordingId(r.get(2)?),
            call_id: r.get(3)?,
            model: r.get(4)?,
            speaker: if r.get::<_, String>(5)? == "patient" {
                Speaker::Patient
            } else {
                Speaker::Agent
            },
            start_ms: r.get::<_, i64>(6)?.max(0) as u64,
            end_ms: r.get::<_, i64>(7)?.max(0) as u64,
            text: r.get(8)?,
        })
    })?;
    Ok((mode, rows.collect::<Result<_, _>>()?))
}
