//! `agentls exec` for CI and `agentls tasks`, end to end: the real binary against the
//! scripted model server, real git for `git apply`, real signals.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::support::cli::{agentls, start};
use crate::support::fixture::Fixture;
use crate::support::model_server::Reply;
use serde_json::{Value, json};

/// `agentls ARGS…` in `cwd` against the fixture's home, off the async workers (the model
/// server runs on them).
async fn run_in(cwd: &Path, fixture: &Fixture, args: &[&str], stdin: &str) -> Output {
    let (cwd, home) = (cwd.to_path_buf(), fixture.home().to_path_buf());
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let stdin = stdin.to_string();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        agentls(&cwd, &home, &args, &stdin)
    })
    .await
    .unwrap()
}

async fn run(fixture: &Fixture, args: &[&str]) -> Output {
    run_in(&fixture.root(), fixture, args, "").await
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

/// Every stdout line, each of which must be JSON.
fn lines(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

fn of_type<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == kind).collect()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(["-c", "user.email=ci@example.com", "-c", "user.name=CI"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git is needed for these tests");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Makes the fixture's workspace a git repository with everything committed.
fn commit_all(fixture: &Fixture) {
    let root = fixture.root();
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-qm", "start"]);
}

/// `git apply` of `diff` in the fixture's workspace (checked first).
fn git_apply(fixture: &Fixture, diff: &str) {
    let patch = fixture.home().join("exec.patch");
    std::fs::write(&patch, diff).unwrap();
    let patch = patch.to_str().unwrap();
    git(&fixture.root(), &["apply", "--check", patch]);
    git(&fixture.root(), &["apply", patch]);
}

/// The user messages of a request, on either wire API.
fn user_texts(request: &Value) -> Vec<String> {
    let chat = request["messages"].as_array().into_iter().flatten();
    let responses = request["input"].as_array().into_iter().flatten();
    chat.chain(responses)
        .filter(|m| m["role"] == "user")
        .map(|m| match &m["content"] {
            Value::String(text) => text.clone(),
            parts => parts[0]["text"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

fn patch(body: &str) -> Value {
    json!({"input": format!("*** Begin Patch\n{body}*** End Patch\n")})
}

/// The model's patch that turns a.txt's `two` line into `2`.
fn make_two_a_digit() -> Reply {
    Reply::tool_call(
        "apply_patch",
        patch("*** Update File: a.txt\n@@\n one\n-two\n+2\n"),
    )
}

fn shell(line: &str) -> Reply {
    Reply::tool_call("shell", json!({"command": ["bash", "-c", line]}))
}

/// The ids of the workspace's tasks, newest first.
async fn task_ids(fixture: &Fixture) -> Vec<String> {
    let out = run(fixture, &["tasks", "list", "--json"]).await;
    assert_exit(&out, 0);
    let listed: Value = serde_json::from_str(&stdout(&out)).unwrap();
    listed["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["taskId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_output_is_a_diff_that_git_applies_with_creates_deletes_renames_and_no_final_newlines()
 {
    let fixture = Fixture::new(
        "chat",
        &[
            ("a.txt", "one\ntwo\nthree\n"),
            ("gone.txt", "bye\n"),
            ("nonl.txt", "x\ny"),
            ("move me.txt", "moved content\nline 2\n"),
        ],
        vec![
            Reply::tool_call(
                "apply_patch",
                patch("*** Update File: a.txt\n@@\n one\n-two\n+2\n*** Add File: new.txt\n+new\n*** Delete File: gone.txt\n"),
            ),
            shell("printf 'x\\nz' > nonl.txt && printf 'tail' > tail.txt && mv 'move me.txt' moved.txt"),
            Reply::text("Done: six files."),
        ],
    )
    .await;
    commit_all(&fixture);
    let out = run(&fixture, &["exec", "change the files"]).await;
    assert_exit(&out, 0);
    let diff = stdout(&out);
    assert!(diff.starts_with("diff --git "), "{diff}");
    assert!(
        !diff.contains("Done: six files."),
        "the answer goes to stderr"
    );
    assert!(
        stderr(&out).contains("Done: six files."),
        "{}",
        stderr(&out)
    );
    assert!(
        diff.contains("rename from move me.txt\nrename to moved.txt\n"),
        "{diff}"
    );
    assert!(diff.contains("deleted file mode 100644\n"), "{diff}");
    assert!(diff.contains("\\ No newline at end of file\n"), "{diff}");
    assert_eq!(
        fixture.disk("a.txt").as_deref(),
        Some("one\ntwo\nthree\n"),
        "exec never writes the tree"
    );

    git_apply(&fixture, &diff);
    assert_eq!(fixture.disk("a.txt").as_deref(), Some("one\n2\nthree\n"));
    assert_eq!(fixture.disk("new.txt").as_deref(), Some("new\n"));
    assert_eq!(fixture.disk("gone.txt"), None);
    assert_eq!(fixture.disk("nonl.txt").as_deref(), Some("x\nz"));
    assert_eq!(fixture.disk("tail.txt").as_deref(), Some("tail"));
    assert_eq!(fixture.disk("move me.txt"), None);
    assert_eq!(
        fixture.disk("moved.txt").as_deref(),
        Some("moved content\nline 2\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prompt_comes_from_stdin_the_workspace_from_cd_and_the_answer_goes_to_a_file() {
    let fixture = Fixture::new(
        "responses",
        &[("a.txt", "one\ntwo\n")],
        vec![make_two_a_digit(), Reply::text("Made it a digit.")],
    )
    .await;
    let elsewhere = tempfile::tempdir().unwrap();
    let root = fixture.root();
    let args = [
        "exec",
        "-C",
        root.to_str().unwrap(),
        "-o",
        "answer.txt",
        "-",
    ];
    let out = run_in(elsewhere.path(), &fixture, &args, "make two a digit\n").await;
    assert_exit(&out, 0);
    let requests = fixture.model.requests();
    assert!(
        user_texts(&requests[0])[0].contains("make two a digit"),
        "{:?}",
        user_texts(&requests[0])
    );
    assert_eq!(
        std::fs::read_to_string(elsewhere.path().join("answer.txt")).unwrap(),
        "Made it a digit.",
        "-o is relative to where agentls was started"
    );
    assert_eq!(
        stdout(&out),
        "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+2\n"
    );
    assert_eq!(
        task_ids(&fixture).await.len(),
        1,
        "the task belongs to -C's workspace"
    );
}

const ANSWER_SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "summary": {"type": "string"},
    "files": {"type": "array", "items": {"type": "string"}}
  },
  "required": ["summary", "files"],
  "additionalProperties": false
}"#;

/// The structured-output part of a request, in its wire API's shape.
fn structured_output(wire: &str, request: &Value) -> Value {
    match wire {
        "chat" => request["response_format"].clone(),
        _ => request["text"]["format"].clone(),
    }
}

fn expected_structured_output(wire: &str) -> Value {
    let schema: Value = serde_json::from_str(ANSWER_SCHEMA).unwrap();
    match wire {
        "chat" => json!({"type": "json_schema",
                         "json_schema": {"name": "final_answer", "schema": schema, "strict": true}}),
        _ => {
            json!({"type": "json_schema", "name": "final_answer", "schema": schema, "strict": true})
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_schema_is_sent_as_structured_output_and_a_matching_answer_completes() {
    for wire in ["chat", "responses"] {
        let answer = r#"{"summary": "nothing to change", "files": []}"#;
        let fixture = Fixture::new(wire, &[("a.txt", "one\n")], vec![Reply::text(answer)]).await;
        let schema = fixture.home().join("schema.json");
        std::fs::write(&schema, ANSWER_SCHEMA).unwrap();
        let last = fixture.home().join("last.json");
        let out = run(
            &fixture,
            &[
                "exec",
                "--json",
                "--output-schema",
                schema.to_str().unwrap(),
                "-o",
                last.to_str().unwrap(),
                "describe the change",
            ],
        )
        .await;
        assert_exit(&out, 0);
        let request = &fixture.model.requests()[0];
        assert_eq!(
            structured_output(wire, request),
            expected_structured_output(wire),
            "{wire}"
        );
        let lines = lines(&out);
        let result = lines.last().unwrap();
        assert_eq!(result["type"], "result", "{wire}");
        assert_eq!(result["status"], "completed", "{wire}");
        assert_eq!(result["exitCode"], 0, "{wire}");
        assert_eq!(
            result["output"],
            json!({"summary": "nothing to change", "files": []})
        );
        assert_eq!(std::fs::read_to_string(&last).unwrap(), answer);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_does_not_match_the_schema_fails_the_task_saying_what_is_wrong() {
    for (wire, json) in [("chat", false), ("responses", true)] {
        let fixture = Fixture::new(wire, &[], vec![Reply::text(r#"{"summary": 3}"#)]).await;
        let schema = fixture.home().join("schema.json");
        std::fs::write(&schema, ANSWER_SCHEMA).unwrap();
        let mut args = vec!["exec", "--output-schema", schema.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        args.push("describe the change");
        let out = run(&fixture, &args).await;
        assert_exit(&out, 1);
        assert_eq!(
            structured_output(wire, &fixture.model.requests()[0]),
            expected_structured_output(wire)
        );
        let why = if json {
            let lines = lines(&out);
            let result = lines.last().unwrap();
            assert_eq!(result["status"], "failed");
            assert_eq!(result["exitCode"], 1);
            assert!(result.get("output").is_none());
            result["summary"].as_str().unwrap().to_string()
        } else {
            assert_eq!(stdout(&out), "", "nothing to apply from a failed task");
            stderr(&out)
        };
        assert!(
            why.contains("the final answer does not match the output schema")
                && why.contains("the required property `files` is missing")
                && why.contains("/summary: expected string, got 3"),
            "{wire}: {why}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_carry_the_task_first_turn_usage_command_exit_codes_and_a_final_result() {
    let fixture = Fixture::new(
        "chat",
        &[],
        vec![
            shell("exit 3"),
            shell("echo hi > made.txt"),
            Reply::text("Done."),
        ],
    )
    .await;
    let out = run(&fixture, &["exec", "--json", "make a file"]).await;
    assert_exit(&out, 0);
    let lines = lines(&out);
    assert_eq!(lines[0]["type"], "task");
    let task_id = lines[0]["taskId"].as_str().unwrap();
    assert_eq!(lines[0]["resumed"], false);
    assert_eq!(lines[0]["prompt"], "make a file");
    let updates = of_type(&lines, "update");
    assert!(updates.iter().all(|u| u["taskId"] == task_id));
    assert_eq!(
        updates[0]["update"],
        json!({"kind": "status", "status": "queued"})
    );
    let exit_codes: Vec<&Value> = updates
        .iter()
        .filter(|u| u["update"]["kind"] == "toolResult")
        .map(|u| &u["update"]["exitCode"])
        .collect();
    assert_eq!(exit_codes, [&json!(3), &json!(0)]);
    let turns: Vec<(u64, Value)> = of_type(&lines, "turn")
        .iter()
        .map(|t| (t["turn"].as_u64().unwrap(), t["usage"].clone()))
        .collect();
    let usage = json!({"inputTokens": 12, "outputTokens": 34, "totalTokens": 46});
    assert_eq!(turns, [(1, usage.clone()), (2, usage.clone()), (3, usage)]);
    let proposal = &lines[lines.len() - 2];
    assert_eq!(proposal["type"], "proposal");
    assert_eq!(proposal["files"][0]["path"], "made.txt");
    assert_eq!(proposal["files"][0]["kind"], "create");
    let result = lines.last().unwrap();
    assert_eq!(
        *result,
        json!({"type": "result", "taskId": task_id, "status": "completed", "exitCode": 0,
               "turns": 3,
               "usage": {"inputTokens": 36, "outputTokens": 102, "totalTokens": 138},
               "summary": "Done.", "lastMessage": "Done."})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_continues_a_task_by_id_and_with_last_on_top_of_the_applied_diff() {
    let fixture = Fixture::new(
        "chat",
        &[("a.txt", "one\ntwo\nthree\n")],
        vec![make_two_a_digit(), Reply::text("First.")],
    )
    .await;
    commit_all(&fixture);
    let first = run(&fixture, &["exec", "make two a digit"]).await;
    assert_exit(&first, 0);
    git_apply(&fixture, &stdout(&first));
    let ids = task_ids(&fixture).await;
    assert_eq!(ids.len(), 1);
    let task_id = &ids[0];

    fixture.model.push(Reply::tool_call(
        "apply_patch",
        patch("*** Update File: a.txt\n@@\n 2\n-three\n+3\n"),
    ));
    fixture.model.push(Reply::text("Second."));
    let second = run(&fixture, &["exec", "resume", task_id, "now three"]).await;
    assert_exit(&second, 0);
    let requests = fixture.model.requests();
    let resumed = &requests[2];
    let said = user_texts(resumed);
    assert!(said[0].contains("make two a digit"), "{said:?}");
    assert!(said.last().unwrap().contains("now three"), "{said:?}");
    assert!(
        resumed["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["role"] == "assistant" && m["content"] == "First."),
        "the conversation goes on: {resumed}"
    );
    assert_eq!(
        stdout(&second),
        "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n one\n 2\n-three\n+3\n",
        "only what the follow-up changed on top of the applied diff"
    );
    git_apply(&fixture, &stdout(&second));
    assert_eq!(fixture.disk("a.txt").as_deref(), Some("one\n2\n3\n"));

    // A follow-up may bring its own output schema.
    let answer = r#"{"summary": "all digits", "files": ["a.txt"]}"#;
    fixture.model.push(Reply::text(answer));
    let schema = fixture.home().join("schema.json");
    std::fs::write(&schema, ANSWER_SCHEMA).unwrap();
    let schema = schema.to_str().unwrap();
    let third = run(
        &fixture,
        &[
            "exec",
            "resume",
            "--last",
            "--json",
            "--output-schema",
            schema,
        ],
    )
    .await;
    assert_exit(&third, 0);
    assert_eq!(
        structured_output("chat", fixture.model.requests().last().unwrap()),
        expected_structured_output("chat")
    );
    let lines = lines(&third);
    assert_eq!(lines[0]["type"], "task");
    assert_eq!(lines[0]["taskId"], task_id.as_str());
    assert_eq!(lines[0]["resumed"], true);
    let result = lines.last().unwrap();
    assert_eq!(result["taskId"], task_id.as_str());
    assert_eq!(result["status"], "completed");
    assert_eq!(result["lastMessage"], answer);
    assert_eq!(result["output"]["summary"], "all digits");
    assert_eq!(result["turns"], 1, "turns of this run");
    let said = user_texts(fixture.model.requests().last().unwrap());
    assert!(
        said.last()
            .unwrap()
            .contains("Continue the task where you left off."),
        "{said:?}"
    );
    assert_eq!(
        task_ids(&fixture).await,
        std::slice::from_ref(task_id),
        "still one task"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_list_show_and_rm_work_on_the_workspace_history() {
    let fixture = Fixture::new(
        "chat",
        &[("a.txt", "one\ntwo\n")],
        vec![
            make_two_a_digit(),
            Reply::text("First done."),
            Reply::text("Second done."),
        ],
    )
    .await;
    let first = run(&fixture, &["exec", "first task"]).await;
    assert_exit(&first, 0);
    let second = run(&fixture, &["exec", "--ask", "second task"]).await;
    assert_exit(&second, 0);
    assert_eq!(stdout(&second), "Second done.\n", "--ask prints the answer");

    let list = run(&fixture, &["tasks", "list"]).await;
    assert_exit(&list, 0);
    let ids = task_ids(&fixture).await;
    let rows: Vec<String> = stdout(&list).lines().map(str::to_string).collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (row, (id, prompt)) in rows
        .iter()
        .zip([(&ids[0], "second task"), (&ids[1], "first task")])
    {
        assert!(row.starts_with(id.as_str()), "{row}");
        assert!(row.contains("completed") && row.contains("s ago"), "{row}");
        assert!(row.ends_with(prompt), "{row}");
    }
    let first_id = &ids[1];

    let show = run(&fixture, &["tasks", "show", first_id]).await;
    assert_exit(&show, 0);
    let text = stdout(&show);
    for expected in [
        format!("task     {first_id}\n"),
        "status   completed (code mode".to_string(),
        "prompt   first task\n".to_string(),
        "summary  First done.\n".to_string(),
        "  assistant:\n    First done.\n".to_string(),
        "  tool call apply_patch ".to_string(),
        "proposal: 1 files, 1 hunks (1 pending)\n".to_string(),
        stdout(&first),
    ] {
        assert!(text.contains(&expected), "missing {expected:?} in:\n{text}");
    }
    let diff = run(&fixture, &["tasks", "show", first_id, "--diff"]).await;
    assert_exit(&diff, 0);
    assert_eq!(stdout(&diff), stdout(&first));
    let json = run(&fixture, &["tasks", "show", first_id, "--json"]).await;
    assert_exit(&json, 0);
    let shown: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(shown["task"]["taskId"], first_id.as_str());
    assert_eq!(shown["conversation"][0]["role"], "user");
    assert!(shown["events"].as_array().unwrap().len() > 3);
    assert_eq!(shown["proposal"][0]["path"], "a.txt");
    assert_eq!(shown["proposal"][0]["hunks"][0]["status"], "pending");
    assert_eq!(shown["proposal"][0]["hunks"][0]["newText"], "2\n");

    let rm = run(&fixture, &["tasks", "rm", first_id]).await;
    assert_exit(&rm, 0);
    assert_eq!(task_ids(&fixture).await, [ids[0].clone()]);
    let log = fixture
        .home()
        .join("tasks")
        .join(format!("{first_id}.jsonl"));
    assert!(!log.exists(), "{} is deleted", log.display());
    let gone = run(&fixture, &["tasks", "show", first_id]).await;
    assert_exit(&gone, 2);
    assert!(
        stderr(&gone).contains(&format!("no task {first_id}")),
        "{}",
        stderr(&gone)
    );
    assert_exit(&run(&fixture, &["tasks", "rm", "tnothing"]).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2_with_a_message_and_run_no_task() {
    let fixture = Fixture::new("chat", &[], vec![]).await;
    let home = fixture.home();
    let not_json = home.join("not-json.json");
    std::fs::write(&not_json, "{type: object").unwrap();
    let bad_ref = home.join("bad-ref.json");
    std::fs::write(&bad_ref, r##"{"$ref": "#/$defs/nowhere"}"##).unwrap();
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (vec!["exec", "-"], "", "the prompt is empty"),
        (vec!["exec"], "", "required arguments were not provided"),
        (
            vec!["exec", "--output-schema", "/nonexistent/schema.json", "x"],
            "",
            "cannot read the output schema",
        ),
        (
            vec!["exec", "--output-schema", not_json.to_str().unwrap(), "x"],
            "",
            "is not JSON",
        ),
        (
            vec!["exec", "--output-schema", bad_ref.to_str().unwrap(), "x"],
            "",
            "points at nothing in the schema",
        ),
        (
            vec!["exec", "-C", "/nonexistent/dir", "x"],
            "",
            "cannot use /nonexistent/dir as the workspace",
        ),
        (
            vec!["exec", "resume"],
            "",
            "name the task to resume, or pass --last",
        ),
        (vec!["exec", "resume", "--last"], "", "no earlier task"),
        (
            vec!["exec", "resume", "tnothing", "go on"],
            "",
            "no task tnothing",
        ),
        (
            vec!["exec", "resume", "--last", "a", "b"],
            "",
            "--last takes no task id",
        ),
        (vec!["tasks", "show", "tnothing"], "", "no task tnothing"),
    ];
    for (args, stdin, message) in cases {
        let out = run_in(&fixture.root(), &fixture, &args, stdin).await;
        assert_exit(&out, 2);
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{args:?}");
    }
    assert!(fixture.model.requests().is_empty(), "no task ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_and_sigterm_cancel_the_task_and_exit_130_and_143() {
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let fixture = Fixture::new(
            "chat",
            &[],
            vec![Reply::stall(
                Duration::from_secs(120),
                Reply::text("never finished"),
            )],
        )
        .await;
        let (root, home) = (fixture.root(), fixture.home().to_path_buf());
        let args = [
            "-c",
            "model_providers.scripted.stream_idle_timeout_ms=300000",
            "exec",
            "--json",
            "wait for it",
        ];
        let mut child = start(&root, &home, &args);
        drop(child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while fixture.model.requests().is_empty() {
            assert!(Instant::now() < deadline, "the model was never asked");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The stream has begun (the server stalls after its first delta).
        tokio::time::sleep(Duration::from_millis(200)).await;
        // SAFETY: kill(2) on the pid of a child we started and have not reaped.
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
        let out = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()),
        )
        .await
        .expect("agentls exits after the signal")
        .unwrap();
        assert_exit(&out, code);
        let lines = lines(&out);
        let result = lines.last().unwrap();
        assert_eq!(result["type"], "result");
        assert_eq!(result["status"], "cancelled");
        assert_eq!(result["exitCode"], code);
        let listed = run(&fixture, &["tasks", "list", "--json"]).await;
        let listed: Value = serde_json::from_str(&stdout(&listed)).unwrap();
        assert_eq!(listed["tasks"][0]["status"], "cancelled", "signal {signal}");
    }
}
