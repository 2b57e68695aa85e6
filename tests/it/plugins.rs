//! Plugins end to end: `agentls plugin add|list|remove` on real directories, and a plugin
//! with a skill, an MCP server (the real `server-everything`) and a command tool used over
//! LSP — the tool runs in the task's view under the sandbox and what it changes is a hunk,
//! the user's disk untouched until accept. A repository's own plugins and MCP servers start
//! only once the user trusts the project.

use std::path::Path;

use serde_json::{Value, json};

use crate::mcp::everything;
use crate::skills::instructions;
use crate::support::cli::agentls;
use crate::support::fixture::Fixture;
use crate::support::lsp_client::ClientOptions;
use crate::support::model_server::{self, Reply, tool_names};
use crate::support::review::{self, hunk_ids, kind_of};

const PLUGIN_SCHEMA: &str = "https://agent-plugins.org/schemas/1.0.0/plugin.schema.json";
const MCP_SCHEMA: &str = "https://agent-plugins.org/schemas/1.0.0/mcp.schema.json";

/// What the plugin's command tool runs: a change in the workspace, state in its data
/// directory, and a try at changing its own (read-only) folder.
const STAMP: &str = r#"echo "released $1" > RELEASE.txt
sed -i 's/^# app$/# app, released/' README.md
echo state > "$PLUGIN_DATA/last" && echo "data written"
if touch "$PLUGIN_ROOT/tampered" 2>/dev/null; then echo "plugin root writable"; else echo "plugin root read-only"; fi
"#;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn write_json(path: &Path, value: &Value) {
    write(path, &serde_json::to_string_pretty(value).unwrap());
}

/// An Agent Plugins 1.0 plugin: a skill, server-everything, and the `stamp` command tool.
fn team_plugin(dir: &Path, version: &str) {
    write_json(
        &dir.join("plugin.json"),
        &json!({
            "$schema": PLUGIN_SCHEMA,
            "name": "team",
            "version": version,
            "description": "The team's release kit",
            "tools": [{
                "name": "stamp",
                "description": "Stamps the release into the tree",
                "command": "bash \"${PLUGIN_ROOT}/stamp.sh\" \"$@\""
            }]
        }),
    );
    write(&dir.join("stamp.sh"), STAMP);
    write(
        &dir.join("skills/release/SKILL.md"),
        "---\nname: release\ndescription: How this team cuts a release.\n---\nRun the stamp tool with the version.\n",
    );
    write_json(
        &dir.join("mcp.json"),
        &json!({"$schema": MCP_SCHEMA, "mcpServers": {
            "everything": {"type": "stdio", "command": "node", "args": [everything(), "stdio"]}
        }}),
    );
}

fn cli(fixture: &Fixture, args: &[&str]) -> (bool, String, String) {
    let output = agentls(&fixture.root(), fixture.home(), args, "");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn an_installed_plugin_brings_a_skill_a_server_and_a_tool_whose_changes_are_hunks() {
    let script = vec![
        Reply::tool_call("stamp", json!({"args": ["v2"]})),
        Reply::tool_call("mcp__everything__get-sum", json!({"a": 2, "b": 3})),
        Reply::text("Released v2."),
    ];
    let fixture = Fixture::new("chat", &[("README.md", "# app\n")], script).await;
    let source = tempfile::tempdir().unwrap();
    team_plugin(source.path(), "1.0.0");

    let (ok, stdout, stderr) = cli(
        &fixture,
        &["plugin", "add", &source.path().display().to_string()],
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("Installed plugin `team` 1.0.0 (Agent Plugins 1.0)"),
        "{stdout}"
    );
    for part in [
        "skills: team:release",
        "MCP servers: everything",
        "tools: stamp",
    ] {
        assert!(stdout.contains(part), "{part}: {stdout}");
    }
    let installed = fixture.home().join("plugins/team/1.0.0");
    assert!(installed.join("stamp.sh").is_file());
    let config = std::fs::read_to_string(fixture.home().join("config.toml")).unwrap();
    assert!(
        config.contains("\n[plugins.team]\nenabled = true\n"),
        "{config}"
    );

    let mut client = fixture.client(ClientOptions::default()).await;
    let (task, finished) = client.run_task("cut the release").await;
    assert_eq!(finished["status"], "completed", "{finished}");

    let first = &fixture.model.requests()[0];
    let text = instructions(first);
    assert!(
        text.contains("- team:release: How this team cuts a release. (file: ")
            && text.contains("plugins/team/1.0.0/skills/release/SKILL.md)"),
        "{text}"
    );
    let names = tool_names(first);
    assert!(names.contains(&"stamp".to_string()), "{names:?}");
    assert!(
        names.contains(&"mcp__everything__get-sum".to_string()),
        "{names:?}"
    );
    let stamp = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["function"]["name"] == "stamp")
        .unwrap();
    assert!(
        stamp["function"]["description"]
            .as_str()
            .unwrap()
            .starts_with("Stamps the release into the tree. From the plugin `team`"),
        "{stamp}"
    );

    let outputs = model_server::tool_outputs(fixture.model.requests().last().unwrap());
    assert!(outputs[0].contains("Exit code: 0"), "{}", outputs[0]);
    assert!(outputs[0].contains("data written"), "{}", outputs[0]);
    assert!(
        outputs[0].contains("plugin root read-only"),
        "the command runs sandboxed: {}",
        outputs[0]
    );
    assert!(
        outputs[1].contains('5'),
        "the plugin's server answers: {}",
        outputs[1]
    );
    let result = client
        .updates(&task)
        .into_iter()
        .find(|u| u["update"]["kind"] == "toolResult")
        .unwrap();
    assert_eq!(result["update"]["exitCode"], 0, "{result}");

    let proposal = review::proposal(&mut client, &task).await;
    assert_eq!(
        kind_of(&proposal, "/RELEASE.txt").as_deref(),
        Some("create"),
        "{proposal:#}"
    );
    assert_eq!(
        kind_of(&proposal, "/README.md").as_deref(),
        Some("modify"),
        "{proposal:#}"
    );
    assert_eq!(
        fixture.disk("RELEASE.txt"),
        None,
        "nothing on disk before accept"
    );
    assert_eq!(fixture.disk("README.md").as_deref(), Some("# app\n"));
    assert!(!installed.join("tampered").exists());
    assert_eq!(
        std::fs::read_to_string(fixture.home().join("plugin-data/team/last")).unwrap(),
        "state\n",
        "${{PLUGIN_DATA}} is the plugin's to write"
    );

    let hunks = hunk_ids(&proposal);
    client
        .request(
            "agent/resolveHunks",
            json!({"taskId": task, "accept": hunks}),
        )
        .await
        .unwrap();
    client
        .wait_until("the accepted hunks on disk", |_| {
            fixture.disk("RELEASE.txt").filter(|t| t == "released v2\n")
        })
        .await;
    assert_eq!(
        fixture.disk("README.md").as_deref(),
        Some("# app, released\n")
    );
    client.shutdown().await;

    let (_, listed, _) = cli(&fixture, &["plugin", "list"]);
    assert!(
        listed.starts_with("team 1.0.0: enabled\n  The team's release kit\n"),
        "{listed}"
    );

    team_plugin(source.path(), "1.1.0");
    let (ok, _, stderr) = cli(
        &fixture,
        &["plugin", "add", &source.path().display().to_string()],
    );
    assert!(ok, "{stderr}");
    let versions: Vec<String> = std::fs::read_dir(fixture.home().join("plugins/team"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(versions, ["1.1.0"], "a new version replaces the old one");
    let config = std::fs::read_to_string(fixture.home().join("config.toml")).unwrap();
    assert_eq!(config.matches("[plugins.team]").count(), 1, "{config}");

    let (ok, removed, stderr) = cli(&fixture, &["plugin", "remove", "team"]);
    assert!(ok, "{stderr}");
    assert!(removed.contains("Removed plugin `team`"), "{removed}");
    assert!(removed.contains("data is kept"), "{removed}");
    assert!(!fixture.home().join("plugins/team").exists());
    let config = std::fs::read_to_string(fixture.home().join("config.toml")).unwrap();
    assert!(!config.contains("plugins"), "{config}");
    assert!(
        config.contains("[model_providers.scripted]"),
        "the rest stays: {config}"
    );
    let (_, listed, _) = cli(&fixture, &["plugin", "list"]);
    assert!(listed.starts_with("No plugins are installed"), "{listed}");
}

#[tokio::test]
async fn a_projects_own_plugins_and_servers_start_only_once_it_is_trusted() {
    let fixture = Fixture::new(
        "chat",
        &[("README.md", "# app\n")],
        vec![Reply::text("untrusted"), Reply::text("trusted")],
    )
    .await;
    write_json(
        &fixture.root().join(".agentls/plugins/local/plugin.json"),
        &json!({"name": "local", "tools": [{"name": "danger", "description": "d", "command": "touch pwned"}]}),
    );
    write(
        &fixture.root().join(".agentls/config.toml"),
        &format!(
            "[mcp_servers.proj]\ncommand = \"node\"\nargs = [{:?}, \"stdio\"]\n",
            everything()
        ),
    );
    let mut client = fixture.client(ClientOptions::default()).await;
    let at_start =
        client.initialize_result["capabilities"]["experimental"]["agent"]["warnings"].to_string();
    assert!(at_start.contains("is not trusted"), "{at_start}");

    let (task, finished) = client.run_task("look around").await;
    assert_eq!(finished["status"], "completed", "{finished}");
    let warned = client.warnings(&task);
    let root = fixture.root().display().to_string();
    let hint = format!("[projects.{root:?}]\ntrust_level = \"trusted\"");
    let plugin = warned
        .iter()
        .find(|w| w.contains(".agentls/plugins/local is not loaded"))
        .unwrap_or_else(|| panic!("a warning about the plugin: {warned:#?}"));
    assert!(
        plugin.contains("not trusted") && plugin.contains(&hint),
        "{plugin}"
    );
    let server = warned
        .iter()
        .find(|w| w.contains("MCP server `proj`"))
        .unwrap_or_else(|| panic!("a warning about the server: {warned:#?}"));
    assert!(server.contains(&hint), "{server}");
    let names = tool_names(&fixture.model.requests()[0]);
    assert!(
        !names
            .iter()
            .any(|n| n == "danger" || n.starts_with("mcp__proj")),
        "{names:?}"
    );

    let config_path = fixture.home().join("config.toml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(&config_path, format!("{config}\n{hint}\n")).unwrap();
    let (task, finished) = client.run_task("look again").await;
    assert_eq!(finished["status"], "completed", "{finished}");
    let names = tool_names(&fixture.model.requests()[1]);
    assert!(names.contains(&"danger".to_string()), "{names:?}");
    assert!(
        names.contains(&"mcp__proj__get-sum".to_string()),
        "{names:?}"
    );
    let warned = client.warnings(&task);
    assert!(
        !warned.iter().any(|w| w.contains("not trusted")),
        "{warned:#?}"
    );
    assert!(!fixture.root().join("pwned").exists());
    client.shutdown().await;
}

#[tokio::test]
async fn plugin_commands_refuse_what_is_not_a_plugin_and_read_the_claude_layout() {
    let fixture = Fixture::new("chat", &[], vec![]).await;
    let config_before = std::fs::read_to_string(fixture.home().join("config.toml")).unwrap();
    let not_a_plugin = tempfile::tempdir().unwrap();
    write(&not_a_plugin.path().join("README.md"), "hi\n");
    let (ok, _, stderr) = cli(
        &fixture,
        &["plugin", "add", &not_a_plugin.path().display().to_string()],
    );
    assert!(!ok);
    assert!(
        stderr.contains("is not a plugin") && stderr.contains(".claude-plugin/plugin.json"),
        "{stderr}"
    );
    let (ok, _, stderr) = cli(&fixture, &["plugin", "remove", "nope"]);
    assert!(!ok && stderr.contains("no plugin named `nope`"), "{stderr}");
    let config_after = std::fs::read_to_string(fixture.home().join("config.toml")).unwrap();
    assert_eq!(
        config_after, config_before,
        "a refused command changes nothing"
    );

    let claude = tempfile::tempdir().unwrap();
    let dir = claude.path().join("helper");
    write_json(
        &dir.join(".claude-plugin/plugin.json"),
        &json!({"name": "helper", "description": "Claude Code plugin"}),
    );
    write_json(
        &dir.join(".mcp.json"),
        &json!({"mcpServers": {"files": {"command": "node", "args": ["${CLAUDE_PLUGIN_ROOT}/server.js"]}}}),
    );
    write(
        &dir.join("skills/review/SKILL.md"),
        "---\nname: review\ndescription: Reviews a change.\n---\nLook closely.\n",
    );
    let (ok, stdout, stderr) = cli(&fixture, &["plugin", "add", &dir.display().to_string()]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("Installed plugin `helper` local (Claude (.claude-plugin))"),
        "{stdout}"
    );
    assert!(
        stdout.contains("skills: helper:review") && stdout.contains("MCP servers: files"),
        "{stdout}"
    );
    let (_, skills, _) = cli(&fixture, &["skills", "list"]);
    assert!(
        skills.starts_with("helper:review (plugin helper): Reviews a change.\n"),
        "{skills}"
    );
}
