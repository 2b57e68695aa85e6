//! The task index: each task's files and hunks by path and by hunk id (`TaskProposal`'s
//! own lookups), the tasks with hunks in each path, and the conflicts between tasks
//! re-evaluated over them.

use std::collections::HashMap;

use super::{FileProposal, ProposalStore, TaskProposal, hunk_state};
use crate::proposal::Hunk;
use crate::proposal::conflicts::{self, TaskFile};
use crate::protocol::HunkState;

impl TaskProposal {
    /// An empty proposal, installed as the `order`-th.
    pub(super) fn new(order: u64) -> Self {
        TaskProposal {
            order,
            files: Vec::new(),
            by_path: HashMap::new(),
            by_id: HashMap::new(),
            next_hunk: 0,
            revision: 0,
        }
    }

    pub(super) fn file(&self, path: &str) -> Option<&FileProposal> {
        self.by_path.get(path).map(|&i| &self.files[i])
    }

    pub(super) fn file_mut(&mut self, path: &str) -> Option<&mut FileProposal> {
        self.by_path.get(path).map(|&i| &mut self.files[i])
    }

    pub(super) fn hunk(&self, id: &str) -> Option<&Hunk> {
        let &fi = self.by_id.get(id)?;
        self.files[fi].hunks.get(id)
    }

    /// `ids` grouped by the file they are in (in first-seen order), and the unknown ones.
    pub(super) fn group_by_file(
        &self,
        ids: &[String],
    ) -> (Vec<(String, Vec<String>)>, Vec<String>) {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        let mut slot: HashMap<usize, usize> = HashMap::new();
        let mut unknown = Vec::new();
        for id in ids {
            match self.by_id.get(id) {
                Some(&fi) => {
                    let g = *slot.entry(fi).or_insert_with(|| {
                        groups.push((self.files[fi].path.clone(), Vec::new()));
                        groups.len() - 1
                    });
                    groups[g].1.push(id.clone());
                }
                None => unknown.push(id.clone()),
            }
        }
        (groups, unknown)
    }

    /// Rebuilds both indexes after files were dropped.
    pub(super) fn reindex(&mut self) {
        self.by_path = self
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.clone(), i))
            .collect();
        self.by_id = self
            .files
            .iter()
            .enumerate()
            .flat_map(|(i, f)| f.hunks.hunks().iter().map(move |h| (h.id.clone(), i)))
            .collect();
    }
}

impl ProposalStore {
    pub(super) fn file(&self, task_id: &str, path: &str) -> Option<&FileProposal> {
        self.tasks.get(task_id)?.file(path)
    }

    pub(super) fn file_mut(&mut self, task_id: &str, path: &str) -> Option<&mut FileProposal> {
        self.tasks.get_mut(task_id)?.file_mut(path)
    }

    pub(super) fn hunk(&self, task_id: &str, id: &str) -> Option<&Hunk> {
        self.tasks.get(task_id)?.hunk(id)
    }

    /// `ids` of the task grouped by file (see [`TaskProposal::group_by_file`]); all
    /// unknown if there is no such task.
    pub(super) fn group_by_file(
        &self,
        task_id: &str,
        ids: &[String],
    ) -> (Vec<(String, Vec<String>)>, Vec<String>) {
        match self.tasks.get(task_id) {
            Some(task) => task.group_by_file(ids),
            None => (Vec::new(), ids.to_vec()),
        }
    }

    /// The task's list of hunks changed shape: cursors into the old one are void.
    pub(super) fn new_revision(&mut self, task_id: &str) {
        if let Some(task) = self.tasks.get_mut(task_id) {
            task.revision += 1;
        }
    }

    pub(super) fn unlink_path(&mut self, task_id: &str, path: &str) {
        if let Some(ids) = self.by_path.get_mut(path) {
            ids.retain(|t| t != task_id);
            if ids.is_empty() {
                self.by_path.remove(path);
            }
        }
    }

    /// Re-evaluates cross-task conflicts in `path` (see `proposal/conflicts.rs`); changes go to the
    /// outbox. Free for a file only one task has hunks in, unless it had a conflict.
    pub(super) fn reevaluate_conflicts(&mut self, path: &str) {
        let Some(task_ids) = self.by_path.get(path) else {
            return;
        };
        let needed = task_ids.len() > 1
            || task_ids
                .iter()
                .any(|t| self.file(t, path).is_some_and(|f| f.cross_conflicts));
        let Some(rope) = self.docs.get(path).map(|e| e.doc.rope()) else {
            return;
        };
        if !needed {
            return;
        }
        let mut files: Vec<TaskFile<'_>> = Vec::new();
        for (task_id, task) in self.tasks.iter_mut() {
            if let Some(&fi) = task.by_path.get(path) {
                files.push(TaskFile {
                    task_id,
                    order: task.order,
                    hunks: &mut task.files[fi].hunks,
                });
            }
        }
        let changed = conflicts::reevaluate(&mut files, rope);
        let mut states = Vec::new();
        let mut cross = Vec::new();
        for file in &files {
            for (_, hunk_id) in changed.iter().filter(|(t, _)| t == file.task_id) {
                if let Some(hunk) = file.hunks.get(hunk_id) {
                    states.push((file.task_id.to_string(), hunk_state(hunk)));
                }
            }
            let any = file
                .hunks
                .hunks()
                .iter()
                .any(|h| h.conflicts_with.is_some());
            cross.push((file.task_id.to_string(), any));
        }
        drop(files);
        self.outbox.extend(states);
        for (task_id, any) in cross {
            if let Some(file) = self.file_mut(&task_id, path) {
                file.cross_conflicts = any;
            }
        }
    }

    pub(super) fn push_states(&mut self, task_id: &str, path: &str, ids: &[String]) {
        let Some(file) = self.file(task_id, path) else {
            return;
        };
        let states: Vec<HunkState> = ids
            .iter()
            .filter_map(|id| file.hunks.get(id))
            .map(hunk_state)
            .collect();
        self.outbox
            .extend(states.into_iter().map(|s| (task_id.to_string(), s)));
    }
}
