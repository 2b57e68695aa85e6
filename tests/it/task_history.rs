//! Tasks that last: the real binary is killed (SIGKILL) in the middle of a review, a new
//! server starts on the same workspace and `$AGENTLS_HOME`, and the user finds every
//! task, every decision and every pending hunk where it was — re-anchored on what the
//! files hold now.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::fixture::Fixture;
use crate::support::lsp_client::{ClientOptions, LspClient};
use crate::support::model_server::Reply;

const TEN_LINES: &str = "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n";

/// Changes lines 2, 5 and 8 of notes.txt: three hunks.
const THREE_HUNKS: &str = "*** Begin Patch\n*** Update File: notes.txt\n@@\n one\n-two\n+TWO\n three\n@@\n four\n-five\n+FIVE\n six\n@@\n seven\n-eight\n+EIGHT\n nine\n*** End Patch\n";

async fn proposal(client: &mut LspClient, task: &str) -> Value {
    client
        .request("agent/getProposal", json!({ "taskId": task }))
        .await
        .unwrap()
}

/// (id, status, start line, reason) of every hunk, in order.
fn summary(proposal: &Value) -> Vec<(String, String, u64, Option<String>)> {
    proposal["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["hunks"].as_array().unwrap().clone())
        .map(|h| {
            (
                h["hunkId"].as_str().unwrap().to_string(),
                h["status"].as_str().unwrap().to_string(),
                h["range"]["start"]["line"].as_u64().unwrap(),
                h["reason"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// `agent/forkTask` with `params`; the fork's id.
async fn fork_task(client: &mut LspClient, params: Value) -> String {
    client.request("agent/forkTask", params).await.unwrap()["taskId"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Waits until the task's log on disk holds `count` decision events: the review the
/// restart must find.
async fn wait_logged_decisions(fixture: &Fixture, task: &str, count: usize) {
    let path = fixture.home().join("tasks").join(format!("{task}.jsonl"));
    for _ in 0..200 {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let decisions = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["type"] == "decision")
            .count();
        if decisions >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the log of {task} never held {count} decisions");
}

/// A finished task with three pending hunks in notes.txt (not open in the editor).
async fn three_hunk_task() -> (Fixture, LspClient, String) {
    let fixture = Fixture::new(
        "chat",
        &[("notes.txt", TEN_LINES)],
        vec![
            Reply::tool_call("apply_patch", json!({ "input": THREE_HUNKS })),
            Reply::text("Capitalised three lines."),
        ],
    )
    .await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let task = client.start_task(json!({ "prompt": "shout" })).await;
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    (fixture, client, task)
}

#[tokio::test]
async fn a_killed_server_loses_no_task_decision_or_hunk() {
    let (fixture, mut client, task) = three_hunk_task().await;
    let (h1, h2, h3) = (
        format!("{task}-1"),
        format!("{task}-2"),
        format!("{task}-3"),
    );
    client
        .request(
            "agent/resolveHunks",
            json!({"taskId": task, "accept": [h1], "reject": [h2], "reason": "keep five quiet"}),
        )
        .await
        .unwrap();
    assert_eq!(
        fixture.disk("notes.txt").unwrap(),
        TEN_LINES.replace("two", "TWO")
    );
    wait_logged_decisions(&fixture, &task, 2).await;
    client.kill().await;

    let mut client = fixture.client(ClientOptions::default()).await;
    let tasks = client.request("agent/listTasks", json!({})).await.unwrap();
    let listed = &tasks["tasks"][0];
    assert_eq!(listed["taskId"], task.as_str(), "{tasks}");
    assert_eq!(listed["status"], "completed");
    assert_eq!(listed["summary"], "Capitalised three lines.");
    assert!(listed["finishedAt"].as_u64().is_some(), "{listed}");
    assert_eq!(
        summary(&proposal(&mut client, &task).await),
        vec![
            (h1.clone(), "accepted".into(), 1, None),
            (
                h2.clone(),
                "rejected".into(),
                4,
                Some("keep five quiet".into())
            ),
            (h3.clone(), "pending".into(), 7, None),
        ]
    );
    // The earlier run's events are there for a client that asks.
    let details = client
        .request("agent/getTask", json!({ "taskId": task }))
        .await
        .unwrap();
    let kinds: Vec<&str> = details["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["update"]["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"toolCall") && kinds.contains(&"finished"),
        "{kinds:?}"
    );

    // An accept of the earlier server can be undone by this one.
    let undo = client
        .request("agent/undoHunks", json!({"taskId": task, "hunkIds": [h1]}))
        .await
        .unwrap();
    assert_eq!(undo["hunks"][0]["status"], "pending", "{undo}");
    assert_eq!(fixture.disk("notes.txt").unwrap(), TEN_LINES);
    // And the pending one can still be accepted.
    client
        .request(
            "agent/resolveHunks",
            json!({"taskId": task, "accept": [h3]}),
        )
        .await
        .unwrap();
    assert_eq!(
        fixture.disk("notes.txt").unwrap(),
        TEN_LINES.replace("eight", "EIGHT")
    );
}

#[tokio::test]
async fn hunks_follow_what_the_files_hold_when_the_server_comes_back() {
    let (fixture, client, task) = three_hunk_task().await;
    client.kill().await;
    // While no server runs: a line added at the top, and line 5 rewritten.
    fixture.write(
        "notes.txt",
        &format!("zero\n{}", TEN_LINES.replace("five", "5ive")),
    );
    let mut client = fixture.client(ClientOptions::default()).await;
    let hunks = summary(&proposal(&mut client, &task).await);
    assert_eq!(
        hunks
            .iter()
            .map(|h| (h.1.as_str(), h.2))
            .collect::<Vec<_>>(),
        vec![("pending", 2), ("stale", 5), ("pending", 8)],
        "{hunks:?}"
    );
    // The editor opens the file with unsaved text: anchors move onto it.
    let unsaved = format!(
        "zero\nzero and a half\n{}",
        TEN_LINES.replace("five", "5ive")
    );
    client.open("notes.txt", &unsaved).await;
    let hunks = summary(&proposal(&mut client, &task).await);
    assert_eq!(
        hunks
            .iter()
            .map(|h| (h.1.as_str(), h.2))
            .collect::<Vec<_>>(),
        vec![("pending", 3), ("stale", 6), ("pending", 9)],
        "{hunks:?}"
    );
}

#[tokio::test]
async fn a_task_killed_mid_stream_is_interrupted_with_its_hunks_and_can_be_resumed() {
    let fixture = Fixture::new(
        "chat",
        &[("notes.txt", TEN_LINES)],
        vec![
            Reply::tool_call("apply_patch", json!({ "input": THREE_HUNKS })),
            // The second turn streams one delta, then goes quiet long enough to be killed.
            Reply::stall(Duration::from_secs(60), Reply::text("never finished")),
        ],
    )
    .await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let task = client.start_task(json!({ "prompt": "shout" })).await;
    client
        .wait_until("the second model request", |_| {
            (fixture.model.requests().len() == 2).then_some(())
        })
        .await;
    client.kill().await;

    fixture.model.push(Reply::text("Resumed and done."));
    let mut client = fixture.client(ClientOptions::default()).await;
    let tasks = client.request("agent/listTasks", json!({})).await.unwrap();
    assert_eq!(tasks["tasks"][0]["status"], "interrupted", "{tasks}");
    let hunks = summary(&proposal(&mut client, &task).await);
    assert_eq!(
        hunks.len(),
        3,
        "the patch made before the kill is reviewable: {hunks:?}"
    );
    assert!(hunks.iter().all(|h| h.1 == "pending"), "{hunks:?}");

    client
        .request(
            "agent/followUp",
            json!({"taskId": task, "prompt": "carry on"}),
        )
        .await
        .unwrap();
    // (The `interrupted` end may or may not have reached this client: it was sent while
    // the server was starting.)
    let finished = client
        .wait_until("the follow-up to finish", |c| {
            c.updates(&task)
                .into_iter()
                .map(|u| u["update"].clone())
                .find(|u| u["kind"] == "finished" && u["status"] != "interrupted")
        })
        .await;
    assert_eq!(finished["status"], "completed", "{finished}");
    let request = fixture.model.requests().last().cloned().unwrap();
    let conversation = request["messages"].to_string();
    assert!(
        conversation.contains("shout") && conversation.contains("*** Begin Patch"),
        "the model continues the recorded conversation: {conversation}"
    );
    assert!(conversation.contains("carry on"), "{conversation}");
    // The kept hunks came back from the follow-up's view unchanged.
    let hunks = summary(&proposal(&mut client, &task).await);
    assert_eq!(hunks.len(), 3, "{hunks:?}");
}

/// The conversation a request sends, as one string to search.
fn sent_conversation(request: &Value) -> String {
    request["messages"].to_string()
}

#[tokio::test]
async fn a_fork_takes_the_conversation_and_the_undecided_hunks_and_a_delete_removes_a_task() {
    let (fixture, mut client, task) = three_hunk_task().await;
    let h1 = format!("{task}-1");
    client
        .request(
            "agent/resolveHunks",
            json!({"taskId": task, "accept": [h1]}),
        )
        .await
        .unwrap();

    let fork = fork_task(&mut client, json!({ "taskId": task })).await;
    assert_ne!(fork, task);
    let forked = summary(&proposal(&mut client, &fork).await);
    // Hunks 2 and 3 were undecided: the fork proposes them again, under its own ids, and
    // since they overlap the original's pending hunks they wait for those.
    assert_eq!(
        forked
            .iter()
            .map(|h| (h.0.as_str(), h.1.as_str(), h.2))
            .collect::<Vec<_>>(),
        vec![
            (format!("{fork}-1").as_str(), "conflict", 4),
            (format!("{fork}-2").as_str(), "conflict", 7)
        ]
    );
    let original = summary(&proposal(&mut client, &task).await);
    assert_eq!(
        original[0].1, "accepted",
        "the original is untouched: {original:?}"
    );

    // A fork at turn 1 stops before the model's last answer: a follow-up of it sends the
    // conversation up to the patch, and not the "Capitalised" answer of turn 2.
    let early = fork_task(&mut client, json!({ "taskId": task, "atTurn": 1 })).await;
    fixture.model.push(Reply::text("Forked and done."));
    client
        .request(
            "agent/followUp",
            json!({"taskId": early, "prompt": "try again"}),
        )
        .await
        .unwrap();
    // The fork itself was born finished; this is the follow-up's end.
    let finished = client
        .wait_until("the follow-up of the fork to finish", |c| {
            let ends: Vec<Value> = c
                .updates(&early)
                .into_iter()
                .filter(|u| u["update"]["kind"] == "finished")
                .collect();
            (ends.len() == 2).then(|| ends[1]["update"].clone())
        })
        .await;
    assert_eq!(finished["status"], "completed", "{finished}");
    let sent = sent_conversation(fixture.model.requests().last().unwrap());
    assert!(
        sent.contains("*** Begin Patch") && sent.contains("try again"),
        "{sent}"
    );
    assert!(!sent.contains("Capitalised three lines"), "{sent}");

    assert!(
        client
            .request("agent/forkTask", json!({ "taskId": task, "atTurn": 9 }))
            .await
            .unwrap_err()["message"]
            .as_str()
            .unwrap()
            .contains("between 1 and 2")
    );

    client
        .request("agent/deleteTask", json!({ "taskId": fork }))
        .await
        .unwrap();
    let listed = |tasks: &Value| -> Vec<String> {
        tasks["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["taskId"].as_str().unwrap().to_string())
            .collect()
    };
    let tasks = client.request("agent/listTasks", json!({})).await.unwrap();
    assert!(!listed(&tasks).contains(&fork), "{tasks}");
    assert!(listed(&tasks).contains(&early), "{tasks}");
    // With the fork gone, the original's hunks are alone again.
    client.kill().await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let tasks = client.request("agent/listTasks", json!({})).await.unwrap();
    let mut ids = listed(&tasks);
    ids.sort();
    let mut expected = vec![task.clone(), early.clone()];
    expected.sort();
    assert_eq!(
        ids, expected,
        "the deleted fork stays deleted after a restart"
    );
    assert!(
        !fixture
            .home()
            .join("tasks")
            .join(format!("{fork}.jsonl"))
            .exists()
    );
    let fork_of = client
        .request("agent/getTask", json!({ "taskId": early }))
        .await
        .unwrap();
    assert_eq!(fork_of["status"], "completed", "{fork_of}");
}

#[tokio::test]
async fn an_accept_the_editor_applied_just_before_the_kill_is_kept() {
    let (fixture, mut client, task) = three_hunk_task().await;
    client.open("notes.txt", TEN_LINES).await;
    let h2 = format!("{task}-2");
    client
        .request(
            "agent/resolveHunks",
            json!({"taskId": task, "accept": [h2]}),
        )
        .await
        .unwrap();
    let applied = TEN_LINES.replace("five", "FIVE");
    client
        .wait_until("the editor to apply the accept", |c| {
            (c.text("notes.txt") == applied).then_some(())
        })
        .await;
    // No waiting for the log: the kill may come before the accept is recorded.
    client.kill().await;
    // The editor saved the buffer it had.
    fixture.write("notes.txt", &applied);
    let mut client = fixture.client(ClientOptions::default()).await;
    let hunks = summary(&proposal(&mut client, &task).await);
    assert_eq!(
        hunks
            .iter()
            .map(|h| (h.1.as_str(), h.2))
            .collect::<Vec<_>>(),
        vec![("pending", 1), ("accepted", 4), ("pending", 7)],
        "{hunks:?}"
    );
    let undo = client
        .request("agent/undoHunks", json!({"taskId": task, "hunkIds": [h2]}))
        .await
        .unwrap();
    assert_eq!(undo["hunks"][0]["status"], "pending", "{undo}");
    assert_eq!(fixture.disk("notes.txt").unwrap(), TEN_LINES);
}

// ----- compaction ------------------------------------------------------------------------

/// The scripted server reports 12 input tokens per request; a limit of 10 compacts after
/// every turn.
async fn compacting_client(fixture: &Fixture) -> LspClient {
    LspClient::start_with(
        &fixture.root(),
        fixture.home(),
        ClientOptions::default(),
        json!({ "model_auto_compact_token_limit": 10 }),
    )
    .await
}

#[tokio::test]
async fn a_conversation_past_the_limit_continues_from_a_summary() {
    let fixture = Fixture::new(
        "chat",
        &[("notes.txt", TEN_LINES)],
        vec![
            Reply::tool_call("read_file", json!({ "path": "notes.txt" })),
            Reply::text("SUMMARY: notes.txt has ten lines, one per number."),
            Reply::text("There are ten lines."),
        ],
    )
    .await;
    let mut client = compacting_client(&fixture).await;
    let task = client
        .start_task(json!({ "prompt": "count the lines" }))
        .await;
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    let requests = fixture.model.requests();
    assert_eq!(requests.len(), 3);
    let summary_request = sent_conversation(&requests[1]);
    assert!(
        summary_request.contains("hand-over note"),
        "{summary_request}"
    );
    assert!(
        requests[1]["tools"].is_null(),
        "a summary request offers no tools"
    );
    let after = sent_conversation(&requests[2]);
    assert!(
        after.contains("SUMMARY: notes.txt has ten lines"),
        "{after}"
    );
    assert!(
        after.contains("count the lines"),
        "the user's words stay: {after}"
    );
    assert!(
        !after.contains("seven"),
        "the old tool output is gone: {after}"
    );
    let compacted: Vec<Value> = client
        .updates(&task)
        .into_iter()
        .filter(|u| u["update"]["kind"] == "compacted")
        .collect();
    assert_eq!(compacted.len(), 1, "{compacted:?}");
    assert_eq!(compacted[0]["update"]["inputTokensBefore"], 12);

    // The compacted conversation is what a restart brings back.
    client.kill().await;
    fixture.model.push(Reply::text("Still ten."));
    let mut client = fixture.client(ClientOptions::default()).await;
    client
        .request("agent/followUp", json!({"taskId": task, "prompt": "sure?"}))
        .await
        .unwrap();
    client
        .wait_until("the follow-up to finish", |c| {
            c.updates(&task)
                .into_iter()
                .find(|u| u["update"]["kind"] == "finished")
        })
        .await;
    let resumed = sent_conversation(fixture.model.requests().last().unwrap());
    assert!(
        resumed.contains("SUMMARY: notes.txt") && !resumed.contains("seven"),
        "{resumed}"
    );
}

#[tokio::test]
async fn a_conversation_that_does_not_fit_even_compacted_fails_saying_so() {
    let fixture = Fixture::new(
        "chat",
        &[("notes.txt", TEN_LINES)],
        vec![
            Reply::tool_call("read_file", json!({ "path": "notes.txt" })),
            Reply::text("SUMMARY: read it."),
            // Still 12 tokens after compacting, and the model wants more.
            Reply::tool_call("read_file", json!({ "path": "notes.txt" })),
        ],
    )
    .await;
    let mut client = compacting_client(&fixture).await;
    let task = client.start_task(json!({ "prompt": "count" })).await;
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "failed", "{finished}");
    let summary = finished["summary"].as_str().unwrap();
    assert!(
        summary.contains("does not fit") && summary.contains("even after compacting"),
        "{summary}"
    );
}

#[tokio::test]
async fn compact_task_summarises_a_finished_task_for_its_next_follow_up() {
    let (fixture, mut client, task) = three_hunk_task().await;
    fixture
        .model
        .push(Reply::text("SUMMARY: three lines shouted."));
    client
        .request("agent/compactTask", json!({ "taskId": task }))
        .await
        .unwrap();
    client
        .wait_until("the compaction", |c| {
            c.updates(&task)
                .into_iter()
                .find(|u| u["update"]["kind"] == "compacted")
        })
        .await;
    fixture.model.push(Reply::text("ok"));
    client
        .request("agent/followUp", json!({"taskId": task, "prompt": "again"}))
        .await
        .unwrap();
    client
        .wait_until("the follow-up to finish", |c| {
            let ends = c
                .updates(&task)
                .into_iter()
                .filter(|u| u["update"]["kind"] == "finished")
                .count();
            (ends == 2).then_some(())
        })
        .await;
    let sent = sent_conversation(fixture.model.requests().last().unwrap());
    assert!(
        sent.contains("SUMMARY: three lines shouted") && !sent.contains("*** Begin Patch"),
        "{sent}"
    );
}

// ----- replay ----------------------------------------------------------------------------

#[tokio::test]
async fn replay_reruns_a_task_from_its_log_and_names_the_first_difference() {
    let fixture = Fixture::new(
        "responses",
        &[("notes.txt", TEN_LINES), ("other.txt", "alpha\nbeta\n")],
        vec![
            Reply::tool_call("read_file", json!({ "path": "other.txt" })),
            Reply::tool_call("apply_patch", json!({ "input": THREE_HUNKS })),
            Reply::text("Capitalised three lines."),
        ],
    )
    .await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let task = client.start_task(json!({ "prompt": "shout" })).await;
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    // The user accepts a hunk: the replay still starts from the text the task saw.
    client
        .request(
            "agent/resolveHunks",
            json!({"taskId": task, "accept": [format!("{task}-1")]}),
        )
        .await
        .unwrap();
    client.shutdown().await;
    let served = fixture.model.requests().len();

    let replay =
        crate::support::cli::agentls(&fixture.root(), fixture.home(), &["replay", &task], "");
    let stderr = String::from_utf8_lossy(&replay.stderr);
    assert_eq!(replay.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("matches the recording"), "{stderr}");
    let diff = String::from_utf8_lossy(&replay.stdout);
    assert!(
        diff.contains("-two\n+TWO\n") && diff.contains("+EIGHT"),
        "{diff}"
    );
    assert_eq!(
        fixture.model.requests().len(),
        served,
        "a replay asks no model"
    );

    // A file the task read has changed since: the replay says where it parts.
    fixture.write("other.txt", "alpha\ngamma\n");
    let replay = crate::support::cli::agentls(
        &fixture.root(),
        fixture.home(),
        &["replay", "--json", &task],
        "",
    );
    assert_eq!(replay.status.code(), Some(1));
    let last = String::from_utf8_lossy(&replay.stdout)
        .lines()
        .last()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .unwrap();
    assert_eq!(last["type"], "replay", "{last}");
    assert_eq!(last["matched"], false);
    assert_eq!(last["divergence"]["turn"], 1, "{last}");
    assert_eq!(last["divergence"]["tool"], "read_file");
    assert!(
        last["divergence"]["what"]
            .as_str()
            .unwrap()
            .contains("gamma"),
        "{last}"
    );

    let missing =
        crate::support::cli::agentls(&fixture.root(), fixture.home(), &["replay", "t0"], "");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("agentls tasks list"));
}

#[tokio::test]
async fn a_fork_names_its_origin_in_the_task_list_and_survives_a_restart() {
    let (fixture, mut client, task) = three_hunk_task().await;
    let fork = fork_task(&mut client, json!({ "taskId": task, "atTurn": 1 })).await;
    // A clean exit: every event queued for the logs is written first.
    assert!(client.shutdown().await.success());

    let mut client = fixture.client(ClientOptions::default()).await;
    let tasks = client.request("agent/listTasks", json!({})).await.unwrap();
    let listed = |id: &str| {
        tasks["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["taskId"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not listed: {tasks}"))
    };
    let (original, forked) = (listed(&task), listed(&fork));
    // The original's two turns: the patch, then the answer.
    assert_eq!(original["turns"], 2, "{original}");
    assert!(original.get("forkedFrom").is_none(), "{original}");
    assert_eq!(forked["turns"], 1, "{forked}");
    assert_eq!(
        forked["forkedFrom"],
        json!({ "taskId": task, "atTurn": 1 }),
        "{forked}"
    );
    assert_eq!(forked["prompt"], "shout");
    // The fork is back with the hunks of turn 1, under its own ids.
    let hunks = summary(&proposal(&mut client, &fork).await);
    assert_eq!(hunks.len(), 3, "{hunks:?}");
    assert!(hunks.iter().all(|h| h.0.starts_with(&fork)), "{hunks:?}");
}
