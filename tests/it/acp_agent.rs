//! `agentls acp` driven by a real ACP client: the official TypeScript SDK
//! (`tests/acp/sdk-client.mjs`, installed by scripts/install-test-deps.sh), whose client
//! side rejects any request or notification that does not match the protocol's schema.
//! The model is the scripted server. What a Zed user relies on: edits (patches and `sed`
//! alike) arrive as diffs and then as `fs/write_text_file` with the exact new text while
//! agentls writes nothing itself; reads see the editor's unsaved text; the next turn
//! knows which file the user reverted; approvals, cancel, history, and a client without
//! `fs/*`; bad input costs nothing, and a client that vanishes leaves nothing running.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::fixture::Fixture;
use crate::support::model_server::{Reply, tool_outputs};
use crate::support::processes_running;
use crate::support::tree::git;

fn sdk() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../target/test-deps/acp-client/node_modules/@agentclientprotocol/sdk/dist/v1/stable/acp.js",
    );
    assert!(
        path.exists(),
        "@agentclientprotocol/sdk is missing: run scripts/install-test-deps.sh"
    );
    path
}

/// Plays `scenario` of the SDK client against `agentls acp` in the fixture's workspace.
async fn play(fixture: &Fixture, scenario: &str, args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/acp/sdk-client.mjs");
    let running = tokio::process::Command::new("node")
        .arg(script)
        .arg(scenario)
        .args(args)
        .env("AGENTLS_BIN", env!("CARGO_BIN_EXE_agentls"))
        .env("ACP_SDK", sdk())
        .env("WORKSPACE", fixture.root())
        .env("AGENTLS_HOME", fixture.home())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), running)
        .await
        .unwrap_or_else(|_| panic!("the SDK client's scenario `{scenario}` hung"))
        .expect("cannot run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the SDK client failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    // Every message agentls sent matched the schema. The one complaint allowed is about
    // our answer to a malformed line, which has `id: null` as JSON-RPC wants.
    let invalid: Vec<&Value> = seen["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            !e.as_str()
                .unwrap()
                .contains("Got response to unknown request null")
        })
        .collect();
    assert!(
        invalid.is_empty(),
        "the SDK found invalid messages: {invalid:?}"
    );
    seen
}

fn with_config(fixture: &Fixture, extra: &str) {
    let path = fixture.home().join("config.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{extra}\n{config}")).unwrap();
}

fn patch(path: &str, old: &str, new: &str) -> Reply {
    Reply::tool_call(
        "apply_patch",
        json!({"input": format!("*** Begin Patch\n*** Update File: {path}\n@@\n-{old}\n+{new}\n*** End Patch\n")}),
    )
}

fn shell(script: &str) -> Reply {
    Reply::tool_call("shell", json!({"command": ["bash", "-c", script]}))
}

fn updates<'a>(seen: &'a Value, kind: &str) -> Vec<&'a Value> {
    seen["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["update"])
        .filter(|u| u["sessionUpdate"] == kind)
        .collect()
}

/// Everything the agent said, as one text.
fn said(seen: &Value) -> String {
    updates(seen, "agent_message_chunk")
        .iter()
        .map(|u| u["content"]["text"].as_str().unwrap())
        .collect()
}

/// The text of the last user message of a chat request.
fn last_user_message(request: &Value) -> String {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The model request of a prompt `asked` after the user kept the edit of a.txt and
/// reverted that of c.txt: it says so, then asks.
fn told_kept_a_reverted_c(request: &Value, asked: &str) {
    let told = last_user_message(request);
    assert!(
        told.contains("Accepted as you proposed them: 1 hunk(s)"),
        "{told}"
    );
    assert!(
        told.contains("Rejected") && told.contains("- c.txt: replacing"),
        "{told}"
    );
    assert!(!told.contains("- a.txt"), "{told}");
    assert!(told.ends_with(asked), "{told}");
}

#[tokio::test]
async fn edits_reach_the_editor_and_the_next_turn_knows_what_was_reverted() {
    let fixture = Fixture::new(
        "chat",
        &[
            ("a.txt", "alpha\n"),
            ("c.txt", "x = 1\n"),
            ("notes.txt", "notes on disk\n"),
        ],
        vec![
            Reply::tool_call("read_file", json!({"path": "notes.txt"})),
            Reply::tool_call(
                "update_plan",
                json!({"plan": [{"step": "edit a", "status": "in_progress"}, {"step": "edit c", "status": "pending"}]}),
            ),
            patch("a.txt", "alpha", "ALPHA"),
            shell("sed -i 's/x = 1/x = 2/' c.txt"),
            Reply::text("Changed a and c."),
            Reply::text("Tidied."),
            Reply::text("Once more."),
        ],
    )
    .await;
    with_config(&fixture, "model_context_window = 100000");
    let seen = play(&fixture, "edits", &[]).await;
    let root = fixture.root();
    let abs = |rel: &str| root.join(rel).display().to_string();

    assert_eq!(seen["init"]["protocolVersion"], 1);
    assert_eq!(seen["init"]["agentInfo"]["name"], "agentls");
    assert_eq!(seen["init"]["agentCapabilities"]["loadSession"], true);
    assert_eq!(
        seen["init"]["authMethods"],
        json!([]),
        "a local provider needs no key"
    );
    assert_eq!(seen["session"]["modes"]["currentModeId"], "code");
    assert_eq!(seen["first"]["stopReason"], "end_turn");

    // The model read the editor's unsaved text of the attached file, not the disk's.
    let requests = fixture.model.requests();
    assert!(
        tool_outputs(&requests[1])[0].contains("unsaved notes"),
        "{:?}",
        tool_outputs(&requests[1])
    );

    // The edit is a tool call of kind edit with its diff, then a write of the exact text.
    let calls = updates(&seen, "tool_call");
    let edit = calls.iter().find(|c| c["kind"] == "edit").expect("an edit");
    assert_eq!(edit["title"], "Edit a.txt");
    assert_eq!(edit["locations"][0]["path"], abs("a.txt"));
    let edit_done = updates(&seen, "tool_call_update")
        .into_iter()
        .find(|u| u["toolCallId"] == edit["toolCallId"])
        .unwrap()
        .clone();
    assert_eq!(edit_done["status"], "completed");
    assert_eq!(
        edit_done["content"][0],
        json!({"type": "diff", "path": abs("a.txt"), "oldText": "alpha\n", "newText": "ALPHA\n"})
    );
    let run = calls
        .iter()
        .find(|c| c["kind"] == "execute")
        .expect("a command");
    assert_eq!(run["title"], "Run sed -i 's/x = 1/x = 2/' c.txt");
    let run_done = updates(&seen, "tool_call_update")
        .into_iter()
        .find(|u| u["toolCallId"] == run["toolCallId"])
        .unwrap()
        .clone();
    assert_eq!(
        run_done["content"][0]["type"], "diff",
        "the sed edit is a diff too"
    );
    assert_eq!(run_done["content"][0]["newText"], "x = 2\n");
    assert_eq!(updates(&seen, "plan")[0]["entries"][0]["content"], "edit a");
    assert!(!updates(&seen, "usage_update").is_empty());
    let said = said(&seen);
    assert!(said.contains("Changed a and c."), "{said}");

    let writes = seen["writes"].as_array().unwrap();
    assert_eq!(
        writes[..2],
        [
            json!({"path": abs("a.txt"), "content": "ALPHA\n"}),
            json!({"path": abs("c.txt"), "content": "x = 2\n"}),
        ]
    );
    // agentls itself wrote nothing: the editor owns the files (this one does not save).
    assert_eq!(seen["disk"], json!({"a": "alpha\n", "c": "x = 1\n"}));

    // Bad input costs one answer and the session goes on.
    assert_eq!(seen["unknown"]["code"], -32601);
    assert_eq!(seen["second"]["stopReason"], "end_turn");

    // The second turn was told the user kept a.txt and reverted c.txt.
    told_kept_a_reverted_c(&requests[5], "now tidy up");

    let sessions = seen["list"]["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["sessionId"], seen["session"]["sessionId"]);
    assert_eq!(sessions[0]["title"], "update a and c");
    assert_eq!(seen["exit"]["code"], 0);

    // A later agentls loads the session: the conversation is replayed, then it goes on.
    let loaded = play(&fixture, "load", &[]).await;
    assert_eq!(loaded["loaded"]["modes"]["currentModeId"], "code");
    let replayed: Vec<&Value> = loaded["updates"].as_array().unwrap()
        [..loaded["replayed"].as_u64().unwrap() as usize]
        .iter()
        .map(|n| &n["update"])
        .collect();
    assert_eq!(replayed[0]["sessionUpdate"], "user_message_chunk");
    assert_eq!(replayed[0]["content"]["text"], "update a and c");
    let replayed_text: String = replayed
        .iter()
        .filter(|u| u["sessionUpdate"] == "agent_message_chunk")
        .map(|u| u["content"]["text"].as_str().unwrap())
        .collect();
    assert!(
        replayed_text.contains("Changed a and c."),
        "{replayed_text}"
    );
    assert!(replayed.iter().any(
        |u| u["sessionUpdate"] == "user_message_chunk" && u["content"]["text"] == "now tidy up"
    ));
    assert_eq!(loaded["next"]["stopReason"], "end_turn");
    assert!(
        last_user_message(&fixture.model.requests()[6]).ends_with("and once more"),
        "the loaded session continues its conversation"
    );
    assert_eq!(loaded["missing"]["code"], -32002);
}

#[tokio::test]
async fn permissions_go_through_request_permission_with_the_diff() {
    let fixture = Fixture::new(
        "chat",
        &[("a.txt", "one\n"), ("b.txt", "two\n")],
        vec![
            patch("a.txt", "one", "ONE"),
            patch("b.txt", "two", "TWO"),
            Reply::text("Done."),
            patch("a.txt", "ONE", "uno"),
            Reply::text("never read"),
        ],
    )
    .await;
    with_config(&fixture, "approval_policy = \"untrusted\"");
    let seen = play(&fixture, "permissions", &[]).await;
    let root = fixture.root();
    let asked = seen["permissions"].as_array().unwrap();
    assert_eq!(asked.len(), 3, "{asked:?}");
    let options: Vec<&Value> = asked[0]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["kind"])
        .collect();
    assert_eq!(options, ["allow_once", "allow_always", "reject_once"]);
    assert_eq!(asked[0]["toolCall"]["kind"], "edit");
    assert_eq!(asked[0]["toolCall"]["title"], "Edit a.txt");
    assert_eq!(
        asked[0]["toolCall"]["content"][0],
        json!({"type": "diff", "path": root.join("a.txt").display().to_string(), "oldText": "one\n", "newText": "ONE\n"})
    );
    // Allowed: written through the editor. Rejected: not applied, the model told so.
    let writes = seen["writes"].as_array().unwrap();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0]["content"], "ONE\n");
    let outputs = tool_outputs(&fixture.model.requests()[2]);
    assert!(outputs[1].to_lowercase().contains("denied"), "{outputs:?}");
    assert_eq!(seen["stop"]["stopReason"], "end_turn");
    // A question the client cancels cancels the turn: nothing more is asked of the model.
    assert_eq!(seen["cancelled"]["stopReason"], "cancelled");
    assert_eq!(fixture.model.requests().len(), 4);
    assert_eq!(seen["writes"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn cancel_ends_the_turn_within_two_seconds_and_kills_the_command() {
    let fixture = Fixture::new(
        "chat",
        &[("a.txt", "a\n")],
        vec![shell("sleep 37.25"), Reply::text("never read")],
    )
    .await;
    let seen = play(&fixture, "cancel", &[]).await;
    assert_eq!(seen["stop"]["stopReason"], "cancelled");
    assert!(
        seen["cancelMs"].as_u64().unwrap() < 2000,
        "cancel took {} ms",
        seen["cancelMs"]
    );
    assert!(!processes_running("sleep 37.25"), "the command was killed");
}

#[tokio::test]
async fn without_fs_the_change_goes_to_disk_or_nowhere_as_acp_write_says() {
    let fixture = Fixture::new(
        "chat",
        &[("a.txt", "one\n")],
        vec![
            patch("a.txt", "one", "ONE"),
            Reply::text("Done."),
            patch("a.txt", "ONE", "uno"),
            Reply::text("Done again."),
        ],
    )
    .await;
    let seen = play(&fixture, "nofs", &[]).await;
    assert_eq!(seen["stop"]["stopReason"], "end_turn");
    assert_eq!(
        seen["disk"]["a"], "ONE\n",
        "acp_write = \"disk\" by default"
    );
    assert!(seen["writes"].as_array().unwrap().is_empty());
    assert!(seen["reads"].as_array().unwrap().is_empty());

    let seen = play(&fixture, "nofs", &["-c", "acp_write=\"none\""]).await;
    assert_eq!(
        seen["disk"]["a"], "ONE\n",
        "acp_write = \"none\" writes nothing"
    );
    let said = said(&seen);
    assert!(said.contains("nothing written"), "{said}");
}

#[tokio::test]
async fn a_file_the_model_opens_is_read_from_the_editor() {
    let fixture = Fixture::new(
        "chat",
        &[("notes.txt", "notes on disk\n")],
        vec![
            // A command first: its directory exists before the model opens the file.
            shell("ls"),
            Reply::tool_call("read_file", json!({"path": "notes.txt"})),
            shell("cat notes.txt"),
            patch("notes.txt", "unsaved notes", "fixed notes"),
            Reply::text("Fixed."),
        ],
    )
    .await;
    let seen = play(&fixture, "unsaved", &[]).await;
    let root = fixture.root();
    assert_eq!(seen["stop"]["stopReason"], "end_turn");
    let requests = fixture.model.requests();
    // The prompt attached nothing: the read itself went to the editor.
    let outputs = tool_outputs(&requests[3]);
    assert!(outputs[1].contains("unsaved notes"), "{outputs:?}");
    assert!(
        outputs[2].contains("unsaved notes"),
        "a later command sees the text the model read: {outputs:?}"
    );
    // The patch applied to the editor's text, not the disk's, and went back to the editor.
    assert_eq!(
        seen["writes"],
        json!([{"path": root.join("notes.txt").display().to_string(), "content": "fixed notes\n"}]),
        "{}",
        said(&seen)
    );
    assert_eq!(seen["disk"]["notes"], "notes on disk\n");
}

#[tokio::test]
async fn creations_and_deletions_go_to_disk_and_modifications_to_the_editor() {
    let fixture = Fixture::new(
        "chat",
        &[("a.txt", "one\n"), ("old.txt", "old\n")],
        vec![
            Reply::tool_call(
                "apply_patch",
                json!({"input": "*** Begin Patch\n*** Update File: a.txt\n@@\n-one\n+ONE\n*** Add File: new.txt\n+new\n*** Delete File: old.txt\n*** End Patch\n"}),
            ),
            Reply::text("Done."),
        ],
    )
    .await;
    let seen = play(&fixture, "moves", &[]).await;
    let root = fixture.root();
    assert_eq!(seen["stop"]["stopReason"], "end_turn");
    // fs/write_text_file cannot create or delete: those are on disk, all at once.
    assert_eq!(
        seen["disk"],
        json!({"a": "one\n", "new": "new\n", "old": null}),
        "{}",
        said(&seen)
    );
    assert_eq!(
        seen["writes"],
        json!([{"path": root.join("a.txt").display().to_string(), "content": "ONE\n"}]),
        "only the modification goes through the editor"
    );
    let done = updates(&seen, "tool_call_update")
        .into_iter()
        .find(|u| u["status"] == "completed")
        .unwrap()
        .clone();
    let texts: Vec<&str> = done["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["content"]["text"].as_str())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Creates new.txt") && t.contains("Deletes old.txt")),
        "{texts:?}"
    );
    assert!(
        said(&seen).contains("written to disk: new.txt, old.txt"),
        "{}",
        said(&seen)
    );
}

#[tokio::test]
async fn a_client_that_vanishes_mid_turn_leaves_nothing_running() {
    let fixture = Fixture::new(
        "chat",
        &[("a.txt", "a\n")],
        vec![shell("sleep 41.25"), Reply::text("never read")],
    )
    .await;
    let seen = play(&fixture, "vanish", &[]).await;
    assert!(
        seen["exit"]["code"] == 0 || seen["exit"]["signal"].is_string(),
        "{seen}"
    );
    assert!(!processes_running("sleep 41.25"), "the command was killed");
    let views = fixture.home().join("views");
    let left: Vec<_> = std::fs::read_dir(&views)
        .map(|dir| dir.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "views left behind: {left:?}");
}

#[tokio::test]
async fn the_clients_mcp_servers_join_the_configured_ones() {
    let fixture = Fixture::new(
        "chat",
        &[("a.txt", "a\n")],
        vec![
            Reply::tool_call("mcp__everything__get-sum", json!({"a": 2, "b": 3})),
            Reply::text("5."),
        ],
    )
    .await;
    let seen = play(&fixture, "mcp", &[&crate::mcp::everything()]).await;
    assert_eq!(seen["stop"]["stopReason"], "end_turn");
    let requests = fixture.model.requests();
    let offered = requests[0]["tools"].as_array().unwrap();
    assert!(
        offered
            .iter()
            .any(|t| t["function"]["name"] == "mcp__everything__get-sum"),
        "the client's server's tools are offered"
    );
    assert!(
        tool_outputs(&requests[1])[0].contains('5'),
        "{:?}",
        tool_outputs(&requests[1])
    );
    let call = updates(&seen, "tool_call")[0].clone();
    assert_eq!(call["title"], "get-sum (MCP everything)");
    assert!(
        !processes_running(&crate::mcp::everything()),
        "the server stops with agentls"
    );
}

#[tokio::test]
async fn review_mode_reports_findings_at_their_lines_and_a_code_turn_applies_the_fix() {
    const COMMITTED: &str = "def add(a, b):\n    return a + b\n";
    const UNSAVED: &str = "def add(a, b):\n    return a - b\n";
    let fix = "*** Begin Patch\n*** Update File: calc.py\n@@\n def add(a, b):\n-    return a - b\n+    return a + b\n*** End Patch\n";
    let fixture = Fixture::new(
        "chat",
        &[("calc.py", COMMITTED)],
        vec![
            Reply::tool_call(
                "report_finding",
                json!({"path": "calc.py", "startLine": 2, "endLine": 2, "severity": "error",
                       "title": "add subtracts", "body": "add returns a - b.", "fix": fix}),
            ),
            Reply::text("One problem: add."),
            Reply::tool_call("apply_patch", json!({ "input": fix })),
            Reply::text("Applied."),
        ],
    )
    .await;
    let root = fixture.root();
    git(&root, &["init", "-q", "-b", "main"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "calc"]);
    let seen = play(&fixture, "review", &[UNSAVED]).await;
    let abs = |rel: &str| root.join(rel).display().to_string();

    let modes: Vec<&str> = seen["session"]["modes"]["availableModes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["code", "ask", "review"]);
    assert_eq!(seen["reviewed"]["stopReason"], "end_turn");
    // The review was of the change as the editor holds it: the unsaved `a - b`.
    let requests = fixture.model.requests();
    let asked = last_user_message(&requests[0]);
    assert!(asked.contains("+    return a - b"), "{asked}");
    assert!(asked.contains("look at the arithmetic"), "{asked}");

    // The finding is a tool call pointing at its line, with its text and its fix's diff.
    let finding = updates(&seen, "tool_call")
        .into_iter()
        .find(|c| c["rawInput"]["title"] == "add subtracts")
        .expect("the finding as a tool call")
        .clone();
    assert_eq!(finding["title"], "error in calc.py:2: add subtracts");
    assert_eq!(
        finding["locations"],
        json!([{"path": abs("calc.py"), "line": 2}])
    );
    assert_eq!(
        finding["content"][0]["content"]["text"],
        "add returns a - b."
    );
    assert_eq!(
        finding["content"][1],
        json!({"type": "diff", "path": abs("calc.py"), "oldText": UNSAVED, "newText": COMMITTED})
    );
    assert!(
        said(&seen).contains("the review reported 1 finding"),
        "{}",
        said(&seen)
    );
    // A review writes nothing; the Code turn that applies the fix writes it.
    assert_eq!(seen["writesAfterReview"], 0);
    assert_eq!(seen["fixed"]["stopReason"], "end_turn");
    assert_eq!(
        seen["writes"],
        json!([{"path": abs("calc.py"), "content": COMMITTED}])
    );
}

#[tokio::test]
async fn after_a_restart_the_next_turn_still_knows_what_was_reverted() {
    let fixture = Fixture::new(
        "chat",
        &[("a.txt", "alpha\n"), ("c.txt", "x = 1\n")],
        vec![
            patch("a.txt", "alpha", "ALPHA"),
            patch("c.txt", "x = 1", "x = 2"),
            Reply::text("Changed a and c."),
            Reply::text("Went on."),
        ],
    )
    .await;
    let first = play(&fixture, "once", &["update a and c"]).await;
    assert_eq!(first["writes"].as_array().unwrap().len(), 2, "{first}");
    // A new agentls; the editor kept a.txt as written and reverted c.txt.
    let root = fixture.root();
    let abs = |rel: &str| root.join(rel).display().to_string();
    let editor = json!({ abs("a.txt"): "ALPHA\n", abs("c.txt"): "x = 1\n" }).to_string();
    let loaded = play(&fixture, "load", &[&editor]).await;
    assert_eq!(loaded["next"]["stopReason"], "end_turn");
    told_kept_a_reverted_c(fixture.model.requests().last().unwrap(), "and once more");
}
