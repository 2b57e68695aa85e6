//! The real codex-acp (npm `@zed-industries/codex-acp`, installed by
//! scripts/install-test-deps.sh) as a task's agent, against the scripted model server on
//! loopback: Codex asks the Responses API, our server answers with its freeform
//! `apply_patch` call, Codex writes the file itself in the task's view — and the edit must
//! arrive as a hunk, the user's file untouched until the hunk is accepted through
//! `workspace/applyEdit`. Its permission requests carry their diff to the editor, and a
//! follow-up is the next prompt of the same Codex session.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::fixture::Fixture;
use crate::support::lsp_client::{ClientOptions, LspClient};
use crate::support::model_server::{self, Reply};
use crate::support::review;

/// Where install-test-deps.sh put codex-acp.
fn codex_acp() -> PathBuf {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-deps/acp/node_modules/.bin/codex-acp");
    assert!(
        bin.exists(),
        "codex-acp is missing: run scripts/install-test-deps.sh"
    );
    bin
}

const PATCH: &str =
    "*** Begin Patch\n*** Update File: greet.txt\n@@\n hello\n-world\n+there\n*** End Patch\n";

/// A workspace with greet.txt, an `[agents.codex]` table running codex-acp, and a
/// CODEX_HOME (outside /tmp: Codex will not make its helper links there) whose config
/// points Codex at the scripted model server with Codex's own sandbox off.
struct Codex {
    fixture: Fixture,
    _codex_home: tempfile::TempDir,
}

impl Codex {
    async fn new(script: Vec<Reply>, approval_policy: &str) -> Codex {
        let fixture = Fixture::new("responses", &[("greet.txt", "hello\nworld\n")], script).await;
        let codex_home = tempfile::Builder::new()
            .prefix("codex-home")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        std::fs::write(
            codex_home.path().join("config.toml"),
            format!(
                r#"model = "gpt-5.5"
model_provider = "scripted"
approval_policy = "{approval_policy}"
sandbox_mode = "danger-full-access"

[model_providers.scripted]
name = "scripted"
base_url = "{}"
wire_api = "responses"
env_key = "SCRIPTED_MODEL_KEY"
"#,
                fixture.model.base_url()
            ),
        )
        .unwrap();
        let home = codex_home.path().display().to_string();
        let config_path = fixture.home().join("config.toml");
        let config = std::fs::read_to_string(&config_path).unwrap();
        std::fs::write(
            &config_path,
            format!(
                r#"{config}
[agents.codex]
command = {command:?}
env = {{ CODEX_HOME = {home:?}, SCRIPTED_MODEL_KEY = "test" }}
writable_roots = [{home:?}]
login_command = "codex login"
"#,
                command = codex_acp().display().to_string(),
            ),
        )
        .unwrap();
        Codex {
            fixture,
            _codex_home: codex_home,
        }
    }
}

async fn run(client: &mut LspClient, prompt: &str) -> (String, Value) {
    let task = client
        .start_task(json!({"prompt": prompt, "agent": "codex"}))
        .await;
    let finished = client.wait_finished(&task).await;
    (task, finished)
}

#[tokio::test]
async fn codex_edits_become_hunks_applied_only_on_accept_and_follow_ups_continue_its_session() {
    let codex = Codex::new(
        vec![
            Reply::custom_tool_call("apply_patch", PATCH),
            Reply::text("Changed world to there."),
            Reply::text("You are welcome."),
        ],
        "never",
    )
    .await;
    let fixture = &codex.fixture;
    let mut client = fixture.client(ClientOptions::default()).await;
    client.open("greet.txt", "hello\nworld\n").await;
    let (task, finished) = run(&mut client, "say there instead of world").await;
    assert_eq!(
        finished["status"],
        "completed",
        "{finished}\n{}",
        client.stderr()
    );
    assert_eq!(finished["summary"], "Changed world to there.");

    let requests = fixture.model.requests();
    assert!(
        model_server::tool_outputs(&requests[1])
            .iter()
            .any(|output| output.contains("greet.txt")),
        "Codex ran the patch in its view and told the model: {:#}",
        requests[1]["input"]
    );
    let proposal = review::proposal(&mut client, &task).await;
    let hunks = review::hunks(&proposal);
    assert_eq!(hunks.len(), 1, "{proposal:#}");
    assert_eq!(hunks[0]["oldText"], "world\n");
    assert_eq!(hunks[0]["newText"], "there\n");
    assert_eq!(
        fixture.disk("greet.txt").unwrap(),
        "hello\nworld\n",
        "Codex wrote its view, not the user's file"
    );
    let calls: Vec<Value> = client
        .updates(&task)
        .into_iter()
        .filter(|u| u["update"]["kind"] == "toolCall")
        .collect();
    assert!(
        calls
            .iter()
            .any(|c| c["update"]["tool"] == "edit" && c["update"]["status"] == "completed"),
        "{calls:#?}"
    );

    review::resolve(
        &mut client,
        json!({"taskId": task, "accept": review::hunk_ids(&proposal)}),
    )
    .await
    .unwrap();
    review::wait_text(&client, "greet.txt", "hello\nthere\n").await;
    assert_eq!(client.applied_edits().len(), 1, "one workspace/applyEdit");
    assert_eq!(fixture.disk("greet.txt").unwrap(), "hello\nworld\n");

    client
        .request(
            "agent/followUp",
            json!({"taskId": task, "prompt": "thanks"}),
        )
        .await
        .unwrap();
    client
        .wait_until("the follow-up", |c| {
            let finished = c
                .updates(&task)
                .into_iter()
                .filter(|u| u["update"]["kind"] == "finished")
                .count();
            (finished == 2).then_some(())
        })
        .await;
    let requests = fixture.model.requests();
    assert_eq!(requests.len(), 3, "{requests:#?}");
    let last = requests[2]["input"].to_string();
    assert!(
        last.contains("thanks") && last.contains("Changed world to there."),
        "the same Codex session goes on: {last}"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn codexs_permission_requests_reach_the_editor_with_their_diff() {
    let codex = Codex::new(
        vec![
            Reply::custom_tool_call("apply_patch", PATCH),
            Reply::text("Done."),
        ],
        "untrusted",
    )
    .await;
    let fixture = &codex.fixture;
    let mut client = fixture
        .client(ClientOptions {
            approval: Some("allow"),
            ..ClientOptions::default()
        })
        .await;
    let (task, finished) = run(&mut client, "say there").await;
    assert_eq!(
        finished["status"],
        "completed",
        "{finished}\n{}",
        client.stderr()
    );
    let approvals = client.notifications("agent/requestApproval");
    assert_eq!(approvals.len(), 1, "{approvals:#?}");
    assert_eq!(approvals[0]["kind"], "patch");
    let diff = approvals[0]["diff"].as_str().unwrap();
    assert!(
        diff.contains("greet.txt") && diff.contains("-world") && diff.contains("+there"),
        "{diff}"
    );
    assert!(
        approvals[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("codex asks: "),
        "{approvals:#?}"
    );
    let proposal = review::proposal(&mut client, &task).await;
    assert_eq!(review::hunks(&proposal)[0]["newText"], "there\n");
    assert_eq!(fixture.disk("greet.txt").unwrap(), "hello\nworld\n");
    client.shutdown().await;
}
