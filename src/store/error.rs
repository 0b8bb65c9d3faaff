use thiserror::Error;

/// Errors of the storage layer.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot open database {path}: {message}")]
    Open { path: String, message: String },
    #[error(
        "the database is at schema version {found}, newer than this binary knows ({known}); \
         run a newer suifang or restore a backup"
    )]
    TooNew { found: u32, known: u32 },
    #[error("migration {version} was edited after it was applied (checksum differs); restore it")]
    MigrationEdited { version: u32 },
    #[error("the storage thread has stopped")]
    Closed,
    #[error("{0} not found")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid: {0}")]
    Invalid(String),
    /// Rows of an import that the database refused; the transaction was rolled back.
    #[error("{} rows rejected", .0.len())]
    Rejected(Vec<crate::followup::import::LineError>),
}
