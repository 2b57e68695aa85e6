//! Finding where a run of patch lines sits in a file.
//!
//! Models copy context imperfectly: trailing spaces get lost, indentation drifts, typographic
//! quotes and dashes become ASCII. So lines are compared at increasing tolerance, and a
//! looser level is only tried when no stricter one matches anywhere: a near-miss never wins
//! over an exact match elsewhere.

use std::borrow::Cow;
use std::cell::OnceCell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tolerance {
    Exact,
    TrailingWhitespace,
    SurroundingWhitespace,
    /// Surrounding whitespace, and Unicode punctuation that has a common ASCII stand-in.
    AsciiPunctuation,
}

impl Tolerance {
    /// Strictest first.
    const LADDER: [Tolerance; 4] = [
        Tolerance::Exact,
        Tolerance::TrailingWhitespace,
        Tolerance::SurroundingWhitespace,
        Tolerance::AsciiPunctuation,
    ];

    fn normalize(self, line: &str) -> Cow<'_, str> {
        match self {
            Tolerance::Exact => Cow::Borrowed(line),
            Tolerance::TrailingWhitespace => Cow::Borrowed(line.trim_end()),
            Tolerance::SurroundingWhitespace => Cow::Borrowed(line.trim()),
            Tolerance::AsciiPunctuation => {
                Cow::Owned(to_ascii_punctuation(line).trim().to_string())
            }
        }
    }
}

/// Maps look-alike punctuation and spaces to ASCII and drops invisible characters.
fn to_ascii_punctuation(line: &str) -> String {
    line.chars()
        .filter_map(|c| match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}' => {
                Some('-')
            }
            '\u{2018}'..='\u{201B}' | '\u{2032}' | '\u{FF07}' => Some('\''),
            '\u{201C}'..='\u{201F}' | '\u{2033}' | '\u{FF02}' => Some('"'),
            '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => {
                Some(' ')
            }
            '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => None,
            other => Some(other),
        })
        .collect()
}

/// A file's lines, searchable at every tolerance; each tolerance's normalized copy of the
/// file is made once, on first use, however many chunks are searched.
pub(crate) struct Haystack<'a> {
    lines: &'a [&'a str],
    normalized: [OnceCell<Vec<Cow<'a, str>>>; Tolerance::LADDER.len()],
}

impl<'a> Haystack<'a> {
    pub(crate) fn new(lines: &'a [&'a str]) -> Self {
        Haystack {
            lines,
            normalized: Default::default(),
        }
    }

    pub(crate) fn lines(&self) -> &'a [&'a str] {
        self.lines
    }

    /// Every index at or after `from` where `pattern` starts, at the strictest tolerance
    /// that matches anywhere there; empty when none does.
    pub(crate) fn find_all<P: AsRef<str>>(&self, pattern: &[P], from: usize) -> Vec<usize> {
        Tolerance::LADDER
            .into_iter()
            .enumerate()
            .map(|(level, tolerance)| self.starts_at(level, tolerance, pattern, from))
            .find(|starts| !starts.is_empty())
            .unwrap_or_default()
    }

    /// The first index at or after `from` where `pattern` starts, at the strictest
    /// tolerance that matches anywhere there.
    pub(crate) fn find_first<P: AsRef<str>>(&self, pattern: &[P], from: usize) -> Option<usize> {
        self.find_all(pattern, from).first().copied()
    }

    /// Whether `pattern` matches at exactly `at`, at any tolerance.
    pub(crate) fn matches_at<P: AsRef<str>>(&self, pattern: &[P], at: usize) -> bool {
        let Some(window) = self.lines.get(at..at + pattern.len()) else {
            return false;
        };
        Tolerance::LADDER.into_iter().any(|tolerance| {
            window.iter().zip(pattern).all(|(line, wanted)| {
                tolerance.normalize(line) == tolerance.normalize(wanted.as_ref())
            })
        })
    }

    fn starts_at<P: AsRef<str>>(
        &self,
        level: usize,
        tolerance: Tolerance,
        pattern: &[P],
        from: usize,
    ) -> Vec<usize> {
        if pattern.is_empty() || from + pattern.len() > self.lines.len() {
            return Vec::new();
        }
        let normalized = self.normalized[level].get_or_init(|| {
            self.lines
                .iter()
                .map(|line| tolerance.normalize(line))
                .collect()
        });
        let wanted: Vec<Cow<str>> = pattern
            .iter()
            .map(|line| tolerance.normalize(line.as_ref()))
            .collect();
        normalized[from..]
            .windows(wanted.len())
            .enumerate()
            .filter(|(_, window)| *window == wanted.as_slice())
            .map(|(offset, _)| from + offset)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_matches_are_found_from_the_start_index() {
        let lines = ["a", "b", "a", "b"];
        assert_eq!(Haystack::new(&lines).find_all(&["a", "b"], 0), [0, 2]);
        assert_eq!(Haystack::new(&lines).find_all(&["a", "b"], 1), [2]);
        assert_eq!(
            Haystack::new(&lines).find_all(&["a", "b"], 3),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn overlapping_matches_all_count() {
        assert_eq!(
            Haystack::new(&["x", "x", "x"]).find_all(&["x", "x"], 0),
            [0, 1]
        );
    }

    #[test]
    fn trailing_whitespace_is_tolerated() {
        assert_eq!(
            Haystack::new(&["foo  ", "bar\t"]).find_all(&["foo", "bar"], 0),
            [0]
        );
    }

    #[test]
    fn indentation_is_tolerated() {
        assert_eq!(
            Haystack::new(&["    foo", "\tbar  "]).find_all(&["foo", "  bar"], 0),
            [0]
        );
    }

    #[test]
    fn an_exact_match_wins_over_a_looser_one_earlier_in_the_file() {
        // Line 0 only matches ignoring indentation; line 1 matches exactly, so it is the
        // single candidate rather than one of two.
        assert_eq!(
            Haystack::new(&["  let x = 1;", "let x = 1;"]).find_all(&["let x = 1;"], 0),
            [1]
        );
    }

    #[test]
    fn unicode_punctuation_matches_its_ascii_stand_in() {
        let lines = [
            "let s = \u{201C}hello\u{201D}; // it\u{2019}s \u{2014} fine",
            "a\u{00A0}b",
            "\u{FEFF}first",
        ];
        assert_eq!(
            Haystack::new(&lines).find_all(&["let s = \"hello\"; // it's - fine"], 0),
            [0]
        );
        assert_eq!(Haystack::new(&lines).find_all(&["a b"], 0), [1]);
        assert_eq!(Haystack::new(&lines).find_all(&["first"], 0), [2]);
    }

    #[test]
    fn ascii_in_the_file_matches_unicode_in_the_patch() {
        assert_eq!(
            Haystack::new(&["x = 'a' - 1"]).find_all(&["x = \u{2018}a\u{2019} \u{2013} 1"], 0),
            [0]
        );
    }

    #[test]
    fn different_text_does_not_match() {
        assert!(Haystack::new(&["foo"]).find_all(&["fob"], 0).is_empty());
        assert!(
            Haystack::new(&["foo"])
                .find_all(&["foo", "bar"], 0)
                .is_empty()
        );
        assert!(Haystack::new(&["foo"]).find_all(&["foo"], 5).is_empty());
    }

    #[test]
    fn first_match_is_the_earliest_at_the_strictest_level() {
        assert_eq!(
            Haystack::new(&["x ", "x", "x"]).find_first(&["x"], 0),
            Some(1)
        );
        assert_eq!(Haystack::new(&["x ", "y"]).find_first(&["x"], 0), Some(0));
    }

    #[test]
    fn matches_at_checks_one_position() {
        let lines = ["a", "b  ", "c"];
        assert!(Haystack::new(&lines).matches_at(&["b", "c"], 1));
        assert!(!Haystack::new(&lines).matches_at(&["b", "c"], 0));
        assert!(!Haystack::new(&lines).matches_at(&["c", "d"], 2));
    }
}
