//! Applying a patch to a real directory (`agentls apply-patch`, `agentls apply`).
//!
//! The patch is computed in memory first, so it can only fail here on I/O. Each file is
//! replaced by renaming a fully written sibling temp file over it, so no file is ever seen
//! half-written; if a later file fails, the files already changed are put back. Paths that
//! lead outside the root — absolute, through `..` or through a symlink — are refused;
//! [`super::confine`] opens every path from its directory's handle.
//!
//! A commit is prepared whole before anything is written (every path confined, the bytes
//! of every file it replaces or deletes in hand, to put back), then written by a few
//! threads ([`super::parallel`]): a large commit is thousands of system calls that do
//! not depend on each other.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::confine::{self, Confined, split};
use super::parallel;
use super::{FileWrite, PatchError, PatchSource, apply_patch, parse_patch};
use crate::safe_write::{self, Existing};

/// Parses `patch_text`, applies it against the files under `root` and commits the result.
/// Nothing on disk changes when `Err` is returned.
pub fn apply_to_dir(root: &Path, patch_text: &str) -> Result<Vec<FileWrite>, PatchError> {
    let patch = parse_patch(patch_text)?;
    let source = DirSource::keeping_reads(root)?;
    for path in patch.hunks.iter().flat_map(|hunk| hunk.paths()) {
        source.check(path)?;
    }
    let changes = apply_patch(&patch, &source)?;
    source.commit(&changes, Durability::Synced)?;
    Ok(changes)
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

/// Commits smaller than this many files a thread are written by one thread (starting
/// threads costs more).
const FILES_PER_WRITER: usize = 64;

/// The files under a directory, as a [`PatchSource`]; paths leading outside it read as
/// errors.
#[derive(Debug)]
pub struct DirSource {
    files: Confined,
    /// What reads found under each path (`None`: nothing), when kept for a commit.
    seen: Option<Mutex<HashMap<String, Option<Previous>>>>,
}

impl DirSource {
    pub fn new(root: &Path) -> Result<Self, PatchError> {
        Self::open(root, false)
    }

    /// A source that keeps what it reads, so that [`Self::commit`] through it finds the
    /// bytes of the files it replaces in memory instead of reading each again, and
    /// creates a file that was absent only if it still is.
    pub fn keeping_reads(root: &Path) -> Result<Self, PatchError> {
        Self::open(root, true)
    }

    fn open(root: &Path, keep_reads: bool) -> Result<Self, PatchError> {
        let files = Confined::new(root).map_err(|source| PatchError::Io {
            path: root.display().to_string(),
            action: "open the directory to patch",
            source,
        })?;
        Ok(DirSource {
            files,
            seen: keep_reads.then(Mutex::default),
        })
    }

    /// Refuses `written` if it leads outside the root (by `..`, or through a symlink).
    pub fn check(&self, written: &str) -> Result<(), PatchError> {
        let rel = self.relative(written)?;
        self.files
            .stat(&rel)
            .map(drop)
            .map_err(|error| self.refusal(written, error, "inspect it"))
    }

    /// `written` relative to the root, refused if it lies outside by its spelling.
    fn relative(&self, written: &str) -> Result<String, PatchError> {
        self.files
            .relative(written)
            .ok_or_else(|| self.outside(written))
    }

    fn outside(&self, written: &str) -> PatchError {
        PatchError::OutsideRoot {
            path: written.to_string(),
            root: self.files.root().to_path_buf(),
        }
    }

    fn refusal(&self, written: &str, error: confine::Error, action: &'static str) -> PatchError {
        match error {
            confine::Error::Outside => self.outside(written),
            confine::Error::Io(source) => PatchError::Io {
                path: written.to_string(),
                action,
                source,
            },
        }
    }

    /// Writes `changes` under the root: all of them, or none when `Err` is returned.
    pub fn commit(&self, changes: &[FileWrite], durability: Durability) -> Result<(), PatchError> {
        let planned = changes
            .iter()
            .map(|change| self.prepare(change))
            .collect::<Result<Vec<_>, _>>()?;
        let mut paths = HashSet::new();
        let distinct = planned.iter().all(|step| paths.insert(step.rel.as_str()));
        // A rollback writes where a delete was, so every step's directory is recorded.
        let dirs: HashSet<&str> = planned.iter().map(|step| split(&step.rel).0).collect();
        let root = self.files.root();
        let recorded = safe_write::record(dirs.into_iter().map(|dir| match dir {
            "" => root.to_path_buf(),
            dir => root.join(dir),
        }));
        let commit = Commit {
            files: &self.files,
            planned: &planned,
            durability,
            recorded,
            made_dirs: Mutex::new(Vec::new()),
            failed: AtomicBool::new(false),
        };
        commit.run(distinct)
    }

    /// Confines `change`'s path and takes the bytes it will replace or delete.
    fn prepare<'a>(&self, change: &'a FileWrite) -> Result<Step<'a>, PatchError> {
        let path = change.path();
        let rel = self.relative(path)?;
        let kept = self.seen.as_ref().and_then(|seen| lock(seen).remove(&rel));
        let previous = match kept {
            Some(previous) => previous,
            None => self
                .read_previous(&rel)
                .map_err(|error| self.refusal(path, error, "read the current file"))?,
        };
        Ok(Step {
            change,
            rel,
            previous,
        })
    }

    fn read_previous(&self, rel: &str) -> Result<Option<Previous>, confine::Error> {
        let Some(mut file) = self.files.open_file(rel)? else {
            return Ok(None);
        };
        let metadata = file.metadata()?;
        if metadata.is_dir() {
            return Err(io::Error::from_raw_os_error(libc::EISDIR).into());
        }
        let bytes = read_all(&mut file, Some(metadata.len()))?;
        Ok(Some(Previous {
            bytes,
            mode: metadata.mode(),
        }))
    }
}

impl PatchSource for DirSource {
    fn read(&self, path: &str) -> Result<Option<String>, String> {
        let rel = self.relative(path).map_err(|error| error.to_string())?;
        let opened = self
            .files
            .open_file(&rel)
            .map_err(|error| self.refusal(path, error, "read it").to_string());
        let Some(mut file) = opened? else {
            self.keep(rel, None);
            return Ok(None);
        };
        const IS_DIR: &str = "it is a directory; apply_patch works on single files";
        // Only a commit needs the mode; without it the read finds a directory itself.
        let metadata = match &self.seen {
            Some(_) => Some(file.metadata().map_err(|error| error.to_string())?),
            None => None,
        };
        if metadata.as_ref().is_some_and(|metadata| metadata.is_dir()) {
            return Err(IS_DIR.to_string());
        }
        let bytes = match read_all(&mut file, metadata.as_ref().map(|m| m.len())) {
            Ok(bytes) => bytes,
            Err(error) if error.raw_os_error() == Some(libc::EISDIR) => {
                return Err(IS_DIR.to_string());
            }
            Err(error) => return Err(error.to_string()),
        };
        if let Some(metadata) = metadata {
            let previous = Previous {
                bytes: bytes.clone(),
                mode: metadata.mode(),
            };
            self.keep(rel, Some(previous));
        }
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| "it is not UTF-8 text; apply_patch edits text files only".to_string())
    }

    fn is_file(&self, path: &str) -> bool {
        let Ok(rel) = self.relative(path) else {
            return false;
        };
        matches!(self.files.stat(&rel), Ok(Some(stat)) if confine::is_kind(&stat, libc::S_IFREG))
    }
}

impl DirSource {
    /// Remembers the first thing a read of `rel` found, if reads are kept.
    fn keep(&self, rel: String, previous: Option<Previous>) {
        if let Some(seen) = &self.seen {
            lock(seen).entry(rel).or_insert(previous);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Files up to this size are read without asking their size first.
const SMALL_FILE: usize = 16 * 1024;

/// A whole file, in two `read`s when `size` (from `fstat`) is right: one for all of it
/// and one that finds the end (a file that grew meanwhile is read to its new end).
/// Without `size`, a small file is read into a buffer on the stack and copied out at its
/// exact size, which saves the `fstat`.
fn read_all(file: &mut File, size: Option<u64>) -> io::Result<Vec<u8>> {
    let (mut bytes, mut filled) = match size {
        Some(size) => (vec![0; usize::try_from(size).unwrap_or(0) + 1], 0),
        None => {
            let mut small = [0; SMALL_FILE];
            let read = fill(file, &mut small)?;
            if read < SMALL_FILE {
                return Ok(small[..read].to_vec());
            }
            (small.to_vec(), SMALL_FILE)
        }
    };
    loop {
        if filled == bytes.len() {
            bytes.resize(bytes.len() * 2, 0);
        }
        filled += fill(file, &mut bytes[filled..])?;
        if filled < bytes.len() {
            bytes.truncate(filled);
            return Ok(bytes);
        }
    }
}

/// Reads into `buffer` until it is full or the file ends; returns how much was read.
fn fill(file: &mut File, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// A file's contents and mode before the commit, to put back if it fails.
#[derive(Debug)]
struct Previous {
    bytes: Vec<u8>,
    mode: u32,
}

/// One change, confined and ready to write.
struct Step<'a> {
    change: &'a FileWrite,
    rel: String,
    /// What the path held; `None`: nothing, so a write creates it.
    previous: Option<Previous>,
}

/// Why a commit stopped.
struct Failure {
    /// Index of the step in the commit.
    step: usize,
    action: &'static str,
    source: io::Error,
}

/// The writing of a prepared commit, shared by its writer threads.
struct Commit<'a> {
    files: &'a Confined,
    planned: &'a [Step<'a>],
    durability: Durability,
    /// Every directory the commit writes in.
    recorded: safe_write::Recorded,
    /// Directories made for new files (relative to the root), to remove on rollback.
    made_dirs: Mutex<Vec<String>>,
    /// A writer failed: the others stop at their next file.
    failed: AtomicBool,
}

impl Commit<'_> {
    /// Writes every step, a few threads each taking a contiguous share (so that they
    /// mostly write in different directories) when the steps are many and touch distinct
    /// paths; on a failure, puts everything back.
    fn run(&self, distinct: bool) -> Result<(), PatchError> {
        // Two changes of one path must be made in order, so by one thread.
        let min_share = if distinct {
            FILES_PER_WRITER
        } else {
            usize::MAX
        };
        let outcomes =
            parallel::map_shares(self.planned.len(), min_share, |range| self.write(range));
        let mut done = Vec::new();
        let mut failures = Vec::new();
        for (written, failure) in outcomes {
            done.extend(written);
            failures.extend(failure);
        }
        match failures.into_iter().min_by_key(|failure| failure.step) {
            None => Ok(()),
            Some(failure) => Err(self.roll_back(done, failure)),
        }
    }

    /// Writes the steps in `range` until one fails or another writer has; returns the
    /// steps written.
    fn write(&self, range: std::ops::Range<usize>) -> (Vec<usize>, Option<Failure>) {
        let mut written = Vec::with_capacity(range.len());
        for index in range {
            if self.failed.load(Ordering::Relaxed) {
                break;
            }
            match self.write_step(index) {
                Ok(()) => written.push(index),
                Err((action, source)) => {
                    self.failed.store(true, Ordering::Relaxed);
                    let failure = Failure {
                        step: index,
                        action,
                        source,
                    };
                    return (written, Some(failure));
                }
            }
        }
        (written, None)
    }

    fn write_step(&self, index: usize) -> Result<(), (&'static str, io::Error)> {
        let step = &self.planned[index];
        let (parent, name) = split(&step.rel);
        match step.change {
            FileWrite::Write { contents, .. } => {
                let mut made = Vec::new();
                let dir = self.files.make_dir(parent, &mut made);
                if !made.is_empty() {
                    lock(&self.made_dirs).extend(made);
                }
                let dir = dir.map_err(|error| ("create its directory", io_error(error)))?;
                let mode = step.previous.as_ref().map(|previous| previous.mode);
                replace_in(
                    &self.recorded,
                    &dir,
                    name,
                    contents.as_bytes(),
                    mode,
                    self.durability,
                )
                .map_err(|error| ("write the file", error))
            }
            FileWrite::Delete { .. } => {
                let dir = self
                    .files
                    .dir(parent)
                    .map_err(io_error)
                    .and_then(|dir| dir.ok_or_else(|| io::ErrorKind::NotFound.into()));
                dir.and_then(|dir| confine::remove_at(&dir, name, 0))
                    .map_err(|error| ("delete the file", error))
            }
        }
    }

    /// Undoes the steps `done` and removes the directories made, and returns the error
    /// to report.
    fn roll_back(&self, done: Vec<usize>, failure: Failure) -> PatchError {
        let mut unrestored: Vec<String> = done
            .into_iter()
            .filter(|&index| self.undo(index).is_err())
            .map(|index| self.planned[index].change.path().to_string())
            .collect();
        let mut made = std::mem::take(&mut *lock(&self.made_dirs));
        // Children first: a longer path cannot be a parent of a shorter one.
        made.sort_by_key(|dir| std::cmp::Reverse(dir.len()));
        for dir in made {
            let (parent, name) = split(&dir);
            let removed = match self.files.dir(parent) {
                Ok(Some(parent)) => {
                    ignore_not_found(confine::remove_at(&parent, name, libc::AT_REMOVEDIR))
                }
                Ok(None) => Ok(()),
                Err(error) => Err(io_error(error)),
            };
            if removed.is_err() {
                unrestored.push(dir);
            }
        }
        let Failure {
            step,
            action,
            source,
        } = failure;
        let path = self.planned[step].change.path().to_string();
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

    /// Puts back what step `index` changed.
    fn undo(&self, index: usize) -> io::Result<()> {
        let step = &self.planned[index];
        let (parent, name) = split(&step.rel);
        let dir = self
            .files
            .dir(parent)
            .map_err(io_error)?
            .ok_or(io::ErrorKind::NotFound)?;
        match &step.previous {
            Some(previous) => replace_in(
                &self.recorded,
                &dir,
                name,
                &previous.bytes,
                Some(previous.mode),
                // As durable as the writes it undoes: an fsync per file would make the
                // rollback of a large unsynced commit take minutes.
                self.durability,
            ),
            None => ignore_not_found(confine::remove_at(&dir, name, 0)),
        }
    }
}

fn io_error(error: confine::Error) -> io::Error {
    match error {
        confine::Error::Io(error) => error,
        confine::Error::Outside => io::Error::new(
            io::ErrorKind::PermissionDenied,
            "it now leads outside the directory through a symlink",
        ),
    }
}

fn ignore_not_found(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Writes `bytes` as `name` in `dir` ([`safe_write::replace_in`]: readers see the old
/// file or the new one, never a mix, and a crash leaves no temporary file). `mode`: the
/// permissions of the file replaced; `None`: there is none, so `name` is created, and
/// the write fails if something appeared there since it was read.
fn replace_in(
    recorded: &safe_write::Recorded,
    dir: &OwnedFd,
    name: &str,
    bytes: &[u8],
    mode: Option<u32>,
    durability: Durability,
) -> io::Result<()> {
    let existing = match mode {
        Some(mode) => Existing::Replaced { mode: Some(mode) },
        None => Existing::Nothing,
    };
    let sync = durability == Durability::Synced;
    safe_write::replace_in(recorded, dir.as_fd(), name.as_ref(), bytes, existing, sync)
}

#[cfg(test)]
mod tests {
    use std::fs::{self, Permissions};

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
            let kind = fs::symlink_metadata(&path).unwrap().file_type();
            if kind.is_symlink() {
                let target = fs::read_link(&path).unwrap();
                entries.push((relative, Some(format!("-> {}", target.display()))));
            } else if kind.is_dir() {
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
        let source = DirSource::new(dir.path()).unwrap();
        let error = source.commit(&changes, Durability::Synced).unwrap_err();
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

    #[cfg(unix)]
    #[test]
    fn symlinks_that_stay_inside_are_followed_and_the_rest_refused_at_any_depth() {
        use std::os::unix::fs::symlink;
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.txt"), "secret\n").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("real/deep")).unwrap();
        fs::write(root.join("real/deep/x.txt"), "x\n").unwrap();
        fs::create_dir_all(root.join("a/b")).unwrap();
        symlink("../real", root.join("a/inside")).unwrap();
        symlink(
            root.canonicalize().unwrap().join("real"),
            root.join("absolute"),
        )
        .unwrap();
        symlink("real/deep/x.txt", root.join("x-link")).unwrap();
        symlink(outside.path(), root.join("a/b/out")).unwrap();
        symlink(outside.path().join("secret.txt"), root.join("secret-link")).unwrap();
        symlink("a/b/out", root.join("chain")).unwrap();
        symlink("nowhere", root.join("dangling")).unwrap();

        // Files are opened with openat2 where the kernel has it, by the walk elsewhere.
        for walk_only in [false, true] {
            let source = DirSource::keeping_reads(root).unwrap();
            if walk_only {
                source.files.walk_only();
            }
            for inside in ["a/inside/deep/x.txt", "absolute/deep/x.txt", "x-link"] {
                assert_eq!(source.read(inside), Ok(Some("x\n".into())), "{inside}");
                assert!(source.is_file(inside), "{inside}");
            }
            for escaping in [
                "a/b/out/secret.txt",
                "a/b/out/new.txt",
                "secret-link",
                "chain/secret.txt",
                "dangling",
                "dangling/x.txt",
            ] {
                let error = source.read(escaping).unwrap_err();
                assert!(
                    error.contains("refusing a path outside"),
                    "{escaping}: {error}"
                );
                assert!(!source.is_file(escaping), "{escaping}");
                assert!(
                    matches!(source.check(escaping), Err(PatchError::OutsideRoot { .. })),
                    "{escaping}"
                );
                for change in [
                    write(escaping, "overwritten\n"),
                    FileWrite::Delete {
                        path: escaping.into(),
                    },
                ] {
                    let error = source.commit(&[change], Durability::Unsynced).unwrap_err();
                    assert!(
                        matches!(error, PatchError::OutsideRoot { .. }),
                        "{escaping}: {error}"
                    );
                }
            }
            assert_eq!(
                tree(outside.path()),
                [("secret.txt".into(), Some("secret\n".into()))]
            );

            let through_link = format!("a/inside/deep/{walk_only}.txt");
            source
                .commit(&[write(&through_link, "y\n")], Durability::Unsynced)
                .unwrap();
            let real = root.join(format!("real/deep/{walk_only}.txt"));
            assert_eq!(fs::read_to_string(real).unwrap(), "y\n");
        }
    }

    /// Enough files in enough directories that several threads write and the cache of
    /// directory handles starts over, with one write that fails in the middle.
    #[cfg(unix)]
    #[test]
    fn a_failure_among_many_parallel_writes_puts_back_every_file_and_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let count = 300;
        let mut changes = Vec::new();
        for i in 0..count {
            let path = format!("d{i}/f.txt");
            fs::create_dir(root.join(format!("d{i}"))).unwrap();
            fs::write(root.join(&path), format!("old {i}\n")).unwrap();
            if i % 7 == 0 {
                fs::set_permissions(root.join(&path), Permissions::from_mode(0o751)).unwrap();
            }
            changes.push(match i % 3 {
                0 => write(&path, &format!("new {i}\n")),
                1 => FileWrite::Delete { path },
                _ => write(&format!("new{i}/sub/g.txt"), "created\n"),
            });
        }
        fs::write(root.join("blocker"), "a file, not a directory\n").unwrap();
        changes.insert(count / 2, write("blocker/c.txt", "c\n"));
        let before = tree(root);
        let modes = |root: &Path| -> Vec<u32> {
            (0..count)
                .map(|i| {
                    let meta = fs::metadata(root.join(format!("d{i}/f.txt"))).unwrap();
                    meta.permissions().mode() & 0o7777
                })
                .collect()
        };
        let modes_before = modes(root);

        let source = DirSource::keeping_reads(root).unwrap();
        for change in &changes {
            let _ = source.read(change.path());
        }
        let error = source.commit(&changes, Durability::Unsynced).unwrap_err();
        assert!(
            matches!(&error, PatchError::Io { path, .. } if path == "blocker/c.txt"),
            "{error:?}"
        );
        assert_eq!(
            tree(root),
            before,
            "every file, and nothing else, as it was"
        );
        assert_eq!(modes(root), modes_before);

        // Without the blocker, the same commit goes through, read or not.
        changes.remove(count / 2);
        DirSource::new(root)
            .unwrap()
            .commit(&changes, Durability::Unsynced)
            .unwrap();
        assert_eq!(
            fs::read_to_string(root.join("d3/f.txt")).unwrap(),
            "new 3\n"
        );
        assert!(!root.join("d4/f.txt").exists());
        assert_eq!(
            fs::read_to_string(root.join("new5/sub/g.txt")).unwrap(),
            "created\n"
        );
        let mode = fs::metadata(root.join("d0/f.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o751, "a replaced file keeps its mode");
    }

    #[test]
    fn a_file_that_appears_after_it_was_read_as_absent_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.txt"), "old\n").unwrap();
        let source = DirSource::keeping_reads(dir.path()).unwrap();
        assert_eq!(source.read("a.txt"), Ok(Some("old\n".into())));
        assert_eq!(source.read("new.txt"), Ok(None));
        fs::write(dir.path().join("new.txt"), "someone else's\n").unwrap();
        let error = source
            .commit(
                &[write("a.txt", "new\n"), write("new.txt", "ours\n")],
                Durability::Unsynced,
            )
            .unwrap_err();
        assert!(
            matches!(&error, PatchError::Io { path, source, .. }
                if path == "new.txt" && source.kind() == io::ErrorKind::AlreadyExists),
            "{error:?}"
        );
        assert_eq!(
            tree(dir.path()),
            [
                ("a.txt".into(), Some("old\n".into())),
                ("new.txt".into(), Some("someone else's\n".into())),
            ]
        );
    }
}
