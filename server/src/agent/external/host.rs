//! agentls's side of a hosted agent's turn: what the agent asks of its client and what it
//! reports, for one run of one task.
//!
//! - `fs/read_text_file` reads the task's view (the user's unsaved buffers included, and
//!   whatever the agent already changed); `fs/write_text_file` writes into the view and
//!   its directory, never the user's tree.
//! - `terminal/*` runs commands in the view directory under the task's sandbox, asking
//!   first as the approval policy says for a command.
//! - `session/request_permission` goes through the task's approval policy and, when it
//!   must ask, `agent/requestApproval` with the agent's title and its diff.
//! - `session/update` becomes task updates; after every tool call that completes, what the
//!   agent changed in its directory (by its own patch tool or a shell) is folded into the
//!   view, so hunks appear while it works.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::terminal::Terminals;
use crate::acp::rpc::RpcError;
use crate::acp::types::{
    CreateTerminalRequest, CreateTerminalResponse, Diff, PermissionOption, PermissionOptionKind,
    Plan, PlanEntryStatus, ReadTextFileRequest, ReadTextFileResponse, RequestPermissionOutcome,
    RequestPermissionRequest, RequestPermissionResponse, SessionNotification, SessionUpdate,
    TerminalRequest, ToolCallContent, ToolCallStatus, ToolCallUpdate, ToolKind, UsageUpdate,
    WriteTextFileRequest, error_code, method,
};
use crate::agent::changes::ChangeReports;
use crate::agent::shell::Commands;
use crate::agent::truncate_for_client;
use crate::config::ApprovalPolicy;
use crate::protocol::{
    self as proto, ApprovalDecision, ApprovalKind, ApprovalRequestParams, PlanItem, TaskMode,
    TaskUpdate,
};
use crate::sandbox::{HelperSpec, approval};
use crate::task::Task;
use crate::workspace::TaskView;

/// What one run of a hosted agent shares between its handlers.
pub struct Host {
    /// The `[agents.<name>]` name, for messages.
    pub name: String,
    pub task: Arc<Task>,
    pub view: Arc<Mutex<TaskView>>,
    pub commands: Arc<Commands>,
    pub terminals: Arc<Terminals>,
    /// The view directory: the agent's working directory.
    pub tree: PathBuf,
    pub mode: TaskMode,
    /// Set while `session/load` replays an earlier conversation, which is not news.
    pub replaying: AtomicBool,
    changes: ChangeReports,
    calls: Mutex<HashMap<String, Call>>,
    turn: Mutex<TurnText>,
}

/// A tool call as known so far (updates carry only what changed).
#[derive(Debug, Clone, Default)]
struct Call {
    title: String,
    kind: ToolKind,
    status: ToolCallStatus,
    content: Vec<ToolCallContent>,
    raw_input: Option<Value>,
    raw_output: Option<Value>,
    /// Its start was reported to the client.
    announced: bool,
}

fn is_finished(status: ToolCallStatus) -> bool {
    matches!(status, ToolCallStatus::Completed | ToolCallStatus::Failed)
}

/// What the agent said during the turn, for the task log and the summary.
#[derive(Debug, Default)]
pub struct TurnText {
    /// Everything, in order.
    pub message: String,
    /// What it said after its last tool call: its answer.
    pub last: String,
    /// A tool call came since the last message chunk.
    after_tool: bool,
    pub reasoning: String,
    pub usage: Option<UsageUpdate>,
}

impl Host {
    pub fn new(
        name: String,
        task: Arc<Task>,
        view: Arc<Mutex<TaskView>>,
        commands: Arc<Commands>,
        terminals: Arc<Terminals>,
        tree: PathBuf,
        mode: TaskMode,
    ) -> Host {
        Host {
            name,
            task,
            view,
            commands,
            terminals,
            tree,
            mode,
            replaying: AtomicBool::new(false),
            changes: ChangeReports::default(),
            calls: Mutex::default(),
            turn: Mutex::default(),
        }
    }

    /// What the agent said since the last call.
    pub fn take_turn(&self) -> TurnText {
        std::mem::take(&mut *lock(&self.turn))
    }

    /// Folds what the agent changed in its directory into the view and, if anything
    /// changed, tells the client and the task log.
    pub async fn fold(&self) {
        if self.commands.absorb_changes(&self.view).await {
            self.changes.report(&self.task, &self.view);
        }
    }

    /// Answers one request of the agent.
    pub async fn answer(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        match method {
            method::READ_TEXT_FILE => reply(self.read(parse(method, params)?).await),
            method::WRITE_TEXT_FILE => reply(self.write(parse(method, params)?).await),
            method::REQUEST_PERMISSION => reply(Ok(self.permission(parse(method, params)?).await)),
            method::TERMINAL_CREATE => reply(self.create_terminal(parse(method, params)?).await),
            method::TERMINAL_OUTPUT => {
                let request: TerminalRequest = parse(method, params)?;
                reply(
                    self.terminals
                        .output(&request.terminal_id)
                        .ok_or_else(|| unknown_terminal(&request)),
                )
            }
            method::TERMINAL_WAIT_FOR_EXIT => {
                let request: TerminalRequest = parse(method, params)?;
                let status = self.terminals.wait(&request.terminal_id).await;
                // A command that changed files: the next read or hunk count sees it.
                self.fold().await;
                reply(status.ok_or_else(|| unknown_terminal(&request)))
            }
            method::TERMINAL_KILL | method::TERMINAL_RELEASE => {
                let request: TerminalRequest = parse(method, params)?;
                let known = if method == method::TERMINAL_KILL {
                    self.terminals.kill(&request.terminal_id)
                } else {
                    self.terminals.release(&request.terminal_id)
                };
                match known {
                    true => Ok(json!({})),
                    false => Err(unknown_terminal(&request)),
                }
            }
            _ => Err(RpcError::method_not_found(method)),
        }
    }

    /// Acts on one notification of the agent.
    pub async fn notify(&self, method: &str, params: Value) {
        if method != method::SESSION_UPDATE {
            tracing::debug!(agent = %self.name, "ignored notification {method}");
            return;
        }
        let notification: SessionNotification = match serde_json::from_value(params) {
            Ok(notification) => notification,
            Err(error) => {
                tracing::warn!(agent = %self.name, "skipped an unreadable session/update: {error}");
                return;
            }
        };
        if self.replaying.load(Ordering::SeqCst) {
            return;
        }
        self.update(notification.update).await;
    }

    async fn update(&self, update: SessionUpdate) {
        match update {
            SessionUpdate::AgentMessageChunk(chunk) => {
                let delta = chunk.content.as_readable();
                {
                    let mut turn = lock(&self.turn);
                    if std::mem::take(&mut turn.after_tool) {
                        turn.last.clear();
                    }
                    turn.message.push_str(&delta);
                    turn.last.push_str(&delta);
                }
                self.task.emit(TaskUpdate::Message { delta });
            }
            SessionUpdate::AgentThoughtChunk(chunk) => {
                let delta = chunk.content.as_readable();
                lock(&self.turn).reasoning.push_str(&delta);
                self.task.emit(TaskUpdate::Reasoning { delta });
            }
            SessionUpdate::ToolCall(call) => {
                lock(&self.turn).after_tool = true;
                let update = ToolCallUpdate {
                    tool_call_id: call.tool_call_id,
                    title: Some(call.title),
                    kind: Some(call.kind),
                    status: Some(call.status),
                    content: Some(call.content),
                    locations: None,
                    raw_input: call.raw_input,
                    raw_output: call.raw_output,
                };
                self.tool_call(update).await;
            }
            SessionUpdate::ToolCallUpdate(update) => self.tool_call(update).await,
            SessionUpdate::Plan(plan) => self.task.emit(plan_update(plan)),
            SessionUpdate::UsageUpdate(usage) => lock(&self.turn).usage = Some(usage),
            SessionUpdate::UserMessageChunk(_)
            | SessionUpdate::AvailableCommandsUpdate(_)
            | SessionUpdate::CurrentModeUpdate(_)
            | SessionUpdate::Other => {}
        }
    }

    /// Reports a tool call's start and its end; a call that ends folds the agent's
    /// changes into the view first, so the hunks it made are counted with it.
    async fn tool_call(&self, update: ToolCallUpdate) {
        let id = update.tool_call_id.clone();
        let (call, announce, finish) = {
            let mut calls = lock(&self.calls);
            let call = calls.entry(id.clone()).or_default();
            let was_finished = is_finished(call.status);
            merge(call, update);
            let announce = !std::mem::replace(&mut call.announced, true);
            let finish = !was_finished && is_finished(call.status);
            (call.clone(), announce, finish)
        };
        if announce {
            self.emit_call(&id, &call, proto::ToolCallStatus::Running);
        }
        if !finish {
            return;
        }
        self.fold().await;
        let ok = call.status == ToolCallStatus::Completed;
        self.task.emit(TaskUpdate::ToolResult {
            call_id: id.clone(),
            ok,
            output: truncate_for_client(&self.output_of(&call)),
            exit_code: call
                .raw_output
                .as_ref()
                .and_then(|raw| raw.get("exit_code").or(raw.get("exitCode")))
                .and_then(Value::as_i64)
                .map(|code| code as i32),
        });
        let status = if ok {
            proto::ToolCallStatus::Completed
        } else {
            proto::ToolCallStatus::Failed
        };
        self.emit_call(&id, &call, status);
    }

    fn emit_call(&self, id: &str, call: &Call, status: proto::ToolCallStatus) {
        self.task.emit(TaskUpdate::ToolCall {
            call_id: id.to_string(),
            tool: call.kind.as_str().to_string(),
            args: call.raw_input.clone().unwrap_or_else(|| json!({})),
            status,
            title: Some(call.title.clone()),
        });
    }

    /// What a finished call produced, as text: its content, else the text parts of its
    /// raw output (codex-acp puts a command's output there).
    fn output_of(&self, call: &Call) -> String {
        let mut parts: Vec<String> = call
            .content
            .iter()
            .map(|content| match content {
                ToolCallContent::Content { content } => content.as_readable(),
                ToolCallContent::Diff(diff) => format!("edited {}", self.shown(&diff.path)),
                ToolCallContent::Terminal { terminal_id } => self
                    .terminals
                    .output(terminal_id)
                    .map(|output| output.output)
                    .unwrap_or_default(),
            })
            .collect();
        if parts.iter().all(String::is_empty)
            && let Some(raw) = &call.raw_output
        {
            parts = ["formatted_output", "output", "stdout", "stderr"]
                .iter()
                .filter_map(|key| raw.get(key).and_then(Value::as_str))
                .filter(|text| !text.is_empty())
                .map(str::to_string)
                .collect();
        }
        parts.retain(|part| !part.is_empty());
        parts.join("\n")
    }

    // ----- fs/* -------------------------------------------------------------------------

    async fn read(&self, request: ReadTextFileRequest) -> Result<ReadTextFileResponse, RpcError> {
        let rel = self.relative(&request.path)?;
        // The agent may have written the file itself since the last tool call ended.
        self.fold().await;
        let text = lock(&self.view)
            .read(&rel)
            .map_err(|e| RpcError::new(error_code::INVALID_PARAMS, e.to_string()))?
            .ok_or_else(|| {
                RpcError::new(
                    error_code::RESOURCE_NOT_FOUND,
                    format!("there is no file `{}` in the workspace", request.path),
                )
            })?;
        Ok(ReadTextFileResponse {
            content: lines(&text, request.line, request.limit),
        })
    }

    async fn write(&self, request: WriteTextFileRequest) -> Result<Value, RpcError> {
        if self.mode == TaskMode::Ask {
            return Err(RpcError::new(
                error_code::INVALID_REQUEST,
                "this task is in ask mode: it answers questions and changes no file",
            ));
        }
        let rel = self.relative(&request.path)?;
        // The directory first: a fold finds the file there as the view has it.
        {
            let mut dir = self.commands.lock_dir().await;
            if let Some(dir) = dir.as_mut() {
                dir.flush([(rel.as_str(), Some(request.content.as_str()))])
                    .map_err(|e| {
                        RpcError::new(
                            error_code::INTERNAL_ERROR,
                            format!("cannot write `{rel}` into the task's view: {e}"),
                        )
                    })?;
            }
            lock(&self.view).write(&rel, request.content);
        }
        self.changes.report(&self.task, &self.view);
        Ok(json!({}))
    }

    /// The workspace-relative path of an absolute path the agent sent: inside its working
    /// directory (the view), or the same file named in the user's workspace.
    fn relative(&self, path: &str) -> Result<String, RpcError> {
        let view = lock(&self.view);
        let resolved = match Path::new(path).strip_prefix(&self.tree) {
            Ok(rel) => view.resolve(&rel.display().to_string()),
            Err(_) => view.resolve(path),
        };
        resolved.map_err(|_| {
            RpcError::new(
                error_code::INVALID_PARAMS,
                format!(
                    "`{path}` is outside the task's workspace ({}); use a path inside it",
                    self.tree.display()
                ),
            )
        })
    }

    /// A path as the user knows it: relative to the workspace when it is inside.
    fn shown(&self, path: &str) -> String {
        match Path::new(path).strip_prefix(&self.tree) {
            Ok(rel) => rel.display().to_string(),
            Err(_) => path.to_string(),
        }
    }

    // ----- terminal/* ---------------------------------------------------------------------

    async fn create_terminal(
        &self,
        request: CreateTerminalRequest,
    ) -> Result<CreateTerminalResponse, RpcError> {
        if self.mode == TaskMode::Ask {
            return Err(RpcError::new(
                error_code::INVALID_REQUEST,
                "this task is in ask mode: it runs no commands",
            ));
        }
        let cwd = match &request.cwd {
            Some(cwd) => self.tree.join(self.relative(cwd)?),
            None => self.tree.clone(),
        };
        let argv: Vec<String> = std::iter::once(request.command.clone())
            .chain(request.args.iter().cloned())
            .collect();
        let call_id = format!("terminal:{}", request.command);
        self.commands
            .approve_argv(
                &self.task,
                &call_id,
                argv.clone(),
                &cwd.display().to_string(),
            )
            .await
            .map_err(|message| RpcError::new(error_code::INVALID_REQUEST, message))?;
        let dir = self.commands.lock_dir().await;
        let Some(dir) = dir.as_ref() else {
            return Err(RpcError::new(
                error_code::INTERNAL_ERROR,
                "the task's view directory is gone",
            ));
        };
        let tmp = dir.tmp();
        let sandbox = &self.commands.sandbox;
        let spec = HelperSpec {
            overlay: dir.overlay(),
            tmp: tmp.clone(),
            cwd,
            confine: sandbox.confinement(&dir.tree(), &tmp, &dir.extra_readable(), false),
            command: argv,
        };
        let mut env = sandbox.command_env(&tmp);
        for variable in request.env {
            env.retain(|(name, _)| name != &variable.name);
            env.push((variable.name, variable.value));
        }
        let terminal_id = self
            .terminals
            .spawn(&spec, &env, request.output_byte_limit)
            .map_err(|e| {
                RpcError::new(
                    error_code::INTERNAL_ERROR,
                    format!("cannot start `{}`: {e}", request.command),
                )
            })?;
        Ok(CreateTerminalResponse { terminal_id })
    }

    // ----- session/request_permission --------------------------------------------------

    async fn permission(&self, request: RequestPermissionRequest) -> RequestPermissionResponse {
        let call = {
            let mut calls = lock(&self.calls);
            let known = calls
                .entry(request.tool_call.tool_call_id.clone())
                .or_default();
            merge(known, request.tool_call.clone());
            known.clone()
        };
        let kind = approval_kind(&call);
        let title = if call.title.is_empty() {
            "a tool call".to_string()
        } else {
            call.title.clone()
        };
        let key = format!("agent:{kind:?}:{title}");
        let decision = if approval::before_agent_tool(self.commands.approval_policy) {
            let question = ApprovalRequestParams {
                task_id: self.task.id.clone(),
                call_id: request.tool_call.tool_call_id.clone(),
                kind,
                command: command_of(&call),
                cwd: (kind == ApprovalKind::Command).then(|| self.tree.display().to_string()),
                diff: diff_of(&call, &self.tree),
                reason: Some(format!("{} asks: {title}", self.name)),
                server: None,
                tool: None,
                arguments: None,
                attempt: None,
            };
            self.commands.decide(&self.task, question, key).await
        } else {
            debug_assert_eq!(self.commands.approval_policy, ApprovalPolicy::Never);
            ApprovalDecision::Allow
        };
        RequestPermissionResponse {
            outcome: choose(&request.options, decision),
        }
    }
}

/// The agent's option that says what the user decided: `allowForTask` prefers the
/// agent's "always" (so it stops asking), `allow` and `deny` its "once"; with no such
/// option the nearest one, and a cancelled turn (or no rejecting option at all for a
/// denial) answers `cancelled`.
fn choose(options: &[PermissionOption], decision: ApprovalDecision) -> RequestPermissionOutcome {
    use PermissionOptionKind::*;
    let preference: &[PermissionOptionKind] = match decision {
        ApprovalDecision::Allow => &[AllowOnce, AllowAlways],
        ApprovalDecision::AllowForTask => &[AllowAlways, AllowOnce],
        ApprovalDecision::Deny => &[RejectOnce, RejectAlways],
        ApprovalDecision::Cancel => &[],
    };
    preference
        .iter()
        .find_map(|kind| options.iter().find(|option| option.kind == *kind))
        .map_or(RequestPermissionOutcome::Cancelled, |option| {
            RequestPermissionOutcome::Selected {
                option_id: option.option_id.clone(),
            }
        })
}

/// What agentls's approval kinds call the agent's request.
fn approval_kind(call: &Call) -> ApprovalKind {
    let edits = call
        .content
        .iter()
        .any(|c| matches!(c, ToolCallContent::Diff(_)));
    match call.kind {
        _ if edits => ApprovalKind::Patch,
        ToolKind::Edit | ToolKind::Delete | ToolKind::Move => ApprovalKind::Patch,
        ToolKind::Execute => ApprovalKind::Command,
        ToolKind::Fetch => ApprovalKind::Network,
        _ => ApprovalKind::Tool,
    }
}

/// The command a call would run, when its raw input names one.
fn command_of(call: &Call) -> Option<Vec<String>> {
    match call.raw_input.as_ref()?.get("command")? {
        Value::Array(words) => words
            .iter()
            .map(|word| word.as_str().map(str::to_string))
            .collect(),
        Value::String(line) => Some(vec![line.clone()]),
        _ => None,
    }
}

/// The call's edits as one unified diff, paths relative to the workspace.
fn diff_of(call: &Call, tree: &Path) -> Option<String> {
    let diffs: Vec<&Diff> = call
        .content
        .iter()
        .filter_map(|content| match content {
            ToolCallContent::Diff(diff) => Some(diff),
            _ => None,
        })
        .collect();
    if diffs.is_empty() {
        return None;
    }
    let rendered: Vec<String> = diffs
        .iter()
        .map(|diff| {
            let path = Path::new(&diff.path)
                .strip_prefix(tree)
                .map_or(diff.path.clone(), |rel| rel.display().to_string());
            let old = diff.old_text.as_deref().unwrap_or_default();
            let from = if diff.old_text.is_some() {
                format!("a/{path}")
            } else {
                "/dev/null".into()
            };
            similar::TextDiff::from_lines(old, &diff.new_text)
                .unified_diff()
                .header(&from, &format!("b/{path}"))
                .to_string()
        })
        .collect();
    Some(rendered.concat())
}

fn merge(call: &mut Call, update: ToolCallUpdate) {
    if let Some(title) = update.title {
        call.title = title;
    }
    if let Some(kind) = update.kind {
        call.kind = kind;
    }
    if let Some(status) = update.status {
        call.status = status;
    }
    if let Some(content) = update.content {
        call.content = content;
    }
    if update.raw_input.is_some() {
        call.raw_input = update.raw_input;
    }
    if update.raw_output.is_some() {
        call.raw_output = update.raw_output;
    }
}

fn plan_update(plan: Plan) -> TaskUpdate {
    TaskUpdate::Plan {
        explanation: None,
        plan: plan
            .entries
            .into_iter()
            .map(|entry| PlanItem {
                step: entry.content,
                status: match entry.status {
                    PlanEntryStatus::Pending => proto::PlanStatus::Pending,
                    PlanEntryStatus::InProgress => proto::PlanStatus::InProgress,
                    PlanEntryStatus::Completed => proto::PlanStatus::Completed,
                },
            })
            .collect(),
    }
}

/// `limit` lines from 1-based `line` on (the whole text by default).
fn lines(text: &str, line: Option<u32>, limit: Option<u32>) -> String {
    if line.is_none() && limit.is_none() {
        return text.to_string();
    }
    let skip = line.unwrap_or(1).saturating_sub(1) as usize;
    let take = limit.map_or(usize::MAX, |limit| limit as usize);
    text.split_inclusive('\n').skip(skip).take(take).collect()
}

fn parse<T: DeserializeOwned>(method: &str, params: Value) -> Result<T, RpcError> {
    serde_json::from_value(params).map_err(|e| RpcError::invalid_params(method, e))
}

fn reply<T: Serialize>(result: Result<T, RpcError>) -> Result<Value, RpcError> {
    result.and_then(|value| {
        serde_json::to_value(value)
            .map_err(|e| RpcError::new(error_code::INTERNAL_ERROR, e.to_string()))
    })
}

fn unknown_terminal(request: &TerminalRequest) -> RpcError {
    RpcError::new(
        error_code::INVALID_PARAMS,
        format!(
            "there is no terminal `{}` (released already?)",
            request.terminal_id
        ),
    )
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option(id: &str, kind: PermissionOptionKind) -> PermissionOption {
        PermissionOption {
            option_id: id.into(),
            name: id.into(),
            kind,
        }
    }

    #[test]
    fn decisions_map_onto_the_agents_own_options() {
        let all = [
            option("once", PermissionOptionKind::AllowOnce),
            option("always", PermissionOptionKind::AllowAlways),
            option("no", PermissionOptionKind::RejectOnce),
            option("never", PermissionOptionKind::RejectAlways),
        ];
        let picked = |options: &[PermissionOption], decision| match choose(options, decision) {
            RequestPermissionOutcome::Selected { option_id } => option_id,
            RequestPermissionOutcome::Cancelled => "cancelled".into(),
        };
        assert_eq!(picked(&all, ApprovalDecision::Allow), "once");
        assert_eq!(picked(&all, ApprovalDecision::AllowForTask), "always");
        assert_eq!(picked(&all, ApprovalDecision::Deny), "no");
        assert_eq!(picked(&all, ApprovalDecision::Cancel), "cancelled");
        // codex-acp offers `approved` (allow once) and `abort` (reject once) only.
        let codex = [
            option("approved", PermissionOptionKind::AllowOnce),
            option("abort", PermissionOptionKind::RejectOnce),
        ];
        assert_eq!(picked(&codex, ApprovalDecision::AllowForTask), "approved");
        assert_eq!(picked(&codex, ApprovalDecision::Deny), "abort");
        let allow_only = [option("ok", PermissionOptionKind::AllowOnce)];
        assert_eq!(picked(&allow_only, ApprovalDecision::Deny), "cancelled");
    }

    #[test]
    fn an_edit_asks_as_a_patch_with_its_diff() {
        let call = Call {
            title: "Edit /v/tree/src/a.txt".into(),
            kind: ToolKind::Edit,
            content: vec![ToolCallContent::Diff(Diff {
                path: "/v/tree/src/a.txt".into(),
                old_text: Some("one\ntwo\n".into()),
                new_text: "one\n2\n".into(),
            })],
            ..Call::default()
        };
        assert_eq!(approval_kind(&call), ApprovalKind::Patch);
        let diff = diff_of(&call, Path::new("/v/tree")).unwrap();
        assert_eq!(
            diff,
            "--- a/src/a.txt\n+++ b/src/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+2\n"
        );
        let run = Call {
            kind: ToolKind::Execute,
            raw_input: Some(json!({"command": ["bash", "-lc", "make"]})),
            ..Call::default()
        };
        assert_eq!(approval_kind(&run), ApprovalKind::Command);
        assert_eq!(command_of(&run).unwrap(), ["bash", "-lc", "make"]);
    }

    #[test]
    fn a_read_can_ask_for_some_lines() {
        let text = "a\nb\nc\n";
        assert_eq!(lines(text, None, None), text);
        assert_eq!(lines(text, Some(2), None), "b\nc\n");
        assert_eq!(lines(text, Some(2), Some(1)), "b\n");
        assert_eq!(lines(text, None, Some(1)), "a\n");
    }
}
