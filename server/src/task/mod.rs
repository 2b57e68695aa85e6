//! A task: its identity, status machine, event log and cancellation.
//!
//! The agent loop reports progress by calling [`Task::emit`]; this module numbers the
//! updates (`seq`), keeps them for `agent/getTask`, coalesces streamed deltas so a client
//! gets at most [`FLUSH_HZ`] delta notifications a second, and hands them to a
//! [`ClientSink`] — the LSP connection or the `exec` printer. Nothing here knows about
//! tower-lsp.

pub mod blobs;
mod emitter;
pub mod journal;
pub mod load;
pub mod log;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::model::Item;
use crate::protocol::{
    ApprovalDecision, ApprovalRequestParams, ForkOrigin, StartTaskParams, TaskMode, TaskStatus,
    TaskSummary, TaskUpdate, TaskUpdateParams,
};
use crate::workspace::FileChange;
use journal::TaskJournal;

pub use emitter::FLUSH_HZ;

/// Long enough to tell tasks apart in a code action menu, short enough for a status line.
pub const SHORT_NAME_CHARS: usize = 32;

/// `text`'s first line, trimmed, at most `max` characters; `…` says something was cut
/// (the rest of the line, or further lines).
pub fn one_line(text: &str, max: usize) -> String {
    let trimmed = text.trim();
    let line = trimmed.lines().next().unwrap_or("").trim();
    if line.chars().count() <= max && line.len() == trimmed.len() {
        return line.to_string();
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

/// Where task updates go. Implementations must not block: they queue and return.
pub trait ClientSink: Send + Sync + 'static {
    fn task_update(&self, update: &TaskUpdateParams);
    /// A status line for the task (LSP `$/progress`): `begin` when it starts running,
    /// `report` as it works, `end` when it finishes.
    fn progress(&self, task_id: &str, event: ProgressEvent);
    /// Asks the user to approve a command or patch (`agent/requestApproval`). The answer
    /// arrives on the receiver; dropping the sender unanswered means the client cannot
    /// be asked, which counts as a denial.
    fn request_approval(
        &self,
        request: ApprovalRequestParams,
    ) -> oneshot::Receiver<ApprovalDecision>;
    /// Every file the current run has changed so far, each with the text it started from,
    /// after a tool call changed one; in order with [`ClientSink::task_update`]. For a
    /// client that shows each edit's diff (ACP's `tool_call_update`); others ignore it.
    fn files_changed(&self, _task_id: &str, _changes: &[FileChange]) {}
    /// The text the editor holds now of `rel` (workspace-relative), asked when a run is
    /// about to read a file it was not given at its start (ACP's `fs/read_text_file`).
    /// `None`, or the sender dropped: the disk's text stands. LSP clients give every open
    /// buffer at the start, so by default nothing is asked.
    fn editor_text(&self, _task_id: &str, _rel: &str) -> oneshot::Receiver<Option<String>> {
        oneshot::channel().1
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressEvent {
    Begin {
        title: String,
    },
    /// What the task does now ("turn 3: running cargo test"); `percentage` only where
    /// it means something (the share of the model's plan completed), never made up.
    Report {
        message: String,
        percentage: Option<u32>,
    },
    End {
        message: String,
    },
}

pub struct Task {
    pub id: String,
    pub prompt: String,
    pub mode: TaskMode,
    pub created_at: u64,
    /// Cancels the current run; a follow-up run gets a fresh token.
    cancel: Mutex<CancellationToken>,
    /// Set by `agent/cancelTask {revert: true}`: drop the partial proposal.
    pub revert_on_cancel: AtomicBool,
    state: Mutex<TaskState>,
    history: Mutex<History>,
    /// Accept batches so far (`accepted` updates are numbered from 1).
    batches: AtomicU32,
    /// Model turns so far, over every run (the task log numbers responses by it).
    turns: AtomicU32,
    /// `agent/compactTask` arrived while the task ran: compact before the next turn.
    compact_requested: AtomicBool,
    updates: mpsc::UnboundedSender<emitter::Emit>,
    sink: Arc<dyn ClientSink>,
    /// Where the task's history goes on disk; None when history is off.
    journal: Option<TaskJournal>,
    /// Set on a task made by `agent/forkTask`.
    forked_from: Option<ForkOrigin>,
}

/// What a follow-up run needs from the earlier ones.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// How the task was started (None: an imported diff).
    pub params: Option<StartTaskParams>,
    /// The conversation so far, as the model saw it.
    pub items: Vec<Item>,
    /// Runs started: 1 for the first, +1 per follow-up.
    pub runs: u32,
}

struct TaskState {
    status: TaskStatus,
    finished_at: Option<u64>,
    summary: Option<String>,
    events: Vec<TaskUpdateParams>,
}

impl Task {
    fn new(
        id: String,
        prompt: String,
        mode: TaskMode,
        created_at: u64,
        sink: Arc<dyn ClientSink>,
        journal: Option<TaskJournal>,
    ) -> Task {
        // The real sender is put in by `TaskRegistry::insert`, with its emitter.
        let (updates, _) = mpsc::unbounded_channel();
        Task {
            id,
            prompt,
            mode,
            created_at,
            cancel: Mutex::new(CancellationToken::new()),
            revert_on_cancel: AtomicBool::new(false),
            history: Mutex::new(History::default()),
            batches: AtomicU32::new(0),
            turns: AtomicU32::new(0),
            compact_requested: AtomicBool::new(false),
            state: Mutex::new(TaskState {
                status: TaskStatus::Queued,
                finished_at: None,
                summary: None,
                events: Vec::new(),
            }),
            updates,
            sink,
            journal,
            forked_from: None,
        }
    }

    /// A task no registry lists and no log records: an attempt of a best-of-N task, which
    /// runs under its parent's `cancel` and reports through `sink` (the engine's, which
    /// folds it into the parent). Starts `queued`.
    pub fn unlisted(
        id: String,
        prompt: String,
        mode: TaskMode,
        sink: Arc<dyn ClientSink>,
        cancel: CancellationToken,
    ) -> Arc<Task> {
        let task = Task {
            cancel: Mutex::new(cancel),
            ..Task::new(id, prompt, mode, now_ms(), sink.clone(), None)
        };
        let task = with_emitter(task, sink, 0);
        task.emit(TaskUpdate::Status {
            status: TaskStatus::Queued,
        });
        task
    }

    /// Queues an update for the client. Deltas are merged with their neighbours of the
    /// same kind; everything else keeps its order.
    pub fn emit(&self, update: TaskUpdate) {
        // The emitter only goes away after `finish`; later updates have nowhere to go.
        let _ = self.updates.send(emitter::Emit::Update(update));
    }

    /// Tells the client which files the run has changed so far ([`ClientSink::files_changed`]).
    pub fn emit_changes(&self, changes: Vec<FileChange>) {
        let _ = self.updates.send(emitter::Emit::Changes(changes));
    }

    /// Asks the user and waits for the decision. No answer within `timeout`, or a client
    /// that cannot be asked, is a denial; cancelling the task answers `cancel` at once,
    /// and a user who answers `cancel` cancels the task.
    pub async fn request_approval(
        &self,
        request: ApprovalRequestParams,
        timeout: Duration,
    ) -> ApprovalDecision {
        let (call_id, kind) = (request.call_id.clone(), request.kind);
        let answer = self.sink.request_approval(request);
        let cancel = self.cancel_token();
        let decision = tokio::select! {
            answer = answer => answer.unwrap_or(ApprovalDecision::Deny),
            () = tokio::time::sleep(timeout) => {
                tracing::info!("task {}: no approval decision within {} ms; denied", self.id, timeout.as_millis());
                ApprovalDecision::Deny
            }
            () = cancel.cancelled() => ApprovalDecision::Cancel,
        };
        if decision == ApprovalDecision::Cancel {
            cancel.cancel();
        }
        self.log(log::Event::Approval {
            call_id,
            kind,
            decision,
        });
        decision
    }

    /// The editor's text of `rel` ([`ClientSink::editor_text`]); `None`: read the disk.
    /// An editor that does not answer within `timeout`, or a cancel, counts as `None`.
    pub async fn editor_text(&self, rel: &str, timeout: Duration) -> Option<String> {
        let answer = self.sink.editor_text(&self.id, rel);
        let cancel = self.cancel_token();
        tokio::select! {
            answer = answer => answer.ok().flatten(),
            () = tokio::time::sleep(timeout) => {
                tracing::warn!("task {}: the editor did not give {rel} within {} ms; the task reads the disk", self.id, timeout.as_millis());
                None
            }
            () = cancel.cancelled() => None,
        }
    }

    pub fn status(&self) -> TaskStatus {
        self.lock().status
    }

    /// What the user calls the task in a menu, a status line or a message: its prompt's
    /// first line, cut at a word to at most [`SHORT_NAME_CHARS`] characters.
    pub fn short_name(&self) -> String {
        let line = self
            .prompt
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        let line = line.trim();
        if line.chars().count() <= SHORT_NAME_CHARS {
            return line.to_string();
        }
        let cut: String = line.chars().take(SHORT_NAME_CHARS).collect();
        let at_word = match cut.rfind(char::is_whitespace) {
            Some(space) if space > SHORT_NAME_CHARS / 2 => &cut[..space],
            _ => cut.as_str(),
        };
        format!("{}…", at_word.trim_end())
    }

    /// Numbers the next accept batch of the task's history.
    pub fn next_batch(&self) -> u32 {
        self.batches.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Numbers the next model turn (1-based, over every run).
    pub fn next_turn(&self) -> u32 {
        self.turns.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Asks the running agent loop to compact before its next model turn.
    pub fn request_compaction(&self) {
        self.compact_requested.store(true, Ordering::SeqCst);
    }

    /// Whether compaction was asked for since the last call.
    pub fn take_compact_request(&self) -> bool {
        self.compact_requested.swap(false, Ordering::SeqCst)
    }

    /// Model turns so far.
    pub fn turns(&self) -> u32 {
        self.turns.load(Ordering::Relaxed)
    }

    /// Waits until every update emitted so far has gone to the client and into the log,
    /// and the log holds everything logged so far.
    pub async fn settled(&self) {
        let (sent, wait) = oneshot::channel();
        if self.updates.send(emitter::Emit::Sent(sent)).is_ok() {
            let _ = wait.await;
        }
        self.log_written().await;
    }

    /// Waits until the task's log holds everything logged so far.
    pub async fn log_written(&self) {
        if let Some(journal) = &self.journal {
            journal.written().await;
        }
    }

    /// Appends an event to the task's log on disk (queued; never blocks).
    pub fn log(&self, event: log::Event) {
        if let Some(journal) = &self.journal {
            journal.record(event);
        }
    }

    /// The current run's cancellation.
    pub fn cancel_token(&self) -> CancellationToken {
        lock(&self.cancel).clone()
    }

    pub fn history(&self) -> History {
        lock(&self.history).clone()
    }

    /// Runs started so far (1 for a task that never had a follow-up).
    pub fn runs(&self) -> u32 {
        lock(&self.history).runs
    }

    /// Records a run's start (with how the task was started, for the first one).
    pub fn begin_run(&self, params: Option<StartTaskParams>) {
        let mut history = lock(&self.history);
        if params.is_some() {
            history.params = params;
        }
        history.runs += 1;
    }

    /// Starts a fork: how the original was started, its conversation up to the fork
    /// point, and the model turns that took.
    pub fn set_conversation(&self, params: Option<StartTaskParams>, items: Vec<Item>, turns: u32) {
        *lock(&self.history) = History {
            params,
            items,
            runs: 1,
        };
        self.turns.store(turns, Ordering::Relaxed);
    }

    /// Keeps the conversation a run ended with, for the next follow-up.
    pub fn keep_conversation(&self, items: Vec<Item>) {
        lock(&self.history).items = items;
    }

    /// Makes a finished task runnable again for a follow-up: `queued`, with a fresh
    /// cancellation. Returns false (and changes nothing) while it is still running.
    pub fn restart(&self) -> bool {
        {
            let mut state = self.lock();
            if !state.status.is_finished() {
                return false;
            }
            state.status = TaskStatus::Queued;
            state.finished_at = None;
            state.summary = None;
        }
        *lock(&self.cancel) = CancellationToken::new();
        self.revert_on_cancel.store(false, Ordering::SeqCst);
        self.emit(TaskUpdate::Status {
            status: TaskStatus::Queued,
        });
        true
    }

    pub fn set_status(&self, status: TaskStatus) {
        self.lock().status = status;
        self.emit(TaskUpdate::Status { status });
    }

    /// Moves the task to a final status once; later calls are ignored, so a cancel racing
    /// the loop's own ending cannot produce two `finished` updates.
    pub fn finish(&self, status: TaskStatus, summary: Option<String>) -> bool {
        {
            let mut state = self.lock();
            if state.status.is_finished() {
                return false;
            }
            state.status = status;
            state.finished_at = Some(now_ms());
            state.summary = summary.clone();
        }
        self.emit(TaskUpdate::Status { status });
        self.emit(TaskUpdate::Finished { status, summary });
        true
    }

    /// Ends the task as `interrupted`: its server stopped while it ran, which is not the
    /// user's decision (a follow-up continues it). Like [`Task::finish`], only once.
    pub fn interrupt(&self) -> bool {
        self.finish(
            TaskStatus::Interrupted,
            Some(
                "interrupted: agentls stopped while this task ran; follow up to continue it".into(),
            ),
        )
    }

    pub fn summary(&self) -> TaskSummary {
        let state = self.lock();
        TaskSummary {
            task_id: self.id.clone(),
            prompt: self.prompt.clone(),
            mode: self.mode,
            status: state.status,
            created_at: self.created_at,
            finished_at: state.finished_at,
            summary: state.summary.clone(),
            turns: self.turns(),
            forked_from: self.forked_from.clone(),
        }
    }

    pub fn events(&self) -> Vec<TaskUpdateParams> {
        self.lock().events.clone()
    }

    /// Keeps an update sent to the client, for `agent/getTask` and the task log.
    fn remember(&self, update: &TaskUpdateParams) {
        self.lock().events.push(update.clone());
        self.log(log::Event::Update {
            at: now_ms(),
            seq: update.seq,
            update: update.update.clone(),
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TaskState> {
        lock(&self.state)
    }
}

/// Starts the task's update emitter, which owns the receiving end of its queue.
fn with_emitter(task: Task, sink: Arc<dyn ClientSink>, last_seq: u64) -> Arc<Task> {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = Arc::new(Task {
        updates: tx,
        ..task
    });
    emitter::spawn(Arc::downgrade(&task), rx, sink, last_seq);
    task
}

/// A panic elsewhere must not take the task list down with it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// All tasks of this server process.
#[derive(Default)]
pub struct TaskRegistry {
    tasks: Mutex<HashMap<String, Arc<Task>>>,
}

impl TaskRegistry {
    /// Creates a task in `queued` state under `id` (from [`TaskRegistry::new_id`]) and
    /// starts its update emitter.
    pub fn create(
        &self,
        id: String,
        prompt: String,
        mode: TaskMode,
        sink: Arc<dyn ClientSink>,
        journal: Option<TaskJournal>,
        forked_from: Option<ForkOrigin>,
    ) -> Arc<Task> {
        let task = self.insert(
            Task {
                forked_from,
                ..Task::new(id, prompt, mode, now_ms(), sink.clone(), journal)
            },
            sink,
            0,
        );
        task.emit(TaskUpdate::Status {
            status: TaskStatus::Queued,
        });
        task
    }

    /// Brings back a task from its log. One that was still queued or running when its
    /// server died is `interrupted`, and says so in an update.
    pub fn restore(
        &self,
        loaded: &load::LoadedTask,
        sink: Arc<dyn ClientSink>,
        journal: Option<TaskJournal>,
    ) -> Arc<Task> {
        let header = &loaded.header;
        let task = Task {
            forked_from: header.forked_from.clone(),
            ..Task::new(
                header.task_id.clone(),
                header.prompt.clone(),
                header.mode,
                header.created_at,
                sink.clone(),
                journal,
            )
        };
        {
            let mut state = task.lock();
            state.status = loaded.status;
            state.finished_at = loaded.finished_at;
            state.summary = loaded.summary.clone();
            state.events = loaded.events.clone();
        }
        *lock(&task.history) = History {
            params: loaded.header.params.clone(),
            items: loaded.items.clone(),
            runs: loaded.runs,
        };
        task.batches.store(loaded.batches, Ordering::Relaxed);
        task.turns.store(loaded.turns, Ordering::Relaxed);
        let last_seq = loaded.events.last().map_or(0, |e| e.seq);
        let task = self.insert(task, sink, last_seq);
        if !loaded.status.is_finished() {
            task.interrupt();
        }
        task
    }

    fn insert(&self, task: Task, sink: Arc<dyn ClientSink>, last_seq: u64) -> Arc<Task> {
        let task = with_emitter(task, sink, last_seq);
        self.tasks_lock().insert(task.id.clone(), task.clone());
        task
    }

    /// Forgets a task (its log is the caller's business).
    pub fn remove(&self, id: &str) -> Option<Arc<Task>> {
        self.tasks_lock().remove(id)
    }

    pub fn get(&self, id: &str) -> Option<Arc<Task>> {
        self.tasks_lock().get(id).cloned()
    }

    /// Oldest first.
    pub fn list(&self) -> Vec<TaskSummary> {
        let mut tasks: Vec<TaskSummary> = self.tasks_lock().values().map(|t| t.summary()).collect();
        tasks.sort_by(|a, b| (a.created_at, &a.task_id).cmp(&(b.created_at, &b.task_id)));
        tasks
    }

    /// A fresh task id. Ids must be unique across restarts and across the servers that
    /// share one `$AGENTLS_HOME` (they name task logs and views there), short enough to
    /// read in a status line, and sortable by creation time: `t`, the millisecond (11 hex
    /// digits), a counter of this process (3), and this process's random tag (6), so that
    /// servers starting tasks in the same millisecond still differ.
    pub fn new_id(&self) -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        format!(
            "t{:011x}{:03x}{}",
            now_ms() & 0xfff_ffff_ffff,
            n & 0xfff,
            crate::owner::process_tag()
        )
    }

    fn tasks_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Task>>> {
        lock(&self.tasks)
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::TaskRegistry;

    #[test]
    fn ids_are_unique_sortable_and_carry_the_process_tag() {
        // Two registries in one process (a server and, say, a benchmark's engine) still
        // never hand out the same id.
        let (a, b) = (TaskRegistry::default(), TaskRegistry::default());
        let ids: Vec<String> = (0..50).flat_map(|_| [a.new_id(), b.new_id()]).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ids, "unique and in creation order");
        for id in &ids {
            assert_eq!(id.len(), 21, "{id}");
            assert!(id.starts_with('t') && id[1..].chars().all(|c| c.is_ascii_hexdigit()));
            assert!(id.ends_with(crate::owner::process_tag()), "{id}");
        }
    }
}
