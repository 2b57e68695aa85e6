//! Applying a patch to a real directory (the `agentls apply-patch` CLI).
//!
//! The patch is computed in memory first, so it can only fail here on I/O. Each file is
//! replaced by renaming a fully written sibling temp file over it, so no file is ever seen
//! half-written; if a later file fails, the files already changed are put back. Paths that
//! lead outside the root — absolute, through `..` or through a symlink — are refused.

use std::fs::{self, Permissions};
use std::io;
use std::path::{Component, Path, PathBuf};

use super::{FileWrite, PatchError, PatchSource, apply_patch, parse_patch};

/// Parses `patch_text`, applies it against the files under `root` and commits the result.
/// Nothing on disk changes when `Err` is returned.
pub fn apply_to_dir(root: &Path, patch_text: &str) -> Result<Vec<FileWrite>, PatchError> {
    let patch = parse_patch(patch_text)?;
    let source = DirSource::new(root)?;
    for path in patch.hunks.iter().flat_map(|hunk| hunk.paths()) {
        source.resolve(path)?;
    }
    let changes = apply_patch(&patch, &source)?;
    source.commit(&changes, Durability::Synced)?;
    Ok(changes)
}

/// Writes `changes` (from [`apply_patch`]) under `root`: all of them, or none when `Err`
/// is returned. Lets a caller summarize against the old files before committing.
pub fn commit_to_dir(root: &Path, changes: &[FileWrite]) -> Result<(), PatchError> {
    commit_to_dir_with(root, changes, Durability::Synced)
}

/// Whether each written file reaches the disk before the next one is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `fsync` every file: a crash leaves each file old or new, never empty.
    Synced,
    /// Leave flushing to the OS, as `git apply` does: all-or-nothing still holds against
    /// failures, and thousands of files are not thousands of disk flushes.
    Unsynced,
}

/// [`commit_to_dir`] with a choice of [`Durability`].
pub fn commit_to_dir_with(
    root: &Path,
    changes: &[FileWrite],
    durability: Durability,
) -> Result<(), PatchError> {
    DirSource::new(root)?.commit(changes, durability)
}

/// The files under a directory, as a [`PatchSource`]; paths leading outside it read as
/// errors.
#[derive(Debug)]
pub struct DirSource {
    /// Canonical, so that resolved paths can be checked with `starts_with`.
    root: PathBuf,
}

impl DirSource {
    pub fn new(root: &Path) -> Result<Self, PatchError> {
        let root = root.canonicalize().map_err(|source| PatchError::Io {
            path: root.display().to_string(),
            action: "open the directory to patch",
            source,
        })?;
        Ok(DirSource { root })
    }

    /// The absolute path `written` names, refused if it leads outside the root.
    fn resolve(&self, written: &str) -> Result<PathBuf, PatchError> {
        let outside = || PatchError::OutsideRoot {
            path: written.to_string(),
            root: self.root.clone(),
        };
        let lexical = normalize(&self.root.join(written)).ok_or_else(outside)?;
        if !lexical.starts_with(&self.root) || !symlinks_stay_inside(&lexical, &self.root) {
            return Err(outside());
        }
        Ok(lexical)
    }

    fn commit(&self, changes: &[FileWrite], durability: Durability) -> Result<(), PatchError> {
        let targets = changes
            .iter()
            .map(|change| self.resolve(change.path()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut journal = Journal {
            undo: Vec::new(),
            durability,
        };
        for (change, target) in changes.iter().zip(&targets) {
            if let Err(failure) = journal.apply(change, target) {
                return Err(journal.roll_back(failure));
            }
        }
        Ok(())
    }
}

impl PatchSource for DirSource {
    fn read(&self, path: &str) -> Result<Option<String>, String> {
        let full = self.resolve(path).map_err(|error| error.to_string())?;
        match fs::read(&full) {
            Ok(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| "it is not UTF-8 text; apply_patch edits text files only".to_string()),
            Err(error) if full.is_dir() || error.kind() == io::ErrorKind::IsADirectory => {
                Err("it is a directory; apply_patch works on single files".to_string())
            }
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(None)
            }
            Err(error) => Err(error.to_string()),
        }
    }

    fn is_file(&self, path: &str) -> bool {
        self.resolve(path).is_ok_and(|full| full.is_file())
    }
}

/// Resolves `.` and `..` without touching the disk; `None` if `..` climbs above `/`.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !normal.pop() {
                    return None;
                }
            }
            other => normal.push(other),
        }
    }
    Some(normal)
}

/// Whether the deepest existing ancestor of `path` (or `path` itself), symlinks followed,
/// is still under `root`.
fn symlinks_stay_inside(path: &Path, root: &Path) -> bool {
    path.ancestors()
        .find(|ancestor| ancestor.symlink_metadata().is_ok())
        .and_then(|existing| existing.canonicalize().ok())
        .is_some_and(|real| real.starts_with(root))
}

/// Why a commit stopped.
struct Failure {
    path: String,
    action: &'static str,
    source: io::Error,
}

/// What was done so far, so it can be undone.
struct Journal {
    undo: Vec<Undo>,
    durability: Durability,
}

enum Undo {
    /// Put back the file's previous bytes, or remove it if it did not exist.
    Restore {
        path: String,
        target: PathBuf,
        previous: Option<Previous>,
    },
    RemoveCreatedDir(PathBuf),
}

struct Previous {
    bytes: Vec<u8>,
    permissions: Permissions,
}

impl Journal {
    fn apply(&mut self, change: &FileWrite, target: &Path) -> Result<(), Failure> {
        let path = change.path();
        let failure = |action| {
            move |source| Failure {
                path: path.to_string(),
                action,
                source,
            }
        };
        let previous = read_previous(target).map_err(failure("read the current file"))?;
        match change {
            FileWrite::Write { contents, .. } => {
                self.create_parents(target)
                    .map_err(failure("create its directory"))?;
                let permissions = previous.as_ref().map(|previous| &previous.permissions);
                replace_file(target, contents.as_bytes(), permissions, self.durability)
                    .map_err(failure("write the file"))?;
            }
            FileWrite::Delete { .. } => {
                fs::remove_file(target).map_err(failure("delete the file"))?;
            }
        }
        self.undo.push(Undo::Restore {
            path: path.to_string(),
            target: target.to_path_buf(),
            previous,
        });
        Ok(())
    }

    fn create_parents(&mut self, target: &Path) -> io::Result<()> {
        let Some(parent) = target.parent() else {
            return Ok(());
        };
        let missing: Vec<&Path> = parent
            .ancestors()
            .take_while(|dir| dir.symlink_metadata().is_err())
            .collect();
        for dir in missing.into_iter().rev() {
            fs::create_dir(dir)?;
            self.undo.push(Undo::RemoveCreatedDir(dir.to_path_buf()));
        }
        Ok(())
    }

    /// Undoes everything in reverse order and returns the error to report.
    fn roll_back(self, failure: Failure) -> PatchError {
        let unrestored: Vec<String> = self
            .undo
            .into_iter()
            .rev()
            .filter_map(|undo| undo.run().err())
            .collect();
        let Failure {
            path,
            action,
            source,
        } = failure;
        if unrestored.is_empty() {
            PatchError::Io {
                path,
                action,
                source,
            }
        } else {
            PatchError::RollbackFailed {
                path,
                action,
                source,
                unrestored,
            }
        }
    }
}

impl Undo {
    /// `Err` carries the path that could not be put back.
    fn run(self) -> Result<(), String> {
        let result = match &self {
            Undo::Restore {
                target,
                previous: Some(previous),
                ..
            } => replace_file(
                target,
                &previous.bytes,
                Some(&previous.permissions),
                // A rollback is rare and must stick.
                Durability::Synced,
            ),
            Undo::Restore {
                target,
                previous: None,
                ..
            } => ignore_not_found(fs::remove_file(target)),
            Undo::RemoveCreatedDir(dir) => ignore_not_found(fs::remove_dir(dir)),
        };
        result.map_err(|_| match self {
            Undo::Restore { path, .. } => path,
            Undo::RemoveCreatedDir(dir) => dir.display().to_string(),
        })
    }
}

fn ignore_not_found(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn read_previous(target: &Path) -> io::Result<Option<Previous>> {
    match fs::read(target) {
        Ok(bytes) => Ok(Some(Previous {
            bytes,
            permissions: fs::metadata(target)?.permissions(),
        })),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Writes `bytes` to a temp file next to `target` and renames it over `target`, so readers
/// see the old file or the new one, never a mix ([`crate::safe_write`], which also keeps
/// a crash from leaving the temp file behind).
fn replace_file(
    target: &Path,
    bytes: &[u8],
    permissions: Option<&Permissions>,
    durability: Durability,
) -> io::Result<()> {
    crate::safe_write::replace(target, bytes, permissions, durability == Durability::Synced)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(root: &Path) -> Vec<(String, Option<String>)> {
        let mut entries = Vec::new();
        collect(root, root, &mut entries);
        entries.sort();
        entries
    }

    fn collect(root: &Path, dir: &Path, entries: &mut Vec<(String, Option<String>)>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root).unwrap().display().to_string();
            if path.is_dir() {
                entries.push((relative, None));
                collect(root, &path, entries);
            } else {
                entries.push((relative, Some(fs::read_to_string(&path).unwrap())));
            }
        }
    }

    fn write(path: &str, contents: &str) -> FileWrite {
        FileWrite::Write {
            path: path.into(),
            contents: contents.into(),
        }
    }

    #[test]
    fn applies_and_reports_the_changes() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.txt"), "one\ntwo\n").unwrap();
        let changes = apply_to_dir(
            dir.path(),
            "*** Begin Patch\n*** Update File: a.txt\n@@\n-two\n+2\n*** Add File: sub/b.txt\n+b\n*** End Patch",
        )
        .unwrap();
        assert_eq!(
            changes,
            vec![write("a.txt", "one\n2\n"), write("sub/b.txt", "b\n")]
        );
        assert_eq!(
            tree(dir.path()),
            [
                ("a.txt".to_string(), Some("one\n2\n".to_string())),
                ("sub".to_string(), None),
                ("sub/b.txt".to_string(), Some("b\n".to_string())),
            ]
        );
    }

    #[test]
    fn refuses_paths_outside_the_root_before_touching_anything() {
        let parent = tempfile::tempdir().unwrap();
        let root = parent.path().join("root");
        fs::create_dir(&root).unwrap();
        let outside_absolute = parent.path().join("abs.txt");
        for path in [
            "../escape.txt",
            "a/../../escape.txt",
            outside_absolute.to_str().unwrap(),
        ] {
            let patch = format!(
                "*** Begin Patch\n*** Add File: ok.txt\n+ok\n*** Add File: {path}\n+x\n*** End Patch"
            );
            let error = apply_to_dir(&root, &patch).unwrap_err();
            assert!(
                matches!(error, PatchError::OutsideRoot { .. }),
                "{path}: {error:?}"
            );
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("{path}: refusing a path outside")),
                "{error}"
            );
        }
        assert!(tree(parent.path()) == [("root".to_string(), None)]);
    }

    #[test]
    fn accepts_an_absolute_path_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().canonicalize().unwrap().join("x.txt");
        let patch = format!(
            "*** Begin Patch\n*** Add File: {}\n+x\n*** End Patch",
            inside.display()
        );
        apply_to_dir(dir.path(), &patch).unwrap();
        assert_eq!(fs::read_to_string(inside).unwrap(), "x\n");
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_symlink_leading_out_of_the_root() {
        let outside = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
        let error = apply_to_dir(
            root.path(),
            "*** Begin Patch\n*** Add File: link/x.txt\n+x\n*** End Patch",
        )
        .unwrap_err();
        assert!(matches!(error, PatchError::OutsideRoot { .. }), "{error:?}");
        assert!(tree(outside.path()).is_empty());
    }

    #[test]
    fn a_failed_write_puts_back_every_file_already_changed() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.txt"), "old a\n").unwrap();
        fs::write(dir.path().join("gone.txt"), "gone\n").unwrap();
        fs::write(dir.path().join("blocker"), "a file, not a directory\n").unwrap();
        let before = tree(dir.path());
        let changes = [
            write("a.txt", "new a\n"),
            FileWrite::Delete {
                path: "gone.txt".into(),
            },
            write("fresh/dir/b.txt", "b\n"),
            write("blocker/c.txt", "c\n"),
        ];
        let error = commit_to_dir(dir.path(), &changes).unwrap_err();
        assert!(
            matches!(&error, PatchError::Io { path, .. } if path == "blocker/c.txt"),
            "{error:?}"
        );
        assert_eq!(
            tree(dir.path()),
            before,
            "no temp file, created directory or change may remain"
        );
    }

    #[cfg(unix)]
    #[test]
    fn keeps_the_permissions_of_a_replaced_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("run.sh");
        fs::write(&script, "echo old\n").unwrap();
        fs::set_permissions(&script, Permissions::from_mode(0o755)).unwrap();
        apply_to_dir(
            dir.path(),
            "*** Begin Patch\n*** Update File: run.sh\n@@\n-echo old\n+echo new\n*** End Patch",
        )
        .unwrap();
        assert_eq!(
            fs::metadata(&script).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }

    #[test]
    fn reports_directories_and_binary_files_clearly() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("blob.bin"), [0xff, 0xfe, 0x00]).unwrap();
        let source = DirSource::new(dir.path()).unwrap();
        assert_eq!(
            source.read("sub"),
            Err("it is a directory; apply_patch works on single files".to_string())
        );
        assert!(
            source
                .read("blob.bin")
                .unwrap_err()
                .contains("not UTF-8 text")
        );
        assert_eq!(source.read("missing.txt"), Ok(None));
        // A binary file cannot be edited, but it can be deleted.
        apply_to_dir(
            dir.path(),
            "*** Begin Patch\n*** Delete File: blob.bin\n*** End Patch",
        )
        .unwrap();
        assert!(!dir.path().join("blob.bin").exists());
    }
}
