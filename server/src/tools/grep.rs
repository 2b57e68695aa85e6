//! The `grep` tool: a regex search over the text the task sees, with ripgrep's libraries.
//!
//! Files are searched in memory (`search_slice`) rather than on disk, because the task's
//! own edits and the user's unsaved buffers are what the model must find; the walk that
//! picks the files honours `.gitignore` like ripgrep does.

use std::path::Path;

use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use grep_searcher::sinks::UTF8;
use grep_searcher::{Searcher, SearcherBuilder};
use ignore::overrides::{Override, OverrideBuilder};
use serde::Deserialize;
use serde_json::{Value, json};

use super::read_file::clip_line;
use crate::workspace::TaskView;

pub const NAME: &str = "grep";

/// Beyond this the model should narrow the search rather than read every hit.
const MAX_MATCHING_LINES: usize = 200;

#[derive(Deserialize)]
struct Args {
    pattern: String,
    path: Option<String>,
    glob: Option<String>,
    #[serde(default)]
    case_insensitive: bool,
}

pub fn description() -> String {
    "Searches workspace files for lines matching a regular expression (Rust regex \
     syntax) and returns `path:line:text` for each, sorted by path and line. Searches the \
     current text including unsaved editor changes and this task's edits; skips files \
     ignored by .gitignore."
        .to_string()
}

pub fn parameters() -> Value {
    json!({
        "type": "object",
        "properties": {
            "pattern": {
                "type": "string",
                "description": "Regular expression to search for, matched line by line."
            },
            "path": {
                "type": "string",
                "description": "File or directory to search, relative to the workspace root (a skill's folder by its absolute path). Defaults to the whole workspace."
            },
            "glob": {
                "type": "string",
                "description": "Only search files matching this glob, e.g. \"*.rs\" or \"src/**/*.{ts,tsx}\"; prefix with ! to exclude."
            },
            "case_insensitive": {
                "type": "boolean",
                "description": "Match letters regardless of case. Defaults to false."
            }
        },
        "required": ["pattern"],
        "additionalProperties": false
    })
}

pub fn run(view: &TaskView, args: Value) -> Result<String, String> {
    let args: Args =
        serde_json::from_value(args).map_err(|err| format!("invalid {NAME} arguments: {err}"))?;
    let matcher = RegexMatcherBuilder::new()
        .case_insensitive(args.case_insensitive)
        .line_terminator(Some(b'\n'))
        .build(&args.pattern)
        .map_err(|err| format!("invalid regex `{}`: {err}", args.pattern))?;
    let scope = args.path.as_deref().unwrap_or(".");
    let target = view
        .resolve_for_reading(scope)
        .map_err(|err| err.to_string())?;
    let (view, rel) = (target.view(view), target.rel());
    let files = files_to_search(view, rel, scope, args.glob.as_deref())?;

    let mut found = Matches::default();
    let mut searcher = SearcherBuilder::new().line_number(true).build();
    for file in &files {
        search_file(
            view,
            &mut searcher,
            &matcher,
            file,
            &target.shown(file),
            &mut found,
        );
    }
    Ok(found.render(&args, scope))
}

/// A directory is walked (filtered by `glob`); a file named explicitly is searched even if
/// the glob or `.gitignore` would skip it, as ripgrep does.
fn files_to_search(
    view: &TaskView,
    rel: &str,
    scope: &str,
    glob: Option<&str>,
) -> Result<Vec<String>, String> {
    if !view.is_dir(rel) {
        return match view.read(rel) {
            Ok(Some(_)) => Ok(vec![rel.to_owned()]),
            Ok(None) => Err(format!(
                "`{scope}` does not exist; use list_dir to see what is there, or leave out \
                 `path` to search the whole workspace"
            )),
            Err(err) => Err(err.to_string()),
        };
    }
    let files = view.files(rel).map_err(|err| err.to_string())?;
    let Some(glob) = glob else {
        return Ok(files);
    };
    let filter = glob_filter(view.root(), glob)?;
    Ok(files
        .into_iter()
        .filter(|file| !filter.matched(Path::new(file), false).is_ignore())
        .collect())
}

fn glob_filter(root: &Path, glob: &str) -> Result<Override, String> {
    let invalid = |err| format!("invalid glob `{glob}`: {err}");
    let mut builder = OverrideBuilder::new(root);
    builder.add(glob).map_err(invalid)?;
    builder.build().map_err(invalid)
}

/// Files that cannot be read as text are skipped, as ripgrep skips binary files.
fn search_file(
    view: &TaskView,
    searcher: &mut Searcher,
    matcher: &RegexMatcher,
    file: &str,
    shown: &str,
    found: &mut Matches,
) {
    let text = match view.read(file) {
        Ok(Some(text)) => text,
        Ok(None) => return,
        Err(err) => {
            tracing::debug!(%err, "grep skips a file it cannot read as text");
            return;
        }
    };
    let sink = UTF8(|line_number, line| {
        found.add(shown, line_number, line);
        Ok(true)
    });
    if let Err(err) = searcher.search_slice(matcher, text.as_bytes(), sink) {
        tracing::debug!(path = file, %err, "grep could not search a file");
    }
}

/// Matching lines in the order found, keeping the first [`MAX_MATCHING_LINES`] and counting
/// the rest, so the model learns how much it is not seeing.
#[derive(Default)]
struct Matches {
    shown: Vec<String>,
    total: usize,
}

impl Matches {
    fn add(&mut self, file: &str, line_number: u64, line: &str) {
        self.total += 1;
        if self.shown.len() < MAX_MATCHING_LINES {
            let text = line.trim_end_matches(['\n', '\r']);
            self.shown
                .push(format!("{file}:{line_number}:{}", clip_line(text)));
        }
    }

    fn render(self, args: &Args, scope: &str) -> String {
        if self.total == 0 {
            let glob = args
                .glob
                .as_deref()
                .map(|glob| format!(" (files matching `{glob}`)"))
                .unwrap_or_default();
            return format!("No matches for `{}` in `{scope}`{glob}", args.pattern);
        }
        let hidden = self.total - self.shown.len();
        let mut output = self.shown.join("\n");
        if hidden > 0 {
            output.push_str(&format!(
                "\n… {hidden} more matching lines not shown; narrow the search with `path`, \
                 `glob` or a more specific pattern"
            ));
        }
        output
    }
}
