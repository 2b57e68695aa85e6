//! The `list_dir` tool: a directory tree as the task sees it, gitignore-aware.
//!
//! The layout follows Codex's list_dir (an `Absolute path:` header, two spaces of indent
//! per level, directories with a trailing `/`), so Codex-tuned models read it without
//! guessing. Files the task created show up and files it deleted do not.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::workspace::{TaskView, ViewError};

pub const NAME: &str = "list_dir";

const DEFAULT_DEPTH: usize = 2;
const MAX_DEPTH: usize = 5;
/// Beyond this a listing costs more context than it helps; the model should narrow it.
const MAX_ENTRIES: usize = 500;

#[derive(Deserialize)]
struct Args {
    /// Codex itself names this argument `dir_path`; models trained on it may keep doing so.
    #[serde(alias = "dir_path")]
    path: String,
    depth: Option<usize>,
}

pub fn description() -> String {
    "Lists a workspace directory as an indented tree (directories end with `/`). Skips \
     files ignored by .gitignore and the .git directory. Shows files created by this task \
     and hides files it deleted."
        .to_string()
}

pub fn parameters() -> Value {
    json!({
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "Directory path, relative to the workspace root (or absolute inside it; a skill's folder by its absolute path). Use \".\" for the root."
            },
            "depth": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_DEPTH,
                "description": format!("How many levels to descend; 1 lists direct children only. Defaults to {DEFAULT_DEPTH}.")
            }
        },
        "required": ["path"],
        "additionalProperties": false
    })
}

pub fn run(view: &TaskView, args: Value) -> Result<String, String> {
    let args: Args =
        serde_json::from_value(args).map_err(|err| format!("invalid {NAME} arguments: {err}"))?;
    let depth = args.depth.unwrap_or(DEFAULT_DEPTH);
    if depth == 0 {
        return Err("depth must be at least 1 (1 lists direct children)".into());
    }
    let depth = depth.min(MAX_DEPTH);
    let target = view
        .resolve_for_reading(&args.path)
        .map_err(|err| err.to_string())?;
    let (view, rel) = (target.view(view), target.rel());
    let entries = view
        .list(rel, depth)
        .map_err(|err| explain_list_error(&args.path, err))?;
    // `join("")` would leave a trailing slash on the root.
    let absolute = if rel.is_empty() {
        view.root().to_path_buf()
    } else {
        view.root().join(rel)
    };
    Ok(render(&absolute.display().to_string(), rel, &entries))
}

fn explain_list_error(path: &str, err: ViewError) -> String {
    match err {
        ViewError::NotADirectory(_) => {
            format!(
                "`{path}` is a file, not a directory; use {} to read it",
                super::read_file::NAME
            )
        }
        ViewError::NotFound(_) => format!(
            "`{path}` does not exist; list its parent directory, or use {} to find files \
             by content",
            super::grep::NAME
        ),
        other => other.to_string(),
    }
}

fn render(absolute: &str, dir: &str, entries: &[(String, bool)]) -> String {
    let mut output = vec![format!("Absolute path: {absolute}")];
    if entries.is_empty() {
        output.push("(empty directory)".into());
    }
    output.extend(
        entries
            .iter()
            .take(MAX_ENTRIES)
            .map(|(path, is_dir)| render_entry(dir, path, *is_dir)),
    );
    if entries.len() > MAX_ENTRIES {
        output.push(format!(
            "… {} more entries not shown; list a subdirectory or use a smaller depth",
            entries.len() - MAX_ENTRIES
        ));
    }
    output.join("\n")
}

fn render_entry(dir: &str, path: &str, is_dir: bool) -> String {
    let below = if dir.is_empty() {
        path
    } else {
        path.strip_prefix(dir)
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or(path)
    };
    let level = below.matches('/').count();
    let name = below.rsplit('/').next().unwrap_or(below);
    let slash = if is_dir { "/" } else { "" };
    format!("{:indent$}{name}{slash}", "", indent = level * 2)
}
