//! Trees of files on disk for the tests: a throwaway workspace, a task view over it, what
//! a tree holds (to compare before and after), copies, and git run inside one.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use agentls::workspace::TaskView;
use tempfile::TempDir;

/// A temporary directory holding `files` (relative path, text), parents created.
pub fn workspace(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        let full = dir.path().join(path);
        fs::create_dir_all(full.parent().expect("file has a parent")).expect("mkdir");
        fs::write(full, text).expect("write fixture");
    }
    dir
}

/// A task's view of `dir` with no unsaved buffers.
pub fn view(dir: &TempDir) -> TaskView {
    TaskView::new(dir.path(), HashMap::new()).expect("view")
}

/// One entry of a [`snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir,
    File(Vec<u8>),
    /// A symlink, by its target (never followed).
    Symlink(PathBuf),
    /// A file the test cannot read (its bytes cannot be compared, its presence can).
    Unreadable,
}

/// Every entry under `root` by relative path, `.git` included; an absent `root` is empty.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut entries = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(listing) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in listing {
            let entry = entry.unwrap();
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            let found = if kind.is_dir() {
                dirs.push(path.clone());
                Entry::Dir
            } else if kind.is_symlink() {
                Entry::Symlink(fs::read_link(&path).unwrap())
            } else {
                fs::read(&path).map_or(Entry::Unreadable, Entry::File)
            };
            entries.insert(path.strip_prefix(root).unwrap().to_path_buf(), found);
        }
    }
    entries
}

/// Copies everything under `from` into `to` (created if needed); like [`snapshot`], an
/// absent `from` holds nothing.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    let Ok(listing) = fs::read_dir(from) else {
        return;
    };
    for entry in listing {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `git ARGS…` in `dir` as a test user, without line-ending conversion; fails the test
/// if git does. Its stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(["-c", "core.autocrlf=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}
