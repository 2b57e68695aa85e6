//! `agentls acp`: agentls as an Agent Client Protocol agent on stdio, for the editors that
//! host agents (Zed, the JetBrains IDEs, codecompanion, avante, agent-shell). The same
//! engine as over LSP runs each turn; this module only translates.
//!
//! - A session is a task: its id is the task's id, its first prompt starts the task and
//!   every later one is a follow-up, so `session/list`, `session/load` and
//!   `session/resume` are the workspace's task history. One engine serves each workspace
//!   (a session's `cwd`); the MCP servers the client lists join the configured ones.
//! - A turn's view holds what the editor holds: the files the prompt attaches and those
//!   written last turn are read through `fs/read_text_file` when the client has it, and
//!   so is a file the model opens later (`updates::AcpSink`'s `editor_text`). Commands
//!   run in the view, under our sandbox, never in the user's tree.
//! - At the end of the turn the changes go to the editor for its own review
//!   (`review::write_back`), and the next prompt starts by reading back what the user
//!   kept (`review::review`), told to the model as a follow-up's review is.
//! - `session/cancel` cancels the task's run (its command is killed) and the prompt
//!   answers `cancelled`. When the client goes away, every run is cancelled, its view
//!   removed and its MCP servers stopped before agentls exits.
//!
//! Requests are answered in order of arrival, except `session/prompt`, which runs in
//! the background: cancels, reads and permissions flow while a turn runs.

mod raw;
mod review;
mod updates;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::acp::rpc::{Connection, Incoming, RpcError};
use crate::acp::types::{
    self as acp, AgentCapabilities, AuthMethod, AuthenticateRequest, CancelNotification,
    ClientCapabilities, ContentBlock, ContentChunk, EmbeddedResource, Empty, Implementation,
    InitializeRequest, InitializeResponse, ListSessionsRequest, ListSessionsResponse,
    LoadSessionRequest, LoadSessionResponse, McpCapabilities, McpServer, NewSessionRequest,
    NewSessionResponse, PromptCapabilities, PromptRequest, PromptResponse, RemoteMcpServer,
    SessionCapabilities, SessionInfo, SessionMode, SessionModeState, SessionNotification,
    SessionUpdate, SetSessionModeRequest, StopReason, error_code, method,
};
use crate::config::{self, AcpWrite, ConfigSources};
use crate::documents::PositionEncoding;
use crate::engine::{Engine, EngineSettings};
use crate::proposal::store::ProposalStore;
use crate::protocol::{ContextRef, ReviewTarget, StartTaskParams, TaskMode, TaskStatus};
use crate::task::load;
use crate::task::log::Event;
use crate::task::now_ms;
use crate::uri;
use review::{ClientFiles, Written};
use updates::{AcpSink, SessionFeed, lock};

/// Serves ACP on stdin and stdout until the client closes them.
pub async fn serve(settings: EngineSettings) -> ExitCode {
    let (connection, mut incoming) = Connection::new(tokio::io::stdin(), tokio::io::stdout());
    let server = Arc::new(Server {
        connection: Arc::new(connection),
        settings,
        client: Mutex::default(),
        workspaces: Mutex::default(),
        sessions: Mutex::default(),
    });
    while let Some(message) = incoming.recv().await {
        match message {
            Incoming::Request { id, method, params } if method == method::SESSION_PROMPT => {
                let server = server.clone();
                tokio::spawn(async move {
                    let answer = match parse(&method, params) {
                        Ok(request) => server.prompt(request).await.and_then(to_value),
                        Err(error) => Err(error),
                    };
                    server.connection.respond(id, answer);
                });
            }
            Incoming::Request { id, method, params } => {
                let answer = server.handle(&method, params);
                server.connection.respond(id, answer);
            }
            Incoming::Notification { method, params } => server.notified(&method, params),
        }
    }
    // The client is gone: nothing may outlive it.
    let engines: Vec<Arc<Engine>> = lock(&server.workspaces)
        .values()
        .map(|workspace| workspace.engine.clone())
        .collect();
    for engine in engines {
        engine.shutdown().await;
    }
    ExitCode::SUCCESS
}

struct Server {
    connection: Arc<Connection>,
    settings: EngineSettings,
    /// What the client said it can do (`initialize`).
    client: Mutex<ClientCapabilities>,
    /// One engine per workspace root.
    workspaces: Mutex<HashMap<PathBuf, Arc<Workspace>>>,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

struct Workspace {
    root: PathBuf,
    engine: Arc<Engine>,
    sink: Arc<AcpSink>,
    /// The client's MCP servers this workspace's engine was started with.
    client_servers: Vec<String>,
}

struct Session {
    id: String,
    workspace: Arc<Workspace>,
    feed: Arc<SessionFeed>,
    mode: Mutex<TaskMode>,
    /// Held by the prompt in progress: the files the last turn wrote.
    written: tokio::sync::Mutex<Vec<Written>>,
    acp_write: AcpWrite,
}

/// The modes `session/set_mode` takes, as `session/new` lists them.
fn modes(current: TaskMode) -> SessionModeState {
    let mode = |id: &str, name: &str, description: &str| SessionMode {
        id: id.into(),
        name: name.into(),
        description: Some(description.into()),
    };
    SessionModeState {
        current_mode_id: mode_id(current).into(),
        available_modes: vec![
            mode(
                "code",
                "Code",
                "Changes files in an isolated view; the changes come to the editor for review at the end of the turn",
            ),
            mode("ask", "Ask", "Reads and answers; changes nothing"),
            mode(
                "review",
                "Review",
                "Reviews the uncommitted changes (attached files as the editor holds them); the prompt says what to look for. Each finding points at its lines and shows its fix, which a later Code turn can apply",
            ),
        ],
    }
}

fn mode_id(mode: TaskMode) -> &'static str {
    match mode {
        TaskMode::Ask => "ask",
        TaskMode::Review => "review",
        TaskMode::Code => "code",
    }
}

impl Server {
    fn handle(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        match method {
            method::INITIALIZE => to_value(self.initialize(parse(method, params)?)),
            method::AUTHENTICATE => {
                let _: AuthenticateRequest = parse(method, params)?;
                match self.missing_model() {
                    None => to_value(Empty {}),
                    Some(what) => Err(RpcError::new(error_code::AUTH_REQUIRED, what)),
                }
            }
            method::SESSION_NEW => to_value(self.new_session(parse(method, params)?)?),
            method::SESSION_LOAD => to_value(self.load_session(parse(method, params)?, true)?),
            method::SESSION_RESUME => to_value(self.load_session(parse(method, params)?, false)?),
            method::SESSION_LIST => to_value(self.list_sessions(parse(method, params)?)?),
            method::SESSION_SET_MODE => {
                let request: SetSessionModeRequest = parse(method, params)?;
                let session = self.session(&request.session_id)?;
                let mode = match request.mode_id.as_str() {
                    "code" => TaskMode::Code,
                    "ask" => TaskMode::Ask,
                    "review" => TaskMode::Review,
                    other => {
                        return Err(RpcError::new(
                            error_code::INVALID_PARAMS,
                            format!("no mode `{other}`; the modes are `code`, `ask` and `review`"),
                        ));
                    }
                };
                *lock(&session.mode) = mode;
                to_value(Empty {})
            }
            other => Err(RpcError::method_not_found(other)),
        }
    }

    fn notified(&self, method: &str, params: Value) {
        if method != method::SESSION_CANCEL {
            tracing::debug!("ACP: ignored the notification `{method}`");
            return;
        }
        let Ok(cancel) = serde_json::from_value::<CancelNotification>(params) else {
            tracing::warn!("ACP: session/cancel without a sessionId");
            return;
        };
        if let Some(session) = lock(&self.sessions).get(&cancel.session_id) {
            // Not running: nothing to cancel.
            let _ = session.workspace.engine.cancel(&session.id, false);
        }
    }

    fn initialize(&self, request: InitializeRequest) -> InitializeResponse {
        *lock(&self.client) = request.client_capabilities;
        let auth_methods = match self.missing_model() {
            None => Vec::new(),
            Some(what) => vec![AuthMethod {
                id: "agentls-model".into(),
                name: "Configure a model provider".into(),
                description: Some(what),
                kind: None,
                args: Vec::new(),
                env: Default::default(),
                vars: Vec::new(),
            }],
        };
        InitializeResponse {
            protocol_version: acp::PROTOCOL_VERSION,
            agent_capabilities: AgentCapabilities {
                load_session: self.settings.journal.is_on(),
                prompt_capabilities: PromptCapabilities {
                    image: false,
                    audio: false,
                    embedded_context: true,
                },
                mcp_capabilities: McpCapabilities {
                    http: true,
                    sse: false,
                },
                session_capabilities: SessionCapabilities {
                    list: Some(Empty {}),
                    resume: Some(Empty {}),
                },
            },
            auth_methods,
            agent_info: Some(Implementation {
                name: "agentls".into(),
                title: Some("agentls".into()),
                version: env!("CARGO_PKG_VERSION").into(),
            }),
        }
    }

    /// What to set up when no model can be reached: a provider needs a key unless it is
    /// local. None when one is configured.
    fn missing_model(&self) -> Option<String> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let (config, _) = match config::load(&self.sources(&cwd, None)) {
            Ok(loaded) => loaded,
            Err(error) => return Some(format!("fix the configuration: {error}")),
        };
        match config.provider(&config::process_env) {
            Ok(provider) if provider.api_key.is_some() || is_local(&provider.base_url) => None,
            Ok(provider) => Some(format!(
                "The model provider `{}` needs an API key: set the variable its `env_key` names \
                 (OPENAI_API_KEY for `openai`) in the agent's environment, or choose a local \
                 provider (`model_provider = \"ollama\"`) in {}/config.toml; then restart the agent",
                provider.id,
                self.settings.home.display()
            )),
            Err(error) => Some(format!(
                "{error}; set `model_provider` and `[model_providers.<id>]` in {}/config.toml",
                self.settings.home.display()
            )),
        }
    }

    fn sources<'a>(&'a self, root: &'a Path, init: Option<&'a Value>) -> ConfigSources<'a> {
        ConfigSources {
            home: &self.settings.home,
            workspace_root: Some(root),
            cli_overrides: &self.settings.cli_overrides,
            init_options: init,
            profile: None,
            model: None,
        }
    }

    /// The engine for `cwd`'s workspace, started with the client's MCP servers the first
    /// time. Servers a later session adds to an open workspace are not started (said in the
    /// log): the workspace's engine, and its servers, are shared.
    fn workspace(&self, cwd: &str, servers: &[McpServer]) -> Result<Arc<Workspace>, RpcError> {
        let root = Path::new(cwd).canonicalize().map_err(|error| {
            RpcError::new(
                error_code::INVALID_PARAMS,
                format!("cannot open the workspace {cwd}: {error}; give an existing absolute directory as `cwd`"),
            )
        })?;
        let mut workspaces = lock(&self.workspaces);
        if let Some(workspace) = workspaces.get(&root) {
            for server in servers {
                if !workspace
                    .client_servers
                    .iter()
                    .any(|name| name == server.name())
                {
                    tracing::warn!(
                        "the MCP server `{}` is not started: {} is already open with other servers",
                        server.name(),
                        root.display()
                    );
                }
            }
            return Ok(workspace.clone());
        }
        let mut settings = self.settings.clone();
        if !servers.is_empty() {
            settings.init_options = Some(to_value(ClientMcpServers {
                mcp_servers: mcp_config(servers),
            })?);
        }
        let sink = AcpSink::new(self.connection.clone(), lock(&self.client).fs.clone());
        let store = ProposalStore::new(root.clone(), PositionEncoding::Utf8);
        let engine = Engine::new(root.clone(), store, sink.clone(), settings);
        for problem in engine.check_config() {
            tracing::warn!("{problem}");
        }
        let workspace = Arc::new(Workspace {
            root: root.clone(),
            engine,
            sink,
            client_servers: servers.iter().map(|s| s.name().to_string()).collect(),
        });
        workspaces.insert(root, workspace.clone());
        Ok(workspace)
    }

    fn open_session(&self, workspace: Arc<Workspace>, id: String, mode: TaskMode) -> Arc<Session> {
        let init = self.settings.init_options.clone();
        let (config, _) = config::load(&self.sources(&workspace.root, init.as_ref()))
            .unwrap_or_else(|_| (config::Config::default(), Vec::new()));
        let context_window = config.model_name().ok().and_then(|model| {
            crate::agent::compact::context_window_of(&model, config.model_context_window)
        });
        let feed = SessionFeed::new(id.clone(), workspace.root.clone(), context_window);
        workspace.sink.attach(feed.clone());
        let session = Arc::new(Session {
            id: id.clone(),
            workspace,
            feed,
            mode: Mutex::new(mode),
            written: Default::default(),
            acp_write: config.acp_write,
        });
        lock(&self.sessions).insert(id, session.clone());
        session
    }

    fn new_session(&self, request: NewSessionRequest) -> Result<NewSessionResponse, RpcError> {
        let workspace = self.workspace(&request.cwd, &request.mcp_servers)?;
        let id = workspace.engine.tasks.new_id();
        self.open_session(workspace, id.clone(), TaskMode::Code);
        Ok(NewSessionResponse {
            session_id: id,
            modes: Some(modes(TaskMode::Code)),
        })
    }

    /// `session/load` (`replay`: the conversation is sent as updates first) and
    /// `session/resume`: an earlier task of the workspace, continued by the next prompt.
    fn load_session(
        &self,
        request: LoadSessionRequest,
        replay: bool,
    ) -> Result<LoadSessionResponse, RpcError> {
        let workspace = self.workspace(&request.cwd, &request.mcp_servers)?;
        let task = workspace
            .engine
            .task(&request.session_id)
            .ok()
            .filter(|task| task.history().params.is_some())
            .ok_or_else(|| {
                RpcError::new(
                    error_code::RESOURCE_NOT_FOUND,
                    format!(
                        "no session {} in {}; session/list shows the sessions there",
                        request.session_id,
                        workspace.root.display()
                    ),
                )
            })?;
        let existing = lock(&self.sessions).get(&task.id).cloned();
        let session = match existing {
            Some(session) => session,
            None => {
                let written = written_back(&workspace.engine, &task.id);
                let session = self.open_session(workspace, task.id.clone(), task.mode);
                if let Ok(mut slot) = session.written.try_lock() {
                    *slot = written;
                }
                session
            }
        };
        if replay {
            let notify = |update| {
                self.connection.notify(
                    method::SESSION_UPDATE,
                    &SessionNotification {
                        session_id: session.id.clone(),
                        update,
                    },
                )
            };
            notify(SessionUpdate::UserMessageChunk(ContentChunk {
                content: ContentBlock::text(task.prompt.clone()),
                message_id: None,
            }));
            for event in task.events() {
                for update in session.feed.session_updates(&event.update, true) {
                    notify(update);
                }
            }
        }
        Ok(LoadSessionResponse {
            modes: Some(modes(*lock(&session.mode))),
        })
    }

    fn list_sessions(
        &self,
        request: ListSessionsRequest,
    ) -> Result<ListSessionsResponse, RpcError> {
        let workspaces: Vec<Arc<Workspace>> = match &request.cwd {
            Some(cwd) => vec![self.workspace(cwd, &[])?],
            None => lock(&self.workspaces).values().cloned().collect(),
        };
        let mut sessions = Vec::new();
        for workspace in workspaces {
            for summary in workspace.engine.tasks.list().into_iter().rev() {
                let is_agent_task = workspace
                    .engine
                    .task(&summary.task_id)
                    .is_ok_and(|task| task.history().params.is_some());
                if !is_agent_task {
                    continue;
                }
                sessions.push(SessionInfo {
                    session_id: summary.task_id,
                    cwd: workspace.root.to_string_lossy().into_owned(),
                    title: Some(title(&summary.prompt)),
                    updated_at: Some(iso8601(summary.finished_at.unwrap_or(summary.created_at))),
                });
            }
        }
        Ok(ListSessionsResponse {
            sessions,
            next_cursor: None,
        })
    }

    fn session(&self, id: &str) -> Result<Arc<Session>, RpcError> {
        lock(&self.sessions).get(id).cloned().ok_or_else(|| {
            RpcError::new(
                error_code::RESOURCE_NOT_FOUND,
                format!("no session {id}; start one with session/new or load it with session/load"),
            )
        })
    }

    /// One turn: the view from the editor's text, the task's run streamed, the changes
    /// written back.
    async fn prompt(&self, request: PromptRequest) -> Result<PromptResponse, RpcError> {
        let session = self.session(&request.session_id)?;
        let Ok(mut written) = session.written.try_lock() else {
            return Err(RpcError::new(
                error_code::INVALID_REQUEST,
                "a prompt is already running in this session; wait for it or send session/cancel",
            ));
        };
        let fs = lock(&self.client).fs.clone();
        let root = session.workspace.root.clone();
        let files = ClientFiles {
            connection: &self.connection,
            session_id: &session.id,
            root: &root,
            fs: &fs,
        };
        let asked = Asked::from_prompt(&root, &request.prompt);
        if asked.text.trim().is_empty() && asked.context.is_empty() {
            return Err(RpcError::new(
                error_code::INVALID_PARAMS,
                "the prompt is empty; say what to do",
            ));
        }
        // What the editor holds now of the files this turn is about.
        let mut buffers = asked.embedded.clone();
        let mut read_back = Vec::new();
        let paths = written.iter().map(|w| w.path.clone()).chain(
            asked
                .context
                .iter()
                .filter_map(|c| relative_of(&root, &c.uri)),
        );
        for path in paths {
            match files.read(&path).await {
                Ok(Some(text)) => {
                    buffers.insert(path, text);
                }
                Ok(None) => {}
                Err(error) => tracing::warn!("{error}; the task reads it from disk"),
            }
        }
        for file in written.iter() {
            let now = buffers
                .get(&file.path)
                .cloned()
                .or_else(|| updates::read_disk(&root, &file.path).ok().flatten());
            read_back.push((file.clone(), now));
        }
        let mode = *lock(&session.mode);
        let reviewing = mode == TaskMode::Review;
        let params = StartTaskParams {
            prompt: asked.text,
            mode,
            cwd: Some(root.to_string_lossy().into_owned()),
            context: asked.context,
            target: reviewing.then(|| ReviewTarget {
                uncommitted: true,
                ..ReviewTarget::default()
            }),
            ..StartTaskParams::default()
        };
        let engine = &session.workspace.engine;
        let finished = session.feed.begin_turn(buffers.clone());
        match engine.task(&session.id) {
            Ok(task) => engine
                .follow_up_seeing(&task, params, review::review(&read_back), buffers)
                .map_err(|e| RpcError::new(error_code::INVALID_REQUEST, e.to_string()))?,
            Err(_) => {
                engine.start_task_seeing(session.id.clone(), params, buffers);
            }
        }
        // The run ends with a `finished` update; a sink that went away is a cancel.
        let status = finished.await.unwrap_or(TaskStatus::Cancelled);
        let mut changes = session.feed.take_changes();
        if reviewing {
            // A review proposes nothing: what its linters or tests wrote stays in its view.
            changes.clear();
        }
        let outcome = review::write_back(&files, session.acp_write, changes).await;
        *written = outcome.written;
        if let Ok(task) = engine.task(&session.id) {
            task.log(Event::WrittenBack {
                at: now_ms(),
                files: written.iter().map(Written::record).collect(),
            });
        }
        if !outcome.notes.is_empty() {
            self.connection.notify(
                method::SESSION_UPDATE,
                &SessionNotification {
                    session_id: session.id.clone(),
                    update: SessionUpdate::AgentMessageChunk(ContentChunk {
                        content: ContentBlock::text(format!("\n\n{}\n", outcome.notes.join("\n"))),
                        message_id: None,
                    }),
                },
            );
        }
        let stop_reason = match status {
            TaskStatus::Completed => StopReason::EndTurn,
            TaskStatus::Cancelled | TaskStatus::Interrupted => StopReason::Cancelled,
            _ => {
                let summary = engine
                    .task(&session.id)
                    .ok()
                    .and_then(|task| task.summary().summary)
                    .unwrap_or_else(|| "the turn failed".into());
                return Err(RpcError::new(error_code::INTERNAL_ERROR, summary));
            }
        };
        Ok(PromptResponse { stop_reason })
    }
}

/// What the session's last turn wrote, as its task log keeps it: what the next prompt
/// reads back after a restart.
fn written_back(engine: &Engine, task_id: &str) -> Vec<Written> {
    let journal = &engine.settings().journal;
    let (Some(dir), Some(blobs)) = (journal.dir(), journal.blobs()) else {
        return Vec::new();
    };
    let Some(loaded) = load::load_one(dir, task_id) else {
        return Vec::new();
    };
    let written: Vec<Written> = loaded
        .written_back
        .iter()
        .filter_map(|record| Written::restore(record, blobs))
        .collect();
    if written.len() < loaded.written_back.len() {
        tracing::warn!(
            "session {task_id}: some files of its last turn are lost from the task log; the next prompt cannot tell what the user did with them"
        );
    }
    written
}

/// What a prompt asks: its text, the files it points at (`resource_link`, `resource`) as
/// context, and the text of embedded files (what the editor holds, when it cannot be
/// asked through `fs/read_text_file`).
struct Asked {
    text: String,
    context: Vec<ContextRef>,
    embedded: HashMap<String, String>,
}

impl Asked {
    fn from_prompt(root: &Path, blocks: &[ContentBlock]) -> Asked {
        let mut asked = Asked {
            text: String::new(),
            context: Vec::new(),
            embedded: HashMap::new(),
        };
        let refer = |asked: &mut Asked, uri: &str| {
            if relative_of(root, uri).is_some() {
                asked.context.push(ContextRef {
                    uri: uri.to_string(),
                    range: None,
                });
                true
            } else {
                false
            }
        };
        for block in blocks {
            match block {
                ContentBlock::Text { text } => asked.text.push_str(text),
                ContentBlock::ResourceLink(link) => {
                    if !refer(&mut asked, &link.uri) {
                        asked.text.push_str(&format!("\n{}\n", block.as_readable()));
                    }
                }
                ContentBlock::Resource {
                    resource: EmbeddedResource::Text(resource),
                } => match relative_of(root, &resource.uri) {
                    Some(rel) if refer(&mut asked, &resource.uri) => {
                        asked.embedded.insert(rel, resource.text.clone());
                    }
                    _ => asked.text.push_str(&format!(
                        "\n\nAttached {}:\n```\n{}\n```\n",
                        resource.uri, resource.text
                    )),
                },
                other => asked.text.push_str(&format!("\n{}\n", other.as_readable())),
            }
        }
        asked
    }
}

/// The workspace-relative path of a `file:` URI or an absolute path, if under `root`.
fn relative_of(root: &Path, uri: &str) -> Option<String> {
    uri::to_relative(root, uri).or_else(|| {
        let path = Path::new(uri);
        path.is_absolute()
            .then(|| uri::relative(root, path))
            .flatten()
    })
}

/// The client's MCP servers, as the configuration layer `initializationOptions` is.
#[derive(Serialize)]
struct ClientMcpServers {
    mcp_servers: BTreeMap<String, McpEntry>,
}

/// One `[mcp_servers.<name>]` entry, with the keys of [`config::McpServerConfig`] an ACP
/// client can set.
#[derive(Serialize, Default)]
struct McpEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    args: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    env: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    http_headers: BTreeMap<String, String>,
}

/// The client's MCP servers as `[mcp_servers]` entries.
fn mcp_config(servers: &[McpServer]) -> BTreeMap<String, McpEntry> {
    servers
        .iter()
        .map(|server| {
            let entry = match server {
                McpServer::Stdio(stdio) => McpEntry {
                    command: Some(stdio.command.clone()),
                    args: stdio.args.clone(),
                    env: stdio
                        .env
                        .iter()
                        .map(|v| (v.name.clone(), v.value.clone()))
                        .collect(),
                    ..McpEntry::default()
                },
                McpServer::Remote(RemoteMcpServer::Http(http) | RemoteMcpServer::Sse(http)) => {
                    McpEntry {
                        url: Some(http.url.clone()),
                        http_headers: http
                            .headers
                            .iter()
                            .map(|h| (h.name.clone(), h.value.clone()))
                            .collect(),
                        ..McpEntry::default()
                    }
                }
            };
            (server.name().to_string(), entry)
        })
        .collect()
}

/// A provider on this machine needs no key.
fn is_local(base_url: &str) -> bool {
    let host = base_url
        .split("://")
        .nth(1)
        .unwrap_or(base_url)
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    host == "localhost" || host.starts_with("127.") || base_url.contains("://[::1]")
}

/// A session's title: the first line of its first prompt, bounded.
fn title(prompt: &str) -> String {
    let line = prompt.trim().lines().next().unwrap_or_default();
    match line.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

/// Milliseconds since the epoch as ISO 8601 in UTC (`2026-12-07T18:00:00Z`).
fn iso8601(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

fn parse<T: DeserializeOwned>(method: &str, params: Value) -> Result<T, RpcError> {
    serde_json::from_value(params).map_err(|error| RpcError::invalid_params(method, error))
}

fn to_value<T: Serialize>(value: T) -> Result<Value, RpcError> {
    serde_json::to_value(value)
        .map_err(|error| RpcError::new(error_code::INTERNAL_ERROR, error.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn times_read_as_iso_8601() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_796_673_600_000), "2026-12-07T20:00:00Z");
    }

    #[test]
    fn local_providers_need_no_key() {
        assert!(is_local("http://127.0.0.1:8080/v1"));
        assert!(is_local("http://localhost:11434/v1"));
        assert!(!is_local("https://api.openai.com/v1"));
    }

    #[test]
    fn attached_files_become_context_and_embedded_text_a_buffer() {
        let root = Path::new("/w");
        let asked = Asked::from_prompt(
            root,
            &serde_json::from_value::<Vec<ContentBlock>>(json!([
                {"type": "text", "text": "fix it"},
                {"type": "resource_link", "uri": "file:///w/a.rs", "name": "a.rs"},
                {"type": "resource", "resource": {"uri": "file:///w/b.rs", "text": "unsaved"}},
                {"type": "resource_link", "uri": "https://example.com/doc", "name": "doc"}
            ]))
            .unwrap(),
        );
        assert_eq!(asked.context.len(), 2);
        assert_eq!(asked.embedded["b.rs"], "unsaved");
        assert!(asked.text.starts_with("fix it"));
        assert!(asked.text.contains("[doc](https://example.com/doc)"));
    }
}
