//! Where each hunk of one file's diff goes in the text the user has now.
//!
//! Tried in order, each hunk after the previous one's place: the stated position (shifted
//! by how far earlier hunks moved), the same lines at the nearest other position (forward
//! first, like `git apply`), the same lines ignoring whitespace and line endings (the file's
//! own context lines are then kept). A hunk that starts at line 1 must match at the top and
//! one without trailing context at the end, as in `git apply`, so an insertion at a file's
//! edge never lands mid-file. If any hunk still has no place and the diff's base is known,
//! the whole file is 3-way merged instead (like `git apply --3way`). Whatever cannot be
//! placed is returned as a conflict showing both sides; nothing is dropped.

use std::cell::OnceCell;

use super::merge::{self, LineEdit};
use super::{Hunk, HunkLine};

/// How one hunk was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Exact,
    /// At the stated lines moved by this many (positive: further down).
    Offset(isize),
    /// Only when ignoring whitespace; offset as for [`Outcome::Offset`].
    Whitespace(isize),
    /// By the 3-way merge.
    Merged,
    Conflict,
}

/// A change of the diff that cannot be made to the current text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// Current lines `start..end` are where the change was meant to go.
    pub start: usize,
    pub end: usize,
    /// What the diff expected there, and what it wanted instead.
    pub incoming_old: String,
    pub incoming_new: String,
    /// Indices of the diff's hunks involved.
    pub hunks: Vec<usize>,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placed {
    /// In current lines, sorted, non-overlapping.
    pub edits: Vec<LineEdit>,
    pub conflicts: Vec<Conflict>,
    /// One per hunk of the diff.
    pub outcomes: Vec<Outcome>,
}

impl Placed {
    /// The current text with every placed change made (conflicts keep the current text).
    pub fn apply(&self, current: &str) -> String {
        apply_edits(current, &self.edits)
    }
}

/// Replaces line ranges of `text`; `edits` sorted and non-overlapping.
pub fn apply_edits(text: &str, edits: &[LineEdit]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut lines = text.split_inclusive('\n');
    // The line `lines` yields next, and the byte where it starts.
    let (mut line, mut offset) = (0, 0);
    let mut advance = |to: usize, line: &mut usize, offset: &mut usize| {
        *offset += lines
            .by_ref()
            .take(to.saturating_sub(*line))
            .map(str::len)
            .sum::<usize>();
        *line = to;
    };
    for edit in edits {
        let kept = offset;
        advance(edit.start, &mut line, &mut offset);
        out.push_str(&text[kept..offset]);
        out.push_str(&edit.text);
        advance(edit.end, &mut line, &mut offset);
    }
    out.push_str(&text[offset..]);
    out
}

/// Why a section has no base to merge against when its diff names none (no `index` line)
/// or 3-way merging is off.
pub const NO_BASE: &str = "the diff's base version is not available for a 3-way merge";

/// Places `hunks` in `current`. `base` gives the text the diff was made from, or why it is
/// not available; it is called only when a hunk does not place directly, since reading a
/// base costs a trip to git.
pub fn place(
    current: &str,
    hunks: &[Hunk],
    base: impl FnOnce() -> Result<String, String>,
) -> Placed {
    let text = Lines::new(current);
    let found = place_directly(&text, hunks);
    if found.iter().all(Option::is_some) {
        let spots: Vec<Spot> = found.into_iter().flatten().collect();
        return Placed {
            outcomes: spots.iter().map(|s| s.outcome).collect(),
            edits: spots.into_iter().map(|s| s.edit).collect(),
            conflicts: Vec::new(),
        };
    }
    let no_base = match base() {
        Ok(base) => match three_way(&base, current, hunks) {
            Some(merged) => return merged,
            None => None,
        },
        Err(why) => Some(why),
    };
    partial(&text, hunks, found, no_base.as_deref())
}

/// Where a hunk went and what replaces the lines there.
#[derive(Debug, Clone)]
struct Spot {
    edit: LineEdit,
    outcome: Outcome,
}

/// `text` split into lines (endings kept), in a vector sized once.
fn lines_of(text: &str) -> Vec<&str> {
    let mut lines = Vec::with_capacity(text.bytes().filter(|&b| b == b'\n').count() + 1);
    lines.extend(text.split_inclusive('\n'));
    lines
}

/// A text split into lines (endings kept), with whitespace-free copies made on demand.
struct Lines<'a> {
    lines: Vec<&'a str>,
    squeezed: OnceCell<Vec<String>>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            lines: lines_of(text),
            squeezed: OnceCell::new(),
        }
    }

    fn squeezed(&self) -> &[String] {
        self.squeezed
            .get_or_init(|| self.lines.iter().map(|l| squeeze(l)).collect())
    }

    fn len(&self) -> usize {
        self.lines.len()
    }
}

fn squeeze(line: &str) -> String {
    line.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Each hunk's spot, or `None` where the first three strategies found none.
fn place_directly(text: &Lines, hunks: &[Hunk]) -> Vec<Option<Spot>> {
    let mut placed = Vec::with_capacity(hunks.len());
    let mut min_line = 0;
    let mut shift = 0isize;
    for hunk in hunks {
        let spot = find_spot(text, hunk, min_line, shift);
        if let Some((at, declared, ..)) = &spot {
            min_line = at + hunk.old_len();
            if let Some(declared) = declared {
                shift = *at as isize - *declared as isize;
            }
        }
        placed.push(spot.map(|(at, declared, exact)| spot_at(text, hunk, at, declared, exact)));
    }
    placed
}

/// The line a hunk's old lines start at, per its header (`None` for Codex hunks).
fn declared_line(hunk: &Hunk) -> Option<usize> {
    let start = hunk.old_start?;
    Some(if hunk.old_len() == 0 {
        start
    } else {
        start.saturating_sub(1)
    })
}

/// `(line, declared line, exact?)` of the first match in search order, or `None`.
fn find_spot(
    text: &Lines,
    hunk: &Hunk,
    min_line: usize,
    shift: isize,
) -> Option<(usize, Option<usize>, bool)> {
    let old: Vec<&str> = hunk.old_lines().collect();
    let declared = declared_line(hunk);
    let last_start = text.len().checked_sub(old.len())?;
    if min_line > last_start {
        return None;
    }
    let candidates = candidates(text, hunk, declared, min_line, shift, last_start)?;
    let exact = candidates
        .iter()
        .find(|&at| text.lines[at..at + old.len()] == old[..]);
    if let Some(at) = exact {
        return Some((at, declared, true));
    }
    let squeezed_old: Vec<String> = old.iter().map(|l| squeeze(l)).collect();
    let file = text.squeezed();
    candidates
        .iter()
        .find(|&at| file[at..at + old.len()] == squeezed_old[..])
        .map(|at| (at, declared, false))
}

/// The lines a hunk may start at, best first.
enum Candidates {
    Only(usize),
    /// `expected`, then one line further, one back, two further, … within `low..=high`.
    Outward {
        expected: usize,
        low: usize,
        high: usize,
    },
    /// Codex hunks: every line from the anchors on, in order.
    Forward(std::ops::RangeInclusive<usize>),
}

impl Candidates {
    fn iter(&self) -> Box<dyn Iterator<Item = usize> + '_> {
        match self {
            Candidates::Only(at) => Box::new(std::iter::once(*at)),
            Candidates::Forward(range) => Box::new(range.clone()),
            &Candidates::Outward {
                expected,
                low,
                high,
            } => {
                let farthest = (high - expected).max(expected - low);
                Box::new((0..=farthest).flat_map(move |k| {
                    let further = (expected + k <= high).then_some(expected + k);
                    let back = (k > 0 && expected >= low + k).then(|| expected - k);
                    further.into_iter().chain(back)
                }))
            }
        }
    }
}

/// Where to look, between `min_line` and `last_start`; `None` if nowhere can do.
fn candidates(
    text: &Lines,
    hunk: &Hunk,
    declared: Option<usize>,
    min_line: usize,
    shift: isize,
    last_start: usize,
) -> Option<Candidates> {
    let (leading, trailing) = hunk.context_around();
    // A diff made with no context (`-U0`) says nothing about file edges.
    let anchored = declared.is_some() && (leading > 0 || trailing > 0);
    let at_top = anchored && hunk.old_start.is_some_and(|s| s <= 1);
    let at_bottom = (anchored && trailing == 0) || hunk.at_end;
    match (at_top, at_bottom) {
        (true, true) => (min_line == 0 && last_start == 0).then_some(Candidates::Only(0)),
        (true, false) => (min_line == 0).then_some(Candidates::Only(0)),
        (false, true) => Some(Candidates::Only(last_start)),
        (false, false) => match declared {
            Some(declared) => {
                let expected =
                    (declared as isize + shift).clamp(min_line as isize, last_start as isize);
                Some(Candidates::Outward {
                    expected: expected as usize,
                    low: min_line,
                    high: last_start,
                })
            }
            None if hunk.old_len() == 0 => {
                // Codex: a chunk with nothing to match appends to the file.
                Some(Candidates::Only(last_start))
            }
            None => {
                let from = after_anchors(text, &hunk.anchors, min_line)?;
                Some(Candidates::Forward(from..=last_start))
            }
        },
    }
}

/// The line after the last of Codex's `@@ text` anchors, each found after the previous.
fn after_anchors(text: &Lines, anchors: &[String], mut from: usize) -> Option<usize> {
    for anchor in anchors {
        let wanted = anchor.trim();
        let found = (from..text.len()).find(|&i| text.lines[i].trim() == wanted)?;
        from = found + 1;
    }
    Some(from)
}

fn spot_at(text: &Lines, hunk: &Hunk, at: usize, declared: Option<usize>, exact: bool) -> Spot {
    let offset = declared.map_or(0, |d| at as isize - d as isize);
    let old_len = hunk.old_len();
    let (new_text, outcome) = if exact {
        let outcome = if offset == 0 {
            Outcome::Exact
        } else {
            Outcome::Offset(offset)
        };
        (hunk.new_lines().collect::<String>(), outcome)
    } else {
        (
            keep_file_context(&text.lines[at..at + old_len], hunk),
            Outcome::Whitespace(offset),
        )
    };
    Spot {
        edit: LineEdit {
            start: at,
            end: at + old_len,
            text: new_text,
        },
        outcome,
    }
}

/// The replacement for a whitespace-insensitive match: the file's own context lines, and
/// added lines in the file's line ending.
fn keep_file_context(matched: &[&str], hunk: &Hunk) -> String {
    let file_crlf = majority_crlf(matched.iter().copied());
    let diff_crlf = majority_crlf(hunk.old_lines());
    let mut file_lines = matched.iter();
    let mut out = String::new();
    for line in &hunk.lines {
        match line {
            HunkLine::Context(_) => out.push_str(file_lines.next().copied().unwrap_or_default()),
            HunkLine::Removed(_) => {
                file_lines.next();
            }
            HunkLine::Added(added) => match (diff_crlf, file_crlf) {
                (false, true) if added.ends_with('\n') && !added.ends_with("\r\n") => {
                    out.push_str(&added[..added.len() - 1]);
                    out.push_str("\r\n");
                }
                (true, false) if added.ends_with("\r\n") => {
                    out.push_str(&added[..added.len() - 2]);
                    out.push('\n');
                }
                _ => out.push_str(added),
            },
        }
    }
    out
}

fn majority_crlf<'a>(lines: impl Iterator<Item = &'a str>) -> bool {
    let (mut crlf, mut lf) = (0, 0);
    for line in lines {
        if line.ends_with("\r\n") {
            crlf += 1;
        } else if line.ends_with('\n') {
            lf += 1;
        }
    }
    crlf > lf
}

/// The whole file through a 3-way merge; `None` when the diff does not apply to its own
/// base (then the base is not what the diff was made from).
fn three_way(base: &str, current: &str, hunks: &[Hunk]) -> Option<Placed> {
    let base_text = Lines::new(base);
    let on_base = place_directly(&base_text, hunks);
    let spots: Vec<Spot> = on_base.into_iter().collect::<Option<_>>()?;
    let edits: Vec<LineEdit> = spots.iter().map(|s| s.edit.clone()).collect();
    let theirs = apply_edits(base, &edits);
    let merged = merge::merge(base, current, &theirs);
    let mut outcomes = vec![Outcome::Merged; hunks.len()];
    let conflicts = merged
        .conflicts
        .into_iter()
        .map(|c| {
            let involved: Vec<usize> = edits
                .iter()
                .enumerate()
                .filter(|(_, e)| e.start <= c.base.end && c.base.start <= e.end)
                .map(|(i, _)| i)
                .collect();
            for &i in &involved {
                outcomes[i] = Outcome::Conflict;
            }
            Conflict {
                start: c.ours.start,
                end: c.ours.end,
                incoming_old: c.base_text,
                incoming_new: c.theirs_text,
                reason: "3-way merge conflict: the file and the diff both changed these lines \
                         since the diff's base"
                    .into(),
                hunks: involved,
            }
        })
        .collect();
    Some(Placed {
        edits: merged.edits,
        conflicts,
        outcomes,
    })
}

/// What placed directly is applied; every other hunk becomes a conflict over the lines
/// it was meant for, between its placed neighbours. `no_base` is why there was no base to
/// merge against (`None`: there was one, and the diff does not apply to it).
fn partial(
    text: &Lines,
    hunks: &[Hunk],
    found: Vec<Option<Spot>>,
    no_base: Option<&str>,
) -> Placed {
    let mut placed = Placed::default();
    let mut shift = 0isize;
    for (i, (hunk, spot)) in hunks.iter().zip(&found).enumerate() {
        if let Some(spot) = spot {
            if let Some(declared) = declared_line(hunk) {
                shift = spot.edit.start as isize - declared as isize;
            }
            placed.outcomes.push(spot.outcome);
            placed.edits.push(spot.edit.clone());
            continue;
        }
        placed.outcomes.push(Outcome::Conflict);
        let low = placed.edits.last().map_or(0, |e| e.end);
        let high = found[i + 1..]
            .iter()
            .flatten()
            .next()
            .map_or(text.len(), |s| s.edit.start);
        let expected = declared_line(hunk).map_or(low as isize, |d| d as isize + shift);
        let start = (expected.max(low as isize) as usize).min(high);
        let end = (start + hunk.old_len()).min(high);
        placed.conflicts.push(Conflict {
            start,
            end,
            incoming_old: hunk.old_lines().collect(),
            incoming_new: hunk.new_lines().collect(),
            hunks: vec![i],
            reason: unplaced_reason(hunk, no_base),
        });
    }
    placed
}

fn unplaced_reason(hunk: &Hunk, no_base: Option<&str>) -> String {
    let why = no_base
        .unwrap_or("the diff does not apply to the base version it names, so it cannot be merged");
    format!(
        "the hunk at diff line {} does not match the file: its lines were not found, \
         exactly or ignoring whitespace, and {why}",
        hunk.line
    )
}

#[cfg(test)]
mod tests;
