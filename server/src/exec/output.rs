//! What `agentls exec` prints: JSON lines on stdout with `--json`, or the product on
//! stdout (the diff; the answer with `--ask`) and a readable account on stderr.
//! docs/exec.md documents every line type; add fields, never rename.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::model::Usage;
use crate::proposal::store::git_diff::FileDiff;
use crate::protocol::{
    FileKind, HunkStatus, TaskMode, TaskStatus, TaskUpdate, TaskUpdateParams, ToolCallStatus,
};
use crate::tools;

/// One line of `--json` output.
#[derive(Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
enum Line<'a> {
    /// Always the first line: which task this is (what `exec resume` takes).
    Task {
        task_id: &'a str,
        /// True for `exec resume`: a follow-up of a recorded task.
        resumed: bool,
        root: String,
        prompt: &'a str,
    },
    /// A task update, as `agent/taskUpdate` carries it (docs/protocol.md).
    Update(&'a TaskUpdateParams),
    /// A model turn's token counts.
    Turn {
        task_id: &'a str,
        turn: u32,
        usage: Usage,
    },
    /// The proposal once the task has finished, file by file.
    Proposal {
        task_id: &'a str,
        files: Vec<JsonFile<'a>>,
    },
    /// `--push`: the commit the proposal became and where it went.
    Push {
        task_id: &'a str,
        remote: &'a str,
        #[serde(rename = "ref")]
        git_ref: &'a str,
        commit: &'a str,
    },
    /// Always the last line.
    Result(&'a Outcome<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonFile<'a> {
    path: &'a str,
    kind: FileKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    new_path: Option<&'a str>,
    /// This file's part of the git diff (empty when all its hunks are left out).
    diff: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    left_out: Vec<LeftOut<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LeftOut<'a> {
    hunk_id: &'a str,
    status: HunkStatus,
}

/// How the run ended: the `result` line.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome<'a> {
    pub task_id: &'a str,
    pub status: TaskStatus,
    /// What agentls exits with.
    pub exit_code: u8,
    /// Model turns in this run.
    pub turns: u32,
    /// Summed over this run's turns (as far as the provider reported them).
    pub usage: Usage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_message: Option<String>,
    /// The answer as JSON, when there is an output schema and it matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
}

pub struct Printer {
    json: bool,
    mode: TaskMode,
    /// Human output: whether stderr is at the start of a line.
    line_start: bool,
}

impl Printer {
    pub fn new(json: bool, mode: TaskMode) -> Printer {
        Printer {
            json,
            mode,
            line_start: true,
        }
    }

    pub fn started(&mut self, task_id: &str, root: &Path, prompt: &str, resumed: bool) {
        if self.json {
            return print_line(&Line::Task {
                task_id,
                resumed,
                root: root.display().to_string(),
                prompt,
            });
        }
        let what = if resumed { "resuming task" } else { "task" };
        eprintln!("agentls exec: {what} {task_id} in {}", root.display());
    }

    pub fn update(&mut self, update: &TaskUpdateParams) {
        if self.json {
            print_line(&Line::Update(update));
            if let TaskUpdate::Usage {
                turn,
                input_tokens,
                output_tokens,
                total_tokens,
                ..
            } = update.update
            {
                print_line(&Line::Turn {
                    task_id: &update.task_id,
                    turn,
                    usage: Usage {
                        input_tokens,
                        output_tokens,
                        total_tokens,
                    },
                });
            }
            return;
        }
        if let TaskUpdate::Message { delta } = &update.update {
            eprint!("{delta}");
            self.line_start = delta.ends_with('\n');
            return;
        }
        if let Some(line) = describe(&update.update) {
            if !self.line_start {
                eprintln!();
            }
            eprintln!("{line}");
            self.line_start = true;
        }
    }

    /// The proposal: a `proposal` line, or (completed, code mode) the diff on stdout.
    pub fn proposal(&mut self, task_id: &str, files: &[FileDiff], status: TaskStatus) {
        if self.json {
            let files = files
                .iter()
                .map(|file| JsonFile {
                    path: &file.path,
                    kind: file.kind,
                    new_path: file.new_path.as_deref(),
                    diff: &file.diff,
                    left_out: file
                        .left_out
                        .iter()
                        .map(|(hunk_id, status)| LeftOut {
                            hunk_id,
                            status: *status,
                        })
                        .collect(),
                })
                .collect();
            return print_line(&Line::Proposal { task_id, files });
        }
        if self.mode == TaskMode::Ask {
            return;
        }
        let changed = files.iter().filter(|f| !f.diff.is_empty()).count();
        if status != TaskStatus::Completed {
            if changed > 0 {
                eprintln!(
                    "agentls exec: the partial proposal ({changed} files) is kept, not printed: \
                     `agentls tasks show {task_id} --diff` prints it"
                );
            }
            return;
        }
        let mut stdout = std::io::stdout().lock();
        for file in files {
            let _ = stdout.write_all(file.diff.as_bytes()); // stdout-ok: exec prints the proposal
            // Decided hunks are where the user put them; the others are news.
            let undecided = file.left_out.iter().filter(|(_, status)| {
                !matches!(status, HunkStatus::Accepted | HunkStatus::Rejected)
            });
            for (hunk_id, status) in undecided {
                eprintln!(
                    "agentls exec: hunk {hunk_id} of {} is {} and not in the diff",
                    file.path,
                    wire_name(status)
                );
            }
        }
        let _ = stdout.flush();
        eprintln!("agentls exec: proposal: {changed} files (the diff is on stdout)");
    }

    /// `--push` went through: a `push` line, or a line on stderr.
    pub fn pushed(&mut self, task_id: &str, pushed: &super::push::Pushed) {
        if self.json {
            return print_line(&Line::Push {
                task_id,
                remote: &pushed.remote,
                git_ref: &pushed.git_ref,
                commit: &pushed.commit,
            });
        }
        eprintln!(
            "agentls exec: pushed {} to {} {}",
            pushed.commit, pushed.remote, pushed.git_ref
        );
    }

    /// `--ask`: the answer is the product.
    pub fn answer(&mut self, text: &str) {
        if self.json {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes()); // stdout-ok: exec --ask prints the answer
        if !text.ends_with('\n') {
            let _ = stdout.write_all(b"\n"); // stdout-ok: exec --ask prints the answer
        }
        let _ = stdout.flush();
    }

    pub fn result(&mut self, outcome: Outcome<'_>) {
        if self.json {
            return print_line(&Line::Result(&outcome));
        }
        let usage = outcome.usage;
        eprintln!(
            "agentls exec: {} (exit {}); {} tokens ({} in, {} out) over {} turns",
            wire_name(outcome.status),
            outcome.exit_code,
            usage.total_tokens,
            usage.input_tokens,
            usage.output_tokens,
            outcome.turns
        );
    }
}

/// A non-delta update as one readable line (None: not worth a line).
pub(crate) fn describe(update: &TaskUpdate) -> Option<String> {
    Some(match update {
        TaskUpdate::ToolCall {
            tool,
            title: Some(title),
            status: ToolCallStatus::Running,
            ..
        } => format!("[{tool}] {title}"),
        TaskUpdate::ToolCall {
            tool,
            args,
            status: ToolCallStatus::Running,
            ..
        } => match (tool.as_str(), tools::shell::command_line(args)) {
            (tools::shell::NAME, Some(line)) => format!("$ {line}"),
            (tools::APPLY_PATCH, _) => {
                let input = args
                    .get("input")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let files: Vec<String> = input
                    .lines()
                    .filter_map(|line| {
                        let (verb, path) = line.strip_prefix("*** ")?.split_once(" File: ")?;
                        Some(format!("{} {path}", verb.to_lowercase()))
                    })
                    .collect();
                format!("[apply_patch] {}", files.join(", "))
            }
            _ => format!("[{tool}] {args}"),
        },
        TaskUpdate::ToolResult {
            exit_code: Some(code),
            ..
        } => format!("[exit {code}]"),
        TaskUpdate::ToolResult {
            ok: false, output, ..
        } => format!("[tool error] {}", output.lines().next().unwrap_or_default()),
        TaskUpdate::Plan { plan, .. } => {
            let steps: Vec<String> = plan
                .iter()
                .map(|item| format!("{} ({:?})", item.step, item.status))
                .collect();
            format!("[plan] {}", steps.join("; "))
        }
        TaskUpdate::Error {
            message,
            will_retry: true,
        } => format!("[retrying] {message}"),
        TaskUpdate::Error { message, .. } => format!("[error] {message}"),
        TaskUpdate::Warning { message } => format!("[warning] {message}"),
        TaskUpdate::Compacted {
            estimated_tokens_after,
            ..
        } => {
            format!("[compacted] the conversation now takes about {estimated_tokens_after} tokens")
        }
        TaskUpdate::Accepted { batch, hunk_ids } => {
            format!("[accepted] batch {batch}: {}", hunk_ids.join(", "))
        }
        TaskUpdate::Undone { hunk_ids } => format!("[undone] {}", hunk_ids.join(", ")),
        TaskUpdate::AgentSession {
            agent,
            session_id,
            agent_info,
            resumed,
        } => format!(
            "[agent] {agent}{}: {} session {session_id}",
            agent_info
                .as_ref()
                .map(|info| format!(" ({info})"))
                .unwrap_or_default(),
            if *resumed { "resumed" } else { "new" }
        ),
        TaskUpdate::Finished { status, .. } => format!("[{}]", wire_name(status)),
        _ => return None,
    })
}

/// A command word as a shell would need it quoted.
/// A status as the protocol names it (`completed`, `stale`, …).
pub(crate) fn wire_name(value: impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(name)) => name,
        other => format!("{other:?}"),
    }
}

fn print_line(line: &Line<'_>) {
    if let Ok(text) = serde_json::to_string(line) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}"); // stdout-ok: exec --json output
        let _ = stdout.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(tool: &str, args: Value) -> TaskUpdate {
        TaskUpdate::ToolCall {
            call_id: "c".into(),
            tool: tool.into(),
            args,
            status: ToolCallStatus::Running,
            title: None,
        }
    }

    #[test]
    fn tool_calls_read_as_commands_and_patched_files() {
        let shell = call(
            "shell",
            json!({"command": ["bash", "-c", "echo 'hi' > a.txt"]}),
        );
        assert_eq!(
            describe(&shell).unwrap(),
            r#"$ bash -c 'echo '\''hi'\'' > a.txt'"#
        );
        let patch = call(
            "apply_patch",
            json!({"input": "*** Begin Patch\n*** Update File: a.rs\n@@\n-x\n+y\n*** Add File: b.rs\n+z\n*** End Patch\n"}),
        );
        assert_eq!(
            describe(&patch).unwrap(),
            "[apply_patch] update a.rs, add b.rs"
        );
        let result = TaskUpdate::ToolResult {
            call_id: "c".into(),
            ok: true,
            output: "Exit code: 3".into(),
            exit_code: Some(3),
        };
        assert_eq!(describe(&result).unwrap(), "[exit 3]");
        assert_eq!(wire_name(TaskStatus::Cancelled), "cancelled");
    }
}
