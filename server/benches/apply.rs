//! `agentls apply` against `git apply`, in one run on the same inputs:
//!
//! - a large diff: 3,000 files of 200 lines, five hunks each, applied to a fresh copy of
//!   the old tree by each tool (wall time of the whole command, best of 5);
//! - drift: one 50,000-line file with 100 hunks, applied after a line was inserted every
//!   500 lines (so every hunk lands at an offset): placement in-process, and both
//!   commands end to end.
//!
//! `cargo bench --bench apply` prints the table that docs/performance.md quotes. Without
//! `--bench` (as `cargo test --all-targets` runs it) the inputs are small and the run
//! only checks that both tools agree.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use agentls::import::{parse_diff, place};

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (files, runs) = if full { (3000, 5) } else { (50, 1) };
    let scratch = tempfile::tempdir().expect("a temp dir");
    large_diff(scratch.path(), files, runs);
    drift(scratch.path(), if full { 50_000 } else { 5_000 }, runs);
}

/// Code-like lines, distinct per file and line.
fn file_text(file: usize, lines: usize) -> String {
    (0..lines)
        .map(|i| match i % 10 {
            9 => "}\n".to_string(),
            4 => "\n".to_string(),
            _ => format!("    let v_{file}_{i} = compute({i}); // step\n"),
        })
        .collect()
}

/// Every `every`-th line (from `from`) rewritten.
fn changed(text: &str, every: usize, from: usize) -> String {
    text.split_inclusive('\n')
        .enumerate()
        .map(|(i, line)| {
            if i % every == from {
                format!("    changed_{i}();\n")
            } else {
                line.to_string()
            }
        })
        .collect()
}

fn write_tree(root: &Path, files: &[(String, String)]) {
    for (path, text) in files {
        let path = root.join(path);
        fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }
}

fn diff_dirs(parent: &Path, old: &str, new: &str) -> String {
    let output = Command::new("git")
        .current_dir(parent)
        .args(["diff", "--no-index", "--no-prefix", "--no-color", old, new])
        .output()
        .expect("git runs");
    String::from_utf8(output.stdout).expect("utf-8")
}

/// Best wall time of `runs` runs.
fn best_of(runs: usize, mut once: impl FnMut() -> Duration) -> Duration {
    (0..runs).map(|_| once()).min().unwrap_or_default()
}

fn timed_command(cwd: &Path, program: &str, args: &[&str]) -> Duration {
    let started = Instant::now();
    let output = Command::new(program)
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("the command runs");
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp runs");
    assert!(status.success());
}

/// Applies `diff` to fresh copies of `old` with both tools; returns (agentls, git) times
/// and checks both trees agree.
fn race(scratch: &Path, old: &Path, diff: &Path, runs: usize) -> (Duration, Duration) {
    // One folder of copies per input, named after its diff.
    let scratch = &scratch.join(diff.file_stem().expect("a file name"));
    fs::create_dir_all(scratch).expect("mkdir");
    let agentls_bin = env!("CARGO_BIN_EXE_agentls");
    let diff_arg = diff.to_str().expect("utf-8 path");
    let round = std::cell::Cell::new(0);
    let fresh = |label: &str| {
        round.set(round.get() + 1);
        let dir = scratch.join(format!("{label}-{}", round.get()));
        copy_tree(old, &dir);
        // Flush the copy now, so its writeback is not billed to the next tool timed.
        let _ = Command::new("sync").status();
        dir
    };
    let ours = best_of(runs, || {
        let dir = fresh("agentls");
        timed_command(&dir, agentls_bin, &["apply", diff_arg])
    });
    let theirs = best_of(runs, || {
        let dir = fresh("git");
        timed_command(&dir, "git", &["apply", diff_arg])
    });
    let check = |label: &str| {
        let dir = fresh(label);
        let tool_dir = fresh(&format!("{label}-other"));
        timed_command(&dir, agentls_bin, &["apply", diff_arg]);
        timed_command(&tool_dir, "git", &["apply", diff_arg]);
        let same = Command::new("diff")
            .arg("-r")
            .arg(&dir)
            .arg(&tool_dir)
            .status()
            .expect("diff runs");
        assert!(same.success(), "agentls and git apply disagree");
    };
    check("agree");
    (ours, theirs)
}

fn large_diff(scratch: &Path, files: usize, runs: usize) {
    let old: Vec<(String, String)> = (0..files)
        .map(|f| (format!("src/m{}/f{f}.rs", f % 30), file_text(f, 200)))
        .collect();
    let new: Vec<(String, String)> = old
        .iter()
        .map(|(path, text)| (path.clone(), changed(text, 40, 20)))
        .collect();
    write_tree(&scratch.join("old"), &old);
    write_tree(&scratch.join("new"), &new);
    let diff = diff_dirs(scratch, "old", "new");
    let hunks: usize = parse_diff(&diff)
        .expect("parses")
        .iter()
        .map(|f| f.hunks.len())
        .sum();
    let diff_path = scratch.join("large.diff");
    fs::write(&diff_path, &diff).expect("write");
    let (ours, theirs) = race(scratch, &scratch.join("old"), &diff_path, runs);
    println!(
        "large diff ({files} files, {hunks} hunks, {} KiB): agentls apply {:.1} ms, git apply {:.1} ms, ratio {:.2}",
        diff.len() / 1024,
        ms(ours),
        ms(theirs),
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
}

fn drift(scratch: &Path, lines: usize, runs: usize) {
    let base = file_text(7, lines);
    let every = lines / 100;
    let target = changed(&base, every, every / 2);
    let drifted: String = base
        .split_inclusive('\n')
        .enumerate()
        .flat_map(|(i, line)| {
            let extra = (i % 500 == 0).then_some("// unrelated edit\n");
            extra.into_iter().chain(std::iter::once(line))
        })
        .collect();
    let dir = scratch.join("drift");
    write_tree(
        &dir,
        &[
            ("old/big.rs".into(), base.clone()),
            ("new/big.rs".into(), target),
        ],
    );
    let diff = diff_dirs(&dir, "old", "new");
    let patch = parse_diff(&diff).expect("parses").remove(0);

    let placement = best_of(runs.max(3), || {
        let started = Instant::now();
        let placed = place::place(&drifted, &patch.hunks, None);
        let elapsed = started.elapsed();
        assert!(placed.conflicts.is_empty());
        elapsed
    });
    fs::write(dir.join("old/big.rs"), &drifted).expect("write");
    let diff_path = dir.join("drift.diff");
    fs::write(&diff_path, &diff).expect("write");
    let (ours, theirs) = race(scratch, &dir.join("old"), &diff_path, runs);
    println!(
        "drift ({lines} lines, {} hunks, all at offsets): placement {:.2} ms in-process; \
         agentls apply {:.1} ms, git apply {:.1} ms, ratio {:.2}",
        patch.hunks.len(),
        ms(placement),
        ms(ours),
        ms(theirs),
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
