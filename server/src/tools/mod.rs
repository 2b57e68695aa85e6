//! The tools a model may call, by their Codex names (docs/architecture.md, `tools/`), and
//! their dispatch.
//!
//! Every tool works on the task's [`TaskView`], never on the user's tree. A tool failure
//! is an `Err(message)` for the model — it reads the message and tries again; the task
//! goes on.

pub mod grep;
pub mod list_dir;
pub mod read_file;
pub mod shell;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::ToolSpec;
use crate::patch::{self, FileWrite, PatchSource};
use crate::protocol::{PlanItem, TaskMode};
use crate::workspace::TaskView;

pub const APPLY_PATCH: &str = "apply_patch";
pub const UPDATE_PLAN: &str = "update_plan";
/// A review's tool for its findings; defined and run by `crate::review` and the agent.
pub const REPORT_FINDING: &str = "report_finding";

/// What a successful tool call produced besides its text for the model.
#[derive(Debug, Default)]
pub struct ToolOutput {
    pub text: String,
    /// `update_plan` carries the new plan for the client.
    pub plan: Option<(Option<String>, Vec<PlanItem>)>,
    /// True when the call changed files in the task's view.
    pub changed_files: bool,
    /// Images for the model (an MCP tool's image content).
    pub images: Vec<crate::model::ToolImage>,
    /// `shell`: the command's exit code, when it exited on its own.
    pub exit_code: Option<i32>,
}

/// The tools offered in `mode`: `ask` and `review` get the read-only ones only (the
/// agent adds `report_finding` for a review).
pub fn specs(mode: TaskMode) -> Vec<ToolSpec> {
    let mut tools = vec![
        spec(
            read_file::NAME,
            read_file::description(),
            read_file::parameters(),
        ),
        spec(
            list_dir::NAME,
            list_dir::description(),
            list_dir::parameters(),
        ),
        spec(grep::NAME, grep::description(), grep::parameters()),
        spec(
            UPDATE_PLAN,
            update_plan_description(),
            update_plan_parameters(),
        ),
    ];
    if mode.may_write() {
        tools.push(spec(
            APPLY_PATCH,
            apply_patch_description(),
            apply_patch_parameters(),
        ));
        tools.push(spec(shell::NAME, shell::description(), shell::parameters()));
    }
    tools
}

/// Runs one tool call. `mode` is checked again here: a model may call a tool it was not
/// offered, and `ask` must stay read-only whatever it sends.
pub fn run(
    name: &str,
    args: &Value,
    view: &mut TaskView,
    mode: TaskMode,
) -> Result<ToolOutput, String> {
    let text = |result: Result<String, String>| {
        result.map(|text| ToolOutput {
            text,
            ..ToolOutput::default()
        })
    };
    match name {
        read_file::NAME => text(read_file::run(view, args.clone())),
        list_dir::NAME => text(list_dir::run(view, args.clone())),
        grep::NAME => text(grep::run(view, args.clone())),
        UPDATE_PLAN => update_plan(args),
        APPLY_PATCH if mode.may_write() => apply_patch(view, args),
        APPLY_PATCH | shell::NAME if mode == TaskMode::Ask => Err(format!(
            "{name} is not available in ask mode: this task may only read. Answer the question instead."
        )),
        APPLY_PATCH | shell::NAME if mode == TaskMode::Review => Err(format!(
            "{name} is not available in a review: report each problem with {REPORT_FINDING}, with its fix in `fix`."
        )),
        // Commands wait on processes and approvals, so the agent runs them itself.
        shell::NAME => Err(format!("{name} cannot run here; this is a bug in agentls")),
        other => Err(format!(
            "unknown tool `{other}`; available tools: {}",
            specs(mode)
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn spec(name: &str, description: String, parameters: Value) -> ToolSpec {
    ToolSpec {
        name: name.to_string(),
        description,
        parameters,
    }
}

/// The grammar in brief, from the markers the parser reads.
fn apply_patch_description() -> String {
    use patch::{
        ADD_FILE, BEGIN_PATCH, CHUNK_HEADER_PREFIX, DELETE_FILE, END_PATCH, MOVE_TO, UPDATE_FILE,
    };
    format!(
        "Edit files with a patch. The patch is applied atomically: all of it or none. \
Format:\n{BEGIN_PATCH}\n{ADD_FILE} path\n+line\n{UPDATE_FILE} path\n{MOVE_TO} new/path (optional)\n{CHUNK_HEADER_PREFIX}a line near the change, e.g. fn main() {{\n context line\n-removed line\n+added line\n{DELETE_FILE} path\n{END_PATCH}\n\
Paths are relative to the workspace root. Give 3 lines of context around each change; the context must match exactly one place in the file."
    )
}

fn apply_patch_parameters() -> Value {
    use patch::{BEGIN_PATCH, END_PATCH};
    json!({
        "type": "object",
        "properties": {
            "input": {
                "type": "string",
                "description": format!("The whole patch, from {BEGIN_PATCH} to {END_PATCH}.")
            }
        },
        "required": ["input"],
        "additionalProperties": false
    })
}

#[derive(Deserialize)]
struct ApplyPatchArgs {
    input: String,
}

fn apply_patch(view: &mut TaskView, args: &Value) -> Result<ToolOutput, String> {
    let ApplyPatchArgs { input } = serde_json::from_value(args.clone())
        .map_err(|e| format!("{APPLY_PATCH} needs {{\"input\": \"<patch text>\"}}: {e}"))?;
    let (changes, summary) = patch_writes(view, &input)?;
    for change in changes {
        match change {
            FileWrite::Write { path, contents } => {
                let rel = view.resolve(&path).map_err(|e| e.to_string())?;
                view.write(&rel, contents);
            }
            FileWrite::Delete { path } => {
                let rel = view.resolve(&path).map_err(|e| e.to_string())?;
                view.delete(&rel);
            }
        }
    }
    Ok(ToolOutput {
        text: summary,
        changed_files: true,
        ..ToolOutput::default()
    })
}

/// What a Codex patch would write to the view, and its summary; nothing is written.
/// Err: why it does not apply (a path escaping the workspace, context not found).
pub fn patch_writes(view: &TaskView, input: &str) -> Result<(Vec<FileWrite>, String), String> {
    let parsed = patch::parse_patch(input).map_err(|e| e.to_string())?;
    // Refuse escapes before anything is computed, with the view's own explanation.
    for path in parsed.hunks.iter().flat_map(|hunk| hunk.paths()) {
        view.resolve(path).map_err(|e| e.to_string())?;
    }
    let source = ViewSource(view);
    let changes = patch::apply_patch(&parsed, &source).map_err(|e| e.to_string())?;
    let summary = patch::summarize(&changes, &source);
    Ok((changes, summary))
}

/// Lets the patch engine read what the task sees.
struct ViewSource<'a>(&'a TaskView);

impl PatchSource for ViewSource<'_> {
    fn read(&self, path: &str) -> Result<Option<String>, String> {
        let rel = self.0.resolve(path).map_err(|e| e.to_string())?;
        self.0.read(&rel).map_err(|e| e.to_string())
    }
}

fn update_plan_description() -> String {
    "Share your plan with the user: a short list of steps, each pending, in_progress or completed. \
Call it again as steps progress; at most one step is in_progress."
        .to_string()
}

fn update_plan_parameters() -> Value {
    json!({
        "type": "object",
        "properties": {
            "explanation": { "type": "string" },
            "plan": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "step": { "type": "string" },
                        "status": { "type": "string", "enum": ["pending", "in_progress", "completed"] }
                    },
                    "required": ["step", "status"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["plan"],
        "additionalProperties": false
    })
}

#[derive(Deserialize)]
struct UpdatePlanArgs {
    #[serde(default)]
    explanation: Option<String>,
    plan: Vec<PlanItem>,
}

fn update_plan(args: &Value) -> Result<ToolOutput, String> {
    let UpdatePlanArgs { explanation, plan } = serde_json::from_value(args.clone()).map_err(|e| {
        format!("{UPDATE_PLAN} needs {{\"plan\": [{{\"step\": \"…\", \"status\": \"pending|in_progress|completed\"}}]}}: {e}")
    })?;
    let in_progress = plan
        .iter()
        .filter(|item| item.status == crate::protocol::PlanStatus::InProgress)
        .count();
    if in_progress > 1 {
        return Err(format!(
            "{UPDATE_PLAN}: {in_progress} steps are in_progress; mark at most one."
        ));
    }
    Ok(ToolOutput {
        text: "Plan updated".into(),
        plan: Some((explanation, plan)),
        ..ToolOutput::default()
    })
}
