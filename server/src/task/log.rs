//! The task log's format: `$AGENTLS_HOME/tasks/<taskId>.jsonl`, one JSON event per line,
//! appended as things happen and never rewritten.
//!
//! docs/task-log.md is the contract (add fields, never rename). A log holds everything
//! needed to bring a task back after a restart and to replay it:
//! - the [`Header`] (first line): how the task was started, where, and the unsaved
//!   buffers it saw;
//! - per run (the first, then one per follow-up): a [`RunStart`], the user's message,
//!   every model [`Response`] as assembled, every tool output, approval and the view's
//!   [`Changes`](Event::Changes) so far;
//! - every proposal checkpoint ([`ProposalCheckpoint`]: hunk positions in a stated text)
//!   and every decision after it ([`Decision`]), which together rebuild the review;
//! - every task update the client was sent, for `agent/getTask` after a restart.
//!
//! Whole texts (bases, the text positions refer to, buffers) are [`BlobText`]s: the log
//! names them by hash and `blobs/` holds each once.
//!
//! Reading never fails on content: a line that does not parse — in practice only the last
//! one, torn by a crash mid-write — is skipped with a warning, and the intact prefix is
//! what loads.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::blobs::BlobText;
use crate::model::{Item, ToolCall, Usage};
use crate::proposal::Hunk;
use crate::protocol::{
    ApprovalDecision, ApprovalKind, AttemptInfo, FileKind, HunkEdit, HunkRef, HunkStatus,
    StartTaskParams, TaskMode, TaskUpdate,
};

/// Written in every header; a reader refuses logs of a newer major format.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[allow(
    clippy::large_enum_variant,
    reason = "a header is one event per task, not worth a box at every use"
)]
pub enum Event {
    Header(Header),
    /// A run begins: the first one, or a follow-up.
    Run(RunStart),
    /// The user's message as the model got it (the prompt with its context, or the
    /// follow-up message with the review so far).
    User {
        text: String,
    },
    Response(Response),
    /// What a tool call returned to the model, in full.
    ToolOutput {
        call_id: String,
        ok: bool,
        output: String,
        /// Images an MCP tool returned.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        images: Vec<crate::model::ToolImage>,
    },
    Approval {
        call_id: String,
        kind: ApprovalKind,
        decision: ApprovalDecision,
    },
    /// Everything the current run changed in its view so far (the latest wins): what an
    /// interrupted run had done when the server died.
    Changes {
        files: Vec<ChangeRecord>,
    },
    Proposal(ProposalCheckpoint),
    Decision(Decision),
    Compacted(Compaction),
    /// An attempt of a best-of-N task ended, or an attempt pushed from elsewhere was
    /// placed (`agent/importAttempts`): everything needed to list, preview, choose and
    /// follow it up after a restart. A later record of the same attempt replaces it.
    Attempt(AttemptRecord),
    /// An attempt's hunks became the task's proposal (its checkpoint comes before this);
    /// from here on the task's conversation is that attempt's.
    AttemptChosen {
        at: u64,
        attempt: u32,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        automatic: bool,
    },
    /// A review finding was installed: where (char offsets into `text`, the file as the
    /// model read it) and what.
    Finding(FindingRecord),
    /// The user dismissed a finding.
    FindingDismissed {
        at: u64,
        finding_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// What an ACP turn put in the editor (or on disk) at its end, file by file: `base`,
    /// what the task started from; `new`, what was written. The next prompt reads these
    /// back to tell the model what the user kept, also after a restart. The latest wins.
    WrittenBack {
        at: u64,
        files: Vec<ChangeRecord>,
    },
    /// A task update as the client got it.
    Update {
        at: u64,
        seq: u64,
        update: TaskUpdate,
    },
    /// An event of a later format version: skipped.
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    pub version: u32,
    pub task_id: String,
    pub kind: TaskKind,
    pub prompt: String,
    pub mode: TaskMode,
    /// How the task was started (absent for an import).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<StartTaskParams>,
    /// The workspace root, absolute.
    pub root: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: u64,
    /// The unsaved editor buffers in the task's snapshot (path → text).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub buffers: BTreeMap<String, BlobText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<ForkOrigin>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingRecord {
    pub at: u64,
    pub id: String,
    pub path: String,
    pub start: usize,
    pub end: usize,
    /// The text `start..end` refer to.
    pub text: BlobText,
    #[serde(flatten)]
    pub report: crate::proposal::findings::FindingReport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// The built-in agent loop.
    Agent,
    /// A diff made elsewhere (`agent/importDiff`).
    Import,
}

/// The log records a fork's origin as the protocol shows it.
pub use crate::protocol::ForkOrigin;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunStart {
    pub at: u64,
    /// 1 for the first run, +1 per follow-up.
    pub run: u32,
    /// The model and provider ids this run used (never keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The ACP agent (`[agents.<name>]`) that ran it instead of the built-in loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The follow-up's request, for a follow-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<String>,
    /// The texts a follow-up's view started from, over the workspace (the pending hunks
    /// applied; None: deleted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub start_files: Vec<FileText>,
    /// A review's change as the diff it was shown, which `report_finding` checked
    /// findings against (and `agentls replay` checks them against again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewed: Option<BlobText>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileText {
    pub path: String,
    pub text: Option<BlobText>,
}

/// One model turn as assembled from the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// 1-based, counted over the whole task.
    pub turn: u32,
    #[serde(default)]
    pub text: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reasoning: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCallRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolCallRecord {
    pub call_id: String,
    pub name: String,
    /// The arguments' JSON text as the model sent it.
    pub arguments: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRecord {
    pub path: String,
    /// None: the file did not exist.
    pub base: Option<BlobText>,
    /// None: the task deleted it.
    pub new: Option<BlobText>,
}

/// One attempt as it ended: how it is listed, what it changed (per file, its text
/// before and after, plus what could not be placed of an imported one), and its
/// conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptRecord {
    pub at: u64,
    #[serde(flatten)]
    pub info: AttemptInfo,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ChangeRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<ConflictRecord>,
    /// The attempt's conversation, as the model saw it (none for an imported one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemRecord>,
    /// Its model turns.
    #[serde(default)]
    pub turns: u32,
}

/// A change of an imported attempt that could not be placed: char offsets in the base
/// text of its file's [`ChangeRecord`], and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConflictRecord {
    pub path: String,
    pub start: usize,
    pub end: usize,
    pub old_text: String,
    pub new_text: String,
    pub reason: String,
}

/// The task's hunks as they stood, positioned in a stated text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProposalCheckpoint {
    pub at: u64,
    /// True: these files are the whole proposal (a file not listed has none). False: they
    /// replace only the same files of the previous checkpoint.
    pub full: bool,
    /// The number of the task's last hunk id so far (`<taskId>-<n>`).
    pub next_hunk: u64,
    pub files: Vec<FileCheckpoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileCheckpoint {
    pub path: String,
    pub kind: FileKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_path: Option<String>,
    /// The file's text that `start`/`end` of the hunks refer to (char offsets).
    pub text: BlobText,
    /// The texts hunks were computed against, by `baseGen`.
    pub bases: Vec<BlobText>,
    pub hunks: Vec<HunkRecord>,
}

/// A hunk with its settled status: one whose accept or undo is still on its way to the
/// editor is recorded as it was before (its text has not changed yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HunkRecord {
    pub id: String,
    pub start: usize,
    pub end: usize,
    pub base_start: usize,
    pub base_end: usize,
    #[serde(default)]
    pub base_gen: usize,
    pub old_text: String,
    pub new_text: String,
    pub status: HunkStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposed_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflicts_with: Option<HunkRef>,
    /// False for an imported change that could not be placed.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub placed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub at: u64,
    pub action: DecisionAction,
    pub hunk_ids: Vec<String>,
    /// A rejection's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Hunks accepted with the user's own text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<HunkEdit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionAction {
    /// Took effect (the editor applied it, or the server wrote it).
    Accept,
    Reject,
    /// Took effect: the hunks are pending again.
    Undo,
    /// Stale hunks re-placed; a partial checkpoint of their files follows.
    Refresh,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Compaction {
    pub at: u64,
    pub summary: String,
    /// The conversation that replaced the old one.
    pub items: Vec<ItemRecord>,
    /// What the last request before compacting used (or was estimated to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
}

/// A conversation entry as the log stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "role",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ItemRecord {
    User {
        text: String,
    },
    Assistant {
        text: String,
    },
    ToolCall {
        call_id: String,
        name: String,
        arguments: String,
    },
    ToolOutput {
        call_id: String,
        output: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        images: Vec<crate::model::ToolImage>,
    },
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

impl From<&ToolCall> for ToolCallRecord {
    fn from(call: &ToolCall) -> Self {
        ToolCallRecord {
            call_id: call.call_id.clone(),
            name: call.name.clone(),
            arguments: call.arguments.clone(),
        }
    }
}

impl From<ToolCallRecord> for ToolCall {
    fn from(call: ToolCallRecord) -> Self {
        ToolCall {
            call_id: call.call_id,
            name: call.name,
            arguments: call.arguments,
        }
    }
}

impl From<&Item> for ItemRecord {
    fn from(item: &Item) -> Self {
        match item {
            Item::User(text) => ItemRecord::User { text: text.clone() },
            Item::Assistant(text) => ItemRecord::Assistant { text: text.clone() },
            Item::ToolCall(call) => ItemRecord::ToolCall {
                call_id: call.call_id.clone(),
                name: call.name.clone(),
                arguments: call.arguments.clone(),
            },
            Item::ToolOutput {
                call_id,
                output,
                images,
            } => ItemRecord::ToolOutput {
                call_id: call_id.clone(),
                output: output.clone(),
                images: images.clone(),
            },
        }
    }
}

impl From<ItemRecord> for Item {
    fn from(item: ItemRecord) -> Self {
        match item {
            ItemRecord::User { text } => Item::User(text),
            ItemRecord::Assistant { text } => Item::Assistant(text),
            ItemRecord::ToolCall {
                call_id,
                name,
                arguments,
            } => Item::ToolCall(ToolCall {
                call_id,
                name,
                arguments,
            }),
            ItemRecord::ToolOutput {
                call_id,
                output,
                images,
            } => Item::ToolOutput {
                call_id,
                output,
                images,
            },
        }
    }
}

impl From<&Hunk> for HunkRecord {
    fn from(h: &Hunk) -> Self {
        HunkRecord {
            id: h.id.clone(),
            start: h.start,
            end: h.end,
            base_start: h.base_start,
            base_end: h.base_end,
            base_gen: h.base_gen,
            old_text: h.old_text.clone(),
            new_text: h.new_text.clone(),
            status: h.status,
            reason: h.reason.clone(),
            proposed_text: h.proposed_text.clone(),
            conflicts_with: h.conflicts_with.clone(),
            placed: h.placed,
        }
    }
}

impl From<HunkRecord> for Hunk {
    fn from(h: HunkRecord) -> Self {
        Hunk {
            id: h.id,
            start: h.start,
            end: h.end,
            base_start: h.base_start,
            base_end: h.base_end,
            base_gen: h.base_gen,
            old_text: h.old_text,
            new_text: h.new_text,
            status: h.status,
            reason: h.reason,
            proposed_text: h.proposed_text,
            conflicts_with: h.conflicts_with,
            placed: h.placed,
        }
    }
}

impl Event {
    /// The texts this event names by hash, for the writer to store first.
    pub fn blobs(&self) -> Vec<&BlobText> {
        match self {
            Event::Header(header) => header.buffers.values().collect(),
            Event::Run(run) => run
                .start_files
                .iter()
                .filter_map(|f| f.text.as_ref())
                .chain(&run.reviewed)
                .collect(),
            Event::Changes { files }
            | Event::WrittenBack { files, .. }
            | Event::Attempt(AttemptRecord { changes: files, .. }) => files
                .iter()
                .flat_map(|f| f.base.iter().chain(f.new.iter()))
                .collect(),
            Event::Proposal(checkpoint) => checkpoint
                .files
                .iter()
                .flat_map(|f| std::iter::once(&f.text).chain(&f.bases))
                .collect(),
            Event::Finding(finding) => vec![&finding.text],
            _ => Vec::new(),
        }
    }
}

/// One line of the log, newline included.
pub fn encode(event: &Event) -> Vec<u8> {
    let mut line = serde_json::to_vec(event).unwrap_or_else(|error| {
        // Every field is plain data; this would be a bug, not bad input.
        tracing::error!("cannot encode a task log event: {error}");
        b"{\"type\":\"unknown\"}".to_vec()
    });
    line.push(b'\n');
    line
}

/// A log as read back.
#[derive(Debug, Default)]
pub struct ReadLog {
    pub events: Vec<Event>,
    /// Lines skipped, with why (a torn last line, a line of a newer format).
    pub warnings: Vec<String>,
    /// Bytes up to the end of the last complete line: where appending resumes.
    pub intact_len: u64,
}

impl ReadLog {
    pub fn header(&self) -> Option<&Header> {
        match self.events.first() {
            Some(Event::Header(header)) => Some(header),
            _ => None,
        }
    }
}

pub fn read(path: &Path) -> io::Result<ReadLog> {
    let bytes = std::fs::read(path)?;
    Ok(parse(&bytes, &path.display().to_string()))
}

/// The events of `bytes`: every complete line that parses. A last line without its
/// newline is torn (the crash came mid-write) and is skipped like a bad one.
pub fn parse(bytes: &[u8], name: &str) -> ReadLog {
    let mut log = ReadLog::default();
    let mut at = 0;
    for (number, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        let Some(content) = line.strip_suffix(b"\n") else {
            log.warnings.push(format!(
                "{name}: line {} is incomplete (cut off mid-write); skipped",
                number + 1
            ));
            break;
        };
        at += line.len();
        log.intact_len = at as u64;
        if content.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Event>(content) {
            Ok(Event::Unknown) => log.warnings.push(format!(
                "{name}: line {} is an event this version does not know; skipped",
                number + 1
            )),
            Ok(event) => log.events.push(event),
            Err(error) => log.warnings.push(format!(
                "{name}: line {} is not a task log event ({error}); skipped",
                number + 1
            )),
        }
    }
    log
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::TaskStatus;

    fn sample() -> Vec<Event> {
        vec![
            Event::Header(Header {
                version: FORMAT_VERSION,
                task_id: "t1".into(),
                kind: TaskKind::Agent,
                prompt: "fix it".into(),
                mode: TaskMode::Code,
                params: Some(StartTaskParams {
                    prompt: "fix it".into(),
                    ..StartTaskParams::default()
                }),
                root: "/w".into(),
                created_at: 1,
                buffers: BTreeMap::from([("a.txt".into(), BlobText::from_text("unsaved"))]),
                forked_from: None,
            }),
            Event::User {
                text: "fix it ☃".into(),
            },
            Event::Response(Response {
                turn: 1,
                text: "ok".into(),
                reasoning: String::new(),
                tool_calls: vec![ToolCallRecord {
                    call_id: "c1".into(),
                    name: "read_file".into(),
                    arguments: "{\"path\":\"a\"}".into(),
                }],
                usage: Some(Usage {
                    input_tokens: 3,
                    output_tokens: 4,
                    total_tokens: 7,
                }),
            }),
            Event::Update {
                at: 5,
                seq: 1,
                update: TaskUpdate::Status {
                    status: TaskStatus::Running,
                },
            },
            Event::Attempt(AttemptRecord {
                at: 6,
                info: crate::protocol::AttemptInfo {
                    attempt: 2,
                    status: TaskStatus::Completed,
                    summary: Some("done".into()),
                    files: 1,
                    hunks: 1,
                    added: 1,
                    removed: 0,
                    usage: Usage::default(),
                    last_command: Some(crate::protocol::LastCommand {
                        command: "make test".into(),
                        exit_code: 0,
                    }),
                    source: None,
                },
                changes: vec![ChangeRecord {
                    path: "a.txt".into(),
                    base: None,
                    new: Some(BlobText::from_text("new\n")),
                }],
                conflicts: Vec::new(),
                items: vec![ItemRecord::Assistant {
                    text: "done".into(),
                }],
                turns: 1,
            }),
            Event::AttemptChosen {
                at: 7,
                attempt: 2,
                automatic: true,
            },
        ]
    }

    #[test]
    fn events_round_trip_through_lines() {
        let bytes: Vec<u8> = sample().iter().flat_map(encode).collect();
        let log = parse(&bytes, "t1.jsonl");
        assert_eq!(log.events, sample());
        assert!(log.warnings.is_empty(), "{:?}", log.warnings);
        assert_eq!(log.intact_len, bytes.len() as u64);
        assert_eq!(log.header().unwrap().task_id, "t1");
    }

    #[test]
    fn a_torn_last_line_is_skipped_with_a_warning() {
        let bytes: Vec<u8> = sample().iter().flat_map(encode).collect();
        let cut = bytes.len() - 5;
        let log = parse(&bytes[..cut], "t1.jsonl");
        let last = sample().len() - 1;
        assert_eq!(log.events, sample()[..last]);
        assert_eq!(log.warnings.len(), 1);
        assert!(
            log.warnings[0].contains(&format!("line {} is incomplete", last + 1)),
            "{:?}",
            log.warnings
        );
        let intact: usize = sample()[..last].iter().map(|e| encode(e).len()).sum();
        assert_eq!(log.intact_len, intact as u64);
    }

    #[test]
    fn events_of_a_later_version_and_garbage_are_skipped() {
        let mut bytes = encode(&sample()[1]);
        bytes.extend_from_slice(b"{\"type\":\"teleport\",\"to\":\"mars\"}\n");
        bytes.extend_from_slice(b"not json at all\n");
        bytes.extend(encode(&sample()[2]));
        let log = parse(&bytes, "x");
        assert_eq!(log.events, sample()[1..3]);
        assert_eq!(log.warnings.len(), 2, "{:?}", log.warnings);
    }
}

#[cfg(test)]
mod torn_log_props {
    use proptest::prelude::*;

    use super::*;
    use crate::task::journal::{Journal, log_path};

    fn text() -> impl Strategy<Value = String> {
        // Newlines, quotes, backslashes and non-ASCII: what JSON escaping must survive.
        proptest::string::string_regex("[a-z \n\"\\\\é☃{}]{0,40}").unwrap()
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            text().prop_map(|text| Event::User { text }),
            (text(), text()).prop_map(|(call_id, output)| Event::ToolOutput {
                call_id,
                ok: true,
                output,
                images: Vec::new(),
            }),
            (1u32..50, text(), text()).prop_map(|(turn, text, arguments)| {
                Event::Response(Response {
                    turn,
                    text,
                    reasoning: String::new(),
                    tool_calls: vec![ToolCallRecord {
                        call_id: "c".into(),
                        name: "shell".into(),
                        arguments,
                    }],
                    usage: None,
                })
            }),
            (text(), proptest::option::of(text())).prop_map(|(path, new)| Event::Changes {
                files: vec![ChangeRecord {
                    path,
                    base: None,
                    new: new.map(BlobText::from_text),
                }],
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever byte a crash tears the log at, reading it back gives exactly the
        /// events written completely before that byte.
        #[test]
        fn a_log_torn_anywhere_reloads_as_its_intact_prefix(
            events in proptest::collection::vec(event(), 1..30),
            tear in any::<proptest::sample::Index>(),
        ) {
            let home = tempfile::tempdir().unwrap();
            let journal = Journal::open(home.path());
            let task = journal.create("t1", Event::User { text: "header stand-in".into() }).unwrap();
            for event in &events {
                task.record(event.clone());
            }
            journal.flush();
            let path = log_path(journal.dir().unwrap(), "t1");
            let bytes = std::fs::read(&path).unwrap();
            let cut = tear.index(bytes.len() + 1);
            let log = parse(&bytes[..cut], "t1");

            let mut line_ends = Vec::new();
            let mut end = 0;
            for event in std::iter::once(&Event::User { text: "header stand-in".into() }).chain(&events) {
                end += encode(event).len();
                line_ends.push(end);
            }
            let intact = line_ends.iter().filter(|&&e| e <= cut).count();
            let mut expected = vec![Event::User { text: "header stand-in".into() }];
            expected.extend(events.iter().cloned());
            expected.truncate(intact);
            prop_assert_eq!(&log.events, &expected);
            prop_assert_eq!(log.intact_len as usize, if intact == 0 { 0 } else { line_ends[intact - 1] });
            prop_assert_eq!(log.warnings.len(), usize::from(cut != bytes.len() && cut != log.intact_len as usize));
        }
    }
}
