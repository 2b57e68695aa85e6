//! What an ACP client sees of a task: [`AcpSink`] is the engine's [`ClientSink`] for the
//! workspaces `agentls acp` opened. It turns each task update of a session's task into
//! `session/update` notifications (message and thought chunks, plans, tool calls with a
//! kind, a title and locations, their results with each edit's diff, usage), asks
//! approvals with `session/request_permission`, and keeps what the prompt in progress
//! needs at its end: the files the run changed and how it finished.
//!
//! The same mapping replays a task's recorded updates for `session/load`, without the
//! diffs (those are not recorded per tool call).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::oneshot;

use crate::acp::rpc::Connection;
use crate::acp::types::{
    self as acp, ContentBlock, ContentChunk, Diff, FileSystemCapabilities, PermissionOption,
    PermissionOptionKind, PlanEntry, PlanEntryPriority, PlanEntryStatus, RequestPermissionOutcome,
    RequestPermissionRequest, RequestPermissionResponse, SessionNotification, SessionUpdate,
    ToolCallContent, ToolCallLocation, ToolKind, UsageUpdate, method,
};
use crate::engine::plural;
use crate::patch::{self, PatchSource};
use crate::protocol::{
    ApprovalDecision, ApprovalKind, ApprovalRequestParams, PlanStatus, TaskStatus, TaskUpdate,
    TaskUpdateParams, ToolCallStatus,
};
use crate::task::{ClientSink, ProgressEvent};
use crate::tools;
use crate::workspace::FileChange;

use super::raw;
use super::review::ClientFiles;

/// The permission options every request offers, by the decision each stands for.
const ALLOW_ONCE: &str = "allow_once";
const ALLOW_ALWAYS: &str = "allow_always";
const REJECT_ONCE: &str = "reject_once";

/// The engine's sink for one workspace: routes each task's updates to the session that
/// runs it; tasks no session runs (the workspace's other history) are not shown.
pub struct AcpSink {
    connection: Arc<Connection>,
    /// What the client's `fs/*` can do: whether a file the run reads is asked of it.
    fs: FileSystemCapabilities,
    feeds: Mutex<HashMap<String, Arc<SessionFeed>>>,
}

/// One session's live state, shared by the sink and the prompt in progress. A session's
/// id is its task's id.
pub struct SessionFeed {
    pub session_id: String,
    root: PathBuf,
    /// The model's context window, for `usage_update` (none is sent when unknown).
    context_window: Option<u64>,
    turn: Mutex<Turn>,
}

/// What the prompt in progress has seen so far.
#[derive(Default)]
struct Turn {
    /// Output of each finished tool call, until its completion is reported.
    outputs: HashMap<String, String>,
    /// Each file's text as last shown in a diff this turn (`None`: absent).
    shown: HashMap<String, Option<String>>,
    /// Diffs made by the tool call running now, shown when it completes.
    diffs: Vec<Diff>,
    /// The files the tool call running now created or deleted, named after its diffs:
    /// a diff alone cannot tell a deleted file from an emptied one.
    created_or_deleted: Vec<String>,
    /// Every file the run changed, with the text it started from.
    changes: Vec<FileChange>,
    /// Findings the run reported (`report_finding` calls that succeeded). Counted here,
    /// not taken from the engine, whose count is of findings still shown over LSP.
    findings: usize,
    /// The unsaved text the run started from (what approvals diff against).
    buffers: HashMap<String, String>,
    /// Told how the run ended.
    finished: Option<oneshot::Sender<TaskStatus>>,
}

impl AcpSink {
    pub fn new(connection: Arc<Connection>, fs: FileSystemCapabilities) -> Arc<AcpSink> {
        Arc::new(AcpSink {
            connection,
            fs,
            feeds: Mutex::default(),
        })
    }

    /// Shows `feed`'s task from now on.
    pub fn attach(&self, feed: Arc<SessionFeed>) {
        lock(&self.feeds).insert(feed.session_id.clone(), feed);
    }

    fn feed(&self, task_id: &str) -> Option<Arc<SessionFeed>> {
        lock(&self.feeds).get(task_id).cloned()
    }

    fn send(&self, session_id: &str, updates: Vec<SessionUpdate>) {
        for update in updates {
            self.connection.notify(
                method::SESSION_UPDATE,
                &SessionNotification {
                    session_id: session_id.to_string(),
                    update,
                },
            );
        }
    }
}

impl SessionFeed {
    pub fn new(session_id: String, root: PathBuf, context_window: Option<u64>) -> Arc<Self> {
        Arc::new(SessionFeed {
            session_id,
            root,
            context_window,
            turn: Mutex::default(),
        })
    }

    /// A prompt starts a run from `buffers`; its end is told on the receiver.
    pub fn begin_turn(&self, buffers: HashMap<String, String>) -> oneshot::Receiver<TaskStatus> {
        let (finished, receiver) = oneshot::channel();
        *lock(&self.turn) = Turn {
            buffers,
            finished: Some(finished),
            ..Turn::default()
        };
        receiver
    }

    /// What the run changed, once it has finished.
    pub fn take_changes(&self) -> Vec<FileChange> {
        std::mem::take(&mut lock(&self.turn).changes)
    }

    fn absolute(&self, rel: &str) -> String {
        absolute(&self.root, rel)
    }

    /// The notifications `update` stands for. `replay`: a recorded update shown again
    /// (`session/load`), where a follow-up's prompt is the user's message.
    pub fn session_updates(&self, update: &TaskUpdate, replay: bool) -> Vec<SessionUpdate> {
        let chunk = |text: &str| ContentChunk {
            content: ContentBlock::text(text),
            message_id: None,
        };
        match update {
            TaskUpdate::Message { delta } => vec![SessionUpdate::AgentMessageChunk(chunk(delta))],
            TaskUpdate::Reasoning { delta } => {
                vec![SessionUpdate::AgentThoughtChunk(chunk(delta))]
            }
            TaskUpdate::FollowUp { prompt } if replay => {
                vec![SessionUpdate::UserMessageChunk(chunk(prompt))]
            }
            TaskUpdate::ToolCall {
                call_id,
                tool,
                args,
                status: ToolCallStatus::Running,
                title,
            } => {
                let described = describe_call(&self.root, tool, args);
                vec![SessionUpdate::ToolCall(acp::ToolCall {
                    tool_call_id: call_id.clone(),
                    title: title.clone().unwrap_or(described.title),
                    kind: described.kind,
                    status: acp::ToolCallStatus::InProgress,
                    content: match tool.as_str() {
                        tools::REPORT_FINDING => self.finding_content(args),
                        _ => Vec::new(),
                    },
                    locations: described.locations,
                    raw_input: Some(args.clone()),
                    raw_output: None,
                })]
            }
            TaskUpdate::ToolResult {
                call_id, output, ..
            } => {
                lock(&self.turn)
                    .outputs
                    .insert(call_id.clone(), output.clone());
                Vec::new()
            }
            TaskUpdate::ToolCall {
                call_id,
                status,
                tool,
                ..
            } => {
                let (output, diffs, created_or_deleted) = {
                    let mut turn = lock(&self.turn);
                    if tool == tools::REPORT_FINDING && *status != ToolCallStatus::Failed {
                        turn.findings += 1;
                    }
                    (
                        turn.outputs.remove(call_id),
                        std::mem::take(&mut turn.diffs),
                        std::mem::take(&mut turn.created_or_deleted),
                    )
                };
                let mut content: Vec<ToolCallContent> =
                    diffs.into_iter().map(ToolCallContent::Diff).collect();
                if !created_or_deleted.is_empty() {
                    content.push(ToolCallContent::Content {
                        content: ContentBlock::text(created_or_deleted.join("\n")),
                    });
                }
                if let Some(output) = output.as_ref().filter(|o| !o.trim().is_empty()) {
                    content.push(ToolCallContent::Content {
                        content: ContentBlock::text(output.clone()),
                    });
                }
                vec![SessionUpdate::ToolCallUpdate(acp::ToolCallUpdate {
                    tool_call_id: call_id.clone(),
                    status: Some(match status {
                        ToolCallStatus::Failed => acp::ToolCallStatus::Failed,
                        _ => acp::ToolCallStatus::Completed,
                    }),
                    content: (!content.is_empty()).then_some(content),
                    raw_output: output.map(|output| raw::to_raw(&raw::ToolOutput { output })),
                    ..acp::ToolCallUpdate::default()
                })]
            }
            TaskUpdate::Plan { plan, .. } => vec![SessionUpdate::Plan(acp::Plan {
                entries: plan
                    .iter()
                    .map(|item| PlanEntry {
                        content: item.step.clone(),
                        priority: PlanEntryPriority::Medium,
                        status: match item.status {
                            PlanStatus::Pending => PlanEntryStatus::Pending,
                            PlanStatus::InProgress => PlanEntryStatus::InProgress,
                            PlanStatus::Completed => PlanEntryStatus::Completed,
                        },
                    })
                    .collect(),
            })],
            TaskUpdate::Usage {
                input_tokens,
                context_window,
                ..
            } if !replay => match context_window.or(self.context_window) {
                Some(size) => vec![SessionUpdate::UsageUpdate(UsageUpdate {
                    used: *input_tokens,
                    size,
                    cost: None,
                })],
                None => Vec::new(),
            },
            TaskUpdate::Error {
                message,
                will_retry: true,
            } => vec![SessionUpdate::AgentThoughtChunk(chunk(&format!(
                "\n{message}\n"
            )))],
            TaskUpdate::Error {
                message,
                will_retry: false,
            } => vec![SessionUpdate::AgentMessageChunk(chunk(&format!(
                "\n\nagentls: {message}\n"
            )))],
            TaskUpdate::Findings { .. } if !replay => {
                let findings = lock(&self.turn).findings;
                vec![SessionUpdate::AgentMessageChunk(chunk(&format!(
                    "\n\nagentls: the review reported {}\n",
                    plural(findings, "finding")
                )))]
            }
            TaskUpdate::Warning { message } => vec![SessionUpdate::AgentMessageChunk(chunk(
                &format!("\n\nagentls warning: {message}\n"),
            ))],
            _ => Vec::new(),
        }
    }

    /// Keeps the run's changes and turns those new since the last diff into diffs for the
    /// tool call that made them.
    fn changed(&self, changes: &[FileChange]) {
        let mut turn = lock(&self.turn);
        for change in changes {
            let before = turn
                .shown
                .get(&change.path)
                .cloned()
                .unwrap_or_else(|| change.base.clone());
            if before == change.new {
                continue;
            }
            match (&before, &change.new) {
                (None, Some(_)) => turn
                    .created_or_deleted
                    .push(format!("Creates {}", change.path)),
                (Some(_), None) => turn
                    .created_or_deleted
                    .push(format!("Deletes {}", change.path)),
                _ => {}
            }
            turn.diffs.push(Diff {
                path: self.absolute(&change.path),
                old_text: before,
                new_text: change.new.clone().unwrap_or_default(),
            });
            turn.shown.insert(change.path.clone(), change.new.clone());
        }
        turn.changes = changes.to_vec();
    }

    /// A finding as a person reads it in the tool call: its text, then its fix as the
    /// diff a later turn would make.
    fn finding_content(&self, args: &Value) -> Vec<ToolCallContent> {
        let text = |key: &str| args.get(key).and_then(Value::as_str).unwrap_or_default();
        let mut content = vec![ToolCallContent::Content {
            content: ContentBlock::text(text("body")),
        }];
        let fix = self.patch_diffs(text("fix"));
        content.extend(fix.into_iter().map(ToolCallContent::Diff));
        content
    }

    /// The diffs a patch would make, against the files as the run sees them now; empty
    /// when it does not apply (the tool will say why).
    fn patch_diffs(&self, patch_text: &str) -> Vec<Diff> {
        let Ok(parsed) = patch::parse_patch(patch_text) else {
            return Vec::new();
        };
        let source = RunFiles {
            feed: self,
            turn: &lock(&self.turn),
        };
        let Ok(writes) = patch::apply_patch(&parsed, &source) else {
            return Vec::new();
        };
        writes
            .iter()
            .map(|write| {
                let old_text = source.read(write.path()).ok().flatten();
                Diff {
                    path: self.absolute(write.path()),
                    old_text,
                    new_text: match write {
                        patch::FileWrite::Write { contents, .. } => contents.clone(),
                        patch::FileWrite::Delete { .. } => String::new(),
                    },
                }
            })
            .collect()
    }
}

/// The files as a run sees them: its changes, then the buffers it started from, then disk.
struct RunFiles<'a> {
    feed: &'a SessionFeed,
    turn: &'a Turn,
}

impl PatchSource for RunFiles<'_> {
    fn read(&self, path: &str) -> Result<Option<String>, String> {
        if let Some(change) = self.turn.changes.iter().find(|c| c.path == path) {
            return Ok(change.new.clone());
        }
        if let Some(text) = self.turn.buffers.get(path) {
            return Ok(Some(text.clone()));
        }
        read_disk(&self.feed.root, path)
    }
}

/// A workspace file's text on disk; `Ok(None)`: no such file.
pub fn read_disk(root: &Path, rel: &str) -> Result<Option<String>, String> {
    match std::fs::read_to_string(root.join(rel)) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error.to_string()),
    }
}

pub fn absolute(root: &Path, rel: &str) -> String {
    root.join(rel).to_string_lossy().into_owned()
}

impl ClientSink for AcpSink {
    fn task_update(&self, update: &TaskUpdateParams) {
        let Some(feed) = self.feed(&update.task_id) else {
            return;
        };
        if let TaskUpdate::Finished { status, .. } = update.update {
            if let Some(finished) = lock(&feed.turn).finished.take() {
                let _ = finished.send(status);
            }
            return;
        }
        let updates = feed.session_updates(&update.update, false);
        self.send(&feed.session_id, updates);
    }

    fn progress(&self, _task_id: &str, _event: ProgressEvent) {}

    fn files_changed(&self, task_id: &str, changes: &[FileChange]) {
        if let Some(feed) = self.feed(task_id) {
            feed.changed(changes);
        }
    }

    /// Asked of the client through `fs/read_text_file` ([`ClientFiles::read`]); what it
    /// gives is also what this turn's approvals diff against.
    fn editor_text(&self, task_id: &str, rel: &str) -> oneshot::Receiver<Option<String>> {
        let (answer, receiver) = oneshot::channel();
        let Some(feed) = self.feed(task_id).filter(|_| self.fs.read_text_file) else {
            return receiver;
        };
        let (connection, fs, rel) = (self.connection.clone(), self.fs.clone(), rel.to_string());
        tokio::spawn(async move {
            let files = ClientFiles {
                connection: &connection,
                session_id: &feed.session_id,
                root: &feed.root,
                fs: &fs,
            };
            let text = match files.read(&rel).await {
                Ok(text) => text,
                Err(error) => {
                    tracing::warn!("{error}; the task reads it from disk");
                    None
                }
            };
            if let Some(text) = &text {
                lock(&feed.turn).buffers.insert(rel, text.clone());
            }
            let _ = answer.send(text);
        });
        receiver
    }

    fn request_approval(
        &self,
        request: ApprovalRequestParams,
    ) -> oneshot::Receiver<ApprovalDecision> {
        let (answer, receiver) = oneshot::channel();
        // Unknown to every session: dropping `answer` counts as a denial.
        let Some(feed) = self.feed(&request.task_id) else {
            return receiver;
        };
        let question = permission_request(&feed, &request);
        let connection = self.connection.clone();
        tokio::spawn(async move {
            let asked: Result<RequestPermissionResponse, _> = connection
                .request(method::REQUEST_PERMISSION, &question)
                .await;
            let decision = match asked {
                Ok(response) => decision_of(&response.outcome),
                Err(error) => {
                    tracing::warn!("session/request_permission failed ({error}); denied");
                    ApprovalDecision::Deny
                }
            };
            // A `cancel` cancels the task's run (Task::request_approval).
            let _ = answer.send(decision);
        });
        receiver
    }
}

/// The question for a command, a patch (with the diffs it would make) or an MCP call.
fn permission_request(
    feed: &SessionFeed,
    request: &ApprovalRequestParams,
) -> RequestPermissionRequest {
    let (tool, args) = match request.kind {
        ApprovalKind::Patch => (
            tools::APPLY_PATCH,
            raw::to_raw(&raw::PatchInput {
                input: request.diff.clone().unwrap_or_default(),
            }),
        ),
        _ if request.server.is_some() => (
            "mcp",
            raw::to_raw(&raw::McpCallInput {
                server: request.server.clone(),
                tool: request.tool.clone(),
                arguments: request.arguments.clone(),
            }),
        ),
        _ => (
            tools::shell::NAME,
            raw::to_raw(&raw::CommandInput {
                command: request.command.clone().unwrap_or_default(),
                workdir: request.cwd.clone(),
            }),
        ),
    };
    let described = describe_call(&feed.root, tool, &args);
    let mut content: Vec<ToolCallContent> = match &request.diff {
        Some(diff) => feed
            .patch_diffs(diff)
            .into_iter()
            .map(ToolCallContent::Diff)
            .collect(),
        None => Vec::new(),
    };
    if let Some(reason) = &request.reason {
        content.push(ToolCallContent::Content {
            content: ContentBlock::text(reason.clone()),
        });
    }
    let option = |id: &str, name: &str, kind| PermissionOption {
        option_id: id.into(),
        name: name.into(),
        kind,
    };
    RequestPermissionRequest {
        session_id: feed.session_id.clone(),
        tool_call: acp::ToolCallUpdate {
            tool_call_id: request.call_id.clone(),
            title: Some(described.title),
            kind: Some(described.kind),
            status: Some(acp::ToolCallStatus::Pending),
            content: (!content.is_empty()).then_some(content),
            locations: (!described.locations.is_empty()).then_some(described.locations),
            raw_input: Some(args),
            raw_output: None,
        },
        options: vec![
            option(ALLOW_ONCE, "Allow", PermissionOptionKind::AllowOnce),
            option(
                ALLOW_ALWAYS,
                "Allow for this session",
                PermissionOptionKind::AllowAlways,
            ),
            option(REJECT_ONCE, "Reject", PermissionOptionKind::RejectOnce),
        ],
    }
}

/// allow_once → allow, allow_always → allowForTask, reject_once → deny; a cancelled
/// question cancels the turn.
fn decision_of(outcome: &RequestPermissionOutcome) -> ApprovalDecision {
    match outcome {
        RequestPermissionOutcome::Cancelled => ApprovalDecision::Cancel,
        RequestPermissionOutcome::Selected { option_id } => match option_id.as_str() {
            ALLOW_ONCE => ApprovalDecision::Allow,
            ALLOW_ALWAYS => ApprovalDecision::AllowForTask,
            _ => ApprovalDecision::Deny,
        },
    }
}

/// How a tool call reads to a person.
struct Described {
    title: String,
    kind: ToolKind,
    locations: Vec<ToolCallLocation>,
}

fn describe_call(root: &Path, tool: &str, args: &Value) -> Described {
    let text = |key: &str| args.get(key).and_then(Value::as_str).unwrap_or_default();
    let location = |path: &str, line: Option<u32>| ToolCallLocation {
        path: absolute(root, path.trim_start_matches('/')),
        line,
    };
    let simple = |title: String, kind| Described {
        title,
        kind,
        locations: Vec::new(),
    };
    match tool {
        tools::read_file::NAME => Described {
            title: format!("Read {}", text("path")),
            kind: ToolKind::Read,
            locations: vec![location(
                text("path"),
                args.get("offset")
                    .and_then(Value::as_u64)
                    .map(|line| line as u32),
            )],
        },
        tools::list_dir::NAME => Described {
            title: format!("List {}", shown_path(text("path"))),
            kind: ToolKind::Read,
            locations: vec![location(text("path"), None)],
        },
        tools::grep::NAME => simple(
            format!(
                "Search for `{}` in {}",
                text("pattern"),
                shown_path(text("path"))
            ),
            ToolKind::Search,
        ),
        tools::APPLY_PATCH => {
            let paths = patch::parse_patch(text("input"))
                .map(|patch| {
                    let mut paths: Vec<String> = patch
                        .hunks
                        .iter()
                        .flat_map(|hunk| hunk.paths())
                        .map(str::to_string)
                        .collect();
                    paths.dedup();
                    paths
                })
                .unwrap_or_default();
            Described {
                title: match paths.is_empty() {
                    true => "Edit files".into(),
                    false => format!("Edit {}", paths.join(", ")),
                },
                kind: ToolKind::Edit,
                locations: paths.iter().map(|path| location(path, None)).collect(),
            }
        }
        tools::shell::NAME => simple(format!("Run {}", command_line(args)), ToolKind::Execute),
        tools::UPDATE_PLAN => simple("Update the plan".into(), ToolKind::Think),
        tools::REPORT_FINDING => {
            let line = |key: &str| args.get(key).and_then(Value::as_u64).unwrap_or(1);
            Described {
                title: format!(
                    "{} in {}:{}: {}",
                    text("severity"),
                    text("path"),
                    line("startLine"),
                    text("title")
                ),
                kind: ToolKind::Think,
                locations: vec![location(text("path"), Some(line("startLine") as u32))],
            }
        }
        "mcp" => simple(
            format!("{} (MCP {})", text("tool"), text("server")),
            ToolKind::Other,
        ),
        mcp if mcp.starts_with("mcp__") => {
            let mut parts = mcp.splitn(3, "__").skip(1);
            let (server, name) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or(mcp),
            );
            let kind = if name.contains("fetch") {
                ToolKind::Fetch
            } else {
                ToolKind::Other
            };
            simple(format!("{name} (MCP {server})"), kind)
        }
        other => simple(other.to_string(), ToolKind::Other),
    }
}

fn shown_path(path: &str) -> &str {
    if path.is_empty() || path == "." {
        "the workspace"
    } else {
        path
    }
}

/// A shell call's command as one line; `bash -lc SCRIPT` shows the script.
fn command_line(args: &Value) -> String {
    match args.get("command") {
        Some(Value::String(line)) => line.clone(),
        Some(Value::Array(argv)) => {
            let words: Vec<&str> = argv.iter().filter_map(Value::as_str).collect();
            match words.as_slice() {
                [shell, flag, script]
                    if shell.ends_with("sh") && flag.starts_with('-') && flag.ends_with('c') =>
                {
                    script.to_string()
                }
                _ => words.join(" "),
            }
        }
        _ => String::new(),
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tool_calls_get_a_kind_a_title_and_locations() {
        let root = Path::new("/w");
        let edit = describe_call(
            root,
            tools::APPLY_PATCH,
            &json!({"input": "*** Begin Patch\n*** Update File: src/lib.rs\n@@\n-a\n+b\n*** End Patch\n"}),
        );
        assert_eq!(
            (edit.title.as_str(), edit.kind),
            ("Edit src/lib.rs", ToolKind::Edit)
        );
        assert_eq!(edit.locations[0].path, "/w/src/lib.rs");
        let run = describe_call(
            root,
            tools::shell::NAME,
            &json!({"command": ["bash", "-lc", "cargo test"]}),
        );
        assert_eq!(
            (run.title.as_str(), run.kind),
            ("Run cargo test", ToolKind::Execute)
        );
        let read = describe_call(
            root,
            tools::read_file::NAME,
            &json!({"path": "a.txt", "offset": 3}),
        );
        assert_eq!(read.kind, ToolKind::Read);
        assert_eq!(read.locations[0].line, Some(3));
    }

    #[test]
    fn permission_options_map_onto_decisions() {
        let selected = |id: &str| RequestPermissionOutcome::Selected {
            option_id: id.into(),
        };
        assert_eq!(decision_of(&selected(ALLOW_ONCE)), ApprovalDecision::Allow);
        assert_eq!(
            decision_of(&selected(ALLOW_ALWAYS)),
            ApprovalDecision::AllowForTask
        );
        assert_eq!(decision_of(&selected(REJECT_ONCE)), ApprovalDecision::Deny);
        assert_eq!(
            decision_of(&RequestPermissionOutcome::Cancelled),
            ApprovalDecision::Cancel
        );
    }
}
