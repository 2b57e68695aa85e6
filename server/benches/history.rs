//! Tasks that last, measured (docs/performance.md records the numbers and this command:
//! `cargo bench --bench history`):
//!
//! - server start with 100 stored tasks holding 20,000 hunks, until `agent/listTasks`
//!   answers, against the same start with no history (target < 150 ms);
//! - what the log costs a streamed task: a 200-turn scripted `agentls exec` run with the
//!   log and with `task_history_max = 0` (no log), alternating, medians (target ratio
//!   ≤ 1.05); and the size of that task's log and blobs.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) everything runs once, small.

#[path = "../../tests/support/mod.rs"]
mod support;

use support::bench::median;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agentls::documents::PositionEncoding;
use agentls::proposal::store::{ProposalStore, SavedFile};
use agentls::protocol::{StartTaskParams, TaskMode, TaskStatus, TaskUpdate};
use agentls::task::blobs::BlobText;
use agentls::task::journal::Journal;
use agentls::task::log::{self, Event, TaskKind};
use agentls::workspace::FileChange;
use serde_json::json;
use support::lsp_client::{ClientOptions, LspClient};
use support::model_server::{ModelServer, Reply};

struct Scale {
    tasks: usize,
    hunks_per_task: usize,
    turns: usize,
    rounds: usize,
}

const FULL: Scale = Scale {
    tasks: 100,
    hunks_per_task: 200,
    turns: 200,
    rounds: 5,
};
const SMOKE: Scale = Scale {
    tasks: 2,
    hunks_per_task: 3,
    turns: 3,
    rounds: 1,
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
        start_with_history().await;
        log_cost_per_turn().await;
    });
}

/// Writes `tasks` task logs for `root` (one file each, `hunks` pending hunks in it), the
/// way a server would have: header, a proposal checkpoint, a few updates.
fn store_history(root: &Path, home: &Path, tasks: usize, hunks: usize) {
    let journal = Journal::open(home);
    for t in 0..tasks {
        let path = format!("src/file{t}.txt");
        let base: String = (0..hunks * 10).map(|i| format!("line {i}\n")).collect();
        let new: String = (0..hunks * 10)
            .map(|i| {
                if i % 10 == 5 {
                    format!("LINE {i}\n")
                } else {
                    format!("line {i}\n")
                }
            })
            .collect();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join(&path), &base).unwrap();
        let id = format!("t{:011x}{:03x}bench0", 0x19a_0000_0000u64 + t as u64, t);
        let mut store = ProposalStore::new(root.to_path_buf(), PositionEncoding::Utf8);
        store.install(
            &id,
            vec![FileChange {
                path: path.clone(),
                base: Some(base),
                new: Some(new),
            }],
        );
        let saved = store.save(&id, None).unwrap();
        let task = journal
            .create(
                &id,
                Event::Header(log::Header {
                    version: log::FORMAT_VERSION,
                    task_id: id.clone(),
                    kind: TaskKind::Agent,
                    prompt: format!("task {t}"),
                    mode: TaskMode::Code,
                    params: Some(StartTaskParams {
                        prompt: format!("task {t}"),
                        ..StartTaskParams::default()
                    }),
                    root: root.to_string_lossy().into_owned(),
                    created_at: 1_700_000_000_000 + t as u64,
                    buffers: Default::default(),
                    forked_from: None,
                }),
            )
            .unwrap();
        task.record(Event::Proposal(log::ProposalCheckpoint {
            at: 1_700_000_000_000 + t as u64,
            full: true,
            next_hunk: saved.next_hunk,
            files: saved.files.into_iter().map(checkpoint_file).collect(),
        }));
        for (seq, update) in [
            TaskUpdate::Status {
                status: TaskStatus::Running,
            },
            TaskUpdate::Proposal { files: 1, hunks },
            TaskUpdate::Finished {
                status: TaskStatus::Completed,
                summary: Some("done".into()),
            },
        ]
        .into_iter()
        .enumerate()
        {
            task.record(Event::Update {
                at: 1_700_000_000_000,
                seq: seq as u64 + 1,
                update,
            });
        }
    }
    journal.flush();
}

fn checkpoint_file(file: SavedFile) -> log::FileCheckpoint {
    log::FileCheckpoint {
        path: file.path,
        kind: file.kind,
        new_path: file.new_path,
        text: BlobText::from_rope(file.text),
        bases: file.bases.into_iter().map(BlobText::from_text).collect(),
        hunks: file.hunks.iter().map(log::HunkRecord::from).collect(),
    }
}

/// Spawn → initialize → `agent/listTasks` answered.
async fn time_to_list(root: &Path, home: &Path) -> (Duration, usize) {
    let started = Instant::now();
    let mut client = LspClient::start(root, home, ClientOptions::default()).await;
    let tasks = client.request("agent/listTasks", json!({})).await.unwrap();
    let elapsed = started.elapsed();
    let listed = tasks["tasks"].as_array().unwrap().len();
    client.shutdown().await;
    (elapsed, listed)
}

async fn start_with_history() {
    let s = scale();
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("ws");
    std::fs::create_dir_all(&root).unwrap();
    let root = root.canonicalize().unwrap();
    let (home, empty_home) = (scratch.path().join("home"), scratch.path().join("empty"));
    std::fs::create_dir_all(&empty_home).unwrap();
    store_history(&root, &home, s.tasks, s.hunks_per_task);
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..s.rounds {
        let (elapsed, listed) = time_to_list(&root, &home).await;
        assert_eq!(listed, s.tasks);
        with.push(elapsed);
        without.push(time_to_list(&root, &empty_home).await.0);
    }
    let (with, without) = (median(with), median(without));
    println!(
        "start until agent/listTasks answers, {} stored tasks with {} hunks: {:.1} ms; \
         with no history: {:.1} ms; the history costs {:.1} ms",
        s.tasks,
        s.tasks * s.hunks_per_task,
        ms(with),
        ms(without),
        ms(with.saturating_sub(without))
    );
}

/// A task of `turns` model turns: each reads a file (a tool call) and streams a line.
fn script(turns: usize) -> Vec<Reply> {
    let mut script: Vec<Reply> = (0..turns - 1)
        .map(|i| Reply::Turn {
            reasoning: String::new(),
            text: format!("Looking at part {i} of the notes."),
            tool_calls: vec![("read_file".into(), json!({ "path": "notes.txt" }))],
        })
        .collect();
    script.push(Reply::text("Read everything."));
    script
}

async fn exec_once(root: &Path, home: &Path, model: &ModelServer, history: bool) -> Duration {
    let config = format!(
        "model = \"scripted\"\nmodel_provider = \"scripted\"\nmax_turns = 1000\ntask_history_max = {}\n\n\
         [model_providers.scripted]\nbase_url = \"{}\"\nwire_api = \"chat\"\n",
        if history { 100 } else { 0 },
        model.base_url()
    );
    std::fs::write(home.join("config.toml"), config).unwrap();
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_agentls"))
        .args(["exec", "read the notes"])
        .current_dir(root)
        .env("AGENTLS_HOME", home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    started.elapsed()
}

async fn log_cost_per_turn() {
    let s = scale();
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("ws");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("notes.txt"), "one\ntwo\nthree\n".repeat(50)).unwrap();
    let (home, bare) = (scratch.path().join("home"), scratch.path().join("bare"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&bare).unwrap();
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..s.rounds {
        let model = ModelServer::start(script(s.turns)).await;
        with.push(exec_once(&root, &home, &model, true).await);
        let model = ModelServer::start(script(s.turns)).await;
        without.push(exec_once(&root, &bare, &model, false).await);
    }
    let (with, without) = (median(with), median(without));
    let size = |dir: &Path| -> u64 {
        walk(dir)
            .iter()
            .filter_map(|p| p.metadata().ok())
            .map(|m| m.len())
            .sum()
    };
    let logs = size(&home.join("tasks"));
    let blobs = size(&home.join("blobs"));
    println!(
        "a {}-turn task: {:.0} ms with the log, {:.0} ms without: ratio {:.3}; \
         {} logs of it take {} KiB (+ {} KiB of texts in blobs/)",
        s.turns,
        ms(with),
        ms(without),
        with.as_secs_f64() / without.as_secs_f64(),
        s.rounds,
        logs / 1024,
        blobs / 1024
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
