//! Review mode: what a review looks at and how the model reports what it found.
//!
//! `startTask {mode: "review", target}` names a change — the uncommitted work (unsaved
//! buffers included) against HEAD, the current state against its merge base with a
//! branch, one commit, or a diff given as text. [`load`] turns it into one unified diff
//! (with real git, as `agent/importDiff` of a git ref does) and notes which lines of
//! which files it touches, so a finding elsewhere is marked `outsideChange`. The model
//! reads the diff in its first message, looks around with the read-only tools, and
//! answers through `report_finding` ([`report`]), whose fix, when given, is a Codex
//! patch checked to apply to the text the model saw. Findings become diagnostics
//! anchored like hunks (`proposal/findings.rs`); `sarif.rs` writes them for CI.

pub mod sarif;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::import::{self, HunkLine, blobs::BlobReader, source::git};
use crate::model::ToolSpec;
use crate::patch;
use crate::proposal::findings::{FindingReport, line_span};
use crate::proposal::store::git_diff::file_diff;
use crate::protocol::{FindingSeverity, RelatedLocation, ReviewTarget, StartTaskParams, TaskMode};
use crate::workspace::TaskView;

pub use crate::tools::REPORT_FINDING;

/// A diff longer than this is cut in the first message; the model reads the files.
const DIFF_LIMIT: usize = 200_000;

/// The change under review.
#[derive(Debug, Clone, Default)]
pub struct ReviewedChange {
    /// What it is, in a few words (`uncommitted changes`, `changes since main`).
    pub describe: String,
    pub diff: String,
    /// Per file (its path after the change), the 1-based line ranges the diff's hunks
    /// cover in the new text.
    lines: HashMap<String, Vec<(usize, usize)>>,
}

impl ReviewedChange {
    pub fn new(describe: String, diff: String) -> Result<Self, String> {
        if diff.trim().is_empty() {
            return Err(format!(
                "there is nothing to review: the {describe} are empty"
            ));
        }
        let patches = import::parse_diff(&diff)
            .map_err(|e| format!("the diff to review cannot be read: {e}"))?;
        let mut lines: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        for file in &patches {
            let Some(path) = &file.new_path else {
                continue;
            };
            let spans = lines.entry(path.clone()).or_default();
            for hunk in &file.hunks {
                let first = hunk.new_start.unwrap_or(1);
                let count = hunk
                    .lines
                    .iter()
                    .filter(|l| !matches!(l, HunkLine::Removed(_)))
                    .count();
                spans.push((first, first + count.max(1) - 1));
            }
        }
        Ok(ReviewedChange {
            describe,
            diff,
            lines,
        })
    }

    /// Whether lines `first..=last` of `path` are (partly) in the change.
    pub fn touches(&self, path: &str, first: usize, last: usize) -> bool {
        self.lines
            .get(path)
            .is_some_and(|spans| spans.iter().any(|&(a, b)| first <= b && a <= last))
    }
}

/// Refuses start parameters that mix review and non-review fields, with what to send.
pub fn check_params(params: &StartTaskParams) -> Result<(), String> {
    match (params.mode, &params.target) {
        (TaskMode::Review, None) => Err(
            "a review needs a `target`: {\"uncommitted\": true}, {\"baseBranch\": \"main\"}, {\"commit\": \"<sha>\"} or {\"diff\": \"<unified diff>\"}"
                .into(),
        ),
        (TaskMode::Review, Some(_)) if params.best_of.is_some_and(|n| n > 1) => {
            Err("a review runs once: leave `bestOf` out".into())
        }
        (TaskMode::Review, Some(_)) => Ok(()),
        (_, Some(_)) => Err("`target` is for review tasks: add `\"mode\": \"review\"`".into()),
        (_, None) if params.prompt.trim().is_empty() => {
            Err("agent/startTask needs a non-empty `prompt`".into())
        }
        (_, None) => Ok(()),
    }
}

/// What a review task is called in lists: its prompt, or what it reviews.
pub fn title(params: &StartTaskParams) -> String {
    if !params.prompt.trim().is_empty() {
        return params.prompt.clone();
    }
    let target = params.target.clone().unwrap_or_default();
    if let Some(branch) = target.base_branch {
        format!("review changes since {branch}")
    } else if let Some(commit) = target.commit {
        format!("review commit {commit}")
    } else if target.diff.is_some() {
        "review a diff".into()
    } else {
        "review uncommitted changes".into()
    }
}

/// What `target` says to review, as a diff. `buffers` (path → unsaved text) count as the
/// current state.
pub async fn load(
    target: &ReviewTarget,
    root: &Path,
    buffers: &HashMap<String, String>,
) -> Result<ReviewedChange, String> {
    let given = [
        target.uncommitted,
        target.base_branch.is_some(),
        target.commit.is_some(),
        target.diff.is_some(),
    ];
    if given.iter().filter(|&&g| g).count() != 1 {
        return Err(
            "a review `target` needs exactly one of `uncommitted: true`, `baseBranch`, `commit` or `diff`"
                .into(),
        );
    }
    if target.uncommitted {
        let diff = against(root, "HEAD", buffers).await?;
        return ReviewedChange::new("uncommitted changes".into(), diff);
    }
    if let Some(branch) = &target.base_branch {
        let branch = checked_ref(branch)?;
        let base = git(root, &["merge-base", branch, "HEAD"]).await?;
        let diff = against(root, base.trim(), buffers).await?;
        return ReviewedChange::new(format!("changes since {branch}"), diff);
    }
    if let Some(commit) = &target.commit {
        let commit = checked_ref(commit)?;
        let diff = git(
            root,
            &[
                "show",
                "--format=",
                "--no-color",
                "--no-ext-diff",
                "-M",
                "--diff-merges=first-parent",
                commit,
                "--",
            ],
        )
        .await?;
        return ReviewedChange::new(format!("changes of commit {commit}"), diff);
    }
    let diff = target.diff.clone().unwrap_or_default();
    ReviewedChange::new("changes in the given diff".into(), diff)
}

fn checked_ref(name: &str) -> Result<&str, String> {
    let name = name.trim();
    if name.is_empty() || name.starts_with('-') {
        return Err(format!("`{name}` is not a git ref"));
    }
    Ok(name)
}

/// The diff from commit `base` to the current state: the working tree (index included),
/// files git does not track yet (not ignored), and the editor's unsaved buffers.
async fn against(
    root: &Path,
    base: &str,
    buffers: &HashMap<String, String>,
) -> Result<String, String> {
    let changed = git(
        root,
        &["diff", "--name-only", "-z", "--no-renames", base, "--"],
    )
    .await?;
    let untracked = git(root, &["ls-files", "--others", "--exclude-standard", "-z"]).await?;
    let mut paths: BTreeSet<String> = changed
        .split('\0')
        .chain(untracked.split('\0'))
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    // Open buffers git knows nothing of (ignored files) are not part of the change.
    let listed = paths.clone();
    paths.extend(buffers.keys().cloned());
    let (root, base, buffers) = (root.to_path_buf(), base.to_string(), buffers.clone());
    // Every base through one `git cat-file --batch`, off the async workers.
    let diff = tokio::task::spawn_blocking(move || {
        let blobs = BlobReader::new(&root);
        let mut diff = String::new();
        for path in paths {
            let old = blobs.read_at(&base, &path).ok();
            if old.is_none() && !listed.contains(&path) {
                continue;
            }
            let new = match buffers.get(&path) {
                Some(text) => Some(text.clone()),
                None => std::fs::read_to_string(root.join(&path)).ok(),
            };
            if old != new {
                diff.push_str(&file_diff(&path, old.as_deref(), new.as_deref()));
            }
        }
        diff
    });
    diff.await
        .map_err(|e| format!("reading the change's files failed: {e}"))
}

/// The first message of a review: what to review, what to look for, and the diff.
pub fn user_message(change: &ReviewedChange, instructions: Option<&str>, request: &str) -> String {
    let mut text = format!("Review the {}.", change.describe);
    for extra in [Some(request), instructions].into_iter().flatten() {
        let extra = extra.trim();
        if !extra.is_empty() {
            text.push_str(&format!("\n\nWhat the user wants you to look for: {extra}"));
        }
    }
    let diff = match change.diff.char_indices().nth(DIFF_LIMIT) {
        Some((cut, _)) => format!(
            "{}\n… (the diff is cut here; read the files for the rest)\n",
            &change.diff[..cut]
        ),
        None => change.diff.clone(),
    };
    text.push_str(&format!("\n\nThe change:\n```diff\n{diff}"));
    if !diff.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("```");
    text
}

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: REPORT_FINDING.into(),
        description: format!(
            "Report one problem you found in the change under review, at the lines it is about \
(1-based, in the files as they are now). Call it once per problem; the user sees each finding \
at its lines. `fix`, when you are sure of one, is a patch in apply_patch's format \
({} … {}) that fixes exactly this problem.",
            patch::BEGIN_PATCH,
            patch::END_PATCH
        ),
        parameters: json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "File, relative to the workspace root."},
                "startLine": {"type": "integer", "minimum": 1},
                "endLine": {"type": "integer", "minimum": 1},
                "severity": {"type": "string", "enum": ["error", "warning", "info"]},
                "title": {"type": "string", "description": "One line: what is wrong."},
                "body": {"type": "string", "description": "Why it is a problem, and what to do."},
                "fix": {"type": "string", "description": "Optional apply_patch text fixing it."},
                "related": {
                    "type": "array",
                    "description": "Other places the problem involves.",
                    "items": {
                        "type": "object",
                        "properties": {
                            "path": {"type": "string"},
                            "line": {"type": "integer", "minimum": 1},
                            "message": {"type": "string"}
                        },
                        "required": ["path", "line", "message"],
                        "additionalProperties": false
                    }
                }
            },
            "required": ["path", "startLine", "endLine", "severity", "title", "body"],
            "additionalProperties": false
        }),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportArgs {
    path: String,
    start_line: usize,
    end_line: usize,
    severity: FindingSeverity,
    title: String,
    body: String,
    #[serde(default)]
    fix: Option<String>,
    #[serde(default)]
    related: Vec<RelatedLocation>,
}

/// A finding as the model reported it, before the store anchors (and numbers) it.
#[derive(Debug, Clone)]
pub struct ReportedFinding {
    pub path: String,
    /// Char offsets of its lines in `text`.
    pub start: usize,
    pub end: usize,
    /// The file as the model saw it: what `start..end` refer to.
    pub text: String,
    pub report: FindingReport,
}

/// Checks a `report_finding` call against what the task sees: the file exists, the
/// lines are in it, the fix applies. Err: what the model should correct.
pub fn report(
    view: &TaskView,
    change: &ReviewedChange,
    args: &Value,
) -> Result<ReportedFinding, String> {
    let args: ReportArgs = serde_json::from_value(args.clone()).map_err(|e| {
        format!(
            "{REPORT_FINDING} needs {{path, startLine, endLine, severity: error|warning|info, title, body, fix?, related?}}: {e}"
        )
    })?;
    if args.title.trim().is_empty() {
        return Err(format!("{REPORT_FINDING}: give the finding a `title`"));
    }
    let path = view.resolve(&args.path).map_err(|e| e.to_string())?;
    let text = view
        .read(&path)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "{REPORT_FINDING}: there is no file {path}; report findings in files that exist"
            )
        })?;
    if args.start_line == 0 || args.end_line < args.start_line {
        return Err(format!(
            "{REPORT_FINDING}: lines are 1-based and endLine ({}) must not be before startLine ({})",
            args.end_line, args.start_line
        ));
    }
    let Some((start, end)) = line_span(&text, args.start_line, args.end_line) else {
        return Err(format!(
            "{REPORT_FINDING}: {path} has {} lines; startLine {} is past its end",
            text.lines().count(),
            args.start_line
        ));
    };
    if let Some(fix) = &args.fix {
        check_fix(view, fix)?;
    }
    Ok(ReportedFinding {
        report: FindingReport {
            severity: args.severity,
            title: args.title.trim().to_string(),
            body: args.body.trim().to_string(),
            fix: args.fix,
            outside_change: !change.touches(&path, args.start_line, args.end_line),
            related: args.related,
        },
        path,
        start,
        end,
        text,
    })
}

/// Applies a finding's fix to `view` (all of it or nothing).
pub fn apply_fix(view: &mut TaskView, fix: &str) -> Result<(), String> {
    crate::tools::run(
        crate::tools::APPLY_PATCH,
        &json!({ "input": fix }),
        view,
        TaskMode::Code,
    )
    .map(|_| ())
}

/// A fix must apply to the text the model saw; it is not applied here.
fn check_fix(view: &TaskView, fix: &str) -> Result<(), String> {
    crate::tools::patch_writes(view, fix)
        .map(|_| ())
        .map_err(|e| format!("{REPORT_FINDING}: the fix does not apply: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_in_the_hunks_of_the_diff_are_in_the_change() {
        let diff = "diff --git a/f.txt b/f.txt\n--- a/f.txt\n+++ b/f.txt\n@@ -10,3 +10,4 @@\n a\n-b\n+B\n+C\n d\n";
        let change = ReviewedChange::new("x".into(), diff.into()).unwrap();
        assert!(change.touches("f.txt", 11, 11));
        assert!(change.touches("f.txt", 1, 10));
        assert!(!change.touches("f.txt", 14, 20));
        assert!(!change.touches("g.txt", 11, 11));
    }

    #[test]
    fn a_target_names_exactly_one_change() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let both = ReviewTarget {
            uncommitted: true,
            commit: Some("abc".into()),
            ..ReviewTarget::default()
        };
        let error = runtime
            .block_on(load(&both, Path::new("/"), &HashMap::new()))
            .unwrap_err();
        assert!(error.contains("exactly one"), "{error}");
    }
}
