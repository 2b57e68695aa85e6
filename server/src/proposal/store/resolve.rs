//! Deciding hunks: accepting and undoing (where each hunk's edit goes and the checks
//! before it goes), rejecting, and refreshing stale hunks.
//!
//! Accept and undo run the same way, per file: re-read the file if the editor does not
//! have it open, put the requested hunks in flight (each checked against the current
//! text), then route the edits. Open documents, and file operations when the client can
//! do them, go into one `workspace/applyEdit` plan; everything else is written here,
//! atomically, after checking the disk still holds what the hunks were computed for, and
//! is confirmed by applying the same edits to the shadow document. An undo does the
//! inverse of the accept, file operations included: a created file is deleted again, a
//! deleted one recreated, a rename moved back.
//!
//! Reading and writing a large file takes long, so the disk work runs without the
//! store's lock (`snapshot.rs`): [`ProposalStore::disk_reads`] names the files to read
//! (lock), [`DiskReads::read`] reads them (no lock), [`ProposalStore::begin_accept_with`]
//! / [`ProposalStore::begin_undo_with`] decide (lock; a shadow that moved since it was
//! read is read again there), [`EditPlan::carry_out`] writes (no lock) and
//! [`ProposalStore::finish_writes`] confirms what was written or takes back what was
//! not (lock). Hunks being written are in flight meanwhile, like those sent to the
//! editor. A refresh's 3-way merges likewise run between [`ProposalStore::refresh_basis`]
//! and [`ProposalStore::commit_refresh`]. The plain [`ProposalStore::begin_accept`],
//! [`ProposalStore::begin_undo`] and [`ProposalStore::refresh`] do every phase at once.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use ropey::Rope;

use super::snapshot::{ATTEMPTS, DocSnapshot};
use super::{FileProposal, Moved, ProposalStore, refusal};
use crate::documents::{PositionEncoding, char_to_position};
use crate::proposal::refresh::{self, Merge};
use crate::proposal::{Direction, FileHunks, SentEdit, disk, rebase, status_word};
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
    /// Files to write, with hunks in flight until [`ProposalStore::finish_writes`]
    /// confirms them (moving them to `written`) or takes them back (to `refused`).
    pub disk: Vec<DiskWrite>,
    /// The editor's part before [`EditPlan::carry_out`] turns its offsets into ranges.
    to_locate: Vec<EditorEdits>,
    /// Writes finished, kept so that the texts they hold are freed with the plan, after
    /// the store is let go (freeing a 20 MB text takes milliseconds).
    finished: Vec<DiskWrite>,
}

/// One file's edits for the editor, in char offsets of `rope`, the text of `version`.
#[derive(Debug, Clone, PartialEq)]
struct EditorEdits {
    op: FileOp,
    version: Option<i32>,
    rope: Rope,
    edits: Vec<SentEdit>,
    encoding: PositionEncoding,
}

/// One file an accept or undo writes to disk: its text as the hunks were checked against
/// and the edits to make in it.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskWrite {
    root: PathBuf,
    /// The document the hunks are anchored in.
    path: String,
    op: FileOp,
    current: Rope,
    edits: Vec<SentEdit>,
    direction: Direction,
    /// Set by [`EditPlan::carry_out`].
    outcome: Option<Result<(), String>>,
    /// The hunks written but not confirmed yet, in the order of `edits`.
    unconfirmed: Vec<String>,
}

/// The files not open in the editor that an accept or undo will read, with their
/// shadows as they were (phase 1), and after [`DiskReads::read`] what the disk holds.
#[derive(Debug, Default)]
pub struct DiskReads {
    root: PathBuf,
    files: Vec<DiskRead>,
}

#[derive(Debug)]
struct DiskRead {
    path: String,
    shadow: DocSnapshot,
    /// None until read.
    disk: Option<Result<Option<String>, String>>,
    /// The disk holds exactly the shadow's text.
    same: bool,
}

impl DiskReads {
    /// Phase 2 (no lock): reads each file and compares it with its shadow.
    pub fn read(mut self) -> Self {
        for file in &mut self.files {
            let disk = disk::read(&self.root.join(&file.path));
            file.same = matches!(&disk, Ok(text) if file.shadow.rope == text.as_deref().unwrap_or_default());
            file.disk = Some(disk);
        }
        self
    }

    fn take(&mut self, path: &str) -> Option<DiskRead> {
        let at = self.files.iter().position(|f| f.path == path)?;
        Some(self.files.swap_remove(at))
    }
}

impl EditPlan {
    /// Phase 4 (no lock): the work the plan needs done outside the store. The editor's
    /// edits get their LSP ranges (computed in the text of the version they name, so
    /// later typing does not matter: the editor refuses an edit of an older version), and
    /// every file of `disk` is written, atomically, after checking it still holds the
    /// text the hunks were checked against.
    pub fn carry_out(&mut self) {
        self.editor.extend(
            std::mem::take(&mut self.to_locate)
                .into_iter()
                .map(editor_edit),
        );
        for write in self.disk.iter_mut().filter(|w| w.outcome.is_none()) {
            write.outcome = Some(write_file(
                &write.root,
                &write.op,
                &write.current,
                &write.edits,
            ));
        }
    }
}

/// Hunks confirmed per section under the lock after a disk write: about half a
/// millisecond of applying edits to a 20 MB document.
const CONFIRM_STEP: usize = 128;

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
        let reads = self.disk_reads(task_id, &accepted_ids(ids, edits)).read();
        let mut plan = self.begin_accept_with(task_id, ids, edits, reads);
        plan.carry_out();
        self.finish_writes(task_id, &mut plan);
        plan
    }

    /// Phase 1 of an accept or undo of `ids` (under the lock): the files not open in the
    /// editor it will read. For an accept, `ids` includes the hunks accepted with edits.
    pub fn disk_reads(&self, task_id: &str, ids: &[String]) -> DiskReads {
        let files = self
            .group_by_file(task_id, ids)
            .0
            .into_iter()
            .filter(|(path, _)| !self.moved_away(path))
            .filter_map(|(path, _)| {
                let shadow = self.snapshot(&path).filter(|s| !s.open)?;
                Some(DiskRead {
                    path,
                    shadow,
                    disk: None,
                    same: false,
                })
            })
            .collect();
        DiskReads {
            root: self.root.clone(),
            files,
        }
    }

    /// Phase 3 of [`ProposalStore::begin_accept`] (under the lock), given what phase 2
    /// read: hunks go in flight, the editor's part of the plan is ready, and the files
    /// to write are in `plan.disk`.
    pub fn begin_accept_with(
        &mut self,
        task_id: &str,
        ids: &[String],
        edits: &[HunkEdit],
        mut reads: DiskReads,
    ) -> EditPlan {
        self.resolve(
            task_id,
            &accepted_ids(ids, edits),
            Resolve::Accept(edits),
            &mut reads,
        )
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
            let edits = self.in_flight_edits(task_id, &path, &ids_here);
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
        let reads = self.disk_reads(task_id, ids).read();
        let mut plan = self.begin_undo_with(task_id, ids, reads);
        plan.carry_out();
        self.finish_writes(task_id, &mut plan);
        plan
    }

    /// Phase 3 of [`ProposalStore::begin_undo`]; see
    /// [`ProposalStore::begin_accept_with`].
    pub fn begin_undo_with(
        &mut self,
        task_id: &str,
        ids: &[String],
        mut reads: DiskReads,
    ) -> EditPlan {
        self.resolve(task_id, ids, Resolve::Undo, &mut reads)
    }

    /// Phase 5 (under the lock): confirms the hunks of each file written — their edits
    /// are applied to its shadow, where they are now — and takes back those of each file
    /// that could not be written, with why.
    pub fn finish_writes(&mut self, task_id: &str, plan: &mut EditPlan) {
        while !self.finish_some_writes(task_id, plan, usize::MAX) {}
    }

    /// [`ProposalStore::finish_writes`] in steps of at most `budget` hunks confirmed, so
    /// that the caller can let go of the store between them (applying a thousand edits to
    /// a large document takes milliseconds). A shadow is safe to confirm in steps: the
    /// editor sends nothing for it, and each step takes the hunks still in flight where
    /// they are then. Returns whether every write is finished.
    pub fn finish_some_writes(
        &mut self,
        task_id: &str,
        plan: &mut EditPlan,
        budget: usize,
    ) -> bool {
        let Some(write) = plan.disk.first_mut() else {
            return true;
        };
        let outcome = write
            .outcome
            .get_or_insert_with(|| write_file(&write.root, &write.op, &write.current, &write.edits))
            .clone();
        match outcome {
            Ok(()) => {
                let step = budget.min(write.unconfirmed.len());
                let ids: Vec<String> = write.unconfirmed.drain(..step).collect();
                // The editor may have opened the file meanwhile; its reload of what was
                // written confirms the hunks then (a whole-text change).
                if self.docs.get(&write.path).is_some_and(|e| !e.open) {
                    let edits = self.in_flight_edits(task_id, &write.path, &ids);
                    self.apply_to_document(&write.path, edits);
                }
                plan.written.extend(ids);
                if !write.unconfirmed.is_empty() {
                    return false;
                }
            }
            Err(reason) => {
                let ids = std::mem::take(&mut write.unconfirmed);
                self.abort(task_id, &ids, write.direction);
                // The outbox is for changes nobody asked for; these are answered.
                self.outbox
                    .retain(|(t, s)| t != task_id || !ids.contains(&s.hunk_id));
                plan.refused
                    .extend(ids.iter().map(|id| refusal(id, reason.clone())));
            }
        }
        let write = plan.disk.remove(0);
        self.reevaluate_conflicts(&write.path);
        plan.finished.push(write);
        plan.disk.is_empty()
    }

    /// 3-way refresh of the task's stale hunks (`ids` empty = all stale): returns the
    /// state of each one afterwards (pending with a new range, still stale, or accepted
    /// when the text already has the change).
    pub fn refresh(&mut self, task_id: &str, ids: &[String]) -> Vec<HunkState> {
        let prepared = self.refresh_basis(task_id, ids).prepare();
        self.commit_refresh(task_id, ids, &prepared)
            .expect("no document moves while the store is borrowed")
    }

    /// Phase 1 of a refresh (under the lock): each file with hunks to refresh, its
    /// document as it is, and the base texts their merges need.
    pub fn refresh_basis(&self, task_id: &str, ids: &[String]) -> RefreshBasis {
        let files = self
            .refresh_groups(task_id, ids)
            .into_iter()
            .filter_map(|(path, only)| {
                let doc = self.snapshot(&path)?;
                let file = self.file(task_id, &path)?;
                let bases = (0..file.bases.len())
                    .filter(|&gen_no| stale_in_base(&file.hunks, gen_no, only.as_ref()))
                    .map(|gen_no| (gen_no, file.bases[gen_no].clone()))
                    .collect();
                let closed = !doc.open && !self.moved_away(&path);
                Some(RefreshFile {
                    path,
                    doc,
                    closed,
                    bases,
                    disk: None,
                    merges: HashMap::new(),
                })
            })
            .collect();
        RefreshBasis {
            root: self.root.clone(),
            files,
        }
    }

    /// Phase 3 (under the lock): re-places the hunks with the merges phase 2 computed.
    /// `Err(Moved)`, changing nothing, if a document moved since phase 1.
    pub fn commit_refresh(
        &mut self,
        task_id: &str,
        ids: &[String],
        prepared: &RefreshBasis,
    ) -> Result<Vec<HunkState>, Moved> {
        let still = |f: &RefreshFile| {
            self.unchanged(&f.path, &f.doc)
                && f.closed == (!f.doc.open && !self.moved_away(&f.path))
        };
        if !prepared.files.iter().all(still) {
            return Err(Moved);
        }
        let mut refreshed = Vec::new();
        for (path, only) in self.refresh_groups(task_id, ids) {
            let prepared_file = prepared.files.iter().find(|f| f.path == path);
            match prepared_file {
                Some(file) => {
                    if let Some(Ok(disk)) = &file.disk
                        && !file.same_as_disk()
                    {
                        self.replace_text(&path, disk.as_deref().unwrap_or_default());
                    }
                }
                None => self.refresh_shadow(&path),
            }
            let merges = prepared_file.map(|f| &f.merges);
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
                if !refresh::has_targets(&file.hunks, Some(&targets)) {
                    continue;
                }
                // A hunk that turned stale since phase 1 may need a merge nobody made.
                let made_here;
                let merge = match merges.and_then(|m| m.get(&gen_no)) {
                    Some(merge) => merge,
                    None => {
                        made_here = Merge::new(base, &rope);
                        &made_here
                    }
                };
                refreshed.extend(refresh::refresh_with(
                    &mut file.hunks,
                    merge,
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
        Ok(self.hunk_states(task_id, &refreshed))
    }

    /// The files a refresh of `ids` (empty: every stale hunk) looks at, and which of
    /// their hunks (None: all).
    fn refresh_groups(
        &self,
        task_id: &str,
        ids: &[String],
    ) -> Vec<(String, Option<HashSet<String>>)> {
        let Some(task) = self.tasks.get(task_id) else {
            return Vec::new();
        };
        if ids.is_empty() {
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
            task.group_by_file(ids)
                .0
                .into_iter()
                .map(|(path, ids)| (path, Some(ids.into_iter().collect())))
                .collect()
        }
    }

    /// The edits of `ids` still in flight in `path`, where their hunks are now.
    fn in_flight_edits(
        &self,
        task_id: &str,
        path: &str,
        ids: &[String],
    ) -> Vec<(usize, usize, String)> {
        let Some(file) = self.file(task_id, path) else {
            return Vec::new();
        };
        ids.iter()
            .filter_map(|id| {
                let hunk = file.hunks.get(id)?;
                let text = match file.hunks.in_flight_direction(id)? {
                    Direction::Accept => &hunk.new_text,
                    Direction::Undo => &hunk.old_text,
                };
                Some((hunk.start, hunk.end, text.clone()))
            })
            .collect()
    }

    fn resolve(
        &mut self,
        task_id: &str,
        ids: &[String],
        how: Resolve<'_>,
        reads: &mut DiskReads,
    ) -> EditPlan {
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
            self.resolve_file(task_id, &path, &ids_here, how, reads, &mut plan);
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
        reads: &mut DiskReads,
        plan: &mut EditPlan,
    ) {
        self.sync_shadow(path, reads);
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
            plan.to_locate.push(EditorEdits {
                op,
                version: open.then_some(version),
                rope,
                edits,
                encoding: self.encoding,
            });
            return;
        }
        let unconfirmed = edits.iter().map(|(id, ..)| id.clone()).collect();
        plan.disk.push(DiskWrite {
            root: self.root.clone(),
            path: path.to_string(),
            op,
            current: rope,
            edits,
            direction: how.direction(),
            outcome: None,
            unconfirmed,
        });
    }

    /// [`ProposalStore::refresh_shadow`] with phase 2's read when the shadow has not moved
    /// since it was taken; otherwise the file is read now.
    fn sync_shadow(&mut self, path: &str, reads: &mut DiskReads) {
        let Some(read) = reads.take(path) else {
            self.refresh_shadow(path);
            return;
        };
        let Some(disk) = read
            .disk
            .filter(|_| self.unchanged(path, &read.shadow) && !self.moved_away(path))
        else {
            self.refresh_shadow(path);
            return;
        };
        match disk {
            Ok(disk) if !read.same => self.replace_text(path, disk.as_deref().unwrap_or_default()),
            Ok(_) => {}
            Err(e) => tracing::warn!("{e}; keeping the last text read"),
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
}

/// What resolving a file's hunks does to the file: an accept does the task's file
/// operation, an undo its inverse (a created file is deleted again, a rename goes back).
#[derive(Debug, Clone, PartialEq)]
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

/// Writes the result of `edits` (applied to `current`, which `op.from` must still
/// hold, or be absent for a create) to disk, atomically. The file is read right before
/// it is written, so a change made on disk since the hunks were checked is never
/// written over.
fn write_file(root: &Path, op: &FileOp, current: &Rope, edits: &[SentEdit]) -> Result<(), String> {
    let file = root.join(&op.from);
    let on_disk = disk::read(&file)?;
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
            let target = root.join(to);
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

/// The hunks an accept names: `ids` and those accepted with the user's edits, once each.
fn accepted_ids(ids: &[String], edits: &[HunkEdit]) -> Vec<String> {
    let mut wanted: Vec<String> = ids.to_vec();
    wanted.extend(edits.iter().map(|e| e.hunk_id.clone()));
    let mut seen = HashSet::new();
    wanted.retain(|id| seen.insert(id.clone()));
    wanted
}

/// Whether any stale hunk computed against base `gen_no` is among `only` (None: all).
fn stale_in_base(hunks: &FileHunks, gen_no: usize, only: Option<&HashSet<String>>) -> bool {
    hunks.hunks().iter().any(|h| {
        h.base_gen == gen_no
            && h.status == HunkStatus::Stale
            && only.is_none_or(|set| set.contains(&h.id))
    })
}

/// A refresh between its phases: the files, their documents as phase 1 saw them, and
/// after [`RefreshBasis::prepare`] the merges.
pub struct RefreshBasis {
    root: PathBuf,
    files: Vec<RefreshFile>,
}

struct RefreshFile {
    path: String,
    doc: DocSnapshot,
    /// A shadow: the disk is read, and merged against when it moved.
    closed: bool,
    /// (base number, base text) of the bases with stale hunks to re-place.
    bases: Vec<(usize, Arc<str>)>,
    disk: Option<Result<Option<String>, String>>,
    merges: HashMap<usize, Merge>,
}

impl RefreshFile {
    /// Whether the disk (if read) holds the shadow's text.
    fn same_as_disk(&self) -> bool {
        match &self.disk {
            Some(Ok(text)) => self.doc.rope == text.as_deref().unwrap_or_default(),
            _ => true,
        }
    }
}

impl RefreshBasis {
    /// Phase 2 (no lock): reads each shadow's file and computes the 3-way merges (the
    /// diff of each base against the text now).
    pub fn prepare(mut self) -> Self {
        for file in &mut self.files {
            if file.closed {
                let disk = disk::read(&self.root.join(&file.path));
                if let Err(e) = &disk {
                    tracing::warn!("{e}; keeping the last text read");
                }
                file.disk = Some(disk);
            }
            let current = match &file.disk {
                Some(Ok(text)) if !file.same_as_disk() => {
                    Rope::from_str(text.as_deref().unwrap_or_default())
                }
                _ => file.doc.rope.clone(),
            };
            file.merges = file
                .bases
                .iter()
                .map(|(gen_no, base)| (*gen_no, Merge::new(base, &current)))
                .collect();
        }
        self
    }
}

/// An accept or undo with the store held only to decide and to confirm (see the module
/// docs): the files not open in the editor are read before and written after, without
/// it. `decide` runs in between with what was read — its own checks first (an `Err`
/// leaves everything as it was), then [`ProposalStore::begin_accept_with`] or
/// [`ProposalStore::begin_undo_with`]; `then` runs at the end of the last section.
pub fn resolve_unlocked<E, R>(
    store: &Mutex<ProposalStore>,
    task_id: &str,
    ids: &[String],
    decide: impl FnOnce(&mut ProposalStore, DiskReads) -> Result<EditPlan, E>,
    then: impl FnOnce(&mut ProposalStore, &EditPlan) -> R,
) -> Result<(EditPlan, R), E> {
    let lock = || store.lock().unwrap_or_else(PoisonError::into_inner);
    let reads = lock().disk_reads(task_id, ids);
    let reads = reads.read();
    let mut plan = decide(&mut lock(), reads)?;
    plan.carry_out();
    loop {
        let mut store = lock();
        if store.finish_some_writes(task_id, &mut plan, CONFIRM_STEP) {
            let after = then(&mut store, &plan);
            return Ok((plan, after));
        }
    }
}

/// A refresh with the store held only before and after its merges; `then` runs in the
/// last section with the states refreshed (the engine records them there). If the
/// documents keep moving under it, the refresh is done under the lock.
pub fn refresh_unlocked<R>(
    store: &Mutex<ProposalStore>,
    task_id: &str,
    ids: &[String],
    then: impl FnOnce(&mut ProposalStore, Vec<HunkState>) -> R,
) -> R {
    let lock = || store.lock().unwrap_or_else(PoisonError::into_inner);
    for _ in 0..ATTEMPTS {
        let basis = lock().refresh_basis(task_id, ids);
        let prepared = basis.prepare();
        let mut store = lock();
        if let Ok(states) = store.commit_refresh(task_id, ids, &prepared) {
            let after = then(&mut store, states);
            // The merges' texts are freed after the store is let go.
            drop(store);
            drop(prepared);
            return after;
        }
    }
    let mut store = lock();
    let states = store.refresh(task_id, ids);
    then(&mut store, states)
}

/// The editor's part of one file, with its edits' char offsets (in `pending.rope`, the
/// text of the version it names) turned into LSP ranges.
fn editor_edit(pending: EditorEdits) -> FileEdit {
    let EditorEdits {
        op,
        version,
        rope,
        edits,
        encoding,
    } = pending;
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
                    start: char_to_position(&rope, start, encoding),
                    end: char_to_position(&rope, end, encoding),
                };
                (range, text)
            })
            .collect(),
    }
}
