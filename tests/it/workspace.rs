//! The task view: layering (task writes > unsaved buffers > disk), isolation from the
//! user's tree, path confinement, and the changes that become a proposal.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use agentls::workspace::{FileChange, PathError, TaskView, ViewError};
use tempfile::TempDir;

use crate::support::tree::{view, workspace};

fn view_with_buffers(dir: &TempDir, buffers: &[(&str, &str)]) -> TaskView {
    let buffers = buffers
        .iter()
        .map(|(path, text)| (path.to_string(), text.to_string()))
        .collect();
    TaskView::new(dir.path(), buffers).expect("view")
}

fn listed(view: &TaskView, dir: &str, depth: usize) -> Vec<(String, bool)> {
    view.list(dir, depth).expect("list")
}

fn entry(path: &str, is_dir: bool) -> (String, bool) {
    (path.to_string(), is_dir)
}

#[test]
fn a_read_sees_the_unsaved_buffer_instead_of_disk() {
    let dir = workspace(&[("src/main.rs", "fn main() {}\n")]);
    let view = view_with_buffers(&dir, &[("src/main.rs", "fn main() { todo!() }\n")]);
    assert_eq!(
        view.read("src/main.rs").expect("read").as_deref(),
        Some("fn main() { todo!() }\n")
    );
}

#[test]
fn a_buffer_taken_late_is_the_base_unless_the_task_already_holds_the_file() {
    let dir = workspace(&[
        ("a.txt", "disk a\n"),
        ("b.txt", "disk b\n"),
        ("c.txt", "c\n"),
    ]);
    let mut view = view(&dir);
    view.write("b.txt", "task b\n".into());
    view.take_buffer("a.txt", "editor a\n".into());
    view.take_buffer("b.txt", "editor b\n".into());
    view.take_buffer("c.txt", "c\n".into());
    assert_eq!(view.read("a.txt").unwrap().as_deref(), Some("editor a\n"));
    assert_eq!(
        view.read("b.txt").unwrap().as_deref(),
        Some("task b\n"),
        "the task's own write wins"
    );
    // What a command's directory still lacks: only a.txt (c.txt is the disk's text).
    let late: Vec<_> = view.late_buffers().collect();
    assert_eq!(late, [("a.txt", Some("editor a\n"))]);
    view.write("a.txt", "task a\n".into());
    assert_eq!(
        view.late_buffers().count(),
        0,
        "now among the task's writes"
    );
    assert_eq!(
        view.changes()[0],
        FileChange {
            path: "a.txt".into(),
            base: Some("editor a\n".into()),
            new: Some("task a\n".into()),
        },
        "the proposal diffs against the editor's text"
    );
}

#[test]
fn writes_and_deletes_never_reach_the_disk() {
    let dir = workspace(&[("a.txt", "original\n"), ("gone.txt", "keep me\n")]);
    let mut view = view(&dir);
    view.write("a.txt", "changed\n".into());
    view.write("new/file.txt", "created\n".into());
    view.delete("gone.txt");

    assert_eq!(
        view.read("a.txt").expect("read").as_deref(),
        Some("changed\n")
    );
    assert_eq!(
        view.read("new/file.txt").expect("read").as_deref(),
        Some("created\n")
    );
    assert_eq!(
        fs::read(dir.path().join("a.txt")).expect("disk"),
        b"original\n"
    );
    assert_eq!(
        fs::read(dir.path().join("gone.txt")).expect("disk"),
        b"keep me\n"
    );
    assert!(!dir.path().join("new").exists());
}

#[test]
fn an_overlay_delete_hides_a_disk_file_from_read_and_list() {
    let dir = workspace(&[("keep.txt", "k"), ("drop.txt", "d")]);
    let mut view = view(&dir);
    view.delete("drop.txt");
    assert_eq!(view.read("drop.txt").expect("read"), None);
    assert_eq!(listed(&view, "", 1), vec![entry("keep.txt", false)]);
}

#[test]
fn files_created_by_the_task_are_listed_with_their_new_directories() {
    let dir = workspace(&[("src/lib.rs", "")]);
    let mut view = view(&dir);
    view.write("src/net/http.rs", "// http\n".into());
    assert!(view.is_dir("src/net"));
    assert!(!view.is_dir("src/net/http.rs"));
    assert_eq!(
        listed(&view, "src", 5),
        vec![
            entry("src/lib.rs", false),
            entry("src/net", true),
            entry("src/net/http.rs", false),
        ]
    );
    assert_eq!(listed(&view, "", 1), vec![entry("src", true)]);
    assert!(matches!(
        view.read("src/net"),
        Err(ViewError::IsDirectory(_))
    ));
}

#[test]
fn listing_is_in_tree_order_and_stops_at_the_depth() {
    let dir = workspace(&[("a/b/c/d.txt", ""), ("a.txt", ""), ("a/z.txt", "")]);
    let view = view(&dir);
    assert_eq!(
        listed(&view, "", 2),
        vec![
            entry("a", true),
            entry("a/b", true),
            entry("a/z.txt", false),
            entry("a.txt", false),
        ]
    );
}

#[test]
fn gitignored_files_and_the_git_directory_are_hidden_but_dotfiles_are_shown() {
    let dir = workspace(&[
        (".gitignore", "target/\n*.log\n"),
        (".git/HEAD", "ref: refs/heads/main\n"),
        (".env.example", "KEY=\n"),
        ("target/debug/app", "binary"),
        ("run.log", "noise"),
        ("src/lib.rs", ""),
    ]);
    let view = view(&dir);
    assert_eq!(
        listed(&view, "", 3),
        vec![
            entry(".env.example", false),
            entry(".gitignore", false),
            entry("src", true),
            entry("src/lib.rs", false),
        ]
    );
}

#[test]
fn listing_a_file_or_a_missing_directory_is_an_error() {
    let dir = workspace(&[("a.txt", "")]);
    let view = view(&dir);
    assert!(matches!(
        view.list("a.txt", 1),
        Err(ViewError::NotADirectory(_))
    ));
    assert!(matches!(view.list("nope", 1), Err(ViewError::NotFound(_))));
}

#[test]
fn reading_a_directory_or_a_binary_file_is_an_error_and_a_missing_file_is_none() {
    let dir = workspace(&[("src/lib.rs", "")]);
    fs::write(
        dir.path().join("logo.png"),
        [0x89, b'P', b'N', b'G', 0xff, 0xfe],
    )
    .expect("png");
    let view = view(&dir);
    assert!(matches!(view.read("src"), Err(ViewError::IsDirectory(_))));
    assert!(matches!(view.read(""), Err(ViewError::IsDirectory(_))));
    assert!(matches!(view.read("logo.png"), Err(ViewError::Binary(_))));
    assert_eq!(view.read("missing.rs").expect("read"), None);
}

#[test]
fn resolve_normalizes_paths_inside_the_workspace() {
    let dir = workspace(&[("src/lib.rs", "")]);
    let view = view(&dir);
    let absolute = view.root().join("src/lib.rs");
    assert_eq!(view.resolve("src/lib.rs").as_deref(), Ok("src/lib.rs"));
    assert_eq!(
        view.resolve("./src/../src/lib.rs").as_deref(),
        Ok("src/lib.rs")
    );
    assert_eq!(view.resolve(".").as_deref(), Ok(""));
    assert_eq!(view.resolve("").as_deref(), Ok(""));
    assert_eq!(
        view.resolve(absolute.to_str().expect("utf-8")).as_deref(),
        Ok("src/lib.rs")
    );
    assert_eq!(
        view.resolve(view.root().to_str().expect("utf-8"))
            .as_deref(),
        Ok("")
    );
}

#[test]
fn resolve_refuses_paths_that_escape_the_workspace() {
    let dir = workspace(&[("sub/a.txt", "")]);
    let view = view(&dir);
    for escape in ["../x", "/etc/passwd", "sub/../../x", "/"] {
        let err = view.resolve(escape).expect_err(escape);
        assert!(
            matches!(err, PathError::OutsideRoot { .. }),
            "{escape}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(escape), "{message}");
        assert!(message.contains("outside the workspace"), "{message}");
        assert!(
            message.contains(&view.root().display().to_string()),
            "{message}"
        );
    }
    assert!(matches!(view.resolve("a\0b"), Err(PathError::Nul { .. })));
}

#[cfg(unix)]
#[test]
fn a_symlink_leading_out_of_the_workspace_is_refused_and_one_staying_inside_is_fine() {
    let outside = workspace(&[("secret.txt", "token")]);
    let dir = workspace(&[("docs/guide.md", "# guide\n")]);
    std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).expect("symlink");
    std::os::unix::fs::symlink(dir.path().join("docs"), dir.path().join("manual"))
        .expect("symlink");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), dir.path().join("dangling"))
        .expect("symlink");
    let view = view(&dir);

    let err = view.resolve("out/secret.txt").expect_err("escape");
    assert!(matches!(err, PathError::SymlinkEscape { .. }), "{err:?}");
    assert!(err.to_string().contains("symlink `out`"), "{err}");
    assert!(view.resolve("out").is_err());
    let through_absolute = view.root().join("out/secret.txt");
    assert!(
        view.resolve(through_absolute.to_str().expect("utf-8"))
            .is_err()
    );
    assert!(matches!(
        view.resolve("dangling/x"),
        Err(PathError::DanglingSymlink { .. })
    ));

    let inside = view.resolve("manual/guide.md").expect("inside");
    assert_eq!(
        view.read(&inside).expect("read").as_deref(),
        Some("# guide\n")
    );
}

#[cfg(unix)]
#[test]
fn an_absolute_path_spelling_the_root_through_a_symlink_is_accepted() {
    let dir = workspace(&[("a.txt", "")]);
    let aliases = tempfile::tempdir().expect("temp dir");
    let alias = aliases.path().join("alias");
    std::os::unix::fs::symlink(dir.path(), &alias).expect("symlink");
    let view = TaskView::new(&alias, HashMap::new()).expect("view");
    let spelled = alias.join("a.txt");
    assert_eq!(
        view.resolve(spelled.to_str().expect("utf-8")).as_deref(),
        Ok("a.txt")
    );
}

#[test]
fn changes_diff_against_the_text_captured_at_the_first_write() {
    let dir = workspace(&[
        ("a.txt", "start\n"),
        ("b.txt", "bee\n"),
        ("c.txt", "same\n"),
    ]);
    let mut view = view_with_buffers(&dir, &[("b.txt", "unsaved bee\n")]);
    view.write("a.txt", "first\n".into());
    fs::write(dir.path().join("a.txt"), "changed on disk meanwhile\n").expect("disk edit");
    view.write("a.txt", "second\n".into());
    view.delete("b.txt");
    view.write("c.txt", "other\n".into());
    view.write("c.txt", "same\n".into());
    view.write("new.txt", "hello\n".into());

    assert_eq!(
        view.changes(),
        vec![
            FileChange {
                path: "a.txt".into(),
                base: Some("start\n".into()),
                new: Some("second\n".into()),
            },
            FileChange {
                path: "b.txt".into(),
                base: Some("unsaved bee\n".into()),
                new: None,
            },
            FileChange {
                path: "new.txt".into(),
                base: None,
                new: Some("hello\n".into()),
            },
        ]
    );
}

#[test]
fn creating_then_deleting_a_file_is_no_change() {
    let dir = workspace(&[]);
    let mut view = view(&dir);
    view.write("tmp.txt", "scratch".into());
    view.delete("tmp.txt");
    assert_eq!(view.changes(), vec![]);
    assert_eq!(view.read("tmp.txt").expect("read"), None);
}

#[test]
fn unicode_file_names_are_listed_read_and_resolved() {
    let dir = workspace(&[
        ("données/résumé.md", "café\n"),
        ("日本/語.txt", "こんにちは\n"),
    ]);
    let view = view(&dir);
    assert_eq!(
        view.resolve("données/./résumé.md").as_deref(),
        Ok("données/résumé.md")
    );
    assert_eq!(
        view.read("日本/語.txt").expect("read").as_deref(),
        Some("こんにちは\n")
    );
    assert_eq!(
        listed(&view, "", 2),
        vec![
            entry("données", true),
            entry("données/résumé.md", false),
            entry("日本", true),
            entry("日本/語.txt", false),
        ]
    );
}

#[test]
fn a_buffer_for_a_file_not_yet_on_disk_is_visible() {
    let dir = workspace(&[("src/lib.rs", "")]);
    let view = view_with_buffers(&dir, &[("src/draft.rs", "// unsaved\n")]);
    assert!(
        view.files("src")
            .expect("files")
            .contains(&"src/draft.rs".to_string())
    );
    assert_eq!(
        view.read("src/draft.rs").expect("read").as_deref(),
        Some("// unsaved\n")
    );
}

#[test]
fn new_refuses_a_missing_root() {
    let dir = workspace(&[]);
    let missing = dir.path().join("missing");
    assert!(TaskView::new(Path::new(&missing), HashMap::new()).is_err());
}

#[test]
fn a_read_only_directory_outside_the_workspace_can_be_read_but_not_resolved_for_writing() {
    let dir = workspace(&[("a.txt", "a\n")]);
    let skills = workspace(&[("deploy/SKILL.md", "body\n"), ("other/x.md", "x\n")]);
    let outside = workspace(&[("secret.txt", "s\n")]);
    std::os::unix::fs::symlink(outside.path(), skills.path().join("deploy/leak")).unwrap();
    let mut view = view(&dir);
    let skill_dir = skills.path().join("deploy").canonicalize().unwrap();
    view.allow_reading([skill_dir.clone(), dir.path().join("missing")]);
    assert_eq!(view.read_only_dirs(), std::slice::from_ref(&skill_dir));

    let skill = skill_dir.join("SKILL.md").display().to_string();
    let target = view.resolve_for_reading(&skill).expect("readable");
    assert_eq!(target.rel(), "SKILL.md");
    assert_eq!(
        target.view(&view).read(target.rel()).unwrap().as_deref(),
        Some("body\n")
    );
    assert_eq!(target.shown("SKILL.md"), skill);
    assert!(matches!(
        view.resolve(&skill),
        Err(PathError::ReadOnly { .. })
    ));
    let sibling = skills.path().join("other/x.md").display().to_string();
    assert!(matches!(
        view.resolve_for_reading(&sibling),
        Err(PathError::OutsideRoot { .. })
    ));
    let leak = skill_dir.join("leak/secret.txt").display().to_string();
    assert!(matches!(
        view.resolve_for_reading(&leak),
        Err(PathError::SymlinkEscape { .. })
    ));
    assert!(matches!(
        view.resolve_for_reading("a.txt"),
        Ok(agentls::workspace::ReadTarget::Workspace(rel)) if rel == "a.txt"
    ));
}
