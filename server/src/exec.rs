//! `agentls exec`: one task, headless, in the current directory — the same engine the
//! editor uses, for CI and scripts. The proposal is printed (as a unified diff, or as JSON
//! with `--json`), never written: apply it with `git apply` or review it in an editor.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::{oneshot, watch};

use crate::documents::PositionEncoding;
use crate::engine::{Engine, EngineSettings};
use crate::proposal::store::ProposalStore;
use crate::protocol::{
    ApprovalDecision, ApprovalRequestParams, StartTaskParams, TaskMode, TaskStatus, TaskUpdate,
    TaskUpdateParams,
};
use crate::task::{ClientSink, ProgressEvent};

pub struct Request {
    pub prompt: String,
    pub mode: TaskMode,
    pub model: Option<String>,
    pub profile: Option<String>,
    /// JSON lines on stdout instead of text.
    pub json: bool,
    /// Answer every approval request with `allow`; without it, every request is denied
    /// (there is nobody to ask).
    pub approve: bool,
}

/// One line of `--json` output.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum JsonLine<'a> {
    Update(&'a TaskUpdateParams),
    Proposal { files: Vec<JsonFile> },
}

#[derive(Serialize)]
struct JsonFile {
    path: String,
    kind: crate::protocol::FileKind,
    diff: String,
}

struct ExecSink {
    json: bool,
    approve: bool,
    finished: watch::Sender<Option<TaskStatus>>,
}

impl ClientSink for ExecSink {
    fn task_update(&self, update: &TaskUpdateParams) {
        if self.json {
            print_json(&JsonLine::Update(update));
        } else {
            print_human(&update.update);
        }
        if let TaskUpdate::Finished { status, .. } = update.update {
            self.finished.send_replace(Some(status));
        }
    }

    fn progress(&self, _task_id: &str, _event: ProgressEvent) {}

    fn request_approval(
        &self,
        request: ApprovalRequestParams,
    ) -> oneshot::Receiver<ApprovalDecision> {
        let decision = if self.approve {
            ApprovalDecision::Allow
        } else {
            ApprovalDecision::Deny
        };
        eprintln!(
            "[approval] {:?} {}: {decision:?}{}",
            request.kind,
            request
                .command
                .map(|argv| argv.join(" "))
                .or(request.reason)
                .unwrap_or_default(),
            if self.approve {
                ""
            } else {
                " (pass --approve to allow)"
            }
        );
        let (answer, receiver) = oneshot::channel();
        let _ = answer.send(decision);
        receiver
    }
}

pub async fn run(settings: EngineSettings, request: Request) -> ExitCode {
    let root = match std::env::current_dir() {
        Ok(root) => root,
        Err(error) => {
            eprintln!("agentls exec: cannot find the current directory: {error}");
            return ExitCode::from(2);
        }
    };
    let (finished, mut finished_rx) = watch::channel(None);
    let sink = Arc::new(ExecSink {
        json: request.json,
        approve: request.approve,
        finished,
    });
    let store = ProposalStore::new(root.clone(), PositionEncoding::Utf8);
    let engine = Engine::new(root.clone(), store, sink, settings);
    let task_id = engine.start_task(StartTaskParams {
        prompt: request.prompt,
        mode: request.mode,
        model: request.model,
        profile: request.profile,
        ..StartTaskParams::default()
    });
    let cancel_on_ctrl_c = {
        let engine = engine.clone();
        let task_id = task_id.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = engine.cancel(&task_id, false);
            }
        })
    };
    let status = finished_rx
        .wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|s| *s);
    cancel_on_ctrl_c.abort();
    engine.shutdown().await;
    print_proposal(&engine, &task_id, &root, request.json);
    match status {
        Some(TaskStatus::Completed) => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    }
}

#[allow(
    clippy::print_stdout,
    reason = "exec prints the proposal as a diff on stdout"
)]
fn print_proposal(engine: &Engine, task_id: &str, root: &Path, json: bool) {
    let files = engine
        .store()
        .view_page(task_id, None, None, usize::MAX)
        .and_then(Result::ok)
        .map(|page| page.files)
        .unwrap_or_default();
    let files: Vec<JsonFile> = files
        .into_iter()
        .map(|file| {
            let current = std::fs::read_to_string(root.join(&file.path)).unwrap_or_default();
            let proposed = apply_hunks(&current, &file.hunks);
            let old_name = if file.kind == crate::protocol::FileKind::Create {
                "/dev/null".to_string()
            } else {
                format!("a/{}", file.path)
            };
            let new_name = if file.kind == crate::protocol::FileKind::Delete {
                "/dev/null".to_string()
            } else {
                format!("b/{}", file.new_path.as_deref().unwrap_or(&file.path))
            };
            let diff = similar::TextDiff::from_lines(&current, &proposed)
                .unified_diff()
                .context_radius(3)
                .header(&old_name, &new_name)
                .to_string();
            JsonFile {
                path: file.path,
                kind: file.kind,
                diff,
            }
        })
        .collect();
    if json {
        print_json(&JsonLine::Proposal { files });
    } else {
        for file in files {
            print!("{}", file.diff); // stdout-ok: exec prints the proposal
        }
    }
}

/// The file's text with every pending hunk applied (hunks are sorted and disjoint).
fn apply_hunks(current: &str, hunks: &[crate::protocol::HunkInfo]) -> String {
    let rope = ropey::Rope::from_str(current);
    let mut out = String::with_capacity(current.len());
    let mut at = 0;
    for hunk in hunks {
        let start =
            crate::documents::position_to_char(&rope, hunk.range.start, PositionEncoding::Utf8);
        let end = crate::documents::position_to_char(&rope, hunk.range.end, PositionEncoding::Utf8);
        out.extend(rope.slice(at..start).chunks());
        out.push_str(&hunk.new_text);
        at = end;
    }
    out.extend(rope.slice(at..).chunks());
    out
}

#[allow(
    clippy::print_stdout,
    reason = "exec --json writes its JSON lines on stdout"
)]
fn print_json(line: &JsonLine<'_>) {
    if let Ok(text) = serde_json::to_string(line) {
        println!("{text}"); // stdout-ok: exec --json output
    }
}

/// Human output: the assistant's words on stdout, everything else on stderr.
#[allow(
    clippy::print_stdout,
    reason = "exec prints the assistant's words on stdout"
)]
fn print_human(update: &TaskUpdate) {
    match update {
        TaskUpdate::Message { delta } => print!("{delta}"), // stdout-ok: exec output
        TaskUpdate::ToolCall {
            tool,
            args,
            status: crate::protocol::ToolCallStatus::Running,
            ..
        } => eprintln!("\n[{tool}] {args}"),
        TaskUpdate::ToolResult {
            ok: false, output, ..
        } => eprintln!("[tool error] {output}"),
        TaskUpdate::Error { message, .. } => eprintln!("[error] {message}"),
        TaskUpdate::Warning { message } => eprintln!("[warning] {message}"),
        TaskUpdate::Finished { status, .. } => eprintln!("\n[{status:?}]"),
        _ => {}
    }
}
