//! Every `agent/*` request, notification and payload, as typed serde structs.
//!
//! This module is the wire contract with the editor clients; docs/protocol.md shows each
//! type as JSON. Field names are camelCase on the wire. Add fields freely;
//! renaming one breaks every client.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A position as LSP sends it: `character` counts UTF-16 code units or UTF-8 bytes,
/// whichever encoding was negotiated in `initialize`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Position {
    pub line: u32,
    pub character: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Range {
    pub start: Position,
    pub end: Position,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HunkStatus {
    Pending,
    Accepted,
    Rejected,
    /// The user changed the text under the hunk; it is never applied silently.
    Stale,
    /// Overlaps another task's pending hunk.
    Conflict,
}

/// `code` may change files; `ask` gets the read-only tools only; `review` reads a change
/// (`startTask {target}`) and answers with findings (`report_finding`), never hunks of
/// its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskMode {
    #[default]
    Code,
    Ask,
    Review,
}

impl TaskMode {
    /// Whether the task's tools may change its view (`apply_patch`, `shell`).
    pub fn may_write(self) -> bool {
        self == TaskMode::Code
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
    Interrupted,
}

impl TaskStatus {
    pub fn is_finished(self) -> bool {
        !matches!(self, TaskStatus::Queued | TaskStatus::Running)
    }

    /// The status as the wire names it (`completed`).
    pub fn name(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Running => "running",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::Interrupted => "interrupted",
        }
    }
}

/// What the server advertises under `capabilities.experimental.agent`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentCapability {
    pub version: u32,
    /// Warnings found while loading configuration (a bad config never fails `initialize`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

// ----- agent/startTask -----------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartTaskParams {
    pub prompt: String,
    #[serde(default)]
    pub mode: TaskMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Working directory of the task, inside the workspace (a path or a file URI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Code the user pointed at: a selection or a whole file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<ContextRef>,
    /// A JSON Schema the model's final answer must satisfy: sent to the provider as
    /// structured output, and checked (`json_schema.rs`); an answer that does not match
    /// fails the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// Skills (by name) whose instructions go into the first turn, as `$name` in the
    /// prompt does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<String>,
    /// The agent that runs the task: an ACP agent configured as `[agents.<name>]`, or
    /// `agentls` (the default) for the built-in one. `agent/listAgents` lists them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Run this many attempts of the prompt side by side (2 to [`MAX_BEST_OF`]), each in
    /// its own view and sandbox; the task's proposal stays empty until one is chosen
    /// (`agent/chooseAttempt`, or `choose`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_of: Option<u32>,
    /// How an attempt gets chosen (with `bestOf`); default `manual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choose: Option<ChooseAttempt>,
    /// `review` mode: the change to review (required there, refused elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<ReviewTarget>,
    /// `review` mode: what to look for, besides correctness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
}

/// What a review looks at; exactly one field is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewTarget {
    /// The working tree, the index and the editor's unsaved buffers, against HEAD.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub uncommitted: bool,
    /// The current state (unsaved buffers included) against its merge base with this
    /// branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_branch: Option<String>,
    /// One commit, against its parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// A unified diff given as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// The most attempts one task may run (`bestOf`).
pub const MAX_BEST_OF: u32 = 8;

/// How an attempt of a best-of-N task is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ChooseAttempt {
    /// The user chooses (`agent/chooseAttempt`).
    #[default]
    Manual,
    /// The first attempt to finish `completed` whose last command exited 0 is chosen by
    /// itself; the user can still choose another.
    FirstGreen,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextRef {
    pub uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<Range>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskIdResult {
    pub task_id: String,
}

// ----- agent/importDiff -----------------------------------------------------------------

/// Exactly one source: the diff itself, a file, an http(s) URL, a git ref or range of the
/// workspace's repository, or a Codex cloud task payload.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportDiffParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// Absolute, or relative to the workspace root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `feature` (diffed from its merge base with HEAD) or a range such as `main..feature`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_task: Option<Value>,
}

// ----- agent/followUp -------------------------------------------------------------------

/// Another turn of a finished task: the model sees its earlier conversation, what the user
/// accepted, rejected (with reasons) and edited, and `prompt`. Its new hunks replace the
/// task's remaining undecided ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FollowUpParams {
    pub task_id: String,
    pub prompt: String,
}

// ----- agent/forkTask, agent/deleteTask ----------------------------------------------------

/// A checkpoint of a finished task: a new task with the conversation up to model turn
/// `atTurn` (default: all of it) and the original's undecided hunks at that point.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForkTaskParams {
    pub task_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_turn: Option<u32>,
}

// ----- agent/cancelTask, agent/getTask, agent/getProposal --------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskIdParams {
    pub task_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelTaskParams {
    pub task_id: String,
    /// Drop the partial proposal too (default: keep it for review).
    #[serde(default)]
    pub revert: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Empty {}

// ----- agent/listTasks, agent/getTask --------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSummary {
    pub task_id: String,
    pub prompt: String,
    pub mode: TaskMode,
    pub status: TaskStatus,
    /// Milliseconds since the Unix epoch.
    pub created_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Model turns so far, over every run: what `agent/forkTask`'s `atTurn` counts.
    #[serde(default)]
    pub turns: u32,
    /// Set on a task made by `agent/forkTask`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<ForkOrigin>,
}

/// The task a fork was made from, and the last model turn of it the fork kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForkOrigin {
    pub task_id: String,
    pub at_turn: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListTasksResult {
    pub tasks: Vec<TaskSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetTaskResult {
    #[serde(flatten)]
    pub task: TaskSummary,
    /// Every update sent for the task so far, in `seq` order.
    pub events: Vec<TaskUpdateParams>,
    /// A best-of-N task's attempts (local, or imported by `agent/importAttempts`), in
    /// order; absent for other tasks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<AttemptInfo>,
    /// The attempt whose hunks are the task's proposal, once one is chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen_attempt: Option<u32>,
    /// A review task's findings still shown (not dismissed, their lines not edited).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<FindingInfo>,
}

// ----- review findings ------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingSeverity {
    Error,
    Warning,
    Info,
}

/// What a review reported about some lines (`report_finding`), apart from where they
/// are now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingReport {
    pub severity: FindingSeverity,
    pub title: String,
    pub body: String,
    /// A Codex patch (`*** Begin Patch`) that fixes it, checked to apply when it was
    /// reported; `agent.applyFix` makes it hunks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The finding points at lines the reviewed change did not touch.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outside_change: bool,
    /// Other places the finding refers to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<RelatedLocation>,
}

/// A review finding where it is now: `range` covers its lines in the document's CURRENT
/// text (moved as the user types, like a hunk's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingInfo {
    pub finding_id: String,
    pub uri: String,
    pub range: Range,
    #[serde(flatten)]
    pub report: FindingReport,
}

/// A place a finding points to besides its own lines (1-based line, as the model said).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelatedLocation {
    pub path: String,
    pub line: u32,
    pub message: String,
}

/// `agent/dismissFinding`: the finding goes away; a follow-up tells the model, with
/// `reason`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DismissFindingParams {
    pub task_id: String,
    pub finding_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Arguments of `agent.applyFix` (the finding's fix becomes pending hunks of the review
/// task) and `agent.dismissFinding` (code actions on a finding).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingCommandArgs {
    pub task_id: String,
    pub finding_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What `agent.applyFix` did: the hunks the fix became.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyFixResult {
    pub task_id: String,
    pub hunk_ids: Vec<String>,
}

pub const DISMISS_FINDING_METHOD: &str = "agent/dismissFinding";
pub const APPLY_FIX_COMMAND: &str = "agent.applyFix";
pub const DISMISS_FINDING_COMMAND: &str = "agent.dismissFinding";
pub const FIX_CODE_ACTION_KIND: &str = "quickfix.agent.fix";
pub const DISMISS_CODE_ACTION_KIND: &str = "quickfix.agent.dismiss";

/// `data` of a finding's diagnostic (`source: "agentls review"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingDiagnosticData {
    pub task_id: String,
    pub finding_id: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub has_fix: bool,
}

// ----- best-of-N attempts ---------------------------------------------------------------

/// One attempt of a best-of-N task, as a review list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptInfo {
    /// Numbered from 1.
    pub attempt: u32,
    pub status: TaskStatus,
    /// The model's last message (first paragraph), or why the attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Size of what the attempt changed: files, hunks, lines added and removed.
    pub files: usize,
    pub hunks: usize,
    pub added: usize,
    pub removed: usize,
    /// Tokens over the attempt's model turns.
    pub usage: Usage,
    /// The last command the attempt ran (its test or build, usually), so the user sees
    /// which attempts ended green.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_command: Option<LastCommand>,
    /// Where an imported attempt came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<AttemptSource>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastCommand {
    /// As one line (`cargo test -p core`).
    pub command: String,
    pub exit_code: i32,
}

/// The git ref an attempt was pushed to (`agentls exec --push`) and its commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptSource {
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub commit: String,
}

/// Token counts: one model turn's, or summed over several.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.total_tokens += other.total_tokens;
    }
}

/// `agent/chooseAttempt`: makes the attempt's hunks the task's proposal.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChooseAttemptParams {
    pub task_id: String,
    pub attempt: u32,
}

/// `agent/importAttempts`: attempts pushed by `agentls exec --push`, fetched from
/// `remote` (default `origin`) as the attempts of one new task. Either `refs` or
/// `prefix` (every ref of the remote that starts with it).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportAttemptsParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

pub const CHOOSE_ATTEMPT_METHOD: &str = "agent/chooseAttempt";
pub const IMPORT_ATTEMPTS_METHOD: &str = "agent/importAttempts";

// ----- agent/getProposal ----------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Modify,
    Create,
    Delete,
    Rename,
}

/// `uri` narrows the proposal to one file; long proposals come in pages of at most
/// `limit` hunks (default [`DEFAULT_PROPOSAL_PAGE`]), continued with `cursor`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetProposalParams {
    pub task_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// `nextCursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// A best-of-N task's attempt to preview instead of the task's proposal: its hunks as
    /// choosing it now would place them (read-only; their ids cannot be resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
}

pub const DEFAULT_PROPOSAL_PAGE: usize = 5000;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Proposal {
    pub task_id: String,
    pub files: Vec<ProposalFile>,
    /// Present when more follows: pass it as `cursor` to get the next page. A file whose
    /// hunks do not fit continues on the next page (same `uri`, further hunks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Size of the whole proposal (all pages; one file with `uri`).
    #[serde(default)]
    pub total_files: usize,
    #[serde(default)]
    pub total_hunks: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProposalFile {
    pub uri: String,
    pub kind: FileKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_uri: Option<String>,
    /// The editor's version of the document the ranges refer to (absent: not open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_version: Option<i32>,
    pub hunks: Vec<HunkInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HunkInfo {
    pub hunk_id: String,
    /// Where the hunk is in the document's CURRENT text.
    pub range: Range,
    pub old_text: String,
    pub new_text: String,
    pub status: HunkStatus,
    /// Why a hunk is stale or in conflict; for a rejected hunk, the user's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For a stale or conflict hunk: what `range` holds now (the user's side), to show
    /// next to `newText`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_text: Option<String>,
    /// For a conflict with another task: the other task's hunk this one overlaps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflicts_with: Option<HunkRef>,
    /// When the user accepted their own replacement text (`edits`): what the task proposed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposed_text: Option<String>,
}

/// A hunk of some task.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HunkRef {
    pub task_id: String,
    pub hunk_id: String,
}

// ----- agent/resolveHunks, agent.acceptHunks / agent.rejectHunks --------------------------

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolveHunksParams {
    pub task_id: String,
    #[serde(default)]
    pub accept: Vec<String>,
    #[serde(default)]
    pub reject: Vec<String>,
    /// Why the user rejected (all of) `reject`; a follow-up turn shows it to the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Hunks accepted with the user's own text instead of the proposed `newText`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<HunkEdit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HunkEdit {
    pub hunk_id: String,
    pub new_text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolveHunksResult {
    /// True when a `workspace/applyEdit` carrying the accepted hunks was sent to the editor.
    pub applied: bool,
    pub hunks: Vec<HunkState>,
    /// Requested hunks that were neither sent nor written, each with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Refusal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HunkState {
    pub hunk_id: String,
    pub status: HunkStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflicts_with: Option<HunkRef>,
}

// ----- agent/refreshProposal, agent/undoHunks ----------------------------------------------

/// Re-places stale hunks by a 3-way merge of the task's base, its result and the current
/// text. `hunkIds` empty: every stale hunk of the task.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshProposalParams {
    pub task_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hunk_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshProposalResult {
    /// The refreshed hunks: `pending` again (with new ranges), or still `stale`.
    pub hunks: Vec<HunkState>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndoHunksParams {
    pub task_id: String,
    pub hunk_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UndoHunksResult {
    /// True when a `workspace/applyEdit` carrying the inverse edits was sent.
    pub applied: bool,
    pub hunks: Vec<HunkState>,
    /// Hunks that could not be undone, each with what changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Refusal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    pub hunk_id: String,
    pub reason: String,
}

/// Arguments of the `agent.acceptHunks` / `agent.rejectHunks` / `agent.undoHunks`
/// commands (code actions). With `uri` and no `hunkIds`: every hunk of the task in that
/// file that the command applies to, as of when it runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HunkCommandArgs {
    pub task_id: String,
    #[serde(default)]
    pub hunk_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

pub const ACCEPT_HUNKS_COMMAND: &str = "agent.acceptHunks";
pub const REJECT_HUNKS_COMMAND: &str = "agent.rejectHunks";
pub const UNDO_HUNKS_COMMAND: &str = "agent.undoHunks";
pub const ACCEPT_CODE_ACTION_KIND: &str = "source.agent.accept";
pub const REJECT_CODE_ACTION_KIND: &str = "source.agent.reject";
pub const UNDO_CODE_ACTION_KIND: &str = "source.agent.undo";
pub const REFRESH_CODE_ACTION_KIND: &str = "source.agent.refresh";

// ----- commands any LSP client can send (workspace/executeCommand) -------------------------

/// `agent.startTask`: [`StartTaskCommandArgs`], or a plain string (the prompt).
pub const START_TASK_COMMAND: &str = "agent.startTask";
/// `agent.cancelTask`: [`TaskCommandArgs`] (`revert` as in `agent/cancelTask`).
pub const CANCEL_TASK_COMMAND: &str = "agent.cancelTask";
/// `agent.followUp`: [`FollowUpCommandArgs`], or a plain string (the prompt, for the
/// latest task).
pub const FOLLOW_UP_COMMAND: &str = "agent.followUp";
/// `agent.importDiff`: [`ImportDiffParams`].
pub const IMPORT_DIFF_COMMAND: &str = "agent.importDiff";
/// `agent.refreshProposal`: [`RefreshCommandArgs`].
pub const REFRESH_PROPOSAL_COMMAND: &str = "agent.refreshProposal";
/// `agent.showProposal`: [`TaskCommandArgs`]; answers [`ShowProposalResult`].
pub const SHOW_PROPOSAL_COMMAND: &str = "agent.showProposal";
/// `agent.chooseAttempt`: [`ChooseAttemptCommandArgs`], or a plain number (the attempt,
/// of the latest best-of-N task); answers [`ChooseAttemptCommandResult`].
pub const CHOOSE_ATTEMPT_COMMAND: &str = "agent.chooseAttempt";

/// `agent.startTask`'s argument: `agent/startTask`'s params (every field, `agent`
/// included), plus where the user is: with `uri` and `range` the selection is context as
/// in `agent/startTask` `context`; with `uri` alone, the file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartTaskCommandArgs {
    #[serde(flatten)]
    pub params: StartTaskParams,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<Range>,
}

/// The task a command is about. `taskId` may be left out: the latest task (for
/// `agent.cancelTask`, the latest one still running), so that a user typing the command
/// need not know ids.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskCommandArgs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// `agent.cancelTask` only: drop the partial proposal too.
    #[serde(default)]
    pub revert: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FollowUpCommandArgs {
    /// Default: the latest task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    pub prompt: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshCommandArgs {
    /// Default: the latest task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Empty: every stale hunk of the task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hunk_ids: Vec<String>,
}

/// `agent.chooseAttempt`'s argument. Without `attempt` nothing is chosen: the attempts
/// are listed (in the answer and in a `window/showMessage`), so that a user who can only
/// type commands sees what there is to choose from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChooseAttemptCommandArgs {
    /// Default: the latest best-of-N task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
}

/// What `agent.chooseAttempt` answers: the task's attempts as `agent/getTask` lists them,
/// and the chosen one (the one just chosen, when the command chose).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChooseAttemptCommandResult {
    pub task_id: String,
    pub attempts: Vec<AttemptInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen_attempt: Option<u32>,
}

/// Where `agent.showProposal` wrote the task's proposal (a unified diff `git apply`
/// takes), which it asked the editor to open with `window/showDocument`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShowProposalResult {
    pub task_id: String,
    pub uri: String,
    /// Files the diff changes (their undecided hunks whose text is in place).
    pub files: usize,
    /// Hunks left out (decided, stale, or never placed), listed at the top of the file.
    pub left_out: usize,
    /// Whether the editor said it opened the file.
    pub shown: bool,
}

/// `data` of a hunk's diagnostic (`source: "agentls"`): which hunk it is, so a client
/// can offer its code actions without asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HunkDiagnosticData {
    pub task_id: String,
    pub hunk_id: String,
    pub status: HunkStatus,
}

// ----- agent/taskUpdate (server → client notification) ------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskUpdateParams {
    pub task_id: String,
    /// Starts at 1 and increases by one per task.
    pub seq: u64,
    pub update: TaskUpdate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum TaskUpdate {
    Status {
        status: TaskStatus,
    },
    /// Assistant text, streamed.
    Message {
        delta: String,
    },
    Reasoning {
        delta: String,
    },
    ToolCall {
        call_id: String,
        tool: String,
        args: Value,
        status: ToolCallStatus,
        /// What the call does, for a person, when its agent says so (an ACP agent's
        /// title, e.g. `Edit src/lib.rs`); `tool` is then the ACP tool kind.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
    },
    ToolResult {
        call_id: String,
        ok: bool,
        /// Truncated to a few KiB for display; the model got the whole output.
        output: String,
        /// A `shell` call's exit code, when its command ran and exited on its own (not
        /// for a timeout, a cancel, or a command that could not start).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
    },
    Plan {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        explanation: Option<String>,
        plan: Vec<PlanItem>,
    },
    /// Size of the proposal so far.
    Proposal {
        files: usize,
        hunks: usize,
    },
    /// A review's findings were installed (shown as diagnostics): how many.
    Findings {
        findings: usize,
    },
    /// The user dismissed a finding.
    FindingDismissed {
        finding_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Hunks whose status changed without the client asking (stale after typing,
    /// an accept confirmed or refused by the editor).
    Hunks {
        hunks: Vec<HunkState>,
    },
    /// Hunks accepted together took effect (the editor applied them, or the server wrote
    /// them): the task's history of decisions, numbered from 1. `agent/undoHunks` takes
    /// them back.
    Accepted {
        batch: u32,
        hunk_ids: Vec<String>,
    },
    /// Accepted hunks taken back by `agent/undoHunks`; they are pending again.
    Undone {
        hunk_ids: Vec<String>,
    },
    /// One model turn's token counts, as the provider reported them.
    Usage {
        /// The turn, numbered from 1 over the task's whole life (follow-ups continue it).
        #[serde(default)]
        turn: u32,
        input_tokens: u64,
        output_tokens: u64,
        total_tokens: u64,
        /// Tokens the model's context holds at most, when the agent says (ACP agents
        /// report the context: `inputTokens` is then what it holds now).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context_window: Option<u64>,
    },
    Error {
        message: String,
        will_retry: bool,
    },
    Finished {
        status: TaskStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        summary: Option<String>,
    },
    /// The conversation was compacted: the model summarised it and it continues from the
    /// summary and the user's messages.
    Compacted {
        /// The last request's input tokens (reported, or estimated) that set it off;
        /// absent when the user asked for it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        input_tokens_before: Option<u64>,
        estimated_tokens_after: u64,
    },
    /// A follow-up run starts: what the user asked (so a client that reconnects, or a
    /// later server, can show where each run began).
    FollowUp {
        prompt: String,
    },
    /// Something the task goes on without, e.g. an MCP server that did not start.
    Warning {
        message: String,
    },
    /// An ACP agent's session for the task started (`resumed`: an earlier session of the
    /// task, loaded again after its process had exited).
    AgentSession {
        /// The `[agents.<name>]` name.
        agent: String,
        session_id: String,
        /// What the agent says it is (`agentInfo`: title or name, and version).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_info: Option<String>,
        #[serde(default)]
        resumed: bool,
    },
    /// The task's directory for commands was created: how, and where.
    View {
        strategy: ViewStrategy,
        path: String,
    },
    /// An attempt of a best-of-N task changed: it started, finished, ran a command or
    /// changed more files.
    Attempt(AttemptInfo),
    /// An attempt's hunks became the task's proposal: chosen by the user, or by
    /// `choose: "firstGreen"` (`automatic`).
    AttemptChosen {
        attempt: u32,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        automatic: bool,
    },
}

/// How a task's view became a real directory (docs/architecture.md compares them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ViewStrategy {
    /// An overlay over the workspace, mounted in a user namespace: costs nothing up front.
    Overlay,
    /// A copy of the workspace (reflinked where the filesystem can).
    Copy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolCallStatus {
    Running,
    Completed,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanItem {
    pub step: String,
    pub status: PlanStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    Pending,
    InProgress,
    Completed,
}

pub const TASK_UPDATE_NOTIFICATION: &str = "agent/taskUpdate";

// ----- agent/requestApproval (server -> client) ----------------------------------------

pub const REQUEST_APPROVAL_METHOD: &str = "agent/requestApproval";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalKind {
    /// Run a command (outside the sandbox when `reason` says so).
    Command,
    /// Apply a patch to the task's view; `diff` carries it.
    Patch,
    /// Run a command with network access.
    Network,
    /// Call an MCP server's tool; `server`, `tool` and `arguments` say which and how.
    Mcp,
    /// Another tool of an ACP agent's own (neither a command, an edit nor a fetch);
    /// `reason` carries the agent's name and its title for the call.
    Tool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequestParams {
    pub task_id: String,
    pub call_id: String,
    pub kind: ApprovalKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// For a patch: the patch as the model wrote it (`*** Begin Patch` format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For an MCP tool call: the server's name as configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// For an MCP tool call: the tool's name as the server calls it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// For an MCP tool call: the arguments the model sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    /// For an attempt of a best-of-N task: which one asks (`taskId` is the task's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ApprovalDecision {
    Allow,
    /// Allow, and do not ask again for the same thing in this task.
    AllowForTask,
    Deny,
    Cancel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalResult {
    pub decision: ApprovalDecision,
}

// ----- agent/listAgents -------------------------------------------------------------------

pub const LIST_AGENTS_METHOD: &str = "agent/listAgents";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListAgentsResult {
    /// The built-in agent first, then the configured ones by name.
    pub agents: Vec<AgentInfo>,
}

/// An agent `agent/startTask {agent}` can name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The built-in agent loop, not an ACP agent.
    #[serde(default)]
    pub built_in: bool,
    /// An ACP agent's program and arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Why a task with this agent would fail now (its table names no program, the
    /// program is not installed), without starting it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

// ----- agent/listMcpServers ---------------------------------------------------------------

pub const LIST_MCP_SERVERS_METHOD: &str = "agent/listMcpServers";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListMcpServersResult {
    pub servers: Vec<McpServerInfo>,
}

/// A configured MCP server as the workspace sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct McpServerInfo {
    pub name: String,
    pub status: McpServerStatus,
    /// Why it failed (or is disabled by a bad table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `stdio` or `http`.
    pub transport: String,
    /// `none` (one shared instance) or `task` (one per task, in its view).
    pub sandbox: McpSandbox,
    /// The tools offered to the model (after `enabled_tools` / `disabled_tools`).
    pub tools: Vec<McpToolInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum McpServerStatus {
    Starting,
    Ready,
    Failed,
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct McpToolInfo {
    /// The server's name for the tool.
    pub name: String,
    /// What the model calls it: `mcp__<server>__<tool>`, sanitised.
    pub model_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

/// Where a stdio server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum McpSandbox {
    /// One instance for the workspace, unconfined (as in Codex).
    #[default]
    None,
    /// One instance per task, in the task's view, under the task's sandbox: what it
    /// writes becomes hunks.
    Task,
}
