use super::*;

fn only(text: &str) -> FilePatch {
    let mut files = parse_diff(text).expect("parses");
    assert_eq!(files.len(), 1, "{files:?}");
    files.remove(0)
}

#[test]
fn format_patch_mail_and_signature_are_skipped() {
    let text = "From 1234 Mon Sep 17 00:00:00 2001\nSubject: [PATCH] fix\n\n- a bullet in the message\n---\n x | 2 +-\n\n\
diff --git a/x b/x\nindex 83db48f..bf269f4 100644\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n-- \n2.43.0\n";
    let file = only(text);
    assert_eq!(file.op, FileOp::Modify);
    assert_eq!(file.old_path.as_deref(), Some("x"));
    assert_eq!(file.old_blob.as_deref(), Some("83db48f"));
    assert_eq!(file.old_mode.as_deref(), Some("100644"));
    assert_eq!(
        file.hunks[0].lines,
        vec![
            HunkLine::Context("a\n".into()),
            HunkLine::Removed("b\n".into()),
            HunkLine::Added("c\n".into())
        ]
    );
    assert_eq!(file.hunks[0].line, 12);
}

#[test]
fn new_deleted_renamed_copied_and_mode_changes() {
    let text = "diff --git a/new.txt b/new.txt\nnew file mode 100755\nindex 0000000..e69de29\n\
diff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\nindex e69de29..0000000\n\
diff --git a/old name.rs b/new name.rs\nsimilarity index 90%\nrename from old name.rs\nrename to new name.rs\n\
--- a/old name.rs\t\n+++ b/new name.rs\t\n@@ -1 +1 @@\n-x\n+y\n\
diff --git a/a.c b/b.c\nsimilarity index 100%\ncopy from a.c\ncopy to b.c\n\
diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n";
    let files = parse_diff(text).expect("parses");
    let ops: Vec<(FileOp, Option<&str>, Option<&str>)> = files
        .iter()
        .map(|f| (f.op, f.old_path.as_deref(), f.new_path.as_deref()))
        .collect();
    assert_eq!(
        ops,
        vec![
            (FileOp::Create, None, Some("new.txt")),
            (FileOp::Delete, Some("gone.txt"), None),
            (
                FileOp::Rename {
                    similarity: Some(90)
                },
                Some("old name.rs"),
                Some("new name.rs")
            ),
            (
                FileOp::Copy {
                    similarity: Some(100)
                },
                Some("a.c"),
                Some("b.c")
            ),
            (FileOp::Modify, Some("run.sh"), Some("run.sh")),
        ]
    );
    assert_eq!(files[0].new_mode.as_deref(), Some("100755"));
    assert_eq!(files[4].new_mode.as_deref(), Some("100755"));
    assert_eq!(files[2].hunks.len(), 1);
}

#[test]
fn quoted_paths_with_spaces_and_non_ascii() {
    let text = "diff --git \"a/d\\303\\251j\\303\\240 vu.txt\" \"b/d\\303\\251j\\303\\240 vu.txt\"\n\
index 1111111..2222222 100644\n--- \"a/d\\303\\251j\\303\\240 vu.txt\"\n+++ \"b/d\\303\\251j\\303\\240 vu.txt\"\n@@ -1 +1 @@\n-a\n+b\n";
    assert_eq!(only(text).new_path.as_deref(), Some("déjà vu.txt"));
}

#[test]
fn unquoted_git_header_with_spaces_splits_where_names_agree() {
    let text = "diff --git a/my file b/my file\nold mode 100644\nnew mode 100755\n";
    assert_eq!(only(text).old_path.as_deref(), Some("my file"));
}

#[test]
fn binary_changes_are_reported_not_skipped() {
    let text = "diff --git a/img.png b/img.png\nindex 1..2 100644\nBinary files a/img.png and b/img.png differ\n\
diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n";
    let files = parse_diff(text).expect("parses");
    assert!(files[0].binary);
    assert!(!files[1].binary);
    let literal = "diff --git a/b.bin b/b.bin\nnew file mode 100644\nindex 0000000..1234567\nGIT binary patch\nliteral 3\nKcmZ?wU|;|M0RR91\n\nliteral 0\nHcmV?d00001\n\n";
    assert!(only(literal).binary);
    let plain = "Binary files old/logo.png and new/logo.png differ\n";
    let file = only(plain);
    assert!(file.binary);
    assert_eq!(file.new_path.as_deref(), Some("logo.png"));
}

#[test]
fn no_newline_markers_take_the_newline_of_the_line_before() {
    let text = "--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n";
    let file = only(text);
    assert_eq!(
        file.hunks[0].lines,
        vec![
            HunkLine::Context("a\n".into()),
            HunkLine::Removed("b".into()),
            HunkLine::Added("b\n".into())
        ]
    );
}

#[test]
fn diff_run_timestamps_and_absent_files() {
    let text = "diff -ruN old/src/a.rs new/src/a.rs\n\
--- old/src/a.rs\t2024-01-01 10:00:00.000000000 +0100\n+++ new/src/a.rs\t2024-01-02 10:00:00.000000000 +0100\n@@ -1 +1 @@\n-x\n+y\n\
diff -ruN old/src/b.rs new/src/b.rs\n--- old/src/b.rs\t1970-01-01 01:00:00.000000000 +0100\n+++ new/src/b.rs\t2024-01-02 10:00:00.000000000 +0100\n@@ -0,0 +1,2 @@\n+one\n+two\n\
Only in old: junk\n\
diff -ruN old/c.rs new/c.rs\n--- old/c.rs\t2024-01-01 10:00:00.000000000 +0100\n+++ new/c.rs\t1970-01-01 01:00:00.000000000 +0100\n@@ -1 +0,0 @@\n-gone\n";
    let files = parse_diff(text).expect("parses");
    let ops: Vec<(FileOp, &str)> = files.iter().map(|f| (f.op, f.target())).collect();
    assert_eq!(
        ops,
        vec![
            (FileOp::Modify, "src/a.rs"),
            (FileOp::Create, "src/b.rs"),
            (FileOp::Delete, "c.rs")
        ]
    );
}

#[test]
fn crlf_diffs_keep_crlf_content_and_read_crlf_headers() {
    let text = "diff --git a/x b/x\r\n--- a/x\r\n+++ b/x\r\n@@ -1,2 +1,2 @@\r\n a\r\n-b\r\n+c\r\n";
    let file = only(text);
    assert_eq!(file.new_path.as_deref(), Some("x"));
    assert_eq!(file.hunks[0].lines[2], HunkLine::Added("c\r\n".into()));
}

#[test]
fn codex_patches_become_hunks_without_line_numbers() {
    let text = "*** Begin Patch\n*** Add File: n.txt\n+hi\n*** Update File: m.rs\n*** Move to: k.rs\n@@ fn main\n a\n-b\n+c\n*** Delete File: d.rs\n*** End Patch\n";
    let files = parse_diff(text).expect("parses");
    assert_eq!(files[0].op, FileOp::Create);
    assert_eq!(files[1].op, FileOp::Rename { similarity: None });
    assert_eq!(files[1].source(), Some("m.rs"));
    assert_eq!(files[1].target(), "k.rs");
    assert_eq!(files[1].hunks[0].old_start, None);
    assert_eq!(files[1].hunks[0].anchors, vec!["fn main".to_string()]);
    assert_eq!(files[2].op, FileOp::Delete);
}

#[test]
fn malformed_input_names_the_line() {
    let short = "--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n-b\n";
    let error = parse_diff(short).unwrap_err();
    assert_eq!(error.line, 6);
    assert!(error.message.contains("ends early"), "{error}");

    let header = "--- a/x\n+++ b/x\n@@ -1,x +1 @@\n";
    assert_eq!(parse_diff(header).unwrap_err().line, 3);

    let cloud = "diff --git a/src/main.rs b/src/main.rs\n+fn main() {}\n";
    let error = parse_diff(cloud).unwrap_err();
    assert_eq!(error.line, 2);
    assert!(error.message.contains("outside any hunk"), "{error}");

    assert!(parse_diff("hello\n").is_err());
    let stray = "@@ -1 +1 @@\n-a\n+b\n";
    assert_eq!(parse_diff(stray).unwrap_err().line, 1);
}
