//! Writing accepted (or undone) hunks of files the editor does not have open.
//!
//! The user's files must never be left half-written: every write goes to a temporary
//! file in the same directory and replaces the target with one rename
//! ([`crate::safe_write`], which also keeps a crash from leaving the temporary file).
//! The caller checks, right before, that the file still holds the text the hunks were
//! computed for; this module only does the I/O and says what failed in words.

use std::path::Path;

/// The file's text, `None` if it does not exist. A file that exists but cannot be read
/// as UTF-8 is an error, not an absence.
pub(super) fn read(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Replaces (or creates, with its directories) `path` with `text` atomically.
pub(crate) fn write(path: &Path, text: &str) -> Result<(), String> {
    let fail = |what: &str, e: std::io::Error| format!("cannot {what} {}: {e}", path.display());
    let dir = path
        .parent()
        .ok_or_else(|| format!("{} has no parent directory", path.display()))?;
    std::fs::create_dir_all(dir).map_err(|e| fail("create the directory of", e))?;
    // Keep the file's permissions: an executable script stays executable.
    let permissions = std::fs::metadata(path).ok().map(|meta| meta.permissions());
    // No fsync, like `git apply` and `agentls apply`: the rename already keeps readers
    // from ever seeing half a file, and a flush per file costs seconds on a large accept.
    crate::safe_write::replace(path, text.as_bytes(), permissions.as_ref(), false)
        .map_err(|e| fail("write", e))
}

pub(super) fn remove(path: &Path) -> Result<(), String> {
    std::fs::remove_file(path).map_err(|e| format!("cannot delete {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("sub/a.txt");
        write(&file, "one\n").expect("first write");
        write(&file, "two\n").expect("second write");
        assert_eq!(read(&file).expect("read"), Some("two\n".into()));
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["a.txt"]);
        remove(&file).expect("remove");
        assert_eq!(read(&file).expect("read"), None);
    }
}
