//! A task's isolated view of the workspace.
//!
//! A task sees three layers, topmost first: its own writes and deletions, the editor's
//! unsaved buffers as they were when the task started, and the disk. Its writes stay in
//! memory, so the user's tree is never touched before they accept a proposal; the text
//! each changed file started from is kept so the proposal can be diffed against it.
//!
//! Every path here is workspace-relative, `/`-separated and normalized (`""` is the root),
//! as produced by [`TaskView::resolve`]. Methods taking such a `rel` trust it: paths from
//! the model must go through `resolve` first, which is where escapes are refused.
//!
//! A task may also *read* a few directories outside the workspace — the folders of the
//! skills and plugins it was given — through [`TaskView::resolve_for_reading`]; `resolve`,
//! which every write goes through, refuses them as read-only.

pub mod materialize;
mod paths;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};

use ignore::WalkBuilder;

pub use paths::PathError;

/// Why a file or directory could not be read through the view.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("`{0}` is a directory")]
    IsDirectory(String),
    #[error("`{0}` is a file, not a directory")]
    NotADirectory(String),
    #[error("`{0}` does not exist")]
    NotFound(String),
    #[error("`{0}` is a binary file (not UTF-8 text)")]
    Binary(String),
    #[error("could not read `{path}`: {source}")]
    Io { path: String, source: io::Error },
}

/// One file's text before and after a change: what a task changed (its proposal is built
/// from these) or what an imported diff writes (`import::plan`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    /// The text the change was computed against (the file when the task started, or when
    /// the diff was placed); `None` if the file did not exist.
    pub base: Option<String>,
    /// The text after the change; `None` if it deletes the file.
    pub new: Option<String>,
}

/// The workspace as one task sees it. See the module docs for the layering.
#[derive(Debug)]
pub struct TaskView {
    snapshot: Snapshot,
    /// Files the task wrote or deleted, keyed by workspace-relative path.
    edits: BTreeMap<String, Edit>,
    /// Canonical directories outside the root the task may read but not change.
    read_only: Vec<PathBuf>,
}

/// Where a path given for reading lies: in the workspace, or in a read-only directory
/// outside it (which is read from disk through a view of its own).
#[derive(Debug)]
pub enum ReadTarget {
    Workspace(String),
    Outside { view: Box<TaskView>, rel: String },
}

impl ReadTarget {
    /// The view to read `rel` from: the workspace's, or the outside directory's.
    pub fn view<'a>(&'a self, workspace: &'a TaskView) -> &'a TaskView {
        match self {
            ReadTarget::Workspace(_) => workspace,
            ReadTarget::Outside { view, .. } => view,
        }
    }

    pub fn rel(&self) -> &str {
        match self {
            ReadTarget::Workspace(rel) | ReadTarget::Outside { rel, .. } => rel,
        }
    }

    /// How a file below the target is named to the model: workspace-relative in the
    /// workspace, absolute outside it.
    pub fn shown(&self, rel: &str) -> String {
        match self {
            ReadTarget::Workspace(_) => rel.to_string(),
            ReadTarget::Outside { view, .. } => view.root().join(rel).display().to_string(),
        }
    }
}

/// What the task started from: the disk plus the unsaved buffers captured at task start,
/// and those the editor gave later, as the task first read each file ([`TaskView::take_buffer`]).
#[derive(Debug)]
struct Snapshot {
    root: PathBuf,
    buffers: BTreeMap<String, String>,
    /// The buffers given after the start: a command's directory, made earlier, lacks them.
    late: BTreeSet<String>,
}

#[derive(Debug)]
struct Edit {
    /// The text before the task's first write or delete of this path, captured then so that
    /// a later change on disk cannot corrupt the diff.
    base: Option<String>,
    current: Option<String>,
}

/// What kind of entry a directory walk found. Symlinks are kept apart so that searches do
/// not follow them out of the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    File,
    Dir,
    Symlink,
}

impl TaskView {
    /// `root` is canonicalized. `buffers`: workspace-relative path (`/`-separated) -> text
    /// of the editor's open buffers at task start.
    pub fn new(root: &Path, buffers: HashMap<String, String>) -> io::Result<Self> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("workspace root {} is not a directory", root.display()),
            ));
        }
        Ok(Self {
            snapshot: Snapshot {
                root,
                buffers: buffers.into_iter().collect(),
                late: BTreeSet::new(),
            },
            edits: BTreeMap::new(),
            read_only: Vec::new(),
        })
    }

    /// Lets the task read `dirs` (outside the workspace; those inside it are the
    /// workspace's already) without being able to change them. Missing ones are skipped.
    pub fn allow_reading(&mut self, dirs: impl IntoIterator<Item = PathBuf>) {
        for dir in dirs {
            let Ok(dir) = dir.canonicalize() else {
                continue;
            };
            if !dir.starts_with(&self.snapshot.root) && !self.read_only.contains(&dir) {
                self.read_only.push(dir);
            }
        }
    }

    /// The directories [`Self::allow_reading`] added.
    pub fn read_only_dirs(&self) -> &[PathBuf] {
        &self.read_only
    }

    pub fn root(&self) -> &Path {
        &self.snapshot.root
    }

    /// Turns a path from the model (relative to the root, or absolute inside it) into a
    /// normalized workspace-relative path (`/`-separated, no `.`/`..`, `""` = the root).
    ///
    /// Refuses paths with NUL, absolute paths outside the root, `..` climbing above the
    /// root, and paths going through a symlink that resolves outside the root.
    pub fn resolve(&self, path: &str) -> Result<String, PathError> {
        match paths::resolve(&self.snapshot.root, path) {
            Err(PathError::OutsideRoot { .. }) if self.outside_target(path).is_some() => {
                let dir = self.outside_target(path).map(|(dir, _)| dir.to_path_buf());
                Err(PathError::ReadOnly {
                    path: path.into(),
                    dir: dir.unwrap_or_default(),
                    root: self.snapshot.root.clone(),
                })
            }
            resolved => resolved,
        }
    }

    /// [`Self::resolve`] for reading: a path in one of the read-only directories is
    /// accepted too, with the same checks (no `..` out of it, no symlink leading out).
    pub fn resolve_for_reading(&self, path: &str) -> Result<ReadTarget, PathError> {
        match paths::resolve(&self.snapshot.root, path) {
            Ok(rel) => Ok(ReadTarget::Workspace(rel)),
            Err(outside @ PathError::OutsideRoot { .. }) => {
                let Some((dir, resolved)) = self.outside_target(path) else {
                    return Err(outside);
                };
                let rel = resolved?;
                let view = TaskView::new(dir, HashMap::new()).map_err(|_| outside)?;
                Ok(ReadTarget::Outside {
                    view: Box::new(view),
                    rel,
                })
            }
            Err(other) => Err(other),
        }
    }

    /// The read-only directory an absolute `path` lies in, and the path resolved in it.
    fn outside_target(&self, path: &str) -> Option<(&Path, Result<String, PathError>)> {
        if !Path::new(path).is_absolute() {
            return None;
        }
        self.read_only
            .iter()
            .find_map(|dir| match paths::resolve(dir, path) {
                Err(PathError::OutsideRoot { .. }) => None,
                resolved => Some((dir.as_path(), resolved)),
            })
    }

    /// The file's text as the task sees it. `Ok(None)`: no such file.
    pub fn read(&self, rel: &str) -> Result<Option<String>, ViewError> {
        let edit = self.edits.get(rel);
        if let Some(Edit {
            current: Some(text),
            ..
        }) = edit
        {
            return Ok(Some(text.clone()));
        }
        if self.memory_implies_dir(rel) {
            return Err(ViewError::IsDirectory(shown(rel)));
        }
        if edit.is_some() {
            return Ok(None);
        }
        self.snapshot.read(rel)
    }

    pub fn write(&mut self, rel: &str, text: String) {
        self.edit_mut(rel).current = Some(text);
    }

    pub fn delete(&mut self, rel: &str) {
        self.edit_mut(rel).current = None;
    }

    /// Disk directories plus the directories implied by files that exist only in memory.
    pub fn is_dir(&self, rel: &str) -> bool {
        if self.memory_implies_dir(rel) {
            return true;
        }
        if self.edits.contains_key(rel) || self.snapshot.buffers.contains_key(rel) {
            return false;
        }
        self.snapshot.disk_path(rel).is_dir()
    }

    /// Entries below `dir` as the task sees them, down to `depth` levels (1 = direct
    /// children), in tree order: `(path, is_dir)`. Symlinks are not followed and count as
    /// files.
    ///
    /// Disk entries come from a gitignore-aware walk that shows hidden files but never
    /// `.git`; files that exist only in memory (created by the task, or unsaved new
    /// buffers) are added, and files the task deleted are left out.
    pub fn list(&self, dir: &str, depth: usize) -> Result<Vec<(String, bool)>, ViewError> {
        let entries = self.entries(dir, Some(depth))?;
        Ok(entries
            .into_iter()
            .map(|(path, kind)| (path, kind == EntryKind::Dir))
            .collect())
    }

    /// Every file below `dir` as the task sees it, at any depth, in tree order: the same
    /// entries as [`Self::list`] minus directories and symlinks (which a search must not
    /// follow out of the workspace).
    pub fn files(&self, dir: &str) -> Result<Vec<String>, ViewError> {
        let entries = self.entries(dir, None)?;
        Ok(entries
            .into_iter()
            .filter(|(_, kind)| *kind == EntryKind::File)
            .map(|(path, _)| path)
            .collect())
    }

    /// Every file the task changed, sorted by path; writes that restored the starting text
    /// are left out.
    pub fn changes(&self) -> Vec<FileChange> {
        self.edits
            .iter()
            .filter(|(_, edit)| edit.base != edit.current)
            .map(|(path, edit)| FileChange {
                path: path.clone(),
                base: edit.base.clone(),
                new: edit.current.clone(),
            })
            .collect()
    }

    /// The unsaved buffers the task started from.
    pub fn buffers(&self) -> &BTreeMap<String, String> {
        &self.snapshot.buffers
    }

    /// Whether the task already has its own idea of `rel`'s text: a buffer, or a change.
    /// An editor asked lazily (ACP) is asked only for the files it has not.
    pub fn holds(&self, rel: &str) -> bool {
        self.edits.contains_key(rel) || self.snapshot.buffers.contains_key(rel)
    }

    /// The editor's text of `rel`, given once the task came to read it, joins the buffers
    /// the task started from: the tools, the patch's base, the proposal's base and the
    /// commands all see it. Ignored when the task already [`Self::holds`] the file, or
    /// when the text is the disk's.
    pub fn take_buffer(&mut self, rel: &str, text: String) {
        if self.holds(rel) || self.snapshot.read(rel).ok().flatten().as_ref() == Some(&text) {
            return;
        }
        self.snapshot.buffers.insert(rel.to_owned(), text);
        self.snapshot.late.insert(rel.to_owned());
    }

    /// What a command's directory must be given besides the task's writes: the buffers
    /// taken after the start that the task has not changed since.
    pub fn late_buffers(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.snapshot
            .late
            .iter()
            .filter(|path| !self.edits.contains_key(*path))
            .map(|path| {
                (
                    path.as_str(),
                    self.snapshot.buffers.get(path).map(String::as_str),
                )
            })
    }

    /// Every path the task wrote or deleted, with its text now (`None`: deleted).
    pub fn written(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.edits
            .iter()
            .map(|(path, edit)| (path.as_str(), edit.current.as_deref()))
    }

    /// Files that exist only because of the task or the editor: written files and
    /// unsaved buffers the task has not deleted.
    pub fn held_in_memory(&self) -> Vec<String> {
        self.memory_files().map(str::to_owned).collect()
    }

    /// Takes `text` (`None`: deleted) as the file's new state if it differs from what the
    /// task sees; returns whether it did. How a command's changes join the view.
    pub fn absorb(&mut self, rel: &str, text: Option<String>) -> bool {
        let current = self.read(rel).ok().flatten();
        if current == text {
            return false;
        }
        match text {
            Some(text) => self.write(rel, text),
            None => self.delete(rel),
        }
        true
    }

    fn edit_mut(&mut self, rel: &str) -> &mut Edit {
        let snapshot = &self.snapshot;
        self.edits.entry(rel.to_owned()).or_insert_with(|| {
            let base = snapshot.read(rel).unwrap_or_else(|err| {
                tracing::warn!(path = rel, %err, "starting text unreadable; the file will diff as new");
                None
            });
            Edit {
                current: base.clone(),
                base,
            }
        })
    }

    /// Files that exist only in the task's memory layers: unsaved buffers it has not
    /// touched, and files it wrote.
    fn memory_files(&self) -> impl Iterator<Item = &str> {
        let untouched_buffers = self
            .snapshot
            .buffers
            .keys()
            .filter(|path| !self.edits.contains_key(*path));
        let written = self
            .edits
            .iter()
            .filter(|(_, edit)| edit.current.is_some())
            .map(|(path, _)| path);
        untouched_buffers.chain(written).map(String::as_str)
    }

    fn memory_implies_dir(&self, rel: &str) -> bool {
        rel.is_empty() || self.memory_files().any(|file| is_below(file, rel))
    }

    fn is_file(&self, rel: &str) -> bool {
        match self.edits.get(rel) {
            Some(edit) => edit.current.is_some(),
            None => {
                self.snapshot.buffers.contains_key(rel) || self.snapshot.disk_path(rel).is_file()
            }
        }
    }

    fn entries(
        &self,
        dir: &str,
        max_depth: Option<usize>,
    ) -> Result<Vec<(String, EntryKind)>, ViewError> {
        if !self.is_dir(dir) {
            return Err(if self.is_file(dir) {
                ViewError::NotADirectory(shown(dir))
            } else {
                ViewError::NotFound(shown(dir))
            });
        }
        let mut entries: Vec<(String, EntryKind)> = self
            .snapshot
            .walk(dir, max_depth)
            .into_iter()
            .filter(|(path, _)| !self.is_deleted(path))
            .collect();
        for file in self.memory_files() {
            if is_below(file, dir) && !self.snapshot.disk_path(file).exists() {
                push_with_parents(&mut entries, file, dir, max_depth);
            }
        }
        entries.sort_by(|a, b| tree_order(&a.0, &b.0));
        entries.dedup_by(|a, b| a.0 == b.0);
        Ok(entries)
    }

    fn is_deleted(&self, rel: &str) -> bool {
        self.edits
            .get(rel)
            .is_some_and(|edit| edit.current.is_none())
    }
}

impl Snapshot {
    fn disk_path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Buffers win over disk: they hold what the user sees in the editor.
    fn read(&self, rel: &str) -> Result<Option<String>, ViewError> {
        if let Some(text) = self.buffers.get(rel) {
            return Ok(Some(text.clone()));
        }
        let path = self.disk_path(rel);
        let io_error = |source| ViewError::Io {
            path: shown(rel),
            source,
        };
        match path.metadata() {
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(io_error(err)),
            Ok(metadata) if metadata.is_dir() => return Err(ViewError::IsDirectory(shown(rel))),
            Ok(_) => {}
        }
        let bytes = std::fs::read(&path).map_err(io_error)?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| ViewError::Binary(shown(rel)))
    }

    /// Disk entries below `dir`, honouring `.gitignore` (even outside a git repository: it
    /// states what the project considers noise) and `.ignore`, showing hidden files but
    /// never `.git`. Symlinks are reported, not followed.
    fn walk(&self, dir: &str, max_depth: Option<usize>) -> Vec<(String, EntryKind)> {
        let start = self.disk_path(dir);
        if !start.is_dir() {
            return Vec::new();
        }
        let mut builder = WalkBuilder::new(&start);
        builder
            .hidden(false)
            .require_git(false)
            .follow_links(false)
            .max_depth(max_depth)
            .filter_entry(|entry| entry.file_name() != ".git");
        let mut entries = Vec::new();
        for result in builder.build() {
            let entry = match result {
                Ok(entry) => entry,
                Err(err) => {
                    tracing::debug!(%err, "skipping an unreadable entry while listing");
                    continue;
                }
            };
            if entry.depth() == 0 {
                continue;
            }
            let Some(rel) = self.relative(entry.path()) else {
                tracing::debug!(path = %entry.path().display(), "skipping a non-UTF-8 file name");
                continue;
            };
            let kind = match entry.file_type() {
                Some(kind) if kind.is_symlink() => EntryKind::Symlink,
                Some(kind) if kind.is_dir() => EntryKind::Dir,
                _ => EntryKind::File,
            };
            entries.push((rel, kind));
        }
        entries
    }

    fn relative(&self, path: &Path) -> Option<String> {
        let below = path.strip_prefix(&self.root).ok()?;
        let parts: Option<Vec<&str>> = below.components().map(|c| c.as_os_str().to_str()).collect();
        Some(parts?.join("/"))
    }
}

/// Adds a memory-only `file` and the directories between `dir` and it, as far down as
/// `max_depth` reaches.
fn push_with_parents(
    entries: &mut Vec<(String, EntryKind)>,
    file: &str,
    dir: &str,
    max_depth: Option<usize>,
) {
    let below = if dir.is_empty() {
        file
    } else {
        &file[dir.len() + 1..]
    };
    let components: Vec<&str> = below.split('/').collect();
    let deepest = max_depth.map_or(components.len(), |max| max.min(components.len()));
    for level in 1..=deepest {
        let kind = if level == components.len() {
            EntryKind::File
        } else {
            EntryKind::Dir
        };
        entries.push((join(dir, &components[..level].join("/")), kind));
    }
}

/// Whether `path` lies strictly below the directory `dir`.
fn is_below(path: &str, dir: &str) -> bool {
    dir.is_empty() && !path.is_empty()
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Orders paths component by component, so a directory's contents follow it directly
/// (`a`, `a/b`, `a.txt`) instead of being split by plain string order.
fn tree_order(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// The root has the empty relative path; messages show it as `.`.
fn shown(rel: &str) -> String {
    if rel.is_empty() {
        ".".into()
    } else {
        rel.into()
    }
}
