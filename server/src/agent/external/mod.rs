//! ACP agents as a task's agent: codex-acp, claude-agent-acp, gemini and any other
//! program that speaks the Agent Client Protocol runs a task instead of the built-in loop,
//! with agentls as its client.
//!
//! The agent's process works in the task's view directory (a copy of the workspace with
//! the unsaved buffers in it), under agentls's sandbox: it writes only there, to its own
//! state directories and a private tmp, and may use the network to reach its model. So
//! whatever it writes — through `fs/write_text_file`, its own patch tool or a shell — is
//! folded into the task's view and becomes hunks, and the user's tree is untouched until
//! they accept. The view is a copy, not an overlay, because three parties must see the
//! same directory at once: the agent, agentls (folding and serving `fs/*`) and the
//! commands of its terminals; an overlay is visible only inside the namespace that mounts
//! it.
//!
//! - `launch`: the agent's program, environment and confinement.
//! - `host`: the client's side of a turn: `fs/*`, `terminal/*`, permissions, updates.
//! - `terminal`: commands the agent runs through `terminal/*`.
//!
//! One session per task. Between a task's runs its process waits ([`ExternalAgents`]
//! parks it, its view directory with it), so a follow-up is the next `session/prompt` of
//! the same session; a follow-up after the process exited (or agentls restarted) starts
//! it again and loads the session when the agent can (`session/load`), else opens a new
//! one told what the task was.

mod host;
mod launch;
mod terminal;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::acp::rpc::{Connection, Incoming, RequestError};
use crate::acp::types::{
    AuthMethod, AuthenticateRequest, CancelNotification, ClientCapabilities, ContentBlock,
    FileSystemCapabilities, Implementation, InitializeRequest, InitializeResponse,
    LoadSessionRequest, LoadSessionResponse, McpServer, McpServerHttp, McpServerStdio,
    NewSessionRequest, NewSessionResponse, PROTOCOL_VERSION, PromptRequest, PromptResponse,
    RemoteMcpServer, StopReason, error_code, method,
};
use crate::agent::Outcome;
use crate::agent::shell::Commands;
use crate::config::{AgentConfig, Config, SandboxMode};
use crate::mcp::process::ServerProcess;
use crate::mcp::{self, Transport};
use crate::protocol::{TaskMode, TaskUpdate, ViewStrategy};
use crate::task::{Task, log};
use crate::workspace::materialize;
use crate::workspace::{FileChange, TaskView};
use host::Host;
use terminal::Terminals;

/// How long an agent may take to answer `initialize` (`npx` may be downloading it).
const INITIALIZE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a cancelled turn may take to end before the agent's process is stopped.
const CANCEL_GRACE: Duration = Duration::from_secs(5);
/// How long an exited agent's status is waited for, for the error message.
const EXIT_WAIT: Duration = Duration::from_secs(2);
/// Agents kept waiting for a follow-up; the longest-waiting one stops beyond that (its
/// next follow-up loads the session again).
const MAX_PARKED: usize = 8;

/// One run of a task with an ACP agent.
pub struct ExternalRun<'a> {
    pub task: Arc<Task>,
    /// The `[agents.<name>]` name.
    pub name: String,
    pub agent: AgentConfig,
    pub config: &'a Config,
    pub mode: TaskMode,
    /// The task's view for this run (a follow-up's starts from its pending hunks).
    pub view: Arc<Mutex<TaskView>>,
    /// `$AGENTLS_HOME/views`.
    pub views: PathBuf,
    pub home: Option<PathBuf>,
    /// The message for the agent's session.
    pub prompt: String,
    /// The message for a session that knows nothing of the task yet: a follow-up whose
    /// session could not be loaded again.
    pub fresh_prompt: String,
    /// The task's earlier session, for `session/load` when its process is gone.
    pub resume: Option<String>,
}

/// How a run ended and what it changed.
pub struct Ran {
    pub outcome: Outcome,
    pub changes: Vec<FileChange>,
}

/// The agents waiting between their tasks' runs, by task id. One per engine.
#[derive(Default)]
pub struct ExternalAgents {
    parked: Mutex<HashMap<String, (Instant, Session)>>,
}

impl ExternalAgents {
    /// Runs one turn of `run.task` with its agent: the waiting session if there is one
    /// for the same configuration, else a new process and session.
    pub async fn run(&self, run: ExternalRun<'_>) -> Ran {
        let view = run.view.clone();
        let parked = self.take(&run.task.id, &fingerprint(&run));
        let started = match parked {
            Some(session) => session.refresh(&view).await.map(|s| (s, false)),
            None => Session::start(&run, &view).await,
        };
        let (mut session, fresh) = match started {
            Ok(started) => started,
            Err(message) => {
                return Ran {
                    outcome: Outcome::Failed(message),
                    changes: lock(&view).changes(),
                };
            }
        };
        let prompt = if fresh {
            &run.fresh_prompt
        } else {
            &run.prompt
        };
        let host = Arc::new(Host::new(
            run.name.clone(),
            run.task.clone(),
            view.clone(),
            session.commands.clone(),
            session.terminals.clone(),
            session.tree.clone(),
            run.mode,
        ));
        let outcome = session.prompt(&host, prompt).await;
        host.fold().await;
        let changes = lock(&view).changes();
        if session.reusable() {
            self.park(run.task.id.clone(), session);
        } else {
            session.stop().await;
        }
        Ran { outcome, changes }
    }

    /// Stops the agent waiting for `task_id`'s follow-up, if any, and removes its view
    /// directory (a deleted task).
    pub fn discard(&self, task_id: &str) {
        // Dropping the process kills its sandbox helper, and everything with it.
        lock(&self.parked).remove(task_id);
    }

    /// Stops every waiting agent (the server is going away).
    pub async fn stop_all(&self) {
        let sessions: Vec<Session> = lock(&self.parked).drain().map(|(_, (_, s))| s).collect();
        futures_util::future::join_all(sessions.into_iter().map(Session::stop)).await;
    }

    fn take(&self, task_id: &str, fingerprint: &str) -> Option<Session> {
        let (_, session) = lock(&self.parked).remove(task_id)?;
        (session.fingerprint == fingerprint && !session.connection.is_closed()).then_some(session)
    }

    fn park(&self, task_id: String, session: Session) {
        let mut parked = lock(&self.parked);
        parked.insert(task_id, (Instant::now(), session));
        while parked.len() > MAX_PARKED {
            let oldest = parked
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => parked.remove(&id),
                None => break,
            };
        }
    }
}

/// What must be the same for a waiting session to serve the next run: the agent's table
/// and the rules it was started under.
fn fingerprint(run: &ExternalRun) -> String {
    let config = run.config;
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}",
        run.agent,
        config.sandbox_mode,
        config.sandbox_workspace_write,
        config.approval_policy,
        run.mode
    )
}

/// A live agent process and its session.
struct Session {
    name: String,
    process: ServerProcess,
    connection: Arc<Connection>,
    incoming: mpsc::UnboundedReceiver<Incoming>,
    session_id: String,
    /// The task's command runner: its view directory, sandbox and approvals.
    commands: Arc<Commands>,
    terminals: Arc<Terminals>,
    tree: PathBuf,
    fingerprint: String,
    /// Set when a turn could not be ended cleanly: the process is not reused.
    broken: bool,
}

/// How waiting for an answer of the agent ended.
enum Waited<T> {
    Answered(Result<T, RequestError>),
    /// The task was cancelled and the agent did not end in time.
    Abandoned,
}

impl Session {
    /// Starts the agent in the task's view directory, initializes it and opens its
    /// session (loading the task's earlier one when it can). The flag: the session is
    /// new, so it knows nothing of the task yet.
    async fn start(
        run: &ExternalRun<'_>,
        view: &Arc<Mutex<TaskView>>,
    ) -> Result<(Session, bool), String> {
        let name = &run.name;
        let mut commands =
            Commands::from_config(run.config, run.views.clone(), run.home.as_deref());
        if run.mode == TaskMode::Ask {
            commands.sandbox.mode = SandboxMode::ReadOnly;
        }
        let commands = Arc::new(commands);
        let (place, tree) = {
            let mut dir = commands
                .open_dir(&run.task, view, Some(ViewStrategy::Copy))
                .await?;
            let Some(dir) = dir.as_mut() else {
                return Err("the task's view directory is missing".into());
            };
            materialize::flush_view(dir, view)
                .map_err(|e| format!("cannot write the task's files into its view: {e}"))?;
            let place = launch::Place {
                tree: dir.tree(),
                tmp: dir.tmp(),
                extra_readable: dir.extra_readable(),
                writable: run.mode == TaskMode::Code,
            };
            (place.clone(), place.tree)
        };
        let env: Vec<(String, String)> = std::env::vars().collect();
        let launch = launch::launch(
            name,
            &run.agent,
            &commands.sandbox,
            &place,
            &env,
            run.home.as_deref(),
        )?;
        let (process, stdout, stdin) = ServerProcess::spawn(name, &launch)
            .map_err(|e| format!("agent `{name}` could not be started: {e}"))?;
        let (connection, incoming) = Connection::new(stdout, stdin);
        let mut session = Session {
            name: name.clone(),
            process,
            connection: Arc::new(connection),
            incoming,
            session_id: String::new(),
            commands: commands.clone(),
            terminals: Arc::default(),
            tree: tree.clone(),
            fingerprint: fingerprint(run),
            broken: false,
        };
        // Requests the agent makes while its session is set up are answered too.
        let host = Arc::new(Host::new(
            name.clone(),
            run.task.clone(),
            view.clone(),
            commands,
            session.terminals.clone(),
            tree.clone(),
            run.mode,
        ));
        match session.open(run, &host, &place).await {
            Ok(fresh) => Ok((session, fresh)),
            Err(message) => {
                session.stop().await;
                Err(message)
            }
        }
    }

    async fn open(
        &mut self,
        run: &ExternalRun<'_>,
        host: &Arc<Host>,
        place: &launch::Place,
    ) -> Result<bool, String> {
        let name = self.name.clone();
        let initialize = InitializeRequest {
            protocol_version: PROTOCOL_VERSION,
            client_capabilities: ClientCapabilities {
                fs: FileSystemCapabilities {
                    read_text_file: true,
                    write_text_file: true,
                },
                terminal: true,
            },
            client_info: Some(Implementation {
                name: "agentls".into(),
                title: None,
                version: env!("CARGO_PKG_VERSION").into(),
            }),
        };
        let connection = self.connection.clone();
        let answer = self
            .wait(host, None, async move {
                tokio::time::timeout(
                    INITIALIZE_TIMEOUT,
                    connection.request::<_, InitializeResponse>(method::INITIALIZE, &initialize),
                )
                .await
                .unwrap_or(Err(RequestError::Remote(
                    crate::acp::rpc::RpcError::new(
                        error_code::INTERNAL_ERROR,
                        format!(
                            "no answer to initialize within {} s",
                            INITIALIZE_TIMEOUT.as_secs()
                        ),
                    ),
                )))
            })
            .await;
        let init = self.answered(answer, "during initialize").await?;
        if init.protocol_version != PROTOCOL_VERSION {
            return Err(format!(
                "agent `{name}` speaks ACP version {}, agentls speaks version {PROTOCOL_VERSION}; \
                 use a release of the agent that speaks version {PROTOCOL_VERSION}",
                init.protocol_version
            ));
        }
        let capabilities = init.agent_capabilities.clone();
        let (servers, skipped) = mcp_servers(run.config, place, capabilities.mcp_capabilities.http);
        for server in skipped {
            run.task.emit(TaskUpdate::Warning {
                message: format!(
                    "MCP server `{server}` is not given to agent `{name}`: it is an HTTP server and the agent takes stdio servers only"
                ),
            });
        }
        let cwd = place.tree.display().to_string();
        let resume = run.resume.clone().filter(|_| capabilities.load_session);
        let mut fresh = true;
        if let Some(session_id) = resume {
            host.replaying.store(true, Ordering::SeqCst);
            let load = LoadSessionRequest {
                session_id: session_id.clone(),
                cwd: cwd.clone(),
                mcp_servers: servers.clone(),
            };
            let connection = self.connection.clone();
            let answer = self
                .wait(host, None, async move {
                    connection
                        .request::<_, LoadSessionResponse>(method::SESSION_LOAD, &load)
                        .await
                })
                .await;
            host.replaying.store(false, Ordering::SeqCst);
            match answer {
                Waited::Answered(Ok(_)) => {
                    self.session_id = session_id;
                    fresh = false;
                }
                Waited::Answered(Err(RequestError::Remote(error))) => {
                    run.task.emit(TaskUpdate::Warning {
                        message: format!(
                            "agent `{name}` could not load the task's session again ({error}); a new session is told what the task was"
                        ),
                    });
                }
                other => {
                    self.answered(other, "while loading the task's session")
                        .await?;
                }
            }
        }
        if fresh {
            let request = NewSessionRequest {
                cwd,
                mcp_servers: servers,
            };
            let created = match self.new_session(host, &request).await {
                Err(RequestError::Remote(error)) if error.code == error_code::AUTH_REQUIRED => {
                    self.authenticate(host, &run.agent, &init.auth_methods)
                        .await?;
                    self.new_session(host, &request).await
                }
                other => other,
            };
            self.session_id = self
                .answered(Waited::Answered(created), "while opening a session")
                .await?
                .session_id;
        }
        run.task.emit(TaskUpdate::AgentSession {
            agent: name,
            session_id: self.session_id.clone(),
            agent_info: init.agent_info.as_ref().map(describe),
            resumed: !fresh,
        });
        Ok(fresh)
    }

    async fn new_session(
        &mut self,
        host: &Arc<Host>,
        request: &NewSessionRequest,
    ) -> Result<NewSessionResponse, RequestError> {
        let connection = self.connection.clone();
        let request = request.clone();
        match self
            .wait(host, None, async move {
                connection
                    .request::<_, NewSessionResponse>(method::SESSION_NEW, &request)
                    .await
            })
            .await
        {
            Waited::Answered(answer) => answer,
            Waited::Abandoned => Err(RequestError::Closed),
        }
    }

    /// Logs the agent in with a method that needs no browser and no terminal: one that
    /// takes a key from variables the agent has. Otherwise the error names the agent's
    /// own login command.
    async fn authenticate(
        &mut self,
        host: &Arc<Host>,
        agent: &AgentConfig,
        methods: &[AuthMethod],
    ) -> Result<(), String> {
        let usable = methods.iter().find(|m| {
            m.kind.as_deref() == Some("env_var")
                && !m.vars.is_empty()
                && m.vars.iter().all(|v| {
                    std::env::var(&v.name).is_ok_and(|x| !x.is_empty())
                        || agent.env.contains_key(&v.name)
                })
        });
        let Some(usable) = usable else {
            return Err(login_needed(&self.name, agent, methods));
        };
        let connection = self.connection.clone();
        let request = AuthenticateRequest {
            method_id: usable.id.clone(),
        };
        let answer = self
            .wait(host, None, async move {
                connection
                    .request::<_, serde_json::Value>(method::AUTHENTICATE, &request)
                    .await
            })
            .await;
        self.answered(answer, "while logging in").await.map(drop)
    }

    /// Sends the prompt and serves the agent until it ends the turn.
    async fn prompt(&mut self, host: &Arc<Host>, text: &str) -> Outcome {
        let task = host.task.clone();
        let request = PromptRequest {
            session_id: self.session_id.clone(),
            prompt: vec![ContentBlock::text(text)],
        };
        let connection = self.connection.clone();
        let cancel = task.cancel_token();
        let answer = self
            .wait(host, Some(&cancel), async move {
                connection
                    .request::<_, PromptResponse>(method::SESSION_PROMPT, &request)
                    .await
            })
            .await;
        let turn = host.take_turn();
        let number = task.next_turn();
        task.log(log::Event::Response(log::Response {
            turn: number,
            text: turn.message,
            reasoning: turn.reasoning,
            tool_calls: Vec::new(),
            usage: None,
        }));
        if let Some(usage) = turn.usage {
            task.emit(TaskUpdate::Usage {
                turn: number,
                input_tokens: usage.used,
                output_tokens: 0,
                total_tokens: usage.used,
                context_window: Some(usage.size),
            });
        }
        let name = &self.name;
        if cancel.is_cancelled() {
            if matches!(answer, Waited::Abandoned) {
                self.broken = true;
            }
            return Outcome::Cancelled;
        }
        match answer {
            Waited::Answered(Ok(PromptResponse { stop_reason })) => match stop_reason {
                StopReason::EndTurn => Outcome::Completed(turn.last),
                StopReason::Cancelled => Outcome::Cancelled,
                StopReason::MaxTokens => Outcome::Failed(format!(
                    "agent `{name}` stopped the turn: its model reached its maximum number of tokens"
                )),
                StopReason::MaxTurnRequests => Outcome::Failed(format!(
                    "agent `{name}` stopped the turn: it reached its limit of model requests for one turn"
                )),
                StopReason::Refusal => Outcome::Failed(format!("agent `{name}` refused to go on")),
            },
            Waited::Answered(Err(RequestError::Remote(error)))
                if error.code == error_code::AUTH_REQUIRED =>
            {
                Outcome::Failed(format!(
                    "agent `{name}` needs you to log in: {error}; log in with the agent's own command, then follow up"
                ))
            }
            Waited::Answered(Err(error)) => {
                Outcome::Failed(self.failure(Some(error), "during the turn").await)
            }
            Waited::Abandoned => Outcome::Failed(self.failure(None, "during the turn").await),
        }
    }

    /// Waits for `request` while answering what the agent asks meanwhile. With `cancel`,
    /// a cancelled task sends `session/cancel` (and stops the session's terminals), then
    /// waits [`CANCEL_GRACE`] at most for the answer.
    async fn wait<T>(
        &mut self,
        host: &Arc<Host>,
        cancel: Option<&tokio_util::sync::CancellationToken>,
        request: impl Future<Output = Result<T, RequestError>>,
    ) -> Waited<T> {
        tokio::pin!(request);
        let mut handlers = JoinSet::new();
        let mut open = true;
        let mut deadline: Option<tokio::time::Instant> = None;
        let never = tokio_util::sync::CancellationToken::new();
        let cancel = cancel.unwrap_or(&never);
        loop {
            let grace = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            // Messages first: the reader queues every message that came before an answer
            // ahead of it, so updates are never taken for the next request's.
            tokio::select! {
                biased;
                message = self.incoming.recv(), if open => match message {
                    None => open = false,
                    Some(Incoming::Notification { method, params }) => host.notify(&method, params).await,
                    Some(Incoming::Request { id, method, params }) => {
                        let (host, connection) = (host.clone(), self.connection.clone());
                        handlers.spawn(async move {
                            let answer = host.answer(&method, params).await;
                            connection.respond(id, answer);
                        });
                    }
                },
                answer = &mut request => return Waited::Answered(answer),
                () = cancel.cancelled(), if deadline.is_none() => {
                    self.connection.notify(
                        method::SESSION_CANCEL,
                        &CancelNotification { session_id: self.session_id.clone() },
                    );
                    self.terminals.kill_all();
                    deadline = Some(tokio::time::Instant::now() + CANCEL_GRACE);
                }
                () = grace => return Waited::Abandoned,
            }
        }
    }

    /// The answer, or the error that says how the agent failed `when`.
    async fn answered<T>(&mut self, answer: Waited<T>, when: &str) -> Result<T, String> {
        match answer {
            Waited::Answered(Ok(value)) => Ok(value),
            Waited::Answered(Err(error)) => Err(self.failure(Some(error), when).await),
            Waited::Abandoned => Err(self.failure(None, when).await),
        }
    }

    /// What to tell the user about a request that failed `when` (`None`: the agent did
    /// not answer in time): the agent's error, or — when it is gone — its exit status and
    /// the last lines it wrote to stderr.
    async fn failure(&mut self, error: Option<RequestError>, when: &str) -> String {
        let name = self.name.clone();
        match error {
            Some(RequestError::Remote(error)) => format!("agent `{name}` failed {when}: {error}"),
            Some(RequestError::BadResult(problem)) => {
                format!("agent `{name}` sent an answer that is not ACP {when}: {problem}")
            }
            Some(RequestError::Closed) | None => {
                self.broken = true;
                let status = match self.process.exit_status(EXIT_WAIT).await {
                    Some(status) => match status.code() {
                        Some(code) => format!("exit status {code}"),
                        None => status.to_string(),
                    },
                    None => "it stopped answering but still runs".into(),
                };
                let stderr = self.process.stderr_tail();
                let stderr = if stderr.trim().is_empty() {
                    "it wrote nothing to stderr".to_string()
                } else {
                    format!("the last lines it wrote to stderr:\n{stderr}")
                };
                format!("agent `{name}` exited {when} ({status}); {stderr}")
            }
        }
    }

    /// The waiting session made ready for the task's next run: its view directory holds
    /// the workspace as it is now plus what the run starts from (the pending hunks).
    async fn refresh(self, view: &Arc<Mutex<TaskView>>) -> Result<Session, String> {
        {
            let mut dir = self.commands.lock_dir().await;
            let Some(dir) = dir.as_mut() else {
                return Err("the task's view directory is missing".into());
            };
            let buffers = lock(view).buffers().clone();
            dir.reset(&buffers)
                .and_then(|()| materialize::flush_view(dir, view))
                .map_err(|e| format!("cannot bring the task's view up to date: {e}"))?;
        }
        Ok(self)
    }

    fn reusable(&self) -> bool {
        !self.broken && !self.connection.is_closed()
    }

    /// Ends the agent: its input closed (an ACP agent exits then), then its process group
    /// signalled; its terminals and view directory go with it.
    async fn stop(self) {
        self.terminals.kill_all();
        let Session {
            process,
            connection,
            incoming,
            commands,
            ..
        } = self;
        drop(incoming);
        drop(connection);
        process.stop().await;
        commands.close().await;
    }
}

/// "Codex 0.16.0".
fn describe(info: &Implementation) -> String {
    let name = info.title.as_deref().unwrap_or(&info.name);
    if info.version.is_empty() {
        name.to_string()
    } else {
        format!("{name} {}", info.version)
    }
}

/// The user's MCP servers as the agent takes them, started by the agent itself (so under
/// its confinement, in the view); and the names of those it cannot take.
fn mcp_servers(
    config: &Config,
    place: &launch::Place,
    http: bool,
) -> (Vec<McpServer>, Vec<String>) {
    let mcp_place = mcp::Place {
        root: place.tree.clone(),
        tmp: place.tmp.clone(),
        confine: None,
    };
    let mut servers = Vec::new();
    let mut skipped = Vec::new();
    for (name, server) in config.mcp_servers.iter().filter(|(_, s)| s.enabled) {
        let spec = match mcp::server_spec(name, server, &mcp_place, &crate::config::process_env) {
            Ok(spec) => spec,
            Err(problem) => {
                tracing::warn!("{problem}");
                continue;
            }
        };
        match spec.transport {
            Transport::Stdio(launch) => {
                let mut words = launch.command.into_iter();
                servers.push(McpServer::Stdio(McpServerStdio {
                    name: name.clone(),
                    command: words.next().unwrap_or_default(),
                    args: words.collect(),
                    env: launch
                        .env
                        .into_iter()
                        .map(|(name, value)| crate::acp::types::EnvVariable { name, value })
                        .collect(),
                }));
            }
            Transport::Http { .. } if !http => skipped.push(name.clone()),
            Transport::Http {
                url,
                bearer_token,
                headers,
            } => {
                let mut headers: Vec<crate::acp::types::HttpHeader> = headers
                    .into_iter()
                    .map(|(name, value)| crate::acp::types::HttpHeader { name, value })
                    .collect();
                if let Some(token) = bearer_token {
                    headers.push(crate::acp::types::HttpHeader {
                        name: "Authorization".into(),
                        value: format!("Bearer {token}"),
                    });
                }
                servers.push(McpServer::Remote(RemoteMcpServer::Http(McpServerHttp {
                    name: name.clone(),
                    url,
                    headers,
                })));
            }
        }
    }
    (servers, skipped)
}

/// The task error for an agent that needs a login agentls cannot do itself.
fn login_needed(name: &str, agent: &AgentConfig, methods: &[AuthMethod]) -> String {
    let terminal = methods
        .iter()
        .find(|m| m.kind.as_deref() == Some("terminal"));
    let command = match (&agent.login_command, terminal) {
        (Some(command), _) => Some(command.clone()),
        (None, Some(method)) => agent.command.as_ref().map(|program| {
            std::iter::once(program.clone())
                .chain(agent.args.iter().cloned())
                .chain(method.args.iter().cloned())
                .collect::<Vec<_>>()
                .join(" ")
        }),
        (None, None) => None,
    };
    let offered: Vec<String> = methods
        .iter()
        .map(|m| match &m.description {
            Some(description) => format!("{} ({description})", m.name),
            None => m.name.clone(),
        })
        .collect();
    let how = match command {
        Some(command) => format!("run `{command}` in a terminal"),
        None => format!(
            "log in with the agent's own command (and set `login_command` under [agents.{name}] so this message names it)"
        ),
    };
    format!(
        "agent `{name}` needs you to log in, which agentls cannot do without a browser or a terminal: {how}, then start the task again{}",
        if offered.is_empty() {
            String::new()
        } else {
            format!(". It offers: {}", offered.join("; "))
        }
    )
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn method(id: &str, kind: Option<&str>, args: &[&str]) -> AuthMethod {
        AuthMethod {
            id: id.into(),
            name: format!("Log in ({id})"),
            description: None,
            kind: kind.map(str::to_string),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Default::default(),
            vars: Vec::new(),
        }
    }

    #[test]
    fn a_login_error_names_the_command_to_run() {
        let agent: AgentConfig =
            toml::from_str("command = \"codex-acp\"\nlogin_command = \"codex login\"").unwrap();
        let message = login_needed("codex", &agent, &[method("chatgpt", None, &[])]);
        assert!(
            message.contains("run `codex login` in a terminal"),
            "{message}"
        );
        assert!(message.contains("It offers: Log in (chatgpt)"), "{message}");

        let bare: AgentConfig =
            toml::from_str("command = \"gemini\"\nargs = [\"--experimental-acp\"]").unwrap();
        let message = login_needed(
            "gemini",
            &bare,
            &[method("t", Some("terminal"), &["--login"])],
        );
        assert!(
            message.contains("run `gemini --experimental-acp --login` in a terminal"),
            "{message}"
        );
        let message = login_needed("gemini", &bare, &[method("oauth", None, &[])]);
        assert!(
            message.contains("`login_command` under [agents.gemini]"),
            "{message}"
        );
    }
}
