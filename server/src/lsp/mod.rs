//! The language server: LSP lifecycle, text sync, code actions, commands and the
//! `agent/*` methods, on top of tower-lsp-server.
//!
//! Rules that keep it responsive (design §11): text-sync handlers apply their change
//! synchronously under the store lock (so they can never interleave); no handler awaits a
//! round trip to the client (`workspace/applyEdit` is spawned); stdout carries protocol
//! bytes only.

mod convert;
mod guard;
mod sink;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};

use crate::documents::PositionEncoding;
use crate::import::source::Source;
use crate::proposal::store::ProposalStore;
use crate::protocol::{
    self as proto, ACCEPT_CODE_ACTION_KIND, ACCEPT_HUNKS_COMMAND, AgentCapability,
    CancelTaskParams, Empty, GetTaskResult, HunkCommandArgs, HunkStatus, ImportDiffParams,
    InvalidMessageParams, ListTasksResult, REJECT_CODE_ACTION_KIND, REJECT_HUNKS_COMMAND,
    ResolveHunksParams, ResolveHunksResult, StartTaskParams, TaskIdParams, TaskIdResult,
    TaskUpdate,
};
use crate::task::engine::{Engine, EngineError, EngineSettings};
use crate::uri;
use convert::range_from_lsp;
use sink::LspSink;

pub struct Backend {
    client: Client,
    sink: Arc<LspSink>,
    settings: EngineSettings,
    /// Created by `initialize`, once the workspace root and encoding are known.
    engine: OnceLock<Arc<Engine>>,
    resource_operations: AtomicBool,
    shutdown_requested: Arc<AtomicBool>,
}

/// Serves LSP on stdin/stdout until `exit` or end of input. Returns whether `shutdown`
/// came first (the process exit code depends on it).
pub async fn serve(settings: EngineSettings) -> bool {
    let shutdown_requested = Arc::new(AtomicBool::new(false));
    let flag = shutdown_requested.clone();
    let (service, socket) = LspService::build(move |client| Backend {
        sink: Arc::new(LspSink::new(client.clone())),
        client,
        settings,
        engine: OnceLock::new(),
        resource_operations: AtomicBool::new(false),
        shutdown_requested: flag,
    })
    .custom_method("agent/startTask", Backend::start_task)
    .custom_method("agent/cancelTask", Backend::cancel_task)
    .custom_method("agent/listTasks", Backend::list_tasks)
    .custom_method("agent/getTask", Backend::get_task)
    .custom_method("agent/getProposal", Backend::get_proposal)
    .custom_method("agent/resolveHunks", Backend::resolve_hunks)
    .custom_method("agent/importDiff", Backend::import_diff)
    .custom_method(guard::INVALID_REQUEST_METHOD, Backend::invalid_request)
    .custom_method(guard::MALFORMED_MESSAGE_METHOD, Backend::malformed_message)
    .finish();
    let (input, guarded) = tokio::io::duplex(1 << 16);
    tokio::spawn(guard::forward(tokio::io::stdin(), guarded));
    // Handlers never wait on the client, but the default of 4 concurrent requests is
    // still too few for an editor that fires code actions on every cursor move.
    Server::new(input, tokio::io::stdout(), socket)
        .concurrency_level(64)
        .serve(service)
        .await;
    shutdown_requested.load(Ordering::SeqCst)
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let root = workspace_root(&params);
        let encoding = negotiate_encoding(&params.capabilities);
        let workspace_edit = params
            .capabilities
            .workspace
            .as_ref()
            .and_then(|w| w.workspace_edit.as_ref());
        let resource_ops = workspace_edit
            .and_then(|w| w.resource_operations.as_ref())
            .is_some_and(|ops| {
                ops.contains(&ResourceOperationKind::Create)
                    && ops.contains(&ResourceOperationKind::Delete)
                    && ops.contains(&ResourceOperationKind::Rename)
            });
        self.resource_operations
            .store(resource_ops, Ordering::Relaxed);
        let progress = params
            .capabilities
            .window
            .as_ref()
            .and_then(|w| w.work_done_progress)
            .unwrap_or(false);
        self.sink.set_progress_supported(progress);
        self.sink
            .set_approvals_supported(approvals_supported(&params.capabilities));

        let mut settings = self.settings.clone();
        settings.init_options = params.initialization_options.clone();
        tracing::info!("workspace {} ({encoding:?} positions)", root.display());
        let mut store = ProposalStore::new(root.clone(), encoding);
        store.set_resource_operations(resource_ops);
        let engine = Engine::new(root.clone(), store, self.sink.clone(), settings);
        let warnings = engine.check_config();
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        if self.engine.set(engine).is_err() {
            return Err(Error::invalid_request());
        }

        let agent = AgentCapability {
            version: 1,
            warnings,
        };
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                position_encoding: Some(match encoding {
                    PositionEncoding::Utf8 => PositionEncodingKind::UTF8,
                    PositionEncoding::Utf16 => PositionEncodingKind::UTF16,
                }),
                text_document_sync: Some(TextDocumentSyncCapability::Options(
                    TextDocumentSyncOptions {
                        open_close: Some(true),
                        change: Some(TextDocumentSyncKind::INCREMENTAL),
                        save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                        ..TextDocumentSyncOptions::default()
                    },
                )),
                code_action_provider: Some(CodeActionProviderCapability::Options(
                    CodeActionOptions {
                        code_action_kinds: Some(vec![
                            CodeActionKind::from(ACCEPT_CODE_ACTION_KIND.to_string()),
                            CodeActionKind::from(REJECT_CODE_ACTION_KIND.to_string()),
                        ]),
                        ..CodeActionOptions::default()
                    },
                )),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands: vec![
                        ACCEPT_HUNKS_COMMAND.to_string(),
                        REJECT_HUNKS_COMMAND.to_string(),
                    ],
                    ..ExecuteCommandOptions::default()
                }),
                experimental: Some(serde_json::json!({ "agent": agent })),
                ..ServerCapabilities::default()
            },
            server_info: Some(ServerInfo {
                name: "agentls".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            offset_encoding: None,
        })
    }

    async fn shutdown(&self) -> Result<()> {
        self.shutdown_requested.store(true, Ordering::SeqCst);
        if let Some(engine) = self.engine.get() {
            for task in engine
                .tasks
                .list()
                .into_iter()
                .filter(|t| !t.status.is_finished())
            {
                let _ = engine.cancel(&task.task_id, false);
            }
        }
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let doc = params.text_document;
        self.with_document(&doc.uri, |engine, path| {
            let stale = {
                let mut store = engine.store();
                store.open(path, &doc.text, doc.version);
                store.take_changed()
            };
            engine.notify_hunks(stale);
        });
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let edits: Vec<(Option<proto::Range>, String)> = params
            .content_changes
            .into_iter()
            .map(|change| (change.range.map(range_from_lsp), change.text))
            .collect();
        let version = params.text_document.version;
        self.with_document(&params.text_document.uri, |engine, path| {
            let stale = {
                let mut store = engine.store();
                store.change(path, version, &edits);
                store.take_changed()
            };
            engine.notify_hunks(stale);
        });
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        self.with_document(&params.text_document.uri, |engine, path| {
            engine.store().close(path)
        });
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let Some(engine) = self.engine.get() else {
            return Ok(None);
        };
        let Some(path) = uri::to_relative(engine.root(), params.text_document.uri.as_str()) else {
            return Ok(None);
        };
        let store = engine.store();
        let mut here = store.hunks_at(&path, range_from_lsp(params.range));
        here.retain(|h| h.status == HunkStatus::Pending);
        let mut actions = Vec::new();
        for hunk in &here {
            let ids = vec![hunk.hunk_id.clone()];
            actions.push(code_action(
                "Accept hunk",
                ACCEPT_CODE_ACTION_KIND,
                ACCEPT_HUNKS_COMMAND,
                &hunk.task_id,
                ids.clone(),
            ));
            actions.push(code_action(
                "Reject hunk",
                REJECT_CODE_ACTION_KIND,
                REJECT_HUNKS_COMMAND,
                &hunk.task_id,
                ids,
            ));
        }
        let mut tasks: Vec<&str> = here.iter().map(|h| h.task_id.as_str()).collect();
        tasks.dedup();
        for task_id in tasks {
            let ids = store.ids_in_file(task_id, &path, HunkStatus::Pending);
            actions.push(code_action(
                "Accept all hunks in file",
                ACCEPT_CODE_ACTION_KIND,
                ACCEPT_HUNKS_COMMAND,
                task_id,
                ids.clone(),
            ));
            actions.push(code_action(
                "Reject all hunks in file",
                REJECT_CODE_ACTION_KIND,
                REJECT_HUNKS_COMMAND,
                task_id,
                ids,
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
        Ok(Some(actions))
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        let args: HunkCommandArgs = params
            .arguments
            .into_iter()
            .next()
            .and_then(|arg| serde_json::from_value(arg).ok())
            .ok_or_else(|| {
                invalid_params(format!(
                    "{} takes one argument {{taskId, hunkIds}}",
                    params.command
                ))
            })?;
        let resolve = match params.command.as_str() {
            ACCEPT_HUNKS_COMMAND => ResolveHunksParams {
                task_id: args.task_id,
                accept: args.hunk_ids,
                ..ResolveHunksParams::default()
            },
            REJECT_HUNKS_COMMAND => ResolveHunksParams {
                task_id: args.task_id,
                reject: args.hunk_ids,
                ..ResolveHunksParams::default()
            },
            other => return Err(invalid_params(format!("unknown command `{other}`"))),
        };
        let result = self.resolve(resolve)?;
        Ok(Some(serde_json::to_value(result).unwrap_or(Value::Null)))
    }
}

impl Backend {
    async fn start_task(&self, params: StartTaskParams) -> Result<TaskIdResult> {
        if params.prompt.trim().is_empty() {
            return Err(invalid_params(
                "agent/startTask needs a non-empty `prompt`".into(),
            ));
        }
        let task_id = self.engine()?.start_task(params);
        Ok(TaskIdResult { task_id })
    }

    async fn import_diff(&self, params: ImportDiffParams) -> Result<TaskIdResult> {
        let source = Source::from_params(params).map_err(invalid_params)?;
        let task_id = self.engine()?.import_diff(source);
        Ok(TaskIdResult { task_id })
    }

    async fn cancel_task(&self, params: CancelTaskParams) -> Result<Empty> {
        self.engine()?
            .cancel(&params.task_id, params.revert)
            .map_err(engine_error)?;
        Ok(Empty {})
    }

    async fn list_tasks(&self, _params: Empty) -> Result<ListTasksResult> {
        Ok(ListTasksResult {
            tasks: self.engine()?.tasks.list(),
        })
    }

    async fn get_task(&self, params: TaskIdParams) -> Result<GetTaskResult> {
        let task = self.engine()?.task(&params.task_id).map_err(engine_error)?;
        Ok(GetTaskResult {
            task: task.summary(),
            events: task.events(),
        })
    }

    async fn get_proposal(&self, params: TaskIdParams) -> Result<proto::Proposal> {
        let engine = self.engine()?;
        engine.task(&params.task_id).map_err(engine_error)?;
        let page = engine
            .store()
            .view_page(&params.task_id, None, None, usize::MAX)
            .and_then(|page| page.ok());
        let Some(page) = page else {
            return Err(invalid_params(format!(
                "task {} has no proposal",
                params.task_id
            )));
        };
        Ok(proto::Proposal {
            task_id: params.task_id,
            files: page
                .files
                .into_iter()
                .map(|file| proto::ProposalFile {
                    uri: uri::from_relative(engine.root(), &file.path),
                    kind: file.kind,
                    new_uri: file.new_path.map(|p| uri::from_relative(engine.root(), &p)),
                    base_version: file.version,
                    hunks: file.hunks,
                })
                .collect(),
            next_cursor: page.next_cursor,
            total_files: page.total_files,
            total_hunks: page.total_hunks,
        })
    }

    async fn resolve_hunks(&self, params: ResolveHunksParams) -> Result<ResolveHunksResult> {
        self.resolve(params)
    }

    /// A request the guard found malformed: answer it with the reason.
    async fn invalid_request(&self, params: InvalidMessageParams) -> Result<Value> {
        tracing::warn!("invalid request: {}", params.problem);
        Err(Error {
            code: ErrorCode::InvalidRequest,
            message: params.problem.into(),
            data: None,
        })
    }

    /// A message the guard could not even attribute: log it where the user can see it.
    async fn malformed_message(&self, params: InvalidMessageParams) {
        tracing::warn!("malformed message from the client: {}", params.problem);
        let client = self.client.clone();
        tokio::spawn(async move {
            client
                .log_message(
                    MessageType::ERROR,
                    format!("agentls ignored a malformed message: {}", params.problem),
                )
                .await;
        });
    }

    /// Rejections take effect at once; accepts are sent to the editor as one
    /// `workspace/applyEdit`, in the background, and confirmed by a `hunks` update.
    fn resolve(&self, params: ResolveHunksParams) -> Result<ResolveHunksResult> {
        let engine = self.engine()?.clone();
        engine.task(&params.task_id).map_err(engine_error)?;
        let (plan, hunks) = {
            let mut store = engine.store();
            let blockers = store.accept_blockers(&params.task_id, &params.accept);
            if !blockers.is_empty() {
                let reasons: Vec<String> = blockers.into_iter().map(|b| b.reason).collect();
                return Err(invalid_params(format!(
                    "cannot accept: {}",
                    reasons.join("; ")
                )));
            }
            store.reject(&params.task_id, &params.reject, params.reason.as_deref());
            let plan = store.begin_accept(&params.task_id, &params.accept, &params.edits);
            let plan = plan.editor;
            let ids: Vec<String> = params
                .accept
                .iter()
                .chain(&params.reject)
                .cloned()
                .collect();
            (plan, store.hunk_states(&params.task_id, &ids))
        };
        if plan.is_empty() {
            return Ok(ResolveHunksResult {
                applied: false,
                hunks,
            });
        }
        let edit = convert::workspace_edit(
            engine.root(),
            &plan,
            self.resource_operations.load(Ordering::Relaxed),
        );
        let ids: Vec<String> = plan
            .iter()
            .flat_map(|file| file.hunk_ids.iter().cloned())
            .collect();
        let client = self.client.clone();
        let task_id = params.task_id;
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
            if let Some(reason) = &refused {
                tracing::warn!("accept of {ids:?} refused: {reason}");
                engine.store().abort_accept(&task_id, &ids);
            } else {
                engine.store().confirm_applied(&task_id, &ids);
            }
            let changed = engine.store().take_changed();
            engine.notify_hunks(changed);
            let states = engine.store().hunk_states(&task_id, &ids);
            if let Ok(task) = engine.task(&task_id) {
                if let Some(reason) = refused {
                    task.emit(TaskUpdate::Error {
                        message: format!("the editor refused the accepted hunks ({reason}); they are pending again"),
                        will_retry: false,
                    });
                }
                task.emit(TaskUpdate::Hunks { hunks: states });
            }
        });
        Ok(ResolveHunksResult {
            applied: true,
            hunks: hunks
                .into_iter()
                .map(|mut state| {
                    // Until the editor answers, an accepted hunk is on its way.
                    if state.status == HunkStatus::Pending && plan_has(&plan, &state.hunk_id) {
                        state.status = HunkStatus::Accepted;
                    }
                    state
                })
                .collect(),
        })
    }

    fn engine(&self) -> Result<&Arc<Engine>> {
        self.engine.get().ok_or_else(|| Error {
            code: ErrorCode::ServerError(-32002),
            message: "the server is not initialized yet; send `initialize` first".into(),
            data: None,
        })
    }

    /// Runs `apply` for a document inside the workspace; other documents are not ours.
    fn with_document(&self, uri: &Uri, apply: impl FnOnce(&Engine, &str)) {
        let Some(engine) = self.engine.get() else {
            return;
        };
        match uri::to_relative(engine.root(), uri.as_str()) {
            Some(path) => apply(engine, &path),
            None => tracing::debug!("ignoring {} (outside the workspace)", uri.as_str()),
        }
    }
}

fn plan_has(plan: &[crate::proposal::store::FileEdit], hunk_id: &str) -> bool {
    plan.iter()
        .any(|file| file.hunk_ids.iter().any(|id| id == hunk_id))
}

fn code_action(
    title: &str,
    kind: &str,
    command: &str,
    task_id: &str,
    hunk_ids: Vec<String>,
) -> CodeActionOrCommand {
    let args = HunkCommandArgs {
        task_id: task_id.to_string(),
        hunk_ids,
        uri: None,
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

/// utf-8 when the client offers it (no conversion cost for us), else LSP's default utf-16.
/// A client that can answer `agent/requestApproval` says so with
/// `capabilities.experimental.agent.approvals: true`.
fn approvals_supported(capabilities: &ClientCapabilities) -> bool {
    capabilities
        .experimental
        .as_ref()
        .and_then(|experimental| experimental.pointer("/agent/approvals"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

fn negotiate_encoding(capabilities: &ClientCapabilities) -> PositionEncoding {
    let offered = capabilities
        .general
        .as_ref()
        .and_then(|g| g.position_encodings.as_ref());
    if offered.is_some_and(|kinds| kinds.contains(&PositionEncodingKind::UTF8)) {
        PositionEncoding::Utf8
    } else {
        PositionEncoding::Utf16
    }
}

/// The first workspace folder, else the deprecated rootUri, else the current directory.
#[allow(deprecated)]
fn workspace_root(params: &InitializeParams) -> PathBuf {
    let from_uri = |uri: &Uri| uri::to_path(uri.as_str());
    params
        .workspace_folders
        .as_ref()
        .and_then(|folders| folders.first())
        .and_then(|folder| from_uri(&folder.uri))
        .or_else(|| params.root_uri.as_ref().and_then(from_uri))
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."))
}

fn invalid_params(message: String) -> Error {
    Error {
        code: ErrorCode::InvalidParams,
        message: message.into(),
        data: None,
    }
}

fn engine_error(error: EngineError) -> Error {
    invalid_params(error.to_string())
}
