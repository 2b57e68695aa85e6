//! Turning a task's base and target text of one file into hunks.
//!
//! Lines are interned to integers before diffing so the algorithm compares numbers, not
//! strings; the deadline makes a pathological rewrite come back as fewer, bigger hunks
//! instead of stalling the server.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;
use std::time::{Duration, Instant};

use similar::{Algorithm, DiffOp, DiffTag};

/// One maximal run of changed lines between a base and a target text.
///
/// `start..end` are char offsets in the base text; both texts include their line
/// endings. A pure insertion has `start == end` at a line start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawHunk {
    pub start: usize,
    pub end: usize,
    pub old_text: String,
    pub new_text: String,
}

/// The hunks that turn `base` into `target`, sorted by `start`, without context lines.
///
/// Whatever the diff has not finished by `deadline` is reported as one larger hunk.
pub fn diff_hunks(base: &str, target: &str, deadline: Duration) -> Vec<RawHunk> {
    let old_lines: Vec<&str> = base.split_inclusive('\n').collect();
    let new_lines: Vec<&str> = target.split_inclusive('\n').collect();
    let (old_ids, new_ids) = intern_lines(&old_lines, &new_lines);
    let give_up_at = Instant::now().checked_add(deadline);
    let ops =
        similar::capture_diff_slices_deadline(Algorithm::Myers, &old_ids, &new_ids, give_up_at);

    let mut offsets = LineOffsets::new(&old_lines);
    changed_runs(&ops)
        .into_iter()
        .map(|(old, new)| {
            let start = offsets.char_offset_of_line(old.start);
            let old_text = old_lines[old.clone()].concat();
            RawHunk {
                start,
                end: start + old_text.chars().count(),
                old_text,
                new_text: new_lines[new].concat(),
            }
        })
        .collect()
}

/// Gives every distinct line one number, so equal lines compare as equal integers.
fn intern_lines<'a>(old_lines: &[&'a str], new_lines: &[&'a str]) -> (Vec<u32>, Vec<u32>) {
    let mut ids: HashMap<&'a str, u32, BuildHasherDefault<LineHasher>> =
        HashMap::with_capacity_and_hasher(old_lines.len(), Default::default());
    let mut intern = |line: &'a str| {
        let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
        *ids.entry(line).or_insert(next)
    };
    let old_ids = old_lines.iter().copied().map(&mut intern).collect();
    let new_ids = new_lines.iter().copied().map(&mut intern).collect();
    (old_ids, new_ids)
}

/// A fast, non-cryptographic hash for interning lines (an Fx-style multiply-rotate). The
/// table is private and short-lived, so the DoS resistance of std's SipHash buys nothing
/// here, while hashing is a third of the diff's time on large files.
#[derive(Default)]
struct LineHasher(u64);

impl Hasher for LineHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &byte in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(byte)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Merges adjacent non-equal diff ops into (old line range, new line range) pairs.
///
/// Positions come from running totals of the ops' lengths: similar can report a wrong
/// index for the side a deletion or insertion does not touch (mitsuhiko/similar#78),
/// while its lengths are always right.
fn changed_runs(ops: &[DiffOp]) -> Vec<(Range<usize>, Range<usize>)> {
    let mut runs = Vec::new();
    let mut run: Option<(Range<usize>, Range<usize>)> = None;
    let (mut old_at, mut new_at) = (0, 0);
    for op in ops {
        let (old_len, new_len) = (op.old_range().len(), op.new_range().len());
        if op.tag() == DiffTag::Equal {
            runs.extend(run.take());
        } else {
            let (old, new) = run.get_or_insert((old_at..old_at, new_at..new_at));
            old.end = old_at + old_len;
            new.end = new_at + new_len;
        }
        old_at += old_len;
        new_at += new_len;
    }
    runs.extend(run);
    runs
}

/// Line starts ↔ char offsets in a text split into lines (endings included), for positions
/// asked in increasing order: one forward walk serves a whole list of hunks, so mapping
/// them costs O(text) in total rather than O(text) each.
pub(crate) struct LineOffsets<'a> {
    lines: &'a [&'a str],
    /// The line the walk has reached, and the char offset where it starts.
    line: usize,
    char_offset: usize,
}

impl<'a> LineOffsets<'a> {
    pub(crate) fn new(lines: &'a [&'a str]) -> Self {
        Self {
            lines,
            line: 0,
            char_offset: 0,
        }
    }

    /// The char offset where `line` starts. `line` must not be before the line reached.
    pub(crate) fn char_offset_of_line(&mut self, line: usize) -> usize {
        let skipped = &self.lines[self.line..line];
        self.char_offset += skipped.iter().map(|l| l.chars().count()).sum::<usize>();
        self.line = line;
        self.char_offset
    }

    /// The first line starting at or after `char_offset` (the line count past the end).
    /// `char_offset` must not be before the start of the line reached.
    pub(crate) fn line_at(&mut self, char_offset: usize) -> usize {
        while self.char_offset < char_offset && self.line < self.lines.len() {
            self.char_offset += self.lines[self.line].chars().count();
            self.line += 1;
        }
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_HURRY: Duration = Duration::from_secs(10);

    fn hunk(start: usize, end: usize, old_text: &str, new_text: &str) -> RawHunk {
        RawHunk {
            start,
            end,
            old_text: old_text.into(),
            new_text: new_text.into(),
        }
    }

    fn apply(base: &str, hunks: &[RawHunk]) -> String {
        let chars: Vec<char> = base.chars().collect();
        let mut out = String::new();
        let mut at = 0;
        for h in hunks {
            out.extend(&chars[at..h.start]);
            assert_eq!(chars[h.start..h.end].iter().collect::<String>(), h.old_text);
            out.push_str(&h.new_text);
            at = h.end;
        }
        out.extend(&chars[at..]);
        out
    }

    #[test]
    fn identical_texts_have_no_hunks() {
        assert!(diff_hunks("a\nb\n", "a\nb\n", NO_HURRY).is_empty());
    }

    #[test]
    fn insertion_at_start_is_a_pure_insertion_at_offset_zero() {
        assert_eq!(
            diff_hunks("b\n", "a\nb\n", NO_HURRY),
            vec![hunk(0, 0, "", "a\n")]
        );
    }

    #[test]
    fn insertion_at_end_is_at_the_end_of_the_base() {
        assert_eq!(
            diff_hunks("é\n", "é\nz\n", NO_HURRY),
            vec![hunk(2, 2, "", "z\n")]
        );
    }

    #[test]
    fn deleting_everything_is_one_hunk() {
        assert_eq!(
            diff_hunks("a\nb\n", "", NO_HURRY),
            vec![hunk(0, 4, "a\nb\n", "")]
        );
    }

    #[test]
    fn last_line_without_newline_is_its_own_line() {
        assert_eq!(
            diff_hunks("a\nb", "a\nc", NO_HURRY),
            vec![hunk(2, 3, "b", "c")]
        );
        assert_eq!(
            diff_hunks("a\nb", "a\nb\n", NO_HURRY),
            vec![hunk(2, 3, "b", "b\n")]
        );
    }

    #[test]
    fn crlf_lines_keep_their_line_endings() {
        let base = "one\r\ntwo\r\nthree\r\n";
        let target = "one\r\n2\r\nthree\r\n";
        assert_eq!(
            diff_hunks(base, target, NO_HURRY),
            vec![hunk(5, 10, "two\r\n", "2\r\n")]
        );
    }

    #[test]
    fn separated_changes_are_separate_hunks_in_char_offsets() {
        let base = "😀\nkeep\nold\nkeep\nend\n";
        let target = "😀\nkeep\nnew\nnewer\nkeep\n";
        let hunks = diff_hunks(base, target, NO_HURRY);
        assert_eq!(
            hunks,
            vec![
                hunk(7, 11, "old\n", "new\nnewer\n"),
                hunk(16, 20, "end\n", "")
            ]
        );
        assert_eq!(apply(base, &hunks), target);
    }

    #[test]
    fn hunks_are_placed_right_where_similar_misreports_an_index() {
        let base = "\né\na\na\n\n\na\n";
        let target = "\né\n\nb\n\n\n\n\na\n";
        let hunks = diff_hunks(base, target, NO_HURRY);
        assert_eq!(
            hunks,
            vec![hunk(3, 7, "a\na\n", ""), hunk(8, 8, "", "b\n\n\n\n")]
        );
        assert_eq!(apply(base, &hunks), target);
    }

    #[test]
    fn an_expired_deadline_still_yields_a_correct_diff() {
        let base: String = (0..2000).map(|i| format!("line {i}\n")).collect();
        let target: String = (0..2000)
            .map(|i| format!("line {}\n", (i * 7) % 2000))
            .collect();
        let hunks = diff_hunks(&base, &target, Duration::ZERO);
        assert_eq!(apply(&base, &hunks), target);
    }
}
