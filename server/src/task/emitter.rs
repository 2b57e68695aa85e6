//! Turns a task's raw update stream into numbered, coalesced client notifications.
//!
//! A model streams dozens of tiny deltas a second; sending each as its own notification
//! floods slow clients (Neovim redraws per message). Deltas are buffered and flushed
//! [`FLUSH_HZ`] times a second, merged with the neighbours of the same kind, so a client
//! sees at most that many delta notifications per task per second while the order of
//! everything else is kept exactly.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::mpsc;

use super::{ClientSink, ProgressEvent, Task, one_line};
use serde_json::Value;

use crate::protocol::{
    PlanItem, PlanStatus, TaskStatus, TaskUpdate, TaskUpdateParams, ToolCallStatus,
};
use crate::workspace::FileChange;

pub const FLUSH_HZ: u64 = 20;

/// What the emitter receives: an update, the files a run has changed so far (for sinks
/// that show them, in order with the updates), or a request to say when everything before
/// it has gone out.
pub(super) enum Emit {
    Update(TaskUpdate),
    Changes(Vec<FileChange>),
    Sent(tokio::sync::oneshot::Sender<()>),
}

pub(super) fn spawn(
    task: Weak<Task>,
    mut rx: mpsc::UnboundedReceiver<Emit>,
    sink: Arc<dyn ClientSink>,
    last_seq: u64,
) {
    tokio::spawn(async move {
        let mut seq = last_seq;
        let mut pending: Vec<TaskUpdate> = Vec::new();
        let period = Duration::from_millis(1000 / FLUSH_HZ);
        let mut deadline = None;
        loop {
            // The timer is armed only while deltas wait, so an idle task costs nothing.
            let received = match deadline {
                Some(at) => tokio::select! {
                    received = rx.recv() => received,
                    _ = tokio::time::sleep_until(at) => {
                        deadline = None;
                        if !flush(&task, &sink, &mut seq, &mut pending) {
                            return;
                        }
                        continue;
                    }
                },
                None => rx.recv().await,
            };
            let update = match received {
                None => {
                    flush(&task, &sink, &mut seq, &mut pending);
                    return;
                }
                Some(Emit::Sent(answer)) => {
                    deadline = None;
                    let alive = flush(&task, &sink, &mut seq, &mut pending);
                    let _ = answer.send(());
                    if !alive {
                        return;
                    }
                    continue;
                }
                Some(Emit::Changes(changes)) => {
                    deadline = None;
                    if !flush(&task, &sink, &mut seq, &mut pending) {
                        return;
                    }
                    if let Some(task) = task.upgrade() {
                        sink.files_changed(&task.id, &changes);
                    }
                    continue;
                }
                Some(Emit::Update(update)) => update,
            };
            if is_delta(&update) {
                deadline.get_or_insert_with(|| tokio::time::Instant::now() + period);
                push_coalesced(&mut pending, update);
            } else {
                // Non-delta updates are rare and meaningful (a tool call, a status):
                // deliver them, and the deltas before them, without waiting.
                push_coalesced(&mut pending, update);
                deadline = None;
                if !flush(&task, &sink, &mut seq, &mut pending) {
                    return;
                }
            }
        }
    });
}

fn is_delta(update: &TaskUpdate) -> bool {
    matches!(
        update,
        TaskUpdate::Message { .. } | TaskUpdate::Reasoning { .. }
    )
}

fn push_coalesced(pending: &mut Vec<TaskUpdate>, update: TaskUpdate) {
    match (pending.last_mut(), update) {
        (Some(TaskUpdate::Message { delta: acc }), TaskUpdate::Message { delta })
        | (Some(TaskUpdate::Reasoning { delta: acc }), TaskUpdate::Reasoning { delta }) => {
            acc.push_str(&delta)
        }
        (_, update) => pending.push(update),
    }
}

/// Sends everything pending. Returns false once the task itself is gone.
fn flush(
    task: &Weak<Task>,
    sink: &Arc<dyn ClientSink>,
    seq: &mut u64,
    pending: &mut Vec<TaskUpdate>,
) -> bool {
    let Some(task) = task.upgrade() else {
        return false;
    };
    for update in pending.drain(..) {
        if let Some(event) = progress_event(&update, &task) {
            sink.progress(&task.id, event);
        }
        *seq += 1;
        let params = TaskUpdateParams {
            task_id: task.id.clone(),
            seq: *seq,
            update,
        };
        task.remember(&params);
        sink.task_update(&params);
    }
    true
}

/// The updates worth a line in the editor's status bar: the task starting, what each
/// model turn does (the tool it runs, the plan step it is on), and how it ended.
fn progress_event(update: &TaskUpdate, task: &Task) -> Option<ProgressEvent> {
    let turn = task.turns();
    match update {
        TaskUpdate::Status {
            status: TaskStatus::Running,
        } => Some(ProgressEvent::Begin {
            title: format!("agentls: {}", task.short_name()),
        }),
        TaskUpdate::ToolCall {
            tool,
            args,
            status: ToolCallStatus::Running,
            ..
        } if tool != "update_plan" => Some(ProgressEvent::Report {
            message: format!("turn {turn}: {}", activity(tool, args)),
            percentage: None,
        }),
        TaskUpdate::Plan { plan, .. } if !plan.is_empty() => Some(plan_progress(plan, turn)),
        TaskUpdate::Finished { status, summary } => Some(ProgressEvent::End {
            message: match (status, summary) {
                (TaskStatus::Failed, Some(error)) => {
                    format!("failed: {}", one_line(error, ACTIVITY_CHARS))
                }
                _ => status.name().to_string(),
            },
        }),
        _ => None,
    }
}

/// The step the model's plan is on, and the share of its steps completed: the one
/// percentage a task has that means something.
fn plan_progress(plan: &[PlanItem], turn: u32) -> ProgressEvent {
    let done = plan
        .iter()
        .filter(|item| item.status == PlanStatus::Completed)
        .count();
    let step = plan
        .iter()
        .position(|item| item.status != PlanStatus::Completed)
        .map_or_else(
            || "plan done".to_string(),
            |i| {
                format!(
                    "step {} of {}: {}",
                    i + 1,
                    plan.len(),
                    one_line(&plan[i].step, ACTIVITY_CHARS)
                )
            },
        );
    ProgressEvent::Report {
        message: format!("turn {turn}: {step}"),
        percentage: Some((done * 100 / plan.len().max(1)) as u32),
    }
}

/// How much of a command or a plan step fits a status line.
const ACTIVITY_CHARS: usize = 60;

/// A tool call in a few words: `running cargo test`, `editing src/a.rs`.
fn activity(tool: &str, args: &Value) -> String {
    let text = |key: &str| args.get(key).and_then(Value::as_str).unwrap_or("");
    let what = match tool {
        "shell" => {
            let command = match args.get("command") {
                Some(Value::Array(argv)) => {
                    let words: Vec<&str> = argv.iter().filter_map(Value::as_str).collect();
                    // `bash -lc "…"` says nothing; the script does.
                    match words.as_slice() {
                        [shell, flag, script] if flag.ends_with('c') && shell.ends_with("sh") => {
                            script.to_string()
                        }
                        _ => words.join(" "),
                    }
                }
                Some(Value::String(line)) => line.clone(),
                _ => String::new(),
            };
            format!("running {command}")
        }
        "apply_patch" => {
            let files: Vec<&str> = text("input")
                .lines()
                .filter_map(|line| line.strip_prefix("*** ")?.split_once(" File: "))
                .map(|(_, path)| path.trim())
                .collect();
            format!("editing {}", files.join(", "))
        }
        "read_file" => format!("reading {}", text("path")),
        "list_dir" => format!("listing {}", text("path")),
        "grep" => format!("searching for {}", text("pattern")),
        other => format!("calling {other}"),
    };
    one_line(what.trim(), ACTIVITY_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_tool_call_is_a_few_words_on_what_it_does() {
        let cases = [
            (
                "shell",
                json!({"command": ["bash", "-lc", "cargo test -q"]}),
                "running cargo test -q",
            ),
            (
                "shell",
                json!({"command": ["pytest", "-x"]}),
                "running pytest -x",
            ),
            (
                "shell",
                json!({"command": "make check"}),
                "running make check",
            ),
            (
                "apply_patch",
                json!({"input": "*** Begin Patch\n*** Update File: a.rs\n@@\n*** Add File: b.rs\n+x\n*** End Patch\n"}),
                "editing a.rs, b.rs",
            ),
            (
                "read_file",
                json!({"path": "src/main.rs"}),
                "reading src/main.rs",
            ),
            (
                "grep",
                json!({"pattern": "fn main"}),
                "searching for fn main",
            ),
            ("mcp__docs__search", json!({}), "calling mcp__docs__search"),
        ];
        for (tool, args, expected) in cases {
            assert_eq!(activity(tool, &args), expected);
        }
        let long = json!({"command": ["echo", "x".repeat(200)]});
        assert_eq!(activity("shell", &long).chars().count(), ACTIVITY_CHARS);
    }

    #[test]
    fn plan_progress_is_the_share_of_steps_done() {
        let step = |step: &str, status| PlanItem {
            step: step.into(),
            status,
        };
        let plan = [
            step("read the code", PlanStatus::Completed),
            step("write tests", PlanStatus::InProgress),
            step("run them", PlanStatus::Pending),
            step("fix", PlanStatus::Pending),
        ];
        assert_eq!(
            plan_progress(&plan, 3),
            ProgressEvent::Report {
                message: "turn 3: step 2 of 4: write tests".into(),
                percentage: Some(25),
            }
        );
        let done = [step("all", PlanStatus::Completed)];
        assert_eq!(
            plan_progress(&done, 5),
            ProgressEvent::Report {
                message: "turn 5: plan done".into(),
                percentage: Some(100),
            }
        );
    }

    #[test]
    fn neighbouring_deltas_of_one_kind_merge_and_order_is_kept() {
        let mut pending = Vec::new();
        for update in [
            TaskUpdate::Message {
                delta: "Hel".into(),
            },
            TaskUpdate::Message { delta: "lo".into() },
            TaskUpdate::Reasoning { delta: "hm".into() },
            TaskUpdate::Message { delta: "!".into() },
        ] {
            push_coalesced(&mut pending, update);
        }
        assert_eq!(
            pending,
            vec![
                TaskUpdate::Message {
                    delta: "Hello".into()
                },
                TaskUpdate::Reasoning { delta: "hm".into() },
                TaskUpdate::Message { delta: "!".into() },
            ]
        );
    }
}
