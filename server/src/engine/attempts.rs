//! Best-of-N: several attempts at one prompt, compared and chosen from as one task.
//!
//! A local attempt (`agent/startTask {bestOf}`) is a run of the agent loop like any
//! task's — its own view, sandbox and conversation — on a [`Task`] no registry lists,
//! under its parent's cancellation. It reports through an [`AttemptSink`], which keeps
//! the attempt's row (status, usage, last command, size) and tells the parent's client
//! about it as `attempt` updates. When it ends, what it changed is kept as the
//! attempt's result, not installed: the task's proposal stays empty until an attempt is
//! chosen, and choosing installs that result like a task's own end would — anchored in
//! the live text, conflict-checked against other tasks. Its conversation becomes the
//! task's, so a follow-up continues the chosen attempt.
//!
//! An imported attempt (`agent/importAttempts`) is a commit pushed by `agentls exec
//! --push`, fetched and placed 3-way against the live text like `agent/importDiff`; its
//! row comes from the commit message (`import::attempts`).
//!
//! Each attempt that ends is recorded in the parent's log (`attempt`), and so is each
//! choice (`attemptChosen`): after a restart the rows, the results and the choice are
//! back, and an attempt that was still running is `interrupted`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Semaphore, oneshot};

use super::{Engine, EngineError, Run, summarize};
use crate::agent::Outcome;
use crate::config;
use crate::import::attempts::{self as pushed, Fetched, PushedAttempt, Selection};
use crate::import::review::ReviewFile;
use crate::import::source::Source;
use crate::model::Item;
use crate::proposal::store::{InstallAs, PageError, ProposalPage, ProposalStore};
use crate::proposal::{DIFF_DEADLINE, RawHunk, diff_hunks};
use crate::protocol::{
    ApprovalDecision, ApprovalRequestParams, AttemptInfo, AttemptSource, ChooseAttempt,
    MAX_BEST_OF, StartTaskParams, TaskMode, TaskStatus, TaskUpdate, TaskUpdateParams, Usage,
};
use crate::task::blobs::{BlobText, Blobs};
use crate::task::load::LoadedTask;
use crate::task::log::{self, ChangeRecord, ConflictRecord, Event, ItemRecord, TaskKind};
use crate::task::{ClientSink, ProgressEvent, Task, now_ms};
use crate::tools::shell::CommandWatch;
use crate::workspace::FileChange;

/// Where attempts are pushed when `agent/importAttempts` names no remote.
pub const DEFAULT_REMOTE: &str = "origin";

/// A best-of-N task's attempts: one row each, and what each did once it ended.
pub(super) struct AttemptSet {
    choose: ChooseAttempt,
    state: Mutex<SetState>,
    /// Held while an attempt is being chosen: two choices never interleave.
    choosing: Mutex<()>,
}

#[derive(Default)]
struct SetState {
    slots: Vec<Slot>,
    chosen: Option<u32>,
}

struct Slot {
    info: AttemptInfo,
    /// What the attempt did, once it ended (None while it is queued or runs).
    result: Option<AttemptResult>,
    /// Its last command, from its `shell` calls.
    commands: CommandWatch,
}

#[derive(Clone, Default)]
struct AttemptResult {
    files: Vec<ReviewFile>,
    items: Vec<Item>,
    turns: u32,
}

/// An attempt's row before anything happened.
fn fresh_info(attempt: u32) -> AttemptInfo {
    AttemptInfo {
        attempt,
        status: TaskStatus::Queued,
        summary: None,
        files: 0,
        hunks: 0,
        added: 0,
        removed: 0,
        usage: Usage::default(),
        last_command: None,
        source: None,
    }
}

/// Whether an attempt ended the way `firstGreen` looks for: completed, and its last
/// command exited 0.
fn is_green(info: &AttemptInfo) -> bool {
    info.status == TaskStatus::Completed
        && info.last_command.as_ref().is_some_and(|c| c.exit_code == 0)
}

impl AttemptSet {
    fn new(choose: ChooseAttempt, attempts: u32) -> AttemptSet {
        AttemptSet {
            choose,
            state: Mutex::new(SetState {
                slots: (1..=attempts).map(Slot::new).collect(),
                chosen: None,
            }),
            choosing: Mutex::new(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SetState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every row, in order, and the chosen attempt.
    pub(super) fn infos(&self) -> (Vec<AttemptInfo>, Option<u32>) {
        let state = self.lock();
        (
            state.slots.iter().map(|s| s.info.clone()).collect(),
            state.chosen,
        )
    }

    pub(super) fn chosen(&self) -> Option<u32> {
        self.lock().chosen
    }

    /// Folds one of attempt `number`'s updates into its row; returns the row when the
    /// client should hear about it. Once the attempt has ended its row is final: updates
    /// still on their way from its run change nothing.
    fn observe(&self, number: u32, update: &TaskUpdate) -> Option<AttemptInfo> {
        let mut state = self.lock();
        let slot = state.slot_mut(number)?;
        if slot.result.is_some() {
            return matches!(update, TaskUpdate::Finished { .. }).then(|| slot.info.clone());
        }
        match update {
            TaskUpdate::Status { status } => slot.info.status = *status,
            TaskUpdate::Usage {
                input_tokens,
                output_tokens,
                total_tokens,
                ..
            } => {
                slot.info.usage.add(Usage {
                    input_tokens: *input_tokens,
                    output_tokens: *output_tokens,
                    total_tokens: *total_tokens,
                });
                return None;
            }
            TaskUpdate::ToolCall { .. } => {
                slot.commands.observe(update);
                return None;
            }
            TaskUpdate::ToolResult { .. } => {
                if !slot.commands.observe(update) {
                    return None;
                }
                slot.info.last_command = slot.commands.last.clone();
            }
            TaskUpdate::Proposal { files, hunks } => {
                slot.info.files = *files;
                slot.info.hunks = *hunks;
            }
            _ => return None,
        }
        Some(slot.info.clone())
    }

    /// Attempt `number` ended: its row gets its final status, summary and size, and its
    /// result is kept. Returns the row and the result, for the log.
    fn conclude(
        &self,
        number: u32,
        status: TaskStatus,
        summary: Option<String>,
        result: AttemptResult,
    ) -> Option<(AttemptInfo, AttemptResult)> {
        let mut state = self.lock();
        let slot = state.slot_mut(number)?;
        let size = diffstat(&result.files);
        slot.info.status = status;
        slot.info.summary = summary;
        (
            slot.info.files,
            slot.info.hunks,
            slot.info.added,
            slot.info.removed,
        ) = size;
        slot.result = Some(result.clone());
        Some((slot.info.clone(), result))
    }

    /// The result of an attempt that ended and changed something, or why it cannot be
    /// chosen.
    fn result(&self, task_id: &str, number: u32) -> Result<AttemptResult, EngineError> {
        let state = self.lock();
        let count = state.slots.len();
        let slot = state.slot(number).ok_or_else(|| {
            EngineError::Invalid(format!(
                "task {task_id} has attempts 1 to {count}; there is no attempt {number}"
            ))
        })?;
        let result = slot.result.as_ref().ok_or_else(|| {
            EngineError::Invalid(format!(
                "attempt {number} of task {task_id} is still {}; wait for it to end",
                slot.info.status.name()
            ))
        })?;
        if result.files.is_empty() {
            return Err(EngineError::Invalid(format!(
                "attempt {number} of task {task_id} changed nothing ({}); choose another",
                slot.info.status.name()
            )));
        }
        Ok(result.clone())
    }

    /// For a cancel with `revert`: forgets what every ended attempt changed. Returns the
    /// rows and results that changed, for the log and the client.
    fn drop_changes(&self) -> Vec<(AttemptInfo, AttemptResult)> {
        let mut state = self.lock();
        state
            .slots
            .iter_mut()
            .filter_map(|slot| {
                let result = slot.result.as_mut().filter(|r| !r.files.is_empty())?;
                result.files.clear();
                (
                    slot.info.files,
                    slot.info.hunks,
                    slot.info.added,
                    slot.info.removed,
                ) = (0, 0, 0, 0);
                Some((slot.info.clone(), result.clone()))
            })
            .collect()
    }
}

impl SetState {
    fn slot(&self, number: u32) -> Option<&Slot> {
        self.slots.get((number as usize).checked_sub(1)?)
    }

    fn slot_mut(&mut self, number: u32) -> Option<&mut Slot> {
        self.slots.get_mut((number as usize).checked_sub(1)?)
    }
}

impl Slot {
    fn new(number: u32) -> Slot {
        Slot {
            info: fresh_info(number),
            result: None,
            commands: CommandWatch::default(),
        }
    }
}

/// Files, hunks, lines added and lines removed.
fn diffstat(files: &[ReviewFile]) -> (usize, usize, usize, usize) {
    let lines = |text: &str| text.split_inclusive('\n').count();
    let mut size = (0, 0, 0, 0);
    for (change, conflicts) in files {
        let (base, new) = (change.base.as_deref(), change.new.as_deref());
        let hunks = diff_hunks(base.unwrap_or(""), new.unwrap_or(""), DIFF_DEADLINE);
        if hunks.is_empty() && conflicts.is_empty() && base.is_some() == new.is_some() {
            continue;
        }
        size.0 += 1;
        size.1 += hunks
            .len()
            .max(usize::from(base.is_some() != new.is_some()))
            + conflicts.len();
        size.2 += hunks.iter().map(|h| lines(&h.new_text)).sum::<usize>();
        size.3 += hunks.iter().map(|h| lines(&h.old_text)).sum::<usize>();
    }
    size
}

/// Where an attempt's updates go: into its row, and from there to the parent's client.
/// Approvals are asked in the parent's name, saying which attempt asks.
struct AttemptSink {
    set: Arc<AttemptSet>,
    parent: Arc<Task>,
    number: u32,
    client: Arc<dyn ClientSink>,
}

impl ClientSink for AttemptSink {
    fn task_update(&self, update: &TaskUpdateParams) {
        if let Some(info) = self.set.observe(self.number, &update.update) {
            self.parent.emit(TaskUpdate::Attempt(info));
        }
    }

    /// The parent's status line speaks for its attempts.
    fn progress(&self, _task_id: &str, _event: ProgressEvent) {}

    fn request_approval(
        &self,
        mut request: ApprovalRequestParams,
    ) -> oneshot::Receiver<ApprovalDecision> {
        request.task_id = self.parent.id.clone();
        request.attempt = Some(self.number);
        self.client.request_approval(request)
    }
}

/// Why `agent/startTask {bestOf}` cannot run as asked; None when it can.
pub fn best_of_problem(params: &StartTaskParams) -> Option<String> {
    let n = params.best_of?;
    if !(2..=MAX_BEST_OF).contains(&n) {
        return Some(format!(
            "`bestOf` must be between 2 and {MAX_BEST_OF}; leave it out for a single run"
        ));
    }
    (params.mode == TaskMode::Ask).then(|| {
        "`bestOf` needs `mode: \"code\"`: an `ask` task changes nothing to choose from".into()
    })
}

impl Engine {
    pub(super) fn attempts_of(&self, task_id: &str) -> Option<Arc<AttemptSet>> {
        self.attempt_sets().get(task_id).cloned()
    }

    pub(super) fn attempt_sets(&self) -> MutexGuard<'_, HashMap<String, Arc<AttemptSet>>> {
        self.attempts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A best-of-N task's rows and the chosen attempt (`agent/getTask`); nothing for
    /// other tasks.
    pub fn attempt_infos(&self, task_id: &str) -> (Vec<AttemptInfo>, Option<u32>) {
        self.attempts_of(task_id)
            .map(|set| set.infos())
            .unwrap_or_default()
    }

    /// Starts the attempts of a best-of-N task in the background, at most
    /// `max_parallel_attempts` at once; the task ends when they all have.
    pub(super) fn start_attempts(
        self: &Arc<Self>,
        task: Arc<Task>,
        params: StartTaskParams,
        buffers: HashMap<String, String>,
    ) {
        let count = params.best_of.unwrap_or(1).clamp(1, MAX_BEST_OF);
        let parallel =
            config::load(&self.config_sources(params.profile.as_deref(), params.model.as_deref()))
                .map_or(config::Config::default().max_parallel_attempts, |(c, _)| {
                    c.max_parallel_attempts
                });
        let set = Arc::new(AttemptSet::new(params.choose.unwrap_or_default(), count));
        self.attempt_sets().insert(task.id.clone(), set.clone());
        let permits = Arc::new(Semaphore::new(parallel.max(1)));
        task.set_status(TaskStatus::Running);
        let mut runs = Vec::new();
        for number in 1..=count {
            let sink = Arc::new(AttemptSink {
                set: set.clone(),
                parent: task.clone(),
                number,
                client: self.sink.clone(),
            });
            let attempt = Task::unlisted(
                format!("{}.{number}", task.id),
                task.prompt.clone(),
                task.mode,
                sink,
                task.cancel_token().child_token(),
            );
            let (engine, task, set, permits) =
                (self.clone(), task.clone(), set.clone(), permits.clone());
            let (params, buffers) = (params.clone(), buffers.clone());
            runs.push(self.runs.spawn(async move {
                let cancel = attempt.cancel_token();
                let permit = tokio::select! {
                    permit = permits.acquire_owned() => permit.ok(),
                    () = cancel.cancelled() => None,
                };
                let run = match permit {
                    Some(_permit) => engine.run(&attempt, params, buffers, None).await,
                    None => Run {
                        outcome: Outcome::Cancelled,
                        changes: Vec::new(),
                        findings: Vec::new(),
                        reviewed: false,
                    },
                };
                engine
                    .conclude_attempt(&task, &set, &attempt, number, run)
                    .await;
            }));
        }
        let engine = self.clone();
        self.runs.spawn(async move {
            for run in runs {
                // A panicking attempt is one attempt lost, not the task.
                if let Err(error) = run.await {
                    tracing::error!("an attempt of task {} ended abnormally: {error}", task.id);
                }
            }
            engine.finish_attempts(&task, &set);
        });
    }

    /// Keeps what attempt `number` did as its result, records it, and with `firstGreen`
    /// chooses it if it is the first to end green.
    async fn conclude_attempt(
        &self,
        parent: &Arc<Task>,
        set: &AttemptSet,
        attempt: &Arc<Task>,
        number: u32,
        run: Run,
    ) {
        // Its row has seen every update the run emitted (usage, the last command).
        attempt.settled().await;
        let (status, summary) = match run.outcome {
            Outcome::Completed(message) => (TaskStatus::Completed, Some(summarize(&message))),
            Outcome::Cancelled if parent.status() == TaskStatus::Interrupted => {
                (TaskStatus::Interrupted, None)
            }
            Outcome::Cancelled => (TaskStatus::Cancelled, None),
            Outcome::Failed(message) => (TaskStatus::Failed, Some(message)),
        };
        let files = if parent.revert_on_cancel.load(Ordering::SeqCst) {
            Vec::new()
        } else {
            run.changes.into_iter().map(|c| (c, Vec::new())).collect()
        };
        let result = AttemptResult {
            files,
            items: attempt.history().items,
            turns: attempt.turns(),
        };
        let Some((info, result)) = set.conclude(number, status, summary.clone(), result) else {
            return;
        };
        parent.log(Event::Attempt(record(&info, &result)));
        attempt.finish(status, summary);
        attempt.settled().await;
        let first_green = set.choose == ChooseAttempt::FirstGreen
            && set.chosen().is_none()
            && is_green(&info)
            && !result.files.is_empty();
        if first_green && let Err(error) = self.choose(parent, set, number, true) {
            tracing::warn!(
                "task {}: attempt {number} ended green but cannot be chosen: {error}",
                parent.id
            );
        }
    }

    /// Every attempt has ended: so does the task, saying how they went.
    fn finish_attempts(&self, task: &Arc<Task>, set: &AttemptSet) {
        let (infos, chosen) = set.infos();
        let completed = infos
            .iter()
            .filter(|i| i.status == TaskStatus::Completed)
            .count();
        let green = infos.iter().filter(|i| is_green(i)).count();
        let with_changes = infos.iter().filter(|i| i.files > 0).count();
        let next = match chosen {
            Some(number) => format!("attempt {number} is chosen"),
            None if with_changes > 0 => "choose one to review (agent/chooseAttempt)".to_string(),
            None => "none changed anything".to_string(),
        };
        let summary = format!(
            "{completed} of {} attempts completed, {green} green; {next}",
            infos.len()
        );
        let status = if task.cancel_token().is_cancelled() {
            TaskStatus::Cancelled
        } else if completed > 0 {
            TaskStatus::Completed
        } else {
            task.emit(TaskUpdate::Error {
                message: "every attempt failed; agent/getTask lists why".into(),
                will_retry: false,
            });
            TaskStatus::Failed
        };
        task.finish(status, Some(summary));
    }

    /// `agent/chooseAttempt`: the attempt's hunks become the task's proposal, anchored in
    /// the live text (pending, stale or in conflict with other tasks as any install's),
    /// and its conversation the task's.
    pub fn choose_attempt(&self, task_id: &str, attempt: u32) -> Result<(), EngineError> {
        let task = self.task(task_id)?;
        let set = self.attempts_of(task_id).ok_or_else(|| {
            EngineError::Invalid(format!(
                "task {task_id} has no attempts; start one with `bestOf`, or import some \
                 with agent/importAttempts"
            ))
        })?;
        self.choose(&task, &set, attempt, false).map(|_| ())
    }

    fn choose(
        &self,
        task: &Arc<Task>,
        set: &AttemptSet,
        number: u32,
        automatic: bool,
    ) -> Result<(usize, usize), EngineError> {
        let _choosing = set.choosing.lock().unwrap_or_else(|p| p.into_inner());
        if task.runs() > 1 && !task.status().is_finished() {
            return Err(EngineError::StillRunning(task.id.clone()));
        }
        let result = set.result(&task.id, number)?;
        let accepted = self.store().accepted_count(&task.id);
        if accepted > 0 {
            return Err(EngineError::Invalid(format!(
                "{accepted} hunks of task {}'s proposal are accepted; undo them \
                 (agent/undoHunks) before choosing another attempt",
                task.id
            )));
        }
        if task.status().is_finished() {
            // A choice made after a cancel with `revert` is the user's new decision.
            task.revert_on_cancel.store(false, Ordering::SeqCst);
        }
        let (files, hunks) = self.install(task, result.files, InstallAs::New);
        task.set_conversation(task.history().params, result.items, result.turns);
        task.log(Event::AttemptChosen {
            at: now_ms(),
            attempt: number,
            automatic,
        });
        set.lock().chosen = Some(number);
        task.emit(TaskUpdate::AttemptChosen {
            attempt: number,
            automatic,
        });
        task.emit(TaskUpdate::Proposal { files, hunks });
        Ok((files, hunks))
    }

    /// `agent/getProposal {attempt}`: the attempt's hunks as choosing it now would place
    /// them in the live text, built in a store of their own (so nothing can resolve
    /// them and other tasks do not see them). None: it changed nothing.
    pub fn attempt_page(
        &self,
        task_id: &str,
        number: u32,
        path: Option<&str>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Option<ProposalPage>, EngineError> {
        let set = self.attempts_of(task_id).ok_or_else(|| {
            EngineError::Invalid(format!("task {task_id} has no attempts to preview"))
        })?;
        let files = match set.result(task_id, number) {
            Ok(result) => result.files,
            Err(error) if set.lock().slot(number).is_some() => {
                tracing::debug!("no preview: {error}");
                return Ok(None);
            }
            Err(error) => return Err(error),
        };
        let (encoding, open) = {
            let store = self.store();
            let open: Vec<(String, String, i32)> = files
                .iter()
                .filter_map(|(change, _)| {
                    let (text, version) = store.open_document(&change.path)?;
                    Some((change.path.clone(), text, version))
                })
                .collect();
            (store.encoding(), open)
        };
        let mut preview = ProposalStore::new(self.root.clone(), encoding);
        for (path, text, version) in open {
            preview.open(&path, &text, version);
        }
        preview.install_with_conflicts(task_id, files);
        match preview.view_page(task_id, path, cursor, limit) {
            Ok(page) => Ok(Some(page)),
            Err(PageError::NoProposal { .. }) => Ok(None),
            Err(problem) => Err(EngineError::Invalid(format!(
                "{problem}; pass the `nextCursor` of the previous page, or no cursor to start over"
            ))),
        }
    }

    /// For `agent/cancelTask {revert}`: what the attempts changed is dropped too.
    pub(super) fn revert_attempts(&self, task: &Task) {
        let Some(set) = self.attempts_of(&task.id) else {
            return;
        };
        for (info, result) in set.drop_changes() {
            task.log(Event::Attempt(record(&info, &result)));
            task.emit(TaskUpdate::Attempt(info));
        }
    }

    /// `agent/importAttempts`: a new task whose attempts are the commits `selection`
    /// names on `remote`, fetched, then each placed 3-way against the live text as
    /// `agent/importDiff` places a diff. Returns its id at once.
    pub fn import_attempts(
        self: &Arc<Self>,
        remote: Option<String>,
        selection: Selection,
    ) -> String {
        let remote = remote.unwrap_or_else(|| DEFAULT_REMOTE.to_string());
        let what = match &selection {
            Selection::Refs(refs) => refs.join(", "),
            Selection::Prefix(prefix) => format!("{prefix}*"),
        };
        let task = self.create_task(
            self.tasks.new_id(),
            TaskKind::Import,
            format!("import attempts {what} from {remote}"),
            TaskMode::Code,
            None,
            &HashMap::new(),
            None,
        );
        let set = Arc::new(AttemptSet::new(ChooseAttempt::Manual, 0));
        self.attempt_sets().insert(task.id.clone(), set.clone());
        let engine = self.clone();
        let id = task.id.clone();
        self.runs.spawn(async move {
            task.set_status(TaskStatus::Running);
            let root = engine.root.clone();
            let fetched =
                tokio::task::spawn_blocking(move || pushed::fetch(&root, &remote, &selection))
                    .await
                    .unwrap_or_else(|e| Err(format!("fetching the attempts failed: {e}")));
            let fetched = match fetched {
                Ok(fetched) => fetched,
                Err(message) => {
                    task.emit(TaskUpdate::Error {
                        message: message.clone(),
                        will_retry: false,
                    });
                    task.finish(TaskStatus::Failed, Some(message));
                    return;
                }
            };
            set.lock().slots = (1..=fetched.len() as u32).map(Slot::new).collect();
            for (i, attempt) in fetched.into_iter().enumerate() {
                engine
                    .import_attempt(&task, &set, i as u32 + 1, attempt)
                    .await;
            }
            engine.finish_attempts(&task, &set);
        });
        id
    }

    /// Places one fetched attempt and fills its row from its commit message.
    async fn import_attempt(
        &self,
        task: &Arc<Task>,
        set: &AttemptSet,
        number: u32,
        fetched: Fetched,
    ) {
        let range = format!("{0}^..{0}", fetched.commit);
        let placed = self.place(&Source::GitRef(range)).await;
        let (root, commit) = (self.root.clone(), fetched.commit.clone());
        let message = tokio::task::spawn_blocking(move || pushed::read_message(&root, &commit))
            .await
            .unwrap_or_else(|e| Err(e.to_string()))
            .unwrap_or_default();
        let pushed = PushedAttempt::parse(&message);
        let (status, summary, files) = match placed {
            Ok(placed) => {
                task.emit(TaskUpdate::Message {
                    delta: format!("attempt {number} ({}):\n{}", fetched.git_ref, placed.report),
                });
                for problem in placed.problems {
                    task.emit(TaskUpdate::Warning {
                        message: format!("attempt {number} ({}): {problem}", fetched.git_ref),
                    });
                }
                let status = pushed.status.unwrap_or(TaskStatus::Completed);
                (status, pushed.summary.clone(), placed.files)
            }
            Err(message) => (TaskStatus::Failed, Some(message), Vec::new()),
        };
        {
            let mut state = set.lock();
            if let Some(slot) = state.slot_mut(number) {
                slot.info.usage = pushed.usage;
                slot.info.last_command = pushed.last_command;
                slot.info.source = Some(AttemptSource {
                    git_ref: fetched.git_ref,
                    commit: fetched.commit,
                });
            }
        }
        let result = AttemptResult {
            files,
            ..AttemptResult::default()
        };
        if let Some((info, result)) = set.conclude(number, status, summary, result) {
            task.log(Event::Attempt(record(&info, &result)));
            task.emit(TaskUpdate::Attempt(info));
        }
    }

    /// Brings back the attempts of a task loaded from its log: the rows and results
    /// recorded, and as `interrupted` the attempts that never ended.
    pub(super) fn restore_attempts(&self, task: &Task, loaded: &LoadedTask, blobs: &Blobs) {
        let params = loaded.header.params.as_ref();
        let expected = params.and_then(|p| p.best_of).unwrap_or(0);
        let recorded = loaded
            .attempts
            .iter()
            .map(|a| a.info.attempt)
            .max()
            .unwrap_or(0);
        let count = expected.max(recorded);
        if count == 0 {
            return;
        }
        let choose = params.and_then(|p| p.choose).unwrap_or_default();
        let set = AttemptSet::new(choose, count);
        {
            let mut state = set.lock();
            for slot in &mut state.slots {
                slot.info.status = TaskStatus::Interrupted;
                slot.info.summary =
                    Some("interrupted: agentls stopped before this attempt ended".into());
                slot.result = Some(AttemptResult::default());
            }
            for record in &loaded.attempts {
                let Some(slot) = state.slot_mut(record.info.attempt) else {
                    continue;
                };
                match restored_result(record, blobs) {
                    Ok(result) => {
                        slot.info = record.info.clone();
                        slot.result = Some(result);
                    }
                    Err(error) => tracing::warn!(
                        "task {}: attempt {} cannot be restored: {error}",
                        task.id,
                        record.info.attempt
                    ),
                }
            }
            state.chosen = loaded.chosen_attempt;
        }
        self.attempt_sets().insert(task.id.clone(), Arc::new(set));
    }
}

/// An attempt's log record.
fn record(info: &AttemptInfo, result: &AttemptResult) -> log::AttemptRecord {
    let blob = |text: &Option<String>| text.as_deref().map(BlobText::from_text);
    log::AttemptRecord {
        at: now_ms(),
        info: info.clone(),
        changes: result
            .files
            .iter()
            .map(|(change, _)| ChangeRecord {
                path: change.path.clone(),
                base: blob(&change.base),
                new: blob(&change.new),
            })
            .collect(),
        conflicts: result
            .files
            .iter()
            .flat_map(|(change, conflicts)| {
                conflicts.iter().map(|(hunk, reason)| ConflictRecord {
                    path: change.path.clone(),
                    start: hunk.start,
                    end: hunk.end,
                    old_text: hunk.old_text.clone(),
                    new_text: hunk.new_text.clone(),
                    reason: reason.clone(),
                })
            })
            .collect(),
        items: result.items.iter().map(ItemRecord::from).collect(),
        turns: result.turns,
    }
}

/// An attempt's result from its log record, texts read back.
fn restored_result(record: &log::AttemptRecord, blobs: &Blobs) -> std::io::Result<AttemptResult> {
    let read = |blob: &Option<BlobText>| blob.as_ref().map(|b| blobs.read(b)).transpose();
    let mut files = Vec::with_capacity(record.changes.len());
    for change in &record.changes {
        let conflicts = record
            .conflicts
            .iter()
            .filter(|c| c.path == change.path)
            .map(|c| {
                let hunk = RawHunk {
                    start: c.start,
                    end: c.end,
                    old_text: c.old_text.clone(),
                    new_text: c.new_text.clone(),
                };
                (hunk, c.reason.clone())
            })
            .collect();
        let change = FileChange {
            path: change.path.clone(),
            base: read(&change.base)?,
            new: read(&change.new)?,
        };
        files.push((change, conflicts));
    }
    Ok(AttemptResult {
        files,
        items: record.items.iter().cloned().map(Item::from).collect(),
        turns: record.turns,
    })
}
