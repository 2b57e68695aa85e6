//! The model-facing read-only tools (`read_file`, `list_dir`, `grep`): their output format,
//! and errors that tell the model what to do next.

use std::collections::HashMap;
use std::fs;

use agentls::tools::{grep, list_dir, read_file};
use agentls::workspace::TaskView;
use serde_json::json;

use crate::support::tree::{view, workspace};

fn numbered_lines(count: usize) -> String {
    (1..=count).map(|n| format!("line {n}\n")).collect()
}

#[test]
fn read_file_numbers_lines_like_codex() {
    let dir = workspace(&[("a.txt", "alpha\r\nbeta\n\ngamma")]);
    let output = read_file::run(&view(&dir), json!({"path": "a.txt"})).expect("read");
    assert_eq!(output, "L1: alpha\nL2: beta\nL3: \nL4: gamma");
}

#[test]
fn read_file_shows_the_unsaved_buffer() {
    let dir = workspace(&[("a.txt", "on disk\n")]);
    let buffers = HashMap::from([("a.txt".to_string(), "in the editor\n".to_string())]);
    let view = TaskView::new(dir.path(), buffers).expect("view");
    let output = read_file::run(&view, json!({"path": "a.txt"})).expect("read");
    assert_eq!(output, "L1: in the editor");
}

#[test]
fn read_file_pages_with_offset_and_limit_and_says_how_to_continue() {
    let dir = workspace(&[("long.txt", &numbered_lines(10))]);
    let view = view(&dir);
    let output =
        read_file::run(&view, json!({"path": "long.txt", "offset": 3, "limit": 2})).expect("read");
    assert_eq!(
        output,
        "L3: line 3\nL4: line 4\n… 6 more lines; call again with offset=5 to continue"
    );
    let tail = read_file::run(&view, json!({"path": "long.txt", "offset": 9})).expect("read");
    assert_eq!(tail, "L9: line 9\nL10: line 10");
}

#[test]
fn read_file_defaults_to_2000_lines() {
    let dir = workspace(&[("big.txt", &numbered_lines(2500))]);
    let output = read_file::run(&view(&dir), json!({"path": "big.txt"})).expect("read");
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), 2001);
    assert_eq!(lines[1999], "L2000: line 2000");
    assert!(lines[2000].contains("500 more lines") && lines[2000].contains("offset=2001"));
}

#[test]
fn read_file_cuts_long_lines_on_a_character_boundary() {
    let long = "é".repeat(400);
    let dir = workspace(&[("min.js", &long)]);
    let output = read_file::run(&view(&dir), json!({"path": "min.js"})).expect("read");
    assert!(
        output.starts_with(&format!("L1: {}", "é".repeat(250))),
        "{output}"
    );
    assert!(output.ends_with("… (line cut, 300 more bytes)"), "{output}");
}

#[test]
fn read_file_errors_point_to_the_next_step() {
    let dir = workspace(&[("src/lib.rs", "fn a() {}\n"), ("empty.txt", "")]);
    let view = view(&dir);
    let on_dir = read_file::run(&view, json!({"path": "src"})).expect_err("directory");
    assert!(
        on_dir.contains("is a directory") && on_dir.contains("list_dir"),
        "{on_dir}"
    );
    let missing = read_file::run(&view, json!({"path": "src/main.rs"})).expect_err("missing");
    assert!(
        missing.contains("`src/main.rs` does not exist")
            && missing.contains("list_dir")
            && missing.contains("grep"),
        "{missing}"
    );
    let past_end =
        read_file::run(&view, json!({"path": "src/lib.rs", "offset": 5})).expect_err("offset");
    assert!(past_end.contains("has 1 lines"), "{past_end}");
    let zero = read_file::run(&view, json!({"path": "src/lib.rs", "offset": 0})).expect_err("0");
    assert!(zero.contains("1-based"), "{zero}");
    let escape = read_file::run(&view, json!({"path": "../etc/passwd"})).expect_err("escape");
    assert!(escape.contains("outside the workspace"), "{escape}");
    let no_path = read_file::run(&view, json!({"file": "src/lib.rs"})).expect_err("args");
    assert!(no_path.contains("missing field `path`"), "{no_path}");
    assert_eq!(
        read_file::run(&view, json!({"path": "empty.txt"})).as_deref(),
        Ok("`empty.txt` is empty")
    );
}

#[test]
fn read_file_refuses_binary_files() {
    let dir = workspace(&[]);
    fs::write(dir.path().join("a.bin"), [0, 159, 146, 150]).expect("binary");
    let err = read_file::run(&view(&dir), json!({"path": "a.bin"})).expect_err("binary");
    assert!(err.contains("binary"), "{err}");
}

#[cfg(unix)]
#[test]
fn read_file_through_a_symlink_leading_out_is_refused() {
    let outside = workspace(&[("secret.txt", "token")]);
    let dir = workspace(&[]);
    std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).expect("symlink");
    let err = read_file::run(&view(&dir), json!({"path": "out/secret.txt"})).expect_err("out");
    assert!(
        err.contains("symlink `out`") && !err.contains("token"),
        "{err}"
    );
}

#[test]
fn list_dir_draws_an_indented_tree() {
    let dir = workspace(&[
        ("src/lib.rs", ""),
        ("src/tools/grep.rs", ""),
        ("src/tools/deep/x.rs", ""),
        ("Cargo.toml", ""),
    ]);
    let view = view(&dir);
    let output = list_dir::run(&view, json!({"path": "."})).expect("list");
    let expected = format!(
        "Absolute path: {}\nCargo.toml\nsrc/\n  lib.rs\n  tools/",
        view.root().display()
    );
    assert_eq!(output, expected);
    let deeper = list_dir::run(&view, json!({"path": "src/tools", "depth": 2})).expect("list");
    assert!(deeper.ends_with("\ndeep/\n  x.rs\ngrep.rs"), "{deeper}");
}

#[test]
fn list_dir_reflects_the_tasks_edits() {
    let dir = workspace(&[("old.rs", ""), ("keep.rs", "")]);
    let mut view = view(&dir);
    view.delete("old.rs");
    view.write("new.rs", String::new());
    let output = list_dir::run(&view, json!({"path": "", "depth": 1})).expect("list");
    let entries: Vec<&str> = output.lines().skip(1).collect();
    assert_eq!(entries, vec!["keep.rs", "new.rs"]);
}

#[test]
fn list_dir_hides_gitignored_files() {
    let dir = workspace(&[
        (".gitignore", "node_modules/\n"),
        ("node_modules/left-pad/index.js", ""),
        ("index.js", ""),
    ]);
    let output = list_dir::run(&view(&dir), json!({"path": "."})).expect("list");
    assert!(!output.contains("node_modules"), "{output}");
    assert!(output.contains("\nindex.js"), "{output}");
}

#[test]
fn list_dir_caps_long_listings() {
    let names: Vec<String> = (0..520).map(|n| format!("f{n:03}.txt")).collect();
    let files: Vec<(&str, &str)> = names.iter().map(|name| (name.as_str(), "")).collect();
    let dir = workspace(&files);
    let output = list_dir::run(&view(&dir), json!({"path": "."})).expect("list");
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), 1 + 500 + 1);
    assert!(
        lines[501].starts_with("… 20 more entries not shown"),
        "{}",
        lines[501]
    );
}

#[test]
fn list_dir_errors_point_to_the_next_step() {
    let dir = workspace(&[("a.txt", "")]);
    let view = view(&dir);
    let on_file = list_dir::run(&view, json!({"path": "a.txt"})).expect_err("file");
    assert!(on_file.contains("read_file"), "{on_file}");
    let missing = list_dir::run(&view, json!({"path": "nope"})).expect_err("missing");
    assert!(missing.contains("`nope` does not exist"), "{missing}");
    let escape = list_dir::run(&view, json!({"path": "/etc"})).expect_err("escape");
    assert!(escape.contains("outside the workspace"), "{escape}");
}

#[test]
fn grep_reports_path_line_and_text_sorted_by_path_then_line() {
    let dir = workspace(&[
        ("b.rs", "fn beta() {}\nfn other() {}\nfn beta2() {}\n"),
        ("a/z.rs", "fn beta_in_dir() {}\n"),
        ("a.rs", "// no match\n"),
    ]);
    let output = grep::run(&view(&dir), json!({"pattern": "fn beta"})).expect("grep");
    assert_eq!(
        output,
        "a/z.rs:1:fn beta_in_dir() {}\nb.rs:1:fn beta() {}\nb.rs:3:fn beta2() {}"
    );
}

#[test]
fn grep_filters_by_glob_and_can_ignore_case() {
    let dir = workspace(&[
        ("src/main.rs", "// TODO: parse args\n"),
        ("README.md", "todo: write docs\n"),
    ]);
    let view = view(&dir);
    let rust_only = grep::run(
        &view,
        json!({"pattern": "todo", "glob": "*.rs", "case_insensitive": true}),
    )
    .expect("grep");
    assert_eq!(rust_only, "src/main.rs:1:// TODO: parse args");
    let sensitive = grep::run(&view, json!({"pattern": "todo"})).expect("grep");
    assert_eq!(sensitive, "README.md:1:todo: write docs");
    let excluded = grep::run(&view, json!({"pattern": "(?i)todo", "glob": "!*.md"})).expect("grep");
    assert_eq!(excluded, "src/main.rs:1:// TODO: parse args");
}

#[test]
fn grep_searches_the_text_the_task_sees() {
    let dir = workspace(&[
        ("edited.rs", "old_name()\n"),
        ("deleted.rs", "old_name()\n"),
        ("open.rs", "nothing here\n"),
    ]);
    let buffers = HashMap::from([("open.rs".to_string(), "old_name() unsaved\n".to_string())]);
    let mut view = TaskView::new(dir.path(), buffers).expect("view");
    view.write("edited.rs", "new_name()\n".into());
    view.write("created.rs", "old_name() created\n".into());
    view.delete("deleted.rs");
    let output = grep::run(&view, json!({"pattern": "old_name"})).expect("grep");
    assert_eq!(
        output,
        "created.rs:1:old_name() created\nopen.rs:1:old_name() unsaved"
    );
}

#[test]
fn grep_skips_gitignored_files_unless_named() {
    let dir = workspace(&[
        (".gitignore", "*.log\n"),
        ("app.log", "needle\n"),
        ("src.rs", "needle\n"),
    ]);
    let view = view(&dir);
    let output = grep::run(&view, json!({"pattern": "needle"})).expect("grep");
    assert_eq!(output, "src.rs:1:needle");
    let named = grep::run(&view, json!({"pattern": "needle", "path": "app.log"})).expect("grep");
    assert_eq!(named, "app.log:1:needle");
}

#[cfg(unix)]
#[test]
fn grep_does_not_follow_symlinks_out_of_the_workspace() {
    let outside = workspace(&[("secret.txt", "needle\n")]);
    let dir = workspace(&[("a.txt", "no\n")]);
    std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).expect("symlink");
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), dir.path().join("s.txt"))
        .expect("symlink");
    let output = grep::run(&view(&dir), json!({"pattern": "needle"})).expect("grep");
    assert!(output.starts_with("No matches"), "{output}");
}

#[test]
fn grep_without_matches_says_so_and_a_bad_regex_is_explained() {
    let dir = workspace(&[("a.rs", "fn main() {}\n")]);
    let view = view(&dir);
    assert_eq!(
        grep::run(&view, json!({"pattern": "absent", "glob": "*.rs"})).as_deref(),
        Ok("No matches for `absent` in `.` (files matching `*.rs`)")
    );
    let err = grep::run(&view, json!({"pattern": "fn ("})).expect_err("bad regex");
    assert!(err.starts_with("invalid regex `fn (`:"), "{err}");
    assert!(err.contains("unclosed group"), "{err}");
    let missing = grep::run(&view, json!({"pattern": "x", "path": "nope"})).expect_err("path");
    assert!(missing.contains("`nope` does not exist"), "{missing}");
}

#[test]
fn grep_caps_its_output_and_counts_the_rest() {
    let dir = workspace(&[("many.txt", &numbered_lines(250))]);
    let output = grep::run(&view(&dir), json!({"pattern": "^line"})).expect("grep");
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), 201);
    assert_eq!(lines[199], "many.txt:200:line 200");
    assert!(
        lines[200].starts_with("… 50 more matching lines not shown"),
        "{}",
        lines[200]
    );
}

#[test]
fn grep_finds_text_in_unicode_file_names() {
    let dir = workspace(&[("données/résumé.md", "café au lait\n")]);
    let output =
        grep::run(&view(&dir), json!({"pattern": "café", "path": "données"})).expect("grep");
    assert_eq!(output, "données/résumé.md:1:café au lait");
}

#[test]
fn codex_argument_names_are_accepted() {
    let dir = workspace(&[("src/a.rs", "x\n")]);
    let view = view(&dir);
    let read = read_file::run(&view, json!({"file_path": "src/a.rs"})).expect("read");
    assert_eq!(read, "L1: x");
    let listed = list_dir::run(&view, json!({"dir_path": "src"})).expect("list");
    assert!(listed.ends_with("\na.rs"), "{listed}");
}
