//! `agentls replay <taskId>`: re-runs a recorded task offline, to reproduce a bug report
//! or to see what changed since (a tool, the workspace, agentls itself).
//!
//! The model's answers come from the task's log — no network, no key — and everything
//! else runs for real: the tools, in a fresh view of the current directory, under the
//! configured sandbox; approvals are answered as they were. Each run of the task (the
//! first, then every follow-up) starts from the texts it started from where the log has
//! them: the unsaved buffers of the task's snapshot, the texts a follow-up's view began
//! with, and the base of every file the run changed. Files the task only read come from
//! the workspace as it is now.
//!
//! The replay matches when every tool call returns what it returned then and each run
//! leaves its files as the recorded run did; the first difference is named (turn, tool,
//! what differed) and the exit status is 1. Either way the proposal the replay produced
//! is printed as a unified diff.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::oneshot;

use crate::agent::{Agent, AgentSetup, Outcome, prompt};
use crate::config::{self, ConfigSources};
use crate::engine::{EngineSettings, home_dir, views_dir};
use crate::json_schema::Schema;
use crate::mcp::McpServers;
use crate::model::replay::{RecordedTurn, Recording};
use crate::model::{Item, Model, TurnOutput};
use crate::plugins::Extensions;
use crate::protocol::{
    ApprovalDecision, ApprovalRequestParams, TaskStatus, TaskUpdate, TaskUpdateParams,
};
use crate::review::ReviewedChange;
use crate::task::blobs::{BlobText, Blobs};
use crate::task::journal::{Journal, log_path};
use crate::task::log::{self, Event, Header, RunStart, TaskKind};
use crate::task::{ClientSink, ProgressEvent, TaskRegistry};
use crate::workspace::{FileChange, TaskView};

pub struct Request {
    pub task_id: String,
    /// JSON lines on stdout instead of the diff.
    pub json: bool,
}

/// How a [`ModelError::RecordingExhausted`] message starts.
const RECORDING_EXHAUSTED: &str = "the recording has no model turn";

/// Exit statuses, as documented in the README.
const MATCHED: u8 = 0;
const DIVERGED: u8 = 1;
const USAGE: u8 = 2;

/// One run of the recorded task, as its events tell it.
#[derive(Default)]
struct RecordedRun {
    start: Option<RunStart>,
    user: Option<String>,
    turns: Vec<RecordedTurn>,
    /// Response turn number of each tool call, by call id.
    call_turns: HashMap<String, (u32, String)>,
    summaries: Vec<String>,
    outputs: Vec<(String, String)>,
    approvals: HashMap<String, ApprovalDecision>,
    /// path → (base when first changed, text last logged).
    changes: BTreeMap<String, (Option<BlobText>, Option<BlobText>)>,
}

/// Where the replay first differed from the recording.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Divergence {
    #[serde(skip_serializing_if = "Option::is_none")]
    turn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_id: Option<String>,
    what: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(turn) = self.turn {
            write!(f, "turn {turn}: ")?;
        }
        if let Some(tool) = &self.tool {
            write!(f, "{tool}: ")?;
        }
        write!(f, "{}", self.what)
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum JsonLine<'a> {
    Update(&'a TaskUpdateParams),
    Replay {
        #[serde(rename = "taskId")]
        task_id: &'a str,
        matched: bool,
        turns: usize,
        #[serde(rename = "toolCalls")]
        tool_calls: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        divergence: Option<&'a Divergence>,
        diff: &'a str,
    },
}

/// Prints what the replayed task does (stderr, or JSON lines) and answers approvals as
/// the recording did.
struct ReplaySink {
    json: bool,
    approvals: Mutex<HashMap<String, ApprovalDecision>>,
}

impl ClientSink for ReplaySink {
    fn task_update(&self, update: &TaskUpdateParams) {
        if self.json {
            print_json(&JsonLine::Update(update));
            return;
        }
        match &update.update {
            TaskUpdate::Message { delta } => eprint!("{delta}"),
            TaskUpdate::ToolCall {
                tool,
                args,
                status: crate::protocol::ToolCallStatus::Running,
                ..
            } => eprintln!("\n[{tool}] {args}"),
            TaskUpdate::Error { message, .. } => eprintln!("[error] {message}"),
            _ => {}
        }
    }

    fn progress(&self, _task_id: &str, _event: ProgressEvent) {}

    fn request_approval(
        &self,
        request: ApprovalRequestParams,
    ) -> oneshot::Receiver<ApprovalDecision> {
        let recorded = lock(&self.approvals).remove(&request.call_id);
        let (answer, receiver) = oneshot::channel();
        let _ = answer.send(recorded.unwrap_or(ApprovalDecision::Deny));
        receiver
    }
}

#[allow(
    clippy::print_stdout,
    reason = "replay prints the proposal it produced, like exec"
)]
pub async fn run(settings: EngineSettings, request: Request) -> ExitCode {
    match replay(settings, &request).await {
        Ok((divergence, summary, diff)) => {
            if !request.json {
                print!("{diff}"); // stdout-ok: replay prints the proposal
            }
            match divergence {
                None => {
                    eprintln!(
                        "replay of {}: {summary}: it matches the recording",
                        request.task_id
                    );
                    ExitCode::from(MATCHED)
                }
                Some(divergence) => {
                    eprintln!(
                        "replay of {}: {summary}: it differs from the recording at {divergence}",
                        request.task_id
                    );
                    ExitCode::from(DIVERGED)
                }
            }
        }
        Err(message) => {
            eprintln!("agentls replay: {message}");
            ExitCode::from(USAGE)
        }
    }
}

async fn replay(
    settings: EngineSettings,
    request: &Request,
) -> Result<(Option<Divergence>, String, String), String> {
    let (Some(dir), Some(blobs)) = (settings.journal.dir(), settings.journal.blobs()) else {
        return Err("task history is off: there is no $AGENTLS_HOME/tasks to replay from".into());
    };
    let id = &request.task_id;
    let recorded = log::read(&log_path(dir, id)).map_err(|error| {
        format!(
            "no recorded task {id} in {} ({error}); `agentls tasks list` shows the recorded ones",
            dir.display()
        )
    })?;
    let Some(header) = recorded.header().cloned() else {
        return Err(format!(
            "the log of task {id} has no header; it cannot be replayed"
        ));
    };
    if header.kind == TaskKind::Import {
        return Err(format!(
            "task {id} imported a diff; there are no model turns to replay"
        ));
    }
    if let Some(agent) = header.params.as_ref().and_then(|p| p.agent.as_deref())
        && agent != config::BUILT_IN_AGENT
    {
        return Err(format!(
            "task {id} ran with the ACP agent `{agent}`, whose model turns agentls does not see; only tasks of the built-in agent can be replayed"
        ));
    }
    let runs = split_runs(recorded.events);
    let root = std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .map_err(|e| format!("cannot find the current directory: {e}"))?;
    let params = header.params.clone().unwrap_or_default();
    let sources = ConfigSources {
        home: &settings.home,
        workspace_root: Some(&root),
        cli_overrides: &settings.cli_overrides,
        init_options: None,
        profile: params.profile.as_deref(),
        model: params.model.as_deref(),
    };
    let (config, warnings) =
        config::load(&sources).map_err(|e| format!("configuration error: {e}"))?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }

    // The replayed task logs to a scratch home of its own, removed at the end: its tool
    // outputs are read back from there and compared.
    let scratch = settings
        .home
        .join("replays")
        .join(format!("{id}-{}", std::process::id()));
    let outcome = replay_runs(
        &settings,
        &config,
        &root,
        &scratch,
        blobs,
        &header,
        &runs,
        request.json,
    )
    .await;
    let _ = std::fs::remove_dir_all(&scratch);
    outcome
}

#[allow(clippy::too_many_arguments)]
async fn replay_runs(
    settings: &EngineSettings,
    config: &config::Config,
    root: &Path,
    scratch: &Path,
    blobs: &Blobs,
    header: &Header,
    runs: &[RecordedRun],
    json: bool,
) -> Result<(Option<Divergence>, String, String), String> {
    let journal = Journal::open(scratch);
    let sink = Arc::new(ReplaySink {
        json,
        approvals: Mutex::new(HashMap::new()),
    });
    let registry = TaskRegistry::default();
    let task_id = registry.new_id();
    let task_journal = journal.create(
        &task_id,
        Event::Header(Header {
            task_id: task_id.clone(),
            ..header.clone()
        }),
    );
    let task = registry.create(
        task_id.clone(),
        header.prompt.clone(),
        header.mode,
        sink.clone(),
        task_journal,
        header.forked_from.clone(),
    );
    let buffers = read_texts(blobs, header.buffers.iter().map(|(p, b)| (p, Some(b))))?
        .into_iter()
        .filter_map(|(path, text)| Some((path, text?)))
        .collect::<HashMap<_, _>>();
    let docs = config::project_docs(config, &settings.home, root)
        .ok()
        .flatten();
    // The plugins and skills the workspace has now, as a task started now would get them.
    let mut config = config.clone();
    let extensions = Extensions::load(
        &mut config,
        &settings.home,
        home_dir().as_deref(),
        root,
        root,
    );
    let config = &config;
    let mcp = McpServers::default();
    // The answer is checked against the task's schema, as it was then.
    let output_schema = header
        .params
        .as_ref()
        .and_then(|p| p.output_schema.clone())
        .map(Schema::new)
        .transpose()
        .map_err(|e| format!("the task's output schema: {e}"))?;
    let mut items: Vec<Item> = Vec::new();
    let mut divergence = None;
    let mut proposal: BTreeMap<String, FileChange> = BTreeMap::new();
    let (mut turns, mut tool_calls) = (0, 0);
    for (number, run) in runs.iter().enumerate() {
        turns += run.turns.len();
        tool_calls += run.outputs.len();
        *lock(&sink.approvals) = run.approvals.clone();
        // The run's snapshot: the task's buffers, then what a follow-up started from, then
        // the base of every file the run changed. A file absent then is deleted in the
        // view (the view's snapshot cannot say "absent").
        let start_files = run.start.iter().flat_map(|s| &s.start_files);
        let mut snapshot = buffers.clone();
        let mut absent = Vec::new();
        let starts = read_texts(blobs, start_files.map(|f| (&f.path, f.text.as_ref())))?;
        let bases = read_texts(
            blobs,
            run.changes.iter().map(|(p, (base, _))| (p, base.as_ref())),
        )?;
        for (path, text) in starts.into_iter().chain(bases) {
            match text {
                Some(text) => {
                    absent.retain(|p| p != &path);
                    snapshot.insert(path, text);
                }
                None => {
                    snapshot.remove(&path);
                    absent.push(path);
                }
            }
        }
        let mut view = TaskView::new(root, snapshot)
            .map_err(|e| format!("cannot open the workspace {}: {e}", root.display()))?;
        for path in absent {
            view.delete(&path);
        }
        let model_name = run
            .start
            .as_ref()
            .and_then(|s| s.model.clone())
            .unwrap_or_else(|| "recorded".into());
        let setup = AgentSetup {
            task: task.clone(),
            model: Model::Recorded(Recording::new(run.turns.clone(), run.summaries.clone())),
            model_name,
            instructions: prompt::instructions(
                header.mode,
                docs.as_deref(),
                &extensions.skills.skills,
                root,
            ),
            view,
            mode: header.mode,
            config,
            views: views_dir(scratch),
            home: home_dir(),
            mcp: &mcp,
            output_schema: output_schema.clone(),
            extensions: &extensions,
            // Findings are checked again against the change the review was shown.
            review: reviewed(blobs, run.start.as_ref())?,
        };
        let mut agent = Agent::start(setup).await?;
        // The recording decides how many turns there are.
        agent.max_turns = run.turns.len().max(1) as u32;
        items.push(Item::User(run.user.clone().unwrap_or_default()));
        task.set_status(TaskStatus::Running);
        let (outcome, next) = agent.run(std::mem::take(&mut items)).await;
        items = next;
        agent.commands.close().await;
        let changes = agent
            .view
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .changes();
        if divergence.is_none() {
            divergence = ended_differently(&outcome, &agent, run)
                .or_else(|| files_differ(number + 1, run, &changes));
        }
        merge(&mut proposal, changes);
        if let Outcome::Failed(_) = outcome
            && divergence.is_some()
        {
            break;
        }
    }
    task.finish(TaskStatus::Completed, None);
    // Every update has gone out before the summary line, which is the last one.
    task.settled().await;
    mcp.stop_all().await;
    journal.flush();
    if let Some(dir) = journal.dir() {
        let replayed = log::read(&log_path(dir, &task_id)).map_err(|e| e.to_string())?;
        let first_output_difference = outputs_differ(runs, &replayed.events);
        // A tool output that differs comes before anything that follows from it.
        if first_output_difference.is_some() {
            divergence = first_output_difference;
        }
    }
    let diff: String = proposal
        .values()
        .map(|c| unified_diff(&c.path, c.base.as_deref(), c.new.as_deref()))
        .collect();
    let summary = format!("{turns} model turns, {tool_calls} tool calls");
    if json {
        print_json(&JsonLine::Replay {
            task_id: &header.task_id,
            matched: divergence.is_none(),
            turns,
            tool_calls,
            divergence: divergence.as_ref(),
            diff: &diff,
        });
    }
    Ok((divergence, summary, diff))
}

/// The recorded events, one entry per run.
fn split_runs(events: Vec<Event>) -> Vec<RecordedRun> {
    let mut runs: Vec<RecordedRun> = Vec::new();
    for event in events {
        if let Event::Run(start) = event {
            runs.push(RecordedRun {
                start: Some(start),
                ..RecordedRun::default()
            });
            continue;
        }
        let Some(run) = runs.last_mut() else {
            continue;
        };
        match event {
            Event::User { text } => run.user = Some(text),
            Event::Response(response) => {
                for call in &response.tool_calls {
                    run.call_turns
                        .insert(call.call_id.clone(), (response.turn, call.name.clone()));
                }
                run.turns.push(RecordedTurn {
                    reasoning: response.reasoning,
                    output: TurnOutput {
                        text: response.text,
                        tool_calls: response.tool_calls.into_iter().map(Into::into).collect(),
                        usage: response.usage,
                    },
                });
            }
            Event::ToolOutput {
                call_id, output, ..
            } => run.outputs.push((call_id, output)),
            Event::Compacted(compaction) => run.summaries.push(compaction.summary),
            Event::Changes { files } => {
                for file in files {
                    let entry = run.changes.entry(file.path).or_insert((file.base, None));
                    entry.1 = file.new;
                }
            }
            Event::Approval {
                call_id, decision, ..
            } => {
                run.approvals.insert(call_id, decision);
            }
            _ => {}
        }
    }
    runs
}

/// The recorded run ran all its turns; the replay should have too.
fn ended_differently(outcome: &Outcome, agent: &Agent, run: &RecordedRun) -> Option<Divergence> {
    let unused = match &agent.model {
        Model::Recorded(recording) => recording.unused(),
        Model::Live(_) => 0,
    };
    let what = match outcome {
        Outcome::Failed(message) if message.starts_with(RECORDING_EXHAUSTED) => {
            format!("the replay went on past the recording's last turn ({message})")
        }
        _ if unused > 0 => {
            format!("the replay ended with {unused} recorded model turn(s) left over ({outcome:?})")
        }
        _ => return None,
    };
    Some(Divergence {
        turn: Some(run.turns.len() as u32),
        tool: None,
        call_id: None,
        what,
    })
}

/// Whether the run left its files as the recorded one did (compared by hash).
fn files_differ(run: usize, recorded: &RecordedRun, replayed: &[FileChange]) -> Option<Divergence> {
    let replayed: BTreeMap<&str, Option<String>> = replayed
        .iter()
        .map(|c| {
            (
                c.path.as_str(),
                c.new
                    .as_deref()
                    .map(|t| BlobText::from_text(t).hash().to_string()),
            )
        })
        .collect();
    let recorded_files: BTreeMap<&str, Option<String>> = recorded
        .changes
        .iter()
        .map(|(path, (_, new))| (path.as_str(), new.as_ref().map(|b| b.hash().to_string())))
        .collect();
    let paths: std::collections::BTreeSet<&str> = replayed
        .keys()
        .chain(recorded_files.keys())
        .copied()
        .collect();
    for path in paths {
        let (then, now) = (recorded_files.get(path), replayed.get(path));
        if then != now {
            let what = match (then, now) {
                (None, _) => format!("run {run} changed {path}, which the recorded run left alone"),
                (_, None) => format!("run {run} left {path} alone, which the recorded run changed"),
                (Some(None), _) => format!("run {run} kept {path}, which the recorded run deleted"),
                (_, Some(None)) => format!("run {run} deleted {path}, which the recorded run kept"),
                _ => format!("run {run} left {path} with other text than the recorded run"),
            };
            return Some(Divergence {
                turn: None,
                tool: None,
                call_id: None,
                what,
            });
        }
    }
    None
}

/// The first tool output of the replay that is not the recorded one.
fn outputs_differ(runs: &[RecordedRun], replayed: &[Event]) -> Option<Divergence> {
    let recorded = runs.iter().flat_map(|r| r.outputs.iter());
    let replayed = replayed.iter().filter_map(|e| match e {
        Event::ToolOutput {
            call_id, output, ..
        } => Some((call_id, output)),
        _ => None,
    });
    for ((call_id, then), (_, now)) in recorded.zip(replayed) {
        if then == now {
            continue;
        }
        let (turn, tool) = runs
            .iter()
            .find_map(|r| r.call_turns.get(call_id).cloned())
            .map_or((None, None), |(turn, tool)| (Some(turn), Some(tool)));
        return Some(Divergence {
            turn,
            tool,
            call_id: Some(call_id.clone()),
            what: first_difference(then, now),
        });
    }
    None
}

/// Says where two outputs part, line by line.
fn first_difference(then: &str, now: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (then.lines().collect(), now.lines().collect());
    let line = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let show = |lines: &[&str]| {
        lines
            .get(line)
            .map_or("(nothing)".to_string(), |l| format!("{l:?}"))
    };
    format!(
        "the output differs at line {}: recorded {}, replayed {}",
        line + 1,
        show(&a),
        show(&b)
    )
}

/// The change a recorded review run was shown; `None` for a run that did not review.
fn reviewed(
    blobs: &Blobs,
    start: Option<&RunStart>,
) -> Result<Option<Arc<ReviewedChange>>, String> {
    let Some(diff) = start.and_then(|s| s.reviewed.as_ref()) else {
        return Ok(None);
    };
    let diff = blobs
        .read(diff)
        .map_err(|e| format!("the reviewed change: {e}"))?;
    ReviewedChange::new("recorded change".into(), diff).map(|change| Some(Arc::new(change)))
}

fn read_texts<'a>(
    blobs: &Blobs,
    texts: impl Iterator<Item = (&'a String, Option<&'a BlobText>)>,
) -> Result<Vec<(String, Option<String>)>, String> {
    texts
        .map(|(path, blob)| {
            let text = blob
                .map(|b| blobs.read(b))
                .transpose()
                .map_err(|e| format!("{path}: {e}"))?;
            Ok((path.clone(), text))
        })
        .collect()
}

/// Folds a run's changes into the whole replay's: the first base, the last text.
fn merge(all: &mut BTreeMap<String, FileChange>, changes: Vec<FileChange>) {
    for change in changes {
        match all.get_mut(&change.path) {
            Some(known) => known.new = change.new,
            None => {
                all.insert(change.path.clone(), change);
            }
        }
    }
}

/// A git-style unified diff of one file (`/dev/null` for a creation or deletion).
pub fn unified_diff(path: &str, base: Option<&str>, new: Option<&str>) -> String {
    let old_name = base.map_or("/dev/null".to_string(), |_| format!("a/{path}"));
    let new_name = new.map_or("/dev/null".to_string(), |_| format!("b/{path}"));
    let (base, new) = (base.unwrap_or_default(), new.unwrap_or_default());
    if base == new {
        return String::new();
    }
    format!(
        "diff --git a/{path} b/{path}\n{}",
        similar::TextDiff::from_lines(base, new)
            .unified_diff()
            .context_radius(3)
            .missing_newline_hint(true)
            .header(&old_name, &new_name)
    )
}

#[allow(
    clippy::print_stdout,
    reason = "replay --json writes JSON lines on stdout"
)]
fn print_json(line: &JsonLine<'_>) {
    if let Ok(text) = serde_json::to_string(line) {
        println!("{text}"); // stdout-ok: replay --json output
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
