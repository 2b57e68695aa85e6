//! Best-of-N attempts on this machine (`agent/startTask {bestOf}`), end to end: the real
//! binary, a scripted editor, and a scripted model server that gives each attempt its
//! own conversation (its requests arrive interleaved with the others').

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::fixture::Fixture;
use crate::support::lsp_client::{ClientOptions, LspClient};
use crate::support::model_server::Reply;
use crate::support::review::{self, hunks};

const NOTES: &str = "one\ntwo\nthree\n";

/// A patch that makes line 2 of notes.txt read `line`.
fn line_two(line: &str) -> Value {
    json!({ "input": format!(
        "*** Begin Patch\n*** Update File: notes.txt\n@@\n one\n-two\n+{line}\n three\n*** End Patch\n"
    )})
}

/// One attempt's conversation: patch line 2, optionally run `check`, then answer.
fn attempt(line: &str, check: Option<&str>, answer: &str) -> Reply {
    let mut replies = vec![Reply::tool_call("apply_patch", line_two(line))];
    if let Some(check) = check {
        replies.push(Reply::tool_call(
            "shell",
            json!({ "command": ["sh", "-c", check] }),
        ));
    }
    replies.push(Reply::text(answer));
    Reply::conversation(replies)
}

async fn fixture(script: Vec<Reply>, extra_config: &str) -> Fixture {
    let fixture = Fixture::new("chat", &[("notes.txt", NOTES)], script).await;
    let path = fixture.home().join("config.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{extra_config}\n{config}")).unwrap();
    fixture
}

/// Waits until the task's log on disk holds `count` events of `kind`.
async fn wait_logged(fixture: &Fixture, task: &str, kind: &str, count: usize) {
    let path = fixture.home().join("tasks").join(format!("{task}.jsonl"));
    for _ in 0..250 {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let logged = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["type"] == kind)
            .count();
        if logged >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the log of {task} never held {count} {kind} events");
}

async fn get_task(client: &mut LspClient, task: &str) -> Value {
    client
        .request("agent/getTask", json!({ "taskId": task }))
        .await
        .unwrap()
}

/// Each attempt's status, in order.
fn statuses(task: &Value) -> Vec<String> {
    task["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap().to_string())
        .collect()
}

/// The number of the attempt whose summary is `summary`.
fn attempt_saying(task: &Value, summary: &str) -> u64 {
    task["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["summary"] == summary)
        .unwrap_or_else(|| panic!("no attempt says {summary:?}: {task:#}"))["attempt"]
        .as_u64()
        .unwrap()
}

async fn preview(client: &mut LspClient, task: &str, attempt: u64) -> Value {
    client
        .request(
            "agent/getProposal",
            json!({ "taskId": task, "attempt": attempt }),
        )
        .await
        .unwrap()
}

async fn choose(client: &mut LspClient, task: &str, attempt: u64) -> Result<Value, Value> {
    client
        .request(
            "agent/chooseAttempt",
            json!({ "taskId": task, "attempt": attempt }),
        )
        .await
}

#[tokio::test]
async fn attempts_run_at_once_and_one_failing_leaves_the_others_to_choose_from() {
    let fixture = fixture(
        vec![
            attempt("TWO", None, "Shouted."),
            Reply::conversation(vec![Reply::Status(400, "the model refuses".into())]),
            attempt("2", None, "Made it a digit."),
        ],
        "",
    )
    .await;
    fixture.model.set_latency(Duration::from_millis(400));
    let mut client = fixture.client(ClientOptions::default()).await;
    let task = client
        .start_task(json!({ "prompt": "improve line two", "bestOf": 3 }))
        .await;
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    assert_eq!(
        fixture.model.max_in_flight(),
        3,
        "the three attempts' first requests were answered at the same time"
    );

    let listed = get_task(&mut client, &task).await;
    let mut sorted = statuses(&listed);
    sorted.sort();
    assert_eq!(sorted, ["completed", "completed", "failed"], "{listed:#}");
    let failed = &listed["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["status"] == "failed")
        .unwrap();
    assert!(
        failed["summary"]
            .as_str()
            .unwrap()
            .contains("the model refuses"),
        "{failed}"
    );
    let shouted = attempt_saying(&listed, "Shouted.");
    let row = &listed["attempts"][shouted as usize - 1];
    assert_eq!(
        (&row["files"], &row["hunks"], &row["added"], &row["removed"]),
        (&json!(1), &json!(1), &json!(1), &json!(1)),
        "{row}"
    );
    assert_eq!(row["usage"]["totalTokens"], 2 * 46, "two turns: {row}");
    assert_eq!(listed["chosenAttempt"], Value::Null);

    // Nothing is proposed until the user chooses; each attempt can be looked at.
    let proposal = review::proposal(&mut client, &task).await;
    assert_eq!(proposal["totalHunks"], 0, "{proposal}");
    let digit = attempt_saying(&listed, "Made it a digit.");
    let looked = preview(&mut client, &task, digit).await;
    let looked = hunks(&looked);
    assert_eq!(looked.len(), 1, "{looked:?}");
    assert_eq!(looked[0]["oldText"], "two\n");
    assert_eq!(looked[0]["newText"], "2\n");
    let failed_number = failed["attempt"].as_u64().unwrap();
    let refused = choose(&mut client, &task, failed_number).await.unwrap_err();
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("changed nothing"),
        "{refused}"
    );

    choose(&mut client, &task, digit).await.unwrap();
    let proposal = review::proposal(&mut client, &task).await;
    let chosen = hunks(&proposal);
    assert_eq!(chosen.len(), 1, "{proposal}");
    assert_eq!(chosen[0]["newText"], "2\n");
    assert_eq!(chosen[0]["status"], "pending");
    assert_eq!(
        get_task(&mut client, &task).await["chosenAttempt"],
        json!(digit)
    );
    review::resolve(
        &mut client,
        json!({ "taskId": task, "accept": [chosen[0]["hunkId"]] }),
    )
    .await
    .unwrap();
    assert_eq!(fixture.disk("notes.txt").unwrap(), "one\n2\nthree\n");
}

#[tokio::test]
async fn at_most_max_parallel_attempts_run_at_once() {
    let fixture = fixture(
        vec![
            attempt("TWO", None, "Shouted."),
            attempt("2", None, "Made it a digit."),
        ],
        "max_parallel_attempts = 1",
    )
    .await;
    fixture.model.set_latency(Duration::from_millis(200));
    let mut client = fixture.client(ClientOptions::default()).await;
    let task = client
        .start_task(json!({ "prompt": "improve line two", "bestOf": 2 }))
        .await;
    assert_eq!(client.wait_finished(&task).await["status"], "completed");
    assert_eq!(fixture.model.max_in_flight(), 1);
    assert_eq!(
        statuses(&get_task(&mut client, &task).await),
        ["completed", "completed"]
    );
}

#[tokio::test]
async fn first_green_chooses_the_attempt_whose_test_passed() {
    let fixture = fixture(
        vec![
            attempt("broken", Some("grep -q fixed notes.txt"), "Tried."),
            attempt("fixed", Some("grep -q fixed notes.txt"), "Fixed it."),
        ],
        "",
    )
    .await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let task = client
        .start_task(json!({ "prompt": "fix line two", "bestOf": 2, "choose": "firstGreen" }))
        .await;
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    let listed = get_task(&mut client, &task).await;
    let green = attempt_saying(&listed, "Fixed it.");
    let red = attempt_saying(&listed, "Tried.");
    let command = |n: u64| listed["attempts"][n as usize - 1]["lastCommand"].clone();
    assert_eq!(
        command(green),
        json!({ "command": "sh -c 'grep -q fixed notes.txt'", "exitCode": 0 })
    );
    assert_eq!(command(red)["exitCode"], 1, "{listed:#}");
    assert_eq!(listed["chosenAttempt"], json!(green), "{listed:#}");
    let chosen_update = client
        .updates(&task)
        .into_iter()
        .find(|u| u["update"]["kind"] == "attemptChosen")
        .expect("an attemptChosen update");
    assert_eq!(
        chosen_update["update"],
        json!({ "kind": "attemptChosen", "attempt": green, "automatic": true })
    );
    let proposal = review::proposal(&mut client, &task).await;
    assert_eq!(hunks(&proposal)[0]["newText"], "fixed\n", "{proposal}");

    // The user can still pick the other one.
    choose(&mut client, &task, red).await.unwrap();
    let proposal = review::proposal(&mut client, &task).await;
    assert_eq!(hunks(&proposal)[0]["newText"], "broken\n", "{proposal}");
}

#[tokio::test]
async fn cancelling_the_task_cancels_every_attempt() {
    let stalled = || {
        Reply::conversation(vec![Reply::stall(
            Duration::from_secs(60),
            Reply::text("never finished"),
        )])
    };
    let fixture = fixture(vec![stalled(), stalled(), stalled()], "").await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let task = client
        .start_task(json!({ "prompt": "think hard", "bestOf": 3 }))
        .await;
    client
        .wait_until("every attempt to be running", |c| {
            let running = c
                .updates(&task)
                .iter()
                .filter(|u| u["update"]["kind"] == "attempt" && u["update"]["status"] == "running")
                .count();
            (running >= 3).then_some(())
        })
        .await;
    client
        .request("agent/cancelTask", json!({ "taskId": task }))
        .await
        .unwrap();
    let finished = tokio::time::timeout(Duration::from_secs(10), client.wait_finished(&task))
        .await
        .expect("the cancel ends the task at once, not after the stalls");
    assert_eq!(finished["status"], "cancelled", "{finished}");
    assert_eq!(
        statuses(&get_task(&mut client, &task).await),
        ["cancelled", "cancelled", "cancelled"]
    );
}

#[tokio::test]
async fn a_chosen_attempt_is_checked_against_other_tasks_and_followed_up_after_a_restart() {
    let fixture = fixture(
        vec![
            // An ordinary task proposes its own line two first.
            Reply::tool_call("apply_patch", line_two("deux")),
            Reply::text("French."),
            attempt("TWO", None, "Shouted."),
            attempt("2", None, "Made it a digit."),
        ],
        "",
    )
    .await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let (other, finished) = review::run_task(&mut client, "translate line two").await;
    assert_eq!(finished["status"], "completed");
    let task = client
        .start_task(json!({ "prompt": "improve line two", "bestOf": 2 }))
        .await;
    assert_eq!(client.wait_finished(&task).await["status"], "completed");
    let refused = client
        .request(
            "agent/followUp",
            json!({ "taskId": task, "prompt": "and line three" }),
        )
        .await
        .unwrap_err();
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("agent/chooseAttempt"),
        "{refused}"
    );
    let before = get_task(&mut client, &task).await;
    // Each attempt is recorded as it ends; a SIGKILL after that loses none of them.
    wait_logged(&fixture, &task, "attempt", 2).await;
    client.kill().await;

    let mut client = fixture.client(ClientOptions::default()).await;
    let after = get_task(&mut client, &task).await;
    assert_eq!(after["attempts"], before["attempts"], "{after:#}");
    let digit = attempt_saying(&after, "Made it a digit.");
    choose(&mut client, &task, digit).await.unwrap();
    let proposal = review::proposal(&mut client, &task).await;
    let chosen = &hunks(&proposal)[0];
    assert_eq!(chosen["newText"], "2\n");
    assert_eq!(chosen["status"], "conflict", "{chosen}");
    assert_eq!(
        chosen["conflictsWith"]["taskId"],
        other.as_str(),
        "{chosen}"
    );

    // The follow-up continues the chosen attempt's conversation.
    fixture.model.push(Reply::text("Also done."));
    client
        .request(
            "agent/followUp",
            json!({ "taskId": task, "prompt": "and line three" }),
        )
        .await
        .unwrap();
    client
        .wait_until("the follow-up to finish", |c| {
            c.updates(&task)
                .iter()
                .rev()
                .find(|u| u["update"]["kind"] == "finished")
                .filter(|u| u["update"]["summary"] == "Also done.")
                .map(|_| ())
        })
        .await;
    let requests = fixture.model.requests();
    let last = requests.last().unwrap().to_string();
    assert!(last.contains("Made it a digit."), "{last}");
    assert!(!last.contains("Shouted."), "{last}");
}

#[tokio::test]
async fn best_of_outside_two_to_eight_is_refused() {
    let fixture = fixture(Vec::new(), "").await;
    let mut client = fixture.client(ClientOptions::default()).await;
    for n in [0, 1, 9] {
        let refused = client
            .request("agent/startTask", json!({ "prompt": "x", "bestOf": n }))
            .await
            .unwrap_err();
        assert!(
            refused["message"]
                .as_str()
                .unwrap()
                .contains("between 2 and 8"),
            "{refused}"
        );
    }
    assert!(client.is_running());
}
