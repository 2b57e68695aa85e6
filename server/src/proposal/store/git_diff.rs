//! A task's proposal as a git diff: what `agentls exec` prints and `agentls tasks show`
//! shows, ready for `git apply` in the workspace.
//!
//! The diff holds the hunks still awaiting a decision whose text is in place — pending
//! ones, and those in `conflict` only because another task's hunk overlaps them —
//! applied to each file's current text. Hunks already decided (accepted hunks are in the
//! text by now), stale ones (the text under them changed) and imported changes that
//! could not be placed are left out and listed, so the diff always applies to the text it
//! was made from. Headers are git's own (`diff --git`, `new file mode`, `deleted file
//! mode`, `rename from`/`rename to`), so creations, deletions and renames apply as such;
//! a last line without a newline is marked `\ No newline at end of file`.

use std::path::Path;

use similar::TextDiff;

use super::ProposalStore;
use super::views::with_applied;
use crate::protocol::{FileKind, HunkStatus};

/// One file of a proposal diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiff {
    /// The file as it is now (the old name of a rename).
    pub path: String,
    pub kind: FileKind,
    /// Where a rename moves it.
    pub new_path: Option<String>,
    /// This file's part of the diff, `diff --git` line first; empty when none of its
    /// hunks is in it.
    pub diff: String,
    /// Hunks of this file the diff leaves out, with their status.
    pub left_out: Vec<(String, HunkStatus)>,
}

impl ProposalStore {
    /// The task's proposal as a git diff against the current text, file by file, in the
    /// proposal's order; None for an unknown task.
    pub fn git_diff(&self, task_id: &str) -> Option<Vec<FileDiff>> {
        let task = self.tasks.get(task_id)?;
        let files = task.files.iter().map(|file| {
            let (included, left_out): (Vec<_>, Vec<_>) = file.hunks.hunks().iter().partition(|h| {
                h.status == HunkStatus::Pending || (h.status == HunkStatus::Conflict && h.placed)
            });
            let left_out = left_out.iter().map(|h| (h.id.clone(), h.status)).collect();
            let mut out = FileDiff {
                path: file.path.clone(),
                kind: file.kind,
                new_path: file.new_path.clone(),
                diff: String::new(),
                left_out,
            };
            if included.is_empty() {
                return out;
            }
            let current = self.current_text(&file.path);
            let whole = included.len() == file.hunks.hunks().len();
            out.diff = match (file.kind, &file.new_path) {
                (FileKind::Rename, Some(to)) => {
                    let proposed = included.first().map_or("", |h| h.new_text.as_str());
                    let mode = file_mode(&self.root.join(&file.path));
                    render(
                        &file.path,
                        to,
                        current.as_deref().unwrap_or_default(),
                        proposed,
                        Change::Rename(mode),
                    )
                }
                (FileKind::Create, _) if current.is_none() => render(
                    &file.path,
                    &file.path,
                    "",
                    &with_applied("", &included),
                    Change::Create,
                ),
                (FileKind::Delete, _) if whole => render(
                    &file.path,
                    &file.path,
                    current.as_deref().unwrap_or_default(),
                    "",
                    Change::Delete(file_mode(&self.root.join(&file.path))),
                ),
                _ => {
                    let current = current.unwrap_or_default();
                    let proposed = with_applied(&current, &included);
                    render(&file.path, &file.path, &current, &proposed, Change::Modify)
                }
            };
            out
        });
        Some(files.collect())
    }
}

/// What happens to the file, with the modes git's headers name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Modify,
    Create,
    Delete(&'static str),
    Rename(&'static str),
}

/// One file's change as a git diff section: `old` None creates the file, `new` None
/// deletes it.
pub fn file_diff(path: &str, old: Option<&str>, new: Option<&str>) -> String {
    let change = match (old, new) {
        (None, _) => Change::Create,
        (_, None) => Change::Delete("100644"),
        _ => Change::Modify,
    };
    render(
        path,
        path,
        old.unwrap_or_default(),
        new.unwrap_or_default(),
        change,
    )
}

/// `100755` for an executable file, else `100644` (what git records for a regular file).
fn file_mode(path: &Path) -> &'static str {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(meta) if meta.permissions().mode() & 0o111 != 0 => "100755",
        _ => "100644",
    }
}

/// One file's diff as git writes it.
fn render(old_path: &str, new_path: &str, old: &str, new: &str, change: Change) -> String {
    let (a, b) = (format!("a/{old_path}"), format!("b/{new_path}"));
    let mut out = format!("diff --git {} {}\n", quote(&a), quote(&b));
    match change {
        Change::Modify => {}
        Change::Create => out.push_str("new file mode 100644\n"),
        Change::Delete(mode) => out.push_str(&format!("deleted file mode {mode}\n")),
        Change::Rename(_) => {
            out.push_str(&format!("rename from {}\n", quote(old_path)));
            out.push_str(&format!("rename to {}\n", quote(new_path)));
        }
    }
    if old == new {
        return out;
    }
    let from = if change == Change::Create {
        "/dev/null".to_string()
    } else {
        quote(&a)
    };
    let to = if matches!(change, Change::Delete(_)) {
        "/dev/null".to_string()
    } else {
        quote(&b)
    };
    out.push_str(&format!("--- {from}{}\n", tab_if_spaced(&from)));
    out.push_str(&format!("+++ {to}{}\n", tab_if_spaced(&to)));
    let diff = TextDiff::from_lines(old, new);
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        out.push_str(&hunk.to_string());
    }
    out
}

/// git ends a `---`/`+++` name that holds a space with a tab, so that a trailing
/// timestamp could not be confused with it; `git apply` expects the same.
fn tab_if_spaced(name: &str) -> &'static str {
    if name.contains(' ') { "\t" } else { "" }
}

/// A path as git writes it in headers: as is, or C-quoted when it holds a quote, a
/// backslash or a control character.
fn quote(path: &str) -> String {
    if !path
        .chars()
        .any(|c| c == '"' || c == '\\' || c.is_control())
    {
        return path.to_string();
    }
    let mut out = String::from("\"");
    for c in path.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let mut bytes = [0; 4];
                for byte in c.encode_utf8(&mut bytes).bytes() {
                    out.push_str(&format!("\\{byte:03o}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_modification_without_a_final_newline_is_marked() {
        assert_eq!(
            render("a.txt", "a.txt", "one\ntwo", "one\n2", Change::Modify),
            "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n\\ No newline at end of file\n+2\n\\ No newline at end of file\n"
        );
    }

    #[test]
    fn creations_deletions_and_renames_carry_git_headers() {
        assert_eq!(
            render("n.txt", "n.txt", "", "new\n", Change::Create),
            "diff --git a/n.txt b/n.txt\nnew file mode 100644\n--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1 @@\n+new\n"
        );
        assert_eq!(
            render("old.sh", "old.sh", "x\n", "", Change::Delete("100755")),
            "diff --git a/old.sh b/old.sh\ndeleted file mode 100755\n--- a/old.sh\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n"
        );
        assert_eq!(
            render(
                "a b.txt",
                "c.txt",
                "same\n",
                "same\n",
                Change::Rename("100644")
            ),
            "diff --git a/a b.txt b/c.txt\nrename from a b.txt\nrename to c.txt\n"
        );
    }

    #[test]
    fn odd_names_are_quoted_and_spaced_names_get_a_tab() {
        assert_eq!(quote("a/x\"y\\z\t"), "\"a/x\\\"y\\\\z\\t\"");
        assert_eq!(quote("a/ü.txt"), "a/ü.txt");
        let diff = render("a b", "a b", "1\n", "2\n", Change::Modify);
        assert!(diff.contains("--- a/a b\t\n+++ b/a b\t\n"), "{diff}");
    }
}
