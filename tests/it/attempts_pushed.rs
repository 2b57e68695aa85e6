//! A rehearsal of attempts run elsewhere, on one machine: a bare repository stands for
//! the remote, four clones for four CI runners, each running `agentls exec --push` at the
//! same time against the scripted model server (four conversations, four different
//! answers); then the user, who kept typing meanwhile, pulls the four attempts into the
//! editor with `agent/importAttempts`, previews them against the live buffer, chooses one
//! and accepts it. Real git throughout; nobody's branches, index or files are touched.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::cli::start;
use crate::support::fixture::Fixture;
use crate::support::lsp_client::{ClientOptions, LspClient};
use crate::support::model_server::Reply;
use crate::support::review::{self, hunks};
use crate::support::tree::git;

const NOTES: &str = "one\ntwo\nthree\nfour\nfive\nsix\nseven\n";
const RUN: &str = "refs/agentls/run7";

/// What each runner's attempt makes of line two; only the first passes the check.
const LINES: [&str; 4] = ["TWO", "2", "deux", "zwei"];
const CHECK: &str = "grep -q TWO notes.txt";

fn conversation(line: &str) -> Reply {
    let patch = format!(
        "*** Begin Patch\n*** Update File: notes.txt\n@@\n one\n-two\n+{line}\n three\n*** End Patch\n"
    );
    Reply::conversation(vec![
        Reply::tool_call("apply_patch", json!({ "input": patch })),
        Reply::tool_call("shell", json!({ "command": ["sh", "-c", CHECK] })),
        Reply::text(format!("Line two now reads {line}.")),
    ])
}

/// What a clone's user would notice changing: HEAD, branches, the index, the files.
fn state(clone: &Path) -> (String, String, Vec<u8>, String) {
    (
        git(clone, &["rev-parse", "HEAD"]),
        git(clone, &["for-each-ref", "refs/heads", "refs/remotes"]),
        std::fs::read(clone.join(".git/index")).unwrap(),
        git(clone, &["status", "--porcelain", "--untracked-files=all"]),
    )
}

fn clone(remote: &Path, into: &Path) -> PathBuf {
    git(
        into.parent().unwrap(),
        &[
            "clone",
            "-q",
            remote.to_str().unwrap(),
            into.to_str().unwrap(),
        ],
    );
    into.canonicalize().unwrap()
}

#[tokio::test]
async fn four_attempts_pushed_at_once_come_back_as_one_task_placed_against_the_live_buffer() {
    let fixture = Fixture::new(
        "chat",
        &[("notes.txt", NOTES)],
        LINES.iter().map(|line| conversation(line)).collect(),
    )
    .await;
    fixture.model.set_latency(Duration::from_millis(300));
    let seed = fixture.root();
    git(&seed, &["init", "-q", "-b", "main"]);
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-qm", "notes"]);
    let machines = tempfile::tempdir().unwrap();
    let remote = machines.path().join("remote.git");
    git(
        machines.path(),
        &[
            "clone",
            "-q",
            "--bare",
            seed.to_str().unwrap(),
            remote.to_str().unwrap(),
        ],
    );
    let start_commit = git(&seed, &["rev-parse", "HEAD"]);
    let runners: Vec<PathBuf> = (0..4)
        .map(|i| clone(&remote, &machines.path().join(format!("runner{i}"))))
        .collect();
    // One runner has work of its own lying around: its attempt sits on a commit of it.
    std::fs::write(runners[3].join("scratch.txt"), "not committed\n").unwrap();
    let user = clone(&remote, &machines.path().join("user"));
    let before: Vec<_> = runners.iter().chain([&user]).map(|c| state(c)).collect();

    let processes: Vec<_> = runners
        .iter()
        .enumerate()
        .map(|(i, runner)| {
            let git_ref = format!("{RUN}/{i}");
            let args = ["exec", "--json", "--push", "origin", "--ref", &git_ref];
            let args = [&args[..], &["improve line two"]].concat();
            start(runner, fixture.home(), &args)
        })
        .collect();
    let outputs = tokio::task::spawn_blocking(move || {
        processes
            .into_iter()
            .map(|p| p.wait_with_output().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let mut pushed = Vec::new();
    for (i, output) in outputs.iter().enumerate() {
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(0),
            "runner {i}:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let line: Value = stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| l["type"] == "push")
            .unwrap_or_else(|| panic!("runner {i} printed no push line:\n{stdout}"));
        assert_eq!(line["ref"], format!("{RUN}/{i}"), "{line}");
        assert_eq!(line["remote"], "origin");
        pushed.push(line["commit"].as_str().unwrap().to_string());
    }
    assert!(
        fixture.model.max_in_flight() >= 2,
        "the runners' model requests overlapped"
    );
    for (i, commit) in pushed.iter().enumerate() {
        assert_eq!(
            git(&remote, &["rev-parse", &format!("{RUN}/{i}")]).trim(),
            commit,
            "runner {i}'s commit is on the remote"
        );
        let parent = git(&remote, &["rev-parse", &format!("{commit}^")]);
        if i == 3 {
            assert_ne!(
                parent, start_commit,
                "the dirty runner's attempt has its own base"
            );
            assert_eq!(
                git(&remote, &["rev-parse", &format!("{commit}^^")]),
                start_commit
            );
            let base_files = git(&remote, &["ls-tree", "--name-only", &format!("{commit}^")]);
            assert!(base_files.contains("scratch.txt"), "{base_files}");
        } else {
            assert_eq!(parent, start_commit, "runner {i}");
        }
        let changed = git(
            &remote,
            &["diff", "--name-only", &format!("{commit}^"), commit],
        );
        assert_eq!(
            changed, "notes.txt\n",
            "runner {i}'s commit holds its change only"
        );
    }

    // The user has typed meanwhile, in a buffer they have not saved, inside the context
    // of every attempt's hunk: only a 3-way merge places them.
    let mut client = LspClient::start(&user, fixture.home(), ClientOptions::default()).await;
    client.open("notes.txt", NOTES).await;
    client.edit("notes.txt", (3, 0), (3, 4), "FOUR").await;
    let imported = client
        .request("agent/importAttempts", json!({ "prefix": RUN }))
        .await
        .unwrap();
    let task = imported["taskId"].as_str().unwrap().to_string();
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    let listed = client
        .request("agent/getTask", json!({ "taskId": task }))
        .await
        .unwrap();
    let attempts = listed["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 4, "{listed:#}");
    for (i, attempt) in attempts.iter().enumerate() {
        assert_eq!(attempt["attempt"], i as u64 + 1);
        assert_eq!(attempt["status"], "completed", "{attempt}");
        assert_eq!(
            attempt["source"],
            json!({ "ref": format!("{RUN}/{i}"), "commit": pushed[i] })
        );
        assert_eq!(
            (&attempt["files"], &attempt["added"], &attempt["removed"]),
            (&json!(1), &json!(1), &json!(1)),
            "{attempt}"
        );
        assert_eq!(
            attempt["lastCommand"]["command"],
            format!("sh -c '{CHECK}'"),
            "{attempt}"
        );
        assert_eq!(attempt["usage"]["totalTokens"], 3 * 46, "{attempt}");
        // Which runner's model conversation was which is the race's business; what
        // each attempt says matches what it changed.
        let preview = client
            .request(
                "agent/getProposal",
                json!({ "taskId": task, "attempt": i + 1 }),
            )
            .await
            .unwrap();
        let placed = hunks(&preview);
        assert_eq!(placed.len(), 1, "{preview}");
        assert_eq!(placed[0]["status"], "pending", "{preview}");
        assert_eq!(placed[0]["oldText"], "two\n");
        assert_eq!(placed[0]["range"]["start"]["line"], 1);
        let new_line = placed[0]["newText"]
            .as_str()
            .unwrap()
            .trim_end()
            .to_string();
        assert!(LINES.contains(&new_line.as_str()), "{preview}");
        assert_eq!(
            attempt["summary"],
            format!("Line two now reads {new_line}."),
            "{attempt}"
        );
        assert_eq!(
            attempt["lastCommand"]["exitCode"] == 0,
            new_line == "TWO",
            "the check passed exactly where line two became TWO: {attempt}"
        );
    }
    let said: String = client
        .updates(&task)
        .iter()
        .filter_map(|u| u["update"]["delta"].as_str().map(str::to_string))
        .collect();
    for i in 0..4 {
        assert!(
            said.contains(&format!(
                "attempt {} ({RUN}/{i}):\nmodify notes.txt: 1 hunk: 1 by 3-way merge\n",
                i + 1
            )),
            "{said}"
        );
    }
    let green = attempts
        .iter()
        .find(|a| a["lastCommand"]["exitCode"] == 0)
        .unwrap()["attempt"]
        .clone();
    client
        .request(
            "agent/chooseAttempt",
            json!({ "taskId": task, "attempt": green }),
        )
        .await
        .unwrap();
    let proposal = review::proposal(&mut client, &task).await;
    let ids: Vec<Value> = hunks(&proposal)
        .iter()
        .map(|h| h["hunkId"].clone())
        .collect();
    review::resolve(&mut client, json!({ "taskId": task, "accept": ids }))
        .await
        .unwrap();
    review::wait_text(
        &client,
        "notes.txt",
        "one\nTWO\nthree\nFOUR\nfive\nsix\nseven\n",
    )
    .await;

    let after: Vec<_> = runners.iter().chain([&user]).map(|c| state(c)).collect();
    for (i, (before, after)) in before.iter().zip(&after).enumerate() {
        assert_eq!(
            before, after,
            "clone {i}: HEAD, branches, index and files as they were"
        );
    }
    // The attempts are refs of the user's repository now: `agentls apply` takes one.
    let applied = crate::support::cli::agentls(
        &user,
        fixture.home(),
        &["apply", &format!("git:{RUN}/1")],
        "",
    );
    assert!(applied.status.success(), "{applied:?}");
    let on_disk = std::fs::read_to_string(user.join("notes.txt")).unwrap();
    let attempt_two = git(&user, &["show", &format!("{RUN}/1:notes.txt")]);
    assert_eq!(on_disk, attempt_two);
    client.shutdown().await;
}

#[tokio::test]
async fn importing_from_a_remote_without_such_refs_says_so() {
    let fixture = Fixture::new("chat", &[("notes.txt", NOTES)], Vec::new()).await;
    let root = fixture.root();
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-qm", "notes"]);
    let mut client = fixture.client(ClientOptions::default()).await;
    let both = client
        .request(
            "agent/importAttempts",
            json!({ "refs": ["a"], "prefix": "b" }),
        )
        .await
        .unwrap_err();
    assert!(
        both["message"].as_str().unwrap().contains("either"),
        "{both}"
    );
    let imported = client
        .request(
            "agent/importAttempts",
            json!({ "remote": root.to_str().unwrap(), "prefix": "nothing-here" }),
        )
        .await
        .unwrap();
    let finished = client
        .wait_finished(imported["taskId"].as_str().unwrap())
        .await;
    assert_eq!(finished["status"], "failed");
    assert!(
        finished["summary"]
            .as_str()
            .unwrap()
            .contains("no refs under refs/agentls/nothing-here/"),
        "{finished}"
    );
}

#[tokio::test]
async fn exec_push_needs_a_repository_and_says_when_the_push_fails() {
    let fixture = Fixture::new("chat", &[("notes.txt", NOTES)], vec![conversation("TWO")]).await;
    let root = fixture.root();
    let home = fixture.home().to_path_buf();
    let run = |args: Vec<&'static str>| {
        let (root, home) = (root.clone(), home.clone());
        tokio::task::spawn_blocking(move || crate::support::cli::agentls(&root, &home, &args, ""))
    };
    let outside = run(vec!["exec", "--push", "origin", "improve line two"])
        .await
        .unwrap();
    assert_eq!(outside.status.code(), Some(2), "{outside:?}");
    let said = String::from_utf8_lossy(&outside.stderr);
    assert!(said.contains("--push needs a git repository"), "{said}");
    assert!(fixture.model.requests().is_empty(), "no task ran");

    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-qm", "notes"]);
    let index = std::fs::read(root.join(".git/index")).unwrap();
    let failed = run(vec!["exec", "--push", "nowhere", "improve line two"])
        .await
        .unwrap();
    assert_eq!(failed.status.code(), Some(3), "{failed:?}");
    let said = String::from_utf8_lossy(&failed.stderr);
    assert!(said.contains("--push: cannot push"), "{said}");
    assert!(said.contains("nowhere"), "{said}");
    assert_eq!(std::fs::read(root.join(".git/index")).unwrap(), index);
    assert_eq!(
        std::fs::read_to_string(root.join("notes.txt")).unwrap(),
        NOTES
    );
}
