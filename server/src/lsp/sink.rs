//! Delivers task updates and progress to the editor, in order.
//!
//! tower-lsp's `send_notification` is async; spawning one future per update could reorder
//! them, and awaiting inside a task's emitter would let one slow client stall every task.
//! So updates go through a queue that a single forwarder drains in order.
//!
//! Approval requests go through the same queue (so a tool call's update reaches the
//! client before the question about it), and their answers are awaited in a task of
//! their own: the forwarder, like an LSP handler, never waits on the client.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::notification::{Notification, Progress};
use tower_lsp_server::ls_types::request::Request;
use tower_lsp_server::ls_types::{
    NumberOrString, ProgressParams, ProgressParamsValue, WorkDoneProgress, WorkDoneProgressBegin,
    WorkDoneProgressEnd, WorkDoneProgressReport,
};

use crate::protocol::{
    ApprovalDecision, ApprovalRequestParams, ApprovalResult, REQUEST_APPROVAL_METHOD,
    TASK_UPDATE_NOTIFICATION, TaskUpdateParams,
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
}

pub struct LspSink {
    queue: mpsc::UnboundedSender<Outgoing>,
    /// The client announced `window.workDoneProgress`.
    progress_supported: AtomicBool,
    /// The client announced `experimental.agent.approvals`.
    approvals_supported: AtomicBool,
}

/// A client that never answers `window/workDoneProgress/create` must not stall updates.
const PROGRESS_CREATE_TIMEOUT: Duration = Duration::from_secs(2);

impl LspSink {
    pub fn new(client: Client) -> Self {
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
                }
            }
        });
        LspSink {
            queue,
            progress_supported: AtomicBool::new(false),
            approvals_supported: AtomicBool::new(false),
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
        ProgressEvent::Report { message } => WorkDoneProgress::Report(WorkDoneProgressReport {
            cancellable: Some(false),
            message: Some(message),
            percentage: None,
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
