//! `workspace/executeCommand`: everything agentls does, for clients that can send
//! nothing but standard LSP (Helix, Emacs eglot, plain Neovim, Kate, Sublime, …). The
//! commands are advertised in `executeCommandProvider`; each takes one JSON object —
//! the same fields as its `agent/*` request, with `taskId` optional where the latest
//! task is the obvious one — and `agent.startTask` and `agent.followUp` also take a plain
//! string, the prompt, which is what a user can type most easily
//! (`:lsp-workspace-command agent.startTask "add tests"` in Helix).
//!
//! A client without the agentls protocol ignores the replies, so what a command started
//! or found is also told in a `window/showMessage` (see `sink.rs`).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{MessageType, ShowDocumentParams, Uri};

use super::{Backend, engine_error, invalid_params, review, to_value};
use crate::engine::{Engine, plural};
use crate::protocol::{
    ACCEPT_HUNKS_COMMAND, APPLY_FIX_COMMAND, ApplyFixResult, AttemptInfo, CANCEL_TASK_COMMAND,
    CHOOSE_ATTEMPT_COMMAND, CancelTaskParams, ChooseAttemptCommandArgs, ChooseAttemptCommandResult,
    ContextRef, DISMISS_FINDING_COMMAND, DismissFindingParams, FOLLOW_UP_COMMAND,
    FindingCommandArgs, FollowUpCommandArgs, FollowUpParams, HunkStatus, IMPORT_DIFF_COMMAND,
    ImportDiffParams, REFRESH_PROPOSAL_COMMAND, REJECT_HUNKS_COMMAND, RefreshCommandArgs,
    RefreshProposalParams, SHOW_PROPOSAL_COMMAND, START_TASK_COMMAND, ShowProposalResult,
    StartTaskCommandArgs, StartTaskParams, TaskCommandArgs, UNDO_HUNKS_COMMAND,
};
use crate::uri;

/// Every command, as `initialize` advertises them.
pub const COMMANDS: &[&str] = &[
    START_TASK_COMMAND,
    CANCEL_TASK_COMMAND,
    FOLLOW_UP_COMMAND,
    IMPORT_DIFF_COMMAND,
    REFRESH_PROPOSAL_COMMAND,
    SHOW_PROPOSAL_COMMAND,
    CHOOSE_ATTEMPT_COMMAND,
    ACCEPT_HUNKS_COMMAND,
    REJECT_HUNKS_COMMAND,
    UNDO_HUNKS_COMMAND,
    APPLY_FIX_COMMAND,
    DISMISS_FINDING_COMMAND,
];

/// How long `agent.showProposal` waits for the editor to say it opened the diff.
const SHOW_DOCUMENT_WAIT: Duration = Duration::from_secs(5);

pub async fn execute(backend: &Backend, command: &str, arguments: Vec<Value>) -> Result<Value> {
    let engine = backend.engine()?;
    let argument = arguments.into_iter().next().unwrap_or(Value::Null);
    match command {
        ACCEPT_HUNKS_COMMAND | REJECT_HUNKS_COMMAND | UNDO_HUNKS_COMMAND => {
            review::hunk_command(
                engine,
                &backend.client,
                &backend.sink,
                command,
                vec![argument],
            )
            .await
        }
        START_TASK_COMMAND => start_task(backend, engine, argument).await,
        CANCEL_TASK_COMMAND => {
            let args: TaskCommandArgs = object(command, argument, "{taskId?, revert?}")?;
            let task_id = task_or_latest(engine, args.task_id, Latest::Running)?;
            backend
                .cancel_task(CancelTaskParams {
                    task_id: task_id.clone(),
                    revert: args.revert,
                })
                .await?;
            Ok(json!({ "taskId": task_id }))
        }
        FOLLOW_UP_COMMAND => {
            let args: FollowUpCommandArgs = match argument {
                Value::String(prompt) => FollowUpCommandArgs {
                    task_id: None,
                    prompt,
                },
                other => object(command, other, "{taskId?, prompt} or a prompt")?,
            };
            let task_id = task_or_latest(engine, args.task_id, Latest::Any)?;
            let result = backend
                .follow_up(FollowUpParams {
                    task_id,
                    prompt: args.prompt,
                })
                .await?;
            told(backend, engine, &result.task_id, "following up on");
            Ok(to_value(&result))
        }
        IMPORT_DIFF_COMMAND => {
            let params: ImportDiffParams =
                object(command, argument, "{diff | path | url | gitRef}")?;
            let result = backend.import_diff(params).await?;
            told(backend, engine, &result.task_id, "importing");
            Ok(to_value(&result))
        }
        REFRESH_PROPOSAL_COMMAND => {
            let args: RefreshCommandArgs = object(command, argument, "{taskId?, hunkIds?}")?;
            let task_id = task_or_latest(engine, args.task_id, Latest::Any)?;
            let result = backend
                .refresh_proposal(RefreshProposalParams {
                    task_id: task_id.clone(),
                    hunk_ids: args.hunk_ids,
                })
                .await?;
            let again = result
                .hunks
                .iter()
                .filter(|h| h.status == HunkStatus::Pending)
                .count();
            backend.sink.tell(
                MessageType::INFO,
                format!(
                    "agentls: refreshed {}: {again} pending again, {} still stale",
                    plural(result.hunks.len(), "hunk"),
                    result.hunks.len() - again
                ),
            );
            Ok(to_value(&result))
        }
        SHOW_PROPOSAL_COMMAND => {
            let args: TaskCommandArgs = object(command, argument, "{taskId?}")?;
            let task_id = task_or_latest(engine, args.task_id, Latest::Any)?;
            show_proposal(backend, engine, &task_id).await
        }
        CHOOSE_ATTEMPT_COMMAND => choose_attempt(backend, engine, argument),
        APPLY_FIX_COMMAND => {
            let args: FindingCommandArgs = object(command, argument, "{taskId, findingId}")?;
            let hunk_ids = engine
                .apply_fix(&args.task_id, &args.finding_id)
                .map_err(engine_error)?;
            backend.sink.hunks_changed(&args.task_id);
            backend.sink.tell(
                MessageType::INFO,
                format!(
                    "agentls: the fix of {} is {} to review: {}",
                    args.finding_id,
                    plural(hunk_ids.len(), "pending hunk"),
                    hunk_ids.join(", ")
                ),
            );
            Ok(to_value(&ApplyFixResult {
                task_id: args.task_id,
                hunk_ids,
            }))
        }
        DISMISS_FINDING_COMMAND => {
            let args: FindingCommandArgs =
                object(command, argument, "{taskId, findingId, reason?}")?;
            backend
                .dismiss_finding(DismissFindingParams {
                    task_id: args.task_id,
                    finding_id: args.finding_id,
                    reason: args.reason,
                })
                .await?;
            Ok(json!({}))
        }
        other => Err(invalid_params(format!(
            "unknown command `{other}`; agentls runs {}",
            COMMANDS.join(", ")
        ))),
    }
}

/// `agent.startTask`: the selection (`uri` + `range`) or file (`uri`) the user is in
/// becomes context, as `agent/startTask`'s `context` would.
async fn start_task(backend: &Backend, engine: &Engine, argument: Value) -> Result<Value> {
    let args: StartTaskCommandArgs = match argument {
        Value::String(prompt) => StartTaskCommandArgs {
            params: StartTaskParams {
                prompt,
                ..StartTaskParams::default()
            },
            ..StartTaskCommandArgs::default()
        },
        other => object(
            START_TASK_COMMAND,
            other,
            "{prompt, mode?, agent?, uri?, range?} or a prompt",
        )?,
    };
    let mut params = args.params;
    if let Some(uri) = args.uri {
        params.context.push(ContextRef {
            uri,
            range: args.range,
        });
    }
    let result = backend.start_task(params).await?;
    told(backend, engine, &result.task_id, "started");
    Ok(to_value(&result))
}

/// `agent.chooseAttempt`: chooses an attempt of a best-of-N task, or without one lists
/// them, since a plain client has no other way to see them.
fn choose_attempt(backend: &Backend, engine: &Engine, argument: Value) -> Result<Value> {
    let args: ChooseAttemptCommandArgs = match argument {
        Value::Number(number) => ChooseAttemptCommandArgs {
            task_id: None,
            attempt: number.as_u64().and_then(|n| u32::try_from(n).ok()),
        },
        other => object(
            CHOOSE_ATTEMPT_COMMAND,
            other,
            "{taskId?, attempt?} or an attempt's number",
        )?,
    };
    let task_id = task_or_latest(engine, args.task_id, Latest::WithAttempts)?;
    let name = engine.task(&task_id).map_err(engine_error)?.short_name();
    if let Some(attempt) = args.attempt {
        engine
            .choose_attempt(&task_id, attempt)
            .map_err(engine_error)?;
        backend.sink.tell(
            MessageType::INFO,
            format!("agentls: chose attempt {attempt} of “{name}”; its hunks are yours to review"),
        );
    }
    let (attempts, chosen_attempt) = engine.attempt_infos(&task_id);
    if attempts.is_empty() {
        return Err(invalid_params(format!(
            "task “{name}” ({task_id}) has no attempts; start one with agent.startTask {{\"prompt\": …, \"bestOf\": 3}}"
        )));
    }
    if args.attempt.is_none() {
        let rows: Vec<String> = attempts
            .iter()
            .map(|a| attempt_line(a, chosen_attempt))
            .collect();
        backend.sink.tell(
            MessageType::INFO,
            format!(
                "agentls: attempts of “{name}”:\n{}\nchoose one with agent.chooseAttempt and its number",
                rows.join("\n")
            ),
        );
    }
    Ok(to_value(&ChooseAttemptCommandResult {
        task_id,
        attempts,
        chosen_attempt,
    }))
}

/// One attempt as a line of text: `2: completed, +3 −1 in 1 file, `cargo test` exited 0 —
/// Fixed the parser. (chosen)`.
fn attempt_line(attempt: &AttemptInfo, chosen: Option<u32>) -> String {
    let mut line = format!(
        "{}: {}, +{} −{} in {}",
        attempt.attempt,
        attempt.status.name(),
        attempt.added,
        attempt.removed,
        plural(attempt.files, "file")
    );
    if let Some(last) = &attempt.last_command {
        line.push_str(&format!(", `{}` exited {}", last.command, last.exit_code));
    }
    if let Some(summary) = &attempt.summary {
        line.push_str(&format!(" — {summary}"));
    }
    if chosen == Some(attempt.attempt) {
        line.push_str(" (chosen)");
    }
    line
}

/// `agent.showProposal`: the task's proposal as a unified diff (`git apply` takes it) in
/// `proposal.diff` of the task's directory, opened with `window/showDocument` where the
/// client can; otherwise the user is told where it is.
async fn show_proposal(backend: &Backend, engine: &Engine, task_id: &str) -> Result<Value> {
    let task = engine.task(task_id).map_err(engine_error)?;
    let diffs = engine.store().git_diff(task_id).unwrap_or_default();
    let left_out: Vec<String> = diffs
        .iter()
        .flat_map(|file| &file.left_out)
        .map(|(id, status)| {
            let status = serde_json::to_value(status).unwrap_or(Value::Null);
            format!("{id} ({})", status.as_str().unwrap_or("decided"))
        })
        .collect();
    let files = diffs.iter().filter(|file| !file.diff.is_empty()).count();
    let mut text = format!(
        "# agentls: the undecided hunks of task {task_id} (“{}”) as a diff of the current text.\n",
        task.short_name()
    );
    if !left_out.is_empty() {
        text.push_str(&format!("# Left out: {}.\n", left_out.join(", ")));
    }
    text.push('\n');
    for file in &diffs {
        text.push_str(&file.diff);
    }
    let path = engine.task_dir(task_id).join("proposal.diff");
    write_whole(&path, &text).map_err(|error| {
        invalid_params(format!(
            "cannot write the proposal to {}: {error}",
            path.display()
        ))
    })?;
    let uri = uri::from_path(&path);
    let shown = backend.show_document_supported() && show_document(backend, &uri).await;
    if !shown {
        backend.sink.tell(
            MessageType::INFO,
            format!(
                "agentls: the proposal of “{}” ({}) is in {}",
                task.short_name(),
                plural(files, "file"),
                path.display()
            ),
        );
    }
    Ok(to_value(&ShowProposalResult {
        task_id: task_id.to_string(),
        uri,
        files,
        left_out: left_out.len(),
        shown,
    }))
}

async fn show_document(backend: &Backend, uri: &str) -> bool {
    let Ok(uri) = Uri::from_str(uri) else {
        return false;
    };
    let params = ShowDocumentParams {
        uri,
        external: Some(false),
        take_focus: Some(true),
        selection: None,
    };
    matches!(
        tokio::time::timeout(SHOW_DOCUMENT_WAIT, backend.client.show_document(params)).await,
        Ok(Ok(true))
    )
}

/// Replaces `path` with `text` whole (a reader never sees half a file).
fn write_whole(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let staging = dir.join(format!(".proposal-{}.tmp", std::process::id()));
    std::fs::write(&staging, text)?;
    std::fs::rename(&staging, path)
}

/// Tells a plain client what a command set off, naming the task.
fn told(backend: &Backend, engine: &Engine, task_id: &str, what: &str) {
    let name = engine
        .task(task_id)
        .map_or_else(|_| task_id.to_string(), |task| task.short_name());
    backend.sink.tell(
        MessageType::INFO,
        format!("agentls: {what} “{name}” ({task_id}); you will be told when it ends"),
    );
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Latest {
    Any,
    Running,
    /// A best-of-N task, finished or not.
    WithAttempts,
}

/// The task a command names, else the most recent one (still running, for a cancel).
fn task_or_latest(engine: &Engine, task_id: Option<String>, latest: Latest) -> Result<String> {
    if let Some(task_id) = task_id {
        return Ok(task_id);
    }
    engine
        .tasks
        .list()
        .into_iter()
        .rev()
        .find(|task| match latest {
            Latest::Any => true,
            Latest::Running => !task.status.is_finished(),
            Latest::WithAttempts => !engine.attempt_infos(&task.task_id).0.is_empty(),
        })
        .map(|task| task.task_id)
        .ok_or_else(|| {
            invalid_params(match latest {
                Latest::Any => "there is no task yet; start one with agent.startTask".into(),
                Latest::Running => "no task is running".into(),
                Latest::WithAttempts => "no task has attempts; start one with agent.startTask {\"prompt\": …, \"bestOf\": 3}".into(),
            })
        })
}

/// A command's one argument as `T` (none at all: `T` from `{}`).
fn object<T: DeserializeOwned>(command: &str, argument: Value, shape: &str) -> Result<T> {
    let argument = if argument.is_null() {
        json!({})
    } else {
        argument
    };
    serde_json::from_value(argument)
        .map_err(|error| invalid_params(format!("{command} takes one argument {shape}: {error}")))
}
