//! MCP servers end to end: the real binary over LSP, the scripted model, and real MCP
//! servers installed by scripts/install-test-deps.sh — the reference `server-everything`
//! (stdio and streamable HTTP), `server-filesystem` confined to the task's view, and a
//! server of our own on the Python SDK.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::fixture::Fixture;
use crate::support::lsp_client::ClientOptions;
use crate::support::model_server::{self, Reply, tool_names};
use crate::support::processes_running;
use crate::support::review::{hunk_ids, kind_of};

/// Where install-test-deps.sh put the servers.
pub(crate) fn deps() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-deps/mcp");
    assert!(
        dir.join("venv/bin/python").exists()
            && dir
                .join("node_modules/@modelcontextprotocol/server-everything")
                .exists(),
        "the MCP test servers are missing: run scripts/install-test-deps.sh"
    );
    dir.canonicalize().unwrap()
}

pub(crate) fn everything() -> String {
    deps()
        .join("node_modules/@modelcontextprotocol/server-everything/dist/index.js")
        .display()
        .to_string()
}

/// Our own server on the Python SDK: a read-only lookup, a destructive delete, a slow
/// tool and one that crashes the server.
const PYTHON_SERVER: &str = r#"
import asyncio, os, sys
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("team-db")

@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
def lookup(key: str) -> str:
    """Looks a record up by key."""
    return f"record {key}: ok"

@server.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=True))
def delete_record(key: str) -> str:
    """Deletes a record."""
    return f"deleted {key}"

@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
async def slow(seconds: float) -> str:
    """Takes its time."""
    await asyncio.sleep(seconds)
    return "done"

@server.tool()
def crash() -> str:
    """Exits the server."""
    os._exit(3)

if __name__ == "__main__":
    if sys.argv[1] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
"#;

/// A fixture whose config gets `top` (top-level keys) and `tables` (TOML tables).
async fn fixture(wire: &str, script: Vec<Reply>, top: &str, tables: &str) -> Fixture {
    let fixture = Fixture::new(wire, &[("README.md", "# demo\n")], script).await;
    let path = fixture.home().join("config.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{top}\n{config}\n{tables}\n")).unwrap();
    fixture
}

fn write_python_server(fixture: &Fixture) -> String {
    let path = fixture.home().join("team_db_server.py");
    std::fs::write(&path, PYTHON_SERVER).unwrap();
    path.display().to_string()
}

fn python() -> String {
    deps().join("venv/bin/python").display().to_string()
}

fn last_request(fixture: &Fixture) -> Value {
    fixture
        .model
        .requests()
        .last()
        .cloned()
        .unwrap_or(Value::Null)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts an HTTP server process and waits until its port accepts connections.
async fn http_server(mut command: tokio::process::Command, port: u16) -> tokio::process::Child {
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the MCP HTTP server did not listen on port {port}");
}

#[tokio::test]
async fn stdio_tools_reach_the_model_filtered_and_their_results_come_back() {
    let script = vec![
        Reply::ToolCalls(vec![
            ("mcp__everything__get-sum".into(), json!({"a": 2, "b": 3})),
            ("mcp__everything__get-tiny-image".into(), json!({})),
        ]),
        Reply::text("2 + 3 = 5, and a logo."),
    ];
    let tables = format!(
        r#"[mcp_servers.everything]
command = "node"
args = [{everything:?}, "stdio"]
enabled_tools = ["echo", "get-sum", "get-tiny-image", "get-env"]
disabled_tools = ["get-env"]
"#,
        everything = everything()
    );
    let fixture = fixture("chat", script, "", &tables).await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let (task, finished) = client.run_task("add 2 and 3").await;
    assert_eq!(finished["status"], "completed", "{finished}");

    let first = &fixture.model.requests()[0];
    let names = tool_names(first);
    for offered in [
        "mcp__everything__echo",
        "mcp__everything__get-sum",
        "mcp__everything__get-tiny-image",
    ] {
        assert!(names.contains(&offered.to_string()), "{names:?}");
    }
    assert!(
        !names.iter().any(|n| n.contains("get-env")),
        "disabled_tools applies after enabled_tools: {names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains("get-structured-content")),
        "not in enabled_tools: {names:?}"
    );
    assert!(
        names.contains(&"apply_patch".to_string()),
        "built-in tools stay: {names:?}"
    );
    let sum = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["function"]["name"] == "mcp__everything__get-sum")
        .unwrap();
    assert!(
        sum["function"]["description"]
            .as_str()
            .unwrap()
            .contains("sum")
    );
    assert!(
        sum["function"]["parameters"]["properties"]["a"].is_object(),
        "{sum}"
    );

    let outputs = model_server::tool_outputs(&last_request(&fixture));
    assert!(outputs[0].contains('5'), "{outputs:?}");
    assert!(
        outputs[1].contains("[the tool returned an image (image/png"),
        "chat completions gets a placeholder for the image: {outputs:?}"
    );
    let calls: Vec<Value> = client
        .updates(&task)
        .into_iter()
        .filter(|u| u["update"]["kind"] == "toolCall" && u["update"]["status"] == "completed")
        .collect();
    assert_eq!(calls[0]["update"]["tool"], "mcp__everything__get-sum");

    let listed = client
        .request("agent/listMcpServers", json!({}))
        .await
        .unwrap();
    let server = &listed["servers"][0];
    assert_eq!(server["name"], "everything");
    assert_eq!(server["status"], "ready");
    assert_eq!(server["transport"], "stdio");
    let listed_tools: Vec<&str> = server["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["modelName"].as_str().unwrap())
        .collect();
    assert_eq!(listed_tools.len(), 3, "{listed_tools:?}");
    client.shutdown().await;
}

/// server-everything listens on every interface; this preload keeps it on loopback.
const LOOPBACK_PRELOAD: &str = r#"
const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && typeof args[1] !== 'string') {
    args.splice(1, 0, '127.0.0.1');
  } else if (args[0] && typeof args[0] === 'object') {
    args[0] = { ...args[0], host: '127.0.0.1' };
  }
  return listen.apply(this, args);
};
"#;

#[tokio::test]
async fn over_streamable_http_images_and_structured_content_reach_a_responses_model() {
    let port = free_port();
    let home = tempfile::tempdir().unwrap();
    let preload = home.path().join("loopback.cjs");
    std::fs::write(&preload, LOOPBACK_PRELOAD).unwrap();
    let mut command = tokio::process::Command::new("node");
    command
        .arg("--require")
        .arg(&preload)
        .arg(everything())
        .arg("streamableHttp")
        .env("PORT", port.to_string());
    let _server = http_server(command, port).await;

    let script = vec![
        Reply::tool_call("mcp__everything__get-tiny-image", json!({})),
        Reply::tool_call(
            "mcp__everything__get-structured-content",
            json!({"location": "New York"}),
        ),
        Reply::text("A logo and the weather."),
    ];
    let tables = format!("[mcp_servers.everything]\nurl = \"http://127.0.0.1:{port}/mcp\"\n");
    let fixture = fixture("responses", script, "", &tables).await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let (_, finished) = client.run_task("show me").await;
    assert_eq!(finished["status"], "completed", "{finished}");

    let request = last_request(&fixture);
    let outputs: Vec<&Value> = request["input"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "function_call_output")
        .collect();
    let image = outputs[0]["output"]
        .as_array()
        .and_then(|parts| parts.iter().find(|p| p["type"] == "input_image"))
        .unwrap_or_else(|| panic!("the image is an input_image: {}", outputs[0]));
    assert!(
        image["image_url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    let structured: Value = serde_json::from_str(outputs[1]["output"].as_str().unwrap())
        .expect("structuredContent is given to the model as its JSON");
    assert!(structured.is_object(), "{structured}");
    client.shutdown().await;
}

#[tokio::test]
async fn annotations_decide_approvals_and_a_slow_tool_times_out() {
    let port = free_port();
    let script_dir = tempfile::tempdir().unwrap();
    let server_script = script_dir.path().join("team_db_server.py");
    std::fs::write(&server_script, PYTHON_SERVER).unwrap();
    let mut command = tokio::process::Command::new(python());
    command
        .arg(&server_script)
        .arg("http")
        .arg(port.to_string());
    let _server = http_server(command, port).await;

    let script = vec![
        Reply::tool_call("mcp__team-db__lookup", json!({"key": "a"})),
        Reply::tool_call("mcp__team-db__delete_record", json!({"key": "a"})),
        Reply::tool_call("mcp__team-db__slow", json!({"seconds": 30})),
        Reply::text("done"),
    ];
    let tables = format!(
        "[mcp_servers.team-db]\nurl = \"http://127.0.0.1:{port}/mcp\"\ntool_timeout_sec = 1\n"
    );
    let fixture = fixture("chat", script, "approval_policy = \"on-request\"", &tables).await;
    let mut client = fixture
        .client(ClientOptions {
            approval: Some("deny"),
            ..ClientOptions::default()
        })
        .await;
    let (_, finished) = client.run_task("clean up record a").await;
    assert_eq!(finished["status"], "completed", "{finished}");

    let approvals = client.notifications("agent/requestApproval");
    assert_eq!(
        approvals.len(),
        1,
        "only the destructive tool asks: {approvals:#?}"
    );
    assert_eq!(approvals[0]["kind"], "mcp");
    assert_eq!(approvals[0]["server"], "team-db");
    assert_eq!(approvals[0]["tool"], "delete_record");
    assert_eq!(approvals[0]["arguments"], json!({"key": "a"}));
    let outputs = model_server::tool_outputs(&last_request(&fixture));
    // The SDK returns a str as structuredContent, which the model gets as its JSON.
    assert_eq!(outputs[0], r#"{"result":"record a: ok"}"#);
    assert!(outputs[1].contains("did not approve"), "{outputs:?}");
    assert!(
        outputs[2].contains("did not answer within 1 s"),
        "{outputs:?}"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn a_crashed_server_is_restarted_once_and_nothing_outlives_the_server() {
    let script = vec![
        Reply::tool_call("mcp__team-db__crash", json!({})),
        Reply::tool_call("mcp__team-db__lookup", json!({"key": "b"})),
        Reply::text("done"),
    ];
    let fixture = fixture("chat", script, "approval_policy = \"never\"", "").await;
    let server_script = write_python_server(&fixture);
    let tables = format!(
        "[mcp_servers.team-db]\ncommand = {:?}\nargs = [{server_script:?}, \"stdio\"]\n\n[mcp_servers.missing]\ncommand = \"no-such-mcp-server-anywhere\"\n",
        python()
    );
    let path = fixture.home().join("config.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{config}\n{tables}")).unwrap();
    let mut client = fixture.client(ClientOptions::default()).await;
    let warnings =
        client.initialize_result["capabilities"]["experimental"]["agent"]["warnings"].clone();
    assert!(
        warnings
            .to_string()
            .contains("MCP server `missing` will not start"),
        "an initialize warning: {warnings}"
    );
    let (task, finished) = client.run_task("look b up").await;
    assert_eq!(finished["status"], "completed", "{finished}");

    let warning = client
        .updates(&task)
        .into_iter()
        .find(|u| u["update"]["kind"] == "warning")
        .expect("a warning update for the server that did not start");
    let message = warning["update"]["message"].as_str().unwrap();
    assert!(
        message.contains("`missing` did not start") && message.contains("goes on"),
        "{message}"
    );
    let outputs = model_server::tool_outputs(&last_request(&fixture));
    assert!(
        outputs[0].contains("stopped during the call") && outputs[0].contains("restarted"),
        "{outputs:?}"
    );
    assert_eq!(
        outputs[1], r#"{"result":"record b: ok"}"#,
        "the restarted server answers"
    );
    assert!(processes_running(&server_script));
    client.shutdown().await;
    assert!(
        !processes_running(&server_script),
        "the server is stopped with agentls"
    );
}

#[tokio::test]
async fn a_required_server_that_does_not_start_fails_the_task() {
    let tables = "[mcp_servers.db]\ncommand = \"sh\"\nargs = [\"-c\", \"echo 'db: cannot open /nope' >&2; exit 2\"]\nrequired = true\n";
    let fixture = fixture("chat", vec![Reply::text("unreachable")], "", tables).await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let (_, finished) = client.run_task("query").await;
    assert_eq!(finished["status"], "failed", "{finished}");
    let summary = finished["summary"].as_str().unwrap();
    assert!(summary.contains("`db` did not start"), "{summary}");
    assert!(
        summary.contains("db: cannot open /nope"),
        "the server's own words: {summary}"
    );
    assert!(summary.contains("required = true"), "{summary}");
    assert!(
        fixture.model.requests().is_empty(),
        "no model request without a required server"
    );
}

#[tokio::test]
async fn a_confined_filesystem_server_writes_become_hunks_and_disk_waits_for_accept() {
    let filesystem =
        deps().join("node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");
    let script = vec![
        Reply::tool_call(
            "mcp__fs__write_file",
            json!({"path": "notes.txt", "content": "written by the server\n"}),
        ),
        Reply::tool_call(
            "mcp__fs__write_file",
            json!({"path": "README.md", "content": "# demo, edited\n"}),
        ),
        Reply::text("wrote notes"),
    ];
    let tables = format!(
        r#"[mcp_servers.fs]
command = "node"
args = [{filesystem:?}, "${{workspaceRoot}}"]
sandbox = "task"

[sandbox_workspace_write]
readable_roots = [{deps:?}]
"#,
        filesystem = filesystem.display().to_string(),
        deps = deps().display().to_string()
    );
    let fixture = fixture("chat", script, "", &tables).await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let (task, finished) = client.run_task("take notes").await;
    assert_eq!(finished["status"], "completed", "{finished}");
    let outputs = model_server::tool_outputs(&last_request(&fixture));
    assert!(!outputs[0].starts_with("error"), "{outputs:?}");

    let proposal = client
        .request("agent/getProposal", json!({"taskId": task}))
        .await
        .unwrap();
    assert_eq!(
        kind_of(&proposal, "/notes.txt").as_deref(),
        Some("create"),
        "{proposal:#}"
    );
    assert_eq!(
        kind_of(&proposal, "/README.md").as_deref(),
        Some("modify"),
        "{proposal:#}"
    );
    assert_eq!(
        fixture.disk("notes.txt"),
        None,
        "nothing reaches the disk before accept"
    );
    assert_eq!(fixture.disk("README.md").as_deref(), Some("# demo\n"));
    assert_eq!(
        std::fs::read_dir(fixture.home().join("views"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "the server's directory is removed with the run"
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
            fixture
                .disk("notes.txt")
                .filter(|t| t == "written by the server\n")
        })
        .await;
    assert_eq!(
        fixture.disk("README.md").as_deref(),
        Some("# demo, edited\n")
    );
    client.shutdown().await;
}
