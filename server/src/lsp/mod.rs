//! The language server: LSP lifecycle, text sync, code actions, commands and the
//! `agent/*` methods, on top of tower-lsp-server.
//!
//! Rules that keep it responsive (docs/architecture.md, invariants 3, 5 and 7): text-sync
//! handlers apply their change synchronously under the store lock (so they can never
//! interleave); no handler holds the store's lock across a round trip to the client, and
//! only `workspace/executeCommand` waits for one (its own `workspace/applyEdit`, bounded);
//! stdout carries protocol bytes only.

mod commands;
/// Public for the benchmarks, which build the accept's `WorkspaceEdit` as the server does.
pub mod convert;
/// Public for the benchmarks, which mark documents as `didChange` does.
pub mod diagnostics;
mod findings;
mod guard;
/// Public for the benchmarks, which compute a document's hunk diagnostics.
pub mod markers;
mod review;
mod sink;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::signal::unix::{Signal, SignalKind, signal};
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};

use crate::documents::PositionEncoding;
use crate::engine::{Engine, EngineError, EngineSettings};
use crate::import::attempts::Selection;
use crate::import::source::Source;
use crate::proposal::store::ProposalStore;
use crate::protocol::{
    self as proto, ACCEPT_CODE_ACTION_KIND, AgentCapability, CHOOSE_ATTEMPT_METHOD,
    CancelTaskParams, ChooseAttemptParams, DISMISS_CODE_ACTION_KIND, DismissFindingParams, Empty,
    FIX_CODE_ACTION_KIND, FollowUpParams, ForkTaskParams, GetProposalParams, GetTaskResult,
    IMPORT_ATTEMPTS_METHOD, ImportAttemptsParams, ImportDiffParams, ListMcpServersResult,
    ListTasksResult, REFRESH_CODE_ACTION_KIND, REJECT_CODE_ACTION_KIND, RefreshProposalParams,
    RefreshProposalResult, ResolveHunksParams, ResolveHunksResult, StartTaskParams, TaskIdParams,
    TaskIdResult, UNDO_CODE_ACTION_KIND, UndoHunksParams, UndoHunksResult,
};
use crate::uri;
use convert::range_from_lsp;
use diagnostics::Publisher;
use sink::LspSink;

pub struct Backend {
    client: Client,
    sink: Arc<LspSink>,
    /// Every `publishDiagnostics` goes through it.
    diagnostics: Arc<Publisher>,
    settings: EngineSettings,
    /// Created by `initialize`, once the workspace root and encoding are known; shared with
    /// [`serve`], which shuts it down on the way out.
    engine: Arc<OnceLock<Arc<Engine>>>,
    /// The client can watch files for us (`workspace/didChangeWatchedFiles` with dynamic
    /// registration); registered once `initialized` arrives.
    watch_files: AtomicBool,
    /// The client can open a document we name (`window.showDocument.support`).
    show_document: AtomicBool,
    /// Hunks get code lenses (`hunk_code_lens`).
    code_lens: AtomicBool,
    shutdown_requested: Arc<AtomicBool>,
}

/// Serves LSP on stdin/stdout until `exit`, the end of input, or SIGTERM, SIGINT or
/// SIGHUP. On every way out, running tasks are stopped (`interrupted`) and waited for
/// (their commands killed, their views removed) before this returns the exit status: 0 after
/// `shutdown` and `exit`; 1 for an `exit` without `shutdown` or a client that vanished, as
/// LSP asks; 128 + the signal's number for a signal.
pub async fn serve(settings: EngineSettings) -> ExitCode {
    let signals = match Signals::new() {
        Ok(signals) => Some(signals),
        Err(error) => {
            tracing::warn!("cannot handle termination signals: {error}");
            None
        }
    };
    let shutdown_requested = Arc::new(AtomicBool::new(false));
    let engine = Arc::new(OnceLock::new());
    let (flag, shared_engine) = (shutdown_requested.clone(), engine.clone());
    let (service, socket) = LspService::build(move |client| {
        let diagnostics = Publisher::new(client.clone());
        Backend {
            sink: Arc::new(LspSink::new(client.clone(), diagnostics.clone())),
            diagnostics,
            client,
            settings,
            engine: shared_engine,
            watch_files: AtomicBool::new(false),
            show_document: AtomicBool::new(false),
            code_lens: AtomicBool::new(false),
            shutdown_requested: flag,
        }
    })
    .custom_method("agent/startTask", Backend::start_task)
    .custom_method("agent/cancelTask", Backend::cancel_task)
    .custom_method("agent/listTasks", Backend::list_tasks)
    .custom_method("agent/getTask", Backend::get_task)
    .custom_method("agent/getProposal", Backend::get_proposal)
    .custom_method("agent/resolveHunks", Backend::resolve_hunks)
    .custom_method("agent/undoHunks", Backend::undo_hunks)
    .custom_method("agent/refreshProposal", Backend::refresh_proposal)
    .custom_method("agent/followUp", Backend::follow_up)
    .custom_method("agent/importDiff", Backend::import_diff)
    .custom_method("agent/forkTask", Backend::fork_task)
    .custom_method("agent/deleteTask", Backend::delete_task)
    .custom_method("agent/compactTask", Backend::compact_task)
    .custom_method(proto::DISMISS_FINDING_METHOD, Backend::dismiss_finding)
    .custom_method(proto::LIST_MCP_SERVERS_METHOD, Backend::list_mcp_servers)
    .custom_method(proto::LIST_AGENTS_METHOD, Backend::list_agents)
    .custom_method(CHOOSE_ATTEMPT_METHOD, Backend::choose_attempt)
    .custom_method(IMPORT_ATTEMPTS_METHOD, Backend::import_attempts)
    .finish();
    let stdio = guard::Stdio::start(tokio::io::stdin(), tokio::io::stdout());
    // Handlers never wait on the client, but the default of 4 concurrent requests is
    // still too few for an editor that fires code actions on every cursor move.
    let served = Server::new(stdio.input, stdio.output, socket)
        .concurrency_level(64)
        .serve(guard::AnswerEveryRequest(service));
    let signalled = async {
        match signals {
            Some(mut signals) => signals.next().await,
            None => std::future::pending().await,
        }
    };
    let signal = tokio::select! {
        () = served => None,
        signal = signalled => signal,
    };
    // Whatever tower-lsp answered last (the `shutdown` reply) is still on its way out.
    let _ = stdio.written.await;
    if let Some(engine) = engine.get() {
        engine.shutdown().await;
    }
    match signal {
        Some(signal) => {
            tracing::info!("stopped by signal {signal}");
            ExitCode::from(128u8.saturating_add(signal as u8))
        }
        None if shutdown_requested.load(Ordering::SeqCst) => ExitCode::SUCCESS,
        None => ExitCode::from(1),
    }
}

/// The signals that end the server in an orderly way (SIGKILL cannot be caught: what it
/// leaves, the next start and the commands' pid namespaces take care of).
struct Signals {
    term: Signal,
    interrupt: Signal,
    hangup: Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// The number of the next signal to arrive.
    async fn next(&mut self) -> Option<i32> {
        tokio::select! {
            Some(()) = self.term.recv() => Some(libc::SIGTERM),
            Some(()) = self.interrupt.recv() => Some(libc::SIGINT),
            Some(()) = self.hangup.recv() => Some(libc::SIGHUP),
            else => None,
        }
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let root = workspace_root(&params);
        let encoding = negotiate_encoding(&params.capabilities);
        let resource_ops = resource_operations_supported(&params.capabilities);
        let watch_files = params
            .capabilities
            .workspace
            .as_ref()
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|w| w.dynamic_registration)
            .unwrap_or(false);
        self.watch_files.store(watch_files, Ordering::Relaxed);
        let progress = params
            .capabilities
            .window
            .as_ref()
            .and_then(|w| w.work_done_progress)
            .unwrap_or(false);
        self.sink.set_progress_supported(progress);
        self.sink
            .set_approvals_supported(approvals_supported(&params.capabilities));
        self.sink.set_plain(!agent_client(&params.capabilities));
        let window = params.capabilities.window.as_ref();
        let show_document = window
            .and_then(|w| w.show_document.as_ref())
            .is_some_and(|s| s.support);
        self.show_document.store(show_document, Ordering::Relaxed);
        let refresh_lenses = params
            .capabilities
            .workspace
            .as_ref()
            .and_then(|w| w.code_lens.as_ref())
            .and_then(|c| c.refresh_support)
            .unwrap_or(false);

        let mut settings = self.settings.clone();
        settings.init_options = params.initialization_options.clone();
        tracing::info!("workspace {} ({encoding:?} positions)", root.display());
        let mut store = ProposalStore::new(root.clone(), encoding);
        store.set_resource_operations(resource_ops);
        let engine = Engine::new(root, store, self.sink.clone(), settings);
        let warnings = engine.check_config();
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        let config = engine.server_config();
        self.code_lens
            .store(config.hunk_code_lens, Ordering::Relaxed);
        self.sink.attach(&engine);
        let mut layers: Vec<Box<dyn diagnostics::DiagnosticLayer>> = Vec::new();
        if config.hunk_diagnostics {
            layers.push(Box::new(markers::HunkLayer));
        }
        layers.push(Box::new(findings::FindingLayer));
        self.diagnostics
            .start(&engine, layers, config.hunk_code_lens && refresh_lenses);
        // Tasks brought back from the history may have hunks to show.
        for task in engine.tasks.list() {
            self.diagnostics.task_changed(&task.task_id);
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
                            CodeActionKind::from(UNDO_CODE_ACTION_KIND.to_string()),
                            CodeActionKind::from(REFRESH_CODE_ACTION_KIND.to_string()),
                            CodeActionKind::from(FIX_CODE_ACTION_KIND.to_string()),
                            CodeActionKind::from(DISMISS_CODE_ACTION_KIND.to_string()),
                        ]),
                        ..CodeActionOptions::default()
                    },
                )),
                code_lens_provider: config.hunk_code_lens.then_some(CodeLensOptions {
                    resolve_provider: Some(false),
                }),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands: commands::COMMANDS.iter().map(|c| c.to_string()).collect(),
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

    /// Files not open in the editor can change on disk under their hunks; a client that
    /// can watch files tells us at once, otherwise the store re-reads them on use.
    async fn initialized(&self, _params: InitializedParams) {
        if !self.watch_files.load(Ordering::Relaxed) {
            return;
        }
        let registration = Registration {
            id: "agentls-watch-workspace".into(),
            method: "workspace/didChangeWatchedFiles".into(),
            register_options: serde_json::to_value(DidChangeWatchedFilesRegistrationOptions {
                watchers: vec![FileSystemWatcher {
                    glob_pattern: GlobPattern::String("**/*".into()),
                    kind: None,
                }],
            })
            .ok(),
        };
        let client = self.client.clone();
        tokio::spawn(async move {
            if let Err(error) = client.register_capability(vec![registration]).await {
                tracing::warn!(
                    "could not register file watching ({error}); files not open are re-read when used"
                );
            }
        });
    }

    /// Answers once every task is stopped and its view removed.
    async fn shutdown(&self) -> Result<()> {
        self.shutdown_requested.store(true, Ordering::SeqCst);
        if let Some(engine) = self.engine.get() {
            engine.shutdown().await;
        }
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let doc = params.text_document;
        self.with_document(&doc.uri, |engine, path| {
            engine.update_store(|store| store.open(path, &doc.text, doc.version));
            self.diagnostics.document_opened(path);
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
            engine.update_store(|store| store.change(path, version, &edits));
            self.diagnostics.document_changed(path);
        });
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        self.with_document(&params.text_document.uri, |engine, path| {
            engine.update_store(|store| store.close(path))
        });
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let Some(engine) = self.engine.get() else {
            return Ok(None);
        };
        let mut actions = findings::code_actions(engine, &params);
        actions.extend(review::code_actions(engine, params));
        Ok(Some(actions))
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        let Some(engine) = self.engine.get() else {
            return Ok(None);
        };
        if !self.code_lens.load(Ordering::Relaxed) {
            return Ok(None);
        }
        Ok(Some(review::code_lenses(
            engine,
            params.text_document.uri.as_str(),
        )))
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        commands::execute(self, &params.command, params.arguments)
            .await
            .map(Some)
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        let Some(engine) = self.engine.get() else {
            return;
        };
        let paths: Vec<String> = params
            .changes
            .iter()
            .filter_map(|change| uri::to_relative(engine.root(), change.uri.as_str()))
            .collect();
        engine.update_store(|store| {
            for path in &paths {
                store.disk_changed(path);
            }
        });
    }
}

impl Backend {
    async fn start_task(&self, params: StartTaskParams) -> Result<TaskIdResult> {
        crate::review::check_params(&params).map_err(invalid_params)?;
        if let Some(problem) = crate::engine::best_of_problem(&params) {
            return Err(invalid_params(problem));
        }
        let task_id = self.engine()?.start_task(params);
        Ok(TaskIdResult { task_id })
    }

    async fn import_diff(&self, params: ImportDiffParams) -> Result<TaskIdResult> {
        let source = Source::from_params(params).map_err(invalid_params)?;
        let task_id = self.engine()?.import_diff(source);
        Ok(TaskIdResult { task_id })
    }

    async fn choose_attempt(&self, params: ChooseAttemptParams) -> Result<Empty> {
        self.engine()?
            .choose_attempt(&params.task_id, params.attempt)
            .map_err(engine_error)?;
        Ok(Empty {})
    }

    async fn import_attempts(&self, params: ImportAttemptsParams) -> Result<TaskIdResult> {
        let selection = match (params.refs.is_empty(), params.prefix) {
            (false, None) => Selection::Refs(params.refs),
            (true, Some(prefix)) if !prefix.trim().is_empty() => Selection::Prefix(prefix),
            _ => {
                return Err(invalid_params(format!(
                    "{IMPORT_ATTEMPTS_METHOD} takes either `refs` (a non-empty list) or \
                     `prefix`, not both"
                )));
            }
        };
        let task_id = self.engine()?.import_attempts(params.remote, selection);
        Ok(TaskIdResult { task_id })
    }

    async fn cancel_task(&self, params: CancelTaskParams) -> Result<Empty> {
        self.engine()?
            .cancel(&params.task_id, params.revert)
            .map_err(engine_error)?;
        self.sink.hunks_changed(&params.task_id);
        Ok(Empty {})
    }

    async fn list_tasks(&self, _params: Empty) -> Result<ListTasksResult> {
        Ok(ListTasksResult {
            tasks: self.engine()?.tasks.list(),
        })
    }

    async fn get_task(&self, params: TaskIdParams) -> Result<GetTaskResult> {
        let engine = self.engine()?;
        let task = engine.task(&params.task_id).map_err(engine_error)?;
        let (attempts, chosen_attempt) = engine.attempt_infos(&params.task_id);
        Ok(GetTaskResult {
            task: task.summary(),
            events: task.events(),
            attempts,
            chosen_attempt,
            findings: self.engine()?.findings(&params.task_id),
        })
    }

    async fn get_proposal(&self, params: GetProposalParams) -> Result<proto::Proposal> {
        review::get_proposal(self.engine()?, params)
    }

    async fn resolve_hunks(&self, params: ResolveHunksParams) -> Result<ResolveHunksResult> {
        review::resolve(self.engine()?, &self.client, &self.sink, params)
    }

    async fn undo_hunks(&self, params: UndoHunksParams) -> Result<UndoHunksResult> {
        review::undo(self.engine()?, &self.client, &self.sink, params)
    }

    async fn refresh_proposal(
        &self,
        params: RefreshProposalParams,
    ) -> Result<RefreshProposalResult> {
        let result = review::refresh(self.engine()?, &params);
        self.sink.hunks_changed(&params.task_id);
        result
    }

    async fn list_mcp_servers(&self, _params: Empty) -> Result<ListMcpServersResult> {
        let servers = self
            .engine()?
            .list_mcp_servers()
            .await
            .map_err(|message| Error {
                code: ErrorCode::InternalError,
                message: message.into(),
                data: None,
            })?;
        Ok(ListMcpServersResult { servers })
    }

    async fn list_agents(&self, _params: Empty) -> Result<proto::ListAgentsResult> {
        let agents = self.engine()?.list_agents().map_err(|message| Error {
            code: ErrorCode::InternalError,
            message: message.into(),
            data: None,
        })?;
        Ok(proto::ListAgentsResult { agents })
    }

    async fn follow_up(&self, params: FollowUpParams) -> Result<TaskIdResult> {
        if params.prompt.trim().is_empty() {
            return Err(invalid_params(
                "agent/followUp needs a non-empty `prompt`".into(),
            ));
        }
        self.engine()?
            .follow_up(&params.task_id, params.prompt)
            .map_err(engine_error)?;
        Ok(TaskIdResult {
            task_id: params.task_id,
        })
    }

    async fn fork_task(&self, params: ForkTaskParams) -> Result<TaskIdResult> {
        let task_id = self
            .engine()?
            .fork_task(&params.task_id, params.at_turn)
            .await
            .map_err(engine_error)?;
        self.sink.hunks_changed(&task_id);
        Ok(TaskIdResult { task_id })
    }

    async fn compact_task(&self, params: TaskIdParams) -> Result<Empty> {
        self.engine()?
            .compact_task(&params.task_id)
            .map_err(engine_error)?;
        Ok(Empty {})
    }

    async fn delete_task(&self, params: TaskIdParams) -> Result<Empty> {
        self.engine()?
            .delete_task(&params.task_id)
            .map_err(engine_error)?;
        self.sink.hunks_changed(&params.task_id);
        Ok(Empty {})
    }

    async fn dismiss_finding(&self, params: DismissFindingParams) -> Result<Empty> {
        self.engine()?
            .dismiss_finding(&params.task_id, &params.finding_id, params.reason)
            .map_err(engine_error)?;
        Ok(Empty {})
    }

    fn show_document_supported(&self) -> bool {
        self.show_document.load(Ordering::Relaxed)
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

/// Create, rename and delete must all be there: the store routes every file operation
/// the same way.
fn resource_operations_supported(capabilities: &ClientCapabilities) -> bool {
    capabilities
        .workspace
        .as_ref()
        .and_then(|w| w.workspace_edit.as_ref())
        .and_then(|w| w.resource_operations.as_ref())
        .is_some_and(|ops| {
            [
                ResourceOperationKind::Create,
                ResourceOperationKind::Rename,
                ResourceOperationKind::Delete,
            ]
            .iter()
            .all(|kind| ops.contains(kind))
        })
}

/// A client with the agentls protocol (a plugin) announces `experimental.agent`; one
/// without gets messages for what it would have learned from `agent/taskUpdate`.
fn agent_client(capabilities: &ClientCapabilities) -> bool {
    capabilities
        .experimental
        .as_ref()
        .and_then(|experimental| experimental.get("agent"))
        .is_some_and(|agent| !agent.is_null())
}

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

/// utf-8 when the client offers it (no conversion cost for us), else LSP's default utf-16.
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

/// A reply's JSON (our protocol types always serialise).
fn to_value(value: &impl serde::Serialize) -> LSPAny {
    serde_json::to_value(value).unwrap_or(LSPAny::Null)
}

fn engine_error(error: EngineError) -> Error {
    invalid_params(error.to_string())
}
