//! Reviewing proposals from the editor: `agent/getProposal`, `agent/resolveHunks`,
//! `agent/undoHunks`, `agent/refreshProposal`, and the code actions, code lenses and
//! commands that lead to them.
//!
//! The proposal store decides; this module only translates. Edits the store wants the
//! editor to make go out as one `workspace/applyEdit` per request, in a task of their own,
//! and the editor's answer is fed back to the store. `agent/resolveHunks` answers at once;
//! the `agent.*Hunks` commands (what code actions and lenses run) answer once the editor
//! has answered the edit, bounded by [`APPLY_EDIT_WAIT`] — the store's lock is never held
//! while they wait.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;
use tower_lsp_server::Client;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, CodeLens, Command,
    MessageType,
};

use super::markers::{self, TaskNames, WHOLE_DOCUMENT};
use super::sink::LspSink;
use super::{convert, engine_error, invalid_params, to_value};
use crate::engine::Engine;
use crate::proposal::Direction;
use crate::proposal::store::{EditPlan, HunkAt, PageError};
use crate::protocol::{
    self as proto, ACCEPT_CODE_ACTION_KIND, ACCEPT_HUNKS_COMMAND, DEFAULT_PROPOSAL_PAGE,
    GetProposalParams, HunkCommandArgs, HunkState, HunkStatus, REFRESH_CODE_ACTION_KIND,
    REFRESH_PROPOSAL_COMMAND, REJECT_CODE_ACTION_KIND, REJECT_HUNKS_COMMAND, RefreshCommandArgs,
    RefreshProposalParams, RefreshProposalResult, Refusal, ResolveHunksParams, ResolveHunksResult,
    TaskUpdate, UNDO_CODE_ACTION_KIND, UNDO_HUNKS_COMMAND, UndoHunksParams, UndoHunksResult,
};
use crate::task::log::DecisionAction;
use crate::uri;

/// How long an `agent.*Hunks` command waits for the editor to answer its
/// `workspace/applyEdit`. Below the 10 s after which eglot's JSON-RPC gives up on a
/// request, long enough for a user to answer eglot's "Proceed?" on the edit. A client
/// that answers later still has its answer applied; the command just answered first.
pub const APPLY_EDIT_WAIT: Duration = Duration::from_secs(8);

/// An edit on its way to the editor: done once the editor answered and the store and
/// the task know the outcome.
type Sent = Option<JoinHandle<()>>;

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
    let (path, cursor) = (path.as_deref(), params.cursor.as_deref());
    let page = match params.attempt {
        Some(attempt) => engine
            .attempt_page(&params.task_id, attempt, path, cursor, limit)
            .map_err(engine_error)?,
        None => match engine
            .store()
            .view_page(&params.task_id, path, cursor, limit)
        {
            Ok(page) => Some(page),
            // A task that changed nothing (yet) has an empty proposal.
            Err(PageError::NoProposal { .. }) => None,
            Err(problem) => {
                return Err(invalid_params(format!(
                    "{problem}; pass the `nextCursor` of the previous page, or no cursor to start over"
                )));
            }
        },
    };
    let Some(page) = page else {
        return Ok(proto::Proposal {
            task_id: params.task_id,
            files: Vec::new(),
            next_cursor: None,
            total_files: 0,
            total_hunks: 0,
        });
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
    sink: &Arc<LspSink>,
    params: ResolveHunksParams,
) -> Result<ResolveHunksResult> {
    resolve_sending(engine, client, sink, params).map(|(result, _)| result)
}

fn resolve_sending(
    engine: &Arc<Engine>,
    client: &Client,
    sink: &Arc<LspSink>,
    params: ResolveHunksParams,
) -> Result<(ResolveHunksResult, Sent)> {
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
    // Rejected and refused hunks changed nothing the task reports by itself.
    sink.hunks_changed(&task_id);
    let refused = plan.refused.clone();
    let sent = send_plan(engine, client, sink, &task_id, plan, Direction::Accept);
    let result = ResolveHunksResult {
        applied: sent.is_some(),
        hunks,
        refused,
    };
    Ok((result, sent))
}

pub fn undo(
    engine: &Arc<Engine>,
    client: &Client,
    sink: &Arc<LspSink>,
    params: UndoHunksParams,
) -> Result<UndoHunksResult> {
    undo_sending(engine, client, sink, params).map(|(result, _)| result)
}

fn undo_sending(
    engine: &Arc<Engine>,
    client: &Client,
    sink: &Arc<LspSink>,
    params: UndoHunksParams,
) -> Result<(UndoHunksResult, Sent)> {
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
    let sent = send_plan(engine, client, sink, &params.task_id, plan, Direction::Undo);
    let result = UndoHunksResult {
        applied: sent.is_some(),
        hunks,
        refused,
    };
    Ok((result, sent))
}

pub fn refresh(engine: &Engine, params: &RefreshProposalParams) -> Result<RefreshProposalResult> {
    let hunks = engine
        .refresh(&params.task_id, &params.hunk_ids)
        .map_err(engine_error)?;
    Ok(RefreshProposalResult { hunks })
}

/// Sends the plan's editor part, if any, and reports the outcome as a `hunks` update
/// (and an `error` update when the editor refuses; a client without the agentls
/// protocol is told in a message). Returns the edit on its way, if one was sent.
fn send_plan(
    engine: &Arc<Engine>,
    client: &Client,
    sink: &Arc<LspSink>,
    task_id: &str,
    plan: EditPlan,
    direction: Direction,
) -> Sent {
    if !plan.written.is_empty() {
        record(engine, task_id, direction, plan.written.clone());
        let states = engine.store().hunk_states(task_id, &plan.written);
        notify(engine, task_id, states);
    }
    if plan.editor.is_empty() {
        return None;
    }
    let edit = convert::workspace_edit(engine.root(), &plan.editor);
    let ids: Vec<String> = plan
        .editor
        .iter()
        .flat_map(|file| file.hunk_ids.iter().cloned())
        .collect();
    let (engine, client, sink) = (engine.clone(), client.clone(), sink.clone());
    let task_id = task_id.to_string();
    Some(tokio::spawn(async move {
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
            let outcome = match direction {
                Direction::Accept => "the accepted hunks are pending again",
                Direction::Undo => "the hunks stay accepted",
            };
            let message = format!("the editor refused the edit ({reason}); {outcome}");
            sink.tell(
                MessageType::WARNING,
                format!("agentls: {}: {message}", ids.join(", ")),
            );
            if let Ok(task) = engine.task(&task_id) {
                task.emit(TaskUpdate::Error {
                    message,
                    will_retry: false,
                });
            }
        }
        notify(&engine, &task_id, states);
    }))
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

/// The actions that can succeed now on the hunks under the cursor, titled so that two
/// tasks' hunks on one line read differently (what the hunk changes, and the task's
/// name): accept or reject a pending hunk (the accept preferred, both attached to the
/// hunk's diagnostic), refresh or reject a stale one, reject one in conflict, undo an
/// accepted one whose text is still as accepted; and per task with more than one pending
/// hunk in the file, accept or reject them all (by `uri`, so the action stays small
/// however many hunks the file has).
pub fn code_actions(engine: &Engine, params: CodeActionParams) -> Vec<CodeActionOrCommand> {
    let Some(path) = uri::to_relative(engine.root(), params.text_document.uri.as_str()) else {
        return Vec::new();
    };
    let here = engine
        .store()
        .hunks_at(&path, convert::range_from_lsp(params.range));
    let file_uri = params.text_document.uri.as_str().to_string();
    let mut names = TaskNames::new(engine);
    let mut actions: Vec<(CodeAction, Option<&str>)> = Vec::new();
    let mut pending_tasks: Vec<&str> = Vec::new();
    for hunk in &here {
        let name = names.get(&hunk.task_id).to_string();
        let change = markers::preview(&path, hunk);
        let title = |verb: &str| format!("{verb}: {change} ({name})");
        let diagnostic = Some(vec![markers::diagnostic(&name, &path, hunk)]);
        let one = |action: Action, verb: &str| {
            let mut code_action = hunk_action(action, &title(verb), hunk);
            if action != Action::Undo {
                code_action.diagnostics = diagnostic.clone();
            }
            (code_action, Some(hunk.hunk_id.as_str()))
        };
        match hunk.status {
            HunkStatus::Pending => {
                let (mut accept, id) = one(Action::Accept, "Accept");
                accept.is_preferred = Some(true);
                actions.push((accept, id));
                actions.push(one(Action::Reject, "Reject"));
                if !pending_tasks.contains(&hunk.task_id.as_str()) {
                    pending_tasks.push(&hunk.task_id);
                }
            }
            HunkStatus::Stale => {
                actions.push(one(Action::Refresh, "Refresh (re-place on your text)"));
                actions.push(one(Action::Reject, "Reject"));
            }
            HunkStatus::Conflict => actions.push(one(Action::Reject, "Reject")),
            HunkStatus::Accepted => actions.push(one(Action::Undo, "Undo accept")),
            HunkStatus::Rejected => {}
        }
    }
    for task_id in pending_tasks {
        let pending = engine
            .store()
            .ids_in_file(task_id, &path, HunkStatus::Pending)
            .len();
        if pending < 2 {
            continue;
        }
        let name = names.get(task_id).to_string();
        for (action, verb) in [(Action::Accept, "Accept"), (Action::Reject, "Reject")] {
            let args = HunkCommandArgs {
                task_id: task_id.to_string(),
                hunk_ids: Vec::new(),
                uri: Some(file_uri.clone()),
            };
            let title = format!("{verb} all {pending} hunks of {name} in this file");
            actions.push((code_action(action, title, to_value(&args)), None));
        }
    }
    distinguish_titles(&mut actions);
    let wanted = params.context.only.unwrap_or_default();
    actions
        .into_iter()
        .map(|(action, _)| action)
        .filter(|action| {
            wanted.is_empty()
                || wanted.iter().any(|kind| {
                    action
                        .kind
                        .as_ref()
                        .is_some_and(|k| k.as_str().starts_with(kind.as_str()))
                })
        })
        .map(CodeActionOrCommand::CodeAction)
        .collect()
}

/// Two entries of a menu must never read the same (a client that picks by title, as
/// eglot does, could only ever run the first): a title seen twice gets its hunk's id.
fn distinguish_titles(actions: &mut [(CodeAction, Option<&str>)]) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (action, _) in actions.iter() {
        *seen.entry(action.title.clone()).or_default() += 1;
    }
    for (action, hunk_id) in actions.iter_mut() {
        if let Some(id) = hunk_id
            && seen.get(&action.title).is_some_and(|&n| n > 1)
        {
            action.title = format!("{} [{id}]", action.title);
            if let Some(command) = &mut action.command {
                command.title = action.title.clone();
            }
        }
    }
}

/// Lenses over each undecided hunk of the document, for clients that draw them:
/// `Accept (task) | Reject` on a pending one, `Refresh (task) | Reject` on a stale one,
/// `Reject (task): in conflict` on a conflict.
pub fn code_lenses(engine: &Engine, file_uri: &str) -> Vec<CodeLens> {
    let Some(path) = uri::to_relative(engine.root(), file_uri) else {
        return Vec::new();
    };
    let hunks = engine.store().hunks_at(&path, WHOLE_DOCUMENT);
    let mut names = TaskNames::new(engine);
    let mut lenses = Vec::new();
    for hunk in &hunks {
        let name = names.get(&hunk.task_id).to_string();
        let buttons: &[(Action, String)] = &match hunk.status {
            HunkStatus::Pending => vec![
                (Action::Accept, format!("Accept ({name})")),
                (Action::Reject, "Reject".to_string()),
            ],
            HunkStatus::Stale => vec![
                (Action::Refresh, format!("Refresh ({name})")),
                (Action::Reject, "Reject".to_string()),
            ],
            HunkStatus::Conflict => vec![(Action::Reject, format!("Reject ({name}): in conflict"))],
            HunkStatus::Accepted | HunkStatus::Rejected => Vec::new(),
        };
        let at = convert::range_to_lsp(proto::Range {
            start: hunk.range.start,
            end: hunk.range.start,
        });
        for (action, title) in buttons {
            lenses.push(CodeLens {
                range: at,
                command: hunk_action(*action, title, hunk).command,
                data: None,
            });
        }
    }
    lenses
}

/// Runs `agent.acceptHunks`, `agent.rejectHunks` or `agent.undoHunks` — what a code
/// action or lens runs, or a user typed. Unlike `agent/resolveHunks`, it answers only
/// once the editor has answered the `workspace/applyEdit` it sends (at most
/// [`APPLY_EDIT_WAIT`]): the reply then says how things ended, and a client whose
/// JSON-RPC stops reading at the reply it waits for (eglot with jsonrpc up to 1.0.18)
/// has read the edit before it, while the document is still at the version the edit
/// names. What could not be done is also told in a message to a client without the
/// agentls protocol, which ignores the reply.
pub async fn hunk_command(
    engine: &Arc<Engine>,
    client: &Client,
    sink: &Arc<LspSink>,
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
        _ => Action::Undo,
    };
    let hunk_ids = command_targets(engine, &args, action)?;
    let task_id = args.task_id;
    let (applied, refused, sent) = match action {
        Action::Undo => {
            let params = UndoHunksParams {
                task_id: task_id.clone(),
                hunk_ids: hunk_ids.clone(),
            };
            let (result, sent) = undo_sending(engine, client, sink, params)?;
            (result.applied, result.refused, sent)
        }
        _ => {
            let mut params = ResolveHunksParams {
                task_id: task_id.clone(),
                ..ResolveHunksParams::default()
            };
            if action == Action::Accept {
                params.accept = hunk_ids.clone();
            } else {
                params.reject = hunk_ids.clone();
            }
            let (result, sent) = resolve_sending(engine, client, sink, params)?;
            (result.applied, result.refused, sent)
        }
    };
    if let Some(sent) = sent
        && tokio::time::timeout(APPLY_EDIT_WAIT, sent).await.is_err()
    {
        tracing::info!(
            "{command}: the editor has not answered its workspace/applyEdit within {} s; answering anyway",
            APPLY_EDIT_WAIT.as_secs()
        );
    }
    if !refused.is_empty() {
        sink.tell(MessageType::WARNING, refusal_message(action, &refused));
    }
    let hunks = engine.store().hunk_states(&task_id, &hunk_ids);
    Ok(match action {
        Action::Undo => to_value(&UndoHunksResult {
            applied,
            hunks,
            refused,
        }),
        _ => to_value(&ResolveHunksResult {
            applied,
            hunks,
            refused,
        }),
    })
}

fn refusal_message(action: Action, refused: &[Refusal]) -> String {
    let verb = match action {
        Action::Undo => "undo",
        _ => "accept",
    };
    let reasons: Vec<String> = refused
        .iter()
        .map(|r| format!("{}: {}", r.hunk_id, r.reason))
        .collect();
    format!("agentls: could not {verb} {}", reasons.join("; "))
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
        _ => HunkStatus::Pending,
    };
    Ok(engine.store().ids_in_file(&args.task_id, &path, status))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Accept,
    Reject,
    Undo,
    Refresh,
}

/// The action on one hunk.
fn hunk_action(action: Action, title: &str, hunk: &HunkAt) -> CodeAction {
    let ids = vec![hunk.hunk_id.clone()];
    let args = match action {
        Action::Refresh => to_value(&RefreshCommandArgs {
            task_id: Some(hunk.task_id.clone()),
            hunk_ids: ids,
        }),
        _ => to_value(&HunkCommandArgs {
            task_id: hunk.task_id.clone(),
            hunk_ids: ids,
            uri: None,
        }),
    };
    code_action(action, title.to_string(), args)
}

fn code_action(action: Action, title: String, args: Value) -> CodeAction {
    let (kind, command) = match action {
        Action::Accept => (ACCEPT_CODE_ACTION_KIND, ACCEPT_HUNKS_COMMAND),
        Action::Reject => (REJECT_CODE_ACTION_KIND, REJECT_HUNKS_COMMAND),
        Action::Undo => (UNDO_CODE_ACTION_KIND, UNDO_HUNKS_COMMAND),
        Action::Refresh => (REFRESH_CODE_ACTION_KIND, REFRESH_PROPOSAL_COMMAND),
    };
    CodeAction {
        kind: Some(CodeActionKind::from(kind.to_string())),
        command: Some(Command {
            title: title.clone(),
            command: command.to_string(),
            arguments: Some(vec![args]),
        }),
        title,
        ..CodeAction::default()
    }
}
