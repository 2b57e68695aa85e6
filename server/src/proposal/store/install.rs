//! Installing: a task's changes (base and result per file) becoming hunks anchored in the
//! file's current text, with ids `<taskId>-<n>` that continue across follow-ups.

use super::{FileProposal, ProposalStore, TaskProposal};
use crate::documents::Change;
use crate::proposal::{DIFF_DEADLINE, FileHunks, RawHunk, diff_hunks, rebase, renames};
use crate::protocol::FileKind;
use crate::workspace::FileChange;

impl ProposalStore {
    /// Makes a finished task's changes reviewable. Hunks are computed between the task's
    /// base and result, then rebased onto the file's current text (the user may have typed
    /// while the task ran); a deleted file and a created one with (mostly) the same
    /// content are one rename. Hunk ids are `<taskId>-1`, `<taskId>-2`, …
    /// Returns (files, hunks).
    pub fn install(&mut self, task_id: &str, changes: Vec<FileChange>) -> (usize, usize) {
        let files = changes
            .into_iter()
            .map(|change| (change, Vec::new()))
            .collect();
        self.install_with_conflicts(task_id, files)
    }

    /// [`ProposalStore::install`] for changes that come with conflicts: per file, hunks
    /// (char offsets in the file's base text) that could not be placed, with the reason.
    /// They are shown as `conflict` hunks and can only be rejected.
    pub fn install_with_conflicts(
        &mut self,
        task_id: &str,
        changes: Vec<(FileChange, Vec<(RawHunk, String)>)>,
    ) -> (usize, usize) {
        self.discard(task_id);
        self.installs += 1;
        self.tasks
            .insert(task_id.to_string(), TaskProposal::new(self.installs));
        self.add_changes(task_id, changes)
    }

    /// For agent/followUp: drops the task's undecided (pending/stale/conflict) hunks,
    /// keeps accepted/rejected ones, installs hunks for `changes`. Their `base` is the text
    /// the follow-up's view started from — the user's text then, without the task's
    /// pending hunks (the view held those as its own writes) — so pending changes the
    /// follow-up kept come back as new hunks, rebased like any install onto what the user
    /// typed meanwhile. Returns (files, hunks) of the new hunks.
    pub fn replace_undecided(&mut self, task_id: &str, changes: Vec<FileChange>) -> (usize, usize) {
        if !self.tasks.contains_key(task_id) {
            return self.install(task_id, changes);
        }
        self.drop_undecided(task_id);
        self.add_changes(
            task_id,
            changes.into_iter().map(|c| (c, Vec::new())).collect(),
        )
    }

    /// Forgets a task's proposal (cancel with `revert`).
    pub fn discard(&mut self, task_id: &str) {
        let Some(task) = self.tasks.remove(task_id) else {
            return;
        };
        for file in task.files {
            self.unlink_path(task_id, &file.path);
            self.reevaluate_conflicts(&file.path);
            self.drop_shadow_if_unused(&file.path);
        }
    }

    /// Adds hunks for `changes` to an installed task, continuing its ids.
    fn add_changes(
        &mut self,
        task_id: &str,
        changes: Vec<(FileChange, Vec<(RawHunk, String)>)>,
    ) -> (usize, usize) {
        let (plain, with_conflicts): (Vec<_>, Vec<_>) =
            changes.into_iter().partition(|(_, c)| c.is_empty());
        let plain = renames::pair(plain.into_iter().map(|(c, _)| c).collect());
        let all = plain
            .into_iter()
            .map(|(c, to)| (c, to, Vec::new()))
            .chain(with_conflicts.into_iter().map(|(c, k)| (c, None, k)));
        let (mut files, mut hunks) = (0, 0);
        let mut touched = Vec::new();
        for (change, new_path, conflicts) in all {
            let added = self.add_file(task_id, change, new_path, conflicts);
            if let Some((path, n)) = added {
                files += 1;
                hunks += n;
                touched.push(path);
            }
        }
        for path in touched {
            self.reevaluate_conflicts(&path);
        }
        self.new_revision(task_id);
        (files, hunks)
    }

    /// One file's new hunks; returns (path, hunks added), None if the change changes
    /// nothing.
    fn add_file(
        &mut self,
        task_id: &str,
        change: FileChange,
        new_path: Option<String>,
        conflicts: Vec<(RawHunk, String)>,
    ) -> Option<(String, usize)> {
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
        self.ensure_doc(&path, &base);
        let current = self.current_text(&path).unwrap_or_default();
        let task = self.tasks.get_mut(task_id)?;
        let next_hunk = &mut task.next_hunk;
        let mut next_id = || {
            *next_hunk += 1;
            format!("{task_id}-{next_hunk}")
        };
        let mut fresh = FileHunks::default();
        let base_gen = task
            .by_path
            .get(&path)
            .map_or(0, |&i| task.files[i].bases.len());
        fresh.add(raw, conflicts, base_gen, &mut next_id);
        // The user may have typed while the task ran: move the hunks from the task's
        // base to what the editor or disk holds now.
        if current != base {
            for drift in diff_hunks(&base, &current, DIFF_DEADLINE).iter().rev() {
                fresh.apply_change(Change {
                    start: drift.start,
                    old_end: drift.end,
                    new_len: drift.new_text.chars().count(),
                });
            }
        }
        let added = fresh.hunks().len();
        let fi = match task.by_path.get(&path) {
            Some(&fi) => {
                let file = &mut task.files[fi];
                file.kind = merged_kind(file.kind, kind);
                file.new_path = new_path.or(file.new_path.take());
                file.bases.push(base.into());
                file.hunks.extend(fresh.hunks().iter().cloned());
                fi
            }
            None => {
                task.files.push(FileProposal {
                    path: path.clone(),
                    kind,
                    new_path,
                    bases: vec![base.into()],
                    hunks: fresh,
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
        Some((path, added))
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
