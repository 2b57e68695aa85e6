//! Saving a task's proposal and bringing it back in a later server.
//!
//! What is saved ([`SavedFile`]) is, per file, the hunks with their *settled* status
//! (an accept or undo still on its way to the editor counts as not made yet) and the
//! file's text their positions refer to. Decisions made later are saved separately
//! ([`SavedDecision`]), so a checkpoint is only needed when positions change wholesale
//! (an install, a follow-up, a refresh), never per keystroke or per accept.
//!
//! Restoring a file is three steps:
//!
//! 1. **Settle**: apply the decisions to the checkpoint's hunks. An accept puts the
//!    hunk's new text where its old text was, an undo the reverse; the result is the text
//!    the file is expected to have now, `E`, with every hunk positioned in it.
//! 2. **Rebase**: diff `E` against what the file holds now (the disk when the server
//!    starts; the editor's buffer once it is opened, like any shadow) and move the hunks
//!    through that diff exactly as through the user's typing: a pending hunk whose text
//!    changed becomes `stale`, everything else shifts.
//! 3. **Recognise lost accepts**: a hunk that was pending and became stale while its
//!    range now holds exactly its new text was accepted by the editor or written to disk
//!    just before the previous server died, too late to be logged: it is accepted.
//!
//! A worked example. The checkpoint text `T` is `a\nb\nc\n` with hunk 1 = `[2, 4)`
//! (`b\n` → `B\n`, pending) and hunk 2 = `[4, 6)` (`c\n` → ``, pending). The log then
//! says hunk 1 was accepted. Settling gives `E` = `a\nB\nc\n` with both hunks where they
//! were (same lengths). If the user then added `x\n` at the top of the file on disk,
//! the rebase shifts both by 2: hunk 1 accepted at `[4, 6)` (still undoable), hunk 2
//! pending at `[6, 8)`. Had the user instead changed `c` to `C`, hunk 2 would be stale.

use std::collections::HashMap;
use std::sync::Arc;

use ropey::Rope;

use super::{FileProposal, ProposalStore, TaskProposal};
use crate::documents::{Change, Document};
use crate::proposal::{DIFF_DEADLINE, Direction, FileHunks, Hunk, diff_hunks, rebase};
use crate::protocol::{FileKind, HunkEdit, HunkStatus};

/// One file of a task's proposal as a checkpoint keeps it.
#[derive(Debug, Clone)]
pub struct SavedFile {
    pub path: String,
    pub kind: FileKind,
    pub new_path: Option<String>,
    /// The text `start..end` of the hunks refer to.
    pub text: Rope,
    /// The texts hunks were computed against (`Hunk::base_gen` indexes them).
    pub bases: Vec<Arc<str>>,
    pub hunks: Vec<Hunk>,
}

/// A task's proposal as a checkpoint keeps it.
#[derive(Debug, Clone, Default)]
pub struct SavedProposal {
    /// The number of the last hunk id handed out (`<taskId>-<n>`).
    pub next_hunk: u64,
    pub files: Vec<SavedFile>,
}

/// A decision made after a checkpoint, as it took effect.
#[derive(Debug, Clone, PartialEq)]
pub enum SavedDecision {
    /// `edits`: accepted with the user's text instead.
    Accept {
        hunk_ids: Vec<String>,
        edits: Vec<HunkEdit>,
    },
    Reject {
        hunk_ids: Vec<String>,
        reason: Option<String>,
    },
    Undo {
        hunk_ids: Vec<String>,
    },
}

impl ProposalStore {
    /// The task's proposal as a checkpoint keeps it (all files, or those in `only`);
    /// None when the task has none. Cheap: texts are shared, not copied.
    pub fn save(&self, task_id: &str, only: Option<&[String]>) -> Option<SavedProposal> {
        let task = self.tasks.get(task_id)?;
        let files = task
            .files
            .iter()
            .filter(|f| only.is_none_or(|paths| paths.contains(&f.path)))
            .filter_map(|file| {
                let text = self.docs.get(&file.path)?.doc.rope().clone();
                Some(SavedFile {
                    path: file.path.clone(),
                    kind: file.kind,
                    new_path: file.new_path.clone(),
                    text,
                    bases: file.bases.clone(),
                    hunks: file
                        .hunks
                        .hunks()
                        .iter()
                        .map(|h| settled(h, file.hunks.in_flight_direction(&h.id)))
                        .collect(),
                })
            })
            .collect();
        Some(SavedProposal {
            next_hunk: task.next_hunk,
            files,
        })
    }

    /// The user's own texts of accepted hunks among `ids` (accepted with an edit).
    pub fn user_texts(&self, task_id: &str, ids: &[String]) -> Vec<HunkEdit> {
        ids.iter()
            .filter_map(|id| self.hunk(task_id, id))
            .filter(|h| h.status == HunkStatus::Accepted && h.proposed_text.is_some())
            .map(|h| HunkEdit {
                hunk_id: h.id.clone(),
                new_text: h.new_text.clone(),
            })
            .collect()
    }

    /// The files the task's hunks among `ids` are in.
    pub fn files_of(&self, task_id: &str, ids: &[String]) -> Vec<String> {
        self.group_by_file(task_id, ids)
            .0
            .into_iter()
            .map(|(path, _)| path)
            .collect()
    }

    /// Brings back a saved proposal as the task's, replacing whatever it has: each file's
    /// checkpoint settled by the decisions made since, then rebased onto the file's text
    /// now (see the module docs). Tasks restored in the order they were first installed
    /// get the same precedence in conflicts as before. Returns (files, hunks).
    pub fn restore(
        &mut self,
        task_id: &str,
        next_hunk: u64,
        files: Vec<(SavedFile, Vec<SavedDecision>)>,
    ) -> (usize, usize) {
        self.discard(task_id);
        self.installs += 1;
        self.tasks.insert(
            task_id.to_string(),
            TaskProposal {
                next_hunk,
                ..TaskProposal::new(self.installs)
            },
        );
        let mut hunks = 0;
        let mut paths = Vec::new();
        for (saved, decisions) in files {
            let (expected, settled_hunks) = settle(&saved.text, saved.hunks, &decisions);
            if settled_hunks.is_empty() {
                continue;
            }
            let moved = saved.kind == FileKind::Rename
                && settled_hunks
                    .iter()
                    .any(|h| h.status == HunkStatus::Accepted);
            if moved {
                // The file is at its new name; its hunk stays anchored on the moved text.
                let entry = self.doc_entry(Document::new(&expected.to_string(), 0), false);
                self.docs.insert(saved.path.clone(), entry);
            } else {
                self.ensure_doc(&saved.path, &expected.to_string());
            }
            let current = self.current_text(&saved.path).unwrap_or_default();
            let mut file_hunks = FileHunks::default();
            file_hunks.extend(settled_hunks);
            if !moved && expected != current.as_str() {
                rebase_onto(&mut file_hunks, &expected.to_string(), &current);
            }
            hunks += file_hunks.hunks().len();
            let path = saved.path.clone();
            let Some(task) = self.tasks.get_mut(task_id) else {
                break;
            };
            task.files.push(FileProposal {
                path: saved.path,
                kind: saved.kind,
                new_path: saved.new_path,
                bases: saved.bases,
                hunks: file_hunks,
                cross_conflicts: false,
            });
            let fi = task.files.len() - 1;
            task.by_path.insert(path.clone(), fi);
            for hunk in task.files[fi].hunks.hunks() {
                task.by_id.insert(hunk.id.clone(), fi);
            }
            self.by_path
                .entry(path.clone())
                .or_default()
                .push(task_id.to_string());
            paths.push(path);
        }
        let files = paths.len();
        for path in paths {
            self.reevaluate_conflicts(&path);
        }
        // Nobody asked about these statuses: the client learns them from getProposal.
        self.outbox.retain(|(t, _)| t != task_id);
        (files, hunks)
    }
}

/// A hunk as a checkpoint keeps it: an edit still in flight has not happened yet.
fn settled(hunk: &Hunk, flight: Option<Direction>) -> Hunk {
    let mut hunk = hunk.clone();
    match flight {
        Some(Direction::Accept) => hunk.status = HunkStatus::Pending,
        Some(Direction::Undo) => hunk.status = HunkStatus::Accepted,
        None => {}
    }
    hunk
}

/// What a hunk's range holds in a given status: its old text while undecided or
/// rejected, its new text once accepted; unknown while stale (the user's text).
fn content(hunk: &Hunk) -> Option<&str> {
    match hunk.status {
        HunkStatus::Accepted => Some(&hunk.new_text),
        HunkStatus::Pending | HunkStatus::Rejected | HunkStatus::Conflict => Some(&hunk.old_text),
        HunkStatus::Stale => None,
    }
}

/// Applies `decisions` to the checkpoint's hunks (positioned in `text`); returns the
/// text the decisions imply and the hunks with their final status, positioned in it.
fn settle(text: &Rope, mut hunks: Vec<Hunk>, decisions: &[SavedDecision]) -> (Rope, Vec<Hunk>) {
    let before: Vec<Option<String>> = hunks
        .iter()
        .map(|h| {
            let held = content(h).filter(|c| rebase::holds(h, text, c));
            held.map(str::to_string)
        })
        .collect();
    let index: HashMap<String, usize> = hunks
        .iter()
        .enumerate()
        .map(|(i, h)| (h.id.clone(), i))
        .collect();
    for decision in decisions {
        apply_decision(&mut hunks, &index, decision);
    }
    // Replacements the decisions made, in text order; each within its own hunk's range.
    let mut replacements: Vec<(usize, usize, usize, String)> = hunks
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let was = before[i].as_deref()?;
            let now = content(h)?;
            (was != now).then(|| (h.start, h.end, i, now.to_string()))
        })
        .collect();
    replacements.sort_by_key(|(start, end, ..)| (*start, *end));
    let mut last_end = 0;
    replacements.retain(|(start, end, ..)| {
        let disjoint = *start >= last_end;
        if disjoint {
            last_end = *end;
        }
        disjoint
    });
    let mut expected = text.clone();
    for (start, end, _, now) in replacements.iter().rev() {
        expected.remove(*start..*end);
        expected.insert(*start, now);
    }
    let changes: Vec<Change> = replacements
        .iter()
        .map(|(start, end, _, now)| Change {
            start: *start,
            old_end: *end,
            new_len: now.chars().count(),
        })
        .collect();
    let replaced: HashMap<usize, usize> = replacements
        .iter()
        .map(|(_, _, i, now)| (*i, now.chars().count()))
        .collect();
    for (i, hunk) in hunks.iter_mut().enumerate() {
        let start = map_offset(hunk.start, &changes, Side::Start);
        hunk.end = match replaced.get(&i) {
            Some(&len) => start + len,
            None => map_offset(hunk.end, &changes, Side::End),
        };
        hunk.start = start;
    }
    (expected, hunks)
}

fn apply_decision(hunks: &mut [Hunk], index: &HashMap<String, usize>, decision: &SavedDecision) {
    let (ids, edits): (&[String], &[HunkEdit]) = match decision {
        SavedDecision::Accept { hunk_ids, edits } => (hunk_ids, edits),
        SavedDecision::Reject { hunk_ids, .. } | SavedDecision::Undo { hunk_ids } => {
            (hunk_ids, &[])
        }
    };
    for id in ids {
        let Some(hunk) = index.get(id).map(|&i| &mut hunks[i]) else {
            continue;
        };
        match decision {
            SavedDecision::Accept { .. } => {
                if let Some(edit) = edits.iter().find(|e| &e.hunk_id == id)
                    && edit.new_text != hunk.new_text
                {
                    let proposed = std::mem::replace(&mut hunk.new_text, edit.new_text.clone());
                    hunk.proposed_text.get_or_insert(proposed);
                }
                hunk.status = HunkStatus::Accepted;
                hunk.reason = None;
                hunk.conflicts_with = None;
            }
            SavedDecision::Reject { reason, .. } => {
                hunk.status = HunkStatus::Rejected;
                hunk.reason = reason.clone();
                hunk.conflicts_with = None;
            }
            SavedDecision::Undo { .. } => {
                hunk.status = HunkStatus::Pending;
                hunk.reason = None;
                if let Some(proposed) = hunk.proposed_text.take() {
                    hunk.new_text = proposed;
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Side {
    Start,
    End,
}

/// Where an offset lands after `changes` (sorted, disjoint, in the original text's
/// offsets): shifted by the changes before it; one inside a change goes to the change's
/// start (a range's start) or the end of its new text (a range's end).
fn map_offset(offset: usize, changes: &[Change], side: Side) -> usize {
    let mut delta: isize = 0;
    for change in changes {
        let after = match side {
            Side::Start => offset >= change.old_end && offset > change.start,
            Side::End => offset >= change.old_end,
        };
        if after {
            delta += change.new_len as isize - (change.old_end - change.start) as isize;
            continue;
        }
        let inside = offset > change.start && offset < change.old_end;
        if inside {
            let at = (change.start as isize + delta) as usize;
            return match side {
                Side::Start => at,
                Side::End => at + change.new_len,
            };
        }
        break;
    }
    (offset as isize + delta) as usize
}

/// The edits that turn `from` into `to` (a line diff), last first: applied in this order,
/// each one's offsets are valid in the text the earlier ones leave. What a restored
/// proposal, or findings reported on a text the user has changed since, move through.
pub(super) fn drift(from: &str, to: &str) -> Vec<Change> {
    diff_hunks(from, to, DIFF_DEADLINE)
        .iter()
        .rev()
        .map(|hunk| Change {
            start: hunk.start,
            old_end: hunk.end,
            new_len: hunk.new_text.chars().count(),
        })
        .collect()
}

/// Moves the hunks from `from` (the text they are positioned in) onto `to`, through
/// the line diff between them, as if the user had typed it; then takes pending hunks
/// whose range now holds exactly their new text as accepted (an accept the previous
/// server made but did not live to log).
fn rebase_onto(hunks: &mut FileHunks, from: &str, to: &str) {
    let pending: Vec<String> = hunks
        .hunks()
        .iter()
        .filter(|h| h.status == HunkStatus::Pending)
        .map(|h| h.id.clone())
        .collect();
    for change in drift(from, to) {
        hunks.apply_change(change);
    }
    let current = Rope::from_str(to);
    for id in pending {
        if let Some(hunk) = hunks.get_mut(&id)
            && hunk.status == HunkStatus::Stale
            && rebase::holds(hunk, &current, &hunk.new_text)
        {
            hunk.status = HunkStatus::Accepted;
            hunk.reason = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hunk(id: &str, start: usize, end: usize, old: &str, new: &str) -> Hunk {
        Hunk {
            id: id.into(),
            start,
            end,
            old_text: old.into(),
            new_text: new.into(),
            status: HunkStatus::Pending,
            reason: None,
            base_start: start,
            base_end: end,
            base_gen: 0,
            proposed_text: None,
            conflicts_with: None,
            placed: true,
        }
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_module_example_settles_and_rebases_as_documented() {
        let text = Rope::from_str("a\nb\nc\n");
        let hunks = vec![
            hunk("t-1", 2, 4, "b\n", "B\n"),
            hunk("t-2", 4, 6, "c\n", ""),
        ];
        let decisions = [SavedDecision::Accept {
            hunk_ids: ids(&["t-1"]),
            edits: Vec::new(),
        }];
        let (expected, settled) = settle(&text, hunks.clone(), &decisions);
        assert_eq!(expected.to_string(), "a\nB\nc\n");
        assert_eq!((settled[0].start, settled[0].end), (2, 4));
        assert_eq!(settled[0].status, HunkStatus::Accepted);
        assert_eq!((settled[1].start, settled[1].end), (4, 6));

        let mut moved = FileHunks::default();
        moved.extend(settled.clone());
        rebase_onto(&mut moved, &expected.to_string(), "x\na\nB\nc\n");
        let h = moved.hunks();
        assert_eq!(
            (h[0].start, h[0].end, h[0].status),
            (4, 6, HunkStatus::Accepted)
        );
        assert_eq!(
            (h[1].start, h[1].end, h[1].status),
            (6, 8, HunkStatus::Pending)
        );

        let mut edited = FileHunks::default();
        edited.extend(settled);
        rebase_onto(&mut edited, &expected.to_string(), "a\nB\nC\n");
        assert_eq!(edited.hunks()[1].status, HunkStatus::Stale);
    }

    #[test]
    fn an_accept_with_the_users_text_and_its_undo_move_later_hunks_by_the_difference() {
        let text = Rope::from_str("one\ntwo\nthree\n");
        let hunks = vec![
            hunk("t-1", 0, 4, "one\n", "ONE\n"),
            hunk("t-2", 8, 14, "three\n", "3\n"),
        ];
        let accept = SavedDecision::Accept {
            hunk_ids: ids(&["t-1"]),
            edits: vec![HunkEdit {
                hunk_id: "t-1".into(),
                new_text: "uno, one\n".into(),
            }],
        };
        let (expected, settled) = settle(&text, hunks.clone(), std::slice::from_ref(&accept));
        assert_eq!(expected.to_string(), "uno, one\ntwo\nthree\n");
        assert_eq!(settled[0].proposed_text.as_deref(), Some("ONE\n"));
        assert_eq!((settled[0].start, settled[0].end), (0, 9));
        assert_eq!((settled[1].start, settled[1].end), (13, 19));

        let undo = SavedDecision::Undo {
            hunk_ids: ids(&["t-1"]),
        };
        let (expected, settled) = settle(&text, hunks, &[accept, undo]);
        assert_eq!(expected.to_string(), "one\ntwo\nthree\n");
        assert_eq!(settled[0].status, HunkStatus::Pending);
        assert_eq!(settled[0].new_text, "ONE\n");
        assert_eq!((settled[1].start, settled[1].end), (8, 14));
    }

    #[test]
    fn rejections_change_no_text_and_keep_their_reason() {
        let text = Rope::from_str("a\nb\n");
        let (expected, settled) = settle(
            &text,
            vec![hunk("t-1", 0, 2, "a\n", "A\n")],
            &[SavedDecision::Reject {
                hunk_ids: ids(&["t-1"]),
                reason: Some("keep a".into()),
            }],
        );
        assert_eq!(expected.to_string(), "a\nb\n");
        assert_eq!(settled[0].status, HunkStatus::Rejected);
        assert_eq!(settled[0].reason.as_deref(), Some("keep a"));
    }

    #[test]
    fn an_accept_the_log_missed_is_recognised_from_the_text() {
        let mut hunks = FileHunks::default();
        hunks.extend([hunk("t-1", 2, 4, "b\n", "B\n")]);
        rebase_onto(&mut hunks, "a\nb\nc\n", "a\nB\nc\n");
        assert_eq!(hunks.hunks()[0].status, HunkStatus::Accepted);
        assert_eq!((hunks.hunks()[0].start, hunks.hunks()[0].end), (2, 4));
    }

    #[test]
    fn a_stale_hunk_around_an_accepted_one_stretches_with_it() {
        // A stale hunk (range holding the user's text) nesting a pending one.
        let text = Rope::from_str("0123456789");
        let mut stale = hunk("t-1", 1, 9, "xxxxxxxx", "y");
        stale.status = HunkStatus::Stale;
        let inner = hunk("u-1", 3, 5, "34", "abcd");
        let (expected, settled) = settle(
            &text,
            vec![stale, inner],
            &[SavedDecision::Accept {
                hunk_ids: ids(&["u-1"]),
                edits: Vec::new(),
            }],
        );
        assert_eq!(expected.to_string(), "012abcd56789");
        assert_eq!((settled[0].start, settled[0].end), (1, 11));
        assert_eq!((settled[1].start, settled[1].end), (3, 7));
    }
}
