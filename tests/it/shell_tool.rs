//! The `shell` tool end to end: the real binary, a scripted model and a scripted editor.
//! Commands run in the task's own directory under the sandbox; what they change becomes
//! the proposal; approvals are decided by the server and asked of the editor.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::fixture::Fixture;
use crate::support::lsp_client::{ClientOptions, LspClient};
use crate::support::model_server::{self, Reply};
use crate::support::python;
use crate::support::review::{self, run_task};

const CALC: &str = "def add(a, b):\n    return a - b\n";
const TEST_CALC: &str = "import unittest\n\nfrom calc import add\n\n\nclass AddTest(unittest.TestCase):\n    def test_adds(self):\n        self.assertEqual(add(2, 3), 5)\n\n\nif __name__ == \"__main__\":\n    unittest.main()\n";
const FIX: &str = "*** Begin Patch\n*** Update File: calc.py\n@@\n def add(a, b):\n-    return a - b\n+    return a + b\n*** End Patch\n";

/// A fixture whose commands may read the Python installation, plus `extra` config lines.
async fn fixture(files: &[(&str, &str)], script: Vec<Reply>, extra: &str) -> Fixture {
    let fixture = Fixture::new("chat", files, script).await;
    let (_, prefix) = python();
    let config_path = fixture.home().join("config.toml");
    let mut config = std::fs::read_to_string(&config_path).unwrap();
    config =
        format!("{extra}\n{config}\n[sandbox_workspace_write]\nreadable_roots = [{prefix:?}]\n");
    std::fs::write(config_path, config).unwrap();
    fixture
}

/// What the model was told by each tool call, as of its last request.
fn tool_outputs(fixture: &Fixture) -> Vec<String> {
    let requests = fixture.model.requests();
    model_server::tool_outputs(requests.last().unwrap_or(&Value::Null))
}

async fn proposal_files(client: &mut LspClient, task: &str) -> Vec<Value> {
    let proposal = review::proposal(client, task).await;
    proposal["files"].as_array().cloned().unwrap_or_default()
}

fn file<'a>(files: &'a [Value], path_suffix: &str) -> Option<&'a Value> {
    files
        .iter()
        .find(|f| f["uri"].as_str().unwrap_or_default().ends_with(path_suffix))
}

fn new_texts(file: &Value) -> String {
    file["hunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["newText"].as_str().unwrap().to_string())
        .collect()
}

fn views_left(home: &Path) -> usize {
    std::fs::read_dir(home.join("views"))
        .map(|entries| entries.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn the_agent_runs_the_failing_test_fixes_the_code_and_sees_it_pass() {
    feedback_loop(None).await;
}

/// The same loop where overlays are unavailable (stock Ubuntu 24.04), on a copy.
#[tokio::test]
async fn the_feedback_loop_works_on_a_copied_view() {
    feedback_loop(Some("copy")).await;
}

async fn feedback_loop(view_strategy: Option<&'static str>) {
    let (py, _) = python();
    let test = json!({"command": [py, "-m", "unittest", "-v", "test_calc"]});
    let fixture = fixture(
        &[("calc.py", CALC), ("test_calc.py", TEST_CALC)],
        vec![
            Reply::tool_call("shell", test.clone()),
            Reply::tool_call("apply_patch", json!({"input": FIX})),
            Reply::tool_call("shell", test),
            Reply::text("Fixed add(); the test passes."),
        ],
        "",
    )
    .await;
    let mut client = fixture
        .client(ClientOptions {
            view_strategy,
            ..ClientOptions::default()
        })
        .await;
    let (task, finished) = run_task(&mut client, "make the tests pass").await;
    assert_eq!(finished["status"], "completed", "{finished}");

    let outputs = tool_outputs(&fixture);
    assert_eq!(outputs.len(), 3, "{outputs:#?}");
    assert!(outputs[0].contains("Exit code: 1"), "{}", outputs[0]);
    assert!(
        outputs[0].contains("AssertionError: -1 != 5"),
        "{}",
        outputs[0]
    );
    assert!(outputs[2].contains("Exit code: 0"), "{}", outputs[2]);
    assert!(outputs[2].contains("OK"), "{}", outputs[2]);

    let files = proposal_files(&mut client, &task).await;
    assert_eq!(
        files.len(),
        1,
        "only the fix, no bytecode caches: {files:#?}"
    );
    assert!(new_texts(file(&files, "/calc.py").unwrap()).contains("a + b"));
    assert_eq!(fixture.disk("calc.py").as_deref(), Some(CALC));
    assert!(!fixture.root().join("__pycache__").exists());
    let view = client
        .updates(&task)
        .into_iter()
        .find(|u| u["update"]["kind"] == "view")
        .expect("the task reports how its directory was made");
    let strategy = view["update"]["strategy"].as_str().unwrap();
    assert!(["overlay", "copy"].contains(&strategy));
    if let Some(forced) = view_strategy {
        assert_eq!(strategy, forced);
    }
    assert_eq!(
        views_left(fixture.home()),
        0,
        "the view is removed when the task ends"
    );
}

#[tokio::test]
async fn what_a_command_creates_changes_and_deletes_becomes_hunks() {
    let script = "printf 'one\\nTWO\\n' > edited.txt; echo fresh > made/new.txt; rm gone.txt";
    let fixture = fixture(
        &[
            ("edited.txt", "one\ntwo\n"),
            ("gone.txt", "bye\n"),
            ("made/keep", ""),
        ],
        vec![
            Reply::tool_call("shell", json!({"command": script})),
            Reply::text("done"),
        ],
        "",
    )
    .await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let (task, finished) = run_task(&mut client, "reshuffle").await;
    assert_eq!(finished["status"], "completed", "{finished}");
    let files = proposal_files(&mut client, &task).await;
    let kinds: Vec<(&str, &str)> = ["edited.txt", "made/new.txt", "gone.txt"]
        .iter()
        .map(|p| {
            (
                *p,
                file(&files, p).map_or("missing", |f| f["kind"].as_str().unwrap()),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("edited.txt", "modify"),
            ("made/new.txt", "create"),
            ("gone.txt", "delete")
        ]
    );
    assert!(new_texts(file(&files, "edited.txt").unwrap()).contains("TWO"));
    assert_eq!(fixture.disk("gone.txt").as_deref(), Some("bye\n"));
    assert_eq!(fixture.disk("made/new.txt"), None);
}

#[tokio::test]
async fn commands_see_unsaved_buffers_and_the_tasks_own_edits() {
    let patch = "*** Begin Patch\n*** Add File: added.txt\n+from the patch\n*** End Patch\n";
    let fixture = fixture(
        &[("draft.txt", "saved\n")],
        vec![
            Reply::tool_call("apply_patch", json!({"input": patch})),
            Reply::tool_call(
                "shell",
                json!({"command": ["cat", "draft.txt", "added.txt"]}),
            ),
            Reply::text("done"),
        ],
        "",
    )
    .await;
    let mut client = fixture.client(ClientOptions::default()).await;
    client.open("draft.txt", "unsaved\n").await;
    run_task(&mut client, "look").await;
    let outputs = tool_outputs(&fixture);
    assert!(
        outputs[1].contains("unsaved\nfrom the patch"),
        "{}",
        outputs[1]
    );
}

#[tokio::test]
async fn a_command_that_runs_too_long_is_killed_and_reported() {
    let fixture = fixture(
        &[],
        vec![
            Reply::tool_call(
                "shell",
                json!({"command": ["sleep", "30"], "timeout_ms": 300}),
            ),
            Reply::text("gave up"),
        ],
        "",
    )
    .await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let started = std::time::Instant::now();
    run_task(&mut client, "wait").await;
    assert!(started.elapsed() < Duration::from_secs(15));
    let outputs = tool_outputs(&fixture);
    assert!(
        outputs[0].contains("Timed out after 300 ms"),
        "{}",
        outputs[0]
    );
}

#[tokio::test]
async fn cancelling_a_task_kills_its_running_command() {
    let marker = "sleep 41.25";
    let fixture = fixture(
        &[],
        vec![Reply::tool_call("shell", json!({"command": marker}))],
        "",
    )
    .await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let task = client.start_task(json!({"prompt": "wait"})).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !crate::support::processes_running(marker) {
        assert!(
            std::time::Instant::now() < deadline,
            "the command never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    client
        .request("agent/cancelTask", json!({"taskId": task}))
        .await
        .unwrap();
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "cancelled");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !crate::support::processes_running(marker),
        "the command survived the cancel"
    );
}

// ----- approvals -------------------------------------------------------------------------

fn approval_requests(client: &LspClient) -> Vec<Value> {
    client.notifications("agent/requestApproval")
}

const MAKE: [&str; 3] = ["bash", "-c", "echo made > made.txt"];

/// Under `untrusted`, a command that writes asks first; the editor's answer decides.
async fn untrusted_touch(approval: Option<&'static str>) -> (Fixture, LspClient, String) {
    let fixture = fixture(
        &[],
        vec![
            Reply::tool_call("shell", json!({"command": MAKE})),
            Reply::tool_call("shell", json!({"command": MAKE})),
            Reply::text("done"),
        ],
        "approval_policy = \"untrusted\"\napproval_timeout_ms = 5000",
    )
    .await;
    let mut client = fixture
        .client(ClientOptions {
            approval,
            ..ClientOptions::default()
        })
        .await;
    let (task, finished) = run_task(&mut client, "touch").await;
    let ends_as = match approval {
        Some("cancel") => "cancelled",
        _ => "completed",
    };
    assert_eq!(finished["status"], ends_as, "{finished}");
    (fixture, client, task)
}

#[tokio::test]
async fn an_untrusted_command_runs_only_after_the_editor_allows_it() {
    let (fixture, mut client, task) = untrusted_touch(Some("allow")).await;
    let requests = approval_requests(&client);
    assert_eq!(
        requests.len(),
        2,
        "plain allow is asked again: {requests:#?}"
    );
    assert_eq!(requests[0]["kind"], "command");
    assert_eq!(requests[0]["taskId"], task.as_str());
    assert_eq!(requests[0]["command"], json!(MAKE));
    assert_eq!(requests[0]["cwd"], fixture.root().display().to_string());
    let files = proposal_files(&mut client, &task).await;
    assert!(file(&files, "made.txt").is_some(), "{files:#?}");
}

#[tokio::test]
async fn allow_for_task_is_remembered() {
    let (_fixture, client, _task) = untrusted_touch(Some("allowForTask")).await;
    assert_eq!(approval_requests(&client).len(), 1);
}

#[tokio::test]
async fn a_denied_command_does_not_run_and_the_model_is_told() {
    let (fixture, mut client, task) = untrusted_touch(Some("deny")).await;
    let outputs = tool_outputs(&fixture);
    assert!(outputs[0].contains("did not approve"), "{}", outputs[0]);
    assert!(proposal_files(&mut client, &task).await.is_empty());
}

#[tokio::test]
async fn cancel_in_the_approval_dialog_cancels_the_task() {
    let (fixture, mut client, task) = untrusted_touch(Some("cancel")).await;
    assert_eq!(
        approval_requests(&client).len(),
        1,
        "asked once, then stopped"
    );
    assert_eq!(
        fixture.model.requests().len(),
        1,
        "the model is not asked again"
    );
    assert!(proposal_files(&mut client, &task).await.is_empty());
    assert!(!fixture.root().join("made.txt").exists());
}

#[tokio::test]
async fn a_client_without_the_capability_is_never_asked_and_that_is_a_denial() {
    let (fixture, client, _task) = untrusted_touch(None).await;
    assert!(approval_requests(&client).is_empty());
    assert!(tool_outputs(&fixture)[0].contains("did not approve"));
}

#[tokio::test]
async fn read_only_commands_run_without_asking_under_untrusted() {
    let fixture = fixture(
        &[("a.txt", "hi\n")],
        vec![
            Reply::tool_call("shell", json!({"command": ["cat", "a.txt"]})),
            Reply::text("done"),
        ],
        "approval_policy = \"untrusted\"",
    )
    .await;
    let mut client = fixture
        .client(ClientOptions {
            approval: Some("deny"),
            ..ClientOptions::default()
        })
        .await;
    run_task(&mut client, "read").await;
    assert!(approval_requests(&client).is_empty());
    assert!(tool_outputs(&fixture)[0].contains("Exit code: 0\n"));
}

#[tokio::test]
async fn a_patch_approval_carries_the_patch() {
    let fixture = fixture(
        &[("calc.py", CALC)],
        vec![
            Reply::tool_call("apply_patch", json!({"input": FIX})),
            Reply::text("done"),
        ],
        "approval_policy = \"untrusted\"",
    )
    .await;
    let mut client = fixture
        .client(ClientOptions {
            approval: Some("deny"),
            ..ClientOptions::default()
        })
        .await;
    let (task, _) = run_task(&mut client, "fix").await;
    let requests = approval_requests(&client);
    assert_eq!(requests[0]["kind"], "patch");
    assert_eq!(requests[0]["diff"], FIX);
    assert!(proposal_files(&mut client, &task).await.is_empty());
}

#[tokio::test]
async fn on_failure_offers_to_rerun_a_network_denial_with_network() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect = format!("echo hi > /dev/tcp/127.0.0.1/{port} && echo connected");
    let fixture = fixture(
        &[],
        vec![
            Reply::tool_call("shell", json!({"command": connect})),
            Reply::text("done"),
        ],
        "approval_policy = \"on-failure\"",
    )
    .await;
    let mut client = fixture
        .client(ClientOptions {
            approval: Some("allow"),
            ..ClientOptions::default()
        })
        .await;
    run_task(&mut client, "connect").await;
    let requests = approval_requests(&client);
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(requests[0]["kind"], "network");
    assert!(tool_outputs(&fixture)[0].contains("connected"));
}

#[tokio::test]
async fn a_restart_removes_views_left_by_a_dead_server() {
    let fixture = fixture(&[], vec![], "").await;
    let mut finished = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = finished.id();
    finished.wait().unwrap();
    let orphan = fixture.home().join("views/t-orphan");
    std::fs::create_dir_all(orphan.join("upper/src")).unwrap();
    std::fs::write(orphan.join("owner"), dead_pid.to_string()).unwrap();
    let alive = fixture.home().join("views/t-alive");
    std::fs::create_dir_all(&alive).unwrap();
    std::fs::write(alive.join("owner"), std::process::id().to_string()).unwrap();

    let _client = fixture.client(ClientOptions::default()).await;
    assert!(!orphan.exists(), "the orphaned view is still there");
    assert!(alive.exists(), "a view of a running process was removed");
}
