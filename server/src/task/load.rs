//! Bringing tasks back from their logs when a server starts for a workspace.
//!
//! [`scan`] finds the workspace's logs (a header names each log's workspace), keeps the
//! newest `task_history_max`, deletes older ones, and locks each kept log so no other
//! server writes to it meanwhile. [`rebuild`] turns one log's events into what the task
//! was: its status (a task that was still queued or running when its server died is
//! `interrupted`), its updates, its conversation, its last proposal checkpoint per file
//! with the decisions made since, and what an interrupted run had changed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::journal::{self, log_path};
use super::log::{
    self, AttemptRecord, ChangeRecord, Decision, Event, FileCheckpoint, FileText, FindingRecord,
    Header, ReadLog,
};
use crate::model::{Item, ToolCall};
use crate::protocol::{TaskStatus, TaskUpdate, TaskUpdateParams};

/// One task as its log left it.
#[derive(Debug)]
pub struct LoadedTask {
    pub header: Header,
    pub status: TaskStatus,
    pub finished_at: Option<u64>,
    pub summary: Option<String>,
    pub events: Vec<TaskUpdateParams>,
    /// The conversation, as the model would see it on a follow-up.
    pub items: Vec<Item>,
    pub runs: u32,
    /// Model turns so far.
    pub turns: u32,
    /// Accept batches so far.
    pub batches: u32,
    pub proposal: Option<LoggedProposal>,
    /// The last run never finished (its server died): what it had changed by then.
    pub unfinished: Option<UnfinishedRun>,
    /// A best-of-N task's attempts that ended (or were imported), by number.
    pub attempts: Vec<AttemptRecord>,
    /// The attempt chosen last.
    pub chosen_attempt: Option<u32>,
    /// A review's findings, in the order reported, with the reason of each dismissed one
    /// (`Some(None)`: dismissed without a reason).
    pub findings: Vec<(FindingRecord, Option<Option<String>>)>,
    /// What the last ACP turn wrote to the editor (`writtenBack`).
    pub written_back: Vec<ChangeRecord>,
    pub warnings: Vec<String>,
}

/// A proposal as its checkpoints and decisions describe it.
#[derive(Debug, Clone, Default)]
pub struct LoggedProposal {
    /// When the task's proposal was first installed: the order between tasks whose hunks
    /// overlap (the earlier one wins).
    pub installed_at: u64,
    pub next_hunk: u64,
    /// Per file: its last checkpoint and the decisions about its hunks since.
    pub files: Vec<(FileCheckpoint, Vec<Decision>)>,
}

#[derive(Debug, Clone)]
pub struct UnfinishedRun {
    pub run: u32,
    pub changes: Vec<ChangeRecord>,
    /// For a follow-up: the texts its view started from.
    pub start_files: Vec<FileText>,
}

/// What [`scan`] found for one workspace.
#[derive(Default)]
pub struct Scan {
    /// Newest first, each with its log, locked and ready to be appended to.
    pub tasks: Vec<(LoadedTask, File)>,
    pub warnings: Vec<String>,
}

/// Loads the tasks of the workspace at `root` from `dir`, newest first, at most `max`;
/// deletes the older logs of that workspace (and blobs only they used). Logs another
/// live server holds are left alone.
pub fn scan(journal: &journal::Journal, root: &Path, max: usize) -> Scan {
    let mut scan = Scan::default();
    let Some(dir) = journal.dir() else {
        return scan;
    };
    let root = root.to_string_lossy();
    let mut mine: Vec<(u64, PathBuf)> = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
            continue;
        }
        match read_header(&path) {
            Some(header) if header.root == root => mine.push((header.created_at, path)),
            _ => {}
        }
    }
    mine.sort_by(|a, b| b.cmp(a));
    let older = if mine.len() > max {
        mine.split_off(max)
    } else {
        Vec::new()
    };
    for (_, path) in mine {
        match open_locked(&path) {
            Ok(Some((log, file))) => {
                let task = rebuild(log);
                scan.warnings.extend(task.warnings.iter().cloned());
                scan.tasks.push((task, file));
            }
            Ok(None) => tracing::info!(
                "{} is open in another agentls server; not loaded here",
                path.display()
            ),
            Err(error) => scan
                .warnings
                .push(format!("cannot load {}: {error}", path.display())),
        }
    }
    for (_, path) in older {
        if let Some(id) = path.file_stem().and_then(|s| s.to_str())
            && let Ok(file) = File::open(&path)
            && journal::try_lock(&file).unwrap_or(false)
        {
            tracing::info!("pruning task {id}: more than task_history_max = {max} tasks");
            journal.remove(id);
        }
    }
    scan
}

/// Opens a log for appending under this server's lock, reads it, and cuts a torn last
/// line so the next event starts on a line of its own. None: another server has it.
fn open_locked(path: &Path) -> std::io::Result<Option<(ReadLog, File)>> {
    let file = OpenOptions::new().read(true).append(true).open(path)?;
    if !journal::try_lock(&file)? {
        return Ok(None);
    }
    let log = log::read(path)?;
    if file.metadata()?.len() != log.intact_len {
        file.set_len(log.intact_len)?;
    }
    Ok(Some((log, file)))
}

/// The header line alone (cheap: a workspace's logs are picked out by it).
pub fn read_header(path: &Path) -> Option<Header> {
    let mut line = String::new();
    BufReader::new(File::open(path).ok()?)
        .read_line(&mut line)
        .ok()?;
    match serde_json::from_str(&line).ok()? {
        Event::Header(header) => Some(header),
        _ => None,
    }
}

/// Reads one task's log (for the CLI); None when there is no such log.
pub fn load_one(dir: &Path, task_id: &str) -> Option<LoadedTask> {
    let log = log::read(&log_path(dir, task_id)).ok()?;
    log.header()?;
    Some(rebuild(log))
}

/// What the task was, from its events.
pub fn rebuild(log: ReadLog) -> LoadedTask {
    let mut events = log.events.into_iter();
    let header = match events.next() {
        Some(Event::Header(header)) => header,
        _ => unreachable!("callers check the header"),
    };
    let mut task = LoadedTask {
        status: TaskStatus::Queued,
        finished_at: None,
        summary: None,
        events: Vec::new(),
        items: Vec::new(),
        runs: 0,
        turns: 0,
        batches: 0,
        proposal: None,
        unfinished: None,
        attempts: Vec::new(),
        chosen_attempt: None,
        findings: Vec::new(),
        written_back: Vec::new(),
        warnings: log.warnings,
        header,
    };
    let mut calls: HashMap<String, ToolCall> = HashMap::new();
    let mut files: BTreeMap<String, (FileCheckpoint, Vec<Decision>)> = BTreeMap::new();
    let mut proposal: Option<LoggedProposal> = None;
    let mut run: Option<UnfinishedRun> = None;
    for event in events {
        match event {
            Event::Header(_) | Event::Unknown | Event::Approval { .. } => {}
            Event::Run(start) => {
                task.runs = task.runs.max(start.run);
                run = Some(UnfinishedRun {
                    run: start.run,
                    changes: Vec::new(),
                    start_files: start.start_files,
                });
            }
            Event::User { text } => task.items.push(Item::User(text)),
            Event::Response(response) => {
                task.turns = task.turns.max(response.turn);
                if !response.text.is_empty() {
                    task.items.push(Item::Assistant(response.text));
                }
                for call in response.tool_calls {
                    calls.insert(call.call_id.clone(), call.into());
                }
            }
            Event::ToolOutput {
                call_id,
                output,
                images,
                ..
            } => {
                // A call whose output never came (the server died mid-tools) stays out:
                // the model would otherwise wait for it.
                if let Some(call) = calls.remove(&call_id) {
                    task.items.push(Item::ToolCall(call));
                    task.items.push(Item::ToolOutput {
                        call_id,
                        output,
                        images,
                    });
                }
            }
            Event::WrittenBack { files, .. } => task.written_back = files,
            Event::Changes { files: changes } => {
                if let Some(run) = &mut run {
                    run.changes = changes;
                }
            }
            Event::Compacted(compaction) => {
                task.items = compaction.items.into_iter().map(Item::from).collect();
            }
            Event::Proposal(checkpoint) => {
                let saved = proposal.get_or_insert_with(|| LoggedProposal {
                    installed_at: checkpoint.at,
                    ..LoggedProposal::default()
                });
                saved.next_hunk = saved.next_hunk.max(checkpoint.next_hunk);
                if checkpoint.full {
                    files.clear();
                }
                for file in checkpoint.files {
                    files.insert(file.path.clone(), (file, Vec::new()));
                }
            }
            Event::Decision(decision) => route_decision(&mut files, decision),
            Event::Attempt(record) => {
                match task
                    .attempts
                    .iter_mut()
                    .find(|a| a.info.attempt == record.info.attempt)
                {
                    Some(known) => *known = record,
                    None => task.attempts.push(record),
                }
            }
            Event::AttemptChosen { attempt, .. } => {
                // The follow-ups that come after continue the chosen attempt's conversation.
                if let Some(record) = task.attempts.iter().find(|a| a.info.attempt == attempt) {
                    task.items = record.items.iter().cloned().map(Item::from).collect();
                    task.turns = task.turns.max(record.turns);
                    task.chosen_attempt = Some(attempt);
                }
            }
            Event::Finding(finding) => task.findings.push((finding, None)),
            Event::FindingDismissed {
                finding_id, reason, ..
            } => {
                if let Some((_, dismissed)) =
                    task.findings.iter_mut().find(|(f, _)| f.id == finding_id)
                {
                    *dismissed = Some(reason);
                }
            }
            Event::Update { at, seq, update } => {
                match &update {
                    TaskUpdate::Status { status } => task.status = *status,
                    TaskUpdate::Finished { status, summary } => {
                        task.status = *status;
                        task.finished_at = Some(at);
                        task.summary = summary.clone();
                        // The run that was going on has ended.
                        run = None;
                    }
                    TaskUpdate::Accepted { batch, .. } => task.batches = task.batches.max(*batch),
                    _ => {}
                }
                task.events.push(TaskUpdateParams {
                    task_id: task.header.task_id.clone(),
                    seq,
                    update,
                });
            }
        }
    }
    if let Some(saved) = &mut proposal {
        saved.files = files.into_values().collect();
    }
    task.proposal = proposal;
    if !task.status.is_finished() {
        task.unfinished = run;
    }
    task
}

/// The events that make up the conversation (runs, user messages, responses, tool
/// outputs, approvals, compactions), up to model turn `at_turn` (None: all): what a fork
/// copies into its own log.
pub fn conversation(events: Vec<Event>, at_turn: Option<u32>) -> Vec<Event> {
    let cut = at_turn.map_or(events.len(), |at| turn_cut(&events, at));
    events
        .into_iter()
        .take(cut)
        .filter(|event| {
            matches!(
                event,
                Event::Run(_)
                    | Event::User { .. }
                    | Event::Response(_)
                    | Event::ToolOutput { .. }
                    | Event::Approval { .. }
                    | Event::Compacted(_)
            )
        })
        .collect()
}

/// The log as it stood right after model turn `at_turn` and its tool calls.
pub fn cut_at_turn(mut log: ReadLog, at_turn: u32) -> ReadLog {
    let cut = turn_cut(&log.events, at_turn);
    log.events.truncate(cut);
    log
}

/// Index of the first event after turn `at` is over: the next response, run, user
/// message or compaction after that turn's response.
fn turn_cut(events: &[Event], at: u32) -> usize {
    let mut seen = false;
    for (i, event) in events.iter().enumerate() {
        match event {
            Event::Response(response) if response.turn > at => return i,
            Event::Response(response) if response.turn == at => seen = true,
            Event::Run(_) | Event::User { .. } | Event::Compacted(_) if seen => return i,
            _ => {}
        }
    }
    events.len()
}

/// Files each decision to the checkpoints holding its hunks (a decision may cover
/// several files).
fn route_decision(
    files: &mut BTreeMap<String, (FileCheckpoint, Vec<Decision>)>,
    decision: Decision,
) {
    for (checkpoint, decisions) in files.values_mut() {
        let mine: Vec<String> = decision
            .hunk_ids
            .iter()
            .filter(|id| checkpoint.hunks.iter().any(|h| &h.id == *id))
            .cloned()
            .collect();
        if mine.is_empty() {
            continue;
        }
        let edits = decision
            .edits
            .iter()
            .filter(|e| mine.contains(&e.hunk_id))
            .cloned()
            .collect();
        decisions.push(Decision {
            hunk_ids: mine,
            edits,
            ..decision.clone()
        });
    }
}

/// The blob hashes a log names (every 64-hex-digit JSON string in it).
pub fn blob_refs(path: &Path) -> Vec<String> {
    let Ok(bytes) = fs::read(path) else {
        return Vec::new();
    };
    let mut refs: Vec<String> = hashes_in(&bytes).collect();
    refs.sort();
    refs.dedup();
    refs
}

/// Every blob hash any log in `dir` names.
pub fn blob_refs_of_dir(dir: &Path) -> HashSet<String> {
    let mut refs = HashSet::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if let Ok(bytes) = fs::read(entry.path()) {
            refs.extend(hashes_in(&bytes));
        }
    }
    refs
}

fn hashes_in(bytes: &[u8]) -> impl Iterator<Item = String> + '_ {
    bytes.windows(66).filter_map(|w| {
        let inner = &w[1..65];
        (w[0] == b'"' && w[65] == b'"' && inner.iter().all(|b| b.is_ascii_hexdigit()))
            .then(|| String::from_utf8_lossy(inner).into_owned())
    })
}
