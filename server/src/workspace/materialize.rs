//! A task's view as a real directory, for commands to run in.
//!
//! The in-memory [`super::TaskView`] stays the truth the tools and the proposal read; this
//! directory mirrors it for commands. Before a command, the task's edits are written into
//! it ([`ViewDir::flush`]); after, whatever the command changed is read back
//! ([`ViewDir::collect`]) and folded into the view, so a formatter's rewrite becomes a
//! hunk exactly like an `apply_patch` edit.
//!
//! Two strategies, chosen once per process (docs/architecture.md has the measurements):
//! - **overlay**: an overlayfs whose lower layer is the user's tree and whose upper layer
//!   is the task's own directory, mounted by the sandbox helper in a user namespace. Cost
//!   grows with what the task writes, not with the repository; what changed is exactly
//!   the upper layer.
//! - **copy**: where user namespaces or overlayfs are unavailable (stock Ubuntu 24.04
//!   blocks unprivileged user namespaces), a copy of the tree, reflinked by the kernel
//!   where the filesystem can (`copy_file_range`). `.git` is not copied: a `.git` file
//!   points at the user's repository, which the sandbox lets commands read but not write.
//!
//! The user's tree is never written by either.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::owner::{self, OwnerFile};
use crate::protocol::ViewStrategy;
use crate::sandbox::{HELPER_SUBCOMMAND, HelperSpec, OverlayMount};

/// Forces a strategy (`overlay` or `copy`) instead of probing; for benchmarks and for
/// testing the fallback on a machine that has the fast path.
pub const STRATEGY_ENV: &str = "AGENTLS_VIEW_STRATEGY";
/// The lock and record of the server that owns a view ([`crate::owner`]), so that a
/// starting server can tell a dead server's view from a live one's.
const OWNER_FILE: &str = "owner";

/// One task's directory under `$AGENTLS_HOME/views/`. Removed on drop.
#[derive(Debug)]
pub struct ViewDir {
    /// Held until the directory is gone: the view is this process's.
    _owner: OwnerFile,
    dir: PathBuf,
    root: PathBuf,
    strategy: ViewStrategy,
    /// Copy strategy: size and mtime of each file as last seen, to find what a command
    /// changed without reading every file.
    stamps: HashMap<String, Stamp>,
    ignore: Gitignore,
}

type Stamp = (u64, Option<SystemTime>);

impl ViewDir {
    /// Creates the directory for task `id` of the workspace `root` (canonical), holding
    /// the unsaved `buffers` in place of their files.
    pub fn create(
        views: &Path,
        id: &str,
        root: &Path,
        buffers: &BTreeMap<String, String>,
    ) -> io::Result<ViewDir> {
        Self::create_with(strategy(views), views, id, root, buffers)
    }

    /// [`Self::create`] with a given strategy instead of this process's choice (the
    /// benchmarks compare them).
    pub fn create_with(
        strategy: ViewStrategy,
        views: &Path,
        id: &str,
        root: &Path,
        buffers: &BTreeMap<String, String>,
    ) -> io::Result<ViewDir> {
        let (dir, owner) = publish(views, id)?;
        let mut view = ViewDir {
            _owner: owner,
            dir,
            root: root.to_path_buf(),
            strategy,
            stamps: HashMap::new(),
            ignore: gitignore(root),
        };
        fs::create_dir(view.tmp())?;
        match strategy {
            ViewStrategy::Overlay => {
                for part in ["upper", "work", "merged"] {
                    fs::create_dir(view.dir.join(part))?;
                }
            }
            ViewStrategy::Copy => view.copy_tree()?,
        }
        view.flush(
            buffers
                .iter()
                .map(|(path, text)| (path.as_str(), Some(text.as_str()))),
        )?;
        if strategy == ViewStrategy::Copy {
            view.stamps = view.scan_stamps();
        }
        Ok(view)
    }

    pub fn strategy(&self) -> ViewStrategy {
        self.strategy
    }

    /// Where commands see the workspace.
    pub fn tree(&self) -> PathBuf {
        match self.strategy {
            ViewStrategy::Overlay => self.dir.join("merged"),
            ViewStrategy::Copy => self.dir.join("tree"),
        }
    }

    /// The command's private temporary directory.
    pub fn tmp(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    /// What the helper must mount, for the overlay strategy.
    pub fn overlay(&self) -> Option<OverlayMount> {
        (self.strategy == ViewStrategy::Overlay).then(|| OverlayMount {
            lower: self.root.clone(),
            upper: self.layer(),
            work: self.dir.join("work"),
            merged: self.tree(),
        })
    }

    /// Paths commands must be able to read besides the tree: under the copy strategy, the
    /// user's `.git`, which the tree's `.git` file points to.
    pub fn extra_readable(&self) -> Vec<PathBuf> {
        let git = self.root.join(".git");
        match self.strategy {
            ViewStrategy::Copy if git.is_dir() => vec![git],
            _ => Vec::new(),
        }
    }

    /// Writes the task's files into the directory: `Some(text)` to write, `None` to
    /// delete.
    pub fn flush<'a>(
        &mut self,
        files: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> io::Result<()> {
        for (rel, text) in files {
            let path = self.layer().join(rel);
            clear_non_dirs_above(&self.layer(), rel)?;
            match text {
                Some(text) => {
                    if let Some(parent) = path.parent() {
                        fs::create_dir_all(parent)?;
                    }
                    remove_entry(&path)?;
                    fs::write(&path, text)?;
                }
                None => {
                    remove_entry(&path)?;
                    if self.strategy == ViewStrategy::Overlay && self.root.join(rel).exists() {
                        if let Some(parent) = path.parent() {
                            fs::create_dir_all(parent)?;
                        }
                        make_whiteout(&path)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// What the directory holds that may differ from the task's view: `(path, text)`,
    /// `None` for a deleted file. `known` are the files the view holds (written by the
    /// task or unsaved buffers), so that deleting one of them is noticed too. Ignored
    /// files (`.gitignore`), `.git` and non-UTF-8 files are left out: they are build
    /// output and binaries, not something to review as text.
    pub fn collect(&mut self, known: &[String]) -> Vec<(String, Option<String>)> {
        let mut found = match self.strategy {
            ViewStrategy::Overlay => self.collect_upper(),
            ViewStrategy::Copy => self.collect_copy(),
        };
        let seen: HashSet<String> = found.iter().map(|(path, _)| path.clone()).collect();
        for path in known {
            if !seen.contains(path) && !self.layer().join(path).is_file() {
                found.push((path.clone(), None));
            }
        }
        found
    }

    /// Makes the directory hold the workspace as it is now, `buffers` in place of their
    /// files, without replacing the directory itself: a process working in it (an ACP
    /// agent waiting for a follow-up) keeps its working directory.
    pub fn reset(&mut self, buffers: &BTreeMap<String, String>) -> io::Result<()> {
        let layer = self.layer();
        for entry in fs::read_dir(&layer)? {
            remove_entry(&entry?.path())?;
        }
        if self.strategy == ViewStrategy::Copy {
            self.copy_tree()?;
        }
        self.flush(
            buffers
                .iter()
                .map(|(path, text)| (path.as_str(), Some(text.as_str()))),
        )?;
        if self.strategy == ViewStrategy::Copy {
            self.stamps = self.scan_stamps();
        }
        Ok(())
    }

    /// The directory the task's own files live in: the overlay's upper layer, or the copy.
    fn layer(&self) -> PathBuf {
        match self.strategy {
            ViewStrategy::Overlay => self.dir.join("upper"),
            ViewStrategy::Copy => self.dir.join("tree"),
        }
    }

    fn collect_upper(&self) -> Vec<(String, Option<String>)> {
        let mut found = Vec::new();
        let mut pending = vec![String::new()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = fs::read_dir(self.layer().join(&dir)) else {
                continue;
            };
            if !dir.is_empty() && is_opaque(&self.layer().join(&dir)) {
                self.deleted_below(&dir, &mut found);
            }
            for entry in entries.flatten() {
                let Some(rel) = child(&dir, &entry.file_name()) else {
                    continue;
                };
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if rel == ".git" || self.is_ignored(&rel, kind.is_dir()) {
                    continue;
                }
                if kind.is_dir() {
                    pending.push(rel);
                } else if kind.is_char_device() {
                    // A whiteout: the command deleted a file or directory of the lower layer.
                    if self.root.join(&rel).is_dir() {
                        self.deleted_below(&rel, &mut found);
                    } else {
                        found.push((rel, None));
                    }
                } else if kind.is_file()
                    && let Some(text) = read_text(&entry.path())
                {
                    found.push((rel, Some(text)));
                }
            }
        }
        found
    }

    /// An opaque or whited-out directory hides the lower layer's files below it: each of
    /// those not re-created in the upper layer is deleted.
    fn deleted_below(&self, dir: &str, found: &mut Vec<(String, Option<String>)>) {
        for rel in files_below(&self.root, dir) {
            if !self.is_ignored(&rel, false) && !self.layer().join(&rel).is_file() {
                found.push((rel, None));
            }
        }
    }

    fn collect_copy(&mut self) -> Vec<(String, Option<String>)> {
        let now = self.scan_stamps();
        let mut found = Vec::new();
        for (rel, stamp) in &now {
            if self.stamps.get(rel) != Some(stamp)
                && let Some(text) = read_text(&self.layer().join(rel))
            {
                found.push((rel.clone(), Some(text)));
            }
        }
        for rel in self.stamps.keys() {
            if !now.contains_key(rel) {
                found.push((rel.clone(), None));
            }
        }
        self.stamps = now;
        found
    }

    fn scan_stamps(&self) -> HashMap<String, Stamp> {
        files_below(&self.layer(), "")
            .into_iter()
            .filter(|rel| rel != ".git" && !self.is_ignored(rel, false))
            .filter_map(|rel| {
                let metadata = fs::metadata(self.layer().join(&rel)).ok()?;
                Some((rel, (metadata.len(), metadata.modified().ok())))
            })
            .collect()
    }

    fn is_ignored(&self, rel: &str, is_dir: bool) -> bool {
        self.ignore
            .matched_path_or_any_parents(rel, is_dir)
            .is_ignore()
    }

    /// The copy strategy's tree: everything but `.git` (and the views directory, should
    /// `$AGENTLS_HOME` lie inside the workspace), then a `.git` file pointing home.
    fn copy_tree(&self) -> io::Result<()> {
        let tree = self.layer();
        let skip = self.dir.parent().map(Path::to_path_buf);
        copy_dir(&self.root, &tree, skip.as_deref(), true)?;
        let git = self.root.join(".git");
        if git.is_dir() {
            fs::write(tree.join(".git"), format!("gitdir: {}\n", git.display()))?;
        }
        Ok(())
    }
}

/// Writes the task's edits into `dir`, before a process works in it, with the editor's
/// buffers the task took after `dir` was made.
pub fn flush_view(dir: &mut ViewDir, view: &std::sync::Mutex<super::TaskView>) -> io::Result<()> {
    let view = view.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    dir.flush(view.written().chain(view.late_buffers()))
}

/// Folds what a process changed in `dir` into the task's view (so it becomes hunks);
/// true if anything changed. The directory is scanned without holding the view.
pub fn fold_changes(dir: &mut ViewDir, view: &std::sync::Mutex<super::TaskView>) -> bool {
    let lock = || view.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let known = lock().held_in_memory();
    let found = dir.collect(&known);
    let mut view = lock();
    let mut changed = false;
    for (path, text) in found {
        changed |= view.absorb(&path, text);
    }
    changed
}

impl Drop for ViewDir {
    fn drop(&mut self) {
        if let Err(error) = remove_view(&self.dir) {
            tracing::warn!(
                "could not remove the task view {}: {error}; it will be removed when agentls next starts",
                self.dir.display()
            );
        }
    }
}

/// Removes views left behind by servers that are no longer running (a crash, a kill), and
/// staging directories a dead server left half-built. A view whose server still runs is
/// never touched, nor one being built.
pub fn sweep_orphans(views: &Path) {
    let Ok(entries) = fs::read_dir(views) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let staging = entry
            .file_name()
            .to_string_lossy()
            .starts_with(owner::STAGING_PREFIX);
        if staging && !owner::is_stale_staging(&path) {
            continue;
        }
        // Held while the directory is removed, so that no other server removes it too.
        let _taken = match owner::take_over(&path.join(OWNER_FILE)) {
            Ok(Some(taken)) => Some(taken),
            Ok(None) => continue,
            // Views are published with their owner file inside: this is debris.
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => {
                tracing::warn!("cannot tell who owns {}: {error}", path.display());
                continue;
            }
        };
        if let Err(error) = remove_view(&path) {
            tracing::warn!(
                "could not remove the orphaned view {}: {error}",
                path.display()
            );
        }
    }
}

/// Makes `views/<id>` appear with its owner file already inside and locked: it is built
/// under a staging name and renamed into place, so a sweeping server never finds a view
/// without its owner. Refused, never replaced, if `views/<id>` exists: that is another
/// server's.
fn publish(views: &Path, id: &str) -> io::Result<(PathBuf, OwnerFile)> {
    let staging = staging_dir(views, id)?;
    let dir = views.join(id);
    let published = OwnerFile::create(&staging.join(OWNER_FILE))
        .and_then(|owner| owner::rename_noreplace(&staging, &dir).map(|()| owner));
    match published {
        Ok(owner) => Ok((dir, owner)),
        Err(error) => {
            let _ = remove_view(&staging);
            if error.kind() == io::ErrorKind::AlreadyExists {
                return Err(io::Error::new(
                    error.kind(),
                    format!(
                        "{} exists already and belongs to another task",
                        dir.display()
                    ),
                ));
            }
            Err(error)
        }
    }
}

/// A new, empty directory under `views` with a staging name.
fn staging_dir(views: &Path, name: &str) -> io::Result<PathBuf> {
    fs::create_dir_all(views)?;
    loop {
        let dir = views.join(format!(
            "{}{name}-{:08x}",
            owner::STAGING_PREFIX,
            owner::random_u64() & 0xffff_ffff
        ));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
}

/// The strategy for this process: forced by [`STRATEGY_ENV`], else overlay if a probe
/// mount works, else copy. Probed once.
fn strategy(views: &Path) -> ViewStrategy {
    static CHOSEN: OnceLock<ViewStrategy> = OnceLock::new();
    *CHOSEN.get_or_init(|| match std::env::var(STRATEGY_ENV).as_deref() {
        Ok("copy") => ViewStrategy::Copy,
        Ok("overlay") => ViewStrategy::Overlay,
        _ => match probe_overlay(views) {
            Ok(()) => ViewStrategy::Overlay,
            Err(reason) => {
                tracing::info!(
                    "task views are copies: the overlay fast path is unavailable ({reason})"
                );
                ViewStrategy::Copy
            }
        },
    })
}

/// Mounts a throwaway overlay through the helper, exactly as a command would.
fn probe_overlay(views: &Path) -> Result<(), String> {
    let dir = staging_dir(views, "probe").map_err(|e| e.to_string())?;
    let result = (|| {
        for part in ["lower", "upper", "work", "merged", "tmp"] {
            fs::create_dir_all(dir.join(part)).map_err(|e| e.to_string())?;
        }
        let spec = HelperSpec {
            overlay: Some(OverlayMount {
                lower: dir.join("lower"),
                upper: dir.join("upper"),
                work: dir.join("work"),
                merged: dir.join("merged"),
            }),
            tmp: dir.join("tmp"),
            cwd: dir.join("merged"),
            confine: None,
            command: vec!["true".into()],
        };
        let spec = serde_json::to_string(&spec).map_err(|e| e.to_string())?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let output = std::process::Command::new(exe)
            .arg(HELPER_SUBCOMMAND)
            .arg(spec)
            .output()
            .map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
        }
    })();
    let _ = remove_view(&dir);
    result
}

/// overlayfs leaves its work directory without permissions; restore them so the tree can
/// be removed.
fn remove_view(dir: &Path) -> io::Result<()> {
    if fs::remove_dir_all(dir).is_ok() || !dir.exists() {
        return Ok(());
    }
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let _ = fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o700));
        if let Ok(entries) = fs::read_dir(&path) {
            pending.extend(
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
    }
    fs::remove_dir_all(dir)
}

fn gitignore(root: &Path) -> Gitignore {
    let mut builder = GitignoreBuilder::new(root);
    builder.add(root.join(".gitignore"));
    builder.build().unwrap_or_else(|error| {
        tracing::warn!("ignoring an unreadable .gitignore: {error}");
        Gitignore::empty()
    })
}

/// Files (not directories) below `base/dir`, as paths relative to `base`. Symlinks are
/// not followed.
fn files_below(base: &Path, dir: &str) -> Vec<String> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_string()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(base.join(&dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let (Some(rel), Ok(kind)) = (child(&dir, &entry.file_name()), entry.file_type()) else {
                continue;
            };
            if kind.is_dir() {
                pending.push(rel);
            } else if kind.is_file() {
                files.push(rel);
            }
        }
    }
    files
}

fn child(dir: &str, name: &std::ffi::OsStr) -> Option<String> {
    let name = name.to_str()?;
    Some(if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    })
}

fn read_text(path: &Path) -> Option<String> {
    String::from_utf8(fs::read(path).ok()?).ok()
}

/// Copies `from` into `to`, recreating symlinks as symlinks. `skip` is never entered;
/// `top` drops `.git` at the first level.
fn copy_dir(from: &Path, to: &Path, skip: Option<&Path>, top: bool) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let source = entry.path();
        if top && entry.file_name() == ".git" || Some(source.as_path()) == skip {
            continue;
        }
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_dir(&source, &target, skip, false)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&source)?, &target)?;
        } else if kind.is_file() {
            fs::copy(&source, &target)?;
        }
    }
    Ok(())
}

/// A file written below a path the task deleted must not land on the whiteout (or file)
/// that stands where its directory should be.
fn clear_non_dirs_above(layer: &Path, rel: &str) -> io::Result<()> {
    let mut path = layer.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        path.push(part);
        match fs::symlink_metadata(&path) {
            Ok(metadata) if !metadata.is_dir() => fs::remove_file(&path)?,
            Ok(_) => {}
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

fn remove_entry(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// overlayfs marks a deleted lower entry with a 0/0 character device in the upper layer.
fn make_whiteout(path: &Path) -> io::Result<()> {
    let path = CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: a valid path; mknod of a whiteout is allowed unprivileged since Linux 5.8.
    if unsafe { libc::mknod(path.as_ptr(), libc::S_IFCHR | 0o600, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A directory the command deleted and re-created: overlayfs marks it opaque, hiding the
/// lower layer's entries.
fn is_opaque(dir: &Path) -> bool {
    let Ok(path) = CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    let mut value = [0u8; 1];
    // SAFETY: valid path and name; the buffer length is passed.
    let len = unsafe {
        libc::getxattr(
            path.as_ptr(),
            c"user.overlay.opaque".as_ptr(),
            value.as_mut_ptr() as *mut libc::c_void,
            value.len(),
        )
    };
    len == 1 && value[0] == b'y'
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::owner::sorted_names as names;

    fn copy_view(views: &Path, id: &str, root: &Path) -> io::Result<ViewDir> {
        ViewDir::create_with(ViewStrategy::Copy, views, id, root, &BTreeMap::new())
    }

    #[test]
    fn a_view_is_never_created_over_an_existing_directory() {
        let (home, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        fs::write(root.path().join("a.txt"), "a\n").unwrap();
        let views = home.path().join("views");
        let first = copy_view(&views, "t1", root.path()).unwrap();
        let error = copy_view(&views, "t1", root.path()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists, "{error}");
        assert!(
            first.tree().join("a.txt").is_file(),
            "the first view is intact"
        );
        assert_eq!(names(&views), ["t1"], "no staging directory is left behind");
        drop(first);
        assert!(names(&views).is_empty());
    }

    #[test]
    fn a_reset_brings_the_tree_back_to_the_workspace_in_place() {
        let (home, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        fs::write(root.path().join("a.txt"), "a\n").unwrap();
        let views = home.path().join("views");
        let mut view = copy_view(&views, "t1", root.path()).unwrap();
        let tree = view.tree();
        fs::write(tree.join("a.txt"), "changed by the agent\n").unwrap();
        fs::write(tree.join("new.txt"), "made by the agent\n").unwrap();
        fs::write(root.path().join("b.txt"), "the user's new file\n").unwrap();
        // A process working in the tree keeps its working directory.
        let before = fs::metadata(&tree).unwrap();
        let buffers = BTreeMap::from([("c.txt".to_string(), "unsaved\n".to_string())]);
        view.reset(&buffers).unwrap();
        let after = fs::metadata(&tree).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(before.ino(), after.ino());
        assert_eq!(fs::read_to_string(tree.join("a.txt")).unwrap(), "a\n");
        assert!(!tree.join("new.txt").exists());
        assert_eq!(
            fs::read_to_string(tree.join("b.txt")).unwrap(),
            "the user's new file\n"
        );
        assert_eq!(fs::read_to_string(tree.join("c.txt")).unwrap(), "unsaved\n");
        assert!(view.collect(&[]).is_empty(), "nothing counts as changed");
    }

    #[test]
    fn a_sweep_removes_only_what_dead_servers_left() {
        let (home, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let views = home.path().join("views");
        let live = copy_view(&views, "live", root.path()).unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = child.id();
        child.wait().unwrap();
        fs::create_dir_all(views.join("dead/tree")).unwrap();
        fs::write(
            views.join("dead").join(OWNER_FILE),
            format!("{dead_pid} 1\n"),
        )
        .unwrap();
        fs::create_dir_all(views.join("debris/tree")).unwrap();
        let young = views.join(format!("{}t2-1", owner::STAGING_PREFIX));
        let old = views.join(format!("{}t3-1", owner::STAGING_PREFIX));
        fs::create_dir_all(&young).unwrap();
        fs::create_dir_all(&old).unwrap();
        let long_ago = SystemTime::now() - 2 * owner::STAGING_MAX_AGE;
        fs::File::open(&old)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();

        sweep_orphans(&views);
        assert_eq!(
            names(&views),
            [format!("{}t2-1", owner::STAGING_PREFIX), "live".to_string()]
        );
        assert!(live.tree().is_dir());
    }
}
