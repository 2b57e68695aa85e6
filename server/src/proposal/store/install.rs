//! Installing: a task's changes (base and result per file) becoming hunks anchored in the
//! file's current text, with ids `<taskId>-<n>` that continue across follow-ups.
//!
//! Diffing a large file takes long (hundreds of milliseconds for 20 MB), so an install
//! runs in three phases and holds the store only for the first and the last
//! (`snapshot.rs`): [`ProposalStore::install_basis`] takes a snapshot of each document
//! the hunks will be anchored in; [`InstallBasis::prepare`] diffs the task's base
//! against its result and against the document as the snapshot saw it (no lock);
//! [`ProposalStore::commit_install`] moves the new hunks through whatever the user typed
//! meanwhile and puts them in. [`install_unlocked`] runs the three around the store's
//! mutex; [`ProposalStore::install`] and its siblings run them in one go.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use ropey::Rope;

use super::snapshot::{ATTEMPTS, DocSnapshot};
use super::{FileProposal, ProposalStore, TaskProposal};
use crate::documents::{Change, Document};
use crate::proposal::{DIFF_DEADLINE, FileHunks, RawHunk, diff_hunks, disk, rebase, renames};
use crate::protocol::FileKind;
use crate::workspace::FileChange;

/// What an install does with what the task proposed before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallAs {
    /// The task's proposal is replaced ([`ProposalStore::install`]).
    New,
    /// Its undecided hunks are replaced ([`ProposalStore::replace_undecided`]).
    FollowUp,
    /// Added to what it proposes already (a review finding's fix).
    Add,
}

/// The documents an install's hunks will be anchored in, as they were when it started.
pub struct InstallBasis {
    root: PathBuf,
    /// Path → its document then; None: no document (a shadow will be read from disk).
    docs: HashMap<String, Option<DocSnapshot>>,
}

/// An install computed against its basis, ready for [`ProposalStore::commit_install`].
pub struct PreparedInstall {
    files: Vec<PreparedFile>,
    /// The documents whose changes are kept for this install.
    watched: Vec<(String, DocSnapshot)>,
}

struct PreparedFile {
    path: String,
    kind: FileKind,
    new_path: Option<String>,
    base: Arc<str>,
    /// Placed in the anchor's text; ids are `1`, `2`, … until the commit numbers them.
    hunks: FileHunks,
    anchor: Anchor,
}

enum Anchor {
    /// The document the hunks go into, as the basis saw it.
    Doc(DocSnapshot),
    /// No document had the file: a shadow of this text (read from disk) is made.
    Disk(Rope),
}

/// A document changed under a prepared install in a way it cannot follow (dropped, made
/// anew, or more changes than are kept): prepare it again.
#[derive(Debug)]
pub struct Moved;

impl ProposalStore {
    /// Makes a finished task's changes reviewable. Hunks are computed between the task's
    /// base and result, then rebased onto the file's current text (the user may have typed
    /// while the task ran); a deleted file and a created one with (mostly) the same
    /// content are one rename. Hunk ids are `<taskId>-1`, `<taskId>-2`, …
    /// Returns (files, hunks).
    pub fn install(&mut self, task_id: &str, changes: Vec<FileChange>) -> (usize, usize) {
        self.install_now(task_id, &without_conflicts(changes), InstallAs::New)
    }

    /// [`ProposalStore::install`] for changes that come with conflicts: per file, hunks
    /// (char offsets in the file's base text) that could not be placed, with the reason.
    /// They are shown as `conflict` hunks and can only be rejected.
    pub fn install_with_conflicts(
        &mut self,
        task_id: &str,
        changes: Vec<(FileChange, Vec<(RawHunk, String)>)>,
    ) -> (usize, usize) {
        self.install_now(task_id, &changes, InstallAs::New)
    }

    /// For agent/followUp: drops the task's undecided (pending/stale/conflict) hunks,
    /// keeps accepted/rejected ones, installs hunks for `changes`. Their `base` is the text
    /// the follow-up's view started from — the user's text then, without the task's
    /// pending hunks (the view held those as its own writes) — so pending changes the
    /// follow-up kept come back as new hunks, rebased like any install onto what the user
    /// typed meanwhile. Returns (files, hunks) of the new hunks.
    pub fn replace_undecided(&mut self, task_id: &str, changes: Vec<FileChange>) -> (usize, usize) {
        self.install_now(task_id, &without_conflicts(changes), InstallAs::FollowUp)
    }

    /// Forgets a task's proposal (cancel with `revert`).
    pub fn discard(&mut self, task_id: &str) {
        for path in self.detach(task_id) {
            self.drop_shadow_if_unused(&path);
        }
    }

    /// Phase 1 of an install (under the lock, O(files)): a snapshot of every document
    /// the changes touch, whose changes are kept from now on for the commit.
    pub fn install_basis(
        &mut self,
        changes: &[(FileChange, Vec<(RawHunk, String)>)],
    ) -> InstallBasis {
        let docs = changes
            .iter()
            .map(|(change, _)| (change.path.clone(), self.watch(&change.path)))
            .collect();
        InstallBasis {
            root: self.root.clone(),
            docs,
        }
    }

    /// Phase 3 (under the lock, O(hunks)): the prepared hunks moved through the changes
    /// their documents took since the basis, and put in. `Err(Moved)` changes nothing.
    pub fn commit_install(
        &mut self,
        task_id: &str,
        prepared: PreparedInstall,
        how: InstallAs,
    ) -> Result<(usize, usize), Moved> {
        let mut since = Vec::with_capacity(prepared.files.len());
        for file in &prepared.files {
            let changes = match &file.anchor {
                Anchor::Doc(snapshot) => self.changes_since(&file.path, snapshot),
                Anchor::Disk(_) => (!self.docs.contains_key(&file.path)).then(Vec::new),
            };
            since.push(changes);
        }
        for (path, snapshot) in &prepared.watched {
            self.unwatch(path, snapshot);
        }
        let Some(since) = since.into_iter().collect::<Option<Vec<_>>>() else {
            return Err(Moved);
        };
        let replaced = match how {
            InstallAs::FollowUp if self.tasks.contains_key(task_id) => {
                self.drop_undecided(task_id);
                Vec::new()
            }
            InstallAs::Add if self.tasks.contains_key(task_id) => Vec::new(),
            _ => {
                let replaced = self.detach(task_id);
                self.installs += 1;
                self.tasks
                    .insert(task_id.to_string(), TaskProposal::new(self.installs));
                replaced
            }
        };
        let (mut files, mut hunks) = (0, 0);
        let mut touched = Vec::new();
        for (mut file, changes) in prepared.files.into_iter().zip(since) {
            if let Anchor::Disk(rope) = &file.anchor
                && !self.docs.contains_key(&file.path)
            {
                // Cloning a rope shares its chunks.
                let entry = self.doc_entry(Document::from_rope(rope.clone(), 0), false);
                self.docs.insert(file.path.clone(), entry);
            }
            // The user typed while the install was prepared: move the hunks along.
            for change in changes {
                file.hunks.apply_change(change);
            }
            files += 1;
            hunks += file.hunks.hunks().len();
            touched.push(file.path.clone());
            self.attach(task_id, file);
        }
        for path in touched {
            self.reevaluate_conflicts(&path);
        }
        for path in replaced {
            self.drop_shadow_if_unused(&path);
        }
        self.new_revision(task_id);
        Ok((files, hunks))
    }

    /// The three phases in one go, the store held throughout.
    fn install_now(
        &mut self,
        task_id: &str,
        changes: &[(FileChange, Vec<(RawHunk, String)>)],
        how: InstallAs,
    ) -> (usize, usize) {
        let prepared = self.install_basis(changes).prepare(changes);
        self.commit_install(task_id, prepared, how)
            .expect("no document moves while the store is borrowed")
    }

    /// Removes the task's proposal, keeping the shadows its files had (an install about
    /// to replace it may anchor in them); returns the paths it had.
    fn detach(&mut self, task_id: &str) -> Vec<String> {
        let Some(task) = self.tasks.remove(task_id) else {
            return Vec::new();
        };
        let paths: Vec<String> = task.files.into_iter().map(|f| f.path).collect();
        for path in &paths {
            self.unlink_path(task_id, path);
            self.reevaluate_conflicts(path);
        }
        paths
    }

    /// Puts one prepared file's hunks into the task, numbering them.
    fn attach(&mut self, task_id: &str, file: PreparedFile) {
        let Some(task) = self.tasks.get_mut(task_id) else {
            return;
        };
        let PreparedFile {
            path,
            kind,
            new_path,
            base,
            mut hunks,
            ..
        } = file;
        let base_gen = task
            .by_path
            .get(&path)
            .map_or(0, |&i| task.files[i].bases.len());
        let first = task.next_hunk;
        task.next_hunk += hunks.hunks().len() as u64;
        hunks.number(|placeholder| {
            let n: u64 = placeholder.parse().unwrap_or_default();
            format!("{task_id}-{}", first + n)
        });
        for hunk in hunks.hunks_mut() {
            hunk.base_gen = base_gen;
        }
        let fi = match task.by_path.get(&path) {
            Some(&fi) => {
                let file = &mut task.files[fi];
                file.kind = merged_kind(file.kind, kind);
                file.new_path = new_path.or(file.new_path.take());
                file.bases.push(base);
                file.hunks.extend(hunks.hunks().iter().cloned());
                fi
            }
            None => {
                task.files.push(FileProposal {
                    path: path.clone(),
                    kind,
                    new_path,
                    bases: vec![base],
                    hunks,
                    cross_conflicts: false,
                });
                task.by_path.insert(path.clone(), task.files.len() - 1);
                self.by_path
                    .entry(path.clone())
                    .or_default()
                    .push(task_id.to_string());
                task.files.len() - 1
            }
        };
        for hunk in task.files[fi].hunks.hunks() {
            task.by_id.insert(hunk.id.clone(), fi);
        }
    }

    /// Drops the task's undecided hunks and the files left without hunks.
    fn drop_undecided(&mut self, task_id: &str) {
        let Some(task) = self.tasks.get_mut(task_id) else {
            return;
        };
        let mut emptied = Vec::new();
        for file in &mut task.files {
            file.hunks.remove_where(|h| rebase::is_undecided(h.status));
            if file.hunks.is_empty() {
                emptied.push(file.path.clone());
            }
        }
        task.files.retain(|f| !f.hunks.is_empty());
        task.reindex();
        task.revision += 1;
        for path in emptied {
            self.unlink_path(task_id, &path);
            self.reevaluate_conflicts(&path);
        }
    }
}

/// The kind of a file a follow-up changes again.
fn merged_kind(before: FileKind, now: FileKind) -> FileKind {
    match (before, now) {
        (FileKind::Modify, other) => other,
        (kept, _) => kept,
    }
}

impl InstallBasis {
    /// Phase 2 (no lock): each file's hunks between the task's base and result, moved
    /// onto the document's text as the basis saw it (or the disk's, for a file without a
    /// document). Renamed files are paired first.
    pub fn prepare(self, changes: &[(FileChange, Vec<(RawHunk, String)>)]) -> PreparedInstall {
        let (plain, with_conflicts): (Vec<_>, Vec<_>) =
            changes.iter().cloned().partition(|(_, c)| c.is_empty());
        let plain = renames::pair(plain.into_iter().map(|(c, _)| c).collect());
        let files = plain
            .into_iter()
            .map(|(c, to)| (c, to, Vec::new()))
            .chain(with_conflicts.into_iter().map(|(c, k)| (c, None, k)))
            .filter_map(|(change, new_path, conflicts)| {
                self.prepare_file(change, new_path, conflicts)
            })
            .collect();
        let watched = self
            .docs
            .into_iter()
            .filter_map(|(path, snapshot)| Some((path, snapshot?)))
            .collect();
        PreparedInstall { files, watched }
    }

    /// One file's hunks; None if the change changes nothing.
    fn prepare_file(
        &self,
        change: FileChange,
        new_path: Option<String>,
        conflicts: Vec<(RawHunk, String)>,
    ) -> Option<PreparedFile> {
        let kind = match (&change.base, &change.new, &new_path) {
            (_, _, Some(_)) => FileKind::Rename,
            (None, _, _) => FileKind::Create,
            (_, None, _) => FileKind::Delete,
            _ => FileKind::Modify,
        };
        let base = change.base.unwrap_or_default();
        let target = change.new.unwrap_or_default();
        let raw = if kind == FileKind::Rename {
            // One decision for the whole move, edits included.
            vec![RawHunk {
                start: 0,
                end: base.chars().count(),
                old_text: base.clone(),
                new_text: target,
            }]
        } else {
            diff_hunks(&base, &target, DIFF_DEADLINE)
        };
        if raw.is_empty() && conflicts.is_empty() {
            return None;
        }
        let path = change.path;
        let (anchor, current) = match self.docs.get(&path) {
            Some(Some(snapshot)) => (Anchor::Doc(snapshot.clone()), snapshot.rope.to_string()),
            _ => {
                // Not open in the editor: anchor on the disk text (absent file = empty).
                let text = match disk::read(&self.root.join(&path)) {
                    Ok(text) => text.unwrap_or_default(),
                    Err(e) => {
                        tracing::warn!("{e}; anchoring its hunks on the task's base");
                        base.clone()
                    }
                };
                (Anchor::Disk(Rope::from_str(&text)), text)
            }
        };
        let mut hunks = FileHunks::default();
        let mut placeholder = 0u64;
        hunks.add(raw, conflicts, 0, || {
            placeholder += 1;
            placeholder.to_string()
        });
        // The user may have typed while the task ran: move the hunks from the task's
        // base to what the editor or disk holds now.
        if current != base {
            for drift in diff_hunks(&base, &current, DIFF_DEADLINE).iter().rev() {
                hunks.apply_change(Change {
                    start: drift.start,
                    old_end: drift.end,
                    new_len: drift.new_text.chars().count(),
                });
            }
        }
        Some(PreparedFile {
            path,
            kind,
            new_path,
            base: base.into(),
            hunks,
            anchor,
        })
    }
}

/// Installs with the store held only for the first and the last phase (see the module
/// docs). `then` runs in the last one with the result — (files, hunks) — so that what it
/// records (the engine's checkpoint) describes exactly the hunks just put in. If the
/// documents keep moving in ways an install cannot follow, it is done under the lock.
pub fn install_unlocked<R>(
    store: &Mutex<ProposalStore>,
    task_id: &str,
    changes: Vec<(FileChange, Vec<(RawHunk, String)>)>,
    how: InstallAs,
    then: impl FnOnce(&mut ProposalStore, (usize, usize)) -> R,
) -> R {
    let lock = || store.lock().unwrap_or_else(PoisonError::into_inner);
    for _ in 0..ATTEMPTS {
        let basis = lock().install_basis(&changes);
        let prepared = basis.prepare(&changes);
        let mut store = lock();
        if let Ok(counts) = store.commit_install(task_id, prepared, how) {
            return then(&mut store, counts);
        }
    }
    let mut store = lock();
    let counts = store.install_now(task_id, &changes, how);
    then(&mut store, counts)
}

fn without_conflicts(changes: Vec<FileChange>) -> Vec<(FileChange, Vec<(RawHunk, String)>)> {
    changes.into_iter().map(|c| (c, Vec::new())).collect()
}
