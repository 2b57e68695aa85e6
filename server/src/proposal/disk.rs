//! Writing accepted (or undone) hunks of files the editor does not have open.
//!
//! The user's files must never be left half-written: every write goes to a temporary
//! file in the same directory and replaces the target with one rename.
//! The caller checks, right before, that the file still holds the text the hunks were
//! computed for; this module only does the I/O and says what failed in words.

use std::io::Write;
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
    let mut temp = tempfile_in(dir).map_err(|e| fail("create a temporary file next to", e))?;
    // No fsync, like `git apply` and `agentls apply`: the rename already keeps readers
    // from ever seeing half a file, and a flush per file costs seconds on a large accept.
    temp.1
        .write_all(text.as_bytes())
        .map_err(|e| fail("write", e))?;
    // Keep the file's permissions: an executable script stays executable.
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&temp.0, meta.permissions());
    }
    std::fs::rename(&temp.0, path).map_err(|e| {
        let _ = std::fs::remove_file(&temp.0);
        fail("replace", e)
    })
}

pub(super) fn remove(path: &Path) -> Result<(), String> {
    std::fs::remove_file(path).map_err(|e| format!("cannot delete {}: {e}", path.display()))
}

/// A new file next to where the target will be (same filesystem, so the rename is
/// atomic), named so that two writers cannot collide.
fn tempfile_in(dir: &Path) -> std::io::Result<(std::path::PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".agentls-write-{}-{n}.tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
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
