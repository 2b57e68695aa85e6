//! The MCP client: the user's `[mcp_servers]` (Codex's tables) as connections to real
//! servers, on the official SDK (`rmcp`, client features only).
//!
//! - `connection`: one server, started on first use, restarted once after a crash.
//! - `process`: a stdio server's process, always under the sandbox helper (so it dies with
//!   us), confined to a task's view when `sandbox = "task"`.
//! - `names`: `mcp__<server>__<tool>`, safe for every provider.
//! - `content`: a tool result as the model reads it.
//!
//! [`McpServers`] is the workspace's set of shared connections (`sandbox = "none"`, as in
//! Codex). A `sandbox = "task"` server is not shared: the agent starts one instance per
//! task in the task's view (`agent/mcp.rs`), from a spec built here by [`server_spec`].
//! This module knows nothing about tasks; it builds on `config` and `sandbox` only.

pub mod cli;
pub mod connection;
pub mod content;
pub mod names;
pub mod process;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::config::{Config, Env, McpSandbox, McpServerConfig, SandboxMode};
use crate::protocol::{McpServerInfo, McpServerStatus, McpToolInfo};
use crate::sandbox::{Confinement, Policy};
pub use connection::{Connection, ServerSpec, Transport};
use process::StdioLaunch;

/// The variable a server's `args`, `env` and `cwd` may use for where it works: the
/// workspace, or the task's view for `sandbox = "task"`.
pub const WORKSPACE_ROOT_VARIABLE: &str = "${workspaceRoot}";

/// What every stdio server gets from our environment (Codex's list); anything else only
/// by `env_vars` or `env`, so credentials do not leak to servers by default.
const DEFAULT_ENV_VARS: [&str; 11] = [
    "HOME",
    "LOGNAME",
    "PATH",
    "SHELL",
    "USER",
    "LANG",
    "LC_ALL",
    "TERM",
    "TMPDIR",
    "TZ",
    "__CF_USER_TEXT_ENCODING",
];

/// Where a stdio server runs.
#[derive(Debug, Clone)]
pub struct Place {
    /// What `${workspaceRoot}` means, and the working directory unless `cwd` says otherwise.
    pub root: PathBuf,
    /// The server's private temporary directory.
    pub tmp: PathBuf,
    /// `None`: unconfined.
    pub confine: Option<Confinement>,
}

/// The workspace's shared MCP servers, by name. One owner per workspace (the engine); a
/// server whose table changed between tasks is replaced by one started from the new table.
#[derive(Default)]
pub struct McpServers {
    shared: Mutex<HashMap<String, Arc<Connection>>>,
}

impl McpServers {
    /// The shared connection for `spec` (not started yet if it is new).
    pub async fn shared(&self, spec: ServerSpec) -> Arc<Connection> {
        let replaced = {
            let mut shared = self.lock();
            match shared.get(&spec.name) {
                Some(existing) if existing.spec == spec => return existing.clone(),
                _ => shared.insert(spec.name.clone(), Arc::new(Connection::new(spec.clone()))),
            }
        };
        if let Some(old) = replaced {
            old.stop().await;
        }
        self.lock()[&spec.name].clone()
    }

    /// Stops every shared server; called when the server exits.
    pub async fn stop_all(&self) {
        let connections: Vec<Arc<Connection>> = self.lock().drain().map(|(_, c)| c).collect();
        futures_util::future::join_all(connections.iter().map(|c| c.stop())).await;
    }

    /// Every configured server, with the tools it offers. Shared servers are started (in
    /// parallel) to find out; a `sandbox = "task"` server is started once for the list,
    /// in `root` with read-only access under the configured sandbox, and stopped again.
    pub async fn list(&self, config: &Config, root: &Path) -> Vec<McpServerInfo> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let read_only = Policy {
            mode: SandboxMode::ReadOnly,
            ..Policy::from_config(config, home.as_deref())
        };
        let probe_confinement = read_only.confinement(root, &std::env::temp_dir(), &[], false);
        let servers = &config.mcp_servers;
        let shared_place = Place {
            root: root.to_path_buf(),
            tmp: std::env::temp_dir(),
            confine: None,
        };
        let probe_place = Place {
            confine: probe_confinement,
            ..shared_place.clone()
        };
        let listed = servers.iter().map(|(name, config)| {
            let place = match config.sandbox {
                McpSandbox::None => &shared_place,
                McpSandbox::Task => &probe_place,
            };
            let spec = server_spec(name, config, place, &crate::config::process_env);
            async move {
                let transport = if config.url.is_some() {
                    "http"
                } else {
                    "stdio"
                };
                let mut info = McpServerInfo {
                    name: name.clone(),
                    status: McpServerStatus::Disabled,
                    error: None,
                    transport: transport.into(),
                    sandbox: config.sandbox,
                    tools: Vec::new(),
                };
                if !config.enabled {
                    return info;
                }
                let spec = match spec {
                    Ok(spec) => spec,
                    Err(error) => {
                        info.status = McpServerStatus::Failed;
                        info.error = Some(error);
                        return info;
                    }
                };
                let (connection, throwaway) = match config.sandbox {
                    McpSandbox::None => (self.shared(spec).await, false),
                    McpSandbox::Task => (Arc::new(Connection::new(spec)), true),
                };
                let _ = connection.ensure_started().await;
                let (status, error, tools) = connection.state();
                if throwaway {
                    connection.stop().await;
                }
                info.status = status;
                info.error = error;
                let mut namer = names::ToolNamer::default();
                info.tools = tools
                    .iter()
                    .filter(|tool| config.offers(&tool.name))
                    .map(|tool| McpToolInfo {
                        name: tool.name.to_string(),
                        model_name: namer.name(name, &tool.name),
                        description: tool.description.as_deref().unwrap_or_default().to_string(),
                        read_only: is_read_only(tool),
                    })
                    .collect();
                info
            }
        });
        futures_util::future::join_all(listed).await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Connection>>> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The tool says it does not change its environment.
pub fn is_read_only(tool: &rmcp::model::Tool) -> bool {
    tool.annotations
        .as_ref()
        .and_then(|a| a.read_only_hint)
        .unwrap_or(false)
}

/// How to start server `name` at `place`, from its merged table; `Err` when the table
/// does not name a server to start.
pub fn server_spec(
    name: &str,
    config: &McpServerConfig,
    place: &Place,
    env: Env<'_>,
) -> Result<ServerSpec, String> {
    if let Some(problem) = config.transport_problem() {
        return Err(format!("[mcp_servers.{name}]: {problem}"));
    }
    let root = place.root.display().to_string();
    let expand = |text: &str| text.replace(WORKSPACE_ROOT_VARIABLE, &root);
    let transport = match (&config.command, &config.url) {
        (Some(command), _) => {
            let mut vars: Vec<(String, String)> = Vec::new();
            let passed = DEFAULT_ENV_VARS
                .iter()
                .map(|name| name.to_string())
                .chain(config.env_vars.iter().cloned());
            for var in passed {
                if let Some(value) = env(&var) {
                    vars.retain(|(name, _)| name != &var);
                    vars.push((var, value));
                }
            }
            for (var, value) in &config.env {
                vars.retain(|(name, _)| name != var);
                vars.push((var.clone(), expand(value)));
            }
            if place.confine.is_some() {
                vars.retain(|(name, _)| name != "TMPDIR");
                vars.push(("TMPDIR".into(), place.tmp.display().to_string()));
            }
            let cwd = match &config.cwd {
                Some(cwd) => place.root.join(expand(&cwd.display().to_string())),
                None => place.root.clone(),
            };
            let command = std::iter::once(command.clone())
                .chain(config.args.iter().map(|arg| expand(arg)))
                .collect();
            Transport::Stdio(StdioLaunch {
                command,
                env: vars,
                cwd,
                tmp: place.tmp.clone(),
                confine: place.confine.clone(),
            })
        }
        (None, Some(url)) => {
            let bearer_token = match &config.bearer_token_env_var {
                Some(var) => Some(env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
                    format!(
                        "[mcp_servers.{name}]: bearer_token_env_var names `{var}`, which is not set"
                    )
                })?),
                None => None,
            };
            let mut headers: Vec<(String, String)> = config
                .http_headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for (header, var) in &config.env_http_headers {
                if let Some(value) = env(var).filter(|v| !v.is_empty()) {
                    headers.push((header.clone(), value));
                }
            }
            Transport::Http {
                url: url.clone(),
                bearer_token,
                headers,
            }
        }
        (None, None) => unreachable!("transport_problem covers a table with neither"),
    };
    Ok(ServerSpec {
        name: name.to_string(),
        transport,
        startup_timeout: config.startup_timeout(),
        tool_timeout: config.tool_timeout(),
    })
}

/// Problems worth an `initialize` warning that need no server started: a table that
/// names nothing to start, a stdio program that is not on `PATH`.
pub fn check(
    servers: &std::collections::BTreeMap<String, McpServerConfig>,
    env: Env<'_>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for (name, config) in servers.iter().filter(|(_, c)| c.enabled) {
        if let Some(problem) = config.transport_problem() {
            warnings.push(format!("MCP server `{name}` will not start: {problem}"));
            continue;
        }
        if let Some(command) = &config.command
            && crate::sandbox::find_program(command, env("PATH").as_deref()).is_none()
        {
            warnings.push(format!(
                "MCP server `{name}` will not start: `{command}` is not a file and not on PATH; install it or fix `command` under [mcp_servers.{name}]"
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PATH" => Some("/usr/bin:/bin".into()),
            "HOME" => Some("/home/u".into()),
            "SECRET_TOKEN" => Some("s3cret".into()),
            "API_TOKEN" => Some("t0ken".into()),
            _ => None,
        }
    }

    fn place() -> Place {
        Place {
            root: PathBuf::from("/views/t1/tree"),
            tmp: PathBuf::from("/views/t1/tmp"),
            confine: Some(Confinement::default()),
        }
    }

    #[test]
    fn a_stdio_spec_expands_the_workspace_root_and_passes_only_chosen_variables() {
        let config: McpServerConfig = toml::from_str(
            r#"
            command = "node"
            args = ["server.js", "${workspaceRoot}"]
            env = { OUT = "${workspaceRoot}/out" }
            env_vars = ["API_TOKEN"]
            cwd = "sub"
            "#,
        )
        .unwrap();
        let spec = server_spec("fs", &config, &place(), &env).unwrap();
        let Transport::Stdio(launch) = spec.transport else {
            panic!("a stdio server");
        };
        assert_eq!(launch.command, ["node", "server.js", "/views/t1/tree"]);
        assert_eq!(launch.cwd, PathBuf::from("/views/t1/tree/sub"));
        let names: Vec<&str> = launch.env.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["HOME", "PATH", "API_TOKEN", "OUT", "TMPDIR"]);
        assert!(
            launch
                .env
                .contains(&("OUT".into(), "/views/t1/tree/out".into()))
        );
        assert_eq!(spec.tool_timeout.as_secs(), 120);
    }

    #[test]
    fn an_http_spec_reads_its_token_and_headers_from_the_environment() {
        let config: McpServerConfig = toml::from_str(
            r#"
            url = "http://127.0.0.1:9/mcp"
            bearer_token_env_var = "SECRET_TOKEN"
            http_headers = { X-Team = "core" }
            env_http_headers = { X-Key = "API_TOKEN", X-Missing = "NOPE" }
            "#,
        )
        .unwrap();
        let spec = server_spec("web", &config, &place(), &env).unwrap();
        assert_eq!(
            spec.transport,
            Transport::Http {
                url: "http://127.0.0.1:9/mcp".into(),
                bearer_token: Some("s3cret".into()),
                headers: vec![
                    ("X-Team".into(), "core".into()),
                    ("X-Key".into(), "t0ken".into())
                ],
            }
        );
        let missing: McpServerConfig =
            toml::from_str("url = \"http://x/mcp\"\nbearer_token_env_var = \"NOPE\"").unwrap();
        let error = server_spec("web", &missing, &place(), &env).unwrap_err();
        assert!(error.contains("`NOPE`, which is not set"), "{error}");
    }

    #[test]
    fn the_check_names_servers_that_cannot_start() {
        let servers = toml::from_str::<std::collections::BTreeMap<String, McpServerConfig>>(
            r#"
            both = { command = "sh", url = "http://x" }
            gone = { command = "no-such-program-anywhere" }
            off = { command = "no-such-program-anywhere", enabled = false }
            fine = { command = "sh" }
            "#,
        )
        .unwrap();
        let warnings = check(&servers, &env);
        assert_eq!(warnings.len(), 2, "{warnings:#?}");
        assert!(warnings[0].contains("`both`") && warnings[0].contains("not both"));
        assert!(warnings[1].contains("`gone`") && warnings[1].contains("not on PATH"));
    }
}
