//! `[mcp_servers.<name>]`: Codex's keys for the user's MCP servers, plus ours (`sandbox`,
//! `network_access`). Typed here so a bad value is reported with file:line like any other
//! key; what the keys mean at run time belongs to the `mcp` module.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::protocol::McpSandbox;
use serde::{Deserialize, Serialize};

/// Keys a `[mcp_servers.<name>]` table may hold.
pub(super) const MCP_SERVER_KEYS: &[&str] = &[
    "command",
    "args",
    "env",
    "env_vars",
    "cwd",
    "url",
    "bearer_token_env_var",
    "http_headers",
    "env_http_headers",
    "enabled",
    "required",
    "startup_timeout_sec",
    "tool_timeout_sec",
    "enabled_tools",
    "disabled_tools",
    "default_tools_approval_mode",
    "tools",
    "sandbox",
    "network_access",
];
/// Keys a `[mcp_servers.<name>.tools.<tool>]` table may hold.
pub(super) const MCP_TOOL_KEYS: &[&str] = &["approval_mode"];

const DEFAULT_STARTUP_TIMEOUT_SEC: f64 = 30.0;
const DEFAULT_TOOL_TIMEOUT_SEC: f64 = 120.0;

/// One MCP server as configured: either a command to start (stdio) or a `url`
/// (streamable HTTP).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct McpServerConfig {
    /// The program of a stdio server: a name looked up on `PATH`, or a path.
    pub command: Option<String>,
    pub args: Vec<String>,
    /// Variables set for a stdio server, on top of the few it always gets.
    pub env: BTreeMap<String, String>,
    /// Names of the server's own environment variables passed through to it.
    pub env_vars: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// A streamable HTTP server's endpoint, e.g. `http://127.0.0.1:3000/mcp`.
    pub url: Option<String>,
    /// The variable holding the token sent as `Authorization: Bearer …`.
    pub bearer_token_env_var: Option<String>,
    pub http_headers: BTreeMap<String, String>,
    /// Header name → the environment variable holding its value.
    pub env_http_headers: BTreeMap<String, String>,
    pub enabled: bool,
    /// A task fails when this server cannot start, instead of going on without it.
    pub required: bool,
    pub startup_timeout_sec: Option<f64>,
    pub tool_timeout_sec: Option<f64>,
    /// Only these tools are offered (applied before `disabled_tools`).
    pub enabled_tools: Option<Vec<String>>,
    pub disabled_tools: Vec<String>,
    pub default_tools_approval_mode: ApprovalMode,
    /// Per-tool settings, by the server's own tool name.
    pub tools: BTreeMap<String, McpToolConfig>,
    /// Ours: `task` starts one instance per task in the task's view, under its sandbox.
    pub sandbox: McpSandbox,
    /// Ours: a `sandbox = "task"` server may use the network.
    pub network_access: bool,
}

impl Default for McpServerConfig {
    fn default() -> Self {
        McpServerConfig {
            command: None,
            args: Vec::new(),
            env: BTreeMap::new(),
            env_vars: Vec::new(),
            cwd: None,
            url: None,
            bearer_token_env_var: None,
            http_headers: BTreeMap::new(),
            env_http_headers: BTreeMap::new(),
            enabled: true,
            required: false,
            startup_timeout_sec: None,
            tool_timeout_sec: None,
            enabled_tools: None,
            disabled_tools: Vec::new(),
            default_tools_approval_mode: ApprovalMode::Auto,
            tools: BTreeMap::new(),
            sandbox: McpSandbox::None,
            network_access: false,
        }
    }
}

impl McpServerConfig {
    pub fn startup_timeout(&self) -> Duration {
        seconds(self.startup_timeout_sec, DEFAULT_STARTUP_TIMEOUT_SEC)
    }

    pub fn tool_timeout(&self) -> Duration {
        seconds(self.tool_timeout_sec, DEFAULT_TOOL_TIMEOUT_SEC)
    }

    /// Whether the server offers `tool`: `enabled_tools` first, then `disabled_tools`.
    pub fn offers(&self, tool: &str) -> bool {
        let allowed = self
            .enabled_tools
            .as_ref()
            .is_none_or(|enabled| enabled.iter().any(|t| t == tool));
        allowed && !self.disabled_tools.iter().any(|t| t == tool)
    }

    /// How calls of `tool` are approved: its own `approval_mode`, else the server's default.
    pub fn approval_mode(&self, tool: &str) -> ApprovalMode {
        self.tools
            .get(tool)
            .and_then(|t| t.approval_mode)
            .unwrap_or(self.default_tools_approval_mode)
    }

    /// A rule the types cannot express, as (key, what is wrong). Checked per layer, so
    /// only what one layer can get wrong on its own: see [`Self::transport_problem`].
    pub(super) fn value_problem(&self) -> Option<(&'static str, String)> {
        [
            ("startup_timeout_sec", self.startup_timeout_sec),
            ("tool_timeout_sec", self.tool_timeout_sec),
        ]
        .into_iter()
        .find_map(|(key, value)| {
            let value = value?;
            let bad = !(value > 0.0 && value.is_finite());
            bad.then(|| {
                (
                    key,
                    format!("must be a positive number of seconds, got {value}"),
                )
            })
        })
    }

    /// What keeps the merged table from naming one server to start, if anything.
    pub fn transport_problem(&self) -> Option<&'static str> {
        match (&self.command, &self.url) {
            (Some(_), Some(_)) => {
                Some("set either `command` (a stdio server) or `url` (streamable HTTP), not both")
            }
            (None, None) => Some("set `command` (a stdio server) or `url` (streamable HTTP)"),
            (None, Some(_)) if self.sandbox == McpSandbox::Task => Some(
                "`sandbox = \"task\"` confines stdio servers (`command`); an HTTP server runs elsewhere",
            ),
            _ => None,
        }
    }
}

fn seconds(value: Option<f64>, default: f64) -> Duration {
    Duration::from_secs_f64(value.unwrap_or(default))
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct McpToolConfig {
    pub approval_mode: Option<ApprovalMode>,
}

/// Codex's `approval_mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalMode {
    /// Ask according to `approval_policy` and the tool's annotations.
    #[default]
    Auto,
    /// Always ask.
    Prompt,
    /// Never ask: the user approved the tool in advance.
    Approve,
}

/// `[projects."<path>"]`: Codex's per-project settings; only `trust_level` is read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ProjectConfig {
    pub trust_level: Option<String>,
}

impl ProjectConfig {
    pub fn is_trusted(&self) -> bool {
        self.trust_level.as_deref() == Some("trusted")
    }
}
