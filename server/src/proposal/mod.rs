//! A task's proposal for one file: hunks with stable ids, anchored in the live text.
//!
//! Anchors follow every edit the editor reports, so a hunk is only ever applied to the
//! text it was computed from: an edit that overlaps a pending hunk makes it stale, and
//! an accepted hunk is checked against the current text before it is sent. Accepting
//! and undoing are two-phase, because the editor applies the edit and may refuse it:
//! `begin_accept` / `begin_undo` put hunks in flight, the editor's own `didChange` (or
//! the store, for a write it made itself) confirms them, and `abort_accept` /
//! `abort_undo` take them back if the editor says no.
//!
//! The store (`store/`) owns documents and tasks and routes accepts and undos (editor or
//! disk, `store/resolve.rs`); `refresh.rs` re-places stale hunks by a 3-way merge,
//! `findings.rs` anchors review findings by the same rules, `conflicts.rs` marks
//! overlaps between tasks, `renames.rs` pairs deleted and created
//! files, `disk.rs` writes files not open in the editor, and `page.rs` cuts a large
//! proposal into pages.

mod conflicts;
mod diff;
pub(crate) mod disk;
pub mod findings;
mod page;
mod rebase;
mod refresh;
mod renames;
pub mod store;

use std::collections::{HashMap, HashSet};

use ropey::Rope;

pub(crate) use self::diff::LineOffsets;
pub use self::diff::{RawHunk, diff_hunks};
use crate::documents::{Change, Replacement};
use crate::protocol::{HunkRef, HunkStatus, Refusal};

/// Why a hunk is accepted that nobody accepted: a refresh found the change already made.
pub(crate) const ALREADY_APPLIED: &str = "the text already has this change";

/// Diffs that take longer than this degrade to coarser hunks instead of stalling the server.
pub(crate) const DIFF_DEADLINE: std::time::Duration = std::time::Duration::from_millis(500);

/// One hunk of a proposal. `start..end` are char offsets into the current text of its
/// file; while the hunk is pending that range holds exactly `old_text`, while it is
/// accepted (and confirmed) exactly `new_text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    pub id: String,
    pub start: usize,
    pub end: usize,
    pub old_text: String,
    /// What accepting writes: the task's proposal, or the user's own text.
    pub new_text: String,
    pub status: HunkStatus,
    /// Why the hunk is stale or in conflict, in words for the user; for a rejected
    /// hunk, the reason the user gave.
    pub reason: Option<String>,
    /// Where `old_text` was in the task's base text of the file (char offsets): what a
    /// refresh re-places the hunk from.
    pub base_start: usize,
    pub base_end: usize,
    /// Which of the file's base texts (a follow-up adds one) `base_start..base_end`
    /// refer to.
    pub base_gen: usize,
    /// The task's own text, when the user accepted theirs instead.
    pub proposed_text: Option<String>,
    /// The other task's hunk this one overlaps (a `conflict` between tasks).
    pub conflicts_with: Option<HunkRef>,
    /// False for a change an import could not place: shown, never acceptable.
    pub placed: bool,
}

impl Hunk {
    fn from_raw(id: String, raw: RawHunk, base_gen: usize, unplaced: Option<String>) -> Self {
        Hunk {
            id,
            base_gen,
            start: raw.start,
            end: raw.end,
            base_start: raw.start,
            base_end: raw.end,
            old_text: raw.old_text,
            new_text: raw.new_text,
            status: if unplaced.is_some() {
                HunkStatus::Conflict
            } else {
                HunkStatus::Pending
            },
            placed: unplaced.is_none(),
            reason: unplaced,
            proposed_text: None,
            conflicts_with: None,
        }
    }
}

/// An edit to send for a hunk: `(hunk id, start, end, replacement)`, char offsets in the
/// current text.
pub type SentEdit = (String, usize, usize, String);

/// Which way a hunk's edit in flight goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `old_text` → `new_text`; confirmed, the hunk is accepted.
    Accept,
    /// `new_text` → `old_text`; confirmed, the hunk is pending again.
    Undo,
}

#[derive(Debug, Clone)]
struct Flight {
    direction: Direction,
    /// Why the edit can no longer arrive as sent, if an edit overlapped the hunk.
    disturbed: Option<String>,
}

/// The hunks of one file, sorted by `start`. Ranges may nest (a stale hunk stretched
/// over a large edit), so lookups by position go through `span_bound`, an upper bound
/// of every hunk's length: the hunks touching an offset are found in O(log h + k).
#[derive(Debug, Clone, Default)]
pub struct FileHunks {
    hunks: Vec<Hunk>,
    /// id → position in `hunks`.
    index: HashMap<String, usize>,
    span_bound: usize,
    /// Hunks whose accept or undo edit the editor (or the store) has not confirmed yet.
    flights: HashMap<String, Flight>,
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
        next_id: impl FnMut() -> String,
    ) -> Self {
        let mut file = Self::default();
        file.add(raw, conflicts, 0, next_id);
        file
    }

    /// Adds hunks computed against base text number `base_gen` (their offsets are
    /// taken as current offsets too) with fresh ids.
    pub(crate) fn add(
        &mut self,
        raw: Vec<RawHunk>,
        conflicts: Vec<(RawHunk, String)>,
        base_gen: usize,
        mut next_id: impl FnMut() -> String,
    ) {
        let mut all: Vec<(RawHunk, Option<String>)> = raw
            .into_iter()
            .map(|h| (h, None))
            .chain(conflicts.into_iter().map(|(h, reason)| (h, Some(reason))))
            .collect();
        all.sort_by_key(|(h, _)| (h.start, h.end));
        self.hunks.extend(
            all.into_iter()
                .map(|(raw, reason)| Hunk::from_raw(next_id(), raw, base_gen, reason)),
        );
        self.reindex();
    }

    pub fn hunks(&self) -> &[Hunk] {
        &self.hunks
    }

    pub fn get(&self, id: &str) -> Option<&Hunk> {
        self.index.get(id).map(|&i| &self.hunks[i])
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut Hunk> {
        self.index.get(id).map(|&i| &mut self.hunks[i])
    }

    pub fn is_empty(&self) -> bool {
        self.hunks.is_empty()
    }

    /// Whether the hunk's edit is in flight (sent, not confirmed yet).
    pub fn in_flight_direction(&self, id: &str) -> Option<Direction> {
        self.flights.get(id).map(|f| f.direction)
    }

    /// Restores the order and the id index after hunks moved freely (refresh) or were
    /// added or removed.
    pub(crate) fn reindex(&mut self) {
        self.hunks.sort_by_key(|h| (h.start, h.end));
        self.index = self
            .hunks
            .iter()
            .enumerate()
            .map(|(i, h)| (h.id.clone(), i))
            .collect();
        self.span_bound = self
            .hunks
            .iter()
            .map(|h| h.end - h.start)
            .max()
            .unwrap_or(0);
        self.flights.retain(|id, _| self.index.contains_key(id));
    }

    /// Drops the hunks `drop` says so (never one in flight).
    pub(crate) fn remove_where(&mut self, mut drop: impl FnMut(&Hunk) -> bool) {
        let flights = &self.flights;
        self.hunks
            .retain(|h| flights.contains_key(&h.id) || !drop(h));
        self.reindex();
    }

    /// Gives every hunk its final id (`rename` maps the one it had), for hunks prepared
    /// before their ids could be known (an install prepared without the store's lock).
    /// Never called with hunks in flight.
    pub(crate) fn number(&mut self, mut rename: impl FnMut(&str) -> String) {
        for hunk in &mut self.hunks {
            hunk.id = rename(&hunk.id);
        }
        self.reindex();
    }

    /// Adds hunks that already have ids and places.
    pub(crate) fn extend(&mut self, hunks: impl IntoIterator<Item = Hunk>) {
        self.hunks.extend(hunks);
        self.reindex();
    }

    pub(crate) fn hunks_mut(&mut self) -> &mut [Hunk] {
        &mut self.hunks
    }

    /// First position that may hold a hunk reaching `offset`.
    fn first_reaching(&self, offset: usize) -> usize {
        let bound = self.span_bound;
        self.hunks
            .partition_point(|h| h.start.saturating_add(bound) < offset)
    }

    /// Moves every anchor through one edit of the text (the user's, or the editor
    /// applying an accepted hunk). A hunk that ends at or before the edit stays, one
    /// that starts at or after its end shifts, and a pending one it overlaps becomes
    /// stale. A hunk in flight whose own edit this is (exactly, or trimmed the way
    /// Neovim reports it) is confirmed: accepted and anchored on its new text, or for an
    /// undo, pending again on its old text.
    ///
    /// Returns the ids of hunks whose status this edit changed or confirmed.
    /// Costs O(log h + k), k being the hunks that reach the edit or lie after it.
    pub fn apply_change(&mut self, change: Change) -> Vec<String> {
        let mut changed = Vec::new();
        let first = self.first_reaching(change.start);
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
            if hunk.end < change.start {
                continue;
            }
            match self.flights.get_mut(&hunk.id) {
                Some(flight)
                    if flight.disturbed.is_none()
                        && confirmed.is_none()
                        && own_replacement(hunk, flight.direction, change) =>
                {
                    rebase::confirm(hunk, change);
                    if flight.direction == Direction::Undo {
                        restore_pending(hunk);
                    }
                    confirmed = Some(i);
                    changed.push(hunk.id.clone());
                }
                Some(flight) => {
                    if rebase::overlaps(hunk, change) {
                        flight
                            .disturbed
                            .get_or_insert_with(|| rebase::stale_reason(hunk, change));
                    }
                    rebase::resize(hunk, change);
                }
                None => {
                    let was_stale = hunk.status == HunkStatus::Stale;
                    rebase::rebase(hunk, change);
                    if !was_stale && hunk.status == HunkStatus::Stale {
                        changed.push(hunk.id.clone());
                    }
                }
            }
            self.span_bound = self.span_bound.max(hunk.end - hunk.start);
        }
        if let Some(i) = confirmed {
            self.flights.remove(&self.hunks[i].id);
            self.keep_later_insertions_after(i);
        }
        changed
    }

    /// Confirms the hunks in flight whose edit was disturbed — the editor reported it
    /// as more than one change, or another edit came in between — but whose range now
    /// holds exactly what the edit was to produce. Neovim reports an edit that ends at
    /// the last line as a replacement that leaves an extra line break and a deletion of
    /// it; only the result shows it was the accept. Free when nothing is in flight.
    ///
    /// Returns the ids confirmed.
    pub fn confirm_held(&mut self, current: &Rope) -> Vec<String> {
        if self.flights.is_empty() {
            return Vec::new();
        }
        let disturbed: Vec<(String, Direction)> = self
            .flights
            .iter()
            .filter(|(_, f)| f.disturbed.is_some())
            .map(|(id, f)| (id.clone(), f.direction))
            .collect();
        let mut confirmed = Vec::new();
        for (id, direction) in disturbed {
            let Some(&i) = self.index.get(&id) else {
                continue;
            };
            let hunk = &mut self.hunks[i];
            let expected = match direction {
                Direction::Accept => &hunk.new_text,
                Direction::Undo => &hunk.old_text,
            };
            if !rebase::holds(hunk, current, expected) {
                continue;
            }
            if direction == Direction::Undo {
                restore_pending(hunk);
            }
            self.flights.remove(&id);
            confirmed.push(id);
        }
        confirmed
    }

    /// Pure insertions that shared their point with the just confirmed edit `i` and
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
        let first = self.first_reaching(from);
        self.hunks[first..]
            .iter()
            .take_while(move |h| h.start <= to)
            .filter(move |h| h.end >= from)
    }

    /// Starts accepting the pending hunks among `ids`: each is checked against
    /// `current` (if its range no longer holds its `old_text` it becomes stale and is
    /// skipped), and the rest are marked accepted until the edit is confirmed.
    ///
    /// Two edits inserting at the same point are never in flight together, because
    /// their edits would look alike when the editor reports them: the later one stays
    /// pending, to be accepted once the first is confirmed.
    ///
    /// Returns `(id, start, end, new_text)` of the edits to send, sorted by `start`.
    pub fn begin_accept(&mut self, ids: &[String], current: &Rope) -> Vec<SentEdit> {
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
            hunk.reason = None;
            self.flights
                .insert(hunk.id.clone(), Flight::new(Direction::Accept));
            edits.push((hunk.id.clone(), hunk.start, hunk.end, hunk.new_text.clone()));
        }
        edits
    }

    /// Starts undoing the confirmed accepted hunks among `ids` whose range still holds
    /// exactly the accepted text; the others are refused with what changed. The hunks
    /// stay accepted until the inverse edit is confirmed.
    ///
    /// Returns the inverse edits `(id, start, end, old_text)`, sorted by `start`.
    pub fn begin_undo(&mut self, ids: &[String], current: &Rope) -> (Vec<SentEdit>, Vec<Refusal>) {
        let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut busy_points = self.insertion_points_in_flight();
        let (mut edits, mut refused) = (Vec::new(), Vec::new());
        for hunk in &mut self.hunks {
            if !wanted.contains(hunk.id.as_str()) {
                continue;
            }
            let refuse = |reason: String| Refusal {
                hunk_id: hunk.id.clone(),
                reason,
            };
            if hunk.status != HunkStatus::Accepted || self.flights.contains_key(&hunk.id) {
                refused.push(refuse(not_undoable(
                    hunk,
                    self.flights.contains_key(&hunk.id),
                )));
                continue;
            }
            if hunk.reason.as_deref() == Some(ALREADY_APPLIED) {
                refused.push(refuse(
                    "you made this change yourself; there is no edit of the task's to undo".into(),
                ));
                continue;
            }
            if let Some(what) = edited_since_accepted(hunk, current) {
                refused.push(refuse(what));
                continue;
            }
            if hunk.start == hunk.end && !busy_points.insert(hunk.start) {
                refused.push(refuse(
                    "another edit at the same point is on its way; undo this one once it is confirmed"
                        .into(),
                ));
                continue;
            }
            self.flights
                .insert(hunk.id.clone(), Flight::new(Direction::Undo));
            edits.push((hunk.id.clone(), hunk.start, hunk.end, hunk.old_text.clone()));
        }
        (edits, refused)
    }

    fn insertion_points_in_flight(&self) -> HashSet<usize> {
        self.flights
            .keys()
            .filter_map(|id| self.get(id))
            .filter(|h| h.start == h.end)
            .map(|h| h.start)
            .collect()
    }

    /// The editor refused the accept: the hunks among `ids` still awaiting confirmation
    /// become pending again where they now are, or stale if an edit overlapped them
    /// meanwhile. A hunk that was taken as confirmed by an edit of the same shape was in
    /// fact changed by the user, so it becomes stale too.
    ///
    /// Returns the ids whose status changed.
    pub fn abort_accept(&mut self, ids: &[String]) -> Vec<String> {
        self.abort(ids, Direction::Accept)
    }

    /// The editor refused the undo: the hunks stay accepted. One that was taken as
    /// undone by an edit of the same shape is stale instead: the text is the user's.
    pub fn abort_undo(&mut self, ids: &[String]) -> Vec<String> {
        self.abort(ids, Direction::Undo)
    }

    fn abort(&mut self, ids: &[String], direction: Direction) -> Vec<String> {
        let mut changed = Vec::new();
        for id in ids {
            let Some(&i) = self.index.get(id) else {
                continue;
            };
            let hunk = &mut self.hunks[i];
            match self.flights.get(id) {
                Some(flight) if flight.direction == direction => {
                    let flight = self
                        .flights
                        .remove(id)
                        .unwrap_or_else(|| Flight::new(direction));
                    match (direction, flight.disturbed) {
                        (Direction::Accept, None) => hunk.status = HunkStatus::Pending,
                        (Direction::Accept, Some(reason)) => rebase::mark_stale(hunk, reason),
                        (Direction::Undo, _) => continue,
                    }
                    changed.push(id.clone());
                }
                Some(_) => {}
                None => {
                    // Confirmed by an edit that looked like ours, yet the editor says it
                    // applied nothing: that edit was the user's.
                    let confirmed_by_lookalike = match direction {
                        Direction::Accept => hunk.status == HunkStatus::Accepted,
                        Direction::Undo => hunk.status == HunkStatus::Pending,
                    };
                    if confirmed_by_lookalike {
                        rebase::mark_stale(
                            hunk,
                            "the editor refused this edit, and the text under it changed meanwhile"
                                .into(),
                        );
                        changed.push(id.clone());
                    }
                }
            }
        }
        changed
    }

    /// The edits of hunks in flight the editor has not reported yet, sorted by `start`:
    /// what [`crate::documents::Document::apply`] should expect in a whole-text change.
    /// Hunks that an edit overlapped meanwhile are left out: their edit cannot arrive
    /// as sent.
    pub fn in_flight(&self) -> Vec<Replacement<'_>> {
        let mut edits: Vec<Replacement<'_>> = self
            .flights
            .iter()
            .filter(|(_, f)| f.disturbed.is_none())
            .filter_map(|(id, f)| {
                let hunk = self.get(id)?;
                Some(Replacement {
                    start: hunk.start,
                    end: hunk.end,
                    text: match f.direction {
                        Direction::Accept => &hunk.new_text,
                        Direction::Undo => &hunk.old_text,
                    },
                })
            })
            .collect();
        edits.sort_by_key(|r| (r.start, r.end));
        edits
    }

    /// Rejects the hunks among `ids` that are still undecided (pending, stale or
    /// conflicting), remembering `reason`, and returns the ids actually rejected.
    pub fn reject(&mut self, ids: &[String], reason: Option<&str>) -> Vec<String> {
        let mut rejected = Vec::new();
        for id in ids {
            if let Some(hunk) = self.get_mut(id)
                && rebase::is_undecided(hunk.status)
            {
                hunk.status = HunkStatus::Rejected;
                hunk.reason = reason.map(str::to_string);
                hunk.conflicts_with = None;
                rejected.push(id.clone());
            }
        }
        rejected
    }
}

impl Flight {
    fn new(direction: Direction) -> Self {
        Flight {
            direction,
            disturbed: None,
        }
    }
}

fn own_replacement(hunk: &Hunk, direction: Direction, change: Change) -> bool {
    match direction {
        Direction::Accept => {
            rebase::is_own_replacement(hunk, change, &hunk.old_text, &hunk.new_text)
        }
        Direction::Undo => rebase::is_own_replacement(hunk, change, &hunk.new_text, &hunk.old_text),
    }
}

/// An undone hunk proposes the task's text again, not the user's.
fn restore_pending(hunk: &mut Hunk) {
    hunk.status = HunkStatus::Pending;
    hunk.reason = None;
    if let Some(proposed) = hunk.proposed_text.take() {
        hunk.new_text = proposed;
    }
}

fn not_undoable(hunk: &Hunk, in_flight: bool) -> String {
    if in_flight {
        return "the editor has not confirmed this hunk's last edit yet; try again in a moment"
            .into();
    }
    format!(
        "only accepted hunks can be undone, and this one is {}",
        status_word(hunk.status)
    )
}

/// Says which line of the accepted text the user changed since, if any.
fn edited_since_accepted(hunk: &Hunk, current: &Rope) -> Option<String> {
    if rebase::holds(hunk, current, &hunk.new_text) {
        return None;
    }
    let end = hunk.end.min(current.len_chars());
    let now = current.slice(hunk.start.min(end)..end).to_string();
    let line = hunk
        .new_text
        .split_inclusive('\n')
        .zip(now.split_inclusive('\n'))
        .take_while(|(a, b)| a == b)
        .count()
        + 1;
    Some(format!(
        "line {line} of the accepted text was edited since; undo it by hand"
    ))
}

pub(crate) fn status_word(status: HunkStatus) -> &'static str {
    match status {
        HunkStatus::Pending => "pending",
        HunkStatus::Accepted => "accepted",
        HunkStatus::Rejected => "rejected",
        HunkStatus::Stale => "stale",
        HunkStatus::Conflict => "in conflict",
    }
}

#[cfg(test)]
mod tests;
