//! A task's MCP tools: which servers it gets (shared ones, and its own instances of
//! `sandbox = "task"` servers), the names the model calls their tools by, and each call —
//! approval first (decided here, asked through the task), then the call, then, for a
//! confined server, what it wrote folded into the task's view like a `shell` command's
//! changes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::shell::Commands;
use crate::config::{ApprovalMode, Config, McpSandbox, McpServerConfig, SandboxMode, process_env};
use crate::mcp::{self, Connection, McpServers, Place, names::ToolNamer};
use crate::model::ToolSpec;
use crate::protocol::ViewStrategy;
use crate::protocol::{ApprovalKind, ApprovalRequestParams, TaskMode, TaskUpdate};
use crate::sandbox::Policy;
use crate::sandbox::approval::{self, McpDecision, ToolHints};
use crate::task::Task;
use crate::tools::ToolOutput;
use crate::workspace::TaskView;
use crate::workspace::materialize::{self, ViewDir};

/// The MCP tools one task run may call.
#[derive(Default)]
pub struct McpTools {
    tools: Vec<McpTool>,
    /// This task's own server instances (`sandbox = "task"`), stopped when the run ends.
    own: Vec<Arc<Connection>>,
}

struct McpTool {
    model_name: String,
    server: String,
    tool: rmcp::model::Tool,
    mode: ApprovalMode,
    connection: Arc<Connection>,
    /// The task's directory a confined server works in.
    dir: Option<Arc<tokio::sync::Mutex<ViewDir>>>,
    confined: bool,
}

/// What starting a task's servers needs besides the configuration.
pub struct McpStart<'a> {
    pub shared: &'a McpServers,
    pub task: &'a Task,
    pub view: &'a Arc<Mutex<TaskView>>,
    /// `$AGENTLS_HOME/views`.
    pub views: &'a Path,
    pub sandbox: &'a Policy,
    /// Names the model already has (built-in tools).
    pub reserved: &'a [String],
}

impl McpTools {
    /// Starts every enabled server of `config` in parallel and collects their tools. A
    /// server that does not start is a `warning` update and the task goes on without it;
    /// `Err` when a `required` one did not start.
    pub async fn start(config: &Config, start: McpStart<'_>) -> Result<McpTools, String> {
        let enabled = config.mcp_servers.iter().filter(|(_, c)| c.enabled);
        let started = futures_util::future::join_all(
            enabled.map(|(name, server)| start_server(name, server, &start)),
        )
        .await;
        let mut namer = ToolNamer::default();
        for name in start.reserved {
            namer.reserve(name);
        }
        let mut tools = McpTools::default();
        let mut required_failure = None;
        for (name, server, outcome) in started {
            match outcome {
                Ok(server_tools) => {
                    let ServerTools {
                        connection,
                        dir,
                        list,
                    } = server_tools;
                    if dir.is_some() {
                        tools.own.push(connection.clone());
                    }
                    let confined = dir.is_some()
                        && !server.network_access
                        && start.sandbox.mode != SandboxMode::DangerFullAccess;
                    for tool in list.into_iter().filter(|t| server.offers(&t.name)) {
                        tools.tools.push(McpTool {
                            model_name: namer.name(name, &tool.name),
                            server: name.clone(),
                            mode: server.approval_mode(&tool.name),
                            connection: connection.clone(),
                            dir: dir.clone(),
                            confined,
                            tool,
                        });
                    }
                }
                Err(error) => {
                    let message = format!("MCP server `{name}` did not start: {error}");
                    if server.required {
                        required_failure.get_or_insert(format!(
                            "{message}; it is required (`required = true` under [mcp_servers.{name}]), so the task cannot run"
                        ));
                    } else {
                        start.task.emit(TaskUpdate::Warning {
                            message: format!("{message}; the task goes on without its tools"),
                        });
                    }
                }
            }
        }
        match required_failure {
            Some(message) => {
                tools.close().await;
                Err(message)
            }
            None => Ok(tools),
        }
    }

    /// The tools as the model sees them; `ask` mode gets the read-only ones only.
    pub fn specs(&self, mode: TaskMode) -> Vec<ToolSpec> {
        self.tools
            .iter()
            .filter(|t| mode.may_write() || mcp::is_read_only(&t.tool))
            .map(|t| ToolSpec {
                name: t.model_name.clone(),
                description: t
                    .tool
                    .description
                    .as_deref()
                    .unwrap_or_default()
                    .to_string(),
                parameters: parameters(&t.tool),
            })
            .collect()
    }

    pub fn has(&self, model_name: &str) -> bool {
        self.tools.iter().any(|t| t.model_name == model_name)
    }

    /// Runs one call of the tool the model named `model_name`, for `agent`'s task.
    pub async fn call(
        &self,
        agent: &super::Agent,
        call_id: &str,
        model_name: &str,
        args: &Value,
    ) -> Result<ToolOutput, String> {
        let (task, view, mode) = (&agent.task, &agent.view, agent.mode);
        let Some(tool) = self.tools.iter().find(|t| t.model_name == model_name) else {
            return Err(format!("unknown tool `{model_name}`"));
        };
        if !mode.may_write() && !mcp::is_read_only(&tool.tool) {
            return Err(format!(
                "{model_name} is not available in ask mode (it is not marked read-only): this task may only read. Answer the question instead."
            ));
        }
        let arguments = match args {
            Value::Object(map) => Some(map.clone()),
            Value::Null => None,
            _ => {
                return Err(format!(
                    "the arguments of `{model_name}` must be a JSON object"
                ));
            }
        };
        self.approve(&agent.commands, task, call_id, tool, args)
            .await?;
        let dir = match &tool.dir {
            Some(dir) => {
                let mut dir = dir.clone().lock_owned().await;
                materialize::flush_view(&mut dir, view).map_err(|e| {
                    format!("cannot write your edits into the server's directory: {e}")
                })?;
                Some(dir)
            }
            None => None,
        };
        let result = tool
            .connection
            .call(&tool.tool.name, arguments, &task.cancel_token())
            .await;
        let changed_files = match dir {
            Some(mut dir) => materialize::fold_changes(&mut dir, view),
            None => false,
        };
        let result = result?;
        if result.is_error {
            return Err(result.text);
        }
        Ok(ToolOutput {
            text: result.text,
            images: result.images,
            changed_files,
            ..ToolOutput::default()
        })
    }

    async fn approve(
        &self,
        commands: &Commands,
        task: &Task,
        call_id: &str,
        tool: &McpTool,
        args: &Value,
    ) -> Result<(), String> {
        let annotations = tool.tool.annotations.clone().unwrap_or_default();
        let hints = ToolHints {
            read_only: annotations.read_only_hint.unwrap_or(false),
            destructive: annotations.destructive_hint.unwrap_or(true),
            open_world: annotations.open_world_hint.unwrap_or(true),
            confined: tool.confined,
        };
        let reason = match approval::before_mcp_tool(commands.approval_policy, tool.mode, hints) {
            McpDecision::Run => return Ok(()),
            McpDecision::Refuse(reason) => return Err(reason),
            McpDecision::Ask(reason) => reason,
        };
        let request = ApprovalRequestParams {
            task_id: task.id.clone(),
            call_id: call_id.to_string(),
            kind: ApprovalKind::Mcp,
            command: None,
            cwd: None,
            diff: None,
            reason: Some(reason),
            server: Some(tool.server.clone()),
            tool: Some(tool.tool.name.to_string()),
            arguments: Some(args.clone()),
            attempt: None,
        };
        let key = format!("mcp:{}:{}", tool.server, tool.tool.name);
        let what = format!(
            "calling `{}` of the MCP server `{}`",
            tool.tool.name, tool.server
        );
        commands.ask(task, request, key, &what).await
    }

    /// Stops this task's own server instances and removes their directories.
    pub async fn close(&mut self) {
        let own = std::mem::take(&mut self.own);
        futures_util::future::join_all(own.iter().map(|c| c.stop())).await;
        self.tools.clear();
    }
}

/// What one server brought to the task.
struct ServerTools {
    connection: Arc<Connection>,
    dir: Option<Arc<tokio::sync::Mutex<ViewDir>>>,
    list: Vec<rmcp::model::Tool>,
}

async fn start_server<'a>(
    name: &'a String,
    server: &'a McpServerConfig,
    start: &McpStart<'_>,
) -> (&'a String, &'a McpServerConfig, Result<ServerTools, String>) {
    let outcome = async {
        let root = lock(start.view).root().to_path_buf();
        let (place, dir) = match server.sandbox {
            McpSandbox::None => (
                Place {
                    root,
                    tmp: std::env::temp_dir(),
                    confine: None,
                },
                None,
            ),
            McpSandbox::Task => {
                let dir = task_dir(name, start).await?;
                let place = Place {
                    root: dir.tree(),
                    tmp: dir.tmp(),
                    confine: start.sandbox.confinement(
                        &dir.tree(),
                        &dir.tmp(),
                        &dir.extra_readable(),
                        server.network_access,
                    ),
                };
                (place, Some(Arc::new(tokio::sync::Mutex::new(dir))))
            }
        };
        let spec = mcp::server_spec(name, server, &place, &process_env)?;
        let connection = match dir {
            Some(_) => Arc::new(Connection::new(spec)),
            None => start.shared.shared(spec).await,
        };
        match connection.ensure_started().await {
            Ok(list) => Ok(ServerTools {
                connection,
                dir,
                list,
            }),
            Err(error) => {
                if dir.is_some() {
                    connection.stop().await;
                }
                Err(error)
            }
        }
    }
    .await;
    (name, server, outcome)
}

/// A confined server's own directory: a copy of the task's view (a long-lived process
/// cannot share the per-command overlay mounts `shell` uses), kept for the run.
async fn task_dir(name: &str, start: &McpStart<'_>) -> Result<ViewDir, String> {
    let (root, buffers) = {
        let view = lock(start.view);
        (view.root().to_path_buf(), view.buffers().clone())
    };
    let views: PathBuf = start.views.to_path_buf();
    let id = format!("{}-mcp-{}", start.task.id, mcp::names::sanitize(name));
    let mut dir = tokio::task::spawn_blocking(move || {
        ViewDir::create_with(ViewStrategy::Copy, &views, &id, &root, &buffers)
    })
    .await
    .map_err(|e| format!("creating its directory crashed: {e}"))?
    .map_err(|e| {
        format!(
            "cannot create its directory under {}: {e}",
            start.views.display()
        )
    })?;
    materialize::flush_view(&mut dir, start.view)
        .map_err(|e| format!("cannot write the task's edits into its directory: {e}"))?;
    // What the copy holds now is the baseline: only later changes are the server's.
    materialize::fold_changes(&mut dir, start.view);
    Ok(dir)
}

/// The tool's input schema, shaped the way every provider accepts a function's
/// parameters: an object schema with `properties`.
fn parameters(tool: &rmcp::model::Tool) -> Value {
    let mut schema = Value::Object((*tool.input_schema).clone());
    if schema.get("type").is_none() {
        schema["type"] = Value::String("object".into());
    }
    if schema.get("properties").is_none() {
        schema["properties"] = Value::Object(Default::default());
    }
    schema
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
