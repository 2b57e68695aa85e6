//! The review state of the whole workspace: the editor's documents and every task's hunks.
//!
//! Text and anchors live under one owner so that an edit moves both at once: a `didChange`
//! updates the document and rebases every task's hunks in that file before anything else
//! can look. Files that have hunks but are not open in the editor get a *shadow* document
//! read from disk; the shadow is re-checked against disk before an accept, so a hunk is
//! never applied to text it was not computed for.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::documents::{Change, Document, PositionEncoding, Replacement, char_to_position};
use crate::proposal::{FileHunks, Hunk, RawHunk, diff_hunks};
use crate::protocol::{FileKind, HunkInfo, HunkState, HunkStatus, Range};
use crate::workspace::FileChange;

/// Diffs that take longer than this degrade to coarser hunks instead of stalling the server.
const DIFF_DEADLINE: std::time::Duration = std::time::Duration::from_millis(500);

pub struct ProposalStore {
    root: PathBuf,
    encoding: PositionEncoding,
    docs: HashMap<String, DocEntry>,
    tasks: BTreeMap<String, Vec<FileProposal>>,
}

struct DocEntry {
    doc: Document,
    /// False for a shadow of a file on disk that the editor does not have open.
    open: bool,
}

pub struct FileProposal {
    pub path: String,
    pub kind: FileKind,
    pub hunks: FileHunks,
}

/// One file's part of an accept: edits in the document's current coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct FileEdit {
    pub path: String,
    pub kind: FileKind,
    /// The open document's version the ranges refer to; None for a file not open.
    pub version: Option<i32>,
    pub edits: Vec<(Range, String)>,
    pub hunk_ids: Vec<String>,
}

/// A proposal file as the protocol shows it (path still workspace-relative).
pub struct FileView {
    pub path: String,
    pub kind: FileKind,
    pub version: Option<i32>,
    pub hunks: Vec<HunkInfo>,
}

/// A pending hunk under the cursor, for code actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HunkAt {
    pub task_id: String,
    pub hunk_id: String,
    pub range: Range,
}

impl ProposalStore {
    pub fn new(root: PathBuf, encoding: PositionEncoding) -> Self {
        ProposalStore {
            root,
            encoding,
            docs: HashMap::new(),
            tasks: BTreeMap::new(),
        }
    }

    pub fn encoding(&self) -> PositionEncoding {
        self.encoding
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The editor opened a file. If a shadow of it carries hunks, the editor's text may
    /// differ from disk (unsaved edits, an accept the editor applied in the background):
    /// rebase onto it like a whole-text change.
    pub fn open(&mut self, path: &str, text: &str, version: i32) -> Vec<(String, HunkState)> {
        let stale = match self.docs.get(path) {
            Some(entry) if !entry.open => self.replace_text(path, text),
            _ => Vec::new(),
        };
        let entry = self
            .docs
            .entry(path.to_string())
            .or_insert_with(|| DocEntry {
                doc: Document::new(text, version),
                open: true,
            });
        entry.open = true;
        entry.doc.version = version;
        stale
    }

    /// Applies one `didChange` (content changes in order) and rebases every task's hunks
    /// in that file. Returns hunks that became stale, to tell their tasks' clients.
    pub fn change(
        &mut self,
        path: &str,
        version: i32,
        edits: &[(Option<Range>, String)],
    ) -> Vec<(String, HunkState)> {
        let mut stale = Vec::new();
        for (range, text) in edits {
            // Only a whole-text change needs to recognise in-flight accepts; keystrokes
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
                return stale;
            };
            let changes = entry.doc.apply(*range, text, self.encoding, &expected);
            stale.extend(self.rebase(path, &changes));
        }
        if let Some(entry) = self.docs.get_mut(path) {
            entry.doc.version = version;
        }
        stale
    }

    /// The editor closed a file: keep its text as a shadow while hunks point into it,
    /// because closing does not change the text (unsaved edits may be discarded, which the
    /// disk check before an accept catches).
    pub fn close(&mut self, path: &str) {
        if self.has_hunks(path) {
            if let Some(entry) = self.docs.get_mut(path) {
                entry.open = false;
            }
        } else {
            self.docs.remove(path);
        }
    }

    /// The unsaved text of every open buffer, for a new task's snapshot.
    pub fn open_buffers(&self) -> HashMap<String, String> {
        self.docs
            .iter()
            .filter(|(_, entry)| entry.open)
            .map(|(path, entry)| (path.clone(), entry.doc.text()))
            .collect()
    }

    /// Makes a finished task's changes reviewable. Hunks are computed between the task's
    /// base and result, then rebased onto the file's current text (the user may have typed
    /// while the task ran). Returns (files, hunks).
    pub fn install(
        &mut self,
        task_id: &str,
        changes: Vec<FileChange>,
        next_id: impl FnMut() -> String,
    ) -> (usize, usize) {
        let files = changes
            .into_iter()
            .map(|change| (change, Vec::new()))
            .collect();
        self.install_with_conflicts(task_id, files, next_id)
    }

    /// [`ProposalStore::install`] for changes that come with conflicts: per file, hunks
    /// (char offsets in the file's base text) that could not be placed, with the reason.
    /// They are shown as `conflict` hunks and can only be rejected.
    pub fn install_with_conflicts(
        &mut self,
        task_id: &str,
        changes: Vec<(FileChange, Vec<(RawHunk, String)>)>,
        mut next_id: impl FnMut() -> String,
    ) -> (usize, usize) {
        let mut files = Vec::new();
        let mut bases = Vec::new();
        for (change, conflicts) in changes {
            let kind = match (&change.base, &change.new) {
                (None, _) => FileKind::Create,
                (_, None) => FileKind::Delete,
                _ => FileKind::Modify,
            };
            let base = change.base.unwrap_or_default();
            let target = change.new.unwrap_or_default();
            let hunks = FileHunks::with_conflicts(
                diff_hunks(&base, &target, DIFF_DEADLINE),
                conflicts,
                &mut next_id,
            );
            if hunks.hunks().is_empty() {
                continue;
            }
            self.ensure_doc(&change.path, &base);
            bases.push((change.path.clone(), base));
            files.push(FileProposal {
                path: change.path,
                kind,
                hunks,
            });
        }
        let counts = (
            files.len(),
            files.iter().map(|f| f.hunks.hunks().len()).sum(),
        );
        self.tasks.insert(task_id.to_string(), files);
        // The user may have typed while the task ran: move the hunks from the task's base
        // to what the editor or disk holds now.
        for (path, base) in bases {
            let current = self
                .docs
                .get(&path)
                .map(|e| e.doc.text())
                .unwrap_or_default();
            if current != base {
                self.rebase_task_file(task_id, &path, &base, &current);
            }
        }
        counts
    }

    /// Forgets a task's proposal (cancel with `revert`).
    pub fn discard(&mut self, task_id: &str) {
        if let Some(files) = self.tasks.remove(task_id) {
            for file in files {
                self.drop_shadow_if_unused(&file.path);
            }
        }
    }

    /// Pending hunks touching `range` in `path`, all tasks, in document order.
    pub fn hunks_at(&self, path: &str, range: Range) -> Vec<HunkAt> {
        let Some(entry) = self.docs.get(path) else {
            return Vec::new();
        };
        let rope = entry.doc.rope();
        let from = crate::documents::position_to_char(rope, range.start, self.encoding);
        let to = crate::documents::position_to_char(rope, range.end, self.encoding);
        let mut found = Vec::new();
        for (task_id, files) in &self.tasks {
            for file in files.iter().filter(|f| f.path == path) {
                for hunk in file
                    .hunks
                    .touching(from, to)
                    .filter(|h| h.status == HunkStatus::Pending)
                {
                    found.push(HunkAt {
                        task_id: task_id.clone(),
                        hunk_id: hunk.id.clone(),
                        range: self.range_of(rope, hunk),
                    });
                }
            }
        }
        found.sort_by_key(|h| h.range.start);
        found
    }

    /// Ids of the pending hunks of `task_id` in `path`.
    pub fn pending_in_file(&self, task_id: &str, path: &str) -> Vec<String> {
        self.file(task_id, path)
            .map(|f| {
                f.hunks
                    .hunks()
                    .iter()
                    .filter(|h| h.status == HunkStatus::Pending)
                    .map(|h| h.id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Marks the requested pending hunks accepted (awaiting the editor) and returns the
    /// edits to send, per file. A hunk whose text changed under it becomes stale instead.
    pub fn begin_accept(&mut self, task_id: &str, ids: &[String]) -> Vec<FileEdit> {
        let paths: Vec<String> = match self.tasks.get(task_id) {
            Some(files) => files
                .iter()
                .filter(|f| ids.iter().any(|id| f.hunks.get(id).is_some()))
                .map(|f| f.path.clone())
                .collect(),
            None => return Vec::new(),
        };
        let mut plan = Vec::new();
        for path in paths {
            self.refresh_shadow(&path);
            let Some(entry) = self.docs.get(&path) else {
                continue;
            };
            let (rope, version, open) = (entry.doc.rope().clone(), entry.doc.version, entry.open);
            let Some(file) = self.file_mut(task_id, &path) else {
                continue;
            };
            let ids_here: Vec<String> = ids
                .iter()
                .filter(|id| file.hunks.get(id).is_some())
                .cloned()
                .collect();
            let replacements = file.hunks.begin_accept(&ids_here, &rope);
            if replacements.is_empty() {
                continue;
            }
            let kind = file.kind;
            plan.push(FileEdit {
                path: path.clone(),
                kind,
                version: open.then_some(version),
                hunk_ids: replacements.iter().map(|(id, ..)| id.clone()).collect(),
                edits: replacements
                    .into_iter()
                    .map(|(_, start, end, text)| {
                        let range = Range {
                            start: char_to_position(&rope, start, self.encoding),
                            end: char_to_position(&rope, end, self.encoding),
                        };
                        (range, text)
                    })
                    .collect(),
            });
        }
        plan
    }

    /// The editor refused an accept's edit: those hunks go back to pending.
    pub fn abort_accept(&mut self, task_id: &str, ids: &[String]) {
        if let Some(files) = self.tasks.get_mut(task_id) {
            for file in files {
                file.hunks.abort_accept(ids);
            }
        }
    }

    pub fn reject(&mut self, task_id: &str, ids: &[String]) {
        if let Some(files) = self.tasks.get_mut(task_id) {
            for file in files {
                file.hunks.reject(ids);
            }
        }
    }

    /// The ids among `ids` of hunks in conflict: those an accept must refuse.
    pub fn conflicts_among(&self, task_id: &str, ids: &[String]) -> Vec<String> {
        let Some(files) = self.tasks.get(task_id) else {
            return Vec::new();
        };
        ids.iter()
            .filter(|id| {
                files
                    .iter()
                    .filter_map(|f| f.hunks.get(id))
                    .any(|h| h.status == HunkStatus::Conflict)
            })
            .cloned()
            .collect()
    }

    /// Current status of each named hunk; unknown ids are left out.
    pub fn hunk_states(&self, task_id: &str, ids: &[String]) -> Vec<HunkState> {
        let Some(files) = self.tasks.get(task_id) else {
            return Vec::new();
        };
        ids.iter()
            .filter_map(|id| files.iter().find_map(|f| f.hunks.get(id)))
            .map(hunk_state)
            .collect()
    }

    /// The task's proposal with ranges in each document's current text.
    pub fn view(&self, task_id: &str) -> Option<Vec<FileView>> {
        let files = self.tasks.get(task_id)?;
        Some(
            files
                .iter()
                .map(|file| {
                    let entry = self.docs.get(&file.path);
                    let hunks = match entry {
                        Some(entry) => file
                            .hunks
                            .hunks()
                            .iter()
                            .map(|h| HunkInfo {
                                hunk_id: h.id.clone(),
                                range: self.range_of(entry.doc.rope(), h),
                                old_text: h.old_text.clone(),
                                new_text: h.new_text.clone(),
                                status: h.status,
                                reason: h.stale_reason.clone(),
                                current_text: None,
                                conflicts_with: None,
                                proposed_text: None,
                            })
                            .collect(),
                        None => Vec::new(),
                    };
                    FileView {
                        path: file.path.clone(),
                        kind: file.kind,
                        version: entry.filter(|e| e.open).map(|e| e.doc.version),
                        hunks,
                    }
                })
                .collect(),
        )
    }

    pub fn has_task(&self, task_id: &str) -> bool {
        self.tasks.contains_key(task_id)
    }

    fn rebase(&mut self, path: &str, changes: &[Change]) -> Vec<(String, HunkState)> {
        let mut stale = Vec::new();
        for (task_id, files) in self.tasks.iter_mut() {
            for file in files.iter_mut().filter(|f| f.path == path) {
                for change in changes {
                    for id in file.hunks.apply_change(*change) {
                        if let Some(hunk) = file.hunks.get(&id) {
                            stale.push((task_id.clone(), hunk_state(hunk)));
                        }
                    }
                }
            }
        }
        stale
    }

    /// Moves one task's freshly installed hunks in `path` from the task's base text to the
    /// current text, change by change (last first, so earlier offsets stay valid).
    fn rebase_task_file(&mut self, task_id: &str, path: &str, base: &str, current: &str) {
        let drift = diff_hunks(base, current, DIFF_DEADLINE);
        if let Some(file) = self.file_mut(task_id, path) {
            for raw in drift.iter().rev() {
                file.hunks.apply_change(Change {
                    start: raw.start,
                    old_end: raw.end,
                    new_len: raw.new_text.chars().count(),
                });
            }
        }
    }

    /// Replaces a document's whole text as the editor (or disk) now has it.
    fn replace_text(&mut self, path: &str, text: &str) -> Vec<(String, HunkState)> {
        let version = self
            .docs
            .get(path)
            .map(|e| e.doc.version)
            .unwrap_or_default();
        self.change(path, version, &[(None, text.to_string())])
    }

    /// A closed file may have changed on disk since its shadow was read.
    fn refresh_shadow(&mut self, path: &str) {
        let Some(entry) = self.docs.get(path) else {
            return;
        };
        if entry.open {
            return;
        }
        let disk = std::fs::read_to_string(self.root.join(path)).unwrap_or_default();
        if disk != entry.doc.text() {
            self.replace_text(path, &disk);
        }
    }

    fn ensure_doc(&mut self, path: &str, base: &str) {
        if self.docs.contains_key(path) {
            return;
        }
        // Not open in the editor: anchor on the disk text (absent file = empty).
        let disk =
            std::fs::read_to_string(self.root.join(path)).unwrap_or_else(|_| base.to_string());
        self.docs.insert(
            path.to_string(),
            DocEntry {
                doc: Document::new(&disk, 0),
                open: false,
            },
        );
    }

    fn drop_shadow_if_unused(&mut self, path: &str) {
        if !self.has_hunks(path) && self.docs.get(path).is_some_and(|e| !e.open) {
            self.docs.remove(path);
        }
    }

    fn has_hunks(&self, path: &str) -> bool {
        self.tasks.values().flatten().any(|f| f.path == path)
    }

    /// In-flight accepts of every task in `path`, sorted: what a whole-text change from the
    /// editor is expected to contain.
    fn in_flight(&self, path: &str) -> Vec<(usize, usize, String)> {
        let mut expected: Vec<(usize, usize, String)> = self
            .tasks
            .values()
            .flatten()
            .filter(|f| f.path == path)
            .flat_map(|f| f.hunks.in_flight())
            .map(|r| (r.start, r.end, r.text.to_string()))
            .collect();
        expected.sort_by_key(|(start, ..)| *start);
        expected
    }

    fn file(&self, task_id: &str, path: &str) -> Option<&FileProposal> {
        self.tasks.get(task_id)?.iter().find(|f| f.path == path)
    }

    fn file_mut(&mut self, task_id: &str, path: &str) -> Option<&mut FileProposal> {
        self.tasks
            .get_mut(task_id)?
            .iter_mut()
            .find(|f| f.path == path)
    }

    fn range_of(&self, rope: &ropey::Rope, hunk: &Hunk) -> Range {
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
        reason: hunk.stale_reason.clone(),
        conflicts_with: None,
    }
}
