//! `[agents.<name>]`: the ACP agents a task can run with instead of the built-in loop
//! (`agent/startTask {agent}`). Typed here so a bad value is reported with file:line like
//! any other key; what the keys mean at run time belongs to `agent::external`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// The built-in agent's name in `agent/listAgents` and `agent/startTask {agent}`; no
/// `[agents.<name>]` table may take it.
pub const BUILT_IN_AGENT: &str = "agentls";

/// Keys an `[agents.<name>]` table may hold.
pub(super) const AGENT_KEYS: &[&str] = &[
    "command",
    "args",
    "env",
    "description",
    "readable_roots",
    "writable_roots",
    "login_command",
];

/// One ACP agent as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AgentConfig {
    /// The program: a name looked up on `PATH`, or a path.
    pub command: Option<String>,
    pub args: Vec<String>,
    /// Variables set for the agent on top of agentls's own environment (a leading `~/`
    /// in a value means the home directory).
    pub env: BTreeMap<String, String>,
    /// Shown by `agent/listAgents`.
    pub description: Option<String>,
    /// Directories the agent may read besides the system ones, the task's view and where
    /// its program is installed (a leading `~/` means the home directory).
    pub readable_roots: Vec<PathBuf>,
    /// Its own state, which it may write besides the task's view and a private tmp:
    /// `~/.codex` for codex-acp, `~/.npm` when it runs through `npx` (directories or
    /// files; one that does not exist yet is not granted).
    pub writable_roots: Vec<PathBuf>,
    /// What the user runs to log the agent in, named in the error when it needs a login
    /// agentls cannot do without a browser (e.g. `codex login`).
    pub login_command: Option<String>,
}

impl AgentConfig {
    /// What keeps the merged table from naming a program to start, if anything.
    pub fn launch_problem(&self) -> Option<&'static str> {
        match self.command.as_deref() {
            None | Some("") => Some("set `command`, the agent's program (e.g. \"codex-acp\")"),
            Some(_) => None,
        }
    }
}
