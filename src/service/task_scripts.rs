//! Scripts added to a task in hand: a nurse on a call-back hears chest pain and starts the
//! chest-pain script (AHA warning signs) next to the task's own script, so its rules and advice
//! work during the call (issue 20 item 8: the script shipped but nothing could start it).

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::ServiceError;
use crate::followup::script::{Script, ScriptCatalog};
use crate::store::audit::{append, Actor};
use crate::store::users::User;
use crate::store::StoreError;

/// Why a script cannot be added.
#[derive(Debug, thiserror::Error)]
pub enum AddScriptError {
    /// Only the nurse working the task adds scripts to it.
    #[error("claim task {0} before adding a script to it")]
    NotHeld(i64),
    /// The script is already on the task.
    #[error("script `{0}` is already on this task")]
    AlreadyThere(String),
    /// Answers are keyed by task and question: two scripts of one task may not share an id.
    #[error("script `{script}` asks `{question}`, which `{other}` on this task asks too; answer it there")]
    SharedQuestion {
        script: String,
        question: String,
        other: String,
    },
}

/// The task's scripts: its own (the pathway step's) first, then the added ones in order.
pub fn scripts_of_task(conn: &Connection, task_id: i64) -> Result<Vec<String>, StoreError> {
    let own: Option<Option<String>> = conn
        .query_row(
            "SELECT script_code FROM followup_tasks WHERE id = ?1",
            [task_id],
            |r| r.get(0),
        )
        .optional()?;
    let own = own.ok_or_else(|| StoreError::NotFound(format!("task {task_id}")))?;
    let mut stmt = conn.prepare_cached(
        "SELECT script_code FROM task_scripts WHERE task_id = ?1 ORDER BY added_at, script_code",
    )?;
    let added = stmt
        .query_map([task_id], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(own.into_iter().chain(added).collect())
}

/// The script of `scripts` (codes of one task) that asks `question`, if any.
pub fn script_asking<'a>(
    catalog: &'a ScriptCatalog,
    scripts: &[String],
    question: &str,
) -> Option<&'a Script> {
    scripts
        .iter()
        .filter_map(|c| catalog.get(c))
        .find(|s| s.question(question).is_some())
}

/// Adds `code` to the task `user` holds; returns the task's scripts after it. Audited.
pub fn add_script(
    tx: &Transaction,
    catalog: &ScriptCatalog,
    user: &User,
    task_id: i64,
    code: &str,
    now: DateTime<Utc>,
) -> Result<Vec<String>, ServiceError> {
    let t = now.timestamp();
    let script = catalog
        .get(code)
        .ok_or_else(|| ServiceError::UnknownScript(code.to_owned()))?;
    let holds: Option<bool> = tx
        .query_row(
            "SELECT lease_owner = ?2 AND lease_expires_at > ?3 AND status = 'pending'
             FROM followup_tasks WHERE id = ?1",
            params![task_id, user.id, t],
            |r| r.get(0),
        )
        .optional()?;
    match holds {
        None => return Err(StoreError::NotFound(format!("task {task_id}")).into()),
        Some(false) => return Err(AddScriptError::NotHeld(task_id).into()),
        Some(true) => {}
    }
    let existing = scripts_of_task(tx, task_id)?;
    if existing.iter().any(|c| c == code) {
        return Err(AddScriptError::AlreadyThere(code.to_owned()).into());
    }
    for q in &script.questions {
        if let Some(other) = script_asking(catalog, &existing, q.id.as_str()) {
            return Err(AddScriptError::SharedQuestion {
                script: code.to_owned(),
                question: q.id.to_string(),
                other: other.code.to_string(),
            }
            .into());
        }
    }
    tx.execute(
        "INSERT INTO task_scripts (task_id, script_code, added_by, added_at) VALUES (?1, ?2, ?3, ?4)",
        params![task_id, code, user.id, t],
    )?;
    let actor = Actor {
        id: Some(user.id),
        name: user.username.clone(),
    };
    append(
        tx,
        &actor,
        "add_script",
        "task",
        Some(&task_id.to_string()),
        code,
        t,
    )?;
    Ok(existing.into_iter().chain([code.to_owned()]).collect())
}
