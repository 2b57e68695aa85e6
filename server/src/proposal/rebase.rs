//! How one edit of the text moves one hunk.
//!
//! An edit replaces `[s, e)` with `n` chars. A hunk `[hs, he)` that ends at or before
//! `s` stays put (so text typed right at a pure insertion's point lands after it); one
//! that starts at or after `e` shifts by `n - (e - s)`; anything else overlaps. A pending
//! hunk that is overlapped becomes stale: its `old_text` is no longer what the user
//! has, and applying it would silently undo their edit. Hunks that are no longer
//! pending just stretch or shrink with the text so their range stays meaningful.
//!
//! Both anchor maps are monotone, which keeps the hunks sorted by start.
//!
//! Review findings (`findings.rs`) are anchored by the same rules through the `_span`
//! functions: what moves a hunk moves a finding, and what would make a pending hunk
//! stale removes a finding instead.

use ropey::Rope;

use super::Hunk;
use crate::documents::Change;
use crate::protocol::HunkStatus;

/// Moves a hunk that starts after the edit.
pub(super) fn shift(hunk: &mut Hunk, change: Change) {
    (hunk.start, hunk.end) = shift_span(hunk.start, hunk.end, change);
}

/// Where a range `[start, end)` the edit does not overlap lands.
pub(super) fn shift_span(start: usize, end: usize, change: Change) -> (usize, usize) {
    (map_start(start, change), map_end(end, change))
}

/// Moves a hunk with no pending decision to protect, stretching it over an
/// overlapping edit.
pub(super) fn resize(hunk: &mut Hunk, change: Change) {
    if hunk.end > change.start {
        shift(hunk, change);
    }
}

/// Moves a hunk that is not awaiting the editor's confirmation; a pending or
/// conflicting hunk under the edit becomes stale. A change that could not be placed
/// (an import conflict) only stretches: it never becomes acceptable.
pub(super) fn rebase(hunk: &mut Hunk, change: Change) {
    let awaits_decision = matches!(hunk.status, HunkStatus::Pending | HunkStatus::Conflict);
    if awaits_decision && hunk.placed && overlaps(hunk, change) {
        mark_stale(hunk, stale_reason(hunk, change));
    }
    resize(hunk, change);
}

pub(super) fn overlaps(hunk: &Hunk, change: Change) -> bool {
    overlaps_span(hunk.start, hunk.end, change)
}

/// Whether the edit touches the text of `[start, end)`: replaces part of it, or inserts
/// strictly inside it (typing at its very start or end leaves it alone).
pub(super) fn overlaps_span(start: usize, end: usize, change: Change) -> bool {
    change.start < end && start < change.old_end
}

/// Whether `change` is what replacing `from` (the hunk's range) with `to` does to the
/// text: the exact replacement, or the same edit with text common to `from` and `to`
/// trimmed from either side (Neovim reports minimal ranges).
pub(super) fn is_own_replacement(hunk: &Hunk, change: Change, from: &str, to: &str) -> bool {
    if change.start < hunk.start || change.old_end > hunk.end {
        return false;
    }
    let kept_before = change.start - hunk.start;
    let kept_after = hunk.end - change.old_end;
    kept_before + change.new_len + kept_after == to.chars().count()
        && kept_before <= common_prefix_chars(from, to)
        && kept_after <= common_suffix_chars(from, to)
}

/// Anchors a hunk on the text its (accept or undo) edit produced.
pub(super) fn confirm(hunk: &mut Hunk, change: Change) {
    let kept = (change.start - hunk.start) + (hunk.end - change.old_end);
    hunk.end = hunk.start + kept + change.new_len;
}

/// Whether `[hunk.start, hunk.end)` of `current` is exactly `text`.
pub(super) fn holds(hunk: &Hunk, current: &Rope, text: &str) -> bool {
    hunk.start <= hunk.end
        && hunk.end <= current.len_chars()
        && current.slice(hunk.start..hunk.end) == text
}

pub(super) fn still_holds_old_text(hunk: &Hunk, current: &Rope) -> bool {
    holds(hunk, current, &hunk.old_text)
}

pub(super) fn mark_stale(hunk: &mut Hunk, reason: String) {
    hunk.status = HunkStatus::Stale;
    hunk.reason = Some(reason);
    hunk.conflicts_with = None;
}

/// Says where, relative to the hunk the user sees, their edit landed.
pub(super) fn stale_reason(hunk: &Hunk, change: Change) -> String {
    if hunk.old_text.is_empty() {
        return "you edited the text around this insertion after it was proposed".into();
    }
    let into_hunk = change.start.saturating_sub(hunk.start);
    let line = 1 + hunk
        .old_text
        .chars()
        .take(into_hunk)
        .filter(|&c| c == '\n')
        .count();
    format!("you edited line {line} of this hunk after it was proposed")
}

/// Pending, stale and conflicting hunks still wait for the user's decision.
pub(super) fn is_undecided(status: HunkStatus) -> bool {
    matches!(
        status,
        HunkStatus::Pending | HunkStatus::Stale | HunkStatus::Conflict
    )
}

/// Where an anchor that starts a range lands: an edit strictly after it leaves it, one
/// covering it pulls it to the edit's start, one before it shifts it.
fn map_start(p: usize, change: Change) -> usize {
    if p < change.start {
        p
    } else if p >= change.old_end {
        p - change.old_end + change.start + change.new_len
    } else {
        change.start
    }
}

/// Where an anchor that ends a range lands: an edit at or after it leaves it, one
/// covering it pushes it past the inserted text, one before it shifts it.
fn map_end(p: usize, change: Change) -> usize {
    if p <= change.start {
        p
    } else if p >= change.old_end {
        p - change.old_end + change.start + change.new_len
    } else {
        change.start + change.new_len
    }
}

fn common_prefix_chars(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

fn common_suffix_chars(a: &str, b: &str) -> usize {
    a.chars()
        .rev()
        .zip(b.chars().rev())
        .take_while(|(x, y)| x == y)
        .count()
}
