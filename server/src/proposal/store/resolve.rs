//! Deciding hunks: accepting and undoing (where each hunk's edit goes and the checks
//! before it goes), rejecting, and refreshing stale hunks.
//!
//! Accept and undo run the same way, per file: re-read the file if the editor does not
//! have it open, put the requested hunks in flight (each checked against the current
//! text), then route the edits. Open documents, and file operations when the client can
//! do them, go into one `workspace/applyEdit` plan; everything else is written here,
//! atomically, after checking the disk still holds what the hunks were computed for, and
//! is confirmed at once by applying the same edits to the shadow document. An undo does
//! the inverse of the accept, file operations included: a created file is deleted again,
//! a deleted one recreated, a rename moved back.

use std::collections::HashSet;

use ropey::Rope;

use super::{FileProposal, ProposalStore, refusal};
use crate::documents::char_to_position;
use crate::proposal::{Direction, FileHunks, SentEdit, disk, rebase, refresh, status_word};
use crate::protocol::{FileKind, HunkEdit, HunkState, HunkStatus, Range, Refusal};

/// One file's part of an accept or undo: edits in the document's current coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct FileEdit {
    pub path: String,
    pub kind: FileKind,
    /// For a rename: where the file goes (the edits apply to it there).
    pub new_path: Option<String>,
    /// The open document's version the ranges refer to; None for a file not open.
    pub version: Option<i32>,
    pub edits: Vec<(Range, String)>,
    pub hunk_ids: Vec<String>,
}

/// What an accept or undo does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EditPlan {
    /// To send as one workspace/applyEdit (may be empty).
    pub editor: Vec<FileEdit>,
    /// Hunks written to disk by the store and already confirmed.
    pub written: Vec<String>,
    /// Requested hunks neither sent nor written, with why.
    pub refused: Vec<Refusal>,
}

/// Accept and undo share their routing; this says which one runs.
#[derive(Clone, Copy)]
enum Resolve<'a> {
    Accept(&'a [HunkEdit]),
    Undo,
}

impl ProposalStore {
    /// Why each of `ids` cannot be accepted at all: an import conflict (never
    /// acceptable) or a conflict with another task. Empty: go ahead.
    pub fn accept_blockers(&self, task_id: &str, ids: &[String]) -> Vec<Refusal> {
        ids.iter()
            .filter_map(|id| {
                let hunk = self.hunk(task_id, id)?;
                if hunk.status != HunkStatus::Conflict {
                    return None;
                }
                let reason = match &hunk.conflicts_with {
                    Some(other) => format!(
                        "{id} overlaps hunk {} of task {}, which came first: accept or reject \
                         that one first",
                        other.hunk_id, other.task_id
                    ),
                    None => format!(
                        "{id} is a conflict hunk: a change that could not be placed in the \
                         current text; make it by hand if you want it, then reject the hunk"
                    ),
                };
                Some(Refusal {
                    hunk_id: id.clone(),
                    reason,
                })
            })
            .collect()
    }

    /// Accepts pending hunks (`edits`: accept these with the user's text instead; they
    /// count as requested too). Hunks whose text changed become stale (not sent). Edits
    /// for open documents (and file operations when the client supports resource
    /// operations) come back to be sent as one workspace/applyEdit and are confirmed later
    /// by didChange / [`ProposalStore::confirm_applied`]; the rest is written to disk
    /// here, after checking the disk still holds what the hunks were computed for, and
    /// confirmed at once.
    pub fn begin_accept(&mut self, task_id: &str, ids: &[String], edits: &[HunkEdit]) -> EditPlan {
        let mut wanted: Vec<String> = ids.to_vec();
        wanted.extend(edits.iter().map(|e| e.hunk_id.clone()));
        let mut seen = HashSet::new();
        wanted.retain(|id| seen.insert(id.clone()));
        self.resolve(task_id, &wanted, Resolve::Accept(edits))
    }

    /// The editor answered `applied: true`: confirm what no didChange will confirm
    /// (file operations).
    pub fn confirm_applied(&mut self, task_id: &str, ids: &[String]) {
        for (path, ids_here) in self.group_by_file(task_id, ids).0 {
            let Some(file) = self.file(task_id, &path) else {
                continue;
            };
            if file.kind == FileKind::Modify {
                continue;
            }
            let edits: Vec<(usize, usize, String)> = ids_here
                .iter()
                .filter_map(|id| {
                    let hunk = file.hunks.get(id)?;
                    let text = match file.hunks.in_flight_direction(id)? {
                        Direction::Accept => &hunk.new_text,
                        Direction::Undo => &hunk.old_text,
                    };
                    Some((hunk.start, hunk.end, text.clone()))
                })
                .collect();
            self.apply_to_document(&path, edits);
        }
    }

    /// The editor refused an accept's edit: those hunks go back to pending (or stale).
    pub fn abort_accept(&mut self, task_id: &str, ids: &[String]) {
        self.abort(task_id, ids, Direction::Accept);
    }

    /// The editor refused an undo's edit: those hunks stay accepted.
    pub fn abort_undo(&mut self, task_id: &str, ids: &[String]) {
        self.abort(task_id, ids, Direction::Undo);
    }

    /// Rejects undecided hunks, remembering `reason` for the follow-up; hunks of other
    /// tasks that were in conflict only with these go back to pending (outbox).
    /// Returns the ids actually rejected (hunks already decided are left alone).
    pub fn reject(&mut self, task_id: &str, ids: &[String], reason: Option<&str>) -> Vec<String> {
        let mut rejected = Vec::new();
        for (path, ids_here) in self.group_by_file(task_id, ids).0 {
            if let Some(file) = self.file_mut(task_id, &path) {
                rejected.extend(file.hunks.reject(&ids_here, reason));
            }
            self.reevaluate_conflicts(&path);
        }
        rejected
    }

    /// Inverse edits for confirmed accepted hunks whose text is still exactly as
    /// accepted; the others are refused with what changed. Same routing as
    /// [`ProposalStore::begin_accept`]. A hunk is pending again once its inverse edit is
    /// confirmed.
    pub fn begin_undo(&mut self, task_id: &str, ids: &[String]) -> EditPlan {
        self.resolve(task_id, ids, Resolve::Undo)
    }

    /// 3-way refresh of the task's stale hunks (`ids` empty = all stale): returns the
    /// state of each one afterwards (pending with a new range, still stale, or accepted
    /// when the text already has the change).
    pub fn refresh(&mut self, task_id: &str, ids: &[String]) -> Vec<HunkState> {
        let Some(task) = self.tasks.get(task_id) else {
            return Vec::new();
        };
        let groups: Vec<(String, Option<HashSet<String>>)> = if ids.is_empty() {
            task.files
                .iter()
                .filter(|f| {
                    f.hunks
                        .hunks()
                        .iter()
                        .any(|h| h.status == HunkStatus::Stale)
                })
                .map(|f| (f.path.clone(), None))
                .collect()
        } else {
            self.group_by_file(task_id, ids)
                .0
                .into_iter()
                .map(|(path, ids)| (path, Some(ids.into_iter().collect())))
                .collect()
        };
        let mut refreshed = Vec::new();
        for (path, only) in groups {
            self.refresh_shadow(&path);
            let Some(rope) = self.docs.get(&path).map(|e| e.doc.rope().clone()) else {
                continue;
            };
            let Some(file) = self.file_mut(task_id, &path) else {
                continue;
            };
            for (gen_no, base) in file.bases.iter().enumerate() {
                let targets: Vec<String> = file
                    .hunks
                    .hunks()
                    .iter()
                    .filter(|h| h.base_gen == gen_no)
                    .filter(|h| only.as_ref().is_none_or(|set| set.contains(&h.id)))
                    .map(|h| h.id.clone())
                    .collect();
                let targets: HashSet<&str> = targets.iter().map(String::as_str).collect();
                refreshed.extend(refresh::refresh(
                    &mut file.hunks,
                    base,
                    &rope,
                    Some(&targets),
                ));
            }
            self.reevaluate_conflicts(&path);
        }
        if !refreshed.is_empty() {
            // Re-placed hunks may have moved past others in their file's list.
            self.new_revision(task_id);
        }
        self.hunk_states(task_id, &refreshed)
    }

    fn resolve(&mut self, task_id: &str, ids: &[String], how: Resolve<'_>) -> EditPlan {
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

    fn abort(&mut self, task_id: &str, ids: &[String], direction: Direction) {
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
    fn apply_to_document(&mut self, path: &str, mut edits: Vec<(usize, usize, String)>) {
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
