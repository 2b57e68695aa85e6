//! Best-of-N attempts, measured against their peers in the same run (docs/performance.md
//! records the numbers and this command: `cargo bench --bench attempts`):
//!
//! - wall time of a task with 4 attempts against the same task with 1, on the scripted
//!   model server with a fixed latency per request (each attempt: a patch, a test
//!   command in its sandbox, an answer), through the real binary over LSP: attempts run
//!   side by side, so 4 should cost about 1 (target ≤ 1.3×);
//! - importing 8 pushed attempts of a 200-file change (`agent/importAttempts`: fetch,
//!   then each placed against the workspace) against `git fetch` of the same refs plus
//!   `git apply --3way` of each attempt's diff, in fresh clones, as a ratio.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) everything runs once, small.

#[path = "../../tests/support/mod.rs"]
mod support;

use support::bench::median;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agentls::import::attempts::{PushedAttempt, commit_message};
use agentls::protocol::TaskStatus;
use serde_json::json;
use support::lsp_client::{ClientOptions, LspClient};
use support::model_server::{ModelServer, Reply};
use support::tree::git;

struct Scale {
    latency: Duration,
    rounds: usize,
    files: usize,
    attempts: usize,
}

const FULL: Scale = Scale {
    latency: Duration::from_millis(500),
    rounds: 3,
    files: 200,
    attempts: 8,
};
const SMOKE: Scale = Scale {
    latency: Duration::from_millis(20),
    rounds: 1,
    files: 5,
    attempts: 2,
};

fn scale() -> &'static Scale {
    if support::bench::full_run() {
        &FULL
    } else {
        &SMOKE
    }
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        four_attempts_against_one().await;
        import_against_git().await;
    });
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One attempt's conversation: patch, run the check, answer.
fn attempt(n: usize) -> Reply {
    let patch = format!(
        "*** Begin Patch\n*** Update File: notes.txt\n@@\n one\n-two\n+attempt {n}\n three\n*** End Patch\n"
    );
    Reply::conversation(vec![
        Reply::tool_call("apply_patch", json!({ "input": patch })),
        Reply::tool_call(
            "shell",
            json!({ "command": ["sh", "-c", "grep -q attempt notes.txt"] }),
        ),
        Reply::text(format!("Attempt {n} done.")),
    ])
}

/// A workspace and a home whose config points at `model`.
fn workspace(model: &ModelServer) -> (tempfile::TempDir, tempfile::TempDir) {
    let (root, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(root.path().join("notes.txt"), "one\ntwo\nthree\n").unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "model = \"m\"\nmodel_provider = \"s\"\n[model_providers.s]\nname = \"s\"\nbase_url = \"{}\"\nwire_api = \"chat\"\n",
            model.base_url()
        ),
    )
    .unwrap();
    (root, home)
}

/// Wall time of one task with `attempts` attempts (1: a plain task), start to finish.
async fn timed_task(attempts: usize) -> Duration {
    let scale = scale();
    let model = ModelServer::start((0..attempts).map(attempt).collect()).await;
    model.set_latency(scale.latency);
    let (root, home) = workspace(&model);
    let root_path = root.path().canonicalize().unwrap();
    let mut client = LspClient::start(&root_path, home.path(), ClientOptions::default()).await;
    let params = if attempts > 1 {
        json!({ "prompt": "improve line two", "bestOf": attempts })
    } else {
        json!({ "prompt": "improve line two" })
    };
    let started = Instant::now();
    let task = client.start_task(params).await;
    let finished = client.wait_finished(&task).await;
    let took = started.elapsed();
    assert_eq!(finished["status"], "completed", "{finished}");
    if attempts > 1 {
        assert_eq!(
            model.max_in_flight(),
            attempts.min(4),
            "attempts ran side by side"
        );
    }
    client.shutdown().await;
    took
}

async fn four_attempts_against_one() {
    let scale = scale();
    let (mut one, mut four) = (Vec::new(), Vec::new());
    for _ in 0..scale.rounds {
        one.push(timed_task(1).await);
        four.push(timed_task(4).await);
    }
    let (one, four) = (median(one), median(four));
    println!(
        "4 attempts vs 1, {} ms per model request, 3 requests and a sandboxed command per attempt (median of {}):\n  1 attempt:  {:8.0} ms\n  4 attempts: {:8.0} ms\n  ratio: {:.2} (target <= 1.3)",
        scale.latency.as_millis(),
        scale.rounds,
        ms(one),
        ms(four),
        four.as_secs_f64() / one.as_secs_f64()
    );
}

/// A bare remote holding a repository of `files` files and `attempts` pushed attempts,
/// each changing every file; returns (machines dir, remote, the refs' prefix).
fn pushed_attempts(files: usize, attempts: usize) -> (tempfile::TempDir, PathBuf, String) {
    let machines = tempfile::tempdir().unwrap();
    let seed = machines.path().join("seed");
    std::fs::create_dir_all(seed.join("src")).unwrap();
    let text = |f: usize, changed: Option<usize>| -> String {
        (0..60)
            .map(|l| match changed {
                Some(a) if l == 10 + a * 5 => format!("file {f} line {l} changed by attempt {a}\n"),
                _ => format!("file {f} line {l}\n"),
            })
            .collect()
    };
    for f in 0..files {
        std::fs::write(seed.join(format!("src/f{f}.txt")), text(f, None)).unwrap();
    }
    git(&seed, &["init", "-q", "-b", "main"]);
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-qm", "files"]);
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
    let prefix = "refs/agentls/bench".to_string();
    for a in 0..attempts {
        git(&seed, &["checkout", "-q", "--detach", "main"]);
        for f in 0..files {
            std::fs::write(seed.join(format!("src/f{f}.txt")), text(f, Some(a))).unwrap();
        }
        git(&seed, &["add", "-A"]);
        let message = commit_message(
            "change every file",
            &PushedAttempt {
                status: Some(TaskStatus::Completed),
                summary: Some(format!("attempt {a}")),
                ..PushedAttempt::default()
            },
        );
        git(&seed, &["commit", "-qm", &message]);
        git(
            &seed,
            &[
                "push",
                "-q",
                remote.to_str().unwrap(),
                &format!("HEAD:{prefix}/{a}"),
            ],
        );
    }
    (machines, remote, prefix)
}

fn fresh_clone(remote: &Path, machines: &Path, name: &str) -> PathBuf {
    let dir = machines.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    git(
        machines,
        &[
            "clone",
            "-q",
            remote.to_str().unwrap(),
            dir.to_str().unwrap(),
        ],
    );
    dir.canonicalize().unwrap()
}

/// `agent/importAttempts` on the prefix in a fresh clone, until the task has finished.
async fn agentls_import(clone: &Path, home: &Path, prefix: &str, attempts: usize) -> Duration {
    let mut client = LspClient::start(clone, home, ClientOptions::default()).await;
    let started = Instant::now();
    let imported = client
        .request("agent/importAttempts", json!({ "prefix": prefix }))
        .await
        .unwrap();
    let task = imported["taskId"].as_str().unwrap().to_string();
    let finished = client.wait_finished(&task).await;
    let took = started.elapsed();
    assert_eq!(finished["status"], "completed", "{finished}");
    let listed = client
        .request("agent/getTask", json!({ "taskId": task }))
        .await
        .unwrap();
    let rows = listed["attempts"].as_array().unwrap();
    assert_eq!(rows.len(), attempts);
    assert!(rows.iter().all(|r| r["files"] == scale().files), "{listed}");
    client.shutdown().await;
    took
}

/// `git fetch` of the same refs, then `git diff C^ C | git apply --3way` of each (the
/// tree put back between attempts, untimed).
fn git_import(clone: &Path, prefix: &str, attempts: usize) -> Duration {
    let mut took = Duration::ZERO;
    let started = Instant::now();
    git(
        clone,
        &["fetch", "-q", "origin", &format!("+{prefix}/*:{prefix}/*")],
    );
    took += started.elapsed();
    for a in 0..attempts {
        let started = Instant::now();
        let commit = format!("{prefix}/{a}");
        let diff = git(
            clone,
            &["diff", "--full-index", &format!("{commit}^"), &commit],
        );
        let mut apply = Command::new("git")
            .args(["apply", "--3way", "-"])
            .current_dir(clone)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        apply
            .stdin
            .take()
            .unwrap()
            .write_all(diff.as_bytes())
            .unwrap();
        assert!(apply.wait().unwrap().success());
        took += started.elapsed();
        git(clone, &["reset", "-q", "--hard"]);
    }
    took
}

async fn import_against_git() {
    let scale = scale();
    let (machines, remote, prefix) = pushed_attempts(scale.files, scale.attempts);
    let home = tempfile::tempdir().unwrap();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..scale.rounds {
        let clone = fresh_clone(&remote, machines.path(), &format!("ours{round}"));
        ours.push(agentls_import(&clone, home.path(), &prefix, scale.attempts).await);
        let clone = fresh_clone(&remote, machines.path(), &format!("git{round}"));
        let (prefix, attempts) = (prefix.clone(), scale.attempts);
        theirs.push(
            tokio::task::spawn_blocking(move || git_import(&clone, &prefix, attempts))
                .await
                .unwrap(),
        );
    }
    let (ours, theirs) = (median(ours), median(theirs));
    println!(
        "importing {} pushed attempts of a {}-file change (median of {}):\n  agent/importAttempts (fetch + placement): {:8.0} ms\n  git fetch + git apply --3way of each:     {:8.0} ms\n  ratio (agentls / git): {:.2}",
        scale.attempts,
        scale.files,
        scale.rounds,
        ms(ours),
        ms(theirs),
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
}
