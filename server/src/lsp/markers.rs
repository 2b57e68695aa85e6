//! How hunks show in an editor that has no agentls plugin: as diagnostics (the
//! publisher's [`HunkLayer`](crate::lsp::markers::HunkLayer)), and the one-line descriptions of a hunk that its
//! diagnostic, its code actions and its code lenses share, so the user reads the same
//! words wherever the hunk appears.

use std::collections::HashMap;

use tower_lsp_server::ls_types::{Diagnostic, DiagnosticSeverity, NumberOrString};

use super::convert;
use super::diagnostics::DiagnosticLayer;
use crate::engine::Engine;
use crate::proposal::store::HunkAt;
use crate::protocol::{FileKind, HunkDiagnosticData, HunkStatus, Position, Range};
use crate::task::one_line;

/// `source` of every hunk diagnostic.
pub const SOURCE: &str = "agentls";

/// How much of each side of a change a title or message shows.
const SIDE_CHARS: usize = 40;

/// A whole document, for listing every hunk in it.
pub const WHOLE_DOCUMENT: Range = Range {
    start: Position {
        line: 0,
        character: 0,
    },
    end: Position {
        line: u32::MAX,
        character: 0,
    },
};

/// Pending, stale and conflict hunks of every task, one diagnostic each.
pub struct HunkLayer;

impl DiagnosticLayer for HunkLayer {
    fn diagnostics(&self, engine: &Engine, path: &str) -> Vec<Diagnostic> {
        let hunks = engine.store().hunks_at(path, WHOLE_DOCUMENT);
        let mut names = TaskNames::new(engine);
        hunks
            .iter()
            .filter(|hunk| hunk.status != HunkStatus::Accepted)
            .map(|hunk| diagnostic(names.get(&hunk.task_id), path, hunk))
            .collect()
    }

    fn task_paths(&self, engine: &Engine, task_id: &str) -> Vec<String> {
        engine.store().task_paths(task_id)
    }
}

/// Tasks' short names, each looked up once.
pub struct TaskNames<'a> {
    engine: &'a Engine,
    names: HashMap<String, String>,
}

impl<'a> TaskNames<'a> {
    pub fn new(engine: &'a Engine) -> Self {
        TaskNames {
            engine,
            names: HashMap::new(),
        }
    }

    pub fn get(&mut self, task_id: &str) -> &str {
        let engine = self.engine;
        self.names.entry(task_id.to_string()).or_insert_with(|| {
            engine
                .task(task_id)
                .map_or_else(|_| task_id.to_string(), |task| task.short_name())
        })
    }
}

/// The diagnostic of an undecided hunk: where it is, what it would change, and for a
/// stale or conflict hunk why it cannot be accepted as it is. `data` names the hunk.
pub fn diagnostic(task_name: &str, path: &str, hunk: &HunkAt) -> Diagnostic {
    let change = preview(path, hunk);
    let reason = hunk
        .reason
        .as_deref()
        .unwrap_or("the text under it changed");
    let (severity, message) = match hunk.status {
        HunkStatus::Stale => (
            DiagnosticSeverity::HINT,
            format!("{task_name}: {change} — stale: {reason}; refresh or reject it"),
        ),
        HunkStatus::Conflict => (
            DiagnosticSeverity::HINT,
            format!("{task_name}: {change} — in conflict: {reason}"),
        ),
        _ => (
            DiagnosticSeverity::INFORMATION,
            format!("{task_name} proposes: {change}"),
        ),
    };
    let data = HunkDiagnosticData {
        task_id: hunk.task_id.clone(),
        hunk_id: hunk.hunk_id.clone(),
        status: hunk.status,
    };
    Diagnostic {
        range: convert::range_to_lsp(hunk.range),
        severity: Some(severity),
        // The status as the protocol spells it (`pending`, `stale`, `conflict`).
        code: serde_json::to_value(hunk.status)
            .ok()
            .and_then(|status| status.as_str().map(|s| NumberOrString::String(s.into()))),
        source: Some(SOURCE.into()),
        message,
        data: serde_json::to_value(data).ok(),
        ..Diagnostic::default()
    }
}

/// What a hunk changes, on one line: `print('hi') → print('hello')`, `add: def f():`,
/// `delete: old()`, `create src/new.rs`; `…` when more lines follow.
pub fn preview(path: &str, hunk: &HunkAt) -> String {
    match (hunk.kind, &hunk.new_path) {
        (FileKind::Create, _) => format!("create {path}"),
        (FileKind::Delete, _) => format!("delete {path}"),
        (FileKind::Rename, Some(to)) => format!("move {path} to {to}"),
        _ => line_change(&hunk.old_text, &hunk.new_text),
    }
}

fn line_change(old: &str, new: &str) -> String {
    let (old_lines, new_lines): (Vec<&str>, Vec<&str>) =
        (old.lines().collect(), new.lines().collect());
    // Lines both sides start with say nothing about the change.
    let same = old_lines
        .iter()
        .zip(&new_lines)
        .take_while(|(a, b)| a == b)
        .count();
    let more = old_lines.len().max(new_lines.len()) > same + 1;
    let side = |lines: &[&str]| match lines.get(same) {
        Some(line) if line.trim().is_empty() => "(empty line)".to_string(),
        Some(line) => one_line(line, SIDE_CHARS),
        None => String::new(),
    };
    let text = if old.trim().is_empty() {
        format!("add: {}", side(&new_lines))
    } else if new.trim().is_empty() {
        format!("delete: {}", side(&old_lines))
    } else {
        format!("{} → {}", side(&old_lines), side(&new_lines))
    };
    if more { format!("{text} …") } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hunk(old: &str, new: &str) -> HunkAt {
        HunkAt {
            task_id: "t".into(),
            hunk_id: "t-1".into(),
            range: Range::default(),
            status: HunkStatus::Pending,
            kind: FileKind::Modify,
            new_path: None,
            old_text: old.into(),
            new_text: new.into(),
            reason: None,
        }
    }

    #[test]
    fn previews_show_the_first_line_that_differs_on_each_side() {
        let cases = [
            (
                "print('hi')\n",
                "print('hello')\n",
                "print('hi') → print('hello')",
            ),
            ("", "def f():\n    pass\n", "add: def f(): …"),
            ("gone()\n", "", "delete: gone()"),
            ("a\nb\n", "a\nB\n", "b → B"),
            ("x\n\n", "x\ny\n", "(empty line) → y"),
        ];
        for (old, new, expected) in cases {
            assert_eq!(
                preview("f.py", &hunk(old, new)),
                expected,
                "{old:?} → {new:?}"
            );
        }
        let long = "x".repeat(100);
        assert_eq!(
            preview("f.py", &hunk(&long, "y")).chars().count(),
            SIDE_CHARS + " → y".chars().count()
        );
    }

    #[test]
    fn whole_file_changes_say_what_happens_to_the_file() {
        let mut created = hunk("", "new\n");
        created.kind = FileKind::Create;
        assert_eq!(preview("src/n.rs", &created), "create src/n.rs");
        let mut moved = hunk("a\n", "a\n");
        moved.kind = FileKind::Rename;
        moved.new_path = Some("src/b.rs".into());
        assert_eq!(preview("src/a.rs", &moved), "move src/a.rs to src/b.rs");
    }
}
