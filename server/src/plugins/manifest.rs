//! Reading one plugin directory: which layout it is, its manifest, its MCP servers (as
//! `[mcp_servers]` tables) and its command tools.
//!
//! Layouts, tried in this order (Codex 0.171's order):
//! - **Agent Plugins 1.0**: a root `plugin.json` whose `$schema` is [`PLUGIN_SCHEMA`];
//!   `skills/*/SKILL.md`; `mcp.json` `{"$schema", "mcpServers"}`, each server with a
//!   `type` (`stdio`, `streamable-http`). A `$schema` of another Agent Plugins version is
//!   refused rather than guessed at.
//! - **packaged tools**: a root `plugin.json` without that `$schema` but with `"tools":
//!   [{"name", "description", "command"}]`.
//! - **Codex** `.codex-plugin/plugin.json` and **Claude** `.claude-plugin/plugin.json`,
//!   with `.mcp.json` at the root (or where the manifest's `mcpServers` points, or inline).
//!
//! In servers and tools, `${PLUGIN_ROOT}` and `${PLUGIN_DATA}` (and, for the Claude layout,
//! `${CLAUDE_PLUGIN_ROOT}` / `${CLAUDE_PLUGIN_DATA}`) are expanded in one pass; nothing
//! else is. A bad server or tool is a problem of that part only: the rest of the plugin
//! is still used.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::McpServerConfig;

pub const PLUGIN_SCHEMA: &str = "https://agent-plugins.org/schemas/1.0.0/plugin.schema.json";
pub const MCP_SCHEMA: &str = "https://agent-plugins.org/schemas/1.0.0/mcp.schema.json";
const SCHEMA_PREFIX: &str = "https://agent-plugins.org/schemas/";
const MAX_NAME_CHARS: usize = 64;

/// Which manifest a plugin was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    AgentPlugins,
    Tools,
    Codex,
    Claude,
}

impl Layout {
    pub fn describe(self) -> &'static str {
        match self {
            Layout::AgentPlugins => "Agent Plugins 1.0",
            Layout::Tools => "packaged tools",
            Layout::Codex => "Codex (.codex-plugin)",
            Layout::Claude => "Claude (.claude-plugin)",
        }
    }
}

/// A plugin as read from its directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Plugin {
    pub name: String,
    pub version: Option<String>,
    pub description: Option<String>,
    pub layout: Layout,
    /// Canonical.
    pub root: PathBuf,
    /// `${PLUGIN_DATA}`: where the plugin keeps state across versions.
    pub data: PathBuf,
    /// Its skills folder, if it has one.
    pub skills: Option<PathBuf>,
    pub mcp_servers: BTreeMap<String, McpServerConfig>,
    pub tools: Vec<CommandTool>,
    /// Parts that could not be used, each saying why (the rest of the plugin is).
    pub problems: Vec<String>,
}

/// A model tool that runs a command, from a packaged-tools manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandTool {
    pub name: String,
    pub description: String,
    pub command: ToolCommand,
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolCommand {
    /// Run with `bash -c`; the model's `args` are its `$1`, `$2`, ….
    Line(String),
    /// A program and its arguments; the model's `args` follow them.
    Argv(Vec<String>),
}

/// Reads the plugin at `root`; `data` says what `${PLUGIN_DATA}` means for a plugin of a
/// given name. `Err` when it is not a plugin agentls can use at all.
pub fn read(root: &Path, data: &dyn Fn(&str) -> PathBuf) -> Result<Plugin, String> {
    let root = root
        .canonicalize()
        .map_err(|e| format!("cannot open {}: {e}", root.display()))?;
    let (layout, manifest_path, manifest) = find_manifest(&root)?;
    let shown = manifest_path.display().to_string();
    let name = match manifest.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_string(),
        None | Some(Value::String(_)) if layout != Layout::AgentPlugins => root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        _ => return Err(format!("{shown}: `name` must be a non-empty string")),
    };
    check_name(&name, layout).map_err(|e| format!("{shown}: {e}"))?;
    let text_field = |key: &str| -> Result<Option<String>, String> {
        match manifest.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => {
                Ok(Some(text.trim().to_string()).filter(|t| !t.is_empty()))
            }
            Some(_) => Err(format!("{shown}: `{key}` must be a string")),
        }
    };
    let version = text_field("version")?;
    if let Some(version) = &version {
        check_version(version).map_err(|e| format!("{shown}: {e}"))?;
    }
    let mut plugin = Plugin {
        data: data(&name),
        name,
        version,
        description: text_field("description")?,
        layout,
        skills: None,
        mcp_servers: BTreeMap::new(),
        tools: Vec::new(),
        problems: Vec::new(),
        root,
    };
    plugin.skills = skills_dir(&plugin, &manifest);
    let vars = Variables::new(&plugin);
    match mcp_servers(&plugin, &manifest) {
        Ok(Some((source, servers))) => {
            for (server, entry) in servers {
                match mcp_server(&plugin, &vars, &entry) {
                    Ok(config) => {
                        plugin.mcp_servers.insert(server, config);
                    }
                    Err(e) => plugin.problems.push(format!(
                        "MCP server `{server}` in {source} is not used: {e}"
                    )),
                }
            }
        }
        Ok(None) => {}
        Err(problem) => plugin.problems.push(problem),
    }
    match manifest.get("tools") {
        None => {}
        Some(Value::Array(tools)) => {
            for (index, entry) in tools.iter().enumerate() {
                match command_tool(&vars, entry) {
                    Ok(tool) if plugin.tools.iter().any(|t| t.name == tool.name) => {
                        plugin.problems.push(format!(
                            "tool `{}` in {shown} is given twice; the first one is used",
                            tool.name
                        ))
                    }
                    Ok(tool) => plugin.tools.push(tool),
                    Err(e) => plugin
                        .problems
                        .push(format!("tools[{index}] in {shown} is not used: {e}")),
                }
            }
        }
        Some(_) => plugin.problems.push(format!(
            "`tools` in {shown} must be an array; no tools are used"
        )),
    }
    Ok(plugin)
}

/// The manifest that says which layout the plugin is (see the module docs).
fn find_manifest(root: &Path) -> Result<(Layout, PathBuf, Map<String, Value>), String> {
    let root_manifest = root.join("plugin.json");
    if root_manifest.is_file() {
        let manifest = read_object(&root_manifest)?;
        match manifest.get("$schema").and_then(Value::as_str) {
            Some(PLUGIN_SCHEMA) => return Ok((Layout::AgentPlugins, root_manifest, manifest)),
            Some(other) if other.starts_with(SCHEMA_PREFIX) => {
                return Err(format!(
                    "{}: `$schema` is {other}, a version of Agent Plugins agentls does not read (it reads {PLUGIN_SCHEMA})",
                    root_manifest.display()
                ));
            }
            _ if manifest.contains_key("tools") => {
                return Ok((Layout::Tools, root_manifest, manifest));
            }
            _ => {}
        }
    }
    for (layout, dir) in [
        (Layout::Codex, ".codex-plugin"),
        (Layout::Claude, ".claude-plugin"),
    ] {
        let path = root.join(dir).join("plugin.json");
        if path.is_file() {
            let manifest = read_object(&path)?;
            return Ok((layout, path, manifest));
        }
    }
    if root_manifest.is_file() {
        return Err(format!(
            "{} is neither an Agent Plugins manifest (its `$schema` would be {PLUGIN_SCHEMA}) nor a packaged-tools one (a `tools` array)",
            root_manifest.display()
        ));
    }
    Err(format!(
        "{} is not a plugin: it has no plugin.json (Agent Plugins 1.0, or packaged tools), .codex-plugin/plugin.json or .claude-plugin/plugin.json",
        root.display()
    ))
}

fn read_object(path: &Path) -> Result<Map<String, Value>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(format!("{} is not a JSON object", path.display())),
        Err(e) => Err(format!("{} is not valid JSON: {e}", path.display())),
    }
}

/// Agent Plugins names are lowercase (`[a-z0-9.-]`, no `--` or `..`); other layouts' are
/// only held to what is safe as a directory name.
fn check_name(name: &str, layout: Layout) -> Result<(), String> {
    let strict = layout == Layout::AgentPlugins;
    let allowed = |c: char| {
        if strict {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'
        } else {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
        }
    };
    let ends_fine = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    let ok = name.chars().count() <= MAX_NAME_CHARS
        && name.chars().all(allowed)
        && ends_fine
        && !name.contains("..")
        && !(strict && name.contains("--"));
    if ok {
        return Ok(());
    }
    Err(if strict {
        format!(
            "`name` is `{name}`; an Agent Plugins name is at most 64 lowercase letters, digits, `.` and `-`, starting and ending with a letter or digit"
        )
    } else {
        format!(
            "`name` is `{name}`; use at most 64 letters, digits, `.`, `-` and `_`, starting and ending with a letter or digit"
        )
    })
}

/// A version names a directory (`plugins/<name>/<version>/`).
pub fn check_version(version: &str) -> Result<(), String> {
    let ok = version.starts_with(|c: char| c.is_ascii_alphanumeric())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '_' | '-'))
        && !version.contains("..");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`version` is `{version}`; use letters, digits, `.`, `+`, `_` and `-`, starting with a letter or digit"
        ))
    }
}

/// `./path` inside the plugin, as a path; `None` for anything else.
fn inside(root: &Path, relative: &str) -> Option<PathBuf> {
    let rest = relative.strip_prefix("./")?;
    let mut path = root.to_path_buf();
    for component in Path::new(rest).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    // A symlink inside may still lead out.
    match path.canonicalize() {
        Ok(real) if !real.starts_with(root) => None,
        _ => Some(path),
    }
}

fn skills_dir(plugin: &Plugin, manifest: &Map<String, Value>) -> Option<PathBuf> {
    let declared = match plugin.layout {
        Layout::Codex | Layout::Claude => manifest.get("skills").and_then(Value::as_str),
        _ => None,
    };
    let dir = match declared {
        Some(path) => inside(&plugin.root, path)?,
        None => plugin.root.join("skills"),
    };
    dir.is_dir().then_some(dir)
}

/// Where a plugin's MCP server entries came from, and the entries.
type ServerEntries = (String, Map<String, Value>);

/// The plugin's MCP server entries and the file they came from, if it has any.
fn mcp_servers(
    plugin: &Plugin,
    manifest: &Map<String, Value>,
) -> Result<Option<ServerEntries>, String> {
    let file = match (plugin.layout, manifest.get("mcpServers")) {
        (Layout::Codex | Layout::Claude, Some(Value::Object(inline))) => {
            return Ok(Some(("the manifest".into(), inline.clone())));
        }
        (Layout::Codex | Layout::Claude, Some(Value::String(path))) => inside(&plugin.root, path)
            .ok_or_else(|| {
            format!("`mcpServers` is `{path}`; it must be a `./` path inside the plugin")
        })?,
        (Layout::Codex | Layout::Claude, _) => plugin.root.join(".mcp.json"),
        _ => plugin.root.join("mcp.json"),
    };
    if !file.is_file() {
        return Ok(None);
    }
    let shown = file.display().to_string();
    let object = read_object(&file).map_err(|e| format!("{e}; no MCP servers are used"))?;
    if plugin.layout == Layout::AgentPlugins {
        match object.get("$schema").and_then(Value::as_str) {
            None | Some(MCP_SCHEMA) => {}
            Some(other) => {
                return Err(format!(
                    "{shown}: `$schema` is {other}, not {MCP_SCHEMA}; no MCP servers are used"
                ));
            }
        }
    }
    match object.get("mcpServers") {
        Some(Value::Object(servers)) => Ok(Some((shown, servers.clone()))),
        _ => Err(format!(
            "{shown} has no `mcpServers` object; no MCP servers are used"
        )),
    }
}

/// `${PLUGIN_ROOT}` and friends, expanded in one pass.
struct Variables {
    table: Vec<(&'static str, String)>,
}

impl Variables {
    fn new(plugin: &Plugin) -> Variables {
        let root = plugin.root.display().to_string();
        let data = plugin.data.display().to_string();
        let mut table = vec![
            ("${PLUGIN_ROOT}", root.clone()),
            ("${PLUGIN_DATA}", data.clone()),
        ];
        if plugin.layout == Layout::Claude {
            table.push(("${CLAUDE_PLUGIN_ROOT}", root));
            table.push(("${CLAUDE_PLUGIN_DATA}", data));
        }
        Variables { table }
    }

    /// The replacement text is never scanned again.
    fn expand(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        'outer: while let Some(at) = rest.find("${") {
            out.push_str(&rest[..at]);
            for (name, value) in &self.table {
                if let Some(after) = rest[at..].strip_prefix(name) {
                    out.push_str(value);
                    rest = after;
                    continue 'outer;
                }
            }
            out.push_str("${");
            rest = &rest[at + 2..];
        }
        out.push_str(rest);
        out
    }

    /// What a plugin's servers and commands find in their environment.
    fn env(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.table
            .iter()
            .map(|(name, value)| (name[2..name.len() - 1].to_string(), value.clone()))
    }
}

fn strings(value: Option<&Value>, what: &str) -> Result<Vec<String>, String> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("`{what}` must be a list of strings")),
        Some(_) => Err(format!("`{what}` must be a list of strings")),
    }
}

fn string_map(value: Option<&Value>, what: &str) -> Result<BTreeMap<String, String>, String> {
    match value {
        None => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("`{what}` must be an object of strings")),
        Some(_) => Err(format!("`{what}` must be an object of strings")),
    }
}

/// One `mcpServers` entry as a `[mcp_servers]` table.
fn mcp_server(plugin: &Plugin, vars: &Variables, entry: &Value) -> Result<McpServerConfig, String> {
    let Value::Object(entry) = entry else {
        return Err("the entry is not an object".into());
    };
    let kind = match entry.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => return Err("`type` must be a string".into()),
        None if plugin.layout == Layout::AgentPlugins => {
            return Err("it has no `type` (`stdio` or `streamable-http`)".into());
        }
        None if entry.contains_key("url") => "http",
        None => "stdio",
    };
    match kind {
        "stdio" => stdio_server(plugin, vars, entry),
        "streamable-http" | "http" => {
            let Some(Value::String(url)) = entry.get("url") else {
                return Err("`url` is missing".into());
            };
            check_url(url)?;
            Ok(McpServerConfig {
                url: Some(url.clone()),
                http_headers: string_map(entry.get("headers"), "headers")?,
                ..McpServerConfig::default()
            })
        }
        "sse" => {
            Err("`sse` servers are not supported (agentls speaks stdio and streamable HTTP)".into())
        }
        other => Err(format!(
            "`type` is `{other}`; use `stdio` or `streamable-http`"
        )),
    }
}

fn stdio_server(
    plugin: &Plugin,
    vars: &Variables,
    entry: &Map<String, Value>,
) -> Result<McpServerConfig, String> {
    let Some(Value::String(command)) = entry.get("command").filter(|c| c.as_str() != Some(""))
    else {
        return Err("`command` is missing".into());
    };
    let command = if command.starts_with("./") {
        inside(&plugin.root, command)
            .ok_or_else(|| format!("`command` `{command}` leads outside the plugin"))?
            .display()
            .to_string()
    } else {
        let expanded = vars.expand(command);
        let strict = plugin.layout == Layout::AgentPlugins;
        if expanded == *command && command.contains('/') && strict {
            return Err(format!(
                "`command` is `{command}`; it must be a program name (found on PATH) or a `./` path inside the plugin"
            ));
        }
        expanded
    };
    let mut env = string_map(entry.get("env"), "env")?;
    if plugin.layout == Layout::AgentPlugins
        && let Some(reserved) = vars.env().map(|(k, _)| k).find(|k| env.contains_key(k))
    {
        return Err(format!("`env` may not set {reserved}: agentls sets it"));
    }
    for value in env.values_mut() {
        *value = vars.expand(value);
    }
    env.extend(vars.env());
    let cwd = match entry.get("cwd") {
        None => plugin.root.clone(),
        Some(Value::String(cwd)) if cwd.starts_with("./") => inside(&plugin.root, cwd)
            .ok_or_else(|| format!("`cwd` `{cwd}` leads outside the plugin"))?,
        Some(Value::String(cwd)) => {
            let expanded = vars.expand(cwd);
            if expanded == *cwd {
                return Err(format!(
                    "`cwd` is `{cwd}`; use a `./` path or one starting with ${{PLUGIN_ROOT}} or ${{PLUGIN_DATA}}"
                ));
            }
            PathBuf::from(expanded)
        }
        Some(_) => return Err("`cwd` must be a string".into()),
    };
    Ok(McpServerConfig {
        command: Some(command),
        args: strings(entry.get("args"), "args")?
            .iter()
            .map(|a| vars.expand(a))
            .collect(),
        env,
        cwd: Some(cwd),
        ..McpServerConfig::default()
    })
}

/// https anywhere; plain http only to this machine.
fn check_url(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    let (secure, rest) = match (
        lower.strip_prefix("https://"),
        lower.strip_prefix("http://"),
    ) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        _ => return Err(format!("`url` is `{url}`; it must be an http(s) URL")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("`url` may not carry a user name or password".into());
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    let loopback = host == "localhost" || host == "::1" || host.starts_with("127.");
    if secure || loopback {
        Ok(())
    } else {
        Err(format!(
            "`url` is `{url}`; plain http is only for this machine (localhost), use https"
        ))
    }
}

fn command_tool(vars: &Variables, entry: &Value) -> Result<CommandTool, String> {
    let Value::Object(entry) = entry else {
        return Err("the entry is not an object".into());
    };
    let name = match entry.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_string(),
        _ => return Err("`name` is missing".into()),
    };
    let description = match entry.get("description") {
        None => String::new(),
        Some(Value::String(text)) => text.trim().to_string(),
        Some(_) => return Err(format!("tool `{name}`: `description` must be a string")),
    };
    let command = match entry.get("command") {
        Some(Value::String(line)) if !line.trim().is_empty() => {
            ToolCommand::Line(vars.expand(line))
        }
        Some(Value::Array(_)) => {
            let argv = strings(entry.get("command"), "command")?;
            if argv.first().is_none_or(|p| p.is_empty()) {
                return Err(format!("tool `{name}`: `command` is empty"));
            }
            ToolCommand::Argv(argv.iter().map(|a| vars.expand(a)).collect())
        }
        _ => {
            return Err(format!(
                "tool `{name}`: `command` must be a command line or a list of arguments"
            ));
        }
    };
    let timeout = match entry.get("timeout_sec") {
        None => None,
        Some(value) => match value.as_f64() {
            Some(seconds) if seconds > 0.0 && seconds.is_finite() => {
                Some(Duration::from_secs_f64(seconds))
            }
            _ => {
                return Err(format!(
                    "tool `{name}`: `timeout_sec` must be a positive number"
                ));
            }
        },
    };
    Ok(CommandTool {
        name,
        description,
        command,
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(root: &Path, rel: &str, value: &Value) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    }

    #[test]
    fn an_agent_plugin_has_its_servers_expanded_and_bad_entries_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("ops");
        let data = tmp.path().join("data");
        let data_of = |_: &str| data.clone();
        write(
            &root,
            "plugin.json",
            &json!({"$schema": PLUGIN_SCHEMA, "name": "ops", "version": "1.2.0", "description": "Ops tools"}),
        );
        write(
            &root,
            "mcp.json",
            &json!({"$schema": MCP_SCHEMA, "mcpServers": {
                "db": {"type": "stdio", "command": "./bin/db", "args": ["--data", "${PLUGIN_DATA}/db", "${HOME}"], "env": {"CONF": "${PLUGIN_ROOT}/conf"}},
                "web": {"type": "streamable-http", "url": "http://127.0.0.1:9/mcp", "headers": {"X-Team": "ops"}},
                "far": {"type": "streamable-http", "url": "http://example.com/mcp"},
                "abs": {"type": "stdio", "command": "/usr/bin/server"},
                "escape": {"type": "stdio", "command": "./../evil"},
                "typeless": {"command": "server"}
            }}),
        );
        std::fs::create_dir_all(root.join("skills/check")).unwrap();
        let plugin = read(&root, &data_of).unwrap();
        let root = root.canonicalize().unwrap();
        assert_eq!(plugin.layout, Layout::AgentPlugins);
        assert_eq!(plugin.version.as_deref(), Some("1.2.0"));
        assert_eq!(plugin.skills, Some(root.join("skills")));
        let db = &plugin.mcp_servers["db"];
        assert_eq!(db.command, Some(root.join("bin/db").display().to_string()));
        assert_eq!(
            db.args,
            ["--data", &format!("{}/db", data.display()), "${HOME}"]
        );
        assert_eq!(db.env["CONF"], format!("{}/conf", root.display()));
        assert_eq!(db.env["PLUGIN_ROOT"], root.display().to_string());
        assert_eq!(db.cwd.as_deref(), Some(root.as_path()));
        assert_eq!(plugin.mcp_servers["web"].http_headers["X-Team"], "ops");
        let keys: Vec<&str> = plugin.mcp_servers.keys().map(String::as_str).collect();
        assert_eq!(keys, ["db", "web"]);
        let problems = plugin.problems.join("\n");
        for expected in [
            "`far`",
            "plain http",
            "`abs`",
            "program name",
            "`escape`",
            "leads outside",
            "`typeless`",
            "no `type`",
        ] {
            assert!(problems.contains(expected), "{expected}: {problems}");
        }
    }

    #[test]
    fn a_tools_manifest_and_the_codex_and_claude_layouts() {
        let tmp = tempfile::tempdir().unwrap();
        let tools = tmp.path().join("team-tools");
        write(
            &tools,
            "plugin.json",
            &json!({"name": "team-tools", "tools": [
                {"name": "run-e2e", "description": "Runs the e2e suite", "command": "${PLUGIN_ROOT}/e2e.sh --fast", "timeout_sec": 600},
                {"name": "fmt", "command": ["cargo", "fmt"]},
                {"name": "broken"}
            ]}),
        );
        let plugin = read(&tools, &|_| tmp.path().join("d")).unwrap();
        assert_eq!(plugin.layout, Layout::Tools);
        let root = tools.canonicalize().unwrap();
        assert_eq!(
            plugin.tools[0].command,
            ToolCommand::Line(format!("{}/e2e.sh --fast", root.display()))
        );
        assert_eq!(plugin.tools[0].timeout, Some(Duration::from_secs(600)));
        assert_eq!(
            plugin.tools[1].command,
            ToolCommand::Argv(vec!["cargo".into(), "fmt".into()])
        );
        assert!(
            plugin.problems[0].contains("tools[2]"),
            "{:?}",
            plugin.problems
        );

        let claude = tmp.path().join("helper");
        write(
            &claude,
            ".claude-plugin/plugin.json",
            &json!({"description": "d"}),
        );
        write(
            &claude,
            ".mcp.json",
            &json!({"mcpServers": {"s": {"command": "node", "args": ["${CLAUDE_PLUGIN_ROOT}/s.js"]}}}),
        );
        let plugin = read(&claude, &|_| tmp.path().join("d")).unwrap();
        assert_eq!(
            (plugin.layout, plugin.name.as_str()),
            (Layout::Claude, "helper")
        );
        let root = claude.canonicalize().unwrap();
        assert_eq!(
            plugin.mcp_servers["s"].args,
            [format!("{}/s.js", root.display())]
        );

        let codex = tmp.path().join("cx");
        write(
            &codex,
            ".codex-plugin/plugin.json",
            &json!({"name": "cx", "skills": "./my-skills", "mcpServers": "./servers.json"}),
        );
        write(
            &codex,
            "servers.json",
            &json!({"mcpServers": {"s": {"url": "https://mcp.example.com/mcp"}}}),
        );
        std::fs::create_dir_all(codex.join("my-skills")).unwrap();
        let plugin = read(&codex, &|_| tmp.path().join("d")).unwrap();
        assert_eq!(plugin.layout, Layout::Codex);
        assert!(plugin.skills.unwrap().ends_with("my-skills"));
        assert_eq!(
            plugin.mcp_servers["s"].url.as_deref(),
            Some("https://mcp.example.com/mcp")
        );
    }

    #[test]
    fn what_is_not_a_plugin_says_why() {
        let tmp = tempfile::tempdir().unwrap();
        let cases = [
            (
                json!({"$schema": "https://agent-plugins.org/schemas/2.0.0/plugin.schema.json", "name": "x"}),
                "does not read",
            ),
            (
                json!({"$schema": PLUGIN_SCHEMA, "name": "Bad--Name"}),
                "lowercase",
            ),
            (
                json!({"$schema": PLUGIN_SCHEMA, "name": "x", "version": "../1"}),
                "`version`",
            ),
            (json!({"name": "x"}), "neither an Agent Plugins manifest"),
        ];
        for (index, (manifest, expected)) in cases.into_iter().enumerate() {
            let root = tmp.path().join(format!("p{index}"));
            write(&root, "plugin.json", &manifest);
            let error = read(&root, &|_| tmp.path().into()).unwrap_err();
            assert!(error.contains(expected), "{manifest}: {error}");
        }
        let empty = tmp.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        assert!(
            read(&empty, &|_| tmp.path().into())
                .unwrap_err()
                .contains("is not a plugin")
        );
    }

    #[test]
    fn expansion_is_one_pass() {
        let plugin_root = PathBuf::from("${PLUGIN_DATA}");
        let vars = Variables {
            table: vec![
                ("${PLUGIN_ROOT}", plugin_root.display().to_string()),
                ("${PLUGIN_DATA}", "/d".into()),
            ],
        };
        assert_eq!(vars.expand("${PLUGIN_ROOT}/x"), "${PLUGIN_DATA}/x");
        assert_eq!(vars.expand("a${PLUGIN_DATA}b${OTHER}"), "a/db${OTHER}");
    }
}
