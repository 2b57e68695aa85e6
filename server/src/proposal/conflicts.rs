//! Overlaps between the pending hunks of parallel tasks in one file.
//!
//! Two tasks may propose changes to the same lines; accepting both would apply the
//! second to text it was not computed for. The task installed later yields: its hunk
//! becomes `conflict`, naming the earlier task's hunk, until that one is decided.
//! Accepting the earlier one makes the later stale (a refresh re-places it on the new
//! text); rejecting it gives the later one back to the user as pending.
//!
//! Everything is recomputed per file from the current ranges, so there is no conflict
//! graph to keep consistent: the store calls [`reevaluate`] after anything that can
//! change which undecided hunks exist or where they are.

use ropey::Rope;

use super::{FileHunks, Hunk, rebase};
use crate::protocol::{HunkRef, HunkStatus};

/// One task's hunks in the file under evaluation.
pub(super) struct TaskFile<'a> {
    pub task_id: &'a str,
    /// Install order: lower came first.
    pub order: u64,
    pub hunks: &'a mut FileHunks,
}

/// Whether two ranges strictly intersect. Touching ends do not conflict; two pure
/// insertions conflict when they insert at the same point (which text comes first
/// would be a guess), and an insertion conflicts with a change whose inside it falls in.
pub(super) fn overlap(a: (usize, usize), b: (usize, usize)) -> bool {
    match (a.0 == a.1, b.0 == b.1) {
        (true, true) => a.0 == b.0,
        (true, false) => b.0 < a.0 && a.0 < b.1,
        (false, true) => a.0 < b.0 && b.0 < a.1,
        (false, false) => a.0 < b.1 && b.0 < a.1,
    }
}

/// Marks pending hunks that overlap an undecided hunk of an earlier task as
/// `conflict`, and releases conflict hunks whose partner is gone: stale if it was
/// accepted over them or their text changed, else pending. Returns `(task, hunk)` of
/// every hunk whose state changed.
pub(super) fn reevaluate(files: &mut [TaskFile<'_>], current: &Rope) -> Vec<(String, String)> {
    let partners = earliest_partners(files);
    let mut changed = Vec::new();
    for (fi, hi, partner) in partners {
        let hunk = &files[fi].hunks.hunks()[hi];
        let next = match partner {
            Some(partner) => Some(conflict_with(partner)),
            None if hunk.conflicts_with.is_some() => Some(released(hunk, files, current)),
            None => None,
        };
        let Some((status, reason, conflicts_with)) = next else {
            continue;
        };
        let task_id = files[fi].task_id.to_string();
        let hunk = &mut files[fi].hunks.hunks_mut()[hi];
        if hunk.status != status || hunk.conflicts_with != conflicts_with {
            hunk.status = status;
            hunk.reason = reason;
            hunk.conflicts_with = conflicts_with;
            changed.push((task_id, hunk.id.clone()));
        }
    }
    changed
}

type NextState = (HunkStatus, Option<String>, Option<HunkRef>);

fn conflict_with(partner: HunkRef) -> NextState {
    let reason = format!(
        "overlaps hunk {} of task {}, which came first; accept or reject that one first",
        partner.hunk_id, partner.task_id
    );
    (HunkStatus::Conflict, Some(reason), Some(partner))
}

fn released(hunk: &Hunk, files: &[TaskFile<'_>], current: &Rope) -> NextState {
    let partner = hunk.conflicts_with.as_ref();
    let partner_accepted = partner
        .and_then(|p| {
            files
                .iter()
                .find(|f| f.task_id == p.task_id)
                .and_then(|f| f.hunks.get(&p.hunk_id))
        })
        .is_some_and(|h| h.status == HunkStatus::Accepted);
    if partner_accepted && let Some(p) = partner {
        let reason = format!(
            "hunk {} of task {} was accepted over this one; refresh to re-place it",
            p.hunk_id, p.task_id
        );
        return (HunkStatus::Stale, Some(reason), None);
    }
    if rebase::still_holds_old_text(hunk, current) {
        (HunkStatus::Pending, None, None)
    } else {
        let reason = "the text under this hunk changed since it was proposed".to_string();
        (HunkStatus::Stale, Some(reason), None)
    }
}

/// For every pending or cross-task conflict hunk: the hunk of the earliest-installed
/// earlier task it overlaps among the undecided ones, if any. `(file, hunk, partner)`.
fn earliest_partners(files: &[TaskFile<'_>]) -> Vec<(usize, usize, Option<HunkRef>)> {
    struct Entry {
        start: usize,
        end: usize,
        file: usize,
        hunk: usize,
    }
    let mut entries: Vec<Entry> = Vec::new();
    for (fi, file) in files.iter().enumerate() {
        for (hi, h) in file.hunks.hunks().iter().enumerate() {
            if h.placed
                && rebase::is_undecided(h.status)
                && file.hunks.in_flight_direction(&h.id).is_none()
            {
                entries.push(Entry {
                    start: h.start,
                    end: h.end,
                    file: fi,
                    hunk: hi,
                });
            }
        }
    }
    entries.sort_by_key(|e| (e.start, e.end));
    // best[k]: (order, entry index) of the earliest overlapping earlier-task hunk.
    let mut best: Vec<Option<(u64, usize)>> = vec![None; entries.len()];
    for i in 0..entries.len() {
        let a = &entries[i];
        for (j, b) in entries.iter().enumerate().skip(i + 1) {
            if b.start >= a.end && b.start != a.start {
                break;
            }
            if a.file == b.file || !overlap((a.start, a.end), (b.start, b.end)) {
                continue;
            }
            let (oa, ob) = (files[a.file].order, files[b.file].order);
            let (later, earlier, order) = if oa < ob { (j, i, oa) } else { (i, j, ob) };
            if best[later].is_none_or(|(o, _)| order < o) {
                best[later] = Some((order, earlier));
            }
        }
    }
    entries
        .iter()
        .zip(&best)
        .filter(|(e, _)| {
            let h = &files[e.file].hunks.hunks()[e.hunk];
            h.status == HunkStatus::Pending || h.conflicts_with.is_some()
        })
        .map(|(e, best)| {
            let partner = best.map(|(_, k)| {
                let p = &entries[k];
                HunkRef {
                    task_id: files[p.file].task_id.to_string(),
                    hunk_id: files[p.file].hunks.hunks()[p.hunk].id.clone(),
                }
            });
            (e.file, e.hunk, partner)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::overlap;

    #[test]
    fn touching_ranges_do_not_overlap_and_insertions_at_one_point_do() {
        assert!(!overlap((0, 5), (5, 9)));
        assert!(overlap((0, 5), (4, 9)));
        assert!(overlap((3, 3), (3, 3)));
        assert!(!overlap((3, 3), (3, 7)), "insertion at a change's start");
        assert!(!overlap((7, 7), (3, 7)), "insertion at a change's end");
        assert!(overlap((5, 5), (3, 7)));
        assert!(overlap((3, 7), (5, 5)));
    }
}
