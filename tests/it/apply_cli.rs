//! `agentls apply`: the real binary on a scratch working tree — atomic writes, `--check`,
//! `--reject` with `.rej` files, `--3way` against the repository's objects, and diffs
//! from standard input, `git:REF` and an http URL on loopback.

use std::fs;
use std::path::Path;
use std::process::Output;

use crate::support::tree::git;

const GOOD_AND_BAD: &str = "--- a/good.txt\n+++ b/good.txt\n@@ -2,2 +2,2 @@\n a\n-b\n+B\n\
--- a/bad.txt\n+++ b/bad.txt\n@@ -1,2 +1,2 @@\n x\n-y\n+Y\n";

fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        fs::write(dir.path().join(path), text).unwrap();
    }
    dir
}

/// `agentls apply ARGS…` in `cwd`, with a home of its own (so that what agentls keeps
/// there is not mistaken for something written in the tree).
fn apply(cwd: &Path, args: &[&str], stdin: &str) -> Output {
    let home = tempfile::tempdir().unwrap();
    crate::support::cli::agentls(cwd, home.path(), &[&["apply"], args].concat(), stdin)
}

fn read(dir: &Path, path: &str) -> String {
    fs::read_to_string(dir.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn all_files_or_none_and_check_writes_nothing() {
    let dir = tree(&[("good.txt", "0\na\nb\n"), ("bad.txt", "x\nchanged\n")]);
    let checked = apply(dir.path(), &["--check", "-"], GOOD_AND_BAD);
    assert_eq!(checked.status.code(), Some(1));
    assert!(
        stdout(&checked).contains("conflict at bad.txt:1"),
        "{}",
        stdout(&checked)
    );

    let refused = apply(dir.path(), &["-"], GOOD_AND_BAD);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stdout(&refused).contains("nothing written"));
    assert_eq!(read(dir.path(), "good.txt"), "0\na\nb\n");

    fs::write(dir.path().join("bad.txt"), "x\ny\n").unwrap();
    let clean = apply(dir.path(), &["--check", "-"], GOOD_AND_BAD);
    assert_eq!(clean.status.code(), Some(0), "{}", stdout(&clean));
    assert_eq!(
        read(dir.path(), "good.txt"),
        "0\na\nb\n",
        "--check writes nothing"
    );
    let applied = apply(dir.path(), &["-"], GOOD_AND_BAD);
    assert!(applied.status.success());
    assert_eq!(read(dir.path(), "good.txt"), "0\na\nB\n");
    assert_eq!(read(dir.path(), "bad.txt"), "x\nY\n");
}

#[test]
fn reject_applies_what_places_and_writes_the_rest_to_rej_files() {
    let dir = tree(&[("good.txt", "top\n0\na\nb\n"), ("bad.txt", "x\nchanged\n")]);
    let output = apply(dir.path(), &["--reject", "-"], GOOD_AND_BAD);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("modify good.txt: 1 hunk: 1 at offset +1"));
    assert_eq!(read(dir.path(), "good.txt"), "top\n0\na\nB\n");
    assert_eq!(read(dir.path(), "bad.txt"), "x\nchanged\n");
    assert_eq!(
        read(dir.path(), "bad.txt.rej"),
        "diff a/bad.txt b/bad.txt\t(rejected hunks)\n@@ -1,2 +1,2 @@\n x\n-y\n+Y\n"
    );
}

const LINES: &str = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";

#[test]
fn three_way_merges_with_the_base_blob_and_git_refs_are_sources() {
    let dir = tree(&[("n.txt", LINES)]);
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "base"]);
    git(root, &["checkout", "-q", "-b", "feature"]);
    fs::write(root.join("n.txt"), LINES.replace("5\n", "five\n")).unwrap();
    git(root, &["commit", "-q", "-am", "five"]);
    let diff = git(root, &["diff", "main", "feature"]);
    git(root, &["checkout", "-q", "main"]);
    let drifted = LINES.replace("3\n", "three\n").replace("7\n", "seven\n");
    fs::write(root.join("n.txt"), &drifted).unwrap();

    let without = apply(root, &["--check", "-"], &diff);
    assert_eq!(without.status.code(), Some(1), "context no longer matches");
    let merged = apply(root, &["--3way", "git:feature"], "");
    assert!(merged.status.success(), "{}", stdout(&merged));
    assert!(stdout(&merged).contains("1 by 3-way merge"));
    assert_eq!(read(root, "n.txt"), drifted.replace("5\n", "five\n"));
}

#[test]
fn renames_modes_and_binary_changes() {
    let dir = tree(&[("old.sh", "echo hi\n")]);
    let diff = "diff --git a/old.sh b/new.sh\nold mode 100644\nnew mode 100755\nsimilarity index 80%\nrename from old.sh\nrename to new.sh\n\
--- a/old.sh\n+++ b/new.sh\n@@ -1 +1 @@\n-echo hi\n+echo hello\n";
    let output = apply(dir.path(), &["-"], diff);
    assert!(output.status.success(), "{}", stdout(&output));
    assert!(!dir.path().join("old.sh").exists());
    assert_eq!(read(dir.path(), "new.sh"), "echo hello\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join("new.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o100, 0o100, "executable");
    }

    let binary = "diff --git a/logo.png b/logo.png\nindex 1111111..2222222 100644\nBinary files a/logo.png and b/logo.png differ\n";
    let output = apply(dir.path(), &["-"], binary);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("logo.png: binary change"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn malformed_diffs_name_the_line() {
    let dir = tree(&[]);
    let output = apply(
        dir.path(),
        &["-"],
        "--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n",
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("diff line 5: the hunk at line 3 ends early"),
        "{stderr}"
    );
}

#[test]
fn urls_are_downloaded_with_bounded_redirects() {
    use axum::Router;
    use axum::response::Redirect;
    use axum::routing::get;

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let address = runtime.block_on(async {
        let app = Router::new()
            .route("/change.diff", get(|| async { GOOD_AND_BAD }))
            .route("/loop", get(|| async { Redirect::temporary("/loop") }))
            .route(
                "/missing",
                get(|| async { (axum::http::StatusCode::NOT_FOUND, "no") }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        address
    });
    let dir = tree(&[("good.txt", "0\na\nb\n"), ("bad.txt", "x\ny\n")]);
    let url = |path: &str| format!("http://{address}{path}");

    let output = apply(dir.path(), &[&url("/change.diff")], "");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(read(dir.path(), "good.txt"), "0\na\nB\n");

    let looping = apply(dir.path(), &[&url("/loop")], "");
    assert_eq!(looping.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&looping.stderr).contains("redirect"),
        "{looping:?}"
    );
    let missing = apply(dir.path(), &[&url("/missing")], "");
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("404"),
        "{missing:?}"
    );
}

/// Every file and directory under `root`, with its text (symlinks as `-> target`).
fn listing(root: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(root).unwrap().display().to_string();
            let kind = fs::symlink_metadata(&path).unwrap().file_type();
            if kind.is_symlink() {
                let target = fs::read_link(&path).unwrap();
                out.push((name, format!("-> {}", target.display())));
            } else if kind.is_dir() {
                out.push((name, "/".into()));
                walk(root, &path, out);
            } else {
                out.push((name, fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

#[cfg(unix)]
#[test]
fn a_directory_symlink_leading_outside_refuses_the_whole_diff() {
    let outside = tree(&[("secret.txt", "x\ny\n")]);
    let dir = tree(&[("good.txt", "0\na\nb\n")]);
    std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
    let before = (listing(dir.path()), listing(outside.path()));
    let through_link = "--- a/good.txt\n+++ b/good.txt\n@@ -2,2 +2,2 @@\n a\n-b\n+B\n\
--- a/link/secret.txt\n+++ b/link/secret.txt\n@@ -1,2 +1,2 @@\n x\n-y\n+Y\n\
--- /dev/null\n+++ b/link/new.txt\n@@ -0,0 +1 @@\n+new\n";
    let output = apply(dir.path(), &["-"], through_link);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let report = stdout(&output);
    assert!(
        report
            .contains("link/secret.txt: cannot read it: link/secret.txt: refusing a path outside"),
        "{report}"
    );
    assert!(report.contains("nothing written"), "{report}");
    assert_eq!((listing(dir.path()), listing(outside.path())), before);
}

/// Enough files that several threads write them, and one that cannot be written (its
/// directory would be where a file is) in the middle of the diff.
#[test]
fn a_write_failing_midway_through_a_large_diff_puts_every_file_back() {
    let dir = tree(&[("blocker", "a file, not a directory\n")]);
    let mut diff = String::new();
    for i in 0..300 {
        let path = format!("d{}/f{i}.txt", i % 30);
        fs::create_dir_all(dir.path().join(format!("d{}", i % 30))).unwrap();
        fs::write(dir.path().join(&path), format!("{i}\nold\n")).unwrap();
        diff.push_str(&format!(
            "--- a/{path}\n+++ b/{path}\n@@ -1,2 +1,2 @@\n {i}\n-old\n+new\n"
        ));
        if i == 150 {
            diff.push_str("--- /dev/null\n+++ b/fresh/dir/g.txt\n@@ -0,0 +1 @@\n+g\n");
            diff.push_str("--- /dev/null\n+++ b/blocker/c.txt\n@@ -0,0 +1 @@\n+c\n");
        }
    }
    let before = listing(dir.path());
    let output = apply(dir.path(), &["-"], &diff);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("blocker/c.txt: could not create its directory"),
        "{stderr}"
    );
    assert_eq!(
        listing(dir.path()),
        before,
        "every file as it was, and no temp file or new directory left"
    );
}
