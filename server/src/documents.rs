//! Open buffers as the editor sees them: their text (a rope), their version, and the
//! conversion between LSP positions and char offsets.
//!
//! This is the only module that knows LSP positions count UTF-16 code units or UTF-8
//! bytes: everything else in the server speaks ropey char indices. Keeping the
//! conversion in one place is what keeps hunk anchors, code-action ranges and
//! `workspace/applyEdit` ranges from disagreeing by one emoji.

use ropey::Rope;

use crate::protocol::{Position, Range};

/// How the `character` of an LSP [`Position`] counts, as negotiated in `initialize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionEncoding {
    Utf8,
    Utf16,
}

/// What one edit did to a text, in char offsets of the text before the edit:
/// `[start, old_end)` was replaced by `new_len` chars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub start: usize,
    pub old_end: usize,
    pub new_len: usize,
}

/// An edit we expect the client to apply (an accepted hunk in flight): replace
/// `[start, end)` (char offsets in the current text) with `text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replacement<'a> {
    pub start: usize,
    pub end: usize,
    pub text: &'a str,
}

/// One open buffer, mirrored from the editor's `didOpen`/`didChange` notifications.
#[derive(Debug, Clone)]
pub struct Document {
    /// The version the editor gave with the last notification; the caller keeps it
    /// current, because versioned `workspace/applyEdit`s must name it.
    pub version: i32,
    rope: Rope,
}

impl Document {
    pub fn new(text: &str, version: i32) -> Self {
        Self {
            version,
            rope: Rope::from_str(text),
        }
    }

    /// A document over a rope built elsewhere (off the store's lock: building the rope of
    /// a large file takes milliseconds).
    pub fn from_rope(rope: Rope, version: i32) -> Self {
        Self { version, rope }
    }

    pub fn rope(&self) -> &Rope {
        &self.rope
    }

    pub fn text(&self) -> String {
        self.rope.to_string()
    }

    /// Applies one `contentChanges` entry: an incremental change (`range` given) or a
    /// whole-text change (`range` is `None`).
    ///
    /// Out-of-range positions are clamped, as the LSP spec asks (a character beyond the
    /// line end means the line end). For a whole-text change, the in-flight
    /// replacements in `expected` (sorted, non-overlapping) that the new text shows
    /// applied are reported as themselves, so accepted hunks are recognised and pending
    /// hunks between them survive; any other whole-text change is reported as the one
    /// region between the common prefix and suffix.
    ///
    /// Returns the changes in the order they must be applied to hunk anchors: several
    /// changes come back in descending `start` order, each in offsets of the text
    /// before this call. Updating [`Document::version`] is left to the caller.
    pub fn apply(
        &mut self,
        range: Option<Range>,
        text: &str,
        encoding: PositionEncoding,
        expected: &[Replacement],
    ) -> Vec<Change> {
        match range {
            Some(range) => vec![self.apply_incremental(range, text, encoding)],
            None => self.apply_whole_text(text, expected),
        }
    }

    fn apply_incremental(
        &mut self,
        range: Range,
        text: &str,
        encoding: PositionEncoding,
    ) -> Change {
        let a = position_to_char(&self.rope, range.start, encoding);
        let b = position_to_char(&self.rope, range.end, encoding);
        // A reversed range is a client bug; reading it as the span it names is kinder
        // than dropping the user's keystroke.
        self.replace(a.min(b), a.max(b), text)
    }

    /// Replaces the chars `start..end` (clamped to the text) with `text`: an edit the
    /// server makes itself, in char offsets, so no position is converted.
    pub fn replace(&mut self, start: usize, end: usize, text: &str) -> Change {
        let end = end.min(self.rope.len_chars());
        let start = start.min(end);
        self.rope.remove(start..end);
        self.rope.insert(start, text);
        Change {
            start,
            old_end: end,
            new_len: text.chars().count(),
        }
    }

    fn apply_whole_text(&mut self, text: &str, expected: &[Replacement]) -> Vec<Change> {
        let new_rope = Rope::from_str(text);
        let changes = match applied_replacements(&self.rope, text, expected) {
            Some(applied) if !applied.is_empty() => applied,
            _ => common_prefix_suffix_change(&self.rope, &new_rope)
                .into_iter()
                .collect(),
        };
        self.rope = new_rope;
        changes
    }
}

/// If `new_text` is the current text with some of `expected` applied and the rest left
/// as they were, returns the applied ones as changes in descending order.
///
/// Accepting only a subset matters when two `workspace/applyEdit`s are in flight and the
/// editor reports the first one before applying the second.
fn applied_replacements(
    rope: &Rope,
    new_text: &str,
    expected: &[Replacement],
) -> Option<Vec<Change>> {
    let mut cursor = 0; // byte offset in new_text
    let mut gap_start = 0; // char offset in rope
    let mut applied = Vec::new();
    for (i, replacement) in expected.iter().enumerate() {
        if replacement.start < gap_start
            || replacement.end < replacement.start
            || replacement.end > rope.len_chars()
        {
            return None;
        }
        cursor = consume(new_text, cursor, rope.slice(gap_start..replacement.start))?;
        let next_start = expected
            .get(i + 1)
            .map_or(rope.len_chars(), |next| next.start);
        let gap_after = rope.slice(replacement.end..next_start.max(replacement.end));
        let is_last = i + 1 == expected.len();
        let followed_by_gap = |at: usize| {
            consume(new_text, at, gap_after).is_some_and(|end| !is_last || end == new_text.len())
        };
        let applied_end = new_text
            .get(cursor..)
            .filter(|rest| rest.starts_with(replacement.text))
            .map(|_| cursor + replacement.text.len());
        let kept_end = consume(
            new_text,
            cursor,
            rope.slice(replacement.start..replacement.end),
        );
        cursor = match (applied_end, kept_end) {
            (Some(end), _) if followed_by_gap(end) => {
                applied.push(Change {
                    start: replacement.start,
                    old_end: replacement.end,
                    new_len: replacement.text.chars().count(),
                });
                end
            }
            (_, Some(end)) if followed_by_gap(end) => end,
            _ => return None,
        };
        gap_start = replacement.end;
    }
    let tail = rope.slice(gap_start..);
    (consume(new_text, cursor, tail)? == new_text.len()).then(|| {
        applied.reverse();
        applied
    })
}

/// If `text[at..]` starts with `expected`, returns the byte offset just past it.
fn consume(text: &str, at: usize, expected: ropey::RopeSlice) -> Option<usize> {
    let end = at + expected.len_bytes();
    (text.get(at..end)? == expected).then_some(end)
}

/// The one region where `new` differs from `old`, or `None` if they are equal.
///
/// The region never starts or ends inside a `\r\n`: turning `\n` into `\r\n` is an
/// edit of that line break, not an insertion of `\r` before it, and no LSP position
/// could address an anchor between the two.
fn common_prefix_suffix_change(old: &Rope, new: &Rope) -> Option<Change> {
    let (old_len, new_len) = (old.len_chars(), new.len_chars());
    let mut prefix = old
        .chars()
        .zip(new.chars())
        .take_while(|(a, b)| a == b)
        .count();
    if prefix == old_len && prefix == new_len {
        return None;
    }
    if splits_crlf(old, prefix) || splits_crlf(new, prefix) {
        prefix -= 1;
    }
    let mut suffix = old
        .chars_at(old_len)
        .reversed()
        .zip(new.chars_at(new_len).reversed())
        .take(old_len.min(new_len) - prefix)
        .take_while(|(a, b)| a == b)
        .count();
    if splits_crlf(old, old_len - suffix) || splits_crlf(new, new_len - suffix) {
        suffix -= 1;
    }
    Some(Change {
        start: prefix,
        old_end: old_len - suffix,
        new_len: new_len - prefix - suffix,
    })
}

/// Whether char offset `idx` falls between the `\r` and the `\n` of a line break.
fn splits_crlf(rope: &Rope, idx: usize) -> bool {
    idx > 0 && rope.get_char(idx - 1) == Some('\r') && rope.get_char(idx) == Some('\n')
}

/// The char offset of an LSP position, clamped: a line past the end means the end of
/// the text, a character past the line's end means the line's end (before its line
/// break), and a position inside a multi-unit char means that char's start.
pub fn position_to_char(rope: &Rope, pos: Position, enc: PositionEncoding) -> usize {
    let line = pos.line as usize;
    if line >= rope.len_lines() {
        return rope.len_chars();
    }
    let line_start = rope.line_to_char(line);
    let line_end = line_content_end(rope, line);
    let character = pos.character as usize;
    match enc {
        PositionEncoding::Utf16 => {
            let start = rope.char_to_utf16_cu(line_start);
            let end = rope.char_to_utf16_cu(line_end);
            rope.utf16_cu_to_char((start + character).min(end))
        }
        PositionEncoding::Utf8 => {
            let start = rope.char_to_byte(line_start);
            let end = rope.char_to_byte(line_end);
            rope.byte_to_char((start + character).min(end))
        }
    }
}

/// The LSP position of a char offset (clamped to the end of the text).
pub fn char_to_position(rope: &Rope, char_idx: usize, enc: PositionEncoding) -> Position {
    let char_idx = char_idx.min(rope.len_chars());
    let line = rope.char_to_line(char_idx);
    let line_start = rope.line_to_char(line);
    let character = match enc {
        PositionEncoding::Utf16 => {
            rope.char_to_utf16_cu(char_idx) - rope.char_to_utf16_cu(line_start)
        }
        PositionEncoding::Utf8 => rope.char_to_byte(char_idx) - rope.char_to_byte(line_start),
    };
    Position {
        line: saturate_u32(line),
        character: saturate_u32(character),
    }
}

fn saturate_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The char offset where `line`'s content ends, before its `\n`, `\r\n` or `\r`.
fn line_content_end(rope: &Rope, line: usize) -> usize {
    if line + 1 >= rope.len_lines() {
        return rope.len_chars();
    }
    let next_line_start = rope.line_to_char(line + 1);
    let before = |idx: usize| idx.checked_sub(1).map(|i| rope.char(i));
    match before(next_line_start) {
        Some('\n') if before(next_line_start - 1) == Some('\r') => next_line_start - 2,
        Some('\n' | '\r') => next_line_start - 1,
        _ => next_line_start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PositionEncoding::{Utf8, Utf16};

    fn pos(line: u32, character: u32) -> Position {
        Position { line, character }
    }

    fn range(start: (u32, u32), end: (u32, u32)) -> Range {
        Range {
            start: pos(start.0, start.1),
            end: pos(end.0, end.1),
        }
    }

    /// Char offset of the first occurrence of `needle`, for readable expectations.
    fn char_of(text: &str, needle: &str) -> usize {
        text[..text.find(needle).expect("needle in text")]
            .chars()
            .count()
    }

    #[test]
    fn ascii_positions_are_columns_in_both_encodings() {
        let rope = Rope::from_str("fn main() {\n    body\n}\n");
        for enc in [Utf8, Utf16] {
            assert_eq!(position_to_char(&rope, pos(1, 4), enc), 16);
            assert_eq!(char_to_position(&rope, 16, enc), pos(1, 4));
        }
    }

    #[test]
    fn accented_letter_is_two_bytes_but_one_utf16_unit() {
        let text = "café = 1\n";
        let rope = Rope::from_str(text);
        let equals = char_of(text, "=");
        assert_eq!(char_to_position(&rope, equals, Utf16), pos(0, 5));
        assert_eq!(char_to_position(&rope, equals, Utf8), pos(0, 6));
        assert_eq!(position_to_char(&rope, pos(0, 5), Utf16), equals);
        assert_eq!(position_to_char(&rope, pos(0, 6), Utf8), equals);
    }

    #[test]
    fn emoji_is_two_utf16_units_and_four_bytes() {
        let text = "x\nlet s = \"😀\"; end\n";
        let rope = Rope::from_str(text);
        let after_emoji = char_of(text, "\"; end");
        assert_eq!(char_to_position(&rope, after_emoji, Utf16), pos(1, 11));
        assert_eq!(char_to_position(&rope, after_emoji, Utf8), pos(1, 13));
        assert_eq!(position_to_char(&rope, pos(1, 11), Utf16), after_emoji);
        assert_eq!(position_to_char(&rope, pos(1, 13), Utf8), after_emoji);
    }

    #[test]
    fn position_inside_a_char_means_that_chars_start() {
        let text = "😀a";
        let rope = Rope::from_str(text);
        assert_eq!(position_to_char(&rope, pos(0, 1), Utf16), 0);
        assert_eq!(position_to_char(&rope, pos(0, 3), Utf8), 0);
    }

    #[test]
    fn cjk_is_three_bytes_and_one_utf16_unit() {
        let text = "名前: 値\n";
        let rope = Rope::from_str(text);
        let value = char_of(text, "値");
        assert_eq!(char_to_position(&rope, value, Utf16), pos(0, 4));
        assert_eq!(char_to_position(&rope, value, Utf8), pos(0, 8));
    }

    #[test]
    fn crlf_ends_a_line_and_is_never_split_by_clamping() {
        let text = "ab\r\ncd\r\n";
        let rope = Rope::from_str(text);
        for enc in [Utf8, Utf16] {
            assert_eq!(position_to_char(&rope, pos(1, 0), enc), 4);
            assert_eq!(char_to_position(&rope, 4, enc), pos(1, 0));
            assert_eq!(
                position_to_char(&rope, pos(0, 99), enc),
                2,
                "clamped before \\r\\n"
            );
            assert_eq!(position_to_char(&rope, pos(2, 0), enc), 8);
        }
    }

    #[test]
    fn lone_cr_ends_a_line_as_lsp_says() {
        let rope = Rope::from_str("ab\rcd");
        assert_eq!(position_to_char(&rope, pos(1, 1), Utf16), 4);
        assert_eq!(position_to_char(&rope, pos(0, 9), Utf16), 2);
    }

    #[test]
    fn only_lsp_line_breaks_count_as_lines() {
        // U+2028 and form feed are ordinary characters to LSP clients; counting them as
        // line breaks would shift every position after them.
        let text = "a\u{2028}b\u{c}c\nd";
        let rope = Rope::from_str(text);
        assert_eq!(
            position_to_char(&rope, pos(1, 0), Utf16),
            char_of(text, "d")
        );
        assert_eq!(
            char_to_position(&rope, char_of(text, "c"), Utf16),
            pos(0, 4)
        );
    }

    #[test]
    fn out_of_range_positions_clamp() {
        let rope = Rope::from_str("one\ntwo");
        for enc in [Utf8, Utf16] {
            assert_eq!(position_to_char(&rope, pos(0, 50), enc), 3);
            assert_eq!(position_to_char(&rope, pos(1, 50), enc), 7);
            assert_eq!(position_to_char(&rope, pos(9, 0), enc), 7);
            assert_eq!(char_to_position(&rope, 99, enc), pos(1, 3));
        }
    }

    #[test]
    fn every_char_boundary_round_trips() {
        let text = "ascii é 😀 名\r\n\r\nline 🎉🎉\nend";
        let rope = Rope::from_str(text);
        for enc in [Utf8, Utf16] {
            for idx in 0..=rope.len_chars() {
                if splits_crlf(&rope, idx) {
                    continue;
                }
                let p = char_to_position(&rope, idx, enc);
                assert_eq!(
                    position_to_char(&rope, p, enc),
                    idx,
                    "{enc:?} at char {idx}"
                );
            }
        }
    }

    #[test]
    fn incremental_change_reports_what_it_replaced() {
        let mut doc = Document::new("let 😀 = 1;\nnext\n", 1);
        let change = doc.apply(Some(range((0, 4), (0, 6))), "smile", Utf16, &[]);
        assert_eq!(doc.text(), "let smile = 1;\nnext\n");
        assert_eq!(
            change,
            vec![Change {
                start: 4,
                old_end: 5,
                new_len: 5
            }]
        );
    }

    #[test]
    fn incremental_change_past_the_end_appends() {
        let mut doc = Document::new("a\nb", 1);
        doc.apply(Some(range((5, 0), (7, 3))), "!", Utf8, &[]);
        assert_eq!(doc.text(), "a\nb!");
    }

    #[test]
    fn whole_text_change_reports_the_region_between_prefix_and_suffix() {
        let mut doc = Document::new("one\ntwo\nthree\n", 1);
        let changes = doc.apply(None, "one\n2\nthree\n", Utf16, &[]);
        assert_eq!(doc.text(), "one\n2\nthree\n");
        assert_eq!(
            changes,
            vec![Change {
                start: 4,
                old_end: 7,
                new_len: 1
            }]
        );
    }

    #[test]
    fn whole_text_change_with_repeated_text_never_overlaps_prefix_and_suffix() {
        let mut doc = Document::new("aaa", 1);
        let changes = doc.apply(None, "aaaa", Utf16, &[]);
        assert_eq!(
            changes,
            vec![Change {
                start: 3,
                old_end: 3,
                new_len: 1
            }]
        );
    }

    #[test]
    fn whole_text_change_never_splits_a_crlf() {
        let mut doc = Document::new("aa\n\nbb\r\ncc", 1);
        let to_crlf = doc.apply(None, "aa\n\r\nbb\r\ncc", Utf16, &[]);
        assert_eq!(
            to_crlf,
            vec![Change {
                start: 3,
                old_end: 4,
                new_len: 2
            }],
            "the line break was replaced, not prefixed with \\r"
        );
        let to_lf = doc.apply(None, "aa\n\r\nbb\ncc", Utf16, &[]);
        assert_eq!(
            to_lf,
            vec![Change {
                start: 7,
                old_end: 9,
                new_len: 1
            }]
        );

        let mut doc = Document::new("x\r\ny", 1);
        let doubled_cr = doc.apply(None, "x\r\r\ny", Utf16, &[]);
        assert_eq!(
            doubled_cr,
            vec![Change {
                start: 1,
                old_end: 1,
                new_len: 1
            }]
        );
    }

    #[test]
    fn identical_whole_text_is_no_change() {
        let mut doc = Document::new("same\n", 1);
        assert!(doc.apply(None, "same\n", Utf16, &[]).is_empty());
    }

    #[test]
    fn whole_text_after_accepting_two_hunks_reports_exactly_those_two() {
        let old = "h1\nkeep\nh2\nkeep\nh3\n";
        let mut doc = Document::new(old, 1);
        let first = Replacement {
            start: char_of(old, "h1"),
            end: char_of(old, "h1") + 3,
            text: "ONE\n",
        };
        let third = Replacement {
            start: char_of(old, "h3"),
            end: char_of(old, "h3") + 3,
            text: "THREE\nTHREE\n",
        };
        let changes = doc.apply(
            None,
            "ONE\nkeep\nh2\nkeep\nTHREE\nTHREE\n",
            Utf16,
            &[first, third],
        );
        assert_eq!(
            changes,
            vec![
                Change {
                    start: third.start,
                    old_end: third.end,
                    new_len: 12
                },
                Change {
                    start: 0,
                    old_end: 3,
                    new_len: 4
                },
            ]
        );
    }

    #[test]
    fn whole_text_with_only_the_first_of_two_in_flight_edits_reports_that_one() {
        let old = "a\nb\nc\n";
        let mut doc = Document::new(old, 1);
        let expected = [
            Replacement {
                start: 0,
                end: 2,
                text: "A\n",
            },
            Replacement {
                start: 4,
                end: 6,
                text: "C\n",
            },
        ];
        let changes = doc.apply(None, "A\nb\nc\n", Utf16, &expected);
        assert_eq!(
            changes,
            vec![Change {
                start: 0,
                old_end: 2,
                new_len: 2
            }]
        );
    }

    #[test]
    fn whole_text_that_is_not_the_expected_edit_falls_back_to_one_region() {
        let mut doc = Document::new("a\nb\nc\n", 1);
        let expected = [Replacement {
            start: 0,
            end: 2,
            text: "A\n",
        }];
        let changes = doc.apply(None, "a\nB\nc\n", Utf16, &expected);
        assert_eq!(
            changes,
            vec![Change {
                start: 2,
                old_end: 3,
                new_len: 1
            }]
        );
    }
}
