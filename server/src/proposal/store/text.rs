//! Text sync: the editor's documents (and shadows of files it does not have open) and
//! every edit moving the hunks anchored in them, synchronously, under the store's one
//! owner (docs/architecture.md, invariant 3).

use std::collections::HashMap;

use super::{ProposalStore, hunk_state};
use crate::documents::{Change, Document, Replacement};
use crate::proposal::disk;
use crate::protocol::{FileKind, HunkStatus, Range};

impl ProposalStore {
    /// The editor opened a file. If a shadow of it carries hunks, the editor's text may
    /// differ from disk (unsaved edits, an accept the editor applied in the background):
    /// rebase onto it like a whole-text change.
    pub fn open(&mut self, path: &str, text: &str, version: i32) {
        if self.docs.get(path).is_some_and(|e| !e.open) {
            self.replace_text(path, text);
        }
        if !self.docs.contains_key(path) {
            let entry = self.doc_entry(Document::new(text, version), true);
            self.docs.insert(path.to_string(), entry);
        }
        if let Some(entry) = self.docs.get_mut(path) {
            entry.open = true;
            entry.doc.version = version;
        }
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
            may_overlap_anew |= self.moved(path, &changes);
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

    /// Applies edits the server makes itself (a disk write, a file operation the editor
    /// confirmed) to `path`'s document, in char offsets of its current text, last first,
    /// so that in-flight hunks are confirmed and every other anchor moves. Like
    /// [`ProposalStore::change`], without converting positions.
    pub(super) fn apply_to_document(&mut self, path: &str, mut edits: Vec<(usize, usize, String)>) {
        // Last first: each edit's range stays valid in the text the earlier ones leave.
        edits.sort_by_key(|(start, end, _)| std::cmp::Reverse((*start, *end)));
        let mut may_overlap_anew = false;
        for (start, end, text) in edits {
            let Some(entry) = self.docs.get_mut(path) else {
                return;
            };
            let change = entry.doc.replace(start, end, &text);
            may_overlap_anew |= self.moved(path, &[change]);
        }
        if may_overlap_anew {
            self.reevaluate_conflicts(path);
        }
    }

    /// Records `changes` just applied to `path`'s document and moves every task's hunks
    /// through them. Returns whether they may have made two tasks' hunks overlap.
    fn moved(&mut self, path: &str, changes: &[Change]) -> bool {
        if let Some(entry) = self.docs.get_mut(path) {
            entry.log.record(changes);
        }
        self.rebase(path, changes);
        self.move_findings(path, changes);
        match changes {
            [] => false,
            [one] => self.tasks_touching(path, one.start, one.start + one.new_len) > 1,
            _ => true,
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
        if self.by_path.contains_key(path) || self.has_findings(path) {
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

    /// The unsaved text of every open buffer, for a new task's snapshot.
    pub fn open_buffers(&self) -> HashMap<String, String> {
        self.docs
            .iter()
            .filter(|(_, entry)| entry.open)
            .map(|(path, entry)| (path.clone(), entry.doc.text()))
            .collect()
    }

    /// The text and version of `path` when the editor has it open.
    pub fn open_document(&self, path: &str) -> Option<(String, i32)> {
        let entry = self.docs.get(path).filter(|entry| entry.open)?;
        Some((entry.doc.text(), entry.doc.version))
    }

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
    pub(super) fn replace_text(&mut self, path: &str, text: &str) {
        let version = self
            .docs
            .get(path)
            .map(|e| e.doc.version)
            .unwrap_or_default();
        self.change(path, version, &[(None, text.to_string())]);
    }

    /// An accepted rename left nothing at `path` on disk, while its hunk stays anchored
    /// on the moved text: re-reading would mistake the move for the user deleting it.
    pub(super) fn moved_away(&self, path: &str) -> bool {
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

    /// A closed file may have changed on disk since its shadow was read: read it and,
    /// if it did, rebase the shadow's hunks onto what it holds now.
    pub(super) fn refresh_shadow(&mut self, path: &str) {
        let Some(entry) = self.docs.get(path) else {
            return;
        };
        if entry.open || self.moved_away(path) {
            return;
        }
        let disk = match disk::read(&self.root.join(path)) {
            Ok(text) => text,
            Err(e) => {
                tracing::warn!("{e}; keeping the last text read");
                return;
            }
        };
        let text = disk.as_deref().unwrap_or_default();
        if entry.doc.rope() != text {
            self.replace_text(path, text);
        }
    }

    pub(super) fn ensure_doc(&mut self, path: &str, base: &str) {
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
        let entry = self.doc_entry(Document::new(&text, 0), false);
        self.docs.insert(path.to_string(), entry);
    }

    /// The file's text now: the editor's or shadow's, else the disk's; None if absent.
    pub(super) fn current_text(&self, path: &str) -> Option<String> {
        match self.docs.get(path) {
            Some(entry) if entry.open => Some(entry.doc.text()),
            _ => disk::read(&self.root.join(path)).ok().flatten(),
        }
    }

    pub(super) fn drop_shadow_if_unused(&mut self, path: &str) {
        let anchored = self.by_path.contains_key(path) || self.has_findings(path);
        if !anchored && self.docs.get(path).is_some_and(|e| !e.open) {
            self.docs.remove(path);
        }
    }
}
