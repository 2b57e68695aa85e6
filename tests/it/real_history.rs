//! `agentls apply` against real history: consecutive released versions of real crates,
//! fetched from crates.io at test time (cached under target/test-deps/crates; no
//! third-party source lives in this repository).
//!
//! 1. Exact: `git diff --no-index` between two versions, applied to the older tree, must
//!    give the newer tree byte for byte.
//! 2. Drift: the same diff applied to the older tree carrying unrelated edits (lines
//!    inserted above and between hunks), by `git apply --3way` and by
//!    `agentls apply --3way --reject`: every file git applies cleanly, agentls applies
//!    with the same bytes; every file git leaves in conflict, agentls applies or reports
//!    in a `.rej` file — never drops.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use agentls::import::{FileOp, parse_diff};

use crate::support::tree::{Entry, copy_tree, git, snapshot};

/// Crates and the consecutive versions compared (each pair of neighbours is one diff).
const HISTORY: &[(&str, &[&str])] = &[
    (
        "tokio",
        &["1.34.0", "1.35.0", "1.36.0", "1.37.0", "1.38.0", "1.39.0"],
    ),
    ("syn", &["2.0.60", "2.0.61"]),
    ("rustix", &["0.38.30", "0.38.31"]),
];
const MIN_FILE_DIFFS: usize = 200;

#[test]
fn real_crate_history_applies_exactly_and_under_drift_like_git() {
    let cache = deps_dir().join("crates");
    let mut totals = Totals::default();
    for (name, versions) in HISTORY {
        let trees: Vec<PathBuf> = versions.iter().map(|v| fetch(&cache, name, v)).collect();
        for pair in trees.windows(2) {
            let diff = diff_trees(&pair[0], &pair[1]);
            let files = parse_diff(&diff).expect("git's own diff parses");
            totals.file_diffs += files.len();
            check_exact(&pair[0], &pair[1], &diff);
            check_drift(&pair[0], &diff, &mut totals);
        }
    }
    // Straight to stderr, past libtest's capture (which only takes `print!`/`eprint!`), so
    // the counts show in every CI log, not just when the test fails.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "real history: {} file-level diffs applied byte-identically; drift: {} files \
         applied by both identically, {} applied by agentls where git conflicted, {} \
         reported as conflicts by both ({} drift lines inserted)",
        totals.file_diffs,
        totals.both_clean,
        totals.only_agentls,
        totals.both_conflict,
        totals.drift_lines
    );
    assert!(
        totals.file_diffs >= MIN_FILE_DIFFS,
        "only {} file-level diffs; the test promises at least {MIN_FILE_DIFFS}",
        totals.file_diffs
    );
    assert!(totals.drift_lines > 0 && totals.both_clean > 0);
}

#[derive(Default)]
struct Totals {
    file_diffs: usize,
    drift_lines: usize,
    both_clean: usize,
    only_agentls: usize,
    both_conflict: usize,
}

/// target/test-deps, or `AGENTLS_TEST_DEPS`.
fn deps_dir() -> PathBuf {
    std::env::var_os("AGENTLS_TEST_DEPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-deps"))
}

/// The unpacked crate, downloaded once from crates.io's static host.
fn fetch(cache: &Path, name: &str, version: &str) -> PathBuf {
    let dir = cache.join(format!("{name}-{version}"));
    if dir.is_dir() {
        return dir;
    }
    fs::create_dir_all(cache).unwrap();
    let archive = cache.join(format!("{name}-{version}.crate"));
    if !archive.is_file() {
        let url = format!("https://static.crates.io/crates/{name}/{name}-{version}.crate");
        let bytes = download(&url);
        let partial = archive.with_extension("part");
        fs::write(&partial, bytes).unwrap();
        fs::rename(&partial, &archive).unwrap();
    }
    let unpack = cache.join(format!(".unpack-{name}-{version}"));
    let _ = fs::remove_dir_all(&unpack);
    fs::create_dir_all(&unpack).unwrap();
    run_ok(
        Command::new("tar")
            .arg("-xzf")
            .arg(&archive)
            .arg("-C")
            .arg(&unpack),
    );
    fs::rename(unpack.join(format!("{name}-{version}")), &dir).unwrap();
    fs::remove_dir_all(&unpack).unwrap();
    dir
}

fn download(url: &str) -> Vec<u8> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = reqwest::get(url)
            .await
            .unwrap_or_else(|e| panic!("cannot download {url}: {e}"));
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.bytes().await.unwrap().to_vec()
    })
}

/// `git diff --no-index` with renames, paths `<old-dir>/…` and `<new-dir>/…` (stripped
/// by one component on apply).
fn diff_trees(old: &Path, new: &Path) -> String {
    let parent = old.parent().unwrap();
    let output = Command::new("git")
        .current_dir(parent)
        .args(["diff", "--no-index", "--no-prefix", "-M", "--no-color"])
        .arg(old.file_name().unwrap())
        .arg(new.file_name().unwrap())
        .output()
        .unwrap();
    // 1: differences found.
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    String::from_utf8(output.stdout).expect("the crates are text")
}

fn check_exact(old: &Path, new: &Path, diff: &str) {
    let work = tempfile::tempdir().unwrap();
    copy_tree(old, work.path());
    let output = agentls(work.path(), &["apply", "-"], diff);
    assert!(
        output.status.success(),
        "{} → {}: {}{}",
        old.display(),
        new.display(),
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    assert_same_trees(&files(new), &files(work.path()), &BTreeSet::new());
}

fn check_drift(old: &Path, diff: &str, totals: &mut Totals) {
    let scratch = tempfile::tempdir().unwrap();
    let with_git = scratch.path().join("git");
    let with_agentls = scratch.path().join("agentls");
    copy_tree(old, &with_git);
    git(&with_git, &["init", "-q"]);
    git(&with_git, &["add", "-A"]);
    git(&with_git, &["commit", "-q", "-m", "old"]);
    totals.drift_lines += insert_drift(&with_git, diff);
    git(&with_git, &["add", "-A"]);
    copy_tree(&with_git, &with_agentls);

    let patch = scratch.path().join("change.diff");
    fs::write(&patch, diff).unwrap();
    let by_git = Command::new("git")
        .current_dir(&with_git)
        .args(["apply", "--3way"])
        .arg(&patch)
        .output()
        .unwrap();
    let conflicted: BTreeSet<PathBuf> = git(&with_git, &["diff", "--name-only", "--diff-filter=U"])
        .lines()
        .map(PathBuf::from)
        .collect();
    assert!(
        by_git.status.success() || !conflicted.is_empty(),
        "git apply --3way failed outright: {}",
        stderr(&by_git)
    );
    let by_agentls = agentls(&with_agentls, &["apply", "--3way", "--reject", "-"], diff);
    assert!(
        by_agentls.status.code().is_some_and(|c| c <= 1),
        "agentls apply failed: {}",
        stderr(&by_agentls)
    );

    let ours = files(&with_agentls);
    let theirs = files(&with_git);
    assert_same_trees(&theirs, &ours, &conflicted);
    for path in targets(diff) {
        let rejected = ours.contains_key(&PathBuf::from(format!("{}.rej", path.display())));
        match (conflicted.contains(&path), rejected) {
            (false, false) => totals.both_clean += 1,
            (false, true) => panic!(
                "{}: git applied it cleanly, agentls rejected hunks:\n{}",
                path.display(),
                String::from_utf8_lossy(&by_agentls.stdout)
            ),
            (true, false) => totals.only_agentls += 1,
            (true, true) => totals.both_conflict += 1,
        }
    }
}

/// Inserts an unrelated line at the top of each modified file (when its first hunk does
/// not start there) and in the middle of every gap between two hunks. Returns how many.
fn insert_drift(root: &Path, diff: &str) -> usize {
    let mut inserted = 0;
    for file in parse_diff(diff).unwrap() {
        if file.op != FileOp::Modify || file.hunks.is_empty() {
            continue;
        }
        let path = root.join(file.target());
        let text = fs::read_to_string(&path).unwrap();
        let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
        let spans: Vec<(usize, usize)> = file
            .hunks
            .iter()
            .map(|h| {
                let start = h.old_start.unwrap().saturating_sub(1);
                (start, start + h.old_len())
            })
            .collect();
        let mut at: Vec<usize> = spans
            .windows(2)
            .filter(|pair| pair[1].0 > pair[0].1)
            .map(|pair| (pair[0].1 + pair[1].0) / 2)
            .collect();
        if spans[0].0 > 0 {
            at.push(0);
        }
        at.sort_unstable();
        for &line in at.iter().rev() {
            lines.insert(line, "// agentls drift: an unrelated edit\n");
        }
        inserted += at.len();
        fs::write(&path, lines.concat()).unwrap();
    }
    inserted
}

/// The paths the diff leaves changed (its targets).
fn targets(diff: &str) -> Vec<PathBuf> {
    parse_diff(diff)
        .unwrap()
        .iter()
        .map(|f| PathBuf::from(f.target()))
        .collect()
}

fn agentls(cwd: &Path, args: &[&str], stdin: &str) -> Output {
    crate::support::cli::agentls(cwd, cwd, args, stdin)
}

fn run_ok(command: &mut Command) -> Output {
    let output = command.output().unwrap();
    assert!(output.status.success(), "{command:?}: {}", stderr(&output));
    output
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every file under `root` but `.git`, by relative path (a symlink read through).
fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    snapshot(root)
        .into_iter()
        .filter(|(path, _)| !path.components().any(|c| c.as_os_str() == ".git"))
        .filter_map(|(path, entry)| match entry {
            Entry::Dir => None,
            Entry::File(bytes) => Some((path, bytes)),
            Entry::Symlink(_) | Entry::Unreadable => {
                let bytes = fs::read(root.join(&path)).unwrap();
                Some((path, bytes))
            }
        })
        .collect()
}

/// Equal file sets and bytes, except `exempt` paths and `.rej` files.
fn assert_same_trees(
    expected: &BTreeMap<PathBuf, Vec<u8>>,
    actual: &BTreeMap<PathBuf, Vec<u8>>,
    exempt: &BTreeSet<PathBuf>,
) {
    let relevant =
        |path: &&PathBuf| !exempt.contains(*path) && path.extension().is_none_or(|e| e != "rej");
    let expected_paths: BTreeSet<&PathBuf> = expected.keys().filter(relevant).collect();
    let actual_paths: BTreeSet<&PathBuf> = actual.keys().filter(relevant).collect();
    assert_eq!(
        expected_paths, actual_paths,
        "the trees hold different files"
    );
    for path in expected_paths {
        assert!(
            expected[path] == actual[path],
            "{} differs:\n--- expected\n{}\n--- agentls\n{}",
            path.display(),
            String::from_utf8_lossy(&expected[path]),
            String::from_utf8_lossy(&actual[path])
        );
    }
}
