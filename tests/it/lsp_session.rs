//! End-to-end sessions: the real `agentls` binary over stdio, a scripted editor, and a
//! scripted OpenAI-compatible model server on loopback. Scenarios that involve the model
//! run once per wire API (Chat Completions and Responses).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::fixture::Fixture;
use crate::support::lsp_client::{ClientOptions, LspClient};
use crate::support::model_server::{self, Reply, tool_outputs};
use crate::support::review::{self, hunk, hunk_ids, hunks, proposal, wait_text};

const TEN_LINES: &str = "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n";

/// A patch that changes line 2 and line 8 of TEN_LINES: two separate hunks.
fn two_hunk_patch() -> Value {
    json!({"input": "*** Begin Patch\n*** Update File: notes.txt\n@@\n one\n-two\n+TWO\n three\n@@\n seven\n-eight\n+EIGHT\n nine\n*** End Patch\n"})
}

/// Names of the tools offered in a request (both wire formats).
fn tool_names(request: &Value) -> Vec<String> {
    let mut names = model_server::tool_names(request);
    names.sort();
    names
}

fn kinds(updates: &[Value]) -> Vec<String> {
    updates
        .iter()
        .map(|u| u["update"]["kind"].as_str().unwrap().to_string())
        .collect()
}

/// Runs a two-hunk task on notes.txt (open in the editor, same as disk) and returns its id.
async fn two_hunk_task(wire: &str, options: ClientOptions) -> (Fixture, LspClient, String) {
    let fixture = Fixture::new(
        wire,
        &[("notes.txt", TEN_LINES)],
        vec![
            Reply::tool_call("apply_patch", two_hunk_patch()),
            Reply::text("Capitalised two words."),
        ],
    )
    .await;
    let mut client = fixture.client(options).await;
    client.open("notes.txt", TEN_LINES).await;
    let task = client
        .start_task(json!({"prompt": "capitalise two and eight"}))
        .await;
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    (fixture, client, task)
}

// ----- lifecycle -----------------------------------------------------------------------

#[tokio::test]
async fn initialize_picks_utf8_when_offered_and_advertises_the_agent_protocol() {
    let fixture = Fixture::new("chat", &[], vec![]).await;
    let client = fixture
        .client(ClientOptions {
            utf8: true,
            ..ClientOptions::default()
        })
        .await;
    let capabilities = &client.initialize_result["capabilities"];
    assert_eq!(capabilities["positionEncoding"], "utf-8");
    assert_eq!(capabilities["experimental"]["agent"]["version"], 1);
    assert_eq!(
        capabilities["textDocumentSync"]["change"], 2,
        "incremental sync"
    );
    assert!(
        capabilities["executeCommandProvider"]["commands"]
            .as_array()
            .unwrap()
            .contains(&json!("agent.acceptHunks"))
    );
    assert!(
        client.shutdown().await.success(),
        "exit after shutdown must be 0"
    );
}

#[tokio::test]
async fn initialize_falls_back_to_utf16() {
    let fixture = Fixture::new("chat", &[], vec![]).await;
    let client = fixture.client(ClientOptions::default()).await;
    assert_eq!(
        client.initialize_result["capabilities"]["positionEncoding"],
        "utf-16"
    );
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn exit_without_shutdown_is_exit_code_1() {
    let fixture = Fixture::new("chat", &[], vec![]).await;
    let mut client = fixture.client(ClientOptions::default()).await;
    client.notify("exit", Value::Null).await;
    assert_eq!(client.wait_exit().await.code(), Some(1));
}

#[tokio::test]
async fn malformed_messages_get_errors_and_the_server_keeps_serving() {
    let fixture = Fixture::new("chat", &[], vec![]).await;
    let mut client = fixture.client(ClientOptions::default()).await;
    client.send_raw(b"Content-Length: 9\r\n\r\n{not json").await;
    let parse_error = client
        .wait_until("an error reply", |c| {
            c.unawaited_responses().into_iter().next()
        })
        .await;
    assert_eq!(parse_error["id"], Value::Null, "{parse_error}");
    assert_eq!(parse_error["error"]["code"], -32700, "{parse_error}");
    assert!(
        parse_error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid JSON"),
        "{parse_error}"
    );
    let not_rpc = br#"{"jsonrpc":"2.0","id":99}"#;
    client
        .send_raw(
            &[
                format!("Content-Length: {}\r\n\r\n", not_rpc.len()).as_bytes(),
                not_rpc,
            ]
            .concat(),
        )
        .await;
    let error = client
        .request("agent/startTask", json!({"prompt": 42}))
        .await
        .unwrap_err();
    assert_eq!(error["code"], -32602, "{error}");
    let error = client
        .request("agent/getProposal", json!({"taskId": "nope"}))
        .await
        .unwrap_err();
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("no task `nope`"),
        "{error}"
    );
    let tasks = client.request("agent/listTasks", json!({})).await.unwrap();
    assert_eq!(tasks["tasks"], json!([]));
    assert!(client.shutdown().await.success());
}

// ----- configuration errors are task errors, never crashes -------------------------------

#[tokio::test]
async fn a_bad_config_is_an_initialize_warning_and_a_clear_task_error() {
    let fixture = Fixture::new("chat", &[], vec![]).await;
    std::fs::write(
        fixture.home().join("config.toml"),
        "approval_policy = sometimes\n",
    )
    .unwrap();
    let mut client = fixture.client(ClientOptions::default()).await;
    let warnings =
        client.initialize_result["capabilities"]["experimental"]["agent"]["warnings"].to_string();
    assert!(warnings.contains("config.toml"), "{warnings}");
    let task = client.start_task(json!({"prompt": "anything"})).await;
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "failed");
    assert!(
        finished["summary"]
            .as_str()
            .unwrap()
            .contains("approval_policy"),
        "{finished}"
    );
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn a_missing_api_key_and_an_unreachable_server_are_clear_task_errors() {
    let fixture = Fixture::new("chat", &[], vec![]).await;
    let mut client = fixture.client(ClientOptions::default()).await;
    std::fs::write(
        fixture.home().join("config.toml"),
        "model_provider = \"openai\"\n",
    )
    .unwrap();
    let task = client.start_task(json!({"prompt": "hi"})).await;
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "failed");
    assert!(
        finished["summary"]
            .as_str()
            .unwrap()
            .contains("OPENAI_API_KEY"),
        "{finished}"
    );

    std::fs::write(fixture.home().join("config.toml"), "model = \"m\"\nmodel_provider = \"lmstudio\"\n[model_providers.lmstudio]\nbase_url = \"http://127.0.0.1:9/v1\"\nrequest_max_retries = 0\n").unwrap();
    let task = client.start_task(json!({"prompt": "hi"})).await;
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "failed");
    assert!(
        finished["summary"]
            .as_str()
            .unwrap()
            .contains("cannot reach"),
        "{finished}"
    );
    assert!(client.shutdown().await.success());
}

// ----- scenarios run on both wire APIs ----------------------------------------------------

macro_rules! on_both_wires {
    ($($scenario:ident),* $(,)?) => {
        mod chat {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $scenario() { super::$scenario("chat").await } )*
        }
        mod responses {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $scenario() { super::$scenario("responses").await } )*
        }
    };
}

on_both_wires!(
    reads_see_unsaved_buffers,
    two_hunks_accepted_one_by_one_while_the_user_types,
    ask_mode_offers_read_only_tools,
    escapes_are_refused_and_the_task_goes_on,
    http_500_and_a_cut_stream_are_recovered,
    cancel_stops_a_streaming_task_at_once,
);

async fn reads_see_unsaved_buffers(wire: &str) {
    let fixture = Fixture::new(
        wire,
        &[("a.txt", "on disk\n")],
        vec![
            Reply::tool_call("read_file", json!({"path": "a.txt"})),
            Reply::text("It says unsaved."),
        ],
    )
    .await;
    let mut client = fixture.client(ClientOptions::default()).await;
    client.open("a.txt", "unsaved edit\n").await;
    let task = client
        .start_task(json!({"prompt": "what does a.txt say?", "mode": "ask"}))
        .await;
    assert_eq!(client.wait_finished(&task).await["status"], "completed");
    let outputs = tool_outputs(&fixture.model.requests()[1]);
    assert_eq!(outputs.len(), 1);
    assert!(
        outputs[0].contains("unsaved edit"),
        "the model read {outputs:?}"
    );
    assert!(!outputs[0].contains("on disk"));
    // The stream reached the client as message deltas, coalesced, in order.
    let text: String = client
        .updates(&task)
        .iter()
        .filter(|u| u["update"]["kind"] == "message")
        .map(|u| u["update"]["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, "It says unsaved.");
    assert_eq!(fixture.disk("a.txt").as_deref(), Some("on disk\n"));
    assert!(client.shutdown().await.success());
}

async fn two_hunks_accepted_one_by_one_while_the_user_types(wire: &str) {
    let (fixture, mut client, task) = two_hunk_task(wire, ClientOptions::default()).await;
    let proposal = proposal(&mut client, &task).await;
    assert_eq!(proposal["files"][0]["kind"], "modify");
    assert_eq!(proposal["files"][0]["uri"], client.uri("notes.txt"));
    let ids = hunk_ids(&proposal);
    assert_eq!(ids.len(), 2, "{proposal}");
    assert_eq!(
        proposal["files"][0]["hunks"][0]["range"],
        json!({"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 0}})
    );
    // Nothing reached the editor or the disk yet.
    assert_eq!(client.text("notes.txt"), TEN_LINES);

    let result = client
        .request(
            "agent/resolveHunks",
            json!({"taskId": task, "accept": [ids[0]]}),
        )
        .await
        .unwrap();
    assert_eq!(result["applied"], true);
    wait_text(
        &client,
        "notes.txt",
        "one\nTWO\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n",
    )
    .await;

    // The user types above the second hunk: it must follow.
    client
        .edit("notes.txt", (3, 0), (3, 0), "typed by hand\n")
        .await;
    client.edit("notes.txt", (0, 3), (0, 3), "!").await;
    let moved = review::proposal(&mut client, &task).await;
    assert_eq!(moved["files"][0]["hunks"][1]["range"]["start"]["line"], 8);
    assert_eq!(hunk(&hunks(&moved), &ids[0])["status"], "accepted");
    assert_eq!(hunk(&hunks(&moved), &ids[1])["status"], "pending");

    client
        .request(
            "agent/resolveHunks",
            json!({"taskId": task, "accept": [ids[1]]}),
        )
        .await
        .unwrap();
    wait_text(
        &client,
        "notes.txt",
        "one!\nTWO\nthree\ntyped by hand\nfour\nfive\nsix\nseven\nEIGHT\nnine\nten\n",
    )
    .await;
    // Both acceptances went out as versioned edits; the disk was never written.
    for edit in client.applied_edits() {
        assert!(
            edit["documentChanges"][0]["textDocument"]["version"].is_i64(),
            "{edit}"
        );
    }
    assert_eq!(fixture.disk("notes.txt").as_deref(), Some(TEN_LINES));
    let updates = client.updates(&task);
    let seqs: Vec<u64> = updates.iter().map(|u| u["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "seq must count up by one"
    );
    assert!(client.shutdown().await.success());
}

async fn ask_mode_offers_read_only_tools(wire: &str) {
    let patch = json!({"input": "*** Begin Patch\n*** Add File: new.txt\n+x\n*** End Patch\n"});
    let fixture = Fixture::new(
        wire,
        &[],
        vec![
            Reply::tool_call("apply_patch", patch),
            Reply::text("I may not write."),
        ],
    )
    .await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let task = client
        .start_task(json!({"prompt": "explain", "mode": "ask"}))
        .await;
    assert_eq!(client.wait_finished(&task).await["status"], "completed");
    assert_eq!(
        tool_names(&fixture.model.requests()[0]),
        ["grep", "list_dir", "read_file", "update_plan"]
    );
    assert!(tool_outputs(&fixture.model.requests()[1])[0].contains("not available in ask mode"));
    assert_eq!(proposal(&mut client, &task).await["files"], json!([]));
    assert!(client.shutdown().await.success());
}

async fn escapes_are_refused_and_the_task_goes_on(wire: &str) {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "TOP SECRET\n").unwrap();
    let script = vec![
        Reply::tool_call("read_file", json!({"path": "../secret.txt"})),
        Reply::tool_call(
            "read_file",
            json!({"path": outside.path().join("secret.txt")}),
        ),
        Reply::tool_call("read_file", json!({"path": "link/secret.txt"})),
        Reply::tool_call(
            "apply_patch",
            json!({"input": "*** Begin Patch\n*** Add File: ../evil.txt\n+x\n*** End Patch\n"}),
        ),
        Reply::tool_call(
            "apply_patch",
            json!({"input": "*** Begin Patch\n*** Add File: link/evil.txt\n+x\n*** End Patch\n"}),
        ),
        Reply::text("Gave up."),
    ];
    let fixture = Fixture::new(wire, &[("ok.txt", "fine\n")], script).await;
    std::os::unix::fs::symlink(outside.path(), fixture.root().join("link")).unwrap();
    let mut client = fixture.client(ClientOptions::default()).await;
    let task = client.start_task(json!({"prompt": "try to escape"})).await;
    assert_eq!(client.wait_finished(&task).await["status"], "completed");
    let results: Vec<Value> = client
        .updates(&task)
        .into_iter()
        .filter(|u| u["update"]["kind"] == "toolResult")
        .collect();
    assert_eq!(results.len(), 5);
    for result in &results {
        assert_eq!(result["update"]["ok"], false, "{result}");
        assert!(
            !result["update"]["output"]
                .as_str()
                .unwrap()
                .contains("TOP SECRET")
        );
    }
    assert!(
        results[0]["update"]["output"]
            .as_str()
            .unwrap()
            .contains("outside the workspace"),
        "{}",
        results[0]
    );
    assert!(!outside.path().join("evil.txt").exists());
    assert!(!fixture.root().parent().unwrap().join("evil.txt").exists());
    assert!(client.shutdown().await.success());
}

async fn http_500_and_a_cut_stream_are_recovered(wire: &str) {
    let script = vec![
        Reply::Status(500, "upstream overloaded".into()),
        Reply::cut_after(2, Reply::tool_call("read_file", json!({"path": "a.txt"}))),
        Reply::tool_call("read_file", json!({"path": "a.txt"})),
        Reply::text("Read it."),
    ];
    let fixture = Fixture::new(wire, &[("a.txt", "hello\n")], script).await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let task = client.start_task(json!({"prompt": "read a.txt"})).await;
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    assert_eq!(finished["summary"], "Read it.");
    let retries: Vec<Value> = client
        .updates(&task)
        .into_iter()
        .filter(|u| u["update"]["kind"] == "error")
        .collect();
    assert_eq!(retries.len(), 2, "{:?}", kinds(&client.updates(&task)));
    assert!(retries.iter().all(|r| r["update"]["willRetry"] == true));
    assert_eq!(fixture.model.requests().len(), 4);
    assert!(client.shutdown().await.success());
}

async fn cancel_stops_a_streaming_task_at_once(wire: &str) {
    let fixture = Fixture::new(
        wire,
        &[],
        vec![Reply::stall(
            Duration::from_secs(60),
            Reply::text("never finished"),
        )],
    )
    .await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let task = client.start_task(json!({"prompt": "talk slowly"})).await;
    client
        .wait_until("the first delta", |c| {
            c.updates(&task)
                .iter()
                .any(|u| u["update"]["kind"] == "message")
                .then_some(())
        })
        .await;
    let asked = Instant::now();
    client
        .request("agent/cancelTask", json!({"taskId": task}))
        .await
        .unwrap();
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "cancelled");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "cancel took {:?}",
        asked.elapsed()
    );
    let listed = client.request("agent/listTasks", json!({})).await.unwrap();
    assert_eq!(listed["tasks"][0]["status"], "cancelled");
    assert!(client.shutdown().await.success());
}

// ----- review ---------------------------------------------------------------------------

#[tokio::test]
async fn an_edit_inside_a_hunk_makes_it_stale_and_it_is_never_applied() {
    let (_fixture, mut client, task) = two_hunk_task("chat", ClientOptions::default()).await;
    let ids = hunk_ids(&proposal(&mut client, &task).await);
    client.edit("notes.txt", (7, 0), (7, 5), "EiGhT").await;
    let stale = client
        .wait_until("a hunks update", |c| {
            c.updates(&task)
                .into_iter()
                .find(|u| u["update"]["kind"] == "hunks")
        })
        .await;
    assert_eq!(stale["update"]["hunks"][0]["hunkId"], ids[1]);
    assert_eq!(stale["update"]["hunks"][0]["status"], "stale");
    let result = client
        .request(
            "agent/resolveHunks",
            json!({"taskId": task, "accept": [ids[1]]}),
        )
        .await
        .unwrap();
    assert_eq!(result["applied"], false);
    assert_eq!(result["hunks"][0]["status"], "stale");
    assert!(client.applied_edits().is_empty());
    assert_eq!(
        client.text("notes.txt"),
        TEN_LINES.replace("eight", "EiGhT")
    );
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn code_actions_offer_accept_and_reject_and_their_commands_work() {
    let (_fixture, mut client, task) = two_hunk_task("chat", ClientOptions::default()).await;
    let uri = client.uri("notes.txt");
    let actions = client
        .request("textDocument/codeAction", json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 1, "character": 1}, "end": {"line": 1, "character": 1}}, "context": {"diagnostics": []}}))
        .await
        .unwrap();
    let titles: Vec<&str> = actions
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "Accept: two → TWO (capitalise two and eight)",
            "Reject: two → TWO (capitalise two and eight)",
            "Accept all 2 hunks of capitalise two and eight in this file",
            "Reject all 2 hunks of capitalise two and eight in this file"
        ]
    );
    assert_eq!(actions[0]["kind"], "source.agent.accept");
    let nowhere = client
        .request("textDocument/codeAction", json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 4, "character": 0}, "end": {"line": 4, "character": 0}}, "context": {"diagnostics": []}}))
        .await
        .unwrap();
    assert_eq!(nowhere, json!([]));

    let reject = &actions[1]["command"];
    client
        .request(
            "workspace/executeCommand",
            json!({"command": reject["command"], "arguments": reject["arguments"]}),
        )
        .await
        .unwrap();
    let accept_all = &actions[2]["command"];
    client
        .request(
            "workspace/executeCommand",
            json!({"command": accept_all["command"], "arguments": accept_all["arguments"]}),
        )
        .await
        .unwrap();
    wait_text(&client, "notes.txt", &TEN_LINES.replace("eight", "EIGHT")).await;
    let proposal = proposal(&mut client, &task).await;
    let statuses: Vec<&str> = proposal["files"][0]["hunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["rejected", "accepted"]);
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn whole_text_reports_of_an_accept_keep_the_hunks_between() {
    let patch = json!({"input": "*** Begin Patch\n*** Update File: notes.txt\n@@\n one\n-two\n+TWO\n three\n@@\n four\n-five\n+FIVE\n six\n@@\n seven\n-eight\n+EIGHT\n nine\n*** End Patch\n"});
    let fixture = Fixture::new(
        "chat",
        &[("notes.txt", TEN_LINES)],
        vec![Reply::tool_call("apply_patch", patch), Reply::text("ok")],
    )
    .await;
    let mut client = fixture
        .client(ClientOptions {
            full_text_after_apply: true,
            utf8: true,
            ..ClientOptions::default()
        })
        .await;
    client.open("notes.txt", TEN_LINES).await;
    let task = client.start_task(json!({"prompt": "caps"})).await;
    client.wait_finished(&task).await;
    let ids = hunk_ids(&proposal(&mut client, &task).await);
    assert_eq!(ids.len(), 3);
    client
        .request(
            "agent/resolveHunks",
            json!({"taskId": task, "accept": [ids[0], ids[2]]}),
        )
        .await
        .unwrap();
    wait_text(
        &client,
        "notes.txt",
        "one\nTWO\nthree\nfour\nfive\nsix\nseven\nEIGHT\nnine\nten\n",
    )
    .await;
    let after = proposal(&mut client, &task).await;
    assert_eq!(
        hunk(&hunks(&after), &ids[1])["status"],
        "pending",
        "{after}"
    );
    client
        .request(
            "agent/resolveHunks",
            json!({"taskId": task, "accept": [ids[1]]}),
        )
        .await
        .unwrap();
    wait_text(
        &client,
        "notes.txt",
        "one\nTWO\nthree\nfour\nFIVE\nsix\nseven\nEIGHT\nnine\nten\n",
    )
    .await;
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn an_editor_that_refuses_the_edit_gets_the_hunk_back_as_pending() {
    let (_fixture, mut client, task) = two_hunk_task(
        "chat",
        ClientOptions {
            refuse_edits: true,
            ..ClientOptions::default()
        },
    )
    .await;
    let ids = hunk_ids(&proposal(&mut client, &task).await);
    client
        .request(
            "agent/resolveHunks",
            json!({"taskId": task, "accept": [ids[0]]}),
        )
        .await
        .unwrap();
    let update = client
        .wait_until("the refusal", |c| {
            c.updates(&task)
                .into_iter()
                .find(|u| u["update"]["kind"] == "hunks")
        })
        .await;
    assert_eq!(update["update"]["hunks"][0]["status"], "pending");
    assert_eq!(client.text("notes.txt"), TEN_LINES);
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn files_the_task_creates_are_proposed_as_create_and_accepted_with_a_create_operation() {
    let patch = json!({"input": "*** Begin Patch\n*** Add File: src/new.rs\n+fn main() {}\n*** End Patch\n"});
    let fixture = Fixture::new(
        "responses",
        &[],
        vec![Reply::tool_call("apply_patch", patch), Reply::text("ok")],
    )
    .await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let task = client.start_task(json!({"prompt": "add main"})).await;
    client.wait_finished(&task).await;
    let proposal = proposal(&mut client, &task).await;
    assert_eq!(proposal["files"][0]["kind"], "create");
    assert_eq!(
        proposal["files"][0]["hunks"][0]["newText"],
        "fn main() {}\n"
    );
    let ids = hunk_ids(&proposal);
    client
        .request("agent/resolveHunks", json!({"taskId": task, "accept": ids}))
        .await
        .unwrap();
    let edit = client
        .wait_until("the applyEdit", |c| c.applied_edits().into_iter().next())
        .await;
    assert_eq!(edit["documentChanges"][0]["kind"], "create");
    assert_eq!(
        edit["documentChanges"][1]["edits"][0]["newText"],
        "fn main() {}\n"
    );
    assert_eq!(
        fixture.disk("src/new.rs").as_deref(),
        Some("fn main() {}\n"),
        "the editor created the file"
    );
    assert!(client.shutdown().await.success());
}

/// The server's copy of a buffer must match the editor's after edits around astral
/// characters, in both encodings: a task reads it back through read_file.
#[tokio::test]
async fn position_encodings_keep_the_servers_buffer_identical_to_the_editors() {
    for utf8 in [false, true] {
        let fixture = Fixture::new(
            "chat",
            &[],
            vec![
                Reply::tool_call("read_file", json!({"path": "e.txt"})),
                Reply::text("ok"),
            ],
        )
        .await;
        let mut client = fixture
            .client(ClientOptions {
                utf8,
                ..ClientOptions::default()
            })
            .await;
        client.open("e.txt", "a😀b\nçé\n").await;
        let after_emoji = if utf8 { 5 } else { 3 };
        client
            .edit("e.txt", (0, after_emoji), (0, after_emoji), "X")
            .await;
        let after_accents = if utf8 { 4 } else { 2 };
        client
            .edit("e.txt", (1, after_accents), (1, after_accents), "🎉")
            .await;
        client.edit("e.txt", (0, 0), (0, 1), "").await;
        assert_eq!(client.text("e.txt"), "😀Xb\nçé🎉\n");
        let task = client.start_task(json!({"prompt": "read e.txt"})).await;
        client.wait_finished(&task).await;
        let read = &tool_outputs(&fixture.model.requests()[1])[0];
        assert!(
            read.contains("😀Xb") && read.contains("çé🎉"),
            "utf8={utf8}: {read}"
        );
        assert!(client.shutdown().await.success());
    }
}

#[tokio::test]
async fn get_task_replays_every_event_and_progress_is_reported() {
    let (_fixture, mut client, task) = two_hunk_task("chat", ClientOptions::default()).await;
    let got = client
        .request("agent/getTask", json!({"taskId": task}))
        .await
        .unwrap();
    assert_eq!(got["status"], "completed");
    assert_eq!(got["summary"], "Capitalised two words.");
    let events = got["events"].as_array().unwrap().clone();
    assert_eq!(kinds(&events), kinds(&client.updates(&task)));
    let expected = [
        "status",
        "status",
        "usage",
        "toolCall",
        "proposal",
        "toolResult",
        "toolCall",
        "message",
        "usage",
        "proposal",
        "status",
        "finished",
    ];
    assert_eq!(kinds(&events), expected);
    let progress = client.notifications("$/progress");
    let phases: Vec<&str> = progress
        .iter()
        .map(|p| p["value"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(phases.first(), Some(&"begin"));
    assert_eq!(phases.last(), Some(&"end"));
    assert!(client.shutdown().await.success());
}
