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

use super::{ClientSink, ProgressEvent, Task};
use crate::protocol::{TaskStatus, TaskUpdate, TaskUpdateParams, ToolCallStatus};

pub const FLUSH_HZ: u64 = 20;

/// What the emitter receives: an update, or a request to say when everything before it
/// has gone out.
pub(super) enum Emit {
    Update(TaskUpdate),
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
        if let Some(event) = progress_event(&update) {
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

/// The few updates worth a line in the editor's status bar.
fn progress_event(update: &TaskUpdate) -> Option<ProgressEvent> {
    match update {
        TaskUpdate::Status {
            status: TaskStatus::Running,
        } => Some(ProgressEvent::Begin {
            title: "agentls".into(),
        }),
        TaskUpdate::ToolCall {
            tool,
            status: ToolCallStatus::Running,
            ..
        } => Some(ProgressEvent::Report {
            message: format!("running {tool}"),
        }),
        TaskUpdate::Finished { status, .. } => Some(ProgressEvent::End {
            message: format!("{status:?}").to_lowercase(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
