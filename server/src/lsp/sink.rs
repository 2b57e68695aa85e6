//! Delivers task updates and progress to the editor, in order.
//!
//! tower-lsp's `send_notification` is async; spawning one future per update could reorder
//! them, and awaiting inside a task's emitter would let one slow client stall every task.
//! So updates go through a queue that a single forwarder drains in order.
//!
//! Approval requests go through the same queue (so a tool call's update reaches the
//! client before the question about it), and their answers are awaited in a task of
//! their own: the forwarder, like an LSP handler, never waits on the client.
//!
//! A client that did not announce `experimental.agent` drops `agent/taskUpdate`: what its
//! user must know — a task ended, and how; an accept or undo that could not be done — is
//! also sent to it as `window/showMessage`, through the same queue. Updates that move or
//! decide hunks also mark the task for the diagnostics publisher.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::notification::{Notification, Progress};
use tower_lsp_server::ls_types::request::Request;
use tower_lsp_server::ls_types::{
    MessageType, NumberOrString, ProgressParams, ProgressParamsValue, WorkDoneProgress,
    WorkDoneProgressBegin, WorkDoneProgressEnd, WorkDoneProgressReport,
};

use super::diagnostics::Publisher;
use crate::engine::{Engine, plural};
use crate::protocol::{
    ApprovalDecision, ApprovalRequestParams, ApprovalResult, REQUEST_APPROVAL_METHOD,
    TASK_UPDATE_NOTIFICATION, TaskStatus, TaskUpdate, TaskUpdateParams,
};
use crate::task::{ClientSink, ProgressEvent};

/// `agent/taskUpdate`, for tower-lsp's typed notification API.
pub enum TaskUpdateNotification {}

impl Notification for TaskUpdateNotification {
    type Params = TaskUpdateParams;
    const METHOD: &'static str = TASK_UPDATE_NOTIFICATION;
}

/// `agent/requestApproval`, for tower-lsp's typed request API.
pub enum RequestApproval {}

impl Request for RequestApproval {
    type Params = ApprovalRequestParams;
    type Result = ApprovalResult;
    const METHOD: &'static str = REQUEST_APPROVAL_METHOD;
}

enum Outgoing {
    Update(TaskUpdateParams),
    Progress(String, ProgressEvent),
    Approval(ApprovalRequestParams, oneshot::Sender<ApprovalDecision>),
    Message(MessageType, String),
}

pub struct LspSink {
    queue: mpsc::UnboundedSender<Outgoing>,
    /// The client announced `window.workDoneProgress`.
    progress_supported: AtomicBool,
    /// The client announced `experimental.agent.approvals`.
    approvals_supported: AtomicBool,
    /// The client did not announce `experimental.agent`: it is told in messages.
    plain: AtomicBool,
    /// For those messages: how many hunks each task's current run proposed (files,
    /// hunks), and the engine that knows the tasks' names.
    proposed: Mutex<HashMap<String, (usize, usize)>>,
    /// For those messages: how many findings each review's current run showed.
    found: Mutex<HashMap<String, usize>>,
    engine: OnceLock<Weak<Engine>>,
    diagnostics: Arc<Publisher>,
}

/// How a user without the plugin reviews: in every message that says there is
/// something to review.
pub const HOW_TO_REVIEW: &str = "each hunk is an agentls hint; on one, open code actions \
     (Helix: space a; Emacs: M-x eglot-code-actions; Neovim: gra) to accept or reject it, \
     or run agent.showProposal for the whole diff";

/// A client that never answers `window/workDoneProgress/create` must not stall updates.
const PROGRESS_CREATE_TIMEOUT: Duration = Duration::from_secs(2);

impl LspSink {
    pub fn new(client: Client, diagnostics: Arc<Publisher>) -> Self {
        let (queue, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(outgoing) = rx.recv().await {
                match outgoing {
                    Outgoing::Update(params) => {
                        client
                            .send_notification::<TaskUpdateNotification>(params)
                            .await
                    }
                    Outgoing::Progress(task_id, event) => {
                        send_progress(&client, task_id, event).await
                    }
                    Outgoing::Approval(params, answer) => {
                        let client = client.clone();
                        tokio::spawn(ask(client, params, answer));
                    }
                    Outgoing::Message(typ, message) => client.show_message(typ, message).await,
                }
            }
        });
        LspSink {
            queue,
            progress_supported: AtomicBool::new(false),
            approvals_supported: AtomicBool::new(false),
            plain: AtomicBool::new(false),
            proposed: Mutex::new(HashMap::new()),
            found: Mutex::new(HashMap::new()),
            engine: OnceLock::new(),
            diagnostics,
        }
    }

    /// The engine whose tasks this sink reports (for their names in messages).
    pub fn attach(&self, engine: &Arc<Engine>) {
        let _ = self.engine.set(Arc::downgrade(engine));
    }

    /// Whether the client lacks the agentls protocol (did not announce
    /// `experimental.agent`) and so gets messages instead.
    pub fn set_plain(&self, plain: bool) {
        self.plain.store(plain, Ordering::Relaxed);
    }

    pub fn is_plain(&self) -> bool {
        self.plain.load(Ordering::Relaxed)
    }

    /// The task's hunks changed in a way no update of its own reports (a rejection, a
    /// refresh, the proposal dropped): what shows them must look again.
    pub fn hunks_changed(&self, task_id: &str) {
        self.diagnostics.task_changed(task_id);
    }

    /// A message for a client without the agentls protocol (others learn the same from
    /// `agent/taskUpdate` or a reply, and are not told twice).
    pub fn tell(&self, typ: MessageType, message: String) {
        if self.is_plain() {
            let _ = self.queue.send(Outgoing::Message(typ, message));
        }
    }

    /// What a plain client is told about a task update, if anything.
    fn notice(&self, update: &TaskUpdateParams) {
        let mut proposed = self
            .proposed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match &update.update {
            TaskUpdate::Status {
                status: TaskStatus::Queued,
            } => {
                proposed.remove(&update.task_id);
            }
            TaskUpdate::Proposal { files, hunks } => {
                proposed.insert(update.task_id.clone(), (*files, *hunks));
            }
            TaskUpdate::Findings { findings } => {
                let mut found = self.found.lock().unwrap_or_else(|p| p.into_inner());
                found.insert(update.task_id.clone(), *findings);
            }
            TaskUpdate::Finished { status, summary } => {
                let counts = proposed.remove(&update.task_id);
                drop(proposed);
                let found = self
                    .found
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&update.task_id);
                let name = self
                    .engine
                    .get()
                    .and_then(Weak::upgrade)
                    .and_then(|engine| engine.task(&update.task_id).ok())
                    .map_or_else(|| update.task_id.clone(), |task| task.short_name());
                let (typ, message) =
                    finished_message(&name, *status, summary.as_deref(), counts, found);
                self.tell(typ, message);
            }
            _ => {}
        }
    }

    pub fn set_approvals_supported(&self, supported: bool) {
        self.approvals_supported.store(supported, Ordering::Relaxed);
    }

    pub fn set_progress_supported(&self, supported: bool) {
        self.progress_supported.store(supported, Ordering::Relaxed);
    }
}

impl ClientSink for LspSink {
    fn task_update(&self, update: &TaskUpdateParams) {
        let _ = self.queue.send(Outgoing::Update(update.clone()));
        if moves_hunks(&update.update) {
            self.diagnostics.task_changed(&update.task_id);
        }
        if self.is_plain() {
            self.notice(update);
        }
    }

    fn progress(&self, task_id: &str, event: ProgressEvent) {
        if self.progress_supported.load(Ordering::Relaxed) {
            let _ = self
                .queue
                .send(Outgoing::Progress(task_id.to_string(), event));
        }
    }

    fn request_approval(
        &self,
        request: ApprovalRequestParams,
    ) -> oneshot::Receiver<ApprovalDecision> {
        let (answer, receiver) = oneshot::channel();
        if self.approvals_supported.load(Ordering::Relaxed) {
            let _ = self.queue.send(Outgoing::Approval(request, answer));
        }
        receiver
    }
}

/// Updates after which a task's hunks may be elsewhere or in another status.
fn moves_hunks(update: &TaskUpdate) -> bool {
    matches!(
        update,
        TaskUpdate::Proposal { .. }
            | TaskUpdate::Hunks { .. }
            | TaskUpdate::Accepted { .. }
            | TaskUpdate::Undone { .. }
            | TaskUpdate::Finished { .. }
            | TaskUpdate::Findings { .. }
            | TaskUpdate::FindingDismissed { .. }
    )
}

/// How a task ended, for a user who sees nothing else of it: the status, the model's
/// summary or the error, how many hunks it left to review and how to review them.
fn finished_message(
    name: &str,
    status: TaskStatus,
    summary: Option<&str>,
    proposed: Option<(usize, usize)>,
    found: Option<usize>,
) -> (MessageType, String) {
    let summary = summary
        .map(|s| s.trim().trim_end_matches('.'))
        .filter(|s| !s.is_empty());
    let review = match proposed {
        Some((files, hunks)) if hunks > 0 => format!(
            "{} in {} to review: {HOW_TO_REVIEW}.",
            plural(hunks, "hunk"),
            plural(files, "file")
        ),
        _ if found.is_some() => String::new(),
        _ => "No changes proposed.".to_string(),
    };
    let then = |first: String, next: String| {
        if first.is_empty() {
            next
        } else {
            format!("{first} {next}")
        }
    };
    let review = match found {
        Some(0) => then(review, "No findings.".into()),
        Some(n) => then(
            review,
            format!(
                "{} shown as diagnostics (agentls review): on one, open code actions to apply its fix or dismiss it.",
                plural(n, "finding")
            ),
        ),
        None => review,
    };
    match status {
        TaskStatus::Failed => (
            MessageType::ERROR,
            format!(
                "agentls: “{name}” failed: {}",
                summary.unwrap_or("no reason given")
            ),
        ),
        TaskStatus::Interrupted => (
            MessageType::WARNING,
            format!(
                "agentls: “{name}” was interrupted (agentls stopped while it ran); agent.followUp continues it."
            ),
        ),
        TaskStatus::Cancelled => (
            MessageType::INFO,
            format!("agentls: “{name}” was cancelled. {review}"),
        ),
        _ => {
            let said = summary.map(|s| format!(": {s}")).unwrap_or_default();
            (
                MessageType::INFO,
                format!("agentls: “{name}” completed{said}. {review}"),
            )
        }
    }
}

/// A client error or a malformed answer is a denial.
async fn ask(
    client: Client,
    params: ApprovalRequestParams,
    answer: oneshot::Sender<ApprovalDecision>,
) {
    let decision = match client.send_request::<RequestApproval>(params).await {
        Ok(result) => result.decision,
        Err(error) => {
            tracing::info!("approval request failed ({error}); treating it as a denial");
            ApprovalDecision::Deny
        }
    };
    let _ = answer.send(decision);
}

async fn send_progress(client: &Client, task_id: String, event: ProgressEvent) {
    let token = NumberOrString::String(format!("agentls/{task_id}"));
    let value = match event {
        ProgressEvent::Begin { title } => {
            let created = tokio::time::timeout(
                PROGRESS_CREATE_TIMEOUT,
                client.create_work_done_progress(token.clone()),
            )
            .await;
            if !matches!(created, Ok(Ok(()))) {
                tracing::debug!("client did not create progress token for {task_id}");
                return;
            }
            WorkDoneProgress::Begin(WorkDoneProgressBegin {
                title,
                cancellable: Some(false),
                message: Some(format!("task {task_id}")),
                percentage: None,
            })
        }
        ProgressEvent::Report {
            message,
            percentage,
        } => WorkDoneProgress::Report(WorkDoneProgressReport {
            cancellable: Some(false),
            message: Some(message),
            percentage,
        }),
        ProgressEvent::End { message } => WorkDoneProgress::End(WorkDoneProgressEnd {
            message: Some(message),
        }),
    };
    client
        .send_notification::<Progress>(ProgressParams {
            token,
            value: ProgressParamsValue::WorkDone(value),
        })
        .await;
}
