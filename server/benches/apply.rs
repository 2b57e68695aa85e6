//! `agentls apply` against `git apply`, in one run on the same inputs:
//!
//! - a large diff in a large repository: a generated tree of 100,000 files (50 lines each,
//!   100 to a directory, three levels deep, `git init`ed so that git runs as it does in a
//!   repository) and a diff of 5,000 of them — 4,800 modified (two hunks each), 100
//!   created (half in new directories), 100 deleted. `apply` and `apply --check`, each
//!   timed as a whole command, 5 runs of each tool alternating, medians;
//! - drift: one 50,000-line file with 100 hunks, applied after a line was inserted every
//!   500 lines (so every hunk lands at an offset): placement in-process, and both
//!   commands end to end.
//!
//! Before each timed apply the tree is put back as it was (only the files the diff
//! touches are rewritten, so there is one tree, not a copy per run) and flushed with
//! `sync`, so the writeback of the restore is not billed to the next tool; after it, every
//! touched file is compared with what the diff should leave, for both tools.
//!
//! `cargo bench --bench apply` prints the numbers docs/performance.md quotes. The tree is
//! made under the system temp dir (`TMPDIR`); `AGENTLS_BENCH_BIN` times another agentls
//! binary in place of this build's. Without `--bench` (as `cargo test --benches`
//! runs it) the inputs are small and each case runs once, to check that both tools agree.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use agentls::import::{parse_diff, place};

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let scratch = tempfile::tempdir().expect("a temp dir");
    println!("{}", machine());
    let size = if full {
        Size {
            files: 100_000,
            per_dir: 100,
            changed_every: 20,
            runs: 5,
        }
    } else {
        Size {
            files: 2_000,
            per_dir: 50,
            changed_every: 20,
            runs: 1,
        }
    };
    large_diff(scratch.path(), &size);
    drift(scratch.path(), if full { 50_000 } else { 5_000 }, size.runs);
    println!("{}", machine());
}

struct Size {
    files: usize,
    per_dir: usize,
    /// Every so many files is in the diff.
    changed_every: usize,
    runs: usize,
}

/// The load average and the filesystem the tree is on, to read the numbers by.
fn machine() -> String {
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let temp = std::env::temp_dir();
    let filesystem = Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(&temp)
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "load average {}; tree under {} ({filesystem})",
        load.join(" "),
        temp.display()
    )
}

/// Code-like lines, distinct per file and line.
fn file_text(file: usize, lines: usize) -> Vec<String> {
    (0..lines)
        .map(|i| match i % 10 {
            9 => "}\n".to_string(),
            4 => "\n".to_string(),
            _ => format!("    let v_{file}_{i} = compute({i}); // step\n"),
        })
        .collect()
}

fn changed_line(i: usize) -> String {
    format!("    changed_{i}();\n")
}

/// A unified diff section replacing each line in `changed` (at least seven lines apart)
/// with [`changed_line`], with three lines of context.
fn modify_section(path: &str, old: &[String], changed: &[usize]) -> String {
    let mut out = format!("diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n");
    for &at in changed {
        let start = at.saturating_sub(3);
        let end = (at + 4).min(old.len());
        let count = end - start;
        out.push_str(&format!(
            "@@ -{},{count} +{},{count} @@\n",
            start + 1,
            start + 1
        ));
        for (i, line) in old.iter().enumerate().take(end).skip(start) {
            if i == at {
                out.push_str(&format!("-{line}+{}", changed_line(i)));
            } else {
                out.push_str(&format!(" {line}"));
            }
        }
    }
    out
}

/// A section that creates (`+`) or deletes (`-`) the whole of `text`.
fn whole_file_section(path: &str, text: &[String], sign: char) -> String {
    let count = text.len();
    let (what, old, new, range) = match sign {
        '+' => (
            "new",
            "/dev/null".to_string(),
            format!("b/{path}"),
            format!("-0,0 +1,{count}"),
        ),
        _ => (
            "deleted",
            format!("a/{path}"),
            "/dev/null".to_string(),
            format!("-1,{count} +0,0"),
        ),
    };
    let mut out = format!(
        "diff --git a/{path} b/{path}\n{what} file mode 100644\n--- {old}\n+++ {new}\n@@ {range} @@\n"
    );
    for line in text {
        out.push(sign);
        out.push_str(line);
    }
    out
}

/// A tree the diff is applied to, how to put it back, and what the diff must leave.
struct Case {
    root: PathBuf,
    diff: PathBuf,
    /// Each path the diff touches: its text before and after (`None`: absent).
    touched: Vec<(String, Option<String>, Option<String>)>,
    /// Directories the diff creates, removed again by the restore.
    new_dirs: Vec<String>,
}

impl Case {
    fn restore(&self) {
        for (path, before, _) in &self.touched {
            let full = self.root.join(path);
            match before {
                Some(text) => {
                    fs::create_dir_all(full.parent().expect("a parent")).expect("mkdir");
                    fs::write(&full, text).expect("restore a file");
                }
                None => match fs::remove_file(&full) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => panic!("{path}: {e}"),
                },
            }
        }
        for dir in &self.new_dirs {
            let _ = fs::remove_dir(self.root.join(dir));
        }
        // Flush the restore now, so its writeback is not billed to the next tool timed.
        let _ = Command::new("sync").status();
    }

    fn verify(&self, tool: &str) {
        for (path, _, after) in &self.touched {
            let found = fs::read_to_string(self.root.join(path)).ok();
            assert!(
                found.as_ref() == after.as_ref(),
                "{tool} left {path} other than the diff says"
            );
        }
    }

    /// Times `apply` (and `apply --check`) by both tools, alternating; medians.
    fn race(&self, runs: usize, args: &[&str]) -> (Duration, Duration) {
        let agentls_bin = agentls_bin();
        let diff = self.diff.to_str().expect("a UTF-8 path");
        let writes = !args.contains(&"--check");
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for _ in 0..runs {
            for (tool, program, times) in [
                ("agentls", agentls_bin.as_str(), &mut ours),
                ("git", "git", &mut theirs),
            ] {
                if writes {
                    self.restore();
                }
                let mut command = vec!["apply"];
                command.extend(args);
                command.push(diff);
                times.push(timed_command(&self.root, program, &command));
                if writes {
                    self.verify(tool);
                }
            }
        }
        if writes {
            self.restore();
        }
        (median(ours), median(theirs))
    }
}

/// The agentls timed: this build's, or `AGENTLS_BENCH_BIN` (a build of an earlier
/// commit, to measure a change against the same inputs).
fn agentls_bin() -> String {
    std::env::var("AGENTLS_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_agentls").into())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
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

fn git_init(root: &Path) {
    let status = Command::new("git")
        .args(["init", "-q"])
        .current_dir(root)
        .status()
        .expect("git runs");
    assert!(status.success());
}

fn large_diff(scratch: &Path, size: &Size) {
    const LINES: usize = 50;
    let root = scratch.join("repo");
    let started = Instant::now();
    let path_of = |f: usize| {
        let dir = f / size.per_dir;
        format!("src/a{}/b{}/f{f}.rs", dir / 20, dir % 20)
    };
    let mut diff = String::new();
    let mut touched = Vec::new();
    let mut new_dirs = Vec::new();
    let mut made_dirs = std::collections::HashSet::new();
    let mut hunks = 0;
    for f in 0..size.files {
        let path = path_of(f);
        let full = root.join(&path);
        let dir = full.parent().expect("a parent");
        if made_dirs.insert(dir.to_path_buf()) {
            fs::create_dir_all(dir).expect("mkdir");
        }
        let lines = file_text(f, LINES);
        let text: String = lines.concat();
        fs::write(&full, &text).expect("write");
        if f % size.changed_every != 0 {
            continue;
        }
        // Of every 50 files in the diff, one is deleted and one is created beside it
        // (every other one in a directory of its own); the rest are modified.
        match (f / size.changed_every) % 50 {
            0 => {
                diff.push_str(&whole_file_section(&path, &lines, '-'));
                touched.push((path, Some(text), None));
                let new_dir = format!("src/new{f}");
                let created = if (f / size.changed_every).is_multiple_of(100) {
                    new_dirs.push(new_dir.clone());
                    format!("{new_dir}/g{f}.rs")
                } else {
                    path_of(f).replace(".rs", "_new.rs")
                };
                let new_lines = file_text(f + size.files, LINES);
                diff.push_str(&whole_file_section(&created, &new_lines, '+'));
                touched.push((created, None, Some(new_lines.concat())));
                hunks += 2;
            }
            _ => {
                let changed = [10, 35];
                diff.push_str(&modify_section(&path, &lines, &changed));
                let mut after = lines.clone();
                for at in changed {
                    after[at] = changed_line(at);
                }
                touched.push((path, Some(text), Some(after.concat())));
                hunks += changed.len();
            }
        }
    }
    git_init(&root);
    let generated = started.elapsed();
    let diff_path = scratch.join("large.diff");
    fs::write(&diff_path, &diff).expect("write");
    assert_eq!(
        parse_diff(&diff)
            .expect("parses")
            .iter()
            .map(|f| f.hunks.len())
            .sum::<usize>(),
        hunks
    );
    let case = Case {
        root,
        diff: diff_path,
        touched,
        new_dirs,
    };
    let _ = Command::new("sync").status();
    println!(
        "large diff: {} files in {} directories (made in {:.1} s), {} of them in the diff \
         ({hunks} hunks, {} KiB)",
        size.files,
        made_dirs.len(),
        generated.as_secs_f64(),
        size.files / size.changed_every,
        diff.len() / 1024,
    );
    for args in [&[][..], &["--check"][..]] {
        let (ours, theirs) = case.race(size.runs, args);
        println!(
            "  apply{}: agentls {:.1} ms, git {:.1} ms (medians of {} alternating runs), ratio {:.2}",
            args.iter().map(|a| format!(" {a}")).collect::<String>(),
            ms(ours),
            ms(theirs),
            size.runs,
            ours.as_secs_f64() / theirs.as_secs_f64()
        );
    }
}

fn drift(scratch: &Path, lines: usize, runs: usize) {
    let base = file_text(7, lines);
    let every = lines / 100;
    let changed: Vec<usize> = (0..lines).filter(|i| i % every == every / 2).collect();
    let drifted: Vec<String> = base
        .iter()
        .enumerate()
        .flat_map(|(i, line)| {
            let extra = (i % 500 == 0).then(|| "// unrelated edit\n".to_string());
            extra.into_iter().chain(std::iter::once(line.clone()))
        })
        .collect();
    let expected: Vec<String> = drifted
        .iter()
        .map(|line| match line.split("let v_7_").nth(1) {
            Some(rest) => {
                let i: usize = rest.split(' ').next().and_then(|n| n.parse().ok()).unwrap();
                if changed.contains(&i) {
                    changed_line(i)
                } else {
                    line.clone()
                }
            }
            None => line.clone(),
        })
        .collect();
    let root = scratch.join("drift");
    fs::create_dir_all(&root).expect("mkdir");
    let diff = modify_section("big.rs", &base, &changed);
    let patch = parse_diff(&diff).expect("parses").remove(0);
    let drifted_text = drifted.concat();
    let placement = (0..runs.max(3))
        .map(|_| {
            let started = Instant::now();
            let placed = place::place(&drifted_text, &patch.hunks, || {
                Err(place::NO_BASE.to_string())
            });
            let elapsed = started.elapsed();
            assert!(placed.conflicts.is_empty());
            elapsed
        })
        .collect();
    let diff_path = scratch.join("drift.diff");
    fs::write(&diff_path, &diff).expect("write");
    let case = Case {
        root,
        diff: diff_path,
        touched: vec![(
            "big.rs".to_string(),
            Some(drifted_text),
            Some(expected.concat()),
        )],
        new_dirs: Vec::new(),
    };
    case.restore();
    let (ours, theirs) = case.race(runs, &[]);
    println!(
        "drift ({lines} lines, {} hunks, all at offsets): placement {:.2} ms in-process; \
         agentls apply {:.1} ms, git apply {:.1} ms, ratio {:.2}",
        patch.hunks.len(),
        ms(median(placement)),
        ms(ours),
        ms(theirs),
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
