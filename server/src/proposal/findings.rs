//! Review findings anchored in the live text: a finding covers whole lines of a file and
//! follows the user's typing exactly as a pending hunk does (`rebase.rs`'s rules), except
//! that an edit which would make a hunk stale makes a finding go away — the user changed
//! the lines it was about, so it may no longer hold.

use super::rebase;
use crate::documents::Change;
pub use crate::protocol::FindingReport;

/// One finding where it is now: `start..end` are char offsets of its lines (line breaks
/// included) in the current text of its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub task_id: String,
    pub id: String,
    pub start: usize,
    pub end: usize,
    pub report: FindingReport,
}

/// Moves `findings` (one file's, any order) through one edit; returns those it removed.
pub fn apply_change(findings: &mut Vec<Finding>, change: Change) -> Vec<Finding> {
    let mut gone = Vec::new();
    findings.retain_mut(|finding| {
        if rebase::overlaps_span(finding.start, finding.end, change) {
            gone.push(finding.clone());
            return false;
        }
        (finding.start, finding.end) = rebase::shift_span(finding.start, finding.end, change);
        true
    });
    gone
}

/// Char offsets of 1-based lines `first..=last` of `text` (line break of the last one
/// included); None when `first` is past the end. `last` is capped at the last line.
pub fn line_span(text: &str, first: usize, last: usize) -> Option<(usize, usize)> {
    let mut offset = 0;
    let mut start = None;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let number = number + 1;
        if number == first {
            start = Some(offset);
        }
        offset += line.chars().count();
        if number >= last && start.is_some() {
            break;
        }
    }
    start.map(|start| (start, offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::FindingSeverity;

    fn finding(start: usize, end: usize) -> Finding {
        Finding {
            task_id: "t".into(),
            id: "t-f1".into(),
            start,
            end,
            report: FindingReport {
                severity: FindingSeverity::Warning,
                title: "x".into(),
                body: String::new(),
                fix: None,
                outside_change: false,
                related: Vec::new(),
            },
        }
    }

    fn edit(start: usize, old_end: usize, new_len: usize) -> Change {
        Change {
            start,
            old_end,
            new_len,
        }
    }

    #[test]
    fn lines_become_char_spans_with_their_line_breaks() {
        let text = "one\ntwö\nthree";
        assert_eq!(line_span(text, 2, 2), Some((4, 8)));
        assert_eq!(line_span(text, 2, 9), Some((4, 13)));
        assert_eq!(line_span(text, 4, 4), None);
    }

    #[test]
    fn a_finding_moves_with_text_typed_above_and_goes_when_its_lines_are_edited() {
        // Lines 2-3 of "a\nbb\ncc\nd\n": [2, 8).
        let mut findings = vec![finding(2, 8)];
        // A new line typed at the start of line 2 pushes it down.
        assert!(apply_change(&mut findings, edit(2, 2, 4)).is_empty());
        assert_eq!((findings[0].start, findings[0].end), (6, 12));
        // Typing on the line after it leaves it where it is.
        assert!(apply_change(&mut findings, edit(12, 12, 1)).is_empty());
        assert_eq!((findings[0].start, findings[0].end), (6, 12));
        // A character typed inside it removes it.
        let gone = apply_change(&mut findings, edit(8, 8, 1));
        assert_eq!(gone.len(), 1);
        assert!(findings.is_empty());
    }
}
