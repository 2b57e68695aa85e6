//! The raw layers of configuration before they become a typed `Config`: reading and parsing
//! each source into a TOML table, checking it on its own (so every warning and error can
//! name the file or argument it came from), deep-merging, and applying a profile.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use super::agents::AGENT_KEYS;
use super::mcp::{MCP_SERVER_KEYS, MCP_TOOL_KEYS};
use super::plugins::PLUGIN_KEYS;
use super::{Config, ConfigError, ConfigSources};

/// Keys a config table (top level or a profile) may hold, besides `profiles`.
const CONFIG_KEYS: &[&str] = &[
    "model",
    "model_provider",
    "model_providers",
    "approval_policy",
    "sandbox_mode",
    "sandbox_workspace_write",
    "mcp_servers",
    "agents",
    "project_doc_max_bytes",
    "project_doc_fallback_filenames",
    "model_reasoning_effort",
    "max_turns",
    "approval_timeout_ms",
    "task_history_max",
    "max_parallel_attempts",
    "model_context_window",
    "model_auto_compact_token_limit",
    "shell_environment_policy",
    "projects",
    "plugins",
    "profile",
    "hunk_diagnostics",
    "hunk_code_lens",
    "acp_write",
];
const PROVIDER_KEYS: &[&str] = &[
    "name",
    "base_url",
    "env_key",
    "wire_api",
    "query_params",
    "http_headers",
    "env_http_headers",
    "request_max_retries",
    "stream_max_retries",
    "stream_idle_timeout_ms",
];
const SANDBOX_WORKSPACE_WRITE_KEYS: &[&str] =
    &["writable_roots", "readable_roots", "network_access"];

/// Where a layer came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    File(PathBuf),
    /// The repository's own `.agentls/config.toml`.
    ProjectFile(PathBuf),
    CliOverride(String),
    InitializationOptions,
}

impl Origin {
    fn describe(&self) -> String {
        match self {
            Origin::File(path) | Origin::ProjectFile(path) => path.display().to_string(),
            Origin::CliOverride(argument) => format!("`-c {argument}`"),
            Origin::InitializationOptions => "initializationOptions".to_owned(),
        }
    }
}

/// One source's keys, with the file text kept for error positions.
#[derive(Debug)]
pub(super) struct Layer {
    origin: Origin,
    table: Table,
    text: Option<String>,
}

impl Layer {
    /// Every layer present, lowest precedence first. Missing files are simply absent.
    pub(super) fn collect(sources: &ConfigSources) -> Result<Vec<Layer>, ConfigError> {
        let mut layers = Vec::new();
        let user_file = sources.home.join("config.toml");
        let project_file = sources
            .workspace_root
            .map(|root| root.join(".agentls").join("config.toml"));
        layers.extend(Self::from_file(&user_file)?);
        if let Some(path) = project_file {
            let project = Self::from_file(&path)?.map(|layer| Layer {
                origin: Origin::ProjectFile(path),
                ..layer
            });
            layers.extend(project);
        }
        for argument in sources.cli_overrides {
            layers.push(Self::from_cli_override(argument)?);
        }
        if let Some(options) = sources.init_options {
            layers.push(Self::from_init_options(options)?);
        }
        Ok(layers)
    }

    fn from_file(path: &Path) -> Result<Option<Layer>, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let table = text.parse::<Table>().map_err(|err| {
            let (line, column) = err
                .span()
                .map_or((1, 1), |span| line_column(&text, span.start));
            let snippet = text.lines().nth(line - 1).unwrap_or_default().trim();
            ConfigError::Syntax {
                path: path.to_owned(),
                line,
                column,
                message: err.message().to_owned(),
                snippet: snippet.to_owned(),
                hint: quoting_hint(snippet).unwrap_or_default(),
            }
        })?;
        Ok(Some(Layer {
            origin: Origin::File(path.to_owned()),
            table,
            text: Some(text),
        }))
    }

    /// `key.path=value`: the value is TOML when it parses as TOML and a plain string
    /// otherwise, so `-c model=o3` and `-c model='"o3"'` mean the same (as in Codex).
    fn from_cli_override(argument: &str) -> Result<Layer, ConfigError> {
        let bad = |reason: &str| ConfigError::BadOverride {
            argument: argument.to_owned(),
            reason: reason.to_owned(),
        };
        let (key, raw_value) = argument.split_once('=').ok_or_else(|| bad("missing `=`"))?;
        let segments: Vec<&str> = key.trim().split('.').map(str::trim).collect();
        let empty_key = || bad("the key is empty or has an empty part");
        if segments.iter().any(|segment| segment.is_empty()) {
            return Err(empty_key());
        }
        let Some((last, parents)) = segments.split_last() else {
            return Err(empty_key());
        };
        let raw_value = raw_value.trim();
        let value = raw_value
            .parse::<Value>()
            .unwrap_or_else(|_| Value::String(raw_value.to_owned()));
        let mut table = Table::from_iter([((*last).to_owned(), value)]);
        for parent in parents.iter().rev() {
            table = Table::from_iter([((*parent).to_owned(), Value::Table(table))]);
        }
        Ok(Layer {
            origin: Origin::CliOverride(argument.to_owned()),
            table,
            text: None,
        })
    }

    fn from_init_options(options: &serde_json::Value) -> Result<Layer, ConfigError> {
        let Some(Value::Table(table)) = json_to_toml(options) else {
            return Err(ConfigError::BadInitOptions {
                found: json_kind(options).to_owned(),
            });
        };
        Ok(Layer {
            origin: Origin::InitializationOptions,
            table,
            text: None,
        })
    }

    /// A repository's own config may not start programs (MCP servers, plugins, agents) unless the
    /// user trusts the project, nor grant that trust itself: those keys are taken out of
    /// an untrusted project layer. Returns the warnings for keys ignored whatever the
    /// trust, and those for what was withheld, each saying how to trust the project.
    pub(super) fn withhold_untrusted(
        &mut self,
        trusted: bool,
        root: &Path,
        home: &Path,
    ) -> (Vec<String>, Vec<String>) {
        let Origin::ProjectFile(path) = &self.origin else {
            return (Vec::new(), Vec::new());
        };
        let mut ignored = Vec::new();
        if self.table.remove("projects").is_some() {
            ignored.push(format!(
                "`projects` in {} is ignored: a project is trusted in your own {}",
                path.display(),
                home.join("config.toml").display()
            ));
        }
        if trusted {
            return (ignored, Vec::new());
        }
        let hint = super::trust_hint(root, home);
        let mut withheld = Vec::new();
        let programs = [
            ("mcp_servers", "MCP server"),
            ("plugins", "plugin"),
            ("agents", "agent"),
        ];
        for (key, what) in programs {
            if let Some(Value::Table(entries)) = self.table.remove(key) {
                for name in entries.keys() {
                    withheld.push(format!(
                        "{what} `{name}` from {} is not started: this project is not trusted. {hint}",
                        path.display(),
                    ));
                }
            }
        }
        (ignored, withheld)
    }

    /// `unknown key `a.b` in <origin> — ignored`, one per key this version does not know.
    pub(super) fn unknown_key_warnings(&self) -> Vec<String> {
        let mut unknown = Vec::new();
        unknown_config_keys(&self.table, "", true, &mut unknown);
        unknown
            .into_iter()
            .map(|key| {
                format!(
                    "unknown key `{key}` in {} — ignored",
                    self.origin.describe()
                )
            })
            .collect()
    }

    /// Checks the layer on its own, so that a bad value is reported against the source that
    /// wrote it rather than against the merged result.
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        let top_level = self.deserialize::<Config>()?;
        let profiles = self.deserialize::<ProfilesOnly>()?.profiles;
        let profiles = profiles
            .into_iter()
            .map(|(name, profile)| (format!("profiles.{name}."), profile));
        for (prefix, config) in std::iter::once((String::new(), top_level)).chain(profiles) {
            if let Some((key, problem)) = config.value_problem() {
                return Err(ConfigError::Invalid {
                    origin: self.origin.describe(),
                    key: Some(format!("{prefix}{key}")),
                    message: problem,
                });
            }
        }
        Ok(())
    }

    fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let err = match self.table.clone().try_into::<T>() {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        // Only a parse of the original text knows positions; only a parse of the table
        // knows the key path. Errors are rare, so do both.
        let position = self.text.as_deref().and_then(|text| {
            let span = toml::from_str::<T>(text).err()?.span()?;
            Some(line_column(text, span.start))
        });
        let origin = match position {
            Some((line, column)) => format!("{}:{line}:{column}", self.origin.describe()),
            None => self.origin.describe(),
        };
        Err(ConfigError::Invalid {
            origin,
            key: key_path(&err),
            message: err.message().to_owned(),
        })
    }
}

/// The `profiles` key, type-checked apart from the rest because `Config` (the result of
/// applying one profile) has no place for the others.
#[derive(serde::Deserialize)]
struct ProfilesOnly {
    #[serde(default)]
    profiles: std::collections::BTreeMap<String, Config>,
}

/// Deep-merges the layers in order: tables merge key by key, anything else is replaced.
pub(super) fn merge(layers: Vec<Layer>) -> Table {
    let mut merged = Table::new();
    for layer in layers {
        merge_into(&mut merged, layer.table);
    }
    merged
}

fn merge_into(base: &mut Table, over: Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(base_table)), Value::Table(over_table)) => {
                merge_into(base_table, over_table)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Whether the user's own layers (all but the project file) mark `root` as trusted.
pub(super) fn project_trusted(layers: &[Layer], root: &Path) -> bool {
    let canonical = root.canonicalize().ok();
    let names_root = |key: &str| {
        let path = Path::new(key);
        path == root || canonical.as_deref() == Some(path)
    };
    let mut trusted = false;
    for layer in layers {
        if matches!(layer.origin, Origin::ProjectFile(_)) {
            continue;
        }
        let projects = layer.table.get("projects").and_then(Value::as_table);
        for (key, project) in projects.into_iter().flatten() {
            if names_root(key)
                && let Some(level) = project.get("trust_level").and_then(Value::as_str)
            {
                trusted = level == "trusted";
            }
        }
    }
    trusted
}

/// Lays `[profiles.<name>]` over the top-level keys.
pub(super) fn apply_profile(merged: &mut Table, name: &str) -> Result<(), ConfigError> {
    let profiles = merged.get("profiles").and_then(Value::as_table);
    let Some(profile) = profiles
        .and_then(|profiles| profiles.get(name))
        .and_then(Value::as_table)
    else {
        return Err(ConfigError::UnknownProfile {
            name: name.to_owned(),
            known: profiles
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default(),
        });
    };
    let profile = profile.clone();
    merge_into(merged, profile);
    Ok(())
}

pub(super) fn string_at(table: &Table, key: &str) -> Option<String> {
    table.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn unknown_config_keys(table: &Table, prefix: &str, top_level: bool, unknown: &mut Vec<String>) {
    for (key, value) in table {
        let path = format!("{prefix}{key}");
        match (key.as_str(), value) {
            ("profiles", Value::Table(profiles)) if top_level => {
                for (name, profile) in profiles {
                    if let Value::Table(profile) = profile {
                        let prefix = format!("{path}.{name}.");
                        unknown_config_keys(profile, &prefix, false, unknown);
                    }
                }
            }
            ("model_providers", Value::Table(providers)) => {
                for (id, provider) in providers {
                    if let Value::Table(provider) = provider {
                        let prefix = format!("{path}.{id}.");
                        unknown_keys(provider, &prefix, PROVIDER_KEYS, unknown);
                    }
                }
            }
            ("mcp_servers", Value::Table(servers)) => {
                for (name, server) in servers {
                    if let Value::Table(server) = server {
                        let prefix = format!("{path}.{name}.");
                        unknown_keys(server, &prefix, MCP_SERVER_KEYS, unknown);
                        let tools = server.get("tools").and_then(Value::as_table);
                        for (tool, settings) in tools.into_iter().flatten() {
                            if let Value::Table(settings) = settings {
                                let prefix = format!("{prefix}tools.{tool}.");
                                unknown_keys(settings, &prefix, MCP_TOOL_KEYS, unknown);
                            }
                        }
                    }
                }
            }
            ("plugins", Value::Table(plugins)) => {
                for (name, plugin) in plugins {
                    if let Value::Table(plugin) = plugin {
                        unknown_keys(plugin, &format!("{path}.{name}."), PLUGIN_KEYS, unknown);
                    }
                }
            }
            ("agents", Value::Table(agents)) => {
                for (name, agent) in agents {
                    if let Value::Table(agent) = agent {
                        unknown_keys(agent, &format!("{path}.{name}."), AGENT_KEYS, unknown);
                    }
                }
            }
            ("sandbox_workspace_write", Value::Table(sandbox)) => {
                unknown_keys(
                    sandbox,
                    &format!("{path}."),
                    SANDBOX_WORKSPACE_WRITE_KEYS,
                    unknown,
                );
            }
            ("profile", _) if !top_level => unknown.push(path),
            (key, _) if CONFIG_KEYS.contains(&key) => {}
            _ => unknown.push(path),
        }
    }
}

fn unknown_keys(table: &Table, prefix: &str, known: &[&str], unknown: &mut Vec<String>) {
    let unknown_here = table.keys().filter(|key| !known.contains(&key.as_str()));
    unknown.extend(unknown_here.map(|key| format!("{prefix}{key}")));
}

/// JSON `null` means "not set" and is dropped; TOML has no null.
fn json_to_toml(json: &serde_json::Value) -> Option<Value> {
    use serde_json::Value as Json;
    Some(match json {
        Json::Null => return None,
        Json::Bool(value) => Value::Boolean(*value),
        Json::Number(number) => match number.as_i64() {
            Some(integer) => Value::Integer(integer),
            None => Value::Float(number.as_f64()?),
        },
        Json::String(value) => Value::String(value.clone()),
        Json::Array(items) => Value::Array(items.iter().filter_map(json_to_toml).collect()),
        Json::Object(entries) => Value::Table(
            entries
                .iter()
                .filter_map(|(key, value)| Some((key.clone(), json_to_toml(value)?)))
                .collect(),
        ),
    })
}

fn json_kind(json: &serde_json::Value) -> &'static str {
    match json {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..text.floor_char_boundary(offset)];
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let line = before.matches('\n').count() + 1;
    (line, before[line_start..].chars().count() + 1)
}

/// The most common mistake, a bare word where TOML needs a quoted string (Codex's `-c`
/// accepts `model=o3`, a file does not), gets the corrected line as a hint.
fn quoting_hint(line: &str) -> Option<String> {
    let (key, value) = line.split_once('=')?;
    let value = value.trim();
    let bare_word = value
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':'));
    let is_toml_word = matches!(value, "true" | "false" | "inf" | "nan");
    if value.is_empty() || !bare_word || is_toml_word {
        return None;
    }
    Some(format!(
        " (strings need quotes: `{} = \"{value}\"`)",
        key.trim()
    ))
}

/// toml's errors know the dotted key path but only show it in their `Display` text (as a
/// trailing "in `a.b`" line when there is no source position).
fn key_path(err: &toml::de::Error) -> Option<String> {
    let shown = err.to_string();
    let rest = shown.strip_prefix(err.message())?.trim();
    Some(rest.strip_prefix("in `")?.strip_suffix('`')?.to_owned())
}
