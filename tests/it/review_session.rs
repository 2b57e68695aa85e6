//! End-to-end review sessions over stdio (real `agentls`, scripted editor, scripted model
//! on loopback): parallel tasks in conflict, file operations with and without the
//! client's resource operations, undo, 3-way refresh, follow-ups and proposal paging.

use serde_json::{Value, json};

use crate::support::fixture::Fixture;
use crate::support::lsp_client::{ClientOptions, LspClient};
use crate::support::model_server::Reply;
use crate::support::review::{
    completed_task, file_kinds, hunk, hunk_ids, hunks, proposal, resolve, wait_hunk_update,
    wait_text,
};

const TEN_LINES: &str = "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n";

fn patch(body: &str) -> Value {
    json!({"input": format!("*** Begin Patch\n{body}*** End Patch\n")})
}

/// A task whose model applies `body` (a Codex patch without its envelope) and stops.
fn patch_then_done(body: &str) -> Vec<Reply> {
    vec![
        Reply::tool_call("apply_patch", patch(body)),
        Reply::text("done"),
    ]
}

const CAPS_TWO_AND_EIGHT: &str =
    "*** Update File: notes.txt\n@@\n one\n-two\n+TWO\n three\n@@\n seven\n-eight\n+EIGHT\n nine\n";

#[derive(PartialEq)]
enum Open {
    Yes,
    No,
}

/// A finished task that capitalises lines 2 and 8 of notes.txt (open in the editor or
/// not), and its two hunk ids.
async fn caps_task(open: Open) -> (Fixture, LspClient, String, Vec<String>) {
    let fixture = Fixture::new(
        "chat",
        &[("notes.txt", TEN_LINES)],
        patch_then_done(CAPS_TWO_AND_EIGHT),
    )
    .await;
    let mut client = fixture.client(ClientOptions::default()).await;
    if open == Open::Yes {
        client.open("notes.txt", TEN_LINES).await;
    }
    let task = completed_task(&mut client, "caps").await;
    let ids = hunk_ids(&proposal(&mut client, &task).await);
    (fixture, client, task, ids)
}

// ----- parallel tasks -------------------------------------------------------------------

/// Task A turns line 2 into `TWO`; task B, started after A finished, turns it into `2`
/// and line 8 into `8`.
async fn two_tasks_on_line_two() -> (Fixture, LspClient, String, String) {
    let mut script = patch_then_done(CAPS_TWO_AND_EIGHT.split("@@\n seven").next().unwrap());
    script.extend(patch_then_done(
        "*** Update File: notes.txt\n@@\n one\n-two\n+2\n three\n@@\n seven\n-eight\n+8\n nine\n",
    ));
    let fixture = Fixture::new("chat", &[("notes.txt", TEN_LINES)], script).await;
    let mut client = fixture.client(ClientOptions::default()).await;
    client.open("notes.txt", TEN_LINES).await;
    let a = completed_task(&mut client, "capitalise two").await;
    let b = completed_task(&mut client, "digits").await;
    (fixture, client, a, b)
}

#[tokio::test]
async fn a_later_tasks_overlapping_hunk_is_a_conflict_until_the_earlier_one_is_rejected() {
    let (_fixture, mut client, a, b) = two_tasks_on_line_two().await;
    let (a1, b1, b2) = (format!("{a}-1"), format!("{b}-1"), format!("{b}-2"));
    let b_hunks = hunks(&proposal(&mut client, &b).await);
    assert_eq!(hunk(&b_hunks, &b1)["status"], "conflict", "{b_hunks:?}");
    assert_eq!(
        hunk(&b_hunks, &b1)["conflictsWith"],
        json!({"taskId": a, "hunkId": a1})
    );
    assert_eq!(
        hunk(&b_hunks, &b2)["status"],
        "pending",
        "line 8 is B's alone"
    );
    assert_eq!(
        hunk(&hunks(&proposal(&mut client, &a).await), &a1)["status"],
        "pending",
        "the earlier task's hunk is not the one marked"
    );

    let refused = resolve(&mut client, json!({"taskId": b, "accept": [b1]}))
        .await
        .unwrap_err();
    assert!(
        refused["message"].as_str().unwrap().contains(&a1),
        "the refusal names the other hunk: {refused}"
    );
    assert!(client.applied_edits().is_empty());

    resolve(&mut client, json!({"taskId": a, "reject": [a1]}))
        .await
        .unwrap();
    wait_hunk_update(&client, &b, &b1, "pending").await;
    resolve(&mut client, json!({"taskId": b, "accept": [b1]}))
        .await
        .unwrap();
    wait_text(&client, "notes.txt", &TEN_LINES.replace("two", "2")).await;
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn accepting_the_earlier_hunk_makes_the_conflicting_one_stale_and_refresh_keeps_it_so() {
    let (_fixture, mut client, a, b) = two_tasks_on_line_two().await;
    let (a1, b1) = (format!("{a}-1"), format!("{b}-1"));
    resolve(&mut client, json!({"taskId": a, "accept": [a1]}))
        .await
        .unwrap();
    wait_text(&client, "notes.txt", &TEN_LINES.replace("two", "TWO")).await;
    wait_hunk_update(&client, &b, &b1, "stale").await;

    let refreshed = client
        .request("agent/refreshProposal", json!({"taskId": b}))
        .await
        .unwrap();
    assert_eq!(refreshed["hunks"][0]["hunkId"], b1);
    assert_eq!(
        refreshed["hunks"][0]["status"], "stale",
        "both tasks changed line 2: a real conflict"
    );
    let b_hunks = hunks(&proposal(&mut client, &b).await);
    assert_eq!(
        hunk(&b_hunks, &b1)["currentText"],
        "TWO\n",
        "the user's side"
    );
    assert_eq!(hunk(&b_hunks, &b1)["newText"], "2\n", "the task's side");
    let stale_accept = resolve(&mut client, json!({"taskId": b, "accept": [b1]}))
        .await
        .unwrap();
    assert_eq!(stale_accept["applied"], false);
    assert_eq!(client.text("notes.txt"), TEN_LINES.replace("two", "TWO"));
    assert!(client.shutdown().await.success());
}

// ----- 3-way refresh ----------------------------------------------------------------------

#[tokio::test]
async fn refresh_returns_hunks_a_formatter_rewrote_around_to_pending() {
    let (_fixture, mut client, task, ids) = caps_task(Open::Yes).await;
    // A formatter replaces the whole text in one edit, changing only line 5.
    let formatted = TEN_LINES.replace("five", "five;");
    client.edit("notes.txt", (0, 0), (10, 0), &formatted).await;
    wait_hunk_update(&client, &task, &ids[0], "stale").await;
    wait_hunk_update(&client, &task, &ids[1], "stale").await;

    let refreshed = client
        .request("agent/refreshProposal", json!({"taskId": task}))
        .await
        .unwrap();
    let statuses: Vec<&str> = refreshed["hunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["pending", "pending"], "{refreshed}");
    resolve(&mut client, json!({"taskId": task, "accept": ids}))
        .await
        .unwrap();
    wait_text(
        &client,
        "notes.txt",
        &formatted.replace("two", "TWO").replace("eight", "EIGHT"),
    )
    .await;
    assert!(client.shutdown().await.success());
}

// ----- undo -------------------------------------------------------------------------------

#[tokio::test]
async fn undo_reverts_accepted_hunks_and_refuses_one_whose_text_changed() {
    let (_fixture, mut client, task, ids) = caps_task(Open::Yes).await;
    resolve(&mut client, json!({"taskId": task, "accept": ids}))
        .await
        .unwrap();
    let accepted = TEN_LINES.replace("two", "TWO").replace("eight", "EIGHT");
    wait_text(&client, "notes.txt", &accepted).await;
    wait_hunk_update(&client, &task, &ids[1], "accepted").await;
    client.edit("notes.txt", (7, 5), (7, 5), "!").await;

    let undo = client
        .request(
            "agent/undoHunks",
            json!({"taskId": task, "hunkIds": [ids[0], ids[1]]}),
        )
        .await
        .unwrap();
    assert_eq!(undo["applied"], true);
    assert_eq!(undo["refused"][0]["hunkId"], ids[1], "{undo}");
    assert!(
        undo["refused"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("edited"),
        "{undo}"
    );
    wait_text(&client, "notes.txt", &TEN_LINES.replace("eight", "EIGHT!")).await;
    wait_hunk_update(&client, &task, &ids[0], "pending").await;
    let after = hunks(&proposal(&mut client, &task).await);
    assert_eq!(hunk(&after, &ids[0])["status"], "pending");
    assert_eq!(hunk(&after, &ids[1])["status"], "accepted");
    // The task's history records the accepted batch and what was taken back.
    let history = client
        .request("agent/getTask", json!({ "taskId": task }))
        .await
        .unwrap();
    let decisions: Vec<&Value> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["update"])
        .filter(|u| u["kind"] == "accepted" || u["kind"] == "undone")
        .collect();
    assert_eq!(
        decisions,
        [
            &json!({"kind": "accepted", "batch": 1, "hunkIds": ids}),
            &json!({"kind": "undone", "hunkIds": [ids[0]]}),
        ]
    );

    // Undone is pending again: accepting it once more works.
    resolve(&mut client, json!({"taskId": task, "accept": [ids[0]]}))
        .await
        .unwrap();
    wait_text(
        &client,
        "notes.txt",
        &TEN_LINES.replace("two", "TWO").replace("eight", "EIGHT!"),
    )
    .await;
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn undo_survives_the_editor_closing_and_reopening_the_file() {
    let (fixture, mut client, task, ids) = caps_task(Open::Yes).await;
    resolve(&mut client, json!({"taskId": task, "accept": [ids[0]]}))
        .await
        .unwrap();
    let accepted = TEN_LINES.replace("two", "TWO");
    wait_text(&client, "notes.txt", &accepted).await;
    wait_hunk_update(&client, &task, &ids[0], "accepted").await;
    // The user saves, closes the file and opens it again.
    fixture.write("notes.txt", &accepted);
    client
        .notify(
            "textDocument/didClose",
            json!({"textDocument": {"uri": client.uri("notes.txt")}}),
        )
        .await;
    client.open("notes.txt", &accepted).await;

    let undo = client
        .request(
            "agent/undoHunks",
            json!({"taskId": task, "hunkIds": [ids[0]]}),
        )
        .await
        .unwrap();
    assert!(undo.get("refused").is_none(), "{undo}");
    wait_text(&client, "notes.txt", TEN_LINES).await;
    assert!(client.shutdown().await.success());
}

// ----- files not open, file operations ----------------------------------------------------

#[tokio::test]
async fn hunks_of_files_not_open_are_written_to_disk_only_on_accept_and_undone_there() {
    let (fixture, mut client, task, ids) = caps_task(Open::No).await;
    assert_eq!(
        fixture.disk("notes.txt").unwrap(),
        TEN_LINES,
        "nothing before accept"
    );
    // Someone edits line 8 on disk behind the editor's back.
    fixture.write("notes.txt", &TEN_LINES.replace("eight", "eight (theirs)"));

    let result = resolve(&mut client, json!({"taskId": task, "accept": ids}))
        .await
        .unwrap();
    assert_eq!(result["applied"], false, "no editor round trip: {result}");
    let states: Vec<&str> = result["hunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["accepted", "stale"], "{result}");
    assert_eq!(
        fixture.disk("notes.txt").unwrap(),
        TEN_LINES
            .replace("two", "TWO")
            .replace("eight", "eight (theirs)")
    );
    assert!(client.applied_edits().is_empty());

    let undo = client
        .request(
            "agent/undoHunks",
            json!({"taskId": task, "hunkIds": [ids[0]]}),
        )
        .await
        .unwrap();
    assert!(undo.get("refused").is_none(), "{undo}");
    assert_eq!(
        fixture.disk("notes.txt").unwrap(),
        TEN_LINES.replace("eight", "eight (theirs)")
    );
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn a_file_not_open_that_changes_on_disk_makes_its_hunk_stale_when_the_client_watches() {
    let fixture = Fixture::new(
        "chat",
        &[("notes.txt", TEN_LINES)],
        patch_then_done(CAPS_TWO_AND_EIGHT),
    )
    .await;
    let mut client = fixture
        .client(ClientOptions {
            watch_files: true,
            ..ClientOptions::default()
        })
        .await;
    let task = completed_task(&mut client, "caps").await;
    let ids = hunk_ids(&proposal(&mut client, &task).await);
    let registration = client
        .wait_until("the watcher registration", |c| {
            c.notifications("client/registerCapability")
                .into_iter()
                .next()
        })
        .await;
    let watcher = &registration["registrations"][0];
    assert_eq!(watcher["method"], "workspace/didChangeWatchedFiles");
    assert_eq!(
        watcher["registerOptions"]["watchers"][0]["globPattern"],
        "**/*"
    );

    fixture.write("notes.txt", &TEN_LINES.replace("eight", "eight (theirs)"));
    client
        .notify(
            "workspace/didChangeWatchedFiles",
            json!({"changes": [{"uri": client.uri("notes.txt"), "type": 2}]}),
        )
        .await;
    let stale = wait_hunk_update(&client, &task, &ids[1], "stale").await;
    assert!(stale["reason"].as_str().is_some(), "{stale}");
    let after = hunks(&proposal(&mut client, &task).await);
    assert_eq!(hunk(&after, &ids[0])["status"], "pending");
    assert_eq!(
        hunk(&after, &ids[1])["currentText"],
        "eight (theirs)\n",
        "what the disk holds now"
    );
    assert!(client.shutdown().await.success());
}

const FILE_OPS: &str = "*** Add File: added.txt\n+new\n*** Delete File: gone.txt\n*** Update File: old_name.txt\n*** Move to: new_name.txt\n@@\n keep\n-me\n+me too\n";

async fn file_ops_task(options: ClientOptions) -> (Fixture, LspClient, String) {
    let fixture = Fixture::new(
        "chat",
        &[
            ("gone.txt", "bye\n"),
            ("old_name.txt", "keep\nme\nand\nthe\nrest\n"),
        ],
        patch_then_done(FILE_OPS),
    )
    .await;
    let mut client = fixture.client(options).await;
    let task = completed_task(&mut client, "file ops").await;
    (fixture, client, task)
}

#[tokio::test]
async fn file_operations_go_through_the_editors_resource_operations_when_it_has_them() {
    let (fixture, mut client, task) = file_ops_task(ClientOptions::default()).await;
    let proposal = proposal(&mut client, &task).await;
    assert_eq!(
        file_kinds(&proposal),
        [
            ("added.txt".into(), "create".into()),
            ("gone.txt".into(), "delete".into()),
            ("old_name.txt".into(), "rename".into())
        ]
    );
    let renamed = proposal["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "rename")
        .unwrap();
    assert!(
        renamed["newUri"]
            .as_str()
            .unwrap()
            .ends_with("/new_name.txt")
    );

    resolve(
        &mut client,
        json!({"taskId": task, "accept": hunk_ids(&proposal)}),
    )
    .await
    .unwrap();
    let edit = client
        .wait_until("the applyEdit", |c| c.applied_edits().into_iter().next())
        .await;
    let operations: Vec<&str> = edit["documentChanges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|op| op["kind"].as_str())
        .collect();
    let mut operations = operations.clone();
    operations.sort();
    assert_eq!(operations, ["create", "delete", "rename"], "{edit}");
    assert_eq!(fixture.disk("added.txt").as_deref(), Some("new\n"));
    assert_eq!(fixture.disk("gone.txt"), None);
    assert_eq!(fixture.disk("old_name.txt"), None);
    assert_eq!(
        fixture.disk("new_name.txt").as_deref(),
        Some("keep\nme too\nand\nthe\nrest\n")
    );
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn without_resource_operations_the_server_makes_file_operations_on_disk_and_refuses_changed_files()
 {
    let options = ClientOptions {
        resource_operations: false,
        ..ClientOptions::default()
    };
    let (fixture, mut client, task) = file_ops_task(options).await;
    let all = hunk_ids(&proposal(&mut client, &task).await);
    // gone.txt changed on disk after the task saw it: deleting it would lose that.
    fixture.write("gone.txt", "bye, but edited\n");
    let result = resolve(&mut client, json!({"taskId": task, "accept": all}))
        .await
        .unwrap();
    assert!(
        client.applied_edits().is_empty(),
        "nothing went to the editor"
    );
    assert_eq!(fixture.disk("added.txt").as_deref(), Some("new\n"));
    assert_eq!(
        fixture.disk("gone.txt").as_deref(),
        Some("bye, but edited\n")
    );
    assert_eq!(
        fixture.disk("new_name.txt").as_deref(),
        Some("keep\nme too\nand\nthe\nrest\n")
    );
    assert_eq!(fixture.disk("old_name.txt"), None);
    let after = hunks(&proposal(&mut client, &task).await);
    let stale: Vec<&Value> = after.iter().filter(|h| h["status"] == "stale").collect();
    assert_eq!(stale.len(), 1, "only the delete is refused: {after:?}");
    assert!(
        result["refused"].as_array().is_some_and(|r| r.len() == 1),
        "{result}"
    );
    assert!(client.shutdown().await.success());
}

// ----- follow-up --------------------------------------------------------------------------

#[tokio::test]
async fn a_follow_up_sees_rejections_and_user_edits_and_replaces_the_pending_hunks() {
    let mut script = patch_then_done(
        "*** Update File: notes.txt\n@@\n one\n-two\n+TWO\n three\n@@\n four\n-five\n+FIVE\n six\n@@\n seven\n-eight\n+EIGHT\n nine\n",
    );
    script.extend(patch_then_done(
        "*** Update File: notes.txt\n@@\n nine\n-ten\n+TEN\n",
    ));
    let fixture = Fixture::new("chat", &[("notes.txt", TEN_LINES)], script).await;
    let mut client = fixture.client(ClientOptions::default()).await;
    client.open("notes.txt", TEN_LINES).await;
    let task = completed_task(&mut client, "capitalise two, five and eight").await;
    let ids = hunk_ids(&proposal(&mut client, &task).await);
    assert_eq!(ids.len(), 3);
    resolve(
        &mut client,
        json!({"taskId": task, "reject": [ids[0]], "reason": "two stays lowercase",
               "edits": [{"hunkId": ids[1], "newText": "Five!\n"}]}),
    )
    .await
    .unwrap();
    wait_text(&client, "notes.txt", &TEN_LINES.replace("five", "Five!")).await;
    wait_hunk_update(&client, &task, &ids[1], "accepted").await;

    client
        .request(
            "agent/followUp",
            json!({"taskId": task, "prompt": "also ten"}),
        )
        .await
        .unwrap();
    let finished = client
        .wait_until("the follow-up to finish", |c| {
            let finished: Vec<Value> = c
                .updates(&task)
                .into_iter()
                .filter(|u| u["update"]["kind"] == "finished")
                .collect();
            (finished.len() == 2).then(|| finished[1]["update"].clone())
        })
        .await;
    assert_eq!(finished["status"], "completed", "{finished}");

    let requests = fixture.model.requests();
    let follow_up = serde_json::to_string(&requests[2]["messages"]).unwrap();
    assert!(
        follow_up.contains("capitalise two, five and eight"),
        "the earlier conversation"
    );
    assert!(
        follow_up.contains("two stays lowercase"),
        "the rejection reason"
    );
    assert!(follow_up.contains("Five!"), "the user's own version");
    assert!(follow_up.contains("also ten"));

    let after = hunks(&proposal(&mut client, &task).await);
    assert_eq!(hunk(&after, &ids[0])["status"], "rejected");
    assert_eq!(hunk(&after, &ids[0])["reason"], "two stays lowercase");
    assert_eq!(hunk(&after, &ids[1])["newText"], "Five!\n");
    assert_eq!(hunk(&after, &ids[1])["proposedText"], "FIVE\n");
    assert!(
        after.iter().all(|h| h["hunkId"] != ids[2]),
        "the old pending hunk was replaced: {after:?}"
    );
    let pending: Vec<(&str, &str)> = after
        .iter()
        .filter(|h| h["status"] == "pending")
        .map(|h| {
            (
                h["oldText"].as_str().unwrap(),
                h["newText"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(pending, [("eight\n", "EIGHT\n"), ("ten\n", "TEN\n")]);
    let numbers: Vec<u32> = after
        .iter()
        .map(|h| {
            h["hunkId"]
                .as_str()
                .unwrap()
                .rsplit('-')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(
        numbers.iter().all(|n| *n != 3),
        "ids are never reused: {numbers:?}"
    );
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn a_follow_up_that_fails_leaves_the_hunks_under_review_as_they_were() {
    let mut script = patch_then_done(CAPS_TWO_AND_EIGHT);
    script.push(Reply::Status(400, "the model does not exist".into()));
    let fixture = Fixture::new("chat", &[("notes.txt", TEN_LINES)], script).await;
    let mut client = fixture.client(ClientOptions::default()).await;
    client.open("notes.txt", TEN_LINES).await;
    let task = completed_task(&mut client, "caps").await;
    let before = proposal(&mut client, &task).await;
    client
        .request("agent/followUp", json!({"taskId": task, "prompt": "more"}))
        .await
        .unwrap();
    let finished = client
        .wait_until("the follow-up to finish", |c| {
            let finished: Vec<Value> = c
                .updates(&task)
                .into_iter()
                .filter(|u| u["update"]["kind"] == "finished")
                .collect();
            (finished.len() == 2).then(|| finished[1]["update"].clone())
        })
        .await;
    assert_eq!(finished["status"], "failed", "{finished}");
    assert_eq!(proposal(&mut client, &task).await, before);
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn a_follow_up_of_a_running_task_is_refused_and_nothing_changes() {
    let script = vec![Reply::stall(
        std::time::Duration::from_secs(5),
        Reply::text("slow"),
    )];
    let fixture = Fixture::new("chat", &[("notes.txt", TEN_LINES)], script).await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let task = client.start_task(json!({"prompt": "slowly"})).await;
    let refused = client
        .request("agent/followUp", json!({"taskId": task, "prompt": "more"}))
        .await
        .unwrap_err();
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("still running"),
        "{refused}"
    );
    client
        .request("agent/cancelTask", json!({"taskId": task}))
        .await
        .unwrap();
    assert_eq!(client.wait_finished(&task).await["status"], "cancelled");
    assert!(client.shutdown().await.success());
}

// ----- paging -----------------------------------------------------------------------------

#[tokio::test]
async fn long_proposals_come_in_pages_and_one_file_can_be_asked_for() {
    let files: Vec<(String, String)> = (0..3)
        .map(|i| (format!("f{i}.txt"), TEN_LINES.to_string()))
        .collect();
    let body: String = (0..3)
        .map(|i| format!("*** Update File: f{i}.txt\n@@\n one\n-two\n+TWO\n three\n@@\n four\n-five\n+FIVE\n six\n@@\n seven\n-eight\n+EIGHT\n nine\n"))
        .collect();
    let file_refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let fixture = Fixture::new("chat", &file_refs, patch_then_done(&body)).await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let task = completed_task(&mut client, "caps everywhere").await;

    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    let mut pages = 0;
    loop {
        let page = client
            .request(
                "agent/getProposal",
                json!({"taskId": task, "limit": 2, "cursor": cursor}),
            )
            .await
            .unwrap();
        pages += 1;
        assert_eq!(page["totalHunks"], 9);
        assert_eq!(page["totalFiles"], 3);
        let here = hunk_ids(&page);
        assert!(here.len() <= 2, "{page}");
        seen.extend(here);
        match page.get("nextCursor") {
            Some(next) => cursor = next.clone(),
            None => break,
        }
    }
    assert_eq!(pages, 5);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 9, "every hunk exactly once: {seen:?}");

    let one = client
        .request(
            "agent/getProposal",
            json!({"taskId": task, "uri": client.uri("f1.txt")}),
        )
        .await
        .unwrap();
    assert_eq!(one["files"].as_array().unwrap().len(), 1);
    assert!(
        one["files"][0]["uri"]
            .as_str()
            .unwrap()
            .ends_with("/f1.txt")
    );
    assert_eq!(hunk_ids(&one).len(), 3);

    let bad = client
        .request(
            "agent/getProposal",
            json!({"taskId": task, "cursor": "not-a-cursor"}),
        )
        .await
        .unwrap_err();
    assert!(
        bad["message"].as_str().unwrap().contains("nextCursor"),
        "{bad}"
    );
    assert!(client.shutdown().await.success());
}

// ----- code actions -------------------------------------------------------------------------

#[tokio::test]
async fn an_accepted_hunk_offers_undo_and_file_wide_actions_name_the_file() {
    let (_fixture, mut client, task, ids) = caps_task(Open::Yes).await;
    let uri = client.uri("notes.txt");
    let at_line = |line: u32| json!({"textDocument": {"uri": uri}, "range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}}, "context": {"diagnostics": []}});

    let actions = client
        .request("textDocument/codeAction", at_line(7))
        .await
        .unwrap();
    let accept_all = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "Accept all 2 hunks of caps in this file")
        .unwrap();
    assert_eq!(
        accept_all["command"]["arguments"][0],
        json!({"taskId": task, "hunkIds": [], "uri": uri})
    );

    resolve(&mut client, json!({"taskId": task, "accept": [ids[1]]}))
        .await
        .unwrap();
    wait_text(&client, "notes.txt", &TEN_LINES.replace("eight", "EIGHT")).await;
    wait_hunk_update(&client, &task, &ids[1], "accepted").await;
    let actions = client
        .request("textDocument/codeAction", at_line(7))
        .await
        .unwrap();
    let undo = &actions[0];
    assert_eq!(
        undo["title"], "Undo accept: eight → EIGHT (caps)",
        "{actions}"
    );
    assert_eq!(undo["kind"], "source.agent.undo");
    client
        .request(
            "workspace/executeCommand",
            json!({"command": undo["command"]["command"], "arguments": undo["command"]["arguments"]}),
        )
        .await
        .unwrap();
    wait_text(&client, "notes.txt", TEN_LINES).await;
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn an_accept_neovim_reports_in_two_changes_is_confirmed_and_can_be_undone() {
    let fixture = Fixture::new(
        "chat",
        &[("notes.txt", TEN_LINES)],
        patch_then_done("*** Update File: notes.txt\n@@\n eight\n-nine\n-ten\n+NINE\n+and TEN\n"),
    )
    .await;
    let options = ClientOptions {
        split_line_edits: true,
        ..ClientOptions::default()
    };
    let mut client = fixture.client(options).await;
    client.open("notes.txt", TEN_LINES).await;
    let task = completed_task(&mut client, "shout the end").await;
    let id = format!("{task}-1");
    resolve(&mut client, json!({"taskId": task, "accept": [id]}))
        .await
        .unwrap();
    let accepted = TEN_LINES.replace("nine\nten\n", "NINE\nand TEN\n");
    wait_text(&client, "notes.txt", &accepted).await;
    wait_hunk_update(&client, &task, &id, "accepted").await;
    // Confirmed, so it can be undone (an edit still in flight could not be).
    let undo = client
        .request("agent/undoHunks", json!({"taskId": task, "hunkIds": [id]}))
        .await
        .unwrap();
    assert_eq!(undo["applied"], true, "{undo}");
    wait_text(&client, "notes.txt", TEN_LINES).await;
}
