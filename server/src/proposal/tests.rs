use std::time::Duration;

use super::*;
use crate::documents::{Document, PositionEncoding, char_to_position};
use crate::protocol::Range;

const ENC: PositionEncoding = PositionEncoding::Utf16;

/// A document showing `base` and the task's hunks towards `target`, ids `t-1`, `t-2`, …
fn proposal(base: &str, target: &str) -> (Document, FileHunks) {
    let mut n = 0;
    let hunks = FileHunks::new(diff_hunks(base, target, Duration::from_secs(5)), || {
        n += 1;
        format!("t-{n}")
    });
    (Document::new(base, 1), hunks)
}

/// The user (or the editor) replaces chars `[start, end)` with `text`, reported as an
/// incremental didChange.
fn edit(doc: &mut Document, hunks: &mut FileHunks, start: usize, end: usize, text: &str) {
    let range = Range {
        start: char_to_position(doc.rope(), start, ENC),
        end: char_to_position(doc.rope(), end, ENC),
    };
    for change in doc.apply(Some(range), text, ENC, &[]) {
        hunks.apply_change(change);
    }
}

fn ids(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn status(hunks: &FileHunks, id: &str) -> HunkStatus {
    hunks.get(id).expect("hunk exists").status
}

fn text_at(doc: &Document, hunk: &Hunk) -> String {
    doc.rope().slice(hunk.start..hunk.end).to_string()
}

const BASE: &str = "alpha\nkeep 1\nbeta\nkeep 2\ngamma\n";
const TARGET: &str = "ALPHA\nkeep 1\nBETA\nkeep 2\nGAMMA\n";

#[test]
fn new_hunks_are_pending_with_ids_in_order() {
    let (doc, hunks) = proposal(BASE, TARGET);
    let got: Vec<_> = hunks
        .hunks()
        .iter()
        .map(|h| (h.id.as_str(), h.status))
        .collect();
    assert_eq!(
        got,
        [
            ("t-1", HunkStatus::Pending),
            ("t-2", HunkStatus::Pending),
            ("t-3", HunkStatus::Pending)
        ]
    );
    assert_eq!(text_at(&doc, &hunks.hunks()[1]), "beta\n");
}

#[test]
fn typing_above_a_hunk_moves_it_and_keeps_it_pending() {
    let (mut doc, mut hunks) = proposal(BASE, TARGET);
    edit(&mut doc, &mut hunks, 6, 6, "// note\n");
    let beta = hunks.get("t-2").expect("t-2");
    assert_eq!(beta.status, HunkStatus::Pending);
    assert_eq!(text_at(&doc, beta), "beta\n");
    assert_eq!(status(&hunks, "t-1"), HunkStatus::Pending);
}

#[test]
fn typing_inside_a_hunk_makes_it_stale_and_says_where() {
    let (mut doc, mut hunks) = proposal(BASE, TARGET);
    let beta_start = hunks.get("t-2").expect("t-2").start;
    edit(&mut doc, &mut hunks, beta_start + 2, beta_start + 2, "X");
    let beta = hunks.get("t-2").expect("t-2");
    assert_eq!(beta.status, HunkStatus::Stale);
    assert_eq!(
        beta.reason.as_deref(),
        Some("you edited line 1 of this hunk after it was proposed")
    );
    assert_eq!(
        text_at(&doc, beta),
        "beXta\n",
        "a stale hunk stretches over the edit"
    );
    assert_eq!(status(&hunks, "t-1"), HunkStatus::Pending);
    assert_eq!(status(&hunks, "t-3"), HunkStatus::Pending);
}

#[test]
fn typing_right_at_a_hunks_edges_does_not_touch_it() {
    let (mut doc, mut hunks) = proposal(BASE, TARGET);
    let beta = hunks.get("t-2").expect("t-2").clone();
    edit(&mut doc, &mut hunks, beta.end, beta.end, "after ");
    edit(&mut doc, &mut hunks, beta.start, beta.start, "before\n");
    let moved = hunks.get("t-2").expect("t-2");
    assert_eq!(moved.status, HunkStatus::Pending);
    assert_eq!(text_at(&doc, moved), "beta\n");
}

#[test]
fn typing_at_a_pure_insertion_point_keeps_the_insertion_there() {
    let (mut doc, mut hunks) = proposal("a\nb\n", "a\nnew\nb\n");
    let point = hunks.get("t-1").expect("t-1").start;
    edit(&mut doc, &mut hunks, point, point, "typed ");
    let insertion = hunks.get("t-1").expect("t-1");
    assert_eq!(
        (insertion.status, insertion.start, insertion.end),
        (HunkStatus::Pending, point, point)
    );

    edit(&mut doc, &mut hunks, point - 1, point + 1, "");
    let insertion = hunks.get("t-1").expect("t-1");
    assert_eq!(
        insertion.status,
        HunkStatus::Stale,
        "deleting across the point"
    );
}

#[test]
fn deleting_the_lines_around_a_hunk_leaves_it_pending() {
    let (mut doc, mut hunks) = proposal(BASE, TARGET);
    let (alpha_end, gamma_start) = (hunks.hunks()[0].end, hunks.hunks()[2].start);
    edit(&mut doc, &mut hunks, alpha_end, gamma_start, "");
    assert_eq!(doc.text(), "alpha\ngamma\n");
    assert_eq!(status(&hunks, "t-1"), HunkStatus::Pending);
    assert_eq!(status(&hunks, "t-2"), HunkStatus::Stale);
    let gamma = hunks.get("t-3").expect("t-3");
    assert_eq!(
        (gamma.status, text_at(&doc, gamma).as_str()),
        (HunkStatus::Pending, "gamma\n")
    );
}

#[test]
fn touching_finds_hunks_under_a_cursor_or_a_selection() {
    let (_, hunks) = proposal("a\nb\nc\nd\n", "a\nB\nc\nd\nE\n");
    let found = |from, to| {
        hunks
            .touching(from, to)
            .map(|h| h.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(found(0, 1), Vec::<String>::new());
    assert_eq!(found(2, 2), ["t-1"], "cursor at the hunk's start");
    assert_eq!(found(4, 4), ["t-1"], "cursor at the hunk's end");
    assert_eq!(found(8, 8), ["t-2"], "cursor on a pure insertion point");
    assert_eq!(found(0, 8), ["t-1", "t-2"]);
}

#[test]
fn accepting_sends_the_replacements_in_order() {
    let (doc, mut hunks) = proposal(BASE, TARGET);
    let edits = hunks.begin_accept(&ids(&["t-3", "t-1"]), doc.rope());
    let summary: Vec<_> = edits
        .iter()
        .map(|(id, s, e, t)| (id.as_str(), *s, *e, t.as_str()))
        .collect();
    assert_eq!(
        summary,
        [("t-1", 0, 6, "ALPHA\n"), ("t-3", 25, 31, "GAMMA\n")]
    );
    assert_eq!(status(&hunks, "t-1"), HunkStatus::Accepted);
    assert_eq!(hunks.in_flight().len(), 2);
    assert!(
        hunks.begin_accept(&ids(&["t-1"]), doc.rope()).is_empty(),
        "never accepted twice"
    );
}

#[test]
fn accepting_a_hunk_whose_text_changed_marks_it_stale_instead() {
    let (_, mut hunks) = proposal(BASE, TARGET);
    let drifted = Rope::from_str("alpha\nkeep 1\nbeat\nkeep 2\ngamma\n");
    let edits = hunks.begin_accept(&ids(&["t-1", "t-2"]), &drifted);
    assert_eq!(edits.len(), 1);
    assert_eq!(status(&hunks, "t-2"), HunkStatus::Stale);
}

#[test]
fn the_editors_incremental_edit_confirms_the_accepted_hunk() {
    let (mut doc, mut hunks) = proposal(BASE, TARGET);
    let edits = hunks.begin_accept(&ids(&["t-2"]), doc.rope());
    let (_, start, end, new_text) = &edits[0];
    edit(&mut doc, &mut hunks, *start, *end, new_text);
    let beta = hunks.get("t-2").expect("t-2");
    assert_eq!(
        (beta.status, text_at(&doc, beta).as_str()),
        (HunkStatus::Accepted, "BETA\n")
    );
    assert!(hunks.in_flight().is_empty());
}

#[test]
fn a_minimal_range_edit_like_neovims_confirms_the_accepted_hunk() {
    let (mut doc, mut hunks) = proposal("fn f(a: u8) {}\nrest\n", "fn f(a: u16) {}\nrest\n");
    hunks.begin_accept(&ids(&["t-1"]), doc.rope());
    // Neovim trims the common prefix and suffix: it reports `8` -> `16` only.
    edit(&mut doc, &mut hunks, 9, 10, "16");
    let hunk = hunks.get("t-1").expect("t-1");
    assert_eq!(text_at(&doc, hunk), "fn f(a: u16) {}\n");
    assert!(hunks.in_flight().is_empty());
}

#[test]
fn whole_text_after_accepting_hunks_1_and_3_keeps_hunk_2_pending_in_place() {
    let (mut doc, mut hunks) = proposal(BASE, TARGET);
    hunks.begin_accept(&ids(&["t-1", "t-3"]), doc.rope());
    let after = "ALPHA\nkeep 1\nbeta\nkeep 2\nGAMMA\n";
    let changes = doc.apply(None, after, ENC, &hunks.in_flight());
    for change in changes {
        hunks.apply_change(change);
    }
    let beta = hunks.get("t-2").expect("t-2");
    assert_eq!(
        (beta.status, text_at(&doc, beta).as_str()),
        (HunkStatus::Pending, "beta\n")
    );
    for id in ["t-1", "t-3"] {
        let hunk = hunks.get(id).expect("accepted hunk");
        assert_eq!(hunk.status, HunkStatus::Accepted);
        assert_eq!(text_at(&doc, hunk), hunk.new_text);
    }
    assert!(hunks.in_flight().is_empty());
}

#[test]
fn a_refused_edit_makes_the_hunk_pending_again_or_stale_if_the_user_typed_over_it() {
    let (mut doc, mut hunks) = proposal(BASE, TARGET);
    hunks.begin_accept(&ids(&["t-1", "t-2"]), doc.rope());
    let beta_start = hunks.get("t-2").expect("t-2").start;
    edit(&mut doc, &mut hunks, beta_start, beta_start + 1, "B");
    hunks.abort_accept(&ids(&["t-1", "t-2"]));
    assert_eq!(status(&hunks, "t-1"), HunkStatus::Pending);
    let beta = hunks.get("t-2").expect("t-2");
    assert_eq!(beta.status, HunkStatus::Stale);
    assert!(beta.reason.is_some());
    assert!(hunks.in_flight().is_empty());
}

#[test]
fn rejecting_reports_only_hunks_that_were_undecided() {
    let (doc, mut hunks) = proposal(BASE, TARGET);
    hunks.begin_accept(&ids(&["t-1"]), doc.rope());
    let rejected = hunks.reject(&ids(&["t-1", "t-2", "nope"]), None);
    assert_eq!(rejected, ["t-2"]);
    assert_eq!(status(&hunks, "t-1"), HunkStatus::Accepted);
    assert_eq!(status(&hunks, "t-2"), HunkStatus::Rejected);
    assert!(hunks.reject(&ids(&["t-2"]), None).is_empty());
}

#[test]
fn two_insertions_at_one_point_are_accepted_one_after_the_other_in_order() {
    let (mut doc, mut hunks) = proposal("a\nb\nc\n", "a\nX\nb\nY\nc\n");
    // Deleting the line between them puts both insertion points at offset 2.
    edit(&mut doc, &mut hunks, 2, 4, "");
    let edits = hunks.begin_accept(&ids(&["t-1", "t-2"]), doc.rope());
    assert_eq!(edits.len(), 1, "the second insertion waits");
    assert_eq!(status(&hunks, "t-2"), HunkStatus::Pending);
    let (_, start, end, new_text) = &edits[0];
    edit(&mut doc, &mut hunks, *start, *end, new_text);

    let found: Vec<_> = hunks.touching(4, 4).map(|h| h.id.as_str()).collect();
    assert_eq!(
        found,
        ["t-1", "t-2"],
        "the waiting insertion moved past the first one's text"
    );
    let edits = hunks.begin_accept(&ids(&["t-2"]), doc.rope());
    let (_, start, end, new_text) = &edits[0];
    edit(&mut doc, &mut hunks, *start, *end, new_text);
    assert_eq!(doc.text(), "a\nX\nY\nc\n");
    assert!(hunks.in_flight().is_empty());
}

#[test]
fn an_accept_the_editor_reports_in_two_pieces_is_confirmed_by_its_result() {
    // Neovim applies an edit ending at the last line as a replacement that leaves an
    // extra line break, then deletes the empty line it left.
    let base = "one\ntwo\nnine\nten\n";
    let (mut doc, mut hunks) = proposal(base, "one\ntwo\nNine\nand Ten\n");
    let edits = hunks.begin_accept(&ids(&["t-1"]), doc.rope());
    assert_eq!(edits.len(), 1);
    let (start, end) = (8, 17); // "nine\nten\n"
    edit(&mut doc, &mut hunks, start, end - 1, "Nine\nand Ten\n");
    assert_eq!(doc.text(), "one\ntwo\nNine\nand Ten\n\n");
    assert!(hunks.confirm_held(doc.rope()).is_empty(), "not there yet");
    let extra = doc.rope().len_chars() - 1;
    edit(&mut doc, &mut hunks, extra, extra + 1, "");
    assert_eq!(doc.text(), "one\ntwo\nNine\nand Ten\n");
    assert_eq!(hunks.confirm_held(doc.rope()), ids(&["t-1"]));
    assert_eq!(hunks.in_flight_direction("t-1"), None);
    assert_eq!(status(&hunks, "t-1"), HunkStatus::Accepted);
    let h = hunks.get("t-1").unwrap();
    assert_eq!(text_at(&doc, h), "Nine\nand Ten\n");
}
