//! Review mode end to end (real `agentls` over stdio, scripted editor, scripted model on
//! loopback, a real git repository): findings as diagnostics anchored like hunks, their
//! fixes as hunks, dismissals fed back on a follow-up, every target kind, and a review
//! that finds nothing.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::support::cli::agentls;
use crate::support::fixture::Fixture;
use crate::support::lsp_client::{ClientOptions, LspClient};
use crate::support::model_server::Reply;
use crate::support::review::{hunk_ids, proposal, resolve, wait_text};
use crate::support::tree::git;

/// What HEAD holds.
const COMMITTED: &str = "def add(a, b):\n    return a + b\n\n\ndef div(a, b):\n    return a / b\n\n\ndef mean(xs):\n    return sum(xs) / len(xs)\n";
/// On disk, uncommitted: `div` floors.
const ON_DISK: &str = "def add(a, b):\n    return a + b\n\n\ndef div(a, b):\n    return a // b\n\n\ndef mean(xs):\n    return sum(xs) / len(xs)\n";
/// In the editor, unsaved: `add` subtracts too.
const IN_BUFFER: &str = "def add(a, b):\n    return a - b\n\n\ndef div(a, b):\n    return a // b\n\n\ndef mean(xs):\n    return sum(xs) / len(xs)\n";

const FIX_ADD: &str = "*** Begin Patch\n*** Update File: calc.py\n@@\n def add(a, b):\n-    return a - b\n+    return a + b\n*** End Patch\n";

fn finding(line: u32, severity: &str, title: &str, fix: Option<&str>) -> (String, Value) {
    let mut args = json!({
        "path": "calc.py", "startLine": line, "endLine": line, "severity": severity,
        "title": title, "body": format!("{title}, because reasons."),
    });
    if let Some(fix) = fix {
        args["fix"] = json!(fix);
    }
    ("report_finding".to_string(), args)
}

/// Three findings — `add` (line 2, with a fix), `div` (line 6), `mean` (line 10, outside
/// the change) — then a summary.
fn three_findings() -> Vec<Reply> {
    vec![
        Reply::ToolCalls(vec![
            finding(2, "error", "add subtracts", Some(FIX_ADD)),
            finding(6, "warning", "div floors", None),
            finding(10, "info", "mean of nothing divides by zero", None),
        ]),
        Reply::text("Three problems: add, div and mean."),
    ]
}

/// A repository with calc.py committed, then changed on disk (`on_disk`, uncommitted),
/// plus an untracked file.
async fn git_repository(on_disk: &str, script: Vec<Reply>) -> Fixture {
    let fixture = Fixture::new("chat", &[("calc.py", COMMITTED)], script).await;
    let root = fixture.root();
    git(&root, &["init", "-q", "-b", "main"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "calc"]);
    fixture.write("calc.py", on_disk);
    fixture.write("notes.md", "an untracked note\n");
    fixture.write(".gitignore", "build/\n");
    git(&root, &["add", ".gitignore"]);
    git(&root, &["commit", "-q", "-m", "ignore build"]);
    fixture.write("build/out.txt", "generated\n");
    fixture
}

/// [`git_repository`] with calc.py open in the editor, changed again there (unsaved).
async fn repository(script: Vec<Reply>) -> (Fixture, LspClient) {
    let fixture = git_repository(ON_DISK, script).await;
    let client = fixture.client(ClientOptions::default()).await;
    client.open("calc.py", IN_BUFFER).await;
    // An ignored file open in the editor is no part of any change.
    client
        .open("build/out.txt", "generated, and edited\n")
        .await;
    (fixture, client)
}

async fn review(client: &mut LspClient, target: Value) -> (String, Value) {
    let task = client
        .start_task(json!({"prompt": "", "mode": "review", "target": target}))
        .await;
    let finished = client.wait_finished(&task).await;
    (task, finished)
}

/// The user messages of a model request (chat API).
fn user_texts(request: &Value) -> Vec<String> {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Asserts what the user messages of model request `n` hold, and what they do not.
fn model_saw(fixture: &Fixture, n: usize, holds: &[&str], lacks: &[&str]) {
    let text = user_texts(&fixture.model.requests()[n]).join("\n");
    for expected in holds {
        assert!(text.contains(expected), "{expected:?} not in {text}");
    }
    for unexpected in lacks {
        assert!(!text.contains(unexpected), "{unexpected:?} in {text}");
    }
}

/// The review's diagnostics in `uri` once `check` holds for them: (line, severity, code,
/// message) each.
async fn wait_findings(
    client: &LspClient,
    uri: &str,
    what: &str,
    check: impl Fn(&[(u64, u64, String)]) -> bool,
) -> Vec<Value> {
    client
        .wait_until(&format!("review diagnostics of {uri}: {what}"), |c| {
            let last = c
                .notifications("textDocument/publishDiagnostics")
                .into_iter()
                .rev()
                .find(|p| p["uri"] == uri)?;
            let list: Vec<Value> = last["diagnostics"]
                .as_array()?
                .iter()
                .filter(|d| d["source"] == "agentls review")
                .cloned()
                .collect();
            let summary: Vec<(u64, u64, String)> = list
                .iter()
                .map(|d| {
                    (
                        d["range"]["start"]["line"].as_u64().unwrap(),
                        d["severity"].as_u64().unwrap(),
                        d["code"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            check(&summary).then_some(list)
        })
        .await
}

async fn findings(client: &mut LspClient, task: &str) -> Vec<Value> {
    let result = client
        .request("agent/getTask", json!({"taskId": task}))
        .await
        .unwrap();
    result["findings"].as_array().cloned().unwrap_or_default()
}

/// Runs a follow-up of the review (its second run) and returns its `finished` update.
async fn follow_up(client: &mut LspClient, task: &str, prompt: &str) -> Value {
    client
        .request("agent/followUp", json!({"taskId": task, "prompt": prompt}))
        .await
        .unwrap();
    client
        .wait_until("the follow-up to finish", |c| {
            c.updates_of(task, "finished").into_iter().nth(1)
        })
        .await
}

fn at_line(uri: &str, line: u32) -> Value {
    json!({"textDocument": {"uri": uri}, "range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}}, "context": {"diagnostics": []}})
}

#[tokio::test]
async fn findings_follow_the_text_and_their_fixes_become_hunks() {
    let mut script = three_findings();
    script.push(Reply::text("Nothing else."));
    let (fixture, mut client) = repository(script).await;
    let (task, finished) = review(&mut client, json!({"uncommitted": true})).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    assert_eq!(finished["summary"], "Three problems: add, div and mean.");

    // The model saw the whole uncommitted change: the disk's, the unsaved buffer's and
    // the untracked file.
    model_saw(
        &fixture,
        0,
        &[
            "+    return a - b",
            "+    return a // b",
            "+an untracked note",
        ],
        &["generated"],
    );
    let tools: Vec<String> = fixture.model.requests()[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(tools.contains(&"report_finding".to_string()), "{tools:?}");
    assert!(!tools.contains(&"apply_patch".to_string()), "{tools:?}");

    let uri = client.uri("calc.py");
    let ids = [1, 2, 3].map(|n| format!("{task}-f{n}"));
    let shown = wait_findings(&client, &uri, "three at lines 2, 6, 10", |list| {
        list == [
            (1, 1, ids[0].clone()),
            (5, 2, ids[1].clone()),
            (9, 3, ids[2].clone()),
        ]
    })
    .await;
    assert!(
        shown[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("add subtracts")
    );
    assert!(
        shown[2]["message"]
            .as_str()
            .unwrap()
            .contains("outside the reviewed change")
    );
    let listed = findings(&mut client, &task).await;
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0]["fix"], FIX_ADD);
    assert_eq!(listed[2]["outsideChange"], true);
    assert_eq!(listed[1]["outsideChange"], Value::Null);

    // A line typed above moves them all down.
    client.edit("calc.py", (0, 0), (0, 0), "# calc\n").await;
    wait_findings(&client, &uri, "moved down one line", |list| {
        list.iter().map(|(line, ..)| *line).collect::<Vec<_>>() == [2, 6, 10]
    })
    .await;

    // Editing div's line makes its finding go away.
    client.edit("calc.py", (6, 13), (6, 15), "/").await;
    wait_findings(&client, &uri, "div's finding gone", |list| {
        list.iter()
            .map(|(_, _, code)| code.clone())
            .collect::<Vec<_>>()
            == [ids[0].clone(), ids[2].clone()]
    })
    .await;
    assert_eq!(findings(&mut client, &task).await.len(), 2);

    // "Apply fix" on add's finding makes a pending hunk; accepting it fixes the buffer.
    let actions = client
        .request("textDocument/codeAction", at_line(&uri, 2))
        .await
        .unwrap();
    let apply = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["title"]
                .as_str()
                .unwrap()
                .starts_with("Apply fix: add subtracts")
        })
        .unwrap_or_else(|| panic!("no Apply fix in {actions}"))
        .clone();
    assert_eq!(apply["kind"], "quickfix.agent.fix");
    let command = &apply["command"];
    let applied = client
        .request(
            "workspace/executeCommand",
            json!({"command": command["command"], "arguments": command["arguments"]}),
        )
        .await
        .unwrap();
    let fix_hunks: Vec<String> = applied["hunkIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_string())
        .collect();
    assert_eq!(fix_hunks.len(), 1, "{applied}");
    assert_eq!(hunk_ids(&proposal(&mut client, &task).await), fix_hunks);
    let before = client.text("calc.py");
    resolve(&mut client, json!({"taskId": task, "accept": fix_hunks}))
        .await
        .unwrap();
    let fixed = before.replace("    return a - b\n", "    return a + b\n");
    wait_text(&client, "calc.py", &fixed).await;
    // Its lines changed, so the finding is gone too.
    wait_findings(&client, &uri, "only mean's finding", |list| {
        list.iter()
            .map(|(_, _, code)| code.clone())
            .collect::<Vec<_>>()
            == [ids[2].clone()]
    })
    .await;

    // Dismissing the last one clears the file, and a follow-up hears why.
    client
        .request(
            "agent/dismissFinding",
            json!({"taskId": task, "findingId": ids[2], "reason": "callers never pass an empty list"}),
        )
        .await
        .unwrap();
    wait_findings(&client, &uri, "none", <[_]>::is_empty).await;
    assert!(findings(&mut client, &task).await.is_empty());
    let again = client
        .request(
            "agent/dismissFinding",
            json!({"taskId": task, "findingId": ids[2]}),
        )
        .await
        .unwrap_err();
    assert!(
        again["message"]
            .as_str()
            .unwrap()
            .contains("shows no finding"),
        "{again}"
    );

    let finished = follow_up(&mut client, &task, "anything else?").await;
    assert_eq!(finished["status"], "completed", "{finished}");
    let follow_up = user_texts(&fixture.model.requests()[2]);
    let last = follow_up.last().unwrap();
    assert!(last.contains("mean of nothing divides by zero"), "{last}");
    assert!(last.contains("callers never pass an empty list"), "{last}");
}

#[tokio::test]
async fn a_follow_up_keeps_the_fixes_applied_and_a_review_may_run_commands() {
    let mut script = three_findings();
    script.push(Reply::tool_call(
        "shell",
        json!({"command": ["sh", "-c", "echo ran > ran.txt; cat calc.py | head -1"]}),
    ));
    script.push(Reply::text("The tests pass."));
    let (fixture, mut client) = repository(script).await;
    let (task, _) = review(&mut client, json!({"uncommitted": true})).await;
    let applied = client
        .request(
            "workspace/executeCommand",
            json!({"command": "agent.applyFix", "arguments": [{"taskId": task, "findingId": format!("{task}-f1")}]}),
        )
        .await
        .unwrap();
    let fix = applied["hunkIds"].clone();
    follow_up(&mut client, &task, "run the tests").await;
    let requests = fixture.model.requests();
    let outputs = crate::support::model_server::tool_outputs(&requests[requests.len() - 1]);
    assert!(
        outputs.last().unwrap().contains("def add(a, b):"),
        "{outputs:?}"
    );
    // The fix stays pending; what the command wrote is no hunk.
    assert_eq!(json!(hunk_ids(&proposal(&mut client, &task).await)), fix);
    assert!(fixture.disk("ran.txt").is_none());
}

#[tokio::test]
async fn findings_survive_a_restart() {
    let (fixture, mut client) = repository(three_findings()).await;
    let (task, _) = review(&mut client, json!({"uncommitted": true})).await;
    let uri = client.uri("calc.py");
    wait_findings(&client, &uri, "three", |list| list.len() == 3).await;
    client
        .request(
            "agent/dismissFinding",
            json!({"taskId": task, "findingId": format!("{task}-f2")}),
        )
        .await
        .unwrap();
    // The user saves, then the server goes away; the next one reads the findings' lines
    // from disk. (Lines only an unsaved buffer held are gone for it, as stale hunks are.)
    fixture.write("calc.py", IN_BUFFER);
    client.shutdown().await;

    let mut client = fixture.client(ClientOptions::default()).await;
    client.open("calc.py", IN_BUFFER).await;
    let listed = findings(&mut client, &task).await;
    let ids: Vec<&str> = listed
        .iter()
        .map(|f| f["findingId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [format!("{task}-f1"), format!("{task}-f3")]);
    wait_findings(&client, &uri, "the two not dismissed", |list| {
        list.iter().map(|(line, ..)| *line).collect::<Vec<_>>() == [1, 9]
    })
    .await;
    // Deleting the review takes its findings away.
    client
        .request("agent/deleteTask", json!({"taskId": task}))
        .await
        .unwrap();
    wait_findings(&client, &uri, "none", <[_]>::is_empty).await;
}

#[tokio::test]
async fn a_review_replays_from_its_log_with_its_findings_checked_again() {
    let (fixture, mut client) = repository(three_findings()).await;
    let (task, _) = review(&mut client, json!({"uncommitted": true})).await;
    wait_findings(&client, &client.uri("calc.py"), "three", |list| {
        list.len() == 3
    })
    .await;
    client.shutdown().await;
    // The user commits meanwhile: the replay still checks against the change reviewed.
    git(&fixture.root(), &["commit", "-qam", "later"]);

    let replay =
        crate::support::cli::agentls(&fixture.root(), fixture.home(), &["replay", &task], "");
    let stderr = String::from_utf8_lossy(&replay.stderr);
    assert_eq!(replay.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("matches the recording"), "{stderr}");
}

#[tokio::test]
async fn every_target_reviews_its_own_change_and_no_findings_is_a_review() {
    let script = (0..3).map(|_| Reply::text("Looks good to me.")).collect();
    let (fixture, mut client) = repository(script).await;
    let root = fixture.root();
    // A branch with one commit of its own, checked out; calc.py's changes stay uncommitted.
    git(&root, &["stash", "-q"]);
    git(&root, &["checkout", "-q", "-b", "feature"]);
    fixture.write("feature.txt", "a feature\n");
    git(&root, &["add", "feature.txt"]);
    git(&root, &["commit", "-q", "-m", "feature"]);
    let commit = git(&root, &["rev-parse", "HEAD"]).trim().to_string();
    git(&root, &["stash", "pop", "-q"]);

    let (task, finished) = review(&mut client, json!({"baseBranch": "main"})).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    assert_eq!(finished["summary"], "Looks good to me.");
    model_saw(
        &fixture,
        0,
        &[
            "changes since main",
            "+a feature",
            "+    return a - b",
            "+    return a // b",
        ],
        &[],
    );
    assert!(findings(&mut client, &task).await.is_empty());
    let counted = client.updates_of(&task, "findings");
    assert_eq!(counted.len(), 1);
    assert_eq!(counted[0]["findings"], 0);

    let (_, finished) = review(&mut client, json!({"commit": commit})).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    // A commit is only itself.
    model_saw(&fixture, 1, &["+a feature"], &["return a - b"]);

    let diff = "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -9,2 +9,2 @@\n def mean(xs):\n-    return sum(xs) / len(xs)\n+    return sum(xs) / max(len(xs), 1)\n";
    let (_, finished) = review(&mut client, json!({"diff": diff})).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    model_saw(&fixture, 2, &["max(len(xs), 1)"], &["feature"]);
}

#[tokio::test]
async fn a_review_without_a_usable_target_says_what_to_send() {
    let (_fixture, mut client) = repository(vec![]).await;
    let error = client
        .request("agent/startTask", json!({"prompt": "", "mode": "review"}))
        .await
        .unwrap_err();
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("needs a `target`"),
        "{error}"
    );
    let error = client
        .request(
            "agent/startTask",
            json!({"prompt": "x", "target": {"uncommitted": true}}),
        )
        .await
        .unwrap_err();
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("\"mode\": \"review\""),
        "{error}"
    );
    let (_, finished) = review(&mut client, json!({"commit": "no-such-commit"})).await;
    assert_eq!(finished["status"], "failed");
    assert!(
        finished["summary"]
            .as_str()
            .unwrap()
            .contains("no-such-commit"),
        "{finished}"
    );
}

// ----- agentls exec --review, for CI ----------------------------------------------------

fn repo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn test_dep(path: &str) -> std::path::PathBuf {
    let path = repo().join("target/test-deps").join(path);
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-test-deps.sh",
        path.display()
    );
    path
}

/// `agentls exec ARGS…` in the fixture's workspace, off the async workers.
async fn exec(fixture: &Fixture, args: &[&str]) -> Output {
    let (root, home) = (fixture.root(), fixture.home().to_path_buf());
    let args: Vec<String> = ["exec"].iter().chain(args).map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        agentls(&root, &home, &args, "")
    })
    .await
    .unwrap()
}

/// Validates `sarif` against the official SARIF 2.1.0 schema (draft 2020-12); Err holds
/// the validator's complaints.
fn validate_sarif(sarif: &Value) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.sarif");
    std::fs::write(&file, serde_json::to_vec(sarif).unwrap()).unwrap();
    let schema = repo().join("tests/fixtures/sarif/sarif-2.1.0.json");
    let script = "import json, sys\n\
from jsonschema import Draft202012Validator\n\
schema = json.load(open(sys.argv[1]))\n\
errors = [f'{list(e.absolute_path)}: {e.message}' for e in Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2])))]\n\
print('\\n'.join(errors))\n\
sys.exit(1 if errors else 0)\n";
    let output = Command::new(test_dep("sarif/bin/python3"))
        .args(["-c", script])
        .arg(&schema)
        .arg(&file)
        .output()
        .unwrap();
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

#[tokio::test]
async fn exec_review_writes_sarif_that_the_official_schema_accepts() {
    // In CI the change is on disk: the buffer's edit is saved.
    let fixture = git_repository(IN_BUFFER, three_findings()).await;
    let out = exec(
        &fixture,
        &[
            "--review",
            "--uncommitted",
            "--format",
            "sarif",
            "-o",
            "review.sarif",
        ],
    )
    .await;
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(out.stdout.is_empty(), "the report went to the file");
    let sarif: Value =
        serde_json::from_str(&fixture.disk("review.sarif").expect("-o wrote the report")).unwrap();
    validate_sarif(&sarif).unwrap();

    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "agentls");
    let results = run["results"].as_array().unwrap();
    let summary: Vec<(String, u64)> = results
        .iter()
        .map(|r| {
            let region = &r["locations"][0]["physicalLocation"]["region"];
            (
                r["level"].as_str().unwrap().to_string(),
                region["startLine"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("error".into(), 2),
            ("warning".into(), 6),
            ("note".into(), 10)
        ]
    );
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "calc.py"
    );
    assert!(
        results[0]["message"]["text"]
            .as_str()
            .unwrap()
            .starts_with("add subtracts")
    );
    // The fix, as the replacement of line 2 by the patched line.
    let change = &results[0]["fixes"][0]["artifactChanges"][0];
    assert_eq!(change["artifactLocation"]["uri"], "calc.py");
    let replacement = &change["replacements"][0];
    assert_eq!(replacement["deletedRegion"]["startLine"], 2);
    assert_eq!(replacement["deletedRegion"]["startColumn"], 1);
    assert_eq!(replacement["deletedRegion"]["endLine"], 3);
    assert_eq!(replacement["insertedContent"]["text"], "    return a + b\n");
    assert!(results[1].get("fixes").is_none());

    // The validator is not a rubber stamp: a level SARIF does not have is refused.
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0]["level"] = json!("fatal");
    let refused = validate_sarif(&broken).unwrap_err();
    assert!(refused.contains("level"), "{refused}");
}

#[tokio::test]
async fn fail_on_sets_the_exit_status_by_the_worst_finding() {
    // Two reviews of the same change: one finds a warning, one an error.
    let warning_only = || {
        vec![
            Reply::ToolCalls(vec![finding(6, "warning", "div floors", None)]),
            Reply::text("One warning."),
        ]
    };
    let mut script = warning_only();
    script.extend(warning_only());
    script.extend(three_findings());
    let fixture = git_repository(IN_BUFFER, script).await;

    let out = exec(
        &fixture,
        &["--review", "--uncommitted", "--fail-on", "error"],
    )
    .await;
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning is not an error: {said}"
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.starts_with("calc.py:6: warning: div floors\n"),
        "{text}"
    );
    assert!(text.contains("1 finding\nOne warning.\n"), "{text}");

    let out = exec(
        &fixture,
        &["--review", "--uncommitted", "--fail-on", "warning"],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = exec(
        &fixture,
        &[
            "--review",
            "--uncommitted",
            "--format",
            "json",
            "--fail-on",
            "error",
        ],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "completed");
    assert_eq!(report["findings"].as_array().unwrap().len(), 3);
    assert_eq!(report["findings"][0]["severity"], "error");

    let out = exec(&fixture, &["--review"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--uncommitted, --base BRANCH or --commit SHA")
    );
}

#[test]
fn the_pull_request_workflow_passes_actionlint() {
    let actionlint = test_dep("validators/bin/actionlint");
    let workflow = repo().join("examples/ci/review-pr.yml");
    let checked = Command::new(&actionlint).arg(&workflow).output().unwrap();
    let said = |o: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert!(checked.status.success(), "{}", said(&checked));
    let text = std::fs::read_to_string(&workflow).unwrap();
    for expected in [
        "pull_request:",
        "BASE_REF: ${{ github.base_ref }}",
        r#"agentls exec --review --base "origin/$BASE_REF""#,
        "--format sarif -o agentls.sarif",
        "OPENAI_API_KEY: ${{ secrets.OPENAI_API_KEY }}",
        "github/codeql-action/upload-sarif@v4",
        "sarif_file: agentls.sarif",
    ] {
        assert!(text.contains(expected), "the workflow lacks {expected:?}");
    }
    // actionlint does check: the upload's permission misspelt is refused.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yml");
    std::fs::write(
        &broken,
        text.replace("security-events: write", "security-event: write"),
    )
    .unwrap();
    let refused = Command::new(&actionlint).arg(&broken).output().unwrap();
    assert!(!refused.status.success(), "{}", said(&refused));
    assert!(
        said(&refused).contains("security-event"),
        "{}",
        said(&refused)
    );
}

#[tokio::test]
async fn an_editor_without_the_plugin_reviews_through_the_command() {
    let fixture = git_repository(
        ON_DISK,
        vec![
            Reply::ToolCalls(vec![finding(6, "warning", "div floors", None)]),
            Reply::text("One warning."),
        ],
    )
    .await;
    let mut client = fixture
        .client(ClientOptions {
            plain: true,
            ..ClientOptions::default()
        })
        .await;
    client.open("calc.py", ON_DISK).await;
    let started = client
        .request(
            "workspace/executeCommand",
            json!({"command": "agent.startTask", "arguments": [{"prompt": "", "mode": "review", "target": {"uncommitted": true}}]}),
        )
        .await
        .unwrap();
    let task = started["taskId"].as_str().unwrap().to_string();
    let uri = client.uri("calc.py");
    wait_findings(&client, &uri, "div's finding", |list| {
        list == [(5, 2, format!("{task}-f1"))]
    })
    .await;
    let told = client
        .wait_until("the review's end told", |c| {
            c.notifications("window/showMessage")
                .into_iter()
                .map(|m| m["message"].as_str().unwrap_or_default().to_string())
                .find(|m| m.contains("completed"))
        })
        .await;
    assert!(
        told.contains("“review uncommitted changes” completed: One warning"),
        "{told}"
    );
    assert!(told.contains("1 finding shown as diagnostics"), "{told}");
    assert!(!told.contains("No changes proposed"), "{told}");
}
