//! `suifang scripts check`: every script of a directory, loaded and reported for a human.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{load_dir, ScriptCode, ScriptError};

/// One script that loaded, as listed by the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedScript {
    /// Code.
    pub code: ScriptCode,
    /// Version.
    pub version: u32,
    /// Number of questions.
    pub questions: usize,
    /// Number of rules.
    pub rules: usize,
    /// Number of transcript red flags.
    pub red_flags: usize,
    /// File it came from.
    pub file: PathBuf,
}

/// Result of `suifang scripts check`: printable, and `is_ok()` gives the exit status.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// Each script that loaded (empty when any file has an error: the catalog loads whole).
    pub loaded: Vec<LoadedScript>,
    /// Every error found, in every file.
    pub errors: Vec<ScriptError>,
}

impl CheckReport {
    /// True when every script loaded without error.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.loaded {
            writeln!(
                f,
                "ok    {} v{}: {} questions, {} rules, {} red flags ({})",
                s.code,
                s.version,
                s.questions,
                s.rules,
                s.red_flags,
                s.file.display()
            )?;
        }
        for e in &self.errors {
            writeln!(f, "error {e}")?;
        }
        if self.errors.is_empty() {
            write!(f, "{} scripts OK", self.loaded.len())
        } else {
            write!(
                f,
                "{} error(s); fix them and run `suifang scripts check` again",
                self.errors.len()
            )
        }
    }
}

/// Checks every script in `dir` and reports all of them; for the CLI.
pub fn check_dir(dir: &Path) -> CheckReport {
    match load_dir(dir) {
        Ok(catalog) => CheckReport {
            loaded: catalog
                .iter()
                .map(|s| LoadedScript {
                    code: s.code.clone(),
                    version: s.version,
                    questions: s.questions.len(),
                    rules: s.rules.len(),
                    red_flags: s.red_flags.len(),
                    file: s.source.clone(),
                })
                .collect(),
            errors: Vec::new(),
        },
        Err(errors) => CheckReport {
            loaded: Vec::new(),
            errors,
        },
    }
}
