//! Reviewing proposals from the editor: `agent/getProposal`, `agent/resolveHunks`,
//! `agent/undoHunks`, `agent/refreshProposal`, and the code actions and commands that
//! lead to them.
//!
//! The proposal store decides; this module only translates. Edits the store wants the
//! editor to make go out as one `workspace/applyEdit` per request, in the background (no
//! handler waits on the client), and the editor's answer is fed back to the store.

use std::sync::Arc;

use serde_json::Value;
use tower_lsp_server::Client;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, Command,
};

use super::{convert, engine_error, invalid_params};
use crate::engine::Engine;
use crate::proposal::Direction;
use crate::proposal::store::{EditPlan, PageError};
use crate::protocol::{
    self as proto, ACCEPT_CODE_ACTION_KIND, ACCEPT_HUNKS_COMMAND, DEFAULT_PROPOSAL_PAGE,
    GetProposalParams, HunkCommandArgs, HunkState, HunkStatus, REJECT_CODE_ACTION_KIND,
    REJECT_HUNKS_COMMAND, RefreshProposalParams, RefreshProposalResult, ResolveHunksParams,
    ResolveHunksResult, TaskUpdate, UNDO_CODE_ACTION_KIND, UNDO_HUNKS_COMMAND, UndoHunksParams,
    UndoHunksResult,
};
use crate::task::log::DecisionAction;
use crate::uri;

pub fn get_proposal(engine: &Engine, params: GetProposalParams) -> Result<proto::Proposal> {
    engine.task(&params.task_id).map_err(engine_error)?;
    let path = match &params.uri {
        Some(file) => Some(
            uri::to_relative(engine.root(), file)
                .ok_or_else(|| invalid_params(format!("{file} is not a file in the workspace")))?,
        ),
        None => None,
    };
    let limit = params.limit.unwrap_or(DEFAULT_PROPOSAL_PAGE).max(1);
    let page = engine.store().view_page(
        &params.task_id,
        path.as_deref(),
        params.cursor.as_deref(),
        limit,
    );
    let page = match page {
        Ok(page) => page,
        // A task that changed nothing (yet) has an empty proposal.
        Err(PageError::NoProposal { .. }) => {
            return Ok(proto::Proposal {
                task_id: params.task_id,
                files: Vec::new(),
                next_cursor: None,
                total_files: 0,
                total_hunks: 0,
            });
        }
        Err(problem) => {
            return Err(invalid_params(format!(
                "{problem}; pass the `nextCursor` of the previous page, or no cursor to start over"
            )));
        }
    };
    Ok(proto::Proposal {
        task_id: params.task_id,
        files: page
            .files
            .into_iter()
            .map(|file| proto::ProposalFile {
                uri: uri::from_relative(engine.root(), &file.path),
                kind: file.kind,
                new_uri: file
                    .new_path
                    .map(|path| uri::from_relative(engine.root(), &path)),
                base_version: file.version,
                hunks: file.hunks,
            })
            .collect(),
        next_cursor: page.next_cursor,
        total_files: page.total_files,
        total_hunks: page.total_hunks,
    })
}

/// Rejections take effect at once; accepts are written (files not open) or sent to the
/// editor as one `workspace/applyEdit` and confirmed by a `hunks` update.
pub fn resolve(
    engine: &Arc<Engine>,
    client: &Client,
    params: ResolveHunksParams,
) -> Result<ResolveHunksResult> {
    engine.task(&params.task_id).map_err(engine_error)?;
    let task_id = params.task_id.clone();
    let edited: Vec<String> = params.edits.iter().map(|e| e.hunk_id.clone()).collect();
    let requested: Vec<String> = params
        .accept
        .iter()
        .chain(&edited)
        .chain(&params.reject)
        .cloned()
        .collect();
    let wanted: Vec<String> = params.accept.iter().chain(&edited).cloned().collect();
    let plan = engine.resolve(&task_id, &wanted, |store, reads| {
        let blockers = store.accept_blockers(&task_id, &wanted);
        if !blockers.is_empty() {
            let reasons: Vec<&str> = blockers.iter().map(|b| b.reason.as_str()).collect();
            return Err(invalid_params(format!(
                "nothing was applied: {}",
                reasons.join("; ")
            )));
        }
        let rejected = store.reject(&task_id, &params.reject, params.reason.as_deref());
        if !rejected.is_empty() {
            let reason = params.reason.as_deref();
            engine.log_decision(
                &task_id,
                DecisionAction::Reject,
                &rejected,
                reason,
                Vec::new(),
            );
        }
        Ok(store.begin_accept_with(&task_id, &params.accept, &params.edits, reads))
    })?;
    let hunks = engine.store().hunk_states(&task_id, &requested);
    let refused = plan.refused.clone();
    let applied = send_plan(engine, client, &task_id, plan, Direction::Accept);
    Ok(ResolveHunksResult {
        applied,
        hunks,
        refused,
    })
}

pub fn undo(
    engine: &Arc<Engine>,
    client: &Client,
    params: UndoHunksParams,
) -> Result<UndoHunksResult> {
    engine.task(&params.task_id).map_err(engine_error)?;
    let Ok(plan) = engine.resolve(&params.task_id, &params.hunk_ids, |store, reads| {
        Ok::<_, std::convert::Infallible>(store.begin_undo_with(
            &params.task_id,
            &params.hunk_ids,
            reads,
        ))
    });
    let hunks = engine
        .store()
        .hunk_states(&params.task_id, &params.hunk_ids);
    let refused = plan.refused.clone();
    let applied = send_plan(engine, client, &params.task_id, plan, Direction::Undo);
    Ok(UndoHunksResult {
        applied,
        hunks,
        refused,
    })
}

pub fn refresh(engine: &Engine, params: RefreshProposalParams) -> Result<RefreshProposalResult> {
    let hunks = engine
        .refresh(&params.task_id, &params.hunk_ids)
        .map_err(engine_error)?;
    Ok(RefreshProposalResult { hunks })
}

/// Sends the plan's editor part, if any, and reports the outcome as a `hunks` update
/// (and an `error` update when the editor refuses). Returns whether an edit was sent.
fn send_plan(
    engine: &Arc<Engine>,
    client: &Client,
    task_id: &str,
    plan: EditPlan,
    direction: Direction,
) -> bool {
    if !plan.written.is_empty() {
        record(engine, task_id, direction, plan.written.clone());
        let states = engine.store().hunk_states(task_id, &plan.written);
        notify(engine, task_id, states);
    }
    if plan.editor.is_empty() {
        return false;
    }
    let edit = convert::workspace_edit(engine.root(), &plan.editor);
    let ids: Vec<String> = plan
        .editor
        .iter()
        .flat_map(|file| file.hunk_ids.iter().cloned())
        .collect();
    let (engine, client, task_id) = (engine.clone(), client.clone(), task_id.to_string());
    tokio::spawn(async move {
        let refused = match client.apply_edit(edit).await {
            Ok(response) if response.applied => None,
            Ok(response) => Some(
                response
                    .failure_reason
                    .unwrap_or_else(|| "the editor did not apply the edit".into()),
            ),
            Err(error) => Some(error.to_string()),
        };
        let states = engine.update_store(|store| {
            match (&refused, direction) {
                (None, _) => store.confirm_applied(&task_id, &ids),
                (Some(_), Direction::Accept) => store.abort_accept(&task_id, &ids),
                (Some(_), Direction::Undo) => store.abort_undo(&task_id, &ids),
            }
            store.hunk_states(&task_id, &ids)
        });
        if refused.is_none() {
            record(&engine, &task_id, direction, ids.clone());
        }
        if let Some(reason) = refused {
            tracing::warn!("{direction:?} of {ids:?} refused by the editor: {reason}");
            if let Ok(task) = engine.task(&task_id) {
                let outcome = match direction {
                    Direction::Accept => "the accepted hunks are pending again",
                    Direction::Undo => "the hunks stay accepted",
                };
                task.emit(TaskUpdate::Error {
                    message: format!("the editor refused the edit ({reason}); {outcome}"),
                    will_retry: false,
                });
            }
        }
        notify(&engine, &task_id, states);
    });
    true
}

/// Puts a decision that took effect in the task's history (its event log): what
/// `agent/undoHunks` can take back, batch by batch.
fn record(engine: &Engine, task_id: &str, direction: Direction, hunk_ids: Vec<String>) {
    let Ok(task) = engine.task(task_id) else {
        return;
    };
    let (action, edits) = match direction {
        Direction::Accept => (
            DecisionAction::Accept,
            engine.store().user_texts(task_id, &hunk_ids),
        ),
        Direction::Undo => (DecisionAction::Undo, Vec::new()),
    };
    engine.log_decision(task_id, action, &hunk_ids, None, edits);
    task.emit(match direction {
        Direction::Accept => TaskUpdate::Accepted {
            batch: task.next_batch(),
            hunk_ids,
        },
        Direction::Undo => TaskUpdate::Undone { hunk_ids },
    });
}

fn notify(engine: &Engine, task_id: &str, hunks: Vec<HunkState>) {
    if let Ok(task) = engine.task(task_id) {
        task.emit(TaskUpdate::Hunks { hunks });
    }
}

/// Accept/reject for pending hunks under the cursor, undo for accepted ones, and
/// accept/reject of every pending hunk in the file per task (by `uri`, so the action
/// stays small however many hunks the file has).
pub fn code_actions(engine: &Engine, params: CodeActionParams) -> Vec<CodeActionOrCommand> {
    let Some(path) = uri::to_relative(engine.root(), params.text_document.uri.as_str()) else {
        return Vec::new();
    };
    let here = engine
        .store()
        .hunks_at(&path, convert::range_from_lsp(params.range));
    let file_uri = params.text_document.uri.as_str().to_string();
    let mut actions = Vec::new();
    let mut pending_tasks: Vec<&str> = Vec::new();
    for hunk in &here {
        let ids = vec![hunk.hunk_id.clone()];
        match hunk.status {
            HunkStatus::Pending => {
                actions.push(action(
                    Action::Accept,
                    "Accept hunk",
                    &hunk.task_id,
                    ids.clone(),
                    None,
                ));
                actions.push(action(
                    Action::Reject,
                    "Reject hunk",
                    &hunk.task_id,
                    ids,
                    None,
                ));
                if !pending_tasks.contains(&hunk.task_id.as_str()) {
                    pending_tasks.push(&hunk.task_id);
                }
            }
            HunkStatus::Accepted => {
                actions.push(action(
                    Action::Undo,
                    "Undo accepted hunk",
                    &hunk.task_id,
                    ids,
                    None,
                ));
            }
            _ => {}
        }
    }
    for task_id in pending_tasks {
        let uri = Some(file_uri.clone());
        actions.push(action(
            Action::Accept,
            "Accept all hunks in file",
            task_id,
            Vec::new(),
            uri.clone(),
        ));
        actions.push(action(
            Action::Reject,
            "Reject all hunks in file",
            task_id,
            Vec::new(),
            uri,
        ));
    }
    let wanted = params.context.only.unwrap_or_default();
    actions.retain(|action| match action {
        CodeActionOrCommand::CodeAction(action) => {
            wanted.is_empty()
                || wanted.iter().any(|kind| {
                    action
                        .kind
                        .as_ref()
                        .is_some_and(|k| k.as_str().starts_with(kind.as_str()))
                })
        }
        CodeActionOrCommand::Command(_) => true,
    });
    actions
}

/// Runs `agent.acceptHunks`, `agent.rejectHunks` or `agent.undoHunks`.
pub fn execute_command(
    engine: &Arc<Engine>,
    client: &Client,
    command: &str,
    arguments: Vec<Value>,
) -> Result<Value> {
    let args: HunkCommandArgs = arguments
        .into_iter()
        .next()
        .and_then(|arg| serde_json::from_value(arg).ok())
        .ok_or_else(|| {
            invalid_params(format!(
                "{command} takes one argument {{taskId, hunkIds}} or {{taskId, uri}}"
            ))
        })?;
    let action = match command {
        ACCEPT_HUNKS_COMMAND => Action::Accept,
        REJECT_HUNKS_COMMAND => Action::Reject,
        UNDO_HUNKS_COMMAND => Action::Undo,
        other => return Err(invalid_params(format!("unknown command `{other}`"))),
    };
    let hunk_ids = command_targets(engine, &args, action)?;
    let task_id = args.task_id;
    let result = match action {
        Action::Accept | Action::Reject => {
            let mut params = ResolveHunksParams {
                task_id,
                ..ResolveHunksParams::default()
            };
            if action == Action::Accept {
                params.accept = hunk_ids;
            } else {
                params.reject = hunk_ids;
            }
            serde_json::to_value(resolve(engine, client, params)?)
        }
        Action::Undo => {
            serde_json::to_value(undo(engine, client, UndoHunksParams { task_id, hunk_ids })?)
        }
    };
    Ok(result.unwrap_or(Value::Null))
}

/// The hunks a command names: its `hunkIds`, or with `uri` every hunk of the task in
/// that file the command can act on now.
fn command_targets(engine: &Engine, args: &HunkCommandArgs, action: Action) -> Result<Vec<String>> {
    let Some(file) = args.uri.as_deref().filter(|_| args.hunk_ids.is_empty()) else {
        return Ok(args.hunk_ids.clone());
    };
    let path = uri::to_relative(engine.root(), file)
        .ok_or_else(|| invalid_params(format!("{file} is not a file in the workspace")))?;
    let status = match action {
        Action::Undo => HunkStatus::Accepted,
        Action::Accept | Action::Reject => HunkStatus::Pending,
    };
    Ok(engine.store().ids_in_file(&args.task_id, &path, status))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Accept,
    Reject,
    Undo,
}

fn action(
    action: Action,
    title: &str,
    task_id: &str,
    hunk_ids: Vec<String>,
    uri: Option<String>,
) -> CodeActionOrCommand {
    let (kind, command) = match action {
        Action::Accept => (ACCEPT_CODE_ACTION_KIND, ACCEPT_HUNKS_COMMAND),
        Action::Reject => (REJECT_CODE_ACTION_KIND, REJECT_HUNKS_COMMAND),
        Action::Undo => (UNDO_CODE_ACTION_KIND, UNDO_HUNKS_COMMAND),
    };
    let args = HunkCommandArgs {
        task_id: task_id.to_string(),
        hunk_ids,
        uri,
    };
    CodeActionOrCommand::CodeAction(CodeAction {
        title: title.to_string(),
        kind: Some(CodeActionKind::from(kind.to_string())),
        command: Some(Command {
            title: title.to_string(),
            command: command.to_string(),
            arguments: Some(vec![serde_json::to_value(args).unwrap_or(Value::Null)]),
        }),
        ..CodeAction::default()
    })
}
