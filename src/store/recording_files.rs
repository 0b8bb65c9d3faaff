//! Where recordings live on disk and how their paths are kept in `recordings.path`: the one rule
//! every reader and writer of a recording's file goes through.
//!
//! A path is stored **relative to the recordings folder** (`2026/12/06/<call-id>.wav`), so the
//! folder can be moved or mounted elsewhere and a relative `data_dir` (the demo's `.`) cannot
//! make a path be joined to the folder twice (`./recordings/./recordings/…`, which lost the
//! demo's recordings). A file outside the folder (a recording made before the folder moved) is
//! stored absolute and resolved as is.

use std::path::{Component, Path, PathBuf};

use rusqlite::{params, Transaction};

use super::StoreError;

/// The recordings folder, made absolute once so that the engine's paths and the stored ones
/// agree whatever the working directory was when they were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingsRoot {
    dir: PathBuf,
}

impl RecordingsRoot {
    /// The folder `dir` (relative to the working directory if relative).
    pub fn new(dir: &Path) -> RecordingsRoot {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        RecordingsRoot {
            dir: normalize(&dir),
        }
    }

    /// The absolute folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The form `file` is stored in: relative to the folder (with `/`) when it is inside it,
    /// else absolute.
    pub fn stored(&self, file: &Path) -> String {
        let absolute = normalize(&std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf()));
        match absolute.strip_prefix(&self.dir) {
            Ok(relative) => relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
            Err(_) => absolute.to_string_lossy().into_owned(),
        }
    }

    /// The file a stored path names.
    pub fn resolve(&self, stored: impl AsRef<Path>) -> PathBuf {
        let stored = stored.as_ref();
        if stored.is_absolute() {
            stored.to_path_buf()
        } else {
            self.dir.join(stored)
        }
    }

    /// Rewrites rows stored as absolute paths inside this folder to the relative form (rows
    /// written before paths were stored relative, or by a server whose folder was given
    /// absolute); returns how many changed. Relative rows of the old default layout
    /// (`./recordings/…`) are repaired by migration 0008.
    pub fn relativize_rows(&self, tx: &Transaction) -> Result<usize, StoreError> {
        let prefix = format!("{}/", self.dir.to_string_lossy().trim_end_matches('/'));
        let changed = tx.execute(
            "UPDATE recordings SET path = substr(path, length(?1) + 1)
             WHERE substr(path, 1, length(?1)) = ?1",
            params![prefix],
        )?;
        Ok(changed)
    }
}

/// Drops `.` components and folds `..` where it can (no symlinks are resolved).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_inside_the_folder_are_stored_relative_and_resolved_back() {
        let root = RecordingsRoot::new(Path::new("/srv/suifang/recordings"));
        let file = Path::new("/srv/suifang/recordings/2026/12/06/c1.wav");
        assert_eq!(root.stored(file), "2026/12/06/c1.wav");
        assert_eq!(root.resolve("2026/12/06/c1.wav"), file);
    }

    #[test]
    fn a_relative_data_dir_is_not_joined_twice() {
        // the demo: data_dir ".", so the folder is "./recordings" and the engine writes
        // "./recordings/2026/…" — both are taken relative to the working directory
        let root = RecordingsRoot::new(Path::new("./recordings"));
        let stored = root.stored(Path::new("./recordings/2026/12/06/c1.wav"));
        assert_eq!(stored, "2026/12/06/c1.wav");
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            root.resolve(&stored),
            cwd.join("recordings/2026/12/06/c1.wav")
        );
        assert!(root.dir().is_absolute());
    }

    #[test]
    fn files_outside_the_folder_stay_absolute() {
        let root = RecordingsRoot::new(Path::new("/srv/suifang/recordings"));
        assert_eq!(root.stored(Path::new("/mnt/old/c1.wav")), "/mnt/old/c1.wav");
        assert_eq!(
            root.resolve("/mnt/old/c1.wav"),
            Path::new("/mnt/old/c1.wav")
        );
        // a sibling whose name merely starts with the folder's name is outside it
        assert_eq!(
            root.stored(Path::new("/srv/suifang/recordings-old/c1.wav")),
            "/srv/suifang/recordings-old/c1.wav"
        );
    }

    #[test]
    fn absolute_rows_inside_the_folder_are_made_relative() {
        let (_dir, store) = crate::store::temp_store();
        let root = RecordingsRoot::new(Path::new("/srv/rec"));
        let changed = store
            .write_blocking(move |tx| {
                for (call, path) in [
                    ("a", "/srv/rec/2026/01/02/a.wav"),
                    ("b", "/srv/rec-old/b.wav"),
                    ("c", "2026/01/02/c.wav"),
                ] {
                    tx.execute(
                        "INSERT INTO calls (id, direction, state, started_at) VALUES (?1, 'outbound', 'ended', 0)",
                        [call],
                    )?;
                    tx.execute(
                        "INSERT INTO recordings (call_id, path, status, created_at) VALUES (?1, ?2, 'complete', 0)",
                        params![call, path],
                    )?;
                }
                root.relativize_rows(tx)
            })
            .unwrap();
        assert_eq!(changed, 1);
        let paths: Vec<String> = store
            .read_blocking(|c| {
                let mut s = c.prepare("SELECT path FROM recordings ORDER BY call_id")?;
                let rows = s
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()?;
                Ok(rows)
            })
            .unwrap();
        assert_eq!(
            paths,
            ["2026/01/02/a.wav", "/srv/rec-old/b.wav", "2026/01/02/c.wav"]
        );
    }
}
