//! What the property tests (`hunk_rebase_props`, `proposal_tasks_props`) share: the
//! generators of texts and user edits, and char-offset helpers for their oracle, a plain
//! `String` edited directly. Offsets are char offsets, like the store's.
//!
//! Each test picks its own alphabet and sizes; the strategies are shaped so that a given
//! random stream yields the same cases it did when each test had its own copy (the saved
//! regression seeds stay meaningful).

use proptest::prelude::*;
use proptest::sample::Index;

/// A line of fewer than `max_pieces` of `pieces`, ended by `\n`.
pub fn line(pieces: &[&'static str], max_pieces: usize) -> impl Strategy<Value = String> {
    let piece = prop::sample::select(pieces.to_vec());
    prop::collection::vec(piece, 0..max_pieces).prop_map(|p| p.concat() + "\n")
}

/// [`line`], ended by `\r\n` instead with probability `crlf`.
pub fn line_maybe_crlf(
    pieces: &[&'static str],
    max_pieces: usize,
    crlf: f64,
) -> impl Strategy<Value = String> {
    let piece = prop::sample::select(pieces.to_vec());
    (
        prop::collection::vec(piece, 0..max_pieces),
        prop::bool::weighted(crlf),
    )
        .prop_map(|(pieces, crlf)| pieces.concat() + if crlf { "\r\n" } else { "\n" })
}

/// A user's edit, before it is placed in a text: each test's `resolve` turns it into a
/// char range of its current text.
#[derive(Debug, Clone)]
pub struct EditSpec {
    /// Aim inside some hunk (picked by this index) rather than anywhere.
    pub in_hunk: Option<Index>,
    pub at: Index,
    pub len: usize,
    pub text: String,
    /// Reported as the whole new text (full sync) rather than as the replaced range.
    pub whole_text: bool,
}

/// Edits of fewer than `max_len` chars replaced by up to two of `pieces`, aimed inside a
/// hunk 60% of the time, reported as whole text with probability `whole_text`.
pub fn edit_spec(
    pieces: &[&'static str],
    max_len: usize,
    whole_text: f64,
) -> impl Strategy<Value = EditSpec> {
    let piece = prop::sample::select(pieces.to_vec());
    (
        prop::option::weighted(0.6, any::<Index>()),
        any::<Index>(),
        0usize..max_len,
        prop::collection::vec(piece, 0..3),
        prop::bool::weighted(whole_text),
    )
        .prop_map(|(in_hunk, at, len, pieces, whole_text)| EditSpec {
            in_hunk,
            at,
            len,
            text: pieces.concat(),
            whole_text,
        })
}

/// One to three picks among a list of hunks (which hunks an accept or reject names).
pub fn picks() -> impl Strategy<Value = Vec<Index>> + Clone {
    prop::collection::vec(any::<Index>(), 1..4)
}

pub fn char_len(text: &str) -> usize {
    text.chars().count()
}

/// The byte offset of char `char_idx` (the text's length past its end).
fn byte_of(text: &str, char_idx: usize) -> usize {
    text.char_indices()
        .nth(char_idx)
        .map_or(text.len(), |(b, _)| b)
}

/// The chars `start..end` of `text`.
pub fn chars_of(text: &str, start: usize, end: usize) -> &str {
    &text[byte_of(text, start)..byte_of(text, end)]
}

/// Replaces the chars `start..end` of `text` with `with`.
pub fn splice(text: &mut String, start: usize, end: usize, with: &str) {
    let range = byte_of(text, start)..byte_of(text, end);
    text.replace_range(range, with);
}
