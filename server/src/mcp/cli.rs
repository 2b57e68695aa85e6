//! `agentls mcp list|add|remove`: the user's servers from the command line.
//!
//! `add` and `remove` edit `$AGENTLS_HOME/config.toml` as text, so the user's comments and
//! layout survive: `add` appends a `[mcp_servers.<name>]` table, `remove` cuts out that
//! table and its subtables. Each edit is checked by parsing both versions: the new file
//! must mean exactly the old one plus (or minus) that server, or nothing is written. A
//! server written inline (`mcp_servers = { … }`, dotted keys) is refused with a message,
//! rather than pulling in a format-preserving TOML editor for that rare case.

use std::fmt::Write as _;
use std::path::Path;

use toml::{Table, Value};

use crate::config::{self, ConfigSources};
use crate::protocol::McpServerStatus;

/// What `mcp add` writes.
pub enum NewServer {
    Stdio {
        command: Vec<String>,
        env: Vec<(String, String)>,
    },
    Http {
        url: String,
    },
}

/// `agentls mcp list`: each server, its status and tools, as the workspace in `root` sees
/// them. Returns the text to print.
pub async fn list(sources: &ConfigSources<'_>, root: &Path) -> Result<String, String> {
    let (config, warnings) = config::load(sources).map_err(|e| e.to_string())?;
    let servers = super::McpServers::default();
    let listed = servers.list(&config, root).await;
    servers.stop_all().await;
    let mut text = String::new();
    for warning in warnings {
        let _ = writeln!(text, "warning: {warning}");
    }
    if listed.is_empty() {
        text.push_str("No MCP servers are configured; add one with `agentls mcp add <name> -- <command> <args…>`.\n");
    }
    for server in listed {
        let status = match server.status {
            McpServerStatus::Starting => "starting",
            McpServerStatus::Ready => "ready",
            McpServerStatus::Failed => "failed",
            McpServerStatus::Disabled => "disabled",
        };
        let sandbox = match server.sandbox {
            config::McpSandbox::None => "",
            config::McpSandbox::Task => ", sandbox = task",
        };
        let _ = writeln!(
            text,
            "{} ({}{sandbox}): {status}",
            server.name, server.transport
        );
        if let Some(error) = &server.error {
            let _ = writeln!(text, "  error: {error}");
        }
        for tool in &server.tools {
            let read_only = if tool.read_only { " (read-only)" } else { "" };
            let _ = writeln!(
                text,
                "  {}{read_only}: {}",
                tool.model_name,
                first_line(&tool.description)
            );
        }
    }
    Ok(text)
}

/// `agentls mcp add`: appends the server to `config.toml` under `home`.
pub fn add(home: &Path, name: &str, server: &NewServer) -> Result<String, String> {
    let path = home.join("config.toml");
    let before = read(&path)?;
    let old = parse(&before, &path)?;
    if servers(&old).is_some_and(|s| s.contains_key(name)) {
        return Err(format!(
            "an MCP server named `{name}` is already in {}; remove it first with `agentls mcp remove {name}`",
            path.display()
        ));
    }
    let key = key(name);
    let mut table = format!("[mcp_servers.{key}]\n");
    match server {
        NewServer::Stdio { command, env } => {
            let Some((program, args)) = command.split_first() else {
                return Err("give the server's command after `--`, e.g. `agentls mcp add files -- npx -y @modelcontextprotocol/server-filesystem .`".into());
            };
            let _ = writeln!(table, "command = {}", Value::from(program.as_str()));
            if !args.is_empty() {
                let args: Vec<Value> = args.iter().map(|a| Value::from(a.as_str())).collect();
                let _ = writeln!(table, "args = {}", Value::Array(args));
            }
            if !env.is_empty() {
                let _ = writeln!(table, "[mcp_servers.{key}.env]");
                for (var, value) in env {
                    let _ = writeln!(
                        table,
                        "{} = {}",
                        self::key(var),
                        Value::from(value.as_str())
                    );
                }
            }
        }
        NewServer::Http { url } => {
            let _ = writeln!(table, "url = {}", Value::from(url.as_str()));
        }
    }
    let mut after = before.clone();
    if !after.is_empty() && !after.ends_with('\n') {
        after.push('\n');
    }
    if !after.is_empty() {
        after.push('\n');
    }
    after.push_str(&table);
    let new = parse(&after, &path)?;
    if without(new, name) != old {
        return Err(format!(
            "cannot add `{name}` to {} without changing other settings (is `mcp_servers` written inline there?); add the table by hand:\n{table}",
            path.display()
        ));
    }
    write(&path, &after)?;
    Ok(format!(
        "Added MCP server `{name}` to {}.\n",
        path.display()
    ))
}

/// `agentls mcp remove`: cuts the server's table (and its subtables) out of `config.toml`.
pub fn remove(home: &Path, name: &str) -> Result<String, String> {
    let path = home.join("config.toml");
    let before = read(&path)?;
    let old = parse(&before, &path)?;
    if !servers(&old).is_some_and(|s| s.contains_key(name)) {
        return Err(format!(
            "no MCP server named `{name}` in {}",
            path.display()
        ));
    }
    let mut kept = String::with_capacity(before.len());
    let mut inside = false;
    // Comments and blank lines at the end of the removed table belong to what follows.
    let mut trailing = String::new();
    for line in before.split_inclusive('\n') {
        if let Some(header) = table_header(line) {
            let was_inside = inside;
            inside = header.len() >= 2 && header[0] == "mcp_servers" && header[1] == name;
            if was_inside && !inside {
                kept.push_str(&trailing);
            }
            trailing.clear();
        }
        if !inside {
            kept.push_str(line);
        } else if line.trim().is_empty() || line.trim_start().starts_with('#') {
            trailing.push_str(line);
        } else {
            trailing.clear();
        }
    }
    let new = parse(&kept, &path)?;
    if new != without(old, name) {
        return Err(format!(
            "`{name}` is not written as a [mcp_servers.{}] table in {}; remove it by hand",
            key(name),
            path.display()
        ));
    }
    write(&path, &kept)?;
    Ok(format!(
        "Removed MCP server `{name}` from {}.\n",
        path.display()
    ))
}

fn servers(table: &Table) -> Option<&Table> {
    table.get("mcp_servers")?.as_table()
}

fn without(mut table: Table, name: &str) -> Table {
    if let Some(Value::Table(servers)) = table.get_mut("mcp_servers") {
        servers.remove(name);
        if servers.is_empty() {
            table.remove("mcp_servers");
        }
    }
    table
}

/// The dotted key of a `[table]` or `[[array]]` header line, parsed by TOML itself.
fn table_header(line: &str) -> Option<Vec<String>> {
    let trimmed = line.trim();
    if !trimmed.starts_with('[') {
        return None;
    }
    let body = trimmed.trim_start_matches('[');
    let end = body.rfind(']')?;
    let dotted = body[..end].trim_end_matches(']');
    // `a."b.c" = 0` parses to nested tables whose keys are the header's parts.
    let table: Table = format!("{dotted} = 0").parse().ok()?;
    let mut parts = Vec::new();
    let mut current = &table;
    loop {
        let (key, value) = current.iter().next()?;
        parts.push(key.clone());
        match value {
            Value::Table(inner) => current = inner,
            _ => return Some(parts),
        }
    }
}

/// A bare key when TOML allows one, else a quoted one.
fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_string()
    } else {
        Value::from(name).to_string()
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

fn read(path: &Path) -> Result<String, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(error) => Err(format!("cannot read {}: {error}", path.display())),
    }
}

fn parse(text: &str, path: &Path) -> Result<Table, String> {
    text.parse::<Table>().map_err(|e| {
        format!(
            "{} is not valid TOML ({}); fix it first",
            path.display(),
            e.message()
        )
    })
}

/// Temp file and rename: the user's config is never half-written.
fn write(path: &Path, text: &str) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let temp = path.with_extension("toml.agentls-tmp");
    std::fs::write(&temp, text).map_err(fail)?;
    std::fs::rename(&temp, path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "# my settings\nmodel = \"gpt-5\" # the best one\n\n[mcp_servers.docs]\ncommand = \"docs-server\"\n\n[mcp_servers.docs.env]\nA = \"1\"\n\n# keep this comment\n[profiles.fast]\nmodel = \"gpt-5-mini\"\n";

    #[test]
    fn add_appends_a_table_and_keeps_the_users_text() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("config.toml"), CONFIG).unwrap();
        let server = NewServer::Stdio {
            command: vec!["npx".into(), "-y".into(), "server everything".into()],
            env: vec![("TOKEN_FILE".into(), "/a b".into())],
        };
        add(home.path(), "every thing", &server).unwrap();
        let text = std::fs::read_to_string(home.path().join("config.toml")).unwrap();
        assert!(text.starts_with(CONFIG), "{text}");
        let config: Table = text.parse().unwrap();
        let added = &config["mcp_servers"]["every thing"];
        assert_eq!(added["command"].as_str(), Some("npx"));
        assert_eq!(added["args"][1].as_str(), Some("server everything"));
        assert_eq!(added["env"]["TOKEN_FILE"].as_str(), Some("/a b"));
        let again = add(home.path(), "every thing", &server).unwrap_err();
        assert!(again.contains("already"), "{again}");
    }

    #[test]
    fn remove_cuts_the_table_and_its_subtables_only() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("config.toml"), CONFIG).unwrap();
        remove(home.path(), "docs").unwrap();
        let text = std::fs::read_to_string(home.path().join("config.toml")).unwrap();
        assert_eq!(
            text,
            "# my settings\nmodel = \"gpt-5\" # the best one\n\n\n# keep this comment\n[profiles.fast]\nmodel = \"gpt-5-mini\"\n"
        );
        assert!(
            remove(home.path(), "docs")
                .unwrap_err()
                .contains("no MCP server")
        );
    }

    #[test]
    fn an_inline_server_is_refused_and_the_file_left_alone() {
        let home = tempfile::tempdir().unwrap();
        let inline = "mcp_servers.docs.command = \"docs-server\"\n";
        std::fs::write(home.path().join("config.toml"), inline).unwrap();
        let error = remove(home.path(), "docs").unwrap_err();
        assert!(error.contains("by hand"), "{error}");
        let text = std::fs::read_to_string(home.path().join("config.toml")).unwrap();
        assert_eq!(text, inline);
    }
}
