//! Driving a review from the scripted editor: running a task, asking for its proposal,
//! resolving hunks, waiting for the editor's text or a hunk's status, and reading hunks
//! out of the proposal's JSON (shapes as in docs/protocol.md).

use serde_json::{Value, json};

use super::lsp_client::LspClient;

/// Starts a task with `prompt` and waits for it to end: its id and its final `status`
/// update.
pub async fn run_task(client: &mut LspClient, prompt: &str) -> (String, Value) {
    let task = client.start_task(json!({ "prompt": prompt })).await;
    let finished = client.wait_finished(&task).await;
    (task, finished)
}

/// [`run_task`] for a task that must complete: its id.
pub async fn completed_task(client: &mut LspClient, prompt: &str) -> String {
    let (task, finished) = run_task(client, prompt).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    task
}

/// `agent/getProposal` for the whole task (its first page). Requests are answered after
/// the notifications sent before them are applied, so the proposal reflects every edit
/// the editor reported so far.
pub async fn proposal(client: &mut LspClient, task: &str) -> Value {
    client
        .request("agent/getProposal", json!({ "taskId": task }))
        .await
        .unwrap()
}

/// Every hunk of a proposal, file by file.
pub fn hunks(proposal: &Value) -> Vec<Value> {
    proposal["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["hunks"].as_array().unwrap().clone())
        .collect()
}

/// Every hunk id of a proposal, file by file.
pub fn hunk_ids(proposal: &Value) -> Vec<String> {
    hunks(proposal)
        .iter()
        .map(|h| h["hunkId"].as_str().unwrap().to_string())
        .collect()
}

/// The hunk with `id`; fails the test if there is none.
pub fn hunk<'a>(hunks: &'a [Value], id: &str) -> &'a Value {
    hunks
        .iter()
        .find(|h| h["hunkId"] == id)
        .unwrap_or_else(|| panic!("no hunk {id} in {hunks:?}"))
}

/// The proposal's file at `uri`; fails the test if there is none.
pub fn file<'a>(proposal: &'a Value, uri: &str) -> &'a Value {
    proposal["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["uri"] == uri)
        .unwrap_or_else(|| panic!("no {uri} in {proposal:#}"))
}

/// The `kind` of the proposal's file whose URI ends with `suffix`, if there is one.
pub fn kind_of(proposal: &Value, suffix: &str) -> Option<String> {
    proposal["files"]
        .as_array()?
        .iter()
        .find(|f| f["uri"].as_str().unwrap_or_default().ends_with(suffix))
        .map(|f| f["kind"].as_str().unwrap_or_default().to_string())
}

/// `agent/resolveHunks` with `params` (`taskId`, `accept`, `reject`, …).
pub async fn resolve(client: &mut LspClient, params: Value) -> Result<Value, Value> {
    client.request("agent/resolveHunks", params).await
}

/// Waits until the editor's buffer of `rel` reads `expected`.
pub async fn wait_text(client: &LspClient, rel: &str, expected: &str) {
    client
        .wait_until(&format!("{rel} to read {expected:?}"), |c| {
            (c.text(rel) == expected).then_some(())
        })
        .await;
}

/// Waits for a `hunks` update of `task` that reports `hunk_id` with `status`; returns
/// that hunk's entry.
pub async fn wait_hunk_update(
    client: &LspClient,
    task: &str,
    hunk_id: &str,
    status: &str,
) -> Value {
    client
        .wait_until(&format!("{hunk_id} to become {status}"), |c| {
            c.updates(task)
                .into_iter()
                .filter(|u| u["update"]["kind"] == "hunks")
                .flat_map(|u| u["update"]["hunks"].as_array().unwrap().clone())
                .find(|h| h["hunkId"] == hunk_id && h["status"] == status)
        })
        .await
}

/// Each file of a proposal by its name (the URI's last part) with its kind, sorted.
pub fn file_kinds(proposal: &Value) -> Vec<(String, String)> {
    let mut kinds: Vec<(String, String)> = proposal["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let uri = f["uri"].as_str().unwrap();
            let name = uri.rsplit('/').next().unwrap().to_string();
            (name, f["kind"].as_str().unwrap().to_string())
        })
        .collect();
    kinds.sort();
    kinds
}
