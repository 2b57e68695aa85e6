use super::*;
use crate::import::parse_diff;

fn hunks(diff: &str) -> Vec<Hunk> {
    parse_diff(diff).expect("parses").remove(0).hunks
}

const DIFF: &str =
    "--- a/f\n+++ b/f\n@@ -2,3 +2,3 @@\n b\n-c\n+C\n d\n@@ -8,3 +8,3 @@\n h\n-i\n+I\n j\n";
fn no_base() -> Result<String, String> {
    Err(NO_BASE.to_string())
}

fn known(base: &str) -> impl FnOnce() -> Result<String, String> + '_ {
    || Ok(base.to_string())
}

const BASE: &str = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n";

#[test]
fn exact_placement_at_the_stated_lines() {
    let placed = place(BASE, &hunks(DIFF), no_base);
    assert_eq!(placed.outcomes, vec![Outcome::Exact, Outcome::Exact]);
    assert_eq!(placed.apply(BASE), "a\nb\nC\nd\ne\nf\ng\nh\nI\nj\nk\n");
}

#[test]
fn drift_is_found_at_the_nearest_offset_and_carried_to_later_hunks() {
    let current = "new1\nnew2\na\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n";
    let placed = place(current, &hunks(DIFF), no_base);
    assert_eq!(
        placed.outcomes,
        vec![Outcome::Offset(2), Outcome::Offset(2)]
    );
    assert_eq!(
        placed.apply(current),
        "new1\nnew2\na\nb\nC\nd\ne\nf\ng\nh\nI\nj\nk\n"
    );
}

#[test]
fn the_nearest_of_two_matches_wins() {
    let diff = "--- a/f\n+++ b/f\n@@ -5,2 +5,2 @@\n x\n-y\n+Y\n";
    let current = "x\ny\n-\n-\n-\n-\n-\nx\ny\n";
    let placed = place(current, &hunks(diff), no_base);
    assert_eq!(placed.outcomes, vec![Outcome::Offset(3)]);
    assert_eq!(placed.apply(current), "x\ny\n-\n-\n-\n-\n-\nx\nY\n");
}

#[test]
fn whitespace_changes_keep_the_files_context_and_line_endings() {
    let current = "a\r\n  b\r\nc\r\nd\r\ne\r\n";
    let diff = "--- a/f\n+++ b/f\n@@ -1,4 +1,4 @@\n a\n b\n-c\n+C\n d\n";
    let placed = place(current, &hunks(diff), no_base);
    assert_eq!(placed.outcomes, vec![Outcome::Whitespace(0)]);
    assert_eq!(placed.apply(current), "a\r\n  b\r\nC\r\nd\r\ne\r\n");
}

#[test]
fn an_insertion_at_the_end_stays_at_the_end() {
    let diff = "--- a/f\n+++ b/f\n@@ -2,2 +2,3 @@\n b\n c\n+d\n";
    let current = "a\nb\nc\nb\nc\nz\n";
    let placed = place(current, &hunks(diff), no_base);
    assert_eq!(placed.outcomes, vec![Outcome::Conflict]);
    assert_eq!(placed.apply(current), current);
    assert_eq!(placed.conflicts[0].incoming_new, "b\nc\nd\n");
}

#[test]
fn what_cannot_be_placed_is_a_conflict_between_its_neighbours() {
    let current = "a\nb\nX\nd\ne\nf\ng\nh\ni\nj\nk\n";
    let placed = place(current, &hunks(DIFF), no_base);
    assert_eq!(placed.outcomes, vec![Outcome::Conflict, Outcome::Exact]);
    assert_eq!(placed.apply(current), "a\nb\nX\nd\ne\nf\ng\nh\nI\nj\nk\n");
    let conflict = &placed.conflicts[0];
    assert_eq!((conflict.start, conflict.end), (1, 4));
    assert_eq!(conflict.incoming_old, "b\nc\nd\n");
    assert_eq!(conflict.incoming_new, "b\nC\nd\n");
    assert!(
        conflict.reason.contains("diff line 3"),
        "{}",
        conflict.reason
    );
}

#[test]
fn a_known_base_merges_what_context_cannot_place() {
    // The user changed the line right above the change: the context no longer matches,
    // but the changed lines themselves are untouched, so the merge takes the change.
    let current = "a\nB!\nc\nd\ne\nf\ng\nh\ni\nj\nk\n";
    let diff = "--- a/f\n+++ b/f\n@@ -1,5 +1,5 @@\n a\n b\n c\n-d\n+D\n e\n";
    let placed = place(current, &hunks(diff), known(BASE));
    assert_eq!(placed.outcomes, vec![Outcome::Merged]);
    assert!(placed.conflicts.is_empty());
    assert_eq!(placed.apply(current), "a\nB!\nc\nD\ne\nf\ng\nh\ni\nj\nk\n");
}

#[test]
fn a_merge_conflict_shows_both_sides() {
    let current = "a\nb\nmine\nd\ne\nf\ng\nh\ni\nj\nk\n";
    let placed = place(current, &hunks(DIFF), known(BASE));
    assert_eq!(placed.outcomes, vec![Outcome::Conflict, Outcome::Merged]);
    assert_eq!(
        placed.apply(current),
        "a\nb\nmine\nd\ne\nf\ng\nh\nI\nj\nk\n"
    );
    let conflict = &placed.conflicts[0];
    assert_eq!((conflict.start, conflict.end), (2, 3));
    assert_eq!(conflict.incoming_old, "c\n");
    assert_eq!(conflict.incoming_new, "C\n");
}

#[test]
fn codex_hunks_follow_their_anchors() {
    let diff =
        "*** Begin Patch\n*** Update File: f\n@@ fn two\n-    body\n+    BODY\n*** End Patch\n";
    let current = "fn one\n    body\nfn two\n    body\n";
    let placed = place(current, &hunks(diff), no_base);
    assert_eq!(
        placed.apply(current),
        "fn one\n    body\nfn two\n    BODY\n"
    );
}
