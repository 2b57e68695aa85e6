//! Configuration: Codex's `config.toml` keys, read from layered sources (user file, project
//! file, `-c` overrides, LSP `initializationOptions`, task fields) into one typed [`Config`],
//! and resolved into the [`ProviderInfo`] the model client needs.
//!
//! Users bring their Codex configs, so key names and meanings follow Codex. Nothing here
//! panics or fails on user input it can tolerate: unknown keys come back as warnings, and
//! everything else as a [`ConfigError`] that names the source and the key, so the server can
//! decide between a failed task and an `initialize` warning.

mod agents;
mod agents_md;
pub mod edit;
mod layers;
mod mcp;
mod plugins;

pub use agents::{AgentConfig, BUILT_IN_AGENT};
pub use agents_md::{dirs_from_root, project_docs, project_root};
pub use mcp::{ApprovalMode, McpSandbox, McpServerConfig, McpToolConfig, ProjectConfig};
pub use plugins::PluginConfig;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WireApi {
    /// OpenAI Chat Completions: POST {base_url}/chat/completions
    #[default]
    Chat,
    /// OpenAI Responses: POST {base_url}/responses
    Responses,
}

/// A model provider with every default filled in and its API key already read from the
/// environment: what the model client needs, nothing about where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderInfo {
    /// The provider id (`openai`, `ollama`, or a `[model_providers.<id>]` key).
    pub id: String,
    /// Human name for messages.
    pub name: String,
    /// e.g. `https://api.openai.com/v1` — no trailing slash.
    pub base_url: String,
    /// Sent as `Authorization: Bearer …` when present.
    pub api_key: Option<String>,
    pub wire_api: WireApi,
    pub query_params: BTreeMap<String, String>,
    pub http_headers: BTreeMap<String, String>,
    /// Retries of a request that failed before streaming began (5xx, 429, transport).
    pub request_max_retries: u32,
    /// Retries of a turn whose stream broke or went idle before completing.
    pub stream_max_retries: u32,
    pub stream_idle_timeout: Duration,
}

use std::path::{Path, PathBuf};

use layers::Layer;

/// Reads one environment variable. Injected rather than read directly so tests never mutate
/// the process environment (tests run in parallel, and `set_var` is `unsafe` in 2024).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The real process environment, for production callers of the `env`-taking functions.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// An environment variable that is set to something: an empty `OPENAI_API_KEY=` means
/// "no key", not "the empty key".
fn non_empty_var(env: Env, name: &str) -> Option<String> {
    env(name).filter(|value| !value.is_empty())
}

/// `$AGENTLS_HOME`, else `~/.agentls`: where `config.toml`, the global `AGENTS.md` and the
/// task history live.
pub fn agentls_home(env: Env) -> Result<PathBuf, ConfigError> {
    if let Some(home) = non_empty_var(env, "AGENTLS_HOME") {
        return Ok(PathBuf::from(home));
    }
    non_empty_var(env, "HOME")
        .map(|home| Path::new(&home).join(".agentls"))
        .ok_or(ConfigError::NoHome)
}

/// When the server asks the user before doing something (Codex's values and meanings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalPolicy {
    /// Ask before any command that is not known to be read-only.
    Untrusted,
    /// The model decides when to ask for escalated permissions.
    #[default]
    OnRequest,
    /// Run in the sandbox; ask to retry outside it when a command fails.
    OnFailure,
    /// Never ask; failures go back to the model.
    Never,
}

/// What commands run by the model may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxMode {
    ReadOnly,
    /// Writes only to the task's own copy of the workspace (and `writable_roots`).
    #[default]
    WorkspaceWrite,
    DangerFullAccess,
}

/// Ours: where `agentls acp` puts a turn's changes when the editor cannot take them
/// through `fs/write_text_file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AcpWrite {
    /// Into the files, atomically: all of them or none, and only while each still holds
    /// the text the task saw.
    #[default]
    Disk,
    /// Nowhere: the diff is only reported.
    None,
}

/// `model_reasoning_effort`, passed to reasoning models as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReasoningEffort {
    None,
    Minimal,
    Low,
    Medium,
    High,
    Xhigh,
}

/// `[sandbox_workspace_write]`: extra freedoms under `sandbox_mode = "workspace-write"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SandboxWorkspaceWrite {
    pub writable_roots: Vec<PathBuf>,
    /// Ours, not Codex's: directories outside the system ones that commands may read,
    /// such as toolchains in the home directory (`~/.cargo`, `~/.rustup`). A leading `~/`
    /// means the home directory.
    pub readable_roots: Vec<PathBuf>,
    pub network_access: bool,
}

/// `[shell_environment_policy]` (Codex's table, the subset agentls implements): what
/// `sandbox::env` gives commands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct EnvPolicy {
    /// Keep variables whose names contain KEY, SECRET or TOKEN.
    pub ignore_default_excludes: bool,
    /// Variables to set (or override) for every command.
    pub set: BTreeMap<String, String>,
}

/// One `[model_providers.<id>]` table as written: every field optional, so that a table
/// for a built-in id changes only the fields it names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ProviderConfig {
    pub name: Option<String>,
    pub base_url: Option<String>,
    /// The environment variable holding the API key.
    pub env_key: Option<String>,
    pub wire_api: Option<WireApi>,
    pub query_params: Option<BTreeMap<String, String>>,
    pub http_headers: Option<BTreeMap<String, String>>,
    /// Header name → environment variable holding its value.
    pub env_http_headers: Option<BTreeMap<String, String>>,
    pub request_max_retries: Option<u32>,
    pub stream_max_retries: Option<u32>,
    pub stream_idle_timeout_ms: Option<u64>,
}

const DEFAULT_PROVIDER: &str = "openai";
const DEFAULT_OPENAI_MODEL: &str = "gpt-5";
const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
const DEFAULT_REQUEST_MAX_RETRIES: u32 = 4;
const DEFAULT_STREAM_MAX_RETRIES: u32 = 5;
const DEFAULT_STREAM_IDLE_TIMEOUT_MS: u64 = 300_000;
const BUILT_IN_PROVIDER_IDS: [&str; 3] = ["openai", "ollama", "lmstudio"];

impl ProviderConfig {
    /// The providers that work without any `[model_providers]` table. `openai` reads
    /// `OPENAI_BASE_URL` here so that a `base_url` in a config file still beats it.
    fn built_in(id: &str, env: Env) -> Option<Self> {
        let (name, base_url, env_key, wire_api) = match id {
            "openai" => (
                "OpenAI",
                non_empty_var(env, "OPENAI_BASE_URL")
                    .unwrap_or_else(|| DEFAULT_OPENAI_BASE_URL.to_owned()),
                Some("OPENAI_API_KEY"),
                WireApi::Responses,
            ),
            "ollama" => (
                "Ollama",
                "http://localhost:11434/v1".to_owned(),
                None,
                WireApi::Chat,
            ),
            "lmstudio" => (
                "LM Studio",
                "http://localhost:1234/v1".to_owned(),
                None,
                WireApi::Chat,
            ),
            _ => return None,
        };
        Some(Self {
            name: Some(name.to_owned()),
            base_url: Some(base_url),
            env_key: env_key.map(str::to_owned),
            wire_api: Some(wire_api),
            ..Self::default()
        })
    }

    /// Fields set in `over` win; the rest come from `self`.
    fn overlaid_by(self, over: &Self) -> Self {
        let over = over.clone();
        Self {
            name: over.name.or(self.name),
            base_url: over.base_url.or(self.base_url),
            env_key: over.env_key.or(self.env_key),
            wire_api: over.wire_api.or(self.wire_api),
            query_params: over.query_params.or(self.query_params),
            http_headers: over.http_headers.or(self.http_headers),
            env_http_headers: over.env_http_headers.or(self.env_http_headers),
            request_max_retries: over.request_max_retries.or(self.request_max_retries),
            stream_max_retries: over.stream_max_retries.or(self.stream_max_retries),
            stream_idle_timeout_ms: over.stream_idle_timeout_ms.or(self.stream_idle_timeout_ms),
        }
    }

    fn resolve(self, id: &str, env: Env) -> Result<ProviderInfo, ConfigError> {
        let base_url = self.base_url.ok_or_else(|| ConfigError::MissingBaseUrl {
            provider: id.to_owned(),
        })?;
        let mut http_headers = self.http_headers.unwrap_or_default();
        for (header, var) in self.env_http_headers.unwrap_or_default() {
            if let Some(value) = non_empty_var(env, &var) {
                http_headers.insert(header, value);
            }
        }
        Ok(ProviderInfo {
            id: id.to_owned(),
            name: self.name.unwrap_or_else(|| id.to_owned()),
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: self.env_key.and_then(|var| non_empty_var(env, &var)),
            wire_api: self.wire_api.unwrap_or_default(),
            query_params: self.query_params.unwrap_or_default(),
            http_headers,
            request_max_retries: self
                .request_max_retries
                .unwrap_or(DEFAULT_REQUEST_MAX_RETRIES),
            stream_max_retries: self
                .stream_max_retries
                .unwrap_or(DEFAULT_STREAM_MAX_RETRIES),
            stream_idle_timeout: Duration::from_millis(
                self.stream_idle_timeout_ms
                    .unwrap_or(DEFAULT_STREAM_IDLE_TIMEOUT_MS),
            ),
        })
    }
}

/// The effective configuration for one task (or for the server's defaults): every layer
/// merged, the profile applied, defaults filled in.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Unset means the provider's default: `gpt-5` for `openai`, required for the others.
    pub model: Option<String>,
    pub model_provider: String,
    /// User-written provider tables, including overrides of built-in ids.
    pub model_providers: BTreeMap<String, ProviderConfig>,
    pub approval_policy: ApprovalPolicy,
    pub sandbox_mode: SandboxMode,
    pub sandbox_workspace_write: SandboxWorkspaceWrite,
    /// The user's MCP servers by name. Those a project's own `.agentls/config.toml`
    /// defines are here only when the user trusts the project.
    pub mcp_servers: BTreeMap<String, McpServerConfig>,
    /// `[agents.<name>]`: ACP agents a task may run with. Those a project's own
    /// `.agentls/config.toml` defines are here only when the user trusts the project.
    pub agents: BTreeMap<String, AgentConfig>,
    /// `[projects."<path>"]`, from the user's own layers (a project cannot trust itself).
    pub projects: BTreeMap<String, ProjectConfig>,
    /// Installed plugins a task gets, by name (`agentls plugin add` writes these).
    pub plugins: BTreeMap<String, PluginConfig>,
    /// Whether the user's own layers trust the workspace (`[projects."<root>"]`): only then
    /// do the repository's own MCP servers and plugins start.
    #[serde(skip)]
    pub project_trusted: bool,
    /// What an untrusted project asked for and did not get, each saying how to trust it
    /// (also among `load`'s warnings): told to every task, since it changes what it can do.
    #[serde(skip)]
    pub withheld: Vec<String>,
    /// Cap on the AGENTS.md text given to the model; 0 turns project docs off.
    pub project_doc_max_bytes: usize,
    /// File names tried after `AGENTS.override.md` and `AGENTS.md` in each directory.
    pub project_doc_fallback_filenames: Vec<String>,
    pub model_reasoning_effort: Option<ReasoningEffort>,
    /// Ours, not Codex's: model turns a task may take before it is stopped.
    pub max_turns: u32,
    /// Ours: how long an `agent/requestApproval` may stay unanswered before it counts as
    /// a denial.
    pub approval_timeout_ms: u64,
    /// The environment commands get.
    pub shell_environment_policy: EnvPolicy,
    /// Ours: how many tasks of a workspace are kept on disk (newest first); 0 keeps none
    /// and writes no task logs.
    pub task_history_max: usize,
    /// Ours: how many attempts of one best-of-N task (`agent/startTask {bestOf}`) run at
    /// once; the others wait `queued`.
    pub max_parallel_attempts: usize,
    /// Tokens the model can take in; unset: known for some models, else unknown.
    pub model_context_window: Option<u64>,
    /// Input tokens past which the conversation is compacted; unset: 90 % of the context
    /// window when that is known.
    pub model_auto_compact_token_limit: Option<u64>,
    /// The profile that was applied, if any.
    pub profile: Option<String>,
    /// Ours: undecided hunks are published as diagnostics (`source: "agentls"`), for
    /// editors without an agentls plugin. Plugins that draw hunks themselves send `false`
    /// in `initializationOptions`.
    pub hunk_diagnostics: bool,
    /// Ours: `Accept | Reject` code lenses over each undecided hunk.
    pub hunk_code_lens: bool,
    /// Ours: where `agentls acp` writes when the editor has no `fs/write_text_file`.
    pub acp_write: AcpWrite,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            model: None,
            model_provider: DEFAULT_PROVIDER.to_owned(),
            model_providers: BTreeMap::new(),
            approval_policy: ApprovalPolicy::default(),
            sandbox_mode: SandboxMode::default(),
            sandbox_workspace_write: SandboxWorkspaceWrite::default(),
            mcp_servers: BTreeMap::new(),
            agents: BTreeMap::new(),
            projects: BTreeMap::new(),
            plugins: BTreeMap::new(),
            project_trusted: false,
            withheld: Vec::new(),
            project_doc_max_bytes: 32 * 1024,
            project_doc_fallback_filenames: Vec::new(),
            model_reasoning_effort: None,
            max_turns: 50,
            approval_timeout_ms: 300_000,
            shell_environment_policy: Default::default(),
            task_history_max: 100,
            max_parallel_attempts: 4,
            model_context_window: None,
            model_auto_compact_token_limit: None,
            profile: None,
            hunk_diagnostics: true,
            hunk_code_lens: true,
            acp_write: AcpWrite::default(),
        }
    }
}

impl Config {
    /// The selected `model_provider`, built-in fields overlaid by the user's table, the API
    /// key and `env_http_headers` read through `env`. A missing key variable is not an error
    /// here: local servers need none, and the model client reports a rejected request better.
    pub fn provider(&self, env: Env) -> Result<ProviderInfo, ConfigError> {
        let id = self.model_provider.as_str();
        let user = self.model_providers.get(id);
        let merged = match (ProviderConfig::built_in(id, env), user) {
            (Some(built_in), Some(user)) => built_in.overlaid_by(user),
            (Some(built_in), None) => built_in,
            (None, Some(user)) => user.clone(),
            (None, None) => {
                return Err(ConfigError::UnknownProvider {
                    id: id.to_owned(),
                    known: self.provider_ids(),
                });
            }
        };
        merged.resolve(id, env)
    }

    /// The model to request: `model` if set, else the default for the built-in `openai`.
    pub fn model_name(&self) -> Result<String, ConfigError> {
        match &self.model {
            Some(model) => Ok(model.clone()),
            None if self.model_provider == DEFAULT_PROVIDER => Ok(DEFAULT_OPENAI_MODEL.to_owned()),
            None => Err(ConfigError::MissingModel {
                provider: self.model_provider.clone(),
            }),
        }
    }

    fn provider_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = BUILT_IN_PROVIDER_IDS.map(str::to_owned).to_vec();
        ids.extend(self.model_providers.keys().cloned());
        ids.sort();
        ids.dedup();
        ids
    }

    /// A rule the types cannot express, as (key, what is wrong).
    fn value_problem(&self) -> Option<(String, String)> {
        if self.max_turns == 0 {
            return Some(("max_turns".into(), "must be at least 1".into()));
        }
        if self.max_parallel_attempts == 0 {
            return Some(("max_parallel_attempts".into(), "must be at least 1".into()));
        }
        self.mcp_servers.iter().find_map(|(name, server)| {
            let (key, problem) = server.value_problem()?;
            Some((format!("mcp_servers.{name}.{key}"), problem))
        })
    }
}

/// Where configuration comes from, lowest precedence first (the order of the fields).
#[derive(Debug, Clone, Copy)]
pub struct ConfigSources<'a> {
    /// `$AGENTLS_HOME`: `config.toml` here is the user layer.
    pub home: &'a Path,
    /// `.agentls/config.toml` under this directory is the project layer.
    pub workspace_root: Option<&'a Path>,
    /// `-c key=value` arguments, in command-line order (later wins).
    pub cli_overrides: &'a [String],
    /// LSP `initializationOptions`: an object of config keys (nested objects for tables).
    pub init_options: Option<&'a serde_json::Value>,
    /// `agent/startTask.profile`: beats a `profile` key in any other layer.
    pub profile: Option<&'a str>,
    /// `agent/startTask.model`: beats everything, including the profile.
    pub model: Option<&'a str>,
}

/// Merges every layer into a [`Config`], returning warnings (unknown keys) alongside it.
///
/// Precedence, lowest first: built-in defaults, user file, project file, `-c` overrides,
/// `initializationOptions`, then the selected profile's keys, then the task's `model`. The
/// profile sits above the generic layers the way Codex's `--profile` sits above `-c`, so
/// choosing a profile for one task is never silently undone by an editor setting.
pub fn load(sources: &ConfigSources) -> Result<(Config, Vec<String>), ConfigError> {
    let mut layers = Layer::collect(sources)?;
    let mut warnings = Vec::new();
    let mut withheld = Vec::new();
    let mut trusted = false;
    if let Some(root) = sources.workspace_root {
        trusted = layers::project_trusted(&layers, root);
        for layer in &mut layers {
            let (ignored, untrusted) = layer.withhold_untrusted(trusted, root, sources.home);
            warnings.extend(ignored);
            withheld.extend(untrusted);
        }
    }
    warnings.extend(withheld.iter().cloned());
    for layer in &layers {
        warnings.extend(layer.unknown_key_warnings());
        layer.check()?;
    }
    let mut merged = layers::merge(layers);
    let profile = sources
        .profile
        .map(str::to_owned)
        .or_else(|| layers::string_at(&merged, "profile"));
    if let Some(name) = &profile {
        layers::apply_profile(&mut merged, name)?;
    }
    if let Some(model) = sources.model {
        merged.insert("model".to_owned(), toml::Value::String(model.to_owned()));
    }
    let mut config: Config = merged.try_into().map_err(|err| ConfigError::Invalid {
        origin: "the merged configuration".to_owned(),
        key: None,
        message: err.to_string().trim().to_owned(),
    })?;
    config.profile = profile;
    config.project_trusted = trusted;
    config.withheld = withheld;
    Ok((config, warnings))
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}:{line}:{column}: invalid TOML: {message} in `{snippet}`{hint}; fix this line, the file was not loaded",
        path.display()
    )]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        /// The offending line.
        snippet: String,
        /// A suggested fix, with a leading space, or empty.
        hint: String,
    },
    #[error("{origin}: {}{message}", key.as_ref().map(|key| format!("invalid `{key}`: ")).unwrap_or_default())]
    Invalid {
        /// The file (with line and column when known), `-c` argument or LSP field.
        origin: String,
        /// Dotted key path, when known.
        key: Option<String>,
        message: String,
    },
    #[error("`-c {argument}`: {reason}; write -c key=value, e.g. -c model=gpt-5")]
    BadOverride { argument: String, reason: String },
    #[error("initializationOptions must be a JSON object of config keys, got {found}")]
    BadInitOptions { found: String },
    #[error(
        "profile `{name}` is not defined; {}",
        known_list("defined profiles", known)
    )]
    UnknownProfile { name: String, known: Vec<String> },
    #[error(
        "model provider `{id}` is not defined; {}; add a [model_providers.{id}] table or pick one of those",
        known_list("known providers", known)
    )]
    UnknownProvider { id: String, known: Vec<String> },
    #[error(
        "model provider `{provider}` has no base_url; set base_url under [model_providers.{provider}], e.g. \"http://localhost:8000/v1\""
    )]
    MissingBaseUrl { provider: String },
    #[error(
        "no model set for provider `{provider}`; set `model = \"…\"` in config.toml, pass -c model=…, or send `model` with the task"
    )]
    MissingModel { provider: String },
    #[error("cannot locate the agentls home: set AGENTLS_HOME or HOME")]
    NoHome,
}

/// How to trust the project at `root`, for messages about what an untrusted one did not get.
pub fn trust_hint(root: &Path, home: &Path) -> String {
    format!(
        "To trust it, add to {}:\n[projects.{:?}]\ntrust_level = \"trusted\"",
        home.join("config.toml").display(),
        root.display().to_string(),
    )
}

fn known_list(what: &str, known: &[String]) -> String {
    if known.is_empty() {
        format!("there are no {what}")
    } else {
        format!("{what}: {}", known.join(", "))
    }
}

#[cfg(test)]
mod tests;
