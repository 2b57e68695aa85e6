//! The review state of the whole workspace: the editor's documents and every task's hunks.
//!
//! Text and anchors live under one owner so that an edit moves both at once: a `didChange`
//! updates the document and rebases every task's hunks in that file before anything else
//! can look. Files that have hunks but are not open in the editor get a *shadow* document
//! read from disk; the shadow is re-read before anything is applied to it (accept, undo,
//! refresh), so a hunk is never applied to text it was not computed for.
//!
//! The store also decides where an accepted (or undone) hunk goes (`resolve.rs`): edits
//! of open documents (and file operations, when the client can do them) come back as one
//! plan for `workspace/applyEdit`; everything else is written to disk here, atomically,
//! and confirmed at once. Status changes nobody asked for (stale after typing, conflicts
//! between tasks appearing or going away, confirmations) collect in an outbox the LSP
//! layer drains after each call.
//!
//! Lookups are indexed (path → tasks, per task path → file and hunk id → file), so a
//! keystroke or a code action costs what the file's hunks near the cursor cost, not
//! what the whole proposal costs.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ropey::Rope;

use self::resolve::Resolve;
use super::conflicts::{self, TaskFile};
use super::page::{self, Cursor};
use super::refresh;
use super::{DIFF_DEADLINE, Direction, disk, rebase, renames};
use crate::documents::{Change, Document, PositionEncoding, Replacement, char_to_position};
use crate::proposal::{FileHunks, Hunk, RawHunk, diff_hunks};
use crate::protocol::{FileKind, HunkEdit, HunkInfo, HunkState, HunkStatus, Range, Refusal};
use crate::workspace::FileChange;

pub struct ProposalStore {
    root: PathBuf,
    encoding: PositionEncoding,
    /// The client applies create/delete/rename operations itself.
    resource_operations: bool,
    docs: HashMap<String, DocEntry>,
    tasks: HashMap<String, TaskProposal>,
    /// path → ids of the tasks with hunks there, in install order.
    by_path: HashMap<String, Vec<String>>,
    installs: u64,
    outbox: Vec<(String, HunkState)>,
}

struct DocEntry {
    doc: Document,
    /// False for a shadow of a file on disk that the editor does not have open.
    open: bool,
}

struct TaskProposal {
    /// Install order, for deciding which of two overlapping tasks yields.
    order: u64,
    files: Vec<FileProposal>,
    by_path: HashMap<String, usize>,
    /// hunk id → index in `files`.
    by_id: HashMap<String, usize>,
    /// Hunk ids are `<taskId>-<n>`; n continues across follow-ups.
    next_hunk: u64,
    /// Moves on whenever hunks are added, dropped or re-placed, so a page cursor of an
    /// older listing is refused instead of continuing a different list.
    revision: u64,
}

pub struct FileProposal {
    pub path: String,
    pub kind: FileKind,
    /// Where a rename moves the file.
    pub new_path: Option<String>,
    /// The texts hunks were computed against (`Hunk::base_gen` indexes it); the first is
    /// the task's base, a follow-up adds the text it started from. Empty for a file the
    /// task created.
    bases: Vec<Arc<str>>,
    pub hunks: FileHunks,
    /// Some hunk here was in conflict with another task: re-evaluate even when this is
    /// the only task left in the file.
    cross_conflicts: bool,
}

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

/// A proposal file as the protocol shows it (paths still workspace-relative).
pub struct FileView {
    pub path: String,
    pub kind: FileKind,
    pub new_path: Option<String>,
    pub version: Option<i32>,
    pub hunks: Vec<HunkInfo>,
}

pub struct ProposalPage {
    pub files: Vec<FileView>,
    pub next_cursor: Option<String>,
    pub total_files: usize,
    pub total_hunks: usize,
}

/// A pending or accepted hunk under the cursor, for code actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HunkAt {
    pub task_id: String,
    pub hunk_id: String,
    pub range: Range,
    pub status: HunkStatus,
}

/// What a follow-up turn starts from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FollowUpState {
    /// (path, text to start from; None = the pending change deletes it)
    pub files: Vec<(String, Option<String>)>,
    pub accepted: Vec<ReviewedHunk>,
    pub rejected: Vec<ReviewedHunk>,
    /// Still pending/stale/conflict when the follow-up starts.
    pub undecided: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReviewedHunk {
    pub path: String,
    pub hunk_id: String,
    pub old_text: String,
    /// What the task proposed.
    pub proposed_text: String,
    /// Accepted with the user's own text (resolveHunks `edits`).
    pub user_text: Option<String>,
    /// Rejection reason given by the user.
    pub reason: Option<String>,
}

impl ProposalStore {
    pub fn new(root: PathBuf, encoding: PositionEncoding) -> Self {
        ProposalStore {
            root,
            encoding,
            resource_operations: false,
            docs: HashMap::new(),
            tasks: HashMap::new(),
            by_path: HashMap::new(),
            installs: 0,
            outbox: Vec::new(),
        }
    }

    pub fn encoding(&self) -> PositionEncoding {
        self.encoding
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the client applies create/delete/rename resource operations (initialize).
    pub fn set_resource_operations(&mut self, supported: bool) {
        self.resource_operations = supported;
    }

    // ----- text sync ---------------------------------------------------------------------

    /// The editor opened a file. If a shadow of it carries hunks, the editor's text may
    /// differ from disk (unsaved edits, an accept the editor applied in the background):
    /// rebase onto it like a whole-text change.
    pub fn open(&mut self, path: &str, text: &str, version: i32) {
        if self.docs.get(path).is_some_and(|e| !e.open) {
            self.replace_text(path, text);
        }
        let entry = self
            .docs
            .entry(path.to_string())
            .or_insert_with(|| DocEntry {
                doc: Document::new(text, version),
                open: true,
            });
        entry.open = true;
        entry.doc.version = version;
    }

    /// Applies one `didChange` (content changes in order) and rebases every task's hunks
    /// in that file.
    pub fn change(&mut self, path: &str, version: i32, edits: &[(Option<Range>, String)]) {
        let mut may_overlap_anew = false;
        for (range, text) in edits {
            // Only a whole-text change needs to recognise edits in flight; keystrokes
            // (incremental changes) skip collecting them.
            let expected = if range.is_none() {
                self.in_flight(path)
            } else {
                Vec::new()
            };
            let expected: Vec<Replacement<'_>> = expected
                .iter()
                .map(|(start, end, text)| Replacement {
                    start: *start,
                    end: *end,
                    text,
                })
                .collect();
            let Some(entry) = self.docs.get_mut(path) else {
                tracing::warn!("didChange for {path}, which was never opened; ignored");
                return;
            };
            let changes = entry.doc.apply(*range, text, self.encoding, &expected);
            self.rebase(path, &changes);
            may_overlap_anew |= match changes.as_slice() {
                [] => false,
                [one] => self.tasks_touching(path, one.start, one.start + one.new_len) > 1,
                _ => true,
            };
        }
        if let Some(entry) = self.docs.get_mut(path) {
            entry.doc.version = version;
        }
        // Deleting the text between two tasks' hunks can make them overlap. An edit only
        // changes how two hunks lie relative to each other when both end up touching the
        // text it wrote; hunks elsewhere keep their relations, so a keystroke away from
        // other tasks' hunks costs no re-evaluation.
        if may_overlap_anew {
            self.reevaluate_conflicts(path);
        }
    }

    /// How many tasks have a hunk touching `[from, to]` (ends included) in `path`.
    fn tasks_touching(&self, path: &str, from: usize, to: usize) -> usize {
        let Some(task_ids) = self.by_path.get(path) else {
            return 0;
        };
        task_ids
            .iter()
            .filter(|t| {
                self.file(t, path)
                    .is_some_and(|f| f.hunks.touching(from, to).next().is_some())
            })
            .count()
    }

    /// The editor closed a file: keep its text as a shadow while hunks point into it,
    /// because closing does not change the text (unsaved edits may be discarded, which the
    /// re-read before anything is applied catches).
    pub fn close(&mut self, path: &str) {
        if self.by_path.contains_key(path) {
            if let Some(entry) = self.docs.get_mut(path) {
                entry.open = false;
            }
        } else {
            self.docs.remove(path);
        }
    }

    /// A file changed on disk: if it is a shadow (not open in the editor), re-read it
    /// and rebase its hunks.
    pub fn disk_changed(&mut self, path: &str) {
        self.refresh_shadow(path);
    }

    /// Every hunk status change nobody asked for since the last call, as (task id, state).
    pub fn take_changed(&mut self) -> Vec<(String, HunkState)> {
        std::mem::take(&mut self.outbox)
    }

    /// The unsaved text of every open buffer, for a new task's snapshot.
    pub fn open_buffers(&self) -> HashMap<String, String> {
        self.docs
            .iter()
            .filter(|(_, entry)| entry.open)
            .map(|(path, entry)| (path.clone(), entry.doc.text()))
            .collect()
    }

    // ----- installing --------------------------------------------------------------------

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
        self.tasks.insert(
            task_id.to_string(),
            TaskProposal {
                order: self.installs,
                files: Vec::new(),
                by_path: HashMap::new(),
                by_id: HashMap::new(),
                next_hunk: 0,
                revision: 0,
            },
        );
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

    // ----- review ------------------------------------------------------------------------

    /// Pending hunks and confirmed accepted hunks touching `range`, all tasks, in
    /// document order. O(log h + k) per task with hunks in the file.
    pub fn hunks_at(&self, path: &str, range: Range) -> Vec<HunkAt> {
        let (Some(entry), Some(task_ids)) = (self.docs.get(path), self.by_path.get(path)) else {
            return Vec::new();
        };
        let rope = entry.doc.rope();
        let from = crate::documents::position_to_char(rope, range.start, self.encoding);
        let to = crate::documents::position_to_char(rope, range.end, self.encoding);
        let mut found = Vec::new();
        for task_id in task_ids {
            let Some(file) = self.file(task_id, path) else {
                continue;
            };
            let reviewable = |h: &&Hunk| match h.status {
                HunkStatus::Pending => true,
                HunkStatus::Accepted => file.hunks.in_flight_direction(&h.id).is_none(),
                _ => false,
            };
            for hunk in file.hunks.touching(from, to).filter(reviewable) {
                found.push(HunkAt {
                    task_id: task_id.clone(),
                    hunk_id: hunk.id.clone(),
                    range: self.range_of(rope, hunk),
                    status: hunk.status,
                });
            }
        }
        found.sort_by_key(|h| h.range.start);
        found
    }

    /// Ids of the task's hunks in `path` with `status`.
    pub fn ids_in_file(&self, task_id: &str, path: &str, status: HunkStatus) -> Vec<String> {
        self.file(task_id, path)
            .map(|f| {
                f.hunks
                    .hunks()
                    .iter()
                    .filter(|h| h.status == status)
                    .map(|h| h.id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

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

    /// Current status of each named hunk; unknown ids are left out.
    pub fn hunk_states(&self, task_id: &str, ids: &[String]) -> Vec<HunkState> {
        ids.iter()
            .filter_map(|id| self.hunk(task_id, id))
            .map(hunk_state)
            .collect()
    }

    /// One page of the task's proposal (`path`: that file only), at most `limit` hunks,
    /// continuing at `cursor`. None: no such task. Err: a cursor this store never gave.
    pub fn view_page(
        &self,
        task_id: &str,
        path: Option<&str>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Option<Result<ProposalPage, String>> {
        let task = self.tasks.get(task_id)?;
        let files: Vec<&FileProposal> = match path {
            Some(path) => task
                .by_path
                .get(path)
                .map(|&i| &task.files[i])
                .into_iter()
                .collect(),
            None => task.files.iter().collect(),
        };
        let from = match cursor.map(Cursor::decode).transpose() {
            Ok(None) => Cursor { file: 0, hunk: 0 },
            Ok(Some((revision, from))) if revision == task.revision => from,
            Ok(Some(_)) => {
                return Some(Err(format!(
                    "task {task_id}'s hunks changed since that page was listed (a follow-up \
                     or refresh added or re-placed some); start again without a cursor"
                )));
            }
            Err(e) => return Some(Err(e)),
        };
        let sizes: Vec<usize> = files.iter().map(|f| f.hunks.hunks().len()).collect();
        if from.file > sizes.len() || sizes.get(from.file).is_some_and(|&n| from.hunk > n) {
            return Some(Err(format!(
                "the cursor points past the end of task {task_id}'s proposal; start again without one"
            )));
        }
        let (slices, next) = page::plan(&sizes, from, limit);
        let views = slices
            .into_iter()
            .map(|(fi, a, b)| self.file_view(files[fi], a..b))
            .collect();
        Some(Ok(ProposalPage {
            files: views,
            next_cursor: next.map(|c| c.encode(task.revision)),
            total_files: files.len(),
            total_hunks: sizes.iter().sum(),
        }))
    }

    /// What a follow-up turn starts from: per file of the task that still has pending
    /// hunks, its current text with exactly those pending hunks applied (None: the
    /// pending change deletes the file); plus the review so far.
    pub fn follow_up_state(&self, task_id: &str) -> FollowUpState {
        let mut state = FollowUpState::default();
        let Some(task) = self.tasks.get(task_id) else {
            return state;
        };
        for file in &task.files {
            let mut pending = Vec::new();
            for hunk in file.hunks.hunks() {
                match hunk.status {
                    HunkStatus::Pending => pending.push(hunk),
                    HunkStatus::Accepted => state.accepted.push(reviewed(file, hunk)),
                    HunkStatus::Rejected => state.rejected.push(reviewed(file, hunk)),
                    HunkStatus::Stale | HunkStatus::Conflict => {}
                }
                if rebase::is_undecided(hunk.status) {
                    state.undecided += 1;
                }
            }
            if pending.is_empty() {
                continue;
            }
            match (file.kind, &file.new_path) {
                (FileKind::Delete, _) => state.files.push((file.path.clone(), None)),
                (FileKind::Rename, Some(to)) => {
                    state.files.push((file.path.clone(), None));
                    let text = pending.first().map(|h| h.new_text.clone());
                    state.files.push((to.clone(), text));
                }
                _ => {
                    let text = self.current_text(&file.path).unwrap_or_default();
                    state
                        .files
                        .push((file.path.clone(), Some(with_applied(&text, &pending))));
                }
            }
        }
        state
    }

    // ----- internals: installing ---------------------------------------------------------

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

    /// The task's list of hunks changed shape: cursors into the old one are void.
    fn new_revision(&mut self, task_id: &str) {
        if let Some(task) = self.tasks.get_mut(task_id) {
            task.revision += 1;
        }
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
        reindex_task(task);
        task.revision += 1;
        for path in emptied {
            self.unlink_path(task_id, &path);
            self.reevaluate_conflicts(&path);
        }
    }

    fn unlink_path(&mut self, task_id: &str, path: &str) {
        if let Some(ids) = self.by_path.get_mut(path) {
            ids.retain(|t| t != task_id);
            if ids.is_empty() {
                self.by_path.remove(path);
            }
        }
    }

    // ----- internals: documents ----------------------------------------------------------

    /// Moves every task's hunks in `path` through `changes`; statuses changed go to the
    /// outbox.
    fn rebase(&mut self, path: &str, changes: &[Change]) {
        let Some(task_ids) = self.by_path.get(path) else {
            return;
        };
        for task_id in task_ids {
            let Some(task) = self.tasks.get_mut(task_id) else {
                continue;
            };
            let Some(&fi) = task.by_path.get(path) else {
                continue;
            };
            let file = &mut task.files[fi];
            for change in changes {
                for id in file.hunks.apply_change(*change) {
                    if let Some(hunk) = file.hunks.get(&id) {
                        self.outbox.push((task_id.clone(), hunk_state(hunk)));
                    }
                }
            }
            // An accept the editor reported in pieces is recognised by its result.
            if let Some(entry) = self.docs.get(path) {
                for id in file.hunks.confirm_held(entry.doc.rope()) {
                    if let Some(hunk) = file.hunks.get(&id) {
                        self.outbox.push((task_id.clone(), hunk_state(hunk)));
                    }
                }
            }
        }
    }

    /// Replaces a document's whole text as the editor (or disk) now has it.
    fn replace_text(&mut self, path: &str, text: &str) {
        let version = self
            .docs
            .get(path)
            .map(|e| e.doc.version)
            .unwrap_or_default();
        self.change(path, version, &[(None, text.to_string())]);
    }

    /// A closed file may have changed on disk since its shadow was read.
    /// Returns what was read (None: absent), for a caller about to write the file; None
    /// when nothing was read.
    fn refresh_shadow(&mut self, path: &str) -> Option<Option<String>> {
        let entry = self.docs.get(path)?;
        if entry.open || self.moved_away(path) {
            return None;
        }
        let disk = match disk::read(&self.root.join(path)) {
            Ok(text) => text,
            Err(e) => {
                tracing::warn!("{e}; keeping the last text read");
                return None;
            }
        };
        let text = disk.as_deref().unwrap_or_default();
        if entry.doc.rope() != text {
            self.replace_text(path, text);
        }
        Some(disk)
    }

    /// An accepted rename left nothing at `path` on disk, while its hunk stays anchored
    /// on the moved text: re-reading would mistake the move for the user deleting it.
    fn moved_away(&self, path: &str) -> bool {
        self.by_path.get(path).is_some_and(|tasks| {
            tasks.iter().any(|t| {
                self.file(t, path).is_some_and(|f| {
                    f.kind == FileKind::Rename
                        && f.hunks
                            .hunks()
                            .iter()
                            .any(|h| h.status == HunkStatus::Accepted)
                })
            })
        })
    }

    fn ensure_doc(&mut self, path: &str, base: &str) {
        if self.docs.contains_key(path) {
            return;
        }
        // Not open in the editor: anchor on the disk text (absent file = empty).
        let text = match disk::read(&self.root.join(path)) {
            Ok(text) => text.unwrap_or_default(),
            Err(e) => {
                tracing::warn!("{e}; anchoring its hunks on the task's base");
                base.to_string()
            }
        };
        self.docs.insert(
            path.to_string(),
            DocEntry {
                doc: Document::new(&text, 0),
                open: false,
            },
        );
    }

    /// The file's text now: the editor's or shadow's, else the disk's; None if absent.
    fn current_text(&self, path: &str) -> Option<String> {
        match self.docs.get(path) {
            Some(entry) if entry.open => Some(entry.doc.text()),
            _ => disk::read(&self.root.join(path)).ok().flatten(),
        }
    }

    fn drop_shadow_if_unused(&mut self, path: &str) {
        if !self.by_path.contains_key(path) && self.docs.get(path).is_some_and(|e| !e.open) {
            self.docs.remove(path);
        }
    }

    /// Edits in flight of every task in `path`, sorted: what a whole-text change from
    /// the editor is expected to contain.
    fn in_flight(&self, path: &str) -> Vec<(usize, usize, String)> {
        let mut expected: Vec<(usize, usize, String)> = self
            .by_path
            .get(path)
            .into_iter()
            .flatten()
            .filter_map(|t| self.file(t, path))
            .flat_map(|f| f.hunks.in_flight())
            .map(|r| (r.start, r.end, r.text.to_string()))
            .collect();
        expected.sort_by_key(|(start, ..)| *start);
        expected
    }

    // ----- internals: conflicts between tasks --------------------------------------------

    /// Re-evaluates cross-task conflicts in `path` (see `conflicts.rs`); changes go to the
    /// outbox. Free for a file only one task has hunks in, unless it had a conflict.
    fn reevaluate_conflicts(&mut self, path: &str) {
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

    fn push_states(&mut self, task_id: &str, path: &str, ids: &[String]) {
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

    // ----- internals: lookups and views --------------------------------------------------

    /// `ids` grouped by the file they are in (in first-seen order), and the unknown ones.
    fn group_by_file(
        &self,
        task_id: &str,
        ids: &[String],
    ) -> (Vec<(String, Vec<String>)>, Vec<String>) {
        let Some(task) = self.tasks.get(task_id) else {
            return (Vec::new(), ids.to_vec());
        };
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        let mut slot: HashMap<usize, usize> = HashMap::new();
        let mut unknown = Vec::new();
        for id in ids {
            match task.by_id.get(id) {
                Some(&fi) => {
                    let g = *slot.entry(fi).or_insert_with(|| {
                        groups.push((task.files[fi].path.clone(), Vec::new()));
                        groups.len() - 1
                    });
                    groups[g].1.push(id.clone());
                }
                None => unknown.push(id.clone()),
            }
        }
        (groups, unknown)
    }

    fn file(&self, task_id: &str, path: &str) -> Option<&FileProposal> {
        let task = self.tasks.get(task_id)?;
        task.by_path.get(path).map(|&i| &task.files[i])
    }

    fn file_mut(&mut self, task_id: &str, path: &str) -> Option<&mut FileProposal> {
        let task = self.tasks.get_mut(task_id)?;
        task.by_path.get(path).map(|&i| &mut task.files[i])
    }

    fn hunk(&self, task_id: &str, id: &str) -> Option<&Hunk> {
        let task = self.tasks.get(task_id)?;
        let &fi = task.by_id.get(id)?;
        task.files[fi].hunks.get(id)
    }

    fn file_view(&self, file: &FileProposal, hunks: std::ops::Range<usize>) -> FileView {
        let entry = self.docs.get(&file.path);
        let infos = match entry {
            Some(entry) => file.hunks.hunks()[hunks]
                .iter()
                .map(|h| self.hunk_info(entry.doc.rope(), h))
                .collect(),
            None => Vec::new(),
        };
        FileView {
            path: file.path.clone(),
            kind: file.kind,
            new_path: file.new_path.clone(),
            version: entry.filter(|e| e.open).map(|e| e.doc.version),
            hunks: infos,
        }
    }

    fn hunk_info(&self, rope: &Rope, h: &Hunk) -> HunkInfo {
        let shows_both_sides = matches!(h.status, HunkStatus::Stale | HunkStatus::Conflict);
        let current_text = shows_both_sides.then(|| {
            let end = h.end.min(rope.len_chars());
            rope.slice(h.start.min(end)..end).to_string()
        });
        HunkInfo {
            hunk_id: h.id.clone(),
            range: self.range_of(rope, h),
            old_text: h.old_text.clone(),
            new_text: h.new_text.clone(),
            status: h.status,
            reason: h.reason.clone(),
            current_text,
            conflicts_with: h.conflicts_with.clone(),
            proposed_text: h.proposed_text.clone(),
        }
    }

    fn range_of(&self, rope: &Rope, hunk: &Hunk) -> Range {
        Range {
            start: char_to_position(rope, hunk.start, self.encoding),
            end: char_to_position(rope, hunk.end, self.encoding),
        }
    }
}

fn hunk_state(hunk: &Hunk) -> HunkState {
    HunkState {
        hunk_id: hunk.id.clone(),
        status: hunk.status,
        reason: hunk.reason.clone(),
        conflicts_with: hunk.conflicts_with.clone(),
    }
}

fn refusal(id: &str, reason: String) -> Refusal {
    Refusal {
        hunk_id: id.to_string(),
        reason,
    }
}

fn reviewed(file: &FileProposal, h: &Hunk) -> ReviewedHunk {
    let (proposed_text, user_text) = match &h.proposed_text {
        Some(proposed) => (proposed.clone(), Some(h.new_text.clone())),
        None => (h.new_text.clone(), None),
    };
    ReviewedHunk {
        path: file.path.clone(),
        hunk_id: h.id.clone(),
        old_text: h.old_text.clone(),
        proposed_text,
        user_text,
        reason: (h.status == HunkStatus::Rejected)
            .then(|| h.reason.clone())
            .flatten(),
    }
}

/// `text` with the (sorted, disjoint) pending hunks applied.
fn with_applied(text: &str, pending: &[&Hunk]) -> String {
    let mut rope = Rope::from_str(text);
    for h in pending.iter().rev() {
        let end = h.end.min(rope.len_chars());
        rope.remove(h.start.min(end)..end);
        rope.insert(h.start.min(end), &h.new_text);
    }
    rope.to_string()
}

/// The kind of a file a follow-up changes again.
fn merged_kind(before: FileKind, now: FileKind) -> FileKind {
    match (before, now) {
        (FileKind::Modify, other) => other,
        (kept, _) => kept,
    }
}

fn reindex_task(task: &mut TaskProposal) {
    task.by_path = task
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.path.clone(), i))
        .collect();
    task.by_id = task
        .files
        .iter()
        .enumerate()
        .flat_map(|(i, f)| f.hunks.hunks().iter().map(move |h| (h.id.clone(), i)))
        .collect();
}

#[path = "git_diff.rs"]
pub mod git_diff;
#[path = "persist.rs"]
mod persist;
#[path = "resolve.rs"]
mod resolve;

pub use persist::{SavedDecision, SavedFile, SavedProposal};

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
