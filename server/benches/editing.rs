//! The editing paths that run on every keystroke or cursor move, at the sizes the
//! design promises to stay fast at: a 100,000-line buffer with 1,000 pending hunks, and
//! a 50,000-line file diffed with 1% of its lines changed. The `store/` benchmarks are
//! what the `didChange` and `codeAction` handlers run (minus JSON decoding); `git diff
//! --no-index` on the same two files is the peer for hunk computation.

use std::hint::black_box;
use std::time::Duration;

use agentls::documents::{Document, PositionEncoding, char_to_position, position_to_char};
use agentls::proposal::store::ProposalStore;
use agentls::proposal::{FileHunks, diff_hunks};
use agentls::protocol::{Position, Range};
use agentls::workspace::FileChange;
use criterion::{Criterion, criterion_group, criterion_main};

const ENC: PositionEncoding = PositionEncoding::Utf16;
const DEADLINE: Duration = Duration::from_secs(5);

/// Code-like text: mostly distinct lines, with the repeated braces and blank lines
/// that make line diffs work harder.
fn source(lines: usize) -> String {
    (0..lines)
        .map(|i| match i % 10 {
            9 => "}\n".to_string(),
            4 => "\n".to_string(),
            _ => format!("    let value_{i} = compute({i}, \"é😀\"); // step {i}\n"),
        })
        .collect()
}

/// `base` with every hundredth line (offset by 50) rewritten.
fn with_every_hundredth_line_changed(base: &str) -> String {
    base.split_inclusive('\n')
        .enumerate()
        .map(|(i, line)| {
            if i % 100 == 50 {
                format!("    changed_{i}();\n")
            } else {
                line.to_string()
            }
        })
        .collect()
}

fn open_with_proposal(lines: usize) -> (Document, FileHunks) {
    let base = source(lines);
    let target = with_every_hundredth_line_changed(&base);
    let mut n = 0;
    let hunks = FileHunks::new(diff_hunks(&base, &target, DEADLINE), || {
        n += 1;
        format!("bench-{n}")
    });
    (Document::new(&base, 1), hunks)
}

fn one_character_did_change(c: &mut Criterion) {
    let (mut doc, mut hunks) = open_with_proposal(100_000);
    assert_eq!(hunks.hunks().len(), 1_000);
    // Line 50,000 holds no hunk, so every iteration shifts the 500 hunks below it.
    let at = Position {
        line: 50_000,
        character: 4,
    };
    c.bench_function("didChange one char, 100k lines, 1k hunks", |b| {
        b.iter(|| {
            let range = Range { start: at, end: at };
            for change in doc.apply(Some(black_box(range)), "x", ENC, &[]) {
                hunks.apply_change(change);
            }
        })
    });
}

fn code_actions_at_cursor(c: &mut Criterion) {
    let (doc, hunks) = open_with_proposal(100_000);
    let cursor = Position {
        line: 50_050,
        character: 3,
    };
    c.bench_function("touching() at cursor + ranges, 100k lines, 1k hunks", |b| {
        b.iter(|| {
            let offset = position_to_char(doc.rope(), black_box(cursor), ENC);
            let ranges: Vec<Range> = hunks
                .touching(offset, offset)
                .map(|h| Range {
                    start: char_to_position(doc.rope(), h.start, ENC),
                    end: char_to_position(doc.rope(), h.end, ENC),
                })
                .collect();
            assert_eq!(ranges.len(), 1);
            ranges
        })
    });
}

fn diff_one_percent_changed(c: &mut Criterion) {
    let base = source(50_000);
    let target = with_every_hundredth_line_changed(&base);
    c.bench_function("diff_hunks 50k lines, 1% changed", |b| {
        b.iter(|| diff_hunks(black_box(&base), black_box(&target), DEADLINE))
    });
}

/// The review store with `big.rs` open and a task's 1,000 hunks installed in it.
fn store_with_proposal(lines: usize) -> ProposalStore {
    let base = source(lines);
    let target = with_every_hundredth_line_changed(&base);
    let mut store = ProposalStore::new(std::env::temp_dir(), ENC);
    store.open("big.rs", &base, 1);
    let change = FileChange {
        path: "big.rs".into(),
        base: Some(base),
        new: Some(target),
    };
    let (_, hunks) = store.install("task", vec![change]);
    // Unoptimised (criterion's test mode under `cargo test`) on a busy machine, the 100k-line
    // diff can overrun the store's diff deadline and come back as fewer, bigger hunks; the
    // measured runs (`cargo bench`, optimised) must have exactly the hunks they claim.
    if !cfg!(debug_assertions) {
        assert_eq!(hunks, 1_000);
    }
    store
}

fn store_did_change(c: &mut Criterion) {
    let mut store = store_with_proposal(100_000);
    let at = Position {
        line: 50_000,
        character: 4,
    };
    let mut version = 1;
    c.bench_function("store/didChange one char, 100k lines, 1k hunks", |b| {
        b.iter(|| {
            version += 1;
            let edit = [(Some(Range { start: at, end: at }), "x".to_string())];
            store.change("big.rs", version, black_box(&edit))
        })
    });
}

fn store_code_actions(c: &mut Criterion) {
    let store = store_with_proposal(100_000);
    let cursor = Position {
        line: 50_050,
        character: 3,
    };
    c.bench_function(
        "store/codeAction hunks at cursor, 100k lines, 1k hunks",
        |b| {
            b.iter(|| {
                let here = store.hunks_at(
                    "big.rs",
                    black_box(Range {
                        start: cursor,
                        end: cursor,
                    }),
                );
                assert_eq!(here.len(), 1);
                here
            })
        },
    );
}

/// The peer: git's own diff of the same two files, as a whole command.
fn git_diff_peer(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let base = source(50_000);
    std::fs::write(dir.path().join("a.rs"), &base).expect("write a.rs");
    std::fs::write(
        dir.path().join("b.rs"),
        with_every_hundredth_line_changed(&base),
    )
    .expect("write b.rs");
    c.bench_function("peer/git diff --no-index 50k lines, 1% changed", |b| {
        b.iter(|| {
            let out = std::process::Command::new("git")
                .args(["diff", "--no-index", "--no-color", "a.rs", "b.rs"])
                .current_dir(dir.path())
                .output()
                .expect("git runs");
            assert_eq!(out.status.code(), Some(1), "git diff reports differences");
            out.stdout.len()
        })
    });
}

criterion_group!(
    benches,
    one_character_did_change,
    code_actions_at_cursor,
    diff_one_percent_changed,
    store_did_change,
    store_code_actions,
    git_diff_peer
);
criterion_main!(benches);
