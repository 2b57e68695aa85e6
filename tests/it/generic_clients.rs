//! Editors without an agentls plugin (Helix, Emacs eglot, plain Neovim), as the server
//! sees them: everything through `workspace/executeCommand`, hunks as diagnostics, code
//! actions and lenses, messages instead of `agent/taskUpdate`, and commands that answer
//! only once the editor has answered their `workspace/applyEdit`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::fixture::Fixture;
use crate::support::lsp_client::{ClientOptions, LspClient};
use crate::support::model_server::Reply;
use crate::support::review::{hunk_ids, proposal, resolve};

const TEN_LINES: &str = "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n";
const CAPS_TWO_AND_EIGHT: &str =
    "*** Update File: notes.txt\n@@\n one\n-two\n+TWO\n three\n@@\n seven\n-eight\n+EIGHT\n nine\n";
const CAPS_TWO: &str = "*** Update File: notes.txt\n@@\n one\n-two\n+TWO\n three\n";

fn patch_then_done(body: &str, summary: &str) -> Vec<Reply> {
    vec![
        Reply::tool_call(
            "apply_patch",
            json!({"input": format!("*** Begin Patch\n{body}*** End Patch\n")}),
        ),
        Reply::text(summary),
    ]
}

fn plain() -> ClientOptions {
    ClientOptions {
        plain: true,
        ..ClientOptions::default()
    }
}

async fn command(client: &mut LspClient, command: &str, argument: Value) -> Result<Value, Value> {
    client
        .request(
            "workspace/executeCommand",
            json!({"command": command, "arguments": [argument]}),
        )
        .await
}

/// Runs `agent.startTask` with `argument` and waits for the task to complete.
async fn start_and_finish(client: &mut LspClient, argument: Value) -> String {
    let started = command(client, "agent.startTask", argument).await.unwrap();
    let task = started["taskId"].as_str().unwrap().to_string();
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    task
}

/// notes.txt (ten lines) open in a client with `options`, and a completed task named
/// `caps` whose model applied `body`.
async fn caps_session(body: &str, options: ClientOptions) -> (Fixture, LspClient, String) {
    let fixture = Fixture::new(
        "chat",
        &[("notes.txt", TEN_LINES)],
        patch_then_done(body, "done"),
    )
    .await;
    let mut client = fixture.client(options).await;
    client.open("notes.txt", TEN_LINES).await;
    let task = start_and_finish(&mut client, json!("caps")).await;
    (fixture, client, task)
}

/// Every `window/showMessage` text so far.
fn messages(client: &LspClient) -> Vec<String> {
    client
        .notifications("window/showMessage")
        .iter()
        .map(|m| m["message"].as_str().unwrap().to_string())
        .collect()
}

async fn wait_message(client: &LspClient, needle: &str) -> String {
    client
        .wait_until(&format!("a message containing {needle:?}"), |c| {
            messages(c).into_iter().find(|m| m.contains(needle))
        })
        .await
}

/// The last diagnostics published for `uri`, once `check` holds for them.
async fn wait_diagnostics(
    client: &LspClient,
    uri: &str,
    what: &str,
    check: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    client
        .wait_until(&format!("diagnostics of {uri}: {what}"), |c| {
            let last = c
                .notifications("textDocument/publishDiagnostics")
                .into_iter()
                .rev()
                .find(|p| p["uri"] == uri)?;
            let list = last["diagnostics"].as_array()?.clone();
            check(&list).then_some(list)
        })
        .await
}

fn at_line(uri: &str, line: u32) -> Value {
    json!({"textDocument": {"uri": uri}, "range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}}, "context": {"diagnostics": []}})
}

async fn action_titles(client: &mut LspClient, uri: &str, line: u32) -> (Vec<String>, Value) {
    let actions = client
        .request("textDocument/codeAction", at_line(uri, line))
        .await
        .unwrap();
    let titles = actions
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_string())
        .collect();
    (titles, actions)
}

async fn run_action(client: &mut LspClient, action: &Value) -> Value {
    let command = &action["command"];
    client
        .request(
            "workspace/executeCommand",
            json!({"command": command["command"], "arguments": command["arguments"]}),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn every_command_is_advertised() {
    let fixture = Fixture::new("chat", &[], vec![]).await;
    let client = fixture.client(plain()).await;
    let commands = &client.initialize_result["capabilities"]["executeCommandProvider"]["commands"];
    for name in [
        "agent.startTask",
        "agent.cancelTask",
        "agent.followUp",
        "agent.importDiff",
        "agent.refreshProposal",
        "agent.showProposal",
        "agent.acceptHunks",
        "agent.rejectHunks",
        "agent.undoHunks",
    ] {
        assert!(
            commands.as_array().unwrap().iter().any(|c| c == name),
            "{name} missing from {commands}"
        );
    }
    assert!(
        client.initialize_result["capabilities"]["codeLensProvider"].is_object(),
        "{}",
        client.initialize_result
    );
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn a_plain_client_starts_a_task_by_command_and_is_told_how_it_ended() {
    let fixture = Fixture::new(
        "chat",
        &[("notes.txt", TEN_LINES)],
        patch_then_done(CAPS_TWO_AND_EIGHT, "Capitalised two words."),
    )
    .await;
    let mut client = fixture.client(plain()).await;
    client.open("notes.txt", TEN_LINES).await;
    // What Helix sends for `:lsp-workspace-command agent.startTask "capitalise two and eight"`.
    let task = start_and_finish(&mut client, json!("capitalise two and eight")).await;
    let prompt = fixture.model.requests()[0].to_string();
    assert!(prompt.contains("capitalise two and eight"), "{prompt}");

    let started = wait_message(&client, "started").await;
    assert!(started.contains(&task), "{started}");
    let done = wait_message(&client, "completed").await;
    assert!(
        done.contains("“capitalise two and eight” completed: Capitalised two words")
            && done.contains("2 hunks in 1 file to review")
            && done.contains("space a"),
        "{done}"
    );
    let progress: Vec<Value> = client.notifications("$/progress");
    let report = progress
        .iter()
        .find(|p| p["value"]["kind"] == "report")
        .unwrap_or_else(|| panic!("no progress report in {progress:?}"));
    assert_eq!(report["value"]["message"], "turn 1: editing notes.txt");
    assert!(
        report["value"].get("percentage").is_none(),
        "a percentage without a plan is made up: {report}"
    );
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn a_failed_task_is_a_message_with_its_error_and_dedicated_clients_get_none() {
    let fixture = Fixture::new(
        "chat",
        &[],
        vec![Reply::Status(400, "no such model".into())],
    )
    .await;
    let mut client = fixture.client(plain()).await;
    let started = command(
        &mut client,
        "agent.startTask",
        json!({"prompt": "anything"}),
    )
    .await
    .unwrap();
    let task = started["taskId"].as_str().unwrap().to_string();
    assert_eq!(client.wait_finished(&task).await["status"], "failed");
    let failed = wait_message(&client, "failed").await;
    assert!(
        failed.contains("“anything” failed: ") && failed.contains("400"),
        "{failed}"
    );
    assert!(
        client
            .notifications("window/showMessage")
            .iter()
            .any(|m| m["type"] == 1),
        "an error message"
    );
    client.shutdown().await;

    let fixture = Fixture::new(
        "chat",
        &[],
        vec![Reply::Status(400, "no such model".into())],
    )
    .await;
    let mut dedicated = fixture.client(ClientOptions::default()).await;
    let (task, _) = dedicated.run_task("anything").await;
    // Everything for the task has arrived by the time the task list answers.
    dedicated
        .request("agent/getTask", json!({"taskId": task}))
        .await
        .unwrap();
    assert_eq!(messages(&dedicated), Vec::<String>::new());
    assert!(dedicated.shutdown().await.success());
}

#[tokio::test]
async fn the_selection_sent_with_start_task_is_context() {
    let fixture = Fixture::new("chat", &[("notes.txt", TEN_LINES)], vec![Reply::text("ok")]).await;
    let mut client = fixture.client(plain()).await;
    client.open("notes.txt", TEN_LINES).await;
    let uri = client.uri("notes.txt");
    start_and_finish(
        &mut client,
        json!({"prompt": "explain", "mode": "ask", "uri": uri,
               "range": {"start": {"line": 2, "character": 0}, "end": {"line": 4, "character": 0}}}),
    )
    .await;
    let sent = fixture.model.requests()[0].to_string();
    assert!(
        sent.contains("The user selected notes.txt lines 3-4:\\n```\\nthree\\nfour\\n```"),
        "{sent}"
    );
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn hunks_are_diagnostics_that_follow_typing_and_go_when_decided() {
    let (fixture, mut client, task) = caps_session(CAPS_TWO_AND_EIGHT, plain()).await;
    let ids = hunk_ids(&proposal(&mut client, &task).await);
    let uri = client.uri("notes.txt");

    let shown = wait_diagnostics(&client, &uri, "two hunks", |d| d.len() == 2).await;
    assert_eq!(shown[0]["source"], "agentls");
    assert_eq!(shown[0]["severity"], 3, "information");
    assert_eq!(shown[0]["code"], "pending");
    assert_eq!(shown[0]["message"], "caps proposes: two → TWO");
    assert_eq!(
        shown[0]["range"]["start"],
        json!({"line": 1, "character": 0})
    );
    assert_eq!(
        shown[0]["data"],
        json!({"taskId": task, "hunkId": ids[0], "status": "pending"})
    );
    assert_eq!(shown[1]["message"], "caps proposes: eight → EIGHT");

    // A line typed above both moves them; typing inside the first makes it stale.
    client.edit("notes.txt", (0, 0), (0, 0), "zero\n").await;
    client.edit("notes.txt", (2, 1), (2, 2), "W").await;
    let moved = wait_diagnostics(&client, &uri, "moved, the first stale", |d| {
        d.len() == 2 && d[0]["code"] == "stale" && d[1]["range"]["start"]["line"] == 8
    })
    .await;
    assert_eq!(moved[0]["severity"], 4, "a hint");
    assert!(
        moved[0]["message"]
            .as_str()
            .unwrap()
            .contains("two → TWO — stale:"),
        "{moved:?}"
    );
    let (titles, _) = action_titles(&mut client, &uri, 2).await;
    assert_eq!(
        titles,
        [
            "Refresh (re-place on your text): two → TWO (caps)",
            "Reject: two → TWO (caps)"
        ]
    );

    resolve(&mut client, json!({"taskId": task, "reject": [ids[0]]}))
        .await
        .unwrap();
    wait_diagnostics(&client, &uri, "only the second", |d| {
        d.len() == 1 && d[0]["data"]["hunkId"] == ids[1]
    })
    .await;
    let (_, actions) = action_titles(&mut client, &uri, 8).await;
    assert_eq!(actions[0]["title"], "Accept: eight → EIGHT (caps)");
    assert_eq!(actions[0]["isPreferred"], true);
    assert_eq!(actions[0]["diagnostics"][0]["data"]["hunkId"], ids[1]);
    run_action(&mut client, &actions[0]).await;
    wait_diagnostics(&client, &uri, "none", <[Value]>::is_empty).await;
    assert_eq!(
        fixture.disk("notes.txt").unwrap(),
        TEN_LINES,
        "disk untouched"
    );
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn an_accept_command_answers_after_the_editor_has_answered_its_edit() {
    let (_fixture, mut client, _task) = caps_session(
        CAPS_TWO,
        ClientOptions {
            plain: true,
            edit_answer_delay: Some(Duration::from_millis(300)),
            ..ClientOptions::default()
        },
    )
    .await;
    let uri = client.uri("notes.txt");
    let (_, actions) = action_titles(&mut client, &uri, 1).await;
    let result = run_action(&mut client, &actions[0]).await;

    let events = client.events();
    let answered = events
        .iter()
        .position(|e| e == "answered workspace/applyEdit")
        .unwrap_or_else(|| panic!("the edit was not answered first: {events:?}"));
    let replied = events
        .iter()
        .rposition(|e| e.starts_with("response "))
        .unwrap();
    assert!(answered < replied, "{events:?}");
    assert_eq!(result["applied"], true, "{result}");
    assert_eq!(result["hunks"][0]["status"], "accepted", "{result}");
    assert_eq!(client.text("notes.txt"), TEN_LINES.replace("two", "TWO"));
    // The editor's didChange (sent before the next request) confirmed it: undo is
    // offered, and works the same way.
    let (titles, actions) = action_titles(&mut client, &uri, 1).await;
    assert_eq!(titles, ["Undo accept: two → TWO (caps)"]);
    let undone = run_action(&mut client, &actions[0]).await;
    assert_eq!(undone["applied"], true, "{undone}");
    assert_eq!(client.text("notes.txt"), TEN_LINES);
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn a_client_that_never_answers_the_edit_gets_its_answer_and_the_server_goes_on() {
    let (_fixture, mut client, _task) = caps_session(
        CAPS_TWO,
        ClientOptions {
            plain: true,
            ignore_edits: true,
            ..ClientOptions::default()
        },
    )
    .await;
    let uri = client.uri("notes.txt");
    let (_, actions) = action_titles(&mut client, &uri, 1).await;
    let accept = &actions[0]["command"];
    let message = json!({"jsonrpc": "2.0", "id": 9000, "method": "workspace/executeCommand",
        "params": {"command": accept["command"], "arguments": accept["arguments"]}});
    let body = message.to_string();
    let began = Instant::now();
    client
        .send_raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes())
        .await;
    client
        .wait_until("the edit to be sent", |c| {
            c.events()
                .contains(&"request workspace/applyEdit".to_string())
                .then_some(())
        })
        .await;
    // The command waits; nothing else does.
    client.request("agent/listTasks", json!({})).await.unwrap();
    client
        .request("textDocument/codeAction", at_line(&uri, 1))
        .await
        .unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
    let answer = client
        .wait_until("the command's answer", |c| {
            c.unawaited_responses()
                .into_iter()
                .find(|r| r["id"] == 9000)
        })
        .await;
    let waited = began.elapsed();
    assert!(
        waited >= Duration::from_secs(7) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
    assert_eq!(
        answer["result"]["applied"], true,
        "sent, never answered: {answer}"
    );
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn titles_tell_two_tasks_on_one_line_apart_and_offer_only_what_can_succeed() {
    let mut script = patch_then_done(CAPS_TWO, "done");
    script.extend(patch_then_done(
        "*** Update File: notes.txt\n@@\n one\n-two\n+2\n three\n",
        "done",
    ));
    script.extend(patch_then_done(CAPS_TWO, "done"));
    let fixture = Fixture::new("chat", &[("notes.txt", TEN_LINES)], script).await;
    let mut client = fixture.client(plain()).await;
    client.open("notes.txt", TEN_LINES).await;
    start_and_finish(&mut client, json!("caps")).await;
    start_and_finish(&mut client, json!("use digits")).await;
    let uri = client.uri("notes.txt");
    let (titles, _) = action_titles(&mut client, &uri, 1).await;
    // The later task's hunk is in conflict: it can only be rejected for now.
    assert_eq!(
        titles,
        [
            "Accept: two → TWO (caps)",
            "Reject: two → TWO (caps)",
            "Reject: two → 2 (use digits)"
        ]
    );

    // A third task with the same name and change: its entry names its hunk.
    let third = start_and_finish(&mut client, json!("caps")).await;
    let (titles, _) = action_titles(&mut client, &uri, 1).await;
    let first = titles
        .iter()
        .filter(|t| t.starts_with("Reject: two → TWO (caps)"))
        .count();
    assert_eq!(first, 2, "{titles:?}");
    assert!(
        titles.contains(&format!("Reject: two → TWO (caps) [{third}-1]")),
        "{titles:?}"
    );
    let mut unique = titles.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), titles.len(), "{titles:?}");
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn no_undo_is_offered_once_the_accepted_text_changed_and_a_plain_client_is_told_why() {
    let (_fixture, mut client, task) = caps_session(CAPS_TWO, plain()).await;
    let ids = hunk_ids(&proposal(&mut client, &task).await);
    let uri = client.uri("notes.txt");
    let (_, actions) = action_titles(&mut client, &uri, 1).await;
    run_action(&mut client, &actions[0]).await;
    client.edit("notes.txt", (1, 3), (1, 3), "!").await;
    let (titles, _) = action_titles(&mut client, &uri, 1).await;
    assert_eq!(titles, Vec::<String>::new());

    let result = command(
        &mut client,
        "agent.undoHunks",
        json!({"taskId": task, "hunkIds": [ids[0]]}),
    )
    .await
    .unwrap();
    assert_eq!(result["applied"], false, "{result}");
    let told = wait_message(&client, "could not undo").await;
    assert!(
        told.contains(&ids[0]) && told.contains("edited since"),
        "{told}"
    );
    assert_eq!(client.text("notes.txt"), TEN_LINES.replace("two", "TWO!"));
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn code_lenses_accept_and_reject_and_a_plugin_can_turn_lenses_and_diagnostics_off() {
    let (_fixture, mut client, _task) = caps_session(CAPS_TWO_AND_EIGHT, plain()).await;
    let uri = client.uri("notes.txt");
    let lenses = client
        .request(
            "textDocument/codeLens",
            json!({"textDocument": {"uri": uri}}),
        )
        .await
        .unwrap();
    let titles: Vec<&str> = lenses
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["command"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["Accept (caps)", "Reject", "Accept (caps)", "Reject"]
    );
    assert_eq!(
        lenses[2]["range"]["start"],
        json!({"line": 7, "character": 0})
    );
    let accept = &lenses[2]["command"];
    client
        .request(
            "workspace/executeCommand",
            json!({"command": accept["command"], "arguments": accept["arguments"]}),
        )
        .await
        .unwrap();
    assert_eq!(
        client.text("notes.txt"),
        TEN_LINES.replace("eight", "EIGHT")
    );
    client.shutdown().await;

    let fixture = Fixture::new(
        "chat",
        &[("notes.txt", TEN_LINES)],
        patch_then_done(CAPS_TWO_AND_EIGHT, "done"),
    )
    .await;
    let mut dedicated = LspClient::start_with(
        &fixture.root(),
        fixture.home(),
        ClientOptions::default(),
        json!({"hunk_diagnostics": false, "hunk_code_lens": false}),
    )
    .await;
    assert!(
        dedicated.initialize_result["capabilities"]
            .get("codeLensProvider")
            .is_none(),
        "{}",
        dedicated.initialize_result
    );
    assert_eq!(
        dedicated.initialize_result["capabilities"]["experimental"]["agent"]["warnings"],
        Value::Null,
        "both are known keys"
    );
    dedicated.open("notes.txt", TEN_LINES).await;
    dedicated.run_task("caps").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        dedicated.notifications("textDocument/publishDiagnostics"),
        Vec::<Value>::new()
    );
    assert!(dedicated.shutdown().await.success());
}

#[tokio::test]
async fn show_proposal_opens_the_diff_and_git_applies_it() {
    let fixture = Fixture::new(
        "chat",
        &[("notes.txt", TEN_LINES)],
        patch_then_done(CAPS_TWO_AND_EIGHT, "done"),
    )
    .await;
    let mut client = fixture
        .client(ClientOptions {
            plain: true,
            show_document: true,
            ..ClientOptions::default()
        })
        .await;
    let task = start_and_finish(&mut client, json!("caps")).await;
    let shown = command(&mut client, "agent.showProposal", json!({}))
        .await
        .unwrap();
    let diff_path = fixture
        .home()
        .join("tasks")
        .join(&task)
        .join("proposal.diff");
    assert_eq!(shown["taskId"], task);
    assert_eq!(shown["shown"], true, "{shown}");
    assert_eq!(shown["files"], 1);
    let asked = client.notifications("window/showDocument");
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0]["uri"], shown["uri"]);
    assert!(
        shown["uri"].as_str().unwrap().ends_with("/proposal.diff"),
        "{shown}"
    );
    let diff = std::fs::read_to_string(&diff_path).unwrap();
    assert!(
        diff.contains("diff --git a/notes.txt b/notes.txt\n"),
        "{diff}"
    );
    assert!(diff.contains("-two\n+TWO\n"), "{diff}");
    let check = std::process::Command::new("git")
        .args(["apply", "--check"])
        .arg(&diff_path)
        .current_dir(fixture.root())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Deleting the task takes the file with it.
    client
        .request("agent/deleteTask", json!({"taskId": task}))
        .await
        .unwrap();
    assert!(!diff_path.exists());
    client.shutdown().await;

    // A client that cannot open documents is told where the file is.
    let fixture = Fixture::new(
        "chat",
        &[("notes.txt", TEN_LINES)],
        patch_then_done(CAPS_TWO, "done"),
    )
    .await;
    let mut client = fixture.client(plain()).await;
    start_and_finish(&mut client, json!("caps")).await;
    let shown = command(&mut client, "agent.showProposal", json!(null))
        .await
        .unwrap();
    assert_eq!(shown["shown"], false);
    let told = wait_message(&client, "proposal.diff").await;
    assert!(
        told.contains("the proposal of “caps” (1 file) is in /"),
        "{told}"
    );
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn commands_default_to_the_latest_task_import_cancel_and_follow_up() {
    let fixture = Fixture::new(
        "chat",
        &[("notes.txt", TEN_LINES)],
        vec![
            Reply::stall(Duration::from_secs(30), Reply::text("never heard")),
            Reply::text("followed up"),
        ],
    )
    .await;
    let mut client = fixture.client(plain()).await;
    let none = command(&mut client, "agent.cancelTask", json!({}))
        .await
        .unwrap_err();
    assert!(
        none["message"]
            .as_str()
            .unwrap()
            .contains("no task is running"),
        "{none}"
    );

    let diff = "--- a/notes.txt\n+++ b/notes.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n";
    let imported = command(&mut client, "agent.importDiff", json!({"diff": diff}))
        .await
        .unwrap();
    let import = imported["taskId"].as_str().unwrap().to_string();
    assert_eq!(client.wait_finished(&import).await["status"], "completed");
    wait_message(&client, "1 hunk in 1 file to review").await;

    let started = command(&mut client, "agent.startTask", json!("take your time"))
        .await
        .unwrap();
    let slow = started["taskId"].as_str().unwrap().to_string();
    client
        .wait_until("the model to be asked", |c| {
            let _ = c;
            (!fixture.model.requests().is_empty()).then_some(())
        })
        .await;
    let cancelled = command(&mut client, "agent.cancelTask", json!(null))
        .await
        .unwrap();
    assert_eq!(cancelled["taskId"], slow);
    assert_eq!(client.wait_finished(&slow).await["status"], "cancelled");
    wait_message(&client, "“take your time” was cancelled").await;

    // A plain string follows up the latest task.
    let followed = command(&mut client, "agent.followUp", json!("go on"))
        .await
        .unwrap();
    assert_eq!(followed["taskId"], slow);
    client
        .wait_until("the follow-up to complete", |c| {
            c.updates(&slow)
                .iter()
                .filter(|u| u["update"]["kind"] == "finished")
                .nth(1)
                .map(|u| u["update"]["status"].clone())
        })
        .await;
    let asked = fixture.model.requests().last().unwrap().to_string();
    assert!(asked.contains("go on"), "{asked}");
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn a_plain_client_lists_a_best_of_n_tasks_attempts_and_chooses_one_by_number() {
    let attempt = |body: &str, summary: &str| Reply::conversation(patch_then_done(body, summary));
    let fixture = Fixture::new(
        "chat",
        &[("notes.txt", TEN_LINES)],
        vec![
            attempt(CAPS_TWO, "Shouted two."),
            attempt(CAPS_TWO_AND_EIGHT, "Shouted two and eight."),
        ],
    )
    .await;
    let mut client = fixture.client(plain()).await;
    client.open("notes.txt", TEN_LINES).await;
    let task = start_and_finish(
        &mut client,
        json!({"prompt": "shout", "bestOf": 2, "choose": "manual"}),
    )
    .await;
    let nothing = command(&mut client, "agent.chooseAttempt", json!({"taskId": "t0"}))
        .await
        .unwrap_err();
    assert!(
        nothing["message"].as_str().unwrap().contains("t0"),
        "{nothing}"
    );

    // No attempt named: the attempts are listed, in the answer and to the user.
    let listed = command(&mut client, "agent.chooseAttempt", json!({}))
        .await
        .unwrap();
    assert_eq!(listed["taskId"], task);
    let attempts = listed["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{listed}");
    assert_eq!(listed["chosenAttempt"], Value::Null);
    let shown = wait_message(&client, "attempts of “shout”").await;
    assert!(
        shown.contains("+2 −2 in 1 file") && shown.contains("+1 −1 in 1 file"),
        "{shown}"
    );
    assert_eq!(
        proposal(&mut client, &task).await["totalHunks"],
        0,
        "nothing chosen yet"
    );

    // A plain number chooses that attempt of the latest best-of-N task.
    let both = attempts
        .iter()
        .find(|a| a["summary"] == "Shouted two and eight.")
        .unwrap()["attempt"]
        .clone();
    let chosen = command(&mut client, "agent.chooseAttempt", both.clone())
        .await
        .unwrap();
    assert_eq!(chosen["chosenAttempt"], both);
    wait_message(&client, &format!("chose attempt {both} of “shout”")).await;
    let uri = client.uri("notes.txt");
    wait_diagnostics(&client, &uri, "the chosen attempt's two hunks", |d| {
        d.len() == 2
    })
    .await;
    let ids = hunk_ids(&proposal(&mut client, &task).await);
    assert_eq!(ids.len(), 2);
}
