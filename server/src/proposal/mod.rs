//! A task's proposal for one file: hunks with stable ids, anchored in the live text.
//!
//! Anchors follow every edit the editor reports, so a hunk is only ever applied to the
//! text it was computed from: an edit that overlaps a pending hunk makes it stale, and
//! an accepted hunk is checked against the current text before it is sent. Accepting is
//! two-phase, because the editor applies the edit and may refuse it: `begin_accept`
//! marks hunks accepted and in flight, the editor's own `didChange` confirms them, and
//! `abort_accept` takes them back if the editor says no.

mod diff;
mod rebase;
pub mod store;

use std::collections::{HashMap, HashSet};

use ropey::Rope;

pub use self::diff::{RawHunk, diff_hunks};
use crate::documents::{Change, Replacement};
use crate::protocol::HunkStatus;

/// One hunk of a proposal. `start..end` are char offsets into the current text of its
/// file; while the hunk is pending that range holds exactly `old_text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    pub id: String,
    pub start: usize,
    pub end: usize,
    pub old_text: String,
    pub new_text: String,
    pub status: HunkStatus,
    /// Why the hunk became stale, or why it is a conflict, in words for the user.
    pub stale_reason: Option<String>,
}

/// The hunks of one file, sorted by `start` (and, because they never overlap when
/// created and every edit moves them monotonically, by `end` too).
#[derive(Debug, Clone, Default)]
pub struct FileHunks {
    hunks: Vec<Hunk>,
    /// Accepted hunks whose edit the editor has not reported yet, with the reason they
    /// could no longer be applied as proposed if an edit overlapped them meanwhile.
    unconfirmed: HashMap<String, Option<String>>,
}

impl FileHunks {
    /// Pending hunks from a diff; `raw` must not overlap. Ids come from `next_id` in
    /// order of position and never change afterwards.
    pub fn new(raw: Vec<RawHunk>, next_id: impl FnMut() -> String) -> Self {
        Self::with_conflicts(raw, Vec::new(), next_id)
    }

    /// Like [`FileHunks::new`], plus `conflicts`: changes that could not be placed, shown
    /// over the text they were meant for (`old_text`, the current text there) with the
    /// incoming `new_text` and a reason. They can be rejected, never accepted.
    pub fn with_conflicts(
        raw: Vec<RawHunk>,
        conflicts: Vec<(RawHunk, String)>,
        mut next_id: impl FnMut() -> String,
    ) -> Self {
        let mut all: Vec<(RawHunk, Option<String>)> = raw
            .into_iter()
            .map(|h| (h, None))
            .chain(conflicts.into_iter().map(|(h, reason)| (h, Some(reason))))
            .collect();
        all.sort_by_key(|(h, _)| (h.start, h.end));
        let hunks = all
            .into_iter()
            .map(|(h, reason)| Hunk {
                id: next_id(),
                start: h.start,
                end: h.end,
                old_text: h.old_text,
                new_text: h.new_text,
                status: if reason.is_some() {
                    HunkStatus::Conflict
                } else {
                    HunkStatus::Pending
                },
                stale_reason: reason,
            })
            .collect();
        Self {
            hunks,
            unconfirmed: HashMap::new(),
        }
    }

    pub fn hunks(&self) -> &[Hunk] {
        &self.hunks
    }

    pub fn get(&self, id: &str) -> Option<&Hunk> {
        self.hunks.iter().find(|h| h.id == id)
    }

    /// Moves every anchor through one edit of the text (the user's, or the editor
    /// applying an accepted hunk). A hunk that ends at or before the edit stays, one
    /// that starts at or after its end shifts, and a pending one it overlaps becomes
    /// stale. An accepted hunk still in flight whose own edit this is (exactly, or
    /// trimmed the way Neovim reports it) is confirmed and anchored on its new text.
    ///
    /// Returns the ids of hunks this edit made stale, for the client to hear about.
    /// Costs O(log h + k), k being the hunks that end at or after the edit.
    pub fn apply_change(&mut self, change: Change) -> Vec<String> {
        let mut newly_stale = Vec::new();
        let first = self.hunks.partition_point(|h| h.end < change.start);
        // One edit is at most one hunk's own replacement; taking it for two would
        // confirm a hunk the editor never applied.
        let mut confirmed = None;
        for (i, hunk) in self.hunks.iter_mut().enumerate().skip(first) {
            // Hunks wholly after the edit only move; skipping the in-flight lookup for
            // them keeps a keystroke cheap in a file full of hunks.
            if hunk.start > change.old_end {
                rebase::shift(hunk, change);
                continue;
            }
            match self.unconfirmed.get_mut(&hunk.id) {
                Some(None) if confirmed.is_none() && rebase::is_own_replacement(hunk, change) => {
                    rebase::confirm(hunk, change);
                    confirmed = Some(i);
                }
                Some(disturbed) => {
                    if rebase::overlaps(hunk, change) {
                        disturbed.get_or_insert_with(|| rebase::stale_reason(hunk, change));
                    }
                    rebase::resize(hunk, change);
                }
                None => {
                    let was_stale = hunk.status == HunkStatus::Stale;
                    rebase::rebase(hunk, change);
                    if !was_stale && hunk.status == HunkStatus::Stale {
                        newly_stale.push(hunk.id.clone());
                    }
                }
            }
        }
        if let Some(i) = confirmed {
            self.unconfirmed.remove(&self.hunks[i].id);
            self.keep_later_insertions_after(i);
        }
        newly_stale
    }

    /// Pure insertions that shared their point with the just confirmed insertion `i` and
    /// come after it in the proposal belong after its text, not before: move them there.
    fn keep_later_insertions_after(&mut self, i: usize) {
        let (point, end) = (self.hunks[i].start, self.hunks[i].end);
        for hunk in &mut self.hunks[i + 1..] {
            if hunk.start != point || hunk.end != point {
                break;
            }
            hunk.start = end;
            hunk.end = end;
        }
    }

    /// Hunks (any status) whose `[start, end]` touches `[from, to]`, ends included, so
    /// a cursor on an insertion point finds it. O(log h + matches).
    pub fn touching(&self, from: usize, to: usize) -> impl Iterator<Item = &Hunk> {
        let first = self.hunks.partition_point(|h| h.end < from);
        self.hunks[first..]
            .iter()
            .take_while(move |h| h.start <= to)
    }

    /// Starts accepting the pending hunks among `ids`: each is checked against
    /// `current` (if its range no longer holds its `old_text` it becomes stale and is
    /// skipped), and the rest are marked accepted until the editor confirms the edit.
    ///
    /// Two pure insertions at the same point are never in flight together, because
    /// their edits would look alike when the editor reports them: the later one stays
    /// pending, to be accepted once the first is confirmed.
    ///
    /// Returns `(id, start, end, new_text)` of the edits to send, sorted by `start`.
    pub fn begin_accept(
        &mut self,
        ids: &[String],
        current: &Rope,
    ) -> Vec<(String, usize, usize, String)> {
        let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut busy_points = self.insertion_points_in_flight();
        let mut edits = Vec::new();
        for hunk in &mut self.hunks {
            if hunk.status != HunkStatus::Pending || !wanted.contains(hunk.id.as_str()) {
                continue;
            }
            if !rebase::still_holds_old_text(hunk, current) {
                rebase::mark_stale(
                    hunk,
                    "the text under this hunk changed since it was proposed".into(),
                );
                continue;
            }
            if hunk.start == hunk.end && !busy_points.insert(hunk.start) {
                continue;
            }
            hunk.status = HunkStatus::Accepted;
            self.unconfirmed.insert(hunk.id.clone(), None);
            edits.push((hunk.id.clone(), hunk.start, hunk.end, hunk.new_text.clone()));
        }
        edits
    }

    fn insertion_points_in_flight(&self) -> HashSet<usize> {
        self.hunks
            .iter()
            .filter(|h| h.start == h.end && self.unconfirmed.contains_key(&h.id))
            .map(|h| h.start)
            .collect()
    }

    /// The editor refused the edit: the hunks among `ids` still awaiting confirmation
    /// become pending again where they now are, or stale if an edit overlapped them
    /// meanwhile. A hunk that was taken as confirmed by an edit of the same shape was in
    /// fact changed by the user, so it becomes stale too.
    pub fn abort_accept(&mut self, ids: &[String]) {
        let refused: HashSet<&str> = ids.iter().map(String::as_str).collect();
        for hunk in &mut self.hunks {
            if hunk.status != HunkStatus::Accepted || !refused.contains(hunk.id.as_str()) {
                continue;
            }
            match self.unconfirmed.remove(&hunk.id) {
                Some(None) => hunk.status = HunkStatus::Pending,
                Some(Some(reason)) => rebase::mark_stale(hunk, reason),
                None => rebase::mark_stale(
                    hunk,
                    "the editor refused to apply this hunk, and the text under it changed meanwhile".into(),
                ),
            }
        }
    }

    /// The edits of accepted hunks the editor has not reported yet, sorted by `start`:
    /// what [`crate::documents::Document::apply`] should expect in a whole-text change.
    /// Hunks that an edit overlapped meanwhile are left out: their edit cannot arrive
    /// as proposed.
    pub fn in_flight(&self) -> Vec<Replacement<'_>> {
        self.hunks
            .iter()
            .filter(|h| matches!(self.unconfirmed.get(&h.id), Some(None)))
            .map(|h| Replacement {
                start: h.start,
                end: h.end,
                text: &h.new_text,
            })
            .collect()
    }

    /// Rejects the hunks among `ids` that are still undecided (pending, stale or
    /// conflicting) and returns the ids actually rejected.
    pub fn reject(&mut self, ids: &[String]) -> Vec<String> {
        let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
        self.hunks
            .iter_mut()
            .filter(|h| wanted.contains(h.id.as_str()) && rebase::is_undecided(h.status))
            .map(|h| {
                h.status = HunkStatus::Rejected;
                h.id.clone()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
