//! Line-level 3-way merge: the diff's base, the user's text ("ours") and the base with the
//! diff applied ("theirs").
//!
//! Both sides are diffed against the base; changes of one side alone are taken, equal
//! changes of both sides are taken once, and changes of both sides that overlap or touch
//! conflict — touching counts as overlapping, as in git, because nothing says which side's
//! line belongs first. The result is expressed as edits and conflicts in ours' lines, so
//! callers can show each as its own reviewable hunk.

use std::ops::Range;
use std::time::Duration;

use crate::proposal::{LineOffsets, diff_hunks};

/// Diffs of files big enough to hit this degrade to coarser changes, which merge as
/// conflicts rather than wrong text.
const DIFF_DEADLINE: Duration = Duration::from_secs(2);

/// Replace ours' lines `start..end` with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineEdit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// Ours' lines `ours` and the diff's change of `base` lines into `theirs` cannot both hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeConflict {
    pub ours: Range<usize>,
    pub base: Range<usize>,
    pub base_text: String,
    pub theirs_text: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merged {
    /// Sorted, non-overlapping.
    pub edits: Vec<LineEdit>,
    pub conflicts: Vec<MergeConflict>,
}

/// One side's change: base lines `base` became that side's lines `side`.
#[derive(Debug, Clone)]
struct Change {
    base: Range<usize>,
    side: Range<usize>,
}

pub fn merge(base: &str, ours: &str, theirs: &str) -> Merged {
    let base_lines: Vec<&str> = base.split_inclusive('\n').collect();
    let ours_lines: Vec<&str> = ours.split_inclusive('\n').collect();
    let theirs_lines: Vec<&str> = theirs.split_inclusive('\n').collect();
    let mine = line_changes(base, ours, &base_lines);
    let incoming = line_changes(base, theirs, &base_lines);

    let mut merged = Merged::default();
    let (mut i, mut j) = (0, 0);
    let (mut ours_shift, mut theirs_shift) = (0isize, 0isize);
    while i < mine.len() || j < incoming.len() {
        let cluster = Cluster::gather(&mine, &incoming, &mut i, &mut j);
        let (my_changes, their_changes) = (
            &mine[cluster.ours.clone()],
            &incoming[cluster.theirs.clone()],
        );
        let ours_range = side_range(&cluster.base, my_changes, ours_shift);
        let theirs_range = side_range(&cluster.base, their_changes, theirs_shift);
        ours_shift += growth(my_changes);
        theirs_shift += growth(their_changes);
        let theirs_text = theirs_lines[theirs_range].concat();
        if cluster.theirs.is_empty() {
            continue;
        }
        if cluster.ours.is_empty() {
            merged.edits.push(LineEdit {
                start: ours_range.start,
                end: ours_range.end,
                text: theirs_text,
            });
        } else if ours_lines[ours_range.clone()].concat() != theirs_text {
            merged.conflicts.push(MergeConflict {
                ours: ours_range,
                base: cluster.base.clone(),
                base_text: base_lines[cluster.base.clone()].concat(),
                theirs_text,
            });
        }
    }
    merged
}

/// Changes of both sides that overlap or touch, transitively: base lines and the index
/// ranges of each side's changes.
struct Cluster {
    base: Range<usize>,
    ours: Range<usize>,
    theirs: Range<usize>,
}

impl Cluster {
    fn gather(mine: &[Change], incoming: &[Change], i: &mut usize, j: &mut usize) -> Cluster {
        let first_is_mine = match (mine.get(*i), incoming.get(*j)) {
            (Some(a), Some(b)) => a.base.start <= b.base.start,
            (Some(_), None) => true,
            _ => false,
        };
        let seed = if first_is_mine {
            &mine[*i]
        } else {
            &incoming[*j]
        };
        let mut base = seed.base.clone();
        let (ours_from, theirs_from) = (*i, *j);
        loop {
            if let Some(change) = mine.get(*i).filter(|c| c.base.start <= base.end) {
                base.end = base.end.max(change.base.end);
                *i += 1;
            } else if let Some(change) = incoming.get(*j).filter(|c| c.base.start <= base.end) {
                base.end = base.end.max(change.base.end);
                *j += 1;
            } else {
                break;
            }
        }
        Cluster {
            base,
            ours: ours_from..*i,
            theirs: theirs_from..*j,
        }
    }
}

/// A side's lines for the base lines `base`, given the side's changes inside them and the
/// growth of all its changes before them.
fn side_range(base: &Range<usize>, inside: &[Change], shift: isize) -> Range<usize> {
    let start = base.start as isize + shift;
    let end = base.end as isize + shift + growth(inside);
    start.max(0) as usize..end.max(start).max(0) as usize
}

/// Lines the changes added minus those they removed.
fn growth(changes: &[Change]) -> isize {
    changes
        .iter()
        .map(|c| c.side.len() as isize - c.base.len() as isize)
        .sum()
}

/// The changes that turn `base` into `other`, in base and other line numbers.
fn line_changes(base: &str, other: &str, base_lines: &[&str]) -> Vec<Change> {
    let mut line_of_char = LineOffsets::new(base_lines);
    let mut shift = 0isize;
    diff_hunks(base, other, DIFF_DEADLINE)
        .into_iter()
        .map(|hunk| {
            let start = line_of_char.line_at(hunk.start);
            let old_len = hunk.old_text.split_inclusive('\n').count();
            let new_len = hunk.new_text.split_inclusive('\n').count();
            let side_start = (start as isize + shift) as usize;
            shift += new_len as isize - old_len as isize;
            Change {
                base: start..start + old_len,
                side: side_start..side_start + new_len,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(start: usize, end: usize, text: &str) -> LineEdit {
        LineEdit {
            start,
            end,
            text: text.into(),
        }
    }

    #[test]
    fn their_change_lands_where_ours_moved_it() {
        let base = "a\nb\nc\nd\n";
        let ours = "new\na\nb\nc\nd\n";
        let theirs = "a\nb\nC\nd\n";
        let merged = merge(base, ours, theirs);
        assert_eq!(merged.edits, vec![edit(3, 4, "C\n")]);
        assert!(merged.conflicts.is_empty());
    }

    #[test]
    fn the_same_change_on_both_sides_is_taken_once() {
        let merged = merge("a\nb\n", "a\nB\n", "a\nB\n");
        assert_eq!(merged, Merged::default());
    }

    #[test]
    fn overlapping_different_changes_conflict_in_ours_lines() {
        let base = "x\na\nb\n";
        let ours = "top\nx\nA1\nb\n";
        let theirs = "x\nA2\nb\n";
        let merged = merge(base, ours, theirs);
        assert!(merged.edits.is_empty());
        assert_eq!(
            merged.conflicts,
            vec![MergeConflict {
                ours: 2..3,
                base: 1..2,
                base_text: "a\n".into(),
                theirs_text: "A2\n".into(),
            }]
        );
    }

    #[test]
    fn changes_that_touch_conflict_like_git() {
        let merged = merge("a\nb\n", "A\nb\n", "a\nB\n");
        assert_eq!(merged.conflicts.len(), 1);
        assert_eq!(merged.conflicts[0].ours, 0..2);
    }
}
