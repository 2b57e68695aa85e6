//! ACP agents hosted as a task's agent, end to end: the real binary over LSP runs our
//! scripted ACP agent (`tests/acp/scripted-agent.mjs`, Node, no dependencies) in the
//! task's view under the sandbox. Whatever the agent writes — through
//! `fs/write_text_file`, to disk itself, or by `sed -i` in a terminal — must become hunks
//! with the user's tree untouched; its reads see the editor's unsaved buffers; its
//! permission requests reach the editor with their diff; follow-ups continue its session;
//! failures are task errors that name the agent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::fixture::Fixture;
use crate::support::lsp_client::{ClientOptions, LspClient};
use crate::support::processes_running;
use crate::support::review;

const AGENT_SCRIPT: &str = "scripted-agent.mjs";

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/acp")
        .canonicalize()
        .unwrap()
}

/// A workspace whose config has `[agents.<name>]` tables running the scripted agent with
/// the given scenarios (each gets its own log of what agentls sent it), after the
/// fixture's config and the tables in `extra`.
struct Scripted {
    fixture: Fixture,
    /// Holds the scenarios and the agents' logs.
    dir: tempfile::TempDir,
}

impl Scripted {
    async fn new(files: &[(&str, &str)], agents: &[(&str, Value)], extra: &str) -> Scripted {
        let fixture = Fixture::new("chat", files, vec![]).await;
        let dir = tempfile::tempdir().unwrap();
        let mut tables = String::new();
        for (name, scenario) in agents {
            let mut scenario = scenario.clone();
            let log = dir.path().join(format!("{name}.jsonl"));
            scenario["log"] = json!(log);
            let path = dir.path().join(format!("{name}.json"));
            std::fs::write(&path, scenario.to_string()).unwrap();
            tables.push_str(&format!(
                r#"
[agents.{name}]
command = "node"
args = [{script:?}, {path:?}]
description = "the scripted test agent"
readable_roots = [{scripts:?}, {dir:?}]
writable_roots = [{dir:?}]
"#,
                script = scripts_dir().join(AGENT_SCRIPT).display().to_string(),
                path = path.display().to_string(),
                scripts = scripts_dir().display().to_string(),
                dir = dir.path().display().to_string(),
            ));
        }
        let config_path = fixture.home().join("config.toml");
        let config = std::fs::read_to_string(&config_path).unwrap();
        std::fs::write(&config_path, format!("{config}\n{extra}\n{tables}")).unwrap();
        Scripted { fixture, dir }
    }

    /// What agentls sent agent `name`, in order.
    fn received(&self, name: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.path().join(format!("{name}.jsonl")))
            .unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Whether agent `name`'s process runs (its scenario is on its command line).
    fn running(&self, name: &str) -> bool {
        processes_running(
            &self
                .dir
                .path()
                .join(format!("{name}.json"))
                .display()
                .to_string(),
        )
    }

    fn received_method(&self, name: &str, method: &str) -> Vec<Value> {
        self.received(name)
            .into_iter()
            .filter(|m| m["method"] == method)
            .collect()
    }
}

async fn start(client: &mut LspClient, agent: &str, prompt: &str) -> String {
    client
        .start_task(json!({"prompt": prompt, "agent": agent}))
        .await
}

fn messages(client: &LspClient, task: &str) -> String {
    client
        .updates(task)
        .iter()
        .filter(|u| u["update"]["kind"] == "message")
        .map(|u| {
            u["update"]["delta"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn the_agents_reads_writes_terminal_edits_and_permissions_become_a_reviewed_proposal() {
    let scenario = json!({"turns": [[
        {"plan": [["read the buffer", "in_progress"], ["edit", "pending"]]},
        {"read": "notes.txt"},
        {"write": "new.txt", "text": "written through ACP\n"},
        {"terminal": ["sed", "-i", "s/colour/color/", "style.txt"]},
        {"permission": "Edit own.txt", "diff": {"path": "own.txt", "old": "mine\n", "new": "theirs\n"}},
        {"diskWrite": "own.txt", "text": "theirs\n"},
        {"usage": [1234, 200000]},
        {"message": "All done."}
    ]]});
    let scripted = Scripted::new(
        &[
            ("notes.txt", "saved text\n"),
            ("style.txt", "the colour red\n"),
            ("own.txt", "mine\n"),
        ],
        &[("scripted", scenario)],
        "",
    )
    .await;
    let fixture = &scripted.fixture;
    let mut client = fixture
        .client(ClientOptions {
            approval: Some("allow"),
            ..ClientOptions::default()
        })
        .await;
    client.open("notes.txt", "unsaved text\n").await;
    let task = start(&mut client, "scripted", "tidy the notes").await;
    let finished = client.wait_finished(&task).await;
    assert_eq!(
        finished["status"],
        "completed",
        "{finished}\n{}",
        client.stderr()
    );
    assert_eq!(finished["summary"], "All done.");

    let said = messages(&client, &task);
    assert!(
        said.contains("read notes.txt: unsaved text\n"),
        "the agent reads the editor's buffer: {said}"
    );
    assert!(said.contains("exit 0:"), "{said}");
    assert!(said.contains("permission: yes"), "{said}");

    let proposal = review::proposal(&mut client, &task).await;
    assert_eq!(
        review::file_kinds(&proposal),
        [
            ("new.txt".to_string(), "create".to_string()),
            ("own.txt".to_string(), "modify".to_string()),
            ("style.txt".to_string(), "modify".to_string()),
        ],
        "{proposal:#}"
    );
    let hunks = review::hunks(&proposal);
    assert!(
        hunks.iter().any(|h| h["newText"] == "the color red\n"),
        "sed's edit in the terminal is a hunk: {hunks:#?}"
    );
    // Nothing reached the user's tree.
    assert_eq!(fixture.disk("style.txt").unwrap(), "the colour red\n");
    assert_eq!(fixture.disk("own.txt").unwrap(), "mine\n");
    assert_eq!(fixture.disk("new.txt"), None);

    let approvals = client.notifications("agent/requestApproval");
    assert_eq!(approvals.len(), 1, "{approvals:#?}");
    assert_eq!(approvals[0]["kind"], "patch");
    assert_eq!(approvals[0]["reason"], "scripted asks: Edit own.txt");
    assert_eq!(
        approvals[0]["diff"],
        "--- a/own.txt\n+++ b/own.txt\n@@ -1 +1 @@\n-mine\n+theirs\n"
    );

    let plan = client.updates_of(&task, "plan");
    assert_eq!(plan[0]["plan"][0]["step"], "read the buffer");
    assert_eq!(plan[0]["plan"][0]["status"], "in_progress");
    let calls = client.updates_of(&task, "toolCall");
    assert!(
        calls
            .iter()
            .any(|c| c["title"] == "Run sed -i s/colour/color/ style.txt"
                && c["tool"] == "execute"
                && c["status"] == "completed"),
        "{calls:#?}"
    );
    let usage = client.updates_of(&task, "usage");
    assert_eq!(usage.last().unwrap()["contextWindow"], 200000);
    let session = &client.updates_of(&task, "agentSession")[0];
    assert_eq!(session["agent"], "scripted");
    assert_eq!(session["agentInfo"], "Scripted agent 1.0.0");

    // What the agent was told: our capabilities, its working directory (the view).
    let init = &scripted.received_method("scripted", "initialize")[0]["params"];
    assert_eq!(init["protocolVersion"], 1);
    assert_eq!(
        init["clientCapabilities"],
        json!({"fs": {"readTextFile": true, "writeTextFile": true}, "terminal": true})
    );
    let new = &scripted.received_method("scripted", "session/new")[0]["params"];
    let cwd = new["cwd"].as_str().unwrap();
    assert!(
        cwd.starts_with(&fixture.home().join("views").display().to_string()),
        "the agent works in the task's view: {cwd}"
    );
    assert!(
        Path::new(cwd).is_dir(),
        "the view waits with the agent for a follow-up"
    );
    client.shutdown().await;
    assert!(!Path::new(cwd).exists(), "and goes with the server");
    assert!(!scripted.running("scripted"));
}

#[tokio::test]
async fn follow_ups_continue_the_session_and_after_a_restart_load_it_again() {
    let scenario = json!({"loadSession": true, "turns": [
        [{"write": "a.txt", "text": "first\n"}, {"message": "wrote a.txt"}],
        [{"write": "a.txt", "text": "second\n"}, {"message": "rewrote a.txt"}],
        [{"read": "a.txt"}]
    ]});
    let scripted = Scripted::new(&[("a.txt", "zero\n")], &[("scripted", scenario)], "").await;
    let fixture = &scripted.fixture;
    let mut client = fixture.client(ClientOptions::default()).await;
    let task = start(&mut client, "scripted", "write a.txt").await;
    assert_eq!(client.wait_finished(&task).await["status"], "completed");
    let proposal = review::proposal(&mut client, &task).await;
    let ids = review::hunk_ids(&proposal);
    review::resolve(
        &mut client,
        json!({"taskId": task, "reject": ids, "reason": "say second instead"}),
    )
    .await
    .unwrap();
    client
        .request(
            "agent/followUp",
            json!({"taskId": task, "prompt": "try again"}),
        )
        .await
        .unwrap();
    client
        .wait_until("the follow-up to finish", |c| {
            (c.updates_of(&task, "finished").len() == 2).then_some(())
        })
        .await;
    let prompts = scripted.received_method("scripted", "session/prompt");
    assert_eq!(prompts.len(), 2);
    assert_eq!(
        prompts[0]["params"]["sessionId"], prompts[1]["params"]["sessionId"],
        "the same session"
    );
    assert_eq!(
        scripted.received_method("scripted", "initialize").len(),
        1,
        "the same process"
    );
    let told = prompts[1]["params"]["prompt"][0]["text"].as_str().unwrap();
    assert!(
        told.contains("try again") && told.contains("say second instead"),
        "the follow-up tells the agent how its hunks were reviewed: {told}"
    );
    let proposal = review::proposal(&mut client, &task).await;
    assert!(
        review::hunks(&proposal)
            .iter()
            .any(|h| h["newText"] == "second\n" && h["status"] == "pending"),
        "{proposal:#}"
    );
    let session_id = prompts[0]["params"]["sessionId"].clone();
    client.shutdown().await;
    assert!(
        !scripted.running("scripted"),
        "the waiting agent stops with the server"
    );

    let mut client = fixture.client(ClientOptions::default()).await;
    client
        .request(
            "agent/followUp",
            json!({"taskId": task, "prompt": "read it back"}),
        )
        .await
        .unwrap();
    client
        .wait_until("the follow-up after a restart", |c| {
            c.updates(&task)
                .iter()
                .find(|u| u["update"]["kind"] == "finished")
                .map(|u| u["update"].clone())
        })
        .await;
    let loads = scripted.received_method("scripted", "session/load");
    assert_eq!(loads.len(), 1, "{:#?}", scripted.received("scripted"));
    assert_eq!(loads[0]["params"]["sessionId"], session_id);
    let said = messages(&client, &task);
    assert!(
        said.contains("read a.txt: second\n"),
        "the pending hunk is what the view starts from: {said}"
    );
    assert!(
        !said.contains("(replayed"),
        "a loaded session's replay is not news: {said}"
    );
    for method in ["agent/forkTask", "agent/compactTask"] {
        let refused = client
            .request(method, json!({"taskId": task}))
            .await
            .unwrap_err();
        assert!(
            refused["message"]
                .as_str()
                .unwrap()
                .contains("ACP agent `scripted`, which keeps its conversation to itself"),
            "{method}: {refused}"
        );
    }
    client.shutdown().await;
}

#[tokio::test]
async fn two_agent_tasks_on_one_file_get_conflict_hunks() {
    let one = json!({"turns": [[{"diskWrite": "shared.txt", "text": "one\n"}]]});
    let two = json!({"turns": [[{"diskWrite": "shared.txt", "text": "two\n"}]]});
    let scripted = Scripted::new(
        &[("shared.txt", "zero\n")],
        &[("one", one), ("two", two)],
        "",
    )
    .await;
    let mut client = scripted.fixture.client(ClientOptions::default()).await;
    let first = start(&mut client, "one", "edit shared.txt").await;
    assert_eq!(client.wait_finished(&first).await["status"], "completed");
    let second = start(&mut client, "two", "edit shared.txt too").await;
    assert_eq!(client.wait_finished(&second).await["status"], "completed");
    let proposal = review::proposal(&mut client, &second).await;
    let hunk = &review::hunks(&proposal)[0];
    assert_eq!(hunk["status"], "conflict", "{proposal:#}");
    assert_eq!(hunk["conflictsWith"]["taskId"], first);
    client.shutdown().await;
}

#[tokio::test]
async fn a_crashing_agent_fails_its_task_with_status_and_stderr_and_keeps_its_hunks() {
    let scenario = json!({"turns": [[
        {"write": "kept.txt", "text": "made before the crash\n"},
        {"crash": 3}
    ]]});
    let scripted = Scripted::new(&[], &[("crashy", scenario)], "").await;
    let mut client = scripted.fixture.client(ClientOptions::default()).await;
    let task = start(&mut client, "crashy", "do something").await;
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "failed");
    let summary = finished["summary"].as_str().unwrap();
    assert!(
        summary.contains("agent `crashy` exited during the turn (exit status 3)")
            && summary.contains("crashing on purpose"),
        "{summary}"
    );
    let proposal = review::proposal(&mut client, &task).await;
    assert_eq!(
        review::file_kinds(&proposal),
        [("kept.txt".to_string(), "create".to_string())]
    );
    // The server goes on.
    let listed = client.request("agent/listTasks", json!({})).await.unwrap();
    assert_eq!(listed["tasks"].as_array().unwrap().len(), 1);
    assert!(!scripted.running("crashy"));
    client.shutdown().await;
}

#[tokio::test]
async fn an_agent_that_cannot_start_fails_its_task_saying_why() {
    let scripted = Scripted::new(
        &[(
            ".agentls/config.toml",
            "[agents.evil]\ncommand = \"node\"\n",
        )],
        &[
            ("quits", json!({"exitDuringInitialize": 7})),
            ("future", json!({"protocolVersion": 2})),
            ("locked", json!({"authRequired": "SCRIPTED_AGENT_KEY"})),
        ],
        "[agents.missing]\ncommand = \"no-such-acp-agent\"\n",
    )
    .await;
    let mut client = scripted.fixture.client(ClientOptions::default()).await;
    let mut summaries = Vec::new();
    for agent in ["missing", "quits", "future", "locked", "nobody", "evil"] {
        let task = start(&mut client, agent, "hello").await;
        let finished = client.wait_finished(&task).await;
        assert_eq!(finished["status"], "failed", "{agent}: {finished}");
        summaries.push(finished["summary"].as_str().unwrap().to_string());
    }
    let expected = [
        "agent `missing`: `no-such-acp-agent` is not a file and not on PATH",
        "agent `quits` exited during initialize (exit status 7); the last lines it wrote to stderr:\nscripted agent: giving up during initialize",
        "agent `future` speaks ACP version 2, agentls speaks version 1",
        "agent `locked` needs you to log in",
        "there is no agent `nobody`: add an [agents.nobody] table",
        "agent `evil` from ",
    ];
    for (summary, expected) in summaries.iter().zip(expected) {
        assert!(summary.contains(expected), "{summary}\nwants: {expected}");
    }
    assert!(
        summaries[5].contains("is not started: this project is not trusted. To trust it, add to"),
        "a project's own agent waits for the user's trust: {}",
        summaries[5]
    );
    assert!(
        summaries[3].contains("Log in with a browser"),
        "{}",
        summaries[3]
    );
    for agent in ["quits", "future", "locked"] {
        assert!(!scripted.running(agent), "{agent} is stopped");
    }

    let listed = client.request("agent/listAgents", json!({})).await.unwrap();
    let agents = listed["agents"].as_array().unwrap();
    assert_eq!(agents[0]["name"], "agentls");
    assert_eq!(agents[0]["builtIn"], true);
    let missing = agents.iter().find(|a| a["name"] == "missing").unwrap();
    assert_eq!(
        missing["problem"],
        "`no-such-acp-agent` is not a file and not on PATH"
    );
    let quits = agents.iter().find(|a| a["name"] == "quits").unwrap();
    assert_eq!(quits["command"][0], "node");
    assert_eq!(quits["description"], "the scripted test agent");
    assert!(quits.get("problem").is_none(), "{quits}");
    client.shutdown().await;
}

#[tokio::test]
async fn a_key_in_the_agents_environment_logs_it_in_without_asking() {
    let scripted = Scripted::new(
        &[],
        &[(
            "locked",
            json!({"authRequired": "SCRIPTED_AGENT_KEY", "turns": [[{"message": "in"}]]}),
        )],
        "",
    )
    .await;
    let config_path = scripted.fixture.home().join("config.toml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        format!("{config}env = {{ SCRIPTED_AGENT_KEY = \"k\" }}\n"),
    )
    .unwrap();
    let mut client = scripted.fixture.client(ClientOptions::default()).await;
    let task = start(&mut client, "locked", "hello").await;
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    let auth = scripted.received_method("locked", "authenticate");
    assert_eq!(auth[0]["params"]["methodId"], "key");
    client.shutdown().await;
}

#[tokio::test]
async fn cancel_ends_the_agents_turn() {
    let scenario = json!({"turns": [[
        {"write": "partial.txt", "text": "half\n"},
        {"hang": true}
    ]]});
    let scripted = Scripted::new(&[], &[("slow", scenario)], "").await;
    let mut client = scripted.fixture.client(ClientOptions::default()).await;
    let task = start(&mut client, "slow", "take your time").await;
    client
        .wait_until("the agent's write", |c| {
            (!c.updates_of(&task, "proposal").is_empty()).then_some(())
        })
        .await;
    let asked = std::time::Instant::now();
    client
        .request("agent/cancelTask", json!({"taskId": task}))
        .await
        .unwrap();
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "cancelled");
    assert!(
        asked.elapsed() < Duration::from_secs(4),
        "{:?}",
        asked.elapsed()
    );
    assert_eq!(scripted.received_method("slow", "session/cancel").len(), 1);
    let proposal = review::proposal(&mut client, &task).await;
    assert_eq!(
        review::file_kinds(&proposal),
        [("partial.txt".to_string(), "create".to_string())],
        "a cancelled task keeps what it made"
    );
    client.shutdown().await;
    assert!(!scripted.running("slow"));
}

#[tokio::test]
async fn exec_runs_a_task_with_an_agent_and_prints_its_diff() {
    let scenario = json!({"turns": [[
        {"terminal": ["sed", "-i", "s/old/new/", "file.txt"]},
        {"message": "Replaced it."}
    ]]});
    let scripted =
        Scripted::new(&[("file.txt", "old line\n")], &[("scripted", scenario)], "").await;
    let fixture = &scripted.fixture;
    let (root, home) = (fixture.root(), fixture.home().to_path_buf());
    let output = tokio::task::spawn_blocking(move || {
        crate::support::cli::agentls(
            &root,
            &home,
            &["exec", "--agent", "scripted", "replace old"],
            "",
        )
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let diff = String::from_utf8(output.stdout).unwrap();
    assert!(diff.contains("-old line\n+new line\n"), "{diff}\n{stderr}");
    assert!(
        stderr.contains("[agent] scripted (Scripted agent 1.0.0): new session")
            && stderr.contains("[execute] Run sed -i s/old/new/ file.txt"),
        "{stderr}"
    );
    assert_eq!(fixture.disk("file.txt").unwrap(), "old line\n");
    assert!(!scripted.running("scripted"), "exec leaves no agent behind");
}

#[tokio::test]
async fn a_killed_server_takes_its_agent_along_and_the_next_one_keeps_the_agents_hunks() {
    let scenario = json!({"turns": [[
        {"write": "half.txt", "text": "written before the kill\n"},
        {"hang": true}
    ]]});
    let scripted = Scripted::new(&[], &[("slow", scenario)], "").await;
    let fixture = &scripted.fixture;
    let mut client = fixture.client(ClientOptions::default()).await;
    let task = start(&mut client, "slow", "take your time").await;
    client
        .wait_until("the agent's write", |c| {
            (!c.updates_of(&task, "proposal").is_empty()).then_some(())
        })
        .await;
    assert!(scripted.running("slow"));
    client.kill().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while scripted.running("slow") && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !scripted.running("slow"),
        "the agent dies with the server, even by SIGKILL"
    );

    let mut client = fixture.client(ClientOptions::default()).await;
    let listed = client.request("agent/listTasks", json!({})).await.unwrap();
    assert_eq!(listed["tasks"][0]["status"], "interrupted", "{listed}");
    let proposal = review::proposal(&mut client, &task).await;
    assert_eq!(
        review::file_kinds(&proposal),
        [("half.txt".to_string(), "create".to_string())],
        "what the agent made before the kill is there to review"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn an_editor_without_the_plugin_runs_an_agent_with_the_start_task_command() {
    let scenario = json!({"turns": [[
        {"write": "greeting.txt", "text": "HELLO\n"},
        {"message": "Shouted."}
    ]]});
    let scripted = Scripted::new(
        &[("greeting.txt", "hello\n")],
        &[("scripted", scenario)],
        "",
    )
    .await;
    let fixture = &scripted.fixture;
    let mut client = fixture
        .client(ClientOptions {
            plain: true,
            ..ClientOptions::default()
        })
        .await;
    client.open("greeting.txt", "hello\n").await;
    // What Helix sends for `:lsp-workspace-command agent.startTask {...}` with the file open.
    let argument = json!({"prompt": "shout the greeting", "agent": "scripted",
                          "uri": client.uri("greeting.txt")});
    let started = client
        .request(
            "workspace/executeCommand",
            json!({"command": "agent.startTask", "arguments": [argument]}),
        )
        .await
        .unwrap();
    let task = started["taskId"].as_str().unwrap().to_string();
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    assert_eq!(finished["summary"], "Shouted.");
    assert!(
        fixture.model.requests().is_empty(),
        "the agent ran the task, not the built-in one"
    );
    let prompt = &scripted.received_method("scripted", "session/prompt")[0]["params"];
    let told = prompt["prompt"][0]["text"].as_str().unwrap();
    assert!(
        told.starts_with("shout the greeting")
            && told.contains("The user selected greeting.txt:\n```\nhello\n```"),
        "the file the user is in is the agent's context too: {told}"
    );
    let proposal = review::proposal(&mut client, &task).await;
    assert_eq!(
        review::file_kinds(&proposal),
        [("greeting.txt".to_string(), "modify".to_string())]
    );
    assert_eq!(fixture.disk("greeting.txt").unwrap(), "hello\n");
    client.shutdown().await;
}

#[tokio::test]
async fn the_users_mcp_servers_are_given_to_the_agents_session() {
    let servers = r#"
[mcp_servers.files]
command = "node"
args = ["files-server.js", "${workspaceRoot}"]
env = { FILES_TOKEN = "t1" }

[mcp_servers.web]
url = "http://127.0.0.1:9/mcp"

[mcp_servers.off]
command = "node"
enabled = false
"#;
    let scenario = json!({"turns": [[{"message": "ok"}]]});
    let scripted = Scripted::new(&[], &[("scripted", scenario)], servers).await;
    let mut client = scripted.fixture.client(ClientOptions::default()).await;
    let task = start(&mut client, "scripted", "hello").await;
    assert_eq!(client.wait_finished(&task).await["status"], "completed");

    let new = &scripted.received_method("scripted", "session/new")[0]["params"];
    let view = new["cwd"].as_str().unwrap();
    let given = new["mcpServers"].as_array().unwrap();
    assert_eq!(given.len(), 1, "only the enabled stdio server: {given:#?}");
    let files = &given[0];
    assert_eq!(files["name"], "files");
    assert_eq!(files["command"], "node");
    assert_eq!(
        files["args"],
        json!(["files-server.js", view]),
        "${{workspaceRoot}} is the view the agent works in"
    );
    assert!(
        files["env"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "FILES_TOKEN", "value": "t1"})),
        "{files}"
    );
    let warnings = client.warnings(&task);
    assert!(
        warnings.iter().any(|w| w
            == "MCP server `web` is not given to agent `scripted`: it is an HTTP server and the agent takes stdio servers only"),
        "{warnings:#?}"
    );
    client.shutdown().await;
}
