//! The `read_file` tool: a slice of a file as the task sees it, line-numbered.
//!
//! The output follows Codex's `L{n}: {text}` format, which Codex-tuned models already know
//! how to quote back in patches. Open editor buffers win over disk, so the model reads the
//! user's unsaved text rather than a stale file.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::workspace::{TaskView, ViewError};

pub const NAME: &str = "read_file";

const DEFAULT_LIMIT: usize = 2000;
/// Longer lines are cut: minified or generated lines would otherwise flood the context.
const MAX_LINE_BYTES: usize = 500;

#[derive(Deserialize)]
struct Args {
    /// Codex itself names this argument `file_path`; models trained on it may keep doing so.
    #[serde(alias = "file_path")]
    path: String,
    offset: Option<usize>,
    limit: Option<usize>,
}

pub fn description() -> String {
    format!(
        "Reads a text file from the workspace and returns its lines numbered as `L{{n}}: text`. \
         Shows unsaved editor changes and the task's own edits. Reads up to {DEFAULT_LIMIT} \
         lines by default; use `offset` and `limit` to page through longer files."
    )
}

pub fn parameters() -> Value {
    json!({
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "File path, relative to the workspace root (or absolute inside it); a skill's files by the absolute path the instructions give."
            },
            "offset": {
                "type": "integer",
                "minimum": 1,
                "description": "1-based number of the first line to return. Defaults to 1."
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "description": format!("Maximum number of lines to return. Defaults to {DEFAULT_LIMIT}.")
            }
        },
        "required": ["path"],
        "additionalProperties": false
    })
}

pub fn run(view: &TaskView, args: Value) -> Result<String, String> {
    let args: Args =
        serde_json::from_value(args).map_err(|err| format!("invalid {NAME} arguments: {err}"))?;
    let offset = args.offset.unwrap_or(1);
    if offset == 0 {
        return Err("offset is 1-based: the first line is offset=1".into());
    }
    let limit = args.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 {
        return Err("limit must be at least 1".into());
    }
    let target = view
        .resolve_for_reading(&args.path)
        .map_err(|err| err.to_string())?;
    let text = target
        .view(view)
        .read(target.rel())
        .map_err(|err| explain_read_error(&args.path, err))?
        .ok_or_else(|| {
            format!(
                "`{}` does not exist; use {} to see what its directory holds, or {} \
                 to find the file by its content",
                args.path,
                super::list_dir::NAME,
                super::grep::NAME,
            )
        })?;
    render_slice(&args.path, &text, offset, limit)
}

fn explain_read_error(path: &str, err: ViewError) -> String {
    match err {
        ViewError::IsDirectory(_) => {
            format!(
                "`{path}` is a directory; use {} to see what it contains",
                super::list_dir::NAME
            )
        }
        ViewError::Binary(_) => {
            format!("`{path}` is a binary file (not UTF-8 text) and cannot be shown")
        }
        other => other.to_string(),
    }
}

fn render_slice(path: &str, text: &str, offset: usize, limit: usize) -> Result<String, String> {
    let total = text.lines().count();
    if total == 0 {
        return Ok(format!("`{path}` is empty"));
    }
    if offset > total {
        return Err(format!(
            "offset {offset} is past the end of `{path}`, which has {total} lines; use an \
             offset between 1 and {total}"
        ));
    }
    let mut output: Vec<String> = text
        .lines()
        .enumerate()
        .skip(offset - 1)
        .take(limit)
        .map(|(index, line)| format!("L{}: {}", index + 1, clip_line(line)))
        .collect();
    let next = offset + output.len();
    if next <= total {
        output.push(format!(
            "… {} more lines; call again with offset={next} to continue",
            total - next + 1
        ));
    }
    Ok(output.join("\n"))
}

/// Cuts a line to [`MAX_LINE_BYTES`] on a character boundary, saying how much was dropped
/// so the model does not mistake the cut text for the whole line.
pub(super) fn clip_line(line: &str) -> Cow<'_, str> {
    if line.len() <= MAX_LINE_BYTES {
        return Cow::Borrowed(line);
    }
    // `str::floor_char_boundary` is newer than our minimum Rust version.
    let cut = (0..=MAX_LINE_BYTES)
        .rev()
        .find(|&at| line.is_char_boundary(at))
        .unwrap_or(0);
    Cow::Owned(format!(
        "{}… (line cut, {} more bytes)",
        &line[..cut],
        line.len() - cut
    ))
}
