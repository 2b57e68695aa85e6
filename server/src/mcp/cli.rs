//! `agentls mcp list|add|remove`: the user's servers from the command line.
//!
//! `add` appends a `[mcp_servers.<name>]` table to `$AGENTLS_HOME/config.toml` and
//! `remove` cuts it out with its subtables, editing the file as text so the user's
//! comments and layout survive (`config::edit` checks each edit means only that).

use std::fmt::Write as _;
use std::path::Path;

use toml::Value;

use crate::config::edit::{ConfigFile, dotted, key};
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
    let (mut config, mut warnings) = config::load(sources).map_err(|e| e.to_string())?;
    let plugins = crate::plugins::load(&config, sources.home, root);
    warnings.extend(plugins.warnings.iter().cloned());
    warnings.extend(plugins.add_mcp_servers(&mut config));
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
    let mut file = ConfigFile::open(home)?;
    let keys = ["mcp_servers", name];
    if file.get(&keys).is_some() {
        return Err(format!(
            "an MCP server named `{name}` is already in {}; remove it first with `agentls mcp remove {name}`",
            file.path().display()
        ));
    }
    let header = dotted(&keys);
    let mut table = format!("[{header}]\n");
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
                let _ = writeln!(table, "[{header}.env]");
                for (var, value) in env {
                    let _ = writeln!(table, "{} = {}", key(var), Value::from(value.as_str()));
                }
            }
        }
        NewServer::Http { url } => {
            let _ = writeln!(table, "url = {}", Value::from(url.as_str()));
        }
    }
    file.append(&keys, &table)?;
    file.save()?;
    Ok(format!(
        "Added MCP server `{name}` to {}.\n",
        file.path().display()
    ))
}

/// `agentls mcp remove`: cuts the server's table (and its subtables) out of `config.toml`.
pub fn remove(home: &Path, name: &str) -> Result<String, String> {
    let mut file = ConfigFile::open(home)?;
    let keys = ["mcp_servers", name];
    if file.get(&keys).is_none() {
        return Err(format!(
            "no MCP server named `{name}` in {}",
            file.path().display()
        ));
    }
    file.cut(&keys)?;
    file.save()?;
    Ok(format!(
        "Removed MCP server `{name}` from {}.\n",
        file.path().display()
    ))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use toml::Table;

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
