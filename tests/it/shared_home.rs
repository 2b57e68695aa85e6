//! Several servers on one `$AGENTLS_HOME`, as with several editor windows: each has its own
//! workspace and starts tasks at the same moment as the others (the same millisecond,
//! often), while more servers start — sweeping the views directory — and stop, some by
//! SIGKILL in the middle of a command. No command loses a file it wrote, no proposal
//! holds another server's file, no view is removed while its server lives, and what the
//! killed servers left is swept.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::fixture::Fixture;
use crate::support::lsp_client::{ClientOptions, LspClient};
use crate::support::model_server::{self, Reply};
use crate::support::processes_running;

const SERVERS: usize = 3;
const ROUNDS: usize = 3;
/// What the servers that get killed leave running when they die.
const KILLED_COMMAND: &str = "sleep 30.75";

/// A server's own workspace and model, on the shared home.
struct Window {
    fixture: Fixture,
    client: LspClient,
    name: String,
}

/// The model's provider, given per server (the home is shared, the model servers are not).
fn provider(fixture: &Fixture) -> Value {
    json!({
        "model": "scripted-model",
        "model_provider": "scripted",
        "model_providers": {"scripted": {
            "name": "Scripted test server",
            "base_url": fixture.model.base_url(),
            "wire_api": "chat",
            "request_max_retries": 2,
        }},
    })
}

async fn window(home: &Path, name: String, script: Vec<Reply>) -> Window {
    let fixture = Fixture::new("chat", &[("name.txt", &format!("{name}\n"))], script).await;
    let client = LspClient::start_with(
        &fixture.root(),
        home,
        ClientOptions::default(),
        provider(&fixture),
    )
    .await;
    Window {
        fixture,
        client,
        name,
    }
}

/// Two commands per task: the first writes a file, the second reads it back after the
/// others had time to start, sweep and die.
fn task_script() -> Vec<Reply> {
    vec![
        Reply::tool_call("shell", json!({"command": "cat name.txt > mine.txt"})),
        Reply::tool_call("shell", json!({"command": "sleep 0.2; cat mine.txt"})),
        Reply::text("done"),
    ]
}

#[tokio::test]
async fn servers_sharing_a_home_never_touch_each_others_tasks() {
    let home = tempfile::tempdir().unwrap();
    let mut windows = Vec::new();
    for n in 0..SERVERS {
        let script = (0..ROUNDS).flat_map(|_| task_script()).collect();
        windows.push(window(home.path(), format!("server-{n}"), script).await);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let churn = tokio::spawn(churn(home.path().to_path_buf(), stop.clone()));

    let mut ids = Vec::new();
    for round in 0..ROUNDS {
        // Every server starts its task at once: the same millisecond, often.
        let started = futures_util::future::join_all(
            windows
                .iter_mut()
                .map(|w| w.client.start_task(json!({"prompt": "copy your name"}))),
        )
        .await;
        for (window, task) in windows.iter_mut().zip(&started) {
            let finished = window.client.wait_finished(task).await;
            assert_eq!(
                finished["status"], "completed",
                "{}: {finished}",
                window.name
            );
            check_task(window, task, round).await;
        }
        ids.extend(started);
    }
    stop.store(true, Ordering::SeqCst);
    let churned = churn.await.unwrap();
    assert!(churned >= 2, "only {churned} other servers came and went");

    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "task ids repeat: {ids:?}");
    for window in windows {
        assert_eq!(window.client.shutdown().await.code(), Some(0));
    }
    // One more start sweeps what the last killed server left.
    let last = Fixture::new("chat", &[], vec![]).await;
    let client = LspClient::start(&last.root(), home.path(), ClientOptions::default()).await;
    client.shutdown().await;
    assert!(
        !processes_running(KILLED_COMMAND),
        "a killed server's command survived"
    );
    let left: Vec<_> = std::fs::read_dir(home.path().join("views"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "views left behind: {left:?}");
}

/// The second command read back what the first wrote, and the proposal is exactly that
/// file, with this server's name in it.
async fn check_task(window: &mut Window, task: &str, round: usize) {
    let requests = window.fixture.model.requests();
    let last = requests.last().expect("the model was asked");
    let outputs = model_server::tool_outputs(last);
    assert_eq!(outputs.len(), 2, "{}: {outputs:#?}", window.name);
    assert!(
        outputs[1].contains("Exit code: 0") && outputs[1].contains(&window.name),
        "{} round {round}: the file it wrote is gone or not its own: {}",
        window.name,
        outputs[1]
    );
    let views = window.client.updates(task);
    let views = views.iter().filter(|u| u["update"]["kind"] == "view");
    assert_eq!(views.count(), 1, "{}: one view per task", window.name);
    let proposal = window
        .client
        .request("agent/getProposal", json!({"taskId": task}))
        .await
        .unwrap();
    let files = proposal["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{}: {proposal:#}", window.name);
    assert!(files[0]["uri"].as_str().unwrap().ends_with("/mine.txt"));
    assert_eq!(
        files[0]["hunks"][0]["newText"],
        format!("{}\n", window.name),
        "{}: another server's file in the proposal",
        window.name
    );
}

/// Servers coming and going on the same home until `stop`: every start sweeps the views
/// directory; every other one is killed with SIGKILL while a command of its task runs,
/// leaving its view for a later start to sweep. Returns how many came and went.
async fn churn(home: std::path::PathBuf, stop: Arc<AtomicBool>) -> usize {
    let mut count = 0;
    while !stop.load(Ordering::SeqCst) {
        let killed = count % 2 == 0;
        let script = vec![Reply::tool_call(
            "shell",
            json!({"command": KILLED_COMMAND}),
        )];
        let mut window = window(&home, format!("churn-{count}"), script).await;
        if killed {
            let task = window.client.start_task(json!({"prompt": "wait"})).await;
            window
                .client
                .wait_until("the command's view", |c| {
                    c.updates(&task)
                        .into_iter()
                        .find(|u| u["update"]["kind"] == "view")
                })
                .await;
            window.client.kill().await;
        } else {
            window.client.shutdown().await;
        }
        count += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    count
}
