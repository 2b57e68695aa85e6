//! `agent/importDiff` end to end: the real binary over stdio, a scripted editor, diffs
//! from text, a git ref and cloud task payloads, placed against open buffers (unsaved
//! text included) and closed files on disk, reviewed hunk by hunk.

use serde_json::{Value, json};

use crate::support::fixture::Fixture;
use crate::support::lsp_client::{ClientOptions, LspClient};
use crate::support::review::{file, proposal};
use crate::support::tree::git;

const TEN_LINES: &str = "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n";

/// Changes `three` and `eight` of TEN_LINES in notes.txt, and a line of other.txt that the
/// user has since rewritten.
const DIFF: &str = "diff --git a/notes.txt b/notes.txt\nindex 1111111..2222222 100644\n--- a/notes.txt\n+++ b/notes.txt\n\
@@ -2,3 +2,3 @@\n two\n-three\n+THREE\n four\n@@ -7,3 +7,3 @@\n seven\n-eight\n+EIGHT\n nine\n\
diff --git a/other.txt b/other.txt\n--- a/other.txt\n+++ b/other.txt\n@@ -1,3 +1,3 @@\n alpha\n-beta\n+BETA\n gamma\n";

async fn import(client: &mut LspClient, params: Value) -> (String, Value) {
    let result = client
        .request("agent/importDiff", params)
        .await
        .expect("agent/importDiff failed");
    let task_id = result["taskId"].as_str().unwrap().to_string();
    let finished = client.wait_finished(&task_id).await;
    (task_id, finished)
}

#[tokio::test]
async fn a_diff_is_placed_in_unsaved_buffers_and_unplaceable_hunks_are_conflicts() {
    let fixture = Fixture::new(
        "chat",
        &[
            ("notes.txt", TEN_LINES),
            ("other.txt", "alpha\nBETA!\ngamma\n"),
        ],
        vec![],
    )
    .await;
    let mut client = fixture.client(ClientOptions::default()).await;
    // Unsaved: a line above everything the diff knows about.
    client
        .open("notes.txt", &format!("zero\n{TEN_LINES}"))
        .await;

    let (task_id, finished) = import(&mut client, json!({"diff": DIFF})).await;
    assert_eq!(finished["status"], "completed", "{finished:#}");
    let messages: String = client
        .updates(&task_id)
        .iter()
        .filter(|u| u["update"]["kind"] == "message")
        .map(|u| u["update"]["delta"].as_str().unwrap().to_string())
        .collect();
    assert!(
        messages.contains("2 hunks: 1 at offset +1, 1 at offset +1"),
        "{messages}"
    );

    let proposal = proposal(&mut client, &task_id).await;
    let notes = file(&proposal, &client.uri("notes.txt"));
    let hunks = notes["hunks"].as_array().unwrap();
    assert_eq!(hunks.len(), 2);
    assert_eq!(
        hunks[0]["range"]["start"]["line"], 3,
        "placed in the buffer, not the disk"
    );
    assert_eq!(hunks[0]["oldText"], "three\n");
    assert_eq!(hunks[0]["newText"], "THREE\n");
    assert_eq!(hunks[0]["status"], "pending");

    let other = file(&proposal, &client.uri("other.txt"));
    let conflict = &other["hunks"][0];
    assert_eq!(conflict["status"], "conflict");
    assert_eq!(
        conflict["oldText"], "alpha\nBETA!\ngamma\n",
        "the current text"
    );
    assert_eq!(
        conflict["newText"], "alpha\nBETA\ngamma\n",
        "the incoming text"
    );
    assert!(
        conflict["reason"]
            .as_str()
            .unwrap()
            .contains("The diff expected here:\nalpha\nbeta\ngamma\n"),
        "{conflict:#}"
    );

    let refused = client
        .request(
            "agent/resolveHunks",
            json!({"taskId": task_id, "accept": [conflict["hunkId"], hunks[0]["hunkId"]]}),
        )
        .await
        .expect_err("accepting a conflict must be refused");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("conflict hunk"),
        "{refused:#}"
    );
    assert_eq!(
        client.text("notes.txt"),
        format!("zero\n{TEN_LINES}"),
        "nothing applied"
    );

    client
        .request(
            "agent/resolveHunks",
            json!({"taskId": task_id, "accept": [hunks[0]["hunkId"]], "reject": [conflict["hunkId"]]}),
        )
        .await
        .unwrap();
    client
        .wait_until("the accepted hunk in the buffer", |c| {
            c.text("notes.txt").contains("THREE").then_some(())
        })
        .await;
    assert_eq!(fixture.disk("other.txt").unwrap(), "alpha\nBETA!\ngamma\n");
}

#[tokio::test]
async fn a_git_ref_is_merged_three_way_when_its_context_changed() {
    let fixture = Fixture::new("chat", &[("notes.txt", TEN_LINES)], vec![]).await;
    let root = fixture.root();
    git(&root, &["init", "-q", "-b", "main"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "base"]);
    git(&root, &["checkout", "-q", "-b", "cloud"]);
    fixture.write("notes.txt", &TEN_LINES.replace("five", "FIVE"));
    git(&root, &["commit", "-q", "-am", "cloud change"]);
    git(&root, &["checkout", "-q", "main"]);
    // The user rewrote the lines around the change: no context matches any more.
    fixture.write(
        "notes.txt",
        &TEN_LINES.replace("three", "3").replace("seven", "7"),
    );

    let mut client = fixture.client(ClientOptions::default()).await;
    let (task_id, finished) = import(&mut client, json!({"gitRef": "cloud"})).await;
    assert_eq!(finished["status"], "completed", "{finished:#}");
    let proposal = proposal(&mut client, &task_id).await;
    let hunks = file(&proposal, &client.uri("notes.txt"))["hunks"].clone();
    assert_eq!(hunks.as_array().unwrap().len(), 1, "{proposal:#}");
    assert_eq!(hunks[0]["status"], "pending");
    assert_eq!(hunks[0]["oldText"], "five\n");
    assert_eq!(hunks[0]["newText"], "FIVE\n");
    assert_eq!(hunks[0]["range"]["start"]["line"], 4);
}

#[tokio::test]
async fn cloud_task_payloads_import_their_diff_or_report_their_error() {
    let fixture = Fixture::new("chat", &[("lib.rs", "fn a() {}\n")], vec![]).await;
    let mut client = fixture.client(ClientOptions::default()).await;

    let payload = json!({
        "task": {"id": "task_1"},
        "current_diff_task_turn": {"output_items": [{
            "type": "output_diff",
            "diff": "diff --git a/lib.rs b/lib.rs\n--- a/lib.rs\n+++ b/lib.rs\n@@ -1 +1,2 @@\n fn a() {}\n+fn b() {}\n"
        }]}
    });
    let (task_id, finished) = import(&mut client, json!({"cloudTask": payload})).await;
    assert_eq!(finished["status"], "completed", "{finished:#}");
    let proposal = proposal(&mut client, &task_id).await;
    assert_eq!(proposal["files"][0]["hunks"][0]["newText"], "fn b() {}\n");

    let failed = json!({
        "task": {"id": "task_456"},
        "current_assistant_turn": {"output_items": [],
            "error": {"code": "APPLY_FAILED", "message": "Patch could not be applied"}}
    });
    let (_, finished) = import(&mut client, json!({"cloudTask": failed})).await;
    assert_eq!(finished["status"], "failed");
    assert_eq!(
        finished["summary"],
        "the cloud task failed (APPLY_FAILED): Patch could not be applied"
    );

    let malformed = json!({"current_diff_task_turn": {"output_items": [{
        "type": "output_diff", "diff": "diff --git a/lib.rs b/lib.rs\n+fn main() {}\n"}]}});
    let (_, finished) = import(&mut client, json!({"cloudTask": malformed})).await;
    assert_eq!(finished["status"], "failed");
    assert!(
        finished["summary"]
            .as_str()
            .unwrap()
            .starts_with("diff line 2:"),
        "{finished:#}"
    );
}

#[tokio::test]
async fn import_needs_exactly_one_source() {
    let fixture = Fixture::new("chat", &[], vec![]).await;
    let mut client = fixture.client(ClientOptions::default()).await;
    for params in [json!({}), json!({"diff": "x", "url": "http://localhost/"})] {
        let error = client
            .request("agent/importDiff", params)
            .await
            .expect_err("must be refused");
        assert!(
            error["message"].as_str().unwrap().contains("exactly one"),
            "{error:#}"
        );
    }
}
