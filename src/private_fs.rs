//! Files only the server's own account may read: the database (patients, phone numbers, the
//! audit log) and call recordings. Created owner-only (0600 files, 0700 folders) whatever the
//! process umask is, since a default umask of 022 leaves them readable by every local user.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

/// `create_dir_all`, with every folder it creates owner-only (0700). Existing folders are
/// left as they are: an operator may have chosen a group on purpose.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(path)
}

/// Creates (or truncates) a file readable and writable by the owner only (0600).
pub fn create_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)
}

/// Creates an empty owner-only file unless one exists, so a library that creates the file
/// itself (SQLite) finds it already there with the right mode. SQLite gives its `-wal` and
/// `-shm` files the database file's mode.
pub fn ensure_file(path: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folders_and_files_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        create_dir_all(&deep).unwrap();
        for p in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&dir.path().join(p)), 0o700, "{p}");
        }
        create_file(&deep.join("x.wav")).unwrap();
        assert_eq!(mode(&deep.join("x.wav")), 0o600);
        ensure_file(&deep.join("db")).unwrap();
        std::fs::write(deep.join("db"), b"kept").unwrap();
        ensure_file(&deep.join("db")).unwrap();
        assert_eq!(std::fs::read(deep.join("db")).unwrap(), b"kept");
        assert_eq!(mode(&deep.join("db")), 0o600);
    }
}
