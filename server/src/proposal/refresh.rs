//! Re-placing stale hunks by a 3-way merge of the task's base text B, the task's hunk
//! (its range in B and its new text) and the current text C.
//!
//! The user's side is U = diff(B, C): every change made since the task's base,
//! whoever made it (typing, a formatter, another task's accepted hunk). A stale hunk
//! whose base range no U change overlaps merges cleanly: its range maps through U
//! into C, where its old text must still be, and it is pending again. Otherwise it
//! stays stale, widened to the overlapping user changes so the client can show both
//! sides; and if C already holds the task's text there, the user made the change
//! themselves and the hunk is done.
//!
//! Overlap follows [`super::conflicts::overlap`]: touching ends are fine, which is what
//! lets a hunk survive edits right next to it.

use std::collections::HashSet;

use ropey::Rope;

use super::conflicts::overlap;
use super::{ALREADY_APPLIED, DIFF_DEADLINE, FileHunks, RawHunk, diff_hunks, rebase};
use crate::protocol::HunkStatus;

/// The user's changes since the task's base, with the running shift they cause.
struct UserDiff {
    changes: Vec<RawHunk>,
    /// `shift[k]`: chars gained (negative: lost) by `changes[..k]`.
    shift: Vec<isize>,
}

impl UserDiff {
    fn new(base: &str, current: &str) -> Self {
        let changes = diff_hunks(base, current, DIFF_DEADLINE);
        let mut shift = Vec::with_capacity(changes.len() + 1);
        let mut total = 0isize;
        shift.push(0);
        for c in &changes {
            total += c.new_text.chars().count() as isize - (c.end - c.start) as isize;
            shift.push(total);
        }
        UserDiff { changes, shift }
    }

    /// Indices of the changes that overlap `[bs, be)`.
    fn overlapping(&self, bs: usize, be: usize) -> std::ops::Range<usize> {
        let first = self.changes.partition_point(|c| c.end < bs);
        let mut last = first;
        while last < self.changes.len() && self.changes[last].start <= be {
            last += 1;
        }
        let hits: Vec<usize> = (first..last)
            .filter(|&k| overlap((bs, be), (self.changes[k].start, self.changes[k].end)))
            .collect();
        match (hits.first(), hits.last()) {
            (Some(&a), Some(&b)) => a..b + 1,
            _ => first..first,
        }
    }

    /// Where base offset `p` lands in C, counting the changes before index `k` only.
    fn map_before(&self, p: usize, k: usize) -> usize {
        (p as isize + self.shift[k]).max(0) as usize
    }
}

/// What one stale hunk becomes.
struct Placement {
    start: usize,
    end: usize,
    status: HunkStatus,
    reason: Option<String>,
}

/// What re-placing hunks computed against one base needs beyond the hunks: the user's
/// changes since that base. Computing it is the expensive part of a refresh (a diff of
/// the whole file), so the store can do it without holding its lock.
pub(crate) struct Merge {
    user: UserDiff,
    base: Rope,
}

impl Merge {
    pub(crate) fn new(base: &str, current: &Rope) -> Self {
        Merge {
            user: UserDiff::new(base, &current.to_string()),
            base: Rope::from_str(base),
        }
    }
}

/// Whether `hunks` has stale hunks (those in `only`, if given) a refresh would re-place.
pub(crate) fn has_targets(hunks: &FileHunks, only: Option<&HashSet<&str>>) -> bool {
    !targets(hunks, only).is_empty()
}

fn targets(hunks: &FileHunks, only: Option<&HashSet<&str>>) -> Vec<usize> {
    let wanted = |id: &str| only.is_none_or(|set| set.contains(id));
    (0..hunks.hunks().len())
        .filter(|&i| {
            let h = &hunks.hunks()[i];
            h.status == HunkStatus::Stale && h.placed && wanted(&h.id)
        })
        .collect()
}

/// Refreshes the stale hunks of `hunks` (those in `only`, if given) against the base (B)
/// and `current` text (C) that `merge` was computed for. Returns the ids refreshed.
pub(crate) fn refresh_with(
    hunks: &mut FileHunks,
    merge: &Merge,
    current: &Rope,
    only: Option<&HashSet<&str>>,
) -> Vec<String> {
    let targets = targets(hunks, only);
    let mut placed = Vec::new();
    for &i in &targets {
        let hunk = &hunks.hunks()[i];
        let placement = place(hunk, &merge.user, &merge.base, current);
        let old = (hunk.start, hunk.end);
        let hunk = &mut hunks.hunks_mut()[i];
        hunk.start = placement.start;
        hunk.end = placement.end;
        hunk.status = placement.status;
        hunk.reason = placement.reason;
        hunk.conflicts_with = None;
        placed.push((hunk.id.clone(), old));
    }
    if placed.is_empty() {
        return Vec::new();
    }
    hunks.reindex();
    keep_pending_hunks_apart(hunks, &placed);
    placed.into_iter().map(|(id, _)| id).collect()
}

fn place(hunk: &super::Hunk, user: &UserDiff, base: &Rope, current: &Rope) -> Placement {
    let (bs, be) = (hunk.base_start, hunk.base_end);
    let hits = user.overlapping(bs, be);
    if hits.is_empty() {
        // Every change before the hunk ends at or before its start (one touching it
        // included); none ends inside it, or it would overlap.
        let k = user.changes.partition_point(|c| c.end <= bs);
        let (start, end) = (user.map_before(bs, k), user.map_before(be, k));
        let mut placement = Placement {
            start,
            end,
            status: HunkStatus::Pending,
            reason: None,
        };
        if !holds(current, start, end, &hunk.old_text) {
            placement.status = HunkStatus::Stale;
            placement.reason = Some(
                "its lines could not be found unchanged in the current text; review it by hand"
                    .into(),
            );
        }
        return placement;
    }
    let (first, last) = (&user.changes[hits.start], &user.changes[hits.end - 1]);
    let (us, ue) = (bs.min(first.start), be.max(last.end));
    let cstart = user.map_before(us, hits.start);
    let gained = user.shift[hits.end] - user.shift[hits.start];
    let cend = ((ue - us) as isize + gained + cstart as isize).max(cstart as isize) as usize;
    let before = slice(base, us, bs);
    let after = slice(base, be, ue);
    let wanted = format!("{before}{}{after}", hunk.new_text);
    if holds(current, cstart, cend, &wanted) {
        let start = cstart + before.chars().count();
        return Placement {
            start,
            end: start + hunk.new_text.chars().count(),
            status: HunkStatus::Accepted,
            reason: Some(ALREADY_APPLIED.into()),
        };
    }
    Placement {
        start: cstart,
        end: cend,
        status: HunkStatus::Stale,
        reason: Some(changed_lines_reason(current, cstart, cend)),
    }
}

fn changed_lines_reason(current: &Rope, start: usize, end: usize) -> String {
    let first = current.char_to_line(start.min(current.len_chars())) + 1;
    let last_char = end.saturating_sub(1).max(start).min(current.len_chars());
    let last = current.char_to_line(last_char) + 1;
    let lines = if first == last {
        format!("line {first}")
    } else {
        format!("lines {first}-{last}")
    };
    format!(
        "{lines} of the current text changed where this hunk applies since the task ran; \
         compare both sides, then reject it or make the change by hand"
    )
}

/// A re-placed pending hunk must not overlap another live hunk of the same task
/// (accepting both would apply one to text the other changed): such a hunk goes back
/// to where it was, stale.
fn keep_pending_hunks_apart(hunks: &mut FileHunks, placed: &[(String, (usize, usize))]) {
    let mut clashes = Vec::new();
    for (id, old) in placed {
        let Some(h) = hunks.get(id) else { continue };
        if h.status != HunkStatus::Pending {
            continue;
        }
        let (s, e) = (h.start, h.end);
        let clash = hunks.touching(s, e).find(|o| {
            o.id != *id && o.status != HunkStatus::Rejected && overlap((s, e), (o.start, o.end))
        });
        if let Some(other) = clash {
            clashes.push((id.clone(), *old, other.id.clone()));
        }
    }
    if clashes.is_empty() {
        return;
    }
    for (id, (start, end), other) in clashes {
        if let Some(h) = hunks.get_mut(&id) {
            h.start = start;
            h.end = end;
            rebase::mark_stale(
                h,
                format!("re-placed, it would overlap hunk {other}; review it by hand"),
            );
        }
    }
    hunks.reindex();
}

fn holds(current: &Rope, start: usize, end: usize, text: &str) -> bool {
    start <= end && end <= current.len_chars() && current.slice(start..end) == text
}

fn slice(rope: &Rope, start: usize, end: usize) -> String {
    let end = end.min(rope.len_chars());
    rope.slice(start.min(end)..end).to_string()
}
