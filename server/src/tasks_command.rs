//! `agentls tasks list|show|rm`: a workspace's task history on the command line, read
//! the way a server starting there reads it (`Engine::new` loads the workspace's task
//! logs; a task another running server holds is not among them).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::oneshot;

use crate::documents::PositionEncoding;
use crate::engine::{Engine, EngineError, EngineSettings};
use crate::exec::{self, exit};
use crate::model::Item;
use crate::proposal::store::ProposalStore;
use crate::protocol::{
    ApprovalDecision, ApprovalRequestParams, FileKind, HunkInfo, HunkStatus, ListTasksResult,
    TaskSummary, TaskUpdate, TaskUpdateParams,
};
use crate::task::log::ItemRecord;
use crate::task::{ClientSink, ProgressEvent, now_ms};

#[derive(Debug, clap::Args)]
pub struct TasksArgs {
    /// The workspace: DIR instead of the current directory.
    #[arg(short = 'C', long = "cd", value_name = "DIR", global = true)]
    pub cd: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: TasksCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum TasksCommand {
    /// This workspace's tasks, newest first: id, status, age, prompt.
    List,
    /// One task: what it was asked, its conversation and updates, its proposal as a diff.
    Show {
        task_id: String,
        /// Print only the proposal's undecided hunks as a diff, ready for `git apply`.
        #[arg(long, conflicts_with = "json")]
        diff: bool,
    },
    /// Delete a finished task: its hunks, its log and the texts only it used.
    Rm { task_id: String },
}

pub async fn run(settings: EngineSettings, args: TasksArgs) -> ExitCode {
    let root = match exec::workspace_root(args.cd.as_deref()) {
        Ok(root) => root,
        Err(message) => return fail(exit::USAGE, &message),
    };
    if !settings.journal.is_on() {
        return fail(
            exit::FAILED,
            "task history is off (cannot write $AGENTLS_HOME/tasks); there are no tasks to show",
        );
    }
    let store = ProposalStore::new(root.clone(), PositionEncoding::Utf8);
    let engine = Engine::new(root, store, Arc::new(Quiet), settings);
    match args.command {
        TasksCommand::List => list(&engine, args.json),
        TasksCommand::Show { task_id, diff } => show(&engine, &task_id, args.json, diff),
        TasksCommand::Rm { task_id } => match engine.delete_task(&task_id) {
            Ok(()) => {
                eprintln!("agentls tasks: deleted task {task_id}");
                ExitCode::SUCCESS
            }
            Err(EngineError::UnknownTask(id)) => {
                fail(exit::USAGE, &exec::unknown_task(&engine, &id))
            }
            Err(error) => fail(exit::FAILED, &error.to_string()),
        },
    }
}

fn list(engine: &Engine, json: bool) -> ExitCode {
    let mut tasks = engine.tasks.list();
    tasks.reverse();
    if json {
        print_json(&ListTasksResult { tasks });
        return ExitCode::SUCCESS;
    }
    if tasks.is_empty() {
        eprintln!("agentls tasks: no tasks in {}", engine.root().display());
    }
    let now = now_ms();
    let mut out = String::new();
    for task in &tasks {
        out.push_str(&format!(
            "{}  {:<11}  {:>8}  {}\n",
            task.task_id,
            exec::wire_name(task.status),
            age(now, task.created_at),
            one_line(&task.prompt, 72)
        ));
    }
    print_text(&out);
    ExitCode::SUCCESS
}

/// `tasks show --json`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ShowJson<'a> {
    task: TaskSummary,
    /// The conversation as the model saw it.
    conversation: Vec<ItemRecord>,
    /// Every update the task sent, in `seq` order.
    events: Vec<TaskUpdateParams>,
    proposal: Vec<ShowFile<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ShowFile<'a> {
    path: &'a str,
    kind: FileKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    new_path: Option<&'a str>,
    /// The undecided hunks as a git diff (empty when none is left).
    diff: &'a str,
    hunks: Vec<HunkInfo>,
}

fn show(engine: &Engine, task_id: &str, json: bool, diff_only: bool) -> ExitCode {
    let task = match engine.task(task_id) {
        Ok(task) => task,
        Err(_) => return fail(exit::USAGE, &exec::unknown_task(engine, task_id)),
    };
    let diffs = engine.store().git_diff(task_id).unwrap_or_default();
    let diff: String = diffs.iter().map(|f| f.diff.as_str()).collect();
    if diff_only {
        print_text(&diff);
        return ExitCode::SUCCESS;
    }
    let hunks: Vec<Vec<HunkInfo>> = {
        let store = engine.store();
        let page = store.view_page(task_id, None, None, usize::MAX).ok();
        let mut by_file: Vec<Vec<HunkInfo>> = Vec::new();
        for file in &diffs {
            by_file.push(
                page.iter()
                    .flat_map(|p| &p.files)
                    .find(|f| f.path == file.path)
                    .map(|f| f.hunks.clone())
                    .unwrap_or_default(),
            );
        }
        by_file
    };
    let summary = task.summary();
    let history = task.history();
    let events = task.events();
    if json {
        print_json(&ShowJson {
            task: summary,
            conversation: history.items.iter().map(ItemRecord::from).collect(),
            events,
            proposal: diffs
                .iter()
                .zip(hunks)
                .map(|(file, hunks)| ShowFile {
                    path: &file.path,
                    kind: file.kind,
                    new_path: file.new_path.as_deref(),
                    diff: &file.diff,
                    hunks,
                })
                .collect(),
        });
        return ExitCode::SUCCESS;
    }
    let now = now_ms();
    let mut out = format!("task     {}\n", summary.task_id);
    let finished = summary
        .finished_at
        .map(|at| format!(", finished {}", age(now, at)))
        .unwrap_or_default();
    out.push_str(&format!(
        "status   {} ({} mode, created {}{finished})\n",
        exec::wire_name(summary.status),
        exec::wire_name(summary.mode),
        age(now, summary.created_at),
    ));
    out.push_str(&format!("prompt   {}\n", indent_rest(&summary.prompt, 9)));
    if let Some(text) = &summary.summary {
        out.push_str(&format!("summary  {}\n", indent_rest(text, 9)));
    }
    out.push_str("\nconversation\n");
    for item in &history.items {
        out.push_str(&conversation_entry(item));
    }
    let notable: Vec<String> = events
        .iter()
        .filter(|e| {
            !matches!(
                e.update,
                TaskUpdate::ToolCall { .. } | TaskUpdate::ToolResult { .. }
            )
        })
        .filter_map(|e| exec::describe(&e.update).map(|line| format!("  {:>4}  {line}\n", e.seq)))
        .collect();
    if !notable.is_empty() {
        out.push_str("\nupdates\n");
        out.extend(notable);
    }
    let mut counts: Vec<(HunkStatus, usize)> = Vec::new();
    for hunk in hunks.iter().flatten() {
        match counts.iter_mut().find(|(status, _)| *status == hunk.status) {
            Some((_, n)) => *n += 1,
            None => counts.push((hunk.status, 1)),
        }
    }
    let counts: Vec<String> = counts
        .iter()
        .map(|(status, n)| format!("{n} {}", exec::wire_name(status)))
        .collect();
    out.push_str(&format!(
        "\nproposal: {} files, {} hunks{}\n",
        diffs.len(),
        hunks.iter().map(Vec::len).sum::<usize>(),
        if counts.is_empty() {
            String::new()
        } else {
            format!(" ({})", counts.join(", "))
        }
    ));
    out.push_str(&diff);
    print_text(&out);
    ExitCode::SUCCESS
}

/// Tool output shown per entry; the rest is counted.
const SHOWN_LINES: usize = 12;

fn conversation_entry(item: &Item) -> String {
    let block = |label: &str, text: &str| {
        let lines: Vec<&str> = text.lines().collect();
        let mut out = format!("  {label}\n");
        for line in lines.iter().take(SHOWN_LINES) {
            out.push_str(&format!("    {line}\n"));
        }
        if lines.len() > SHOWN_LINES {
            out.push_str(&format!(
                "    … ({} more lines)\n",
                lines.len() - SHOWN_LINES
            ));
        }
        out
    };
    match item {
        Item::User(text) => block("user:", text),
        Item::Assistant(text) => block("assistant:", text),
        Item::ToolCall(call) => format!("  tool call {} {}\n", call.name, call.arguments),
        Item::ToolOutput { output, .. } => block("tool output:", output),
    }
}

/// "12s ago", "5m ago", "3h ago", "2d ago".
fn age(now: u64, at: u64) -> String {
    let seconds = now.saturating_sub(at) / 1000;
    match seconds {
        s if s < 60 => format!("{s}s ago"),
        s if s < 3600 => format!("{}m ago", s / 60),
        s if s < 86_400 => format!("{}h ago", s / 3600),
        s => format!("{}d ago", s / 86_400),
    }
}

/// The first line, cut to `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= max && !text.trim_end().contains('\n') {
        return line.to_string();
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// Later lines indented under the first, for a labelled field.
fn indent_rest(text: &str, by: usize) -> String {
    text.trim_end()
        .replace('\n', &format!("\n{}", " ".repeat(by)))
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("agentls tasks: {message}");
    ExitCode::from(code)
}

fn print_text(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes()); // stdout-ok: agentls tasks output
    let _ = stdout.flush();
}

fn print_json(value: &impl Serialize) {
    if let Ok(text) = serde_json::to_string(value) {
        print_text(&format!("{text}\n"));
    }
}

/// Nothing runs here: updates of the loaded tasks go nowhere.
struct Quiet;

impl ClientSink for Quiet {
    fn task_update(&self, _update: &TaskUpdateParams) {}

    fn progress(&self, _task_id: &str, _event: ProgressEvent) {}

    fn request_approval(
        &self,
        _request: ApprovalRequestParams,
    ) -> oneshot::Receiver<ApprovalDecision> {
        oneshot::channel().1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_prompt_lines_read_at_a_glance() {
        assert_eq!(age(100_000, 95_000), "5s ago");
        assert_eq!(age(10_000_000, 10_000_000 - 3 * 60_000), "3m ago");
        assert_eq!(age(0, 1), "0s ago");
        assert_eq!(age(3 * 86_400_000, 0), "3d ago");
        assert_eq!(one_line("fix it", 72), "fix it");
        assert_eq!(one_line("fix it\nand more", 72), "fix it…");
        assert_eq!(one_line("abcdef", 4), "abc…");
    }
}
