//! Accepting and undoing: where each hunk's edit goes and the checks before it goes.
//!
//! Both run the same way, per file: re-read the file if the editor does not have it
//! open, put the requested hunks in flight (each checked against the current text), then
//! route the edits. Open documents, and file operations when the client can do them, go
//! into one `workspace/applyEdit` plan; everything else is written here, atomically,
//! after checking the disk still holds what the hunks were computed for, and is confirmed
//! at once by applying the same edits to the shadow document. An undo does the inverse of
//! the accept, file operations included: a created file is deleted again, a deleted one
//! recreated, a rename moved back.

use std::collections::HashSet;

use ropey::Rope;

use super::super::{Direction, SentEdit, disk, rebase, status_word};
use super::{EditPlan, FileEdit, FileProposal, ProposalStore, refusal};
use crate::documents::char_to_position;
use crate::proposal::FileHunks;
use crate::protocol::{FileKind, HunkEdit, HunkStatus, Range, Refusal};

/// Accept and undo share their routing; this says which one runs.
#[derive(Clone, Copy)]
pub(super) enum Resolve<'a> {
    Accept(&'a [HunkEdit]),
    Undo,
}

impl ProposalStore {
    pub(super) fn resolve(&mut self, task_id: &str, ids: &[String], how: Resolve<'_>) -> EditPlan {
        let mut plan = EditPlan::default();
        if !self.tasks.contains_key(task_id) {
            plan.refused = ids
                .iter()
                .map(|id| refusal(id, format!("there is no proposal of task {task_id}")))
                .collect();
            return plan;
        }
        let (groups, unknown) = self.group_by_file(task_id, ids);
        plan.refused.extend(
            unknown
                .into_iter()
                .map(|id| refusal(&id, format!("task {task_id} has no hunk {id}"))),
        );
        for (path, ids_here) in groups {
            self.resolve_file(task_id, &path, &ids_here, how, &mut plan);
            self.reevaluate_conflicts(&path);
        }
        plan
    }

    fn resolve_file(
        &mut self,
        task_id: &str,
        path: &str,
        ids: &[String],
        how: Resolve<'_>,
        plan: &mut EditPlan,
    ) {
        let read = self.refresh_shadow(path);
        let (Some(entry), Some(file)) = (self.docs.get(path), self.file(task_id, path)) else {
            return;
        };
        let (rope, version, open) = (entry.doc.rope().clone(), entry.doc.version, entry.open);
        let op = FileOp::of(file, how);
        let blocked = self.target_taken(&op, open);
        let Some(file) = self.file_mut(task_id, path) else {
            return;
        };
        let edits = start_edits(&mut file.hunks, ids, how, blocked, &rope, &mut plan.refused);
        if edits.is_empty() {
            return;
        }
        let via_editor = if op.kind == FileKind::Modify {
            open
        } else {
            self.resource_operations
        };
        if via_editor {
            let version = open.then_some(version);
            plan.editor.push(self.file_edit(op, version, &rope, edits));
            return;
        }
        let ids_sent: Vec<String> = edits.iter().map(|(id, ..)| id.clone()).collect();
        // What was just read is the file an accept changes; an undone rename reads its
        // new name itself.
        let read = read.filter(|_| op.from == path);
        match self.write_to_disk(&op, read, &rope, &edits) {
            Ok(()) => {
                let replacements = edits.into_iter().map(|(_, s, e, t)| (s, e, t)).collect();
                self.apply_to_document(path, replacements);
                plan.written.extend(ids_sent);
            }
            Err(reason) => {
                self.abort(task_id, &ids_sent, how.direction());
                // The outbox is for changes nobody asked for; these are answered.
                self.outbox
                    .retain(|(t, s)| t != task_id || !ids_sent.contains(&s.hunk_id));
                plan.refused
                    .extend(ids_sent.iter().map(|id| refusal(id, reason.clone())));
            }
        }
    }

    fn file_edit(
        &self,
        op: FileOp,
        version: Option<i32>,
        rope: &Rope,
        edits: Vec<SentEdit>,
    ) -> FileEdit {
        FileEdit {
            path: op.from,
            kind: op.kind,
            new_path: op.to,
            version,
            hunk_ids: edits.iter().map(|(id, ..)| id.clone()).collect(),
            edits: edits
                .into_iter()
                .map(|(_, start, end, text)| {
                    let range = Range {
                        start: char_to_position(rope, start, self.encoding),
                        end: char_to_position(rope, end, self.encoding),
                    };
                    (range, text)
                })
                .collect(),
        }
    }

    /// Why a file operation that brings a file into being cannot run now: a file exists
    /// where the task (or the accept being undone) left none.
    fn target_taken(&self, op: &FileOp, open: bool) -> Option<String> {
        let target = match op.kind {
            FileKind::Create if !open => &op.from,
            FileKind::Rename => op.to.as_ref()?,
            _ => return None,
        };
        let exists =
            self.docs.get(target).is_some_and(|e| e.open) || self.root.join(target).exists();
        exists.then(|| format!("{target} exists now, where no file was expected; remove it first"))
    }

    /// Writes the result of `edits` (applied to `current`, which `op.from` must still
    /// hold, or be absent for a create) to disk, atomically. `read` is `op.from`'s text
    /// if the caller just read it.
    fn write_to_disk(
        &self,
        op: &FileOp,
        read: Option<Option<String>>,
        current: &Rope,
        edits: &[SentEdit],
    ) -> Result<(), String> {
        let file = self.root.join(&op.from);
        let on_disk = match read {
            Some(read) => read,
            None => disk::read(&file)?,
        };
        let matches = match (op.kind, on_disk.as_deref()) {
            (FileKind::Create, on_disk) => on_disk.is_none(),
            (_, Some(text)) => current == text,
            (_, None) => false,
        };
        if !matches {
            return Err(format!(
                "{} changed on disk since these hunks were computed; nothing was written",
                op.from
            ));
        }
        let mut result = current.clone();
        for (_, start, end, text) in edits.iter().rev() {
            result.remove(*start..*end);
            result.insert(*start, text);
        }
        match (op.kind, &op.to) {
            (FileKind::Delete, _) => disk::remove(&file),
            (FileKind::Rename, Some(to)) => {
                let target = self.root.join(to);
                disk::write(&target, &result.to_string())?;
                // Half a rename would leave the file twice: take the new one back.
                disk::remove(&file).inspect_err(|_| {
                    if let Err(cleanup) = disk::remove(&target) {
                        tracing::warn!("could not take back {}: {cleanup}", target.display());
                    }
                })
            }
            _ => disk::write(&file, &result.to_string()),
        }
    }

    pub(super) fn abort(&mut self, task_id: &str, ids: &[String], direction: Direction) {
        for (path, ids_here) in self.group_by_file(task_id, ids).0 {
            let Some(file) = self.file_mut(task_id, &path) else {
                continue;
            };
            let changed = match direction {
                Direction::Accept => file.hunks.abort_accept(&ids_here),
                Direction::Undo => file.hunks.abort_undo(&ids_here),
            };
            self.push_states(task_id, &path, &changed);
            self.reevaluate_conflicts(&path);
        }
    }

    /// Applies edits made outside the editor's view (a disk write, a file operation the
    /// editor confirmed) to the document, as incremental changes last-first, so that
    /// in-flight hunks are confirmed and every other anchor moves.
    pub(super) fn apply_to_document(&mut self, path: &str, mut edits: Vec<(usize, usize, String)>) {
        let Some(entry) = self.docs.get(path) else {
            return;
        };
        // Last first: each edit's range stays valid in the text the earlier ones leave.
        edits.sort_by_key(|(start, end, _)| std::cmp::Reverse((*start, *end)));
        let rope = entry.doc.rope();
        let changes: Vec<(Option<Range>, String)> = edits
            .into_iter()
            .map(|(start, end, text)| {
                let range = Range {
                    start: char_to_position(rope, start, self.encoding),
                    end: char_to_position(rope, end, self.encoding),
                };
                (Some(range), text)
            })
            .collect();
        let version = entry.doc.version;
        self.change(path, version, &changes);
    }
}

/// What resolving a file's hunks does to the file: an accept does the task's file
/// operation, an undo its inverse (a created file is deleted again, a rename goes back).
struct FileOp {
    kind: FileKind,
    /// The file the hunks' text is in now.
    from: String,
    /// Where a rename moves it.
    to: Option<String>,
}

impl FileOp {
    fn of(file: &FileProposal, how: Resolve<'_>) -> FileOp {
        let (kind, from, to) = match (how, file.kind, &file.new_path) {
            (Resolve::Undo, FileKind::Create, _) => (FileKind::Delete, file.path.clone(), None),
            (Resolve::Undo, FileKind::Delete, _) => (FileKind::Create, file.path.clone(), None),
            (Resolve::Undo, FileKind::Rename, Some(to)) => {
                (FileKind::Rename, to.clone(), Some(file.path.clone()))
            }
            (_, kind, to) => (kind, file.path.clone(), to.clone()),
        };
        FileOp { kind, from, to }
    }
}

impl Resolve<'_> {
    fn direction(self) -> Direction {
        match self {
            Resolve::Accept(_) => Direction::Accept,
            Resolve::Undo => Direction::Undo,
        }
    }
}

/// Puts the requested hunks of one file in flight (accept or undo) and returns their
/// edits; what cannot go is refused with why. `blocked`: the file operation cannot run.
fn start_edits(
    hunks: &mut FileHunks,
    ids: &[String],
    how: Resolve<'_>,
    blocked: Option<String>,
    rope: &Rope,
    refused: &mut Vec<Refusal>,
) -> Vec<SentEdit> {
    match how {
        Resolve::Accept(user_texts) => {
            take_user_texts(hunks, ids, user_texts);
            if let Some(reason) = &blocked {
                for id in ids {
                    if let Some(h) = hunks.get_mut(id)
                        && h.status == HunkStatus::Pending
                    {
                        rebase::mark_stale(h, reason.clone());
                    }
                }
            }
            let edits = hunks.begin_accept(ids, rope);
            refused.extend(accept_refusals(hunks, ids, &edits));
            edits
        }
        Resolve::Undo => {
            if let Some(reason) = blocked {
                refused.extend(ids.iter().map(|id| refusal(id, reason.clone())));
                return Vec::new();
            }
            let (edits, not_undone) = hunks.begin_undo(ids, rope);
            refused.extend(not_undone);
            edits
        }
    }
}

/// The user's own texts for hunks they accept with an edit.
fn take_user_texts(hunks: &mut FileHunks, ids: &[String], edits: &[HunkEdit]) {
    for edit in edits.iter().filter(|e| ids.contains(&e.hunk_id)) {
        if let Some(h) = hunks.get_mut(&edit.hunk_id)
            && h.status == HunkStatus::Pending
            && h.new_text != edit.new_text
        {
            let proposed = std::mem::replace(&mut h.new_text, edit.new_text.clone());
            h.proposed_text.get_or_insert(proposed);
        }
    }
}

/// Why each requested hunk that is not in `sent` was not accepted.
fn accept_refusals(hunks: &FileHunks, ids: &[String], sent: &[SentEdit]) -> Vec<Refusal> {
    let sent: HashSet<&str> = sent.iter().map(|(id, ..)| id.as_str()).collect();
    ids.iter()
        .filter(|id| !sent.contains(id.as_str()))
        .filter_map(|id| {
            let h = hunks.get(id)?;
            let reason = match h.status {
                HunkStatus::Stale => format!(
                    "{id} is stale ({}); refresh it first",
                    h.reason.as_deref().unwrap_or("its text changed")
                ),
                HunkStatus::Pending => format!(
                    "another edit at the same point is on its way; accept {id} again once it is confirmed"
                ),
                HunkStatus::Conflict => match &h.conflicts_with {
                    Some(o) => format!(
                        "{id} overlaps hunk {} of task {}; accept or reject that one first",
                        o.hunk_id, o.task_id
                    ),
                    None => format!("{id} could not be placed in the current text; it can only be rejected"),
                },
                status => format!("{id} is already {}", status_word(status)),
            };
            Some(refusal(id, reason))
        })
        .collect()
}
