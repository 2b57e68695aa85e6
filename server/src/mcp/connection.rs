//! One MCP server connection: started when first needed, restarted once after a crash,
//! stopped on request. Calls run concurrently (several tasks share a server); only
//! starting and stopping take the connection's lock.

use std::sync::Mutex;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation, JsonObject, Tool,
};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{Peer, ServiceError, ServiceExt};
use tokio_util::sync::CancellationToken;

use super::content::{ToolResult, tool_result};
use super::process::{ServerProcess, StdioLaunch};
use crate::protocol::McpServerStatus;

/// Everything needed to (re)start a server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpec {
    pub name: String,
    pub transport: Transport,
    pub startup_timeout: Duration,
    pub tool_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    Stdio(StdioLaunch),
    Http {
        url: String,
        /// Sent as `Authorization: Bearer …`.
        bearer_token: Option<String>,
        headers: Vec<(String, String)>,
    },
}

/// What a call failed with, for the model.
pub type CallError = String;

pub struct Connection {
    pub spec: ServerSpec,
    /// Serialises starts, restarts and stops.
    life: tokio::sync::Mutex<Life>,
    /// What callers read without waiting on a start.
    now: Mutex<Snapshot>,
}

#[derive(Default)]
struct Life {
    live: Option<Live>,
    /// Starts after the first: at most one (a server that crashes twice stays down).
    restarts: u32,
    /// Bumped on every start, so a caller that saw a crash restarts only the instance it
    /// used, not one another caller already restarted.
    generation: u64,
}

struct Live {
    service: RunningService<RoleClient, ClientConfig>,
    process: Option<ServerProcess>,
}

#[derive(Clone)]
struct Snapshot {
    status: McpServerStatus,
    error: Option<String>,
    tools: Vec<Tool>,
    peer: Option<(Peer<RoleClient>, u64)>,
}

impl Connection {
    pub fn new(spec: ServerSpec) -> Connection {
        Connection {
            spec,
            life: tokio::sync::Mutex::new(Life::default()),
            now: Mutex::new(Snapshot {
                status: McpServerStatus::Starting,
                error: None,
                tools: Vec::new(),
                peer: None,
            }),
        }
    }

    /// Starts the server unless it is running; returns its tools, or why it is not running.
    /// A server that failed earlier is tried again (a new task is a new attempt).
    pub async fn ensure_started(&self) -> Result<Vec<Tool>, String> {
        let mut life = self.life.lock().await;
        if let Some(live) = &life.live
            && !live.service.is_transport_closed()
        {
            return Ok(self.snapshot().tools);
        }
        self.start(&mut life).await
    }

    /// `(status, error, tools)` as of now.
    pub fn state(&self) -> (McpServerStatus, Option<String>, Vec<Tool>) {
        let now = self.snapshot();
        (now.status, now.error, now.tools)
    }

    /// Calls `tool`; `Err` is a message for the model. A server found dead before the call
    /// is restarted first (once in its life); one that dies during the call is restarted
    /// for the next call, and the model is told the call may not have happened.
    pub async fn call(
        &self,
        tool: &str,
        arguments: Option<JsonObject>,
        cancel: &CancellationToken,
    ) -> Result<ToolResult, CallError> {
        let (peer, generation) = self.peer().await?;
        let mut params = CallToolRequestParams::new(tool.to_string());
        params.arguments = arguments;
        let timeout = self.spec.tool_timeout;
        // Dropping the call future sends `notifications/cancelled` to the server.
        let outcome = tokio::select! {
            outcome = peer.call_tool(params) => outcome,
            () = tokio::time::sleep(timeout) => {
                return Err(format!(
                    "the MCP tool `{tool}` of server `{}` did not answer within {} s (tool_timeout_sec); it was cancelled",
                    self.spec.name,
                    timeout.as_secs_f64()
                ));
            }
            () = cancel.cancelled() => return Err("the task was cancelled".into()),
        };
        match outcome {
            Ok(result) => Ok(tool_result(result)),
            Err(ServiceError::TransportClosed) | Err(ServiceError::TransportSend(_)) => {
                let why = self.crashed(generation).await;
                Err(format!(
                    "the MCP server `{}` stopped during the call ({why}); the call may or may not have taken effect",
                    self.spec.name
                ))
            }
            Err(ServiceError::McpError(error)) => Err(format!(
                "the MCP server `{}` refused the call: {}",
                self.spec.name, error.message
            )),
            Err(other) => Err(format!("the MCP server `{}`: {other}", self.spec.name)),
        }
    }

    /// Stops the server (closes its transport, then its process).
    pub async fn stop(&self) {
        let mut life = self.life.lock().await;
        if let Some(live) = life.live.take() {
            live.shut_down().await;
        }
        let mut now = self.lock_now();
        now.peer = None;
    }

    /// The server's pid, for a stdio server that is running.
    pub async fn pid(&self) -> Option<u32> {
        let life = self.life.lock().await;
        life.live.as_ref()?.process.as_ref()?.pid()
    }

    /// A peer to call, restarting a server that died since it was last used.
    async fn peer(&self) -> Result<(Peer<RoleClient>, u64), CallError> {
        if let Some((peer, generation)) = self.snapshot().peer
            && !peer.is_transport_closed()
        {
            return Ok((peer, generation));
        }
        let mut life = self.life.lock().await;
        let alive = life
            .live
            .as_ref()
            .is_some_and(|live| !live.service.is_transport_closed());
        if !alive {
            if life.live.is_some() && life.restarts >= 1 {
                return Err(self.down_message(&mut life).await);
            }
            if life.live.is_some() {
                life.restarts += 1;
                tracing::warn!("MCP server `{}` exited; restarting it", self.spec.name);
            }
            self.start(&mut life).await.map_err(|error| {
                format!(
                    "the MCP server `{}` is not running: {error}",
                    self.spec.name
                )
            })?;
        }
        let peer = life.live.as_ref().map(|live| live.service.peer().clone());
        peer.map(|peer| (peer, life.generation))
            .ok_or_else(|| format!("the MCP server `{}` is not running", self.spec.name))
    }

    /// After a call found the transport closed: says why, and restarts the server for the
    /// next call if it may still be restarted.
    async fn crashed(&self, generation: u64) -> String {
        let mut life = self.life.lock().await;
        if life.generation != generation {
            return "it has been restarted since".into();
        }
        if life.restarts >= 1 {
            return self.down_message(&mut life).await;
        }
        life.restarts += 1;
        let why = life
            .live
            .as_ref()
            .map(Live::exit_report)
            .unwrap_or_default();
        match self.start(&mut life).await {
            Ok(_) => format!("{why}; it was restarted, call the tool again if it is still needed"),
            Err(error) => format!("{why}; restarting it failed: {error}"),
        }
    }

    /// Marks a server that died after its one restart as failed for good.
    async fn down_message(&self, life: &mut Life) -> String {
        let why = life.live.take().map(|live| {
            let why = live.exit_report();
            (why, live)
        });
        let message = match why {
            Some((why, live)) => {
                live.shut_down().await;
                format!("it stopped again after a restart ({why}); it stays stopped")
            }
            None => "it stopped again after a restart; it stays stopped".into(),
        };
        let mut now = self.lock_now();
        now.status = McpServerStatus::Failed;
        now.error = Some(message.clone());
        now.peer = None;
        message
    }

    async fn start(&self, life: &mut Life) -> Result<Vec<Tool>, String> {
        if let Some(old) = life.live.take() {
            old.shut_down().await;
        }
        self.lock_now().status = McpServerStatus::Starting;
        let started = match tokio::time::timeout(self.spec.startup_timeout, start(&self.spec)).await
        {
            Ok(started) => started,
            Err(_) => Err(format!(
                "did not start within {} s (startup_timeout_sec)",
                self.spec.startup_timeout.as_secs_f64()
            )),
        };
        let mut now = self.lock_now();
        match started {
            Ok((live, tools)) => {
                life.generation += 1;
                now.status = McpServerStatus::Ready;
                now.error = None;
                now.tools = tools.clone();
                now.peer = Some((live.service.peer().clone(), life.generation));
                life.live = Some(live);
                Ok(tools)
            }
            Err(error) => {
                now.status = McpServerStatus::Failed;
                now.error = Some(error.clone());
                now.peer = None;
                Err(error)
            }
        }
    }

    fn snapshot(&self) -> Snapshot {
        self.lock_now().clone()
    }

    fn lock_now(&self) -> std::sync::MutexGuard<'_, Snapshot> {
        self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Live {
    async fn shut_down(mut self) {
        // Closing the service drops the transport, which closes a stdio server's stdin.
        let _ = self
            .service
            .close_with_timeout(Duration::from_secs(1))
            .await;
        if let Some(process) = self.process.take() {
            process.stop().await;
        }
    }

    /// Why the server went away, as far as its stderr tells.
    fn exit_report(&self) -> String {
        let tail = self
            .process
            .as_ref()
            .map(ServerProcess::stderr_tail)
            .unwrap_or_default();
        if tail.trim().is_empty() {
            "it exited".into()
        } else {
            format!("it exited; its last output: {}", tail.trim())
        }
    }
}

fn client_config() -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("agentls", env!("CARGO_PKG_VERSION")),
    )
}

/// Connects and lists the tools.
async fn start(spec: &ServerSpec) -> Result<(Live, Vec<Tool>), String> {
    let (service, process) = match &spec.transport {
        Transport::Stdio(launch) => {
            let (process, stdout, stdin) = ServerProcess::spawn(&spec.name, launch)
                .map_err(|e| format!("cannot start `{}`: {e}", launch.command.join(" ")))?;
            match client_config().serve((stdout, stdin)).await {
                Ok(service) => (service, Some(process)),
                Err(error) => {
                    // Give the helper a moment to report why the command did not run.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let tail = process.stderr_tail();
                    process.stop().await;
                    let detail = if tail.trim().is_empty() {
                        String::new()
                    } else {
                        format!("; its output: {}", tail.trim())
                    };
                    return Err(format!(
                        "`{}` did not complete the MCP handshake ({error}){detail}",
                        launch.command.join(" ")
                    ));
                }
            }
        }
        Transport::Http {
            url,
            bearer_token,
            headers,
        } => {
            let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str());
            if let Some(token) = bearer_token {
                config = config.auth_header(token.clone());
            }
            let mut custom = std::collections::HashMap::new();
            for (name, value) in headers {
                let name = reqwest::header::HeaderName::try_from(name.as_str())
                    .map_err(|e| format!("bad header name `{name}`: {e}"))?;
                let value = reqwest::header::HeaderValue::try_from(value.as_str())
                    .map_err(|e| format!("bad value for header `{name}`: {e}"))?;
                custom.insert(name, value);
            }
            let transport =
                StreamableHttpClientTransport::from_config(config.custom_headers(custom));
            let service = client_config()
                .serve(transport)
                .await
                .map_err(|e| format!("cannot connect to {url}: {e}"))?;
            (service, None)
        }
    };
    let live = Live { service, process };
    match live.service.peer().list_all_tools().await {
        Ok(tools) => Ok((live, tools)),
        Err(error) => {
            let message = format!("it started but listing its tools failed: {error}");
            live.shut_down().await;
            Err(message)
        }
    }
}
