//! Starts, runs and cancels tasks: configuration → model client → isolated view → agent
//! loop → proposal. Shared by the LSP server and `agentls exec`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio_util::task::TaskTracker;

use crate::agent::external::ExternalAgents;
use crate::agent::prompt::{self, ContextSnippet};
use crate::agent::{Agent, AgentSetup, Outcome, compact};
use crate::config::{self, ConfigSources};
use crate::import::{self, review::WorkspaceTree, source::Source};
use crate::json_schema::Schema;
use crate::mcp::{self, McpServers};
use crate::model::Item;
use crate::model::{Model, ModelClient};
use crate::plugins::Extensions;
use crate::proposal::RawHunk;
use crate::proposal::store::{
    DiskReads, EditPlan, FollowUpState, InstallAs, ProposalStore, install_unlocked,
    resolve_unlocked,
};
use crate::protocol::{
    ContextRef, HunkState, McpServerInfo, StartTaskParams, TaskMode, TaskStatus, TaskUpdate,
};
use crate::review::{ReportedFinding, ReviewedChange};
use crate::task::blobs::BlobText;
use crate::task::journal::Journal;
use crate::task::log::{self, TaskKind};
use crate::task::{ClientSink, Task, TaskRegistry};
use crate::uri;
use crate::workspace::materialize;
use crate::workspace::{FileChange, TaskView};
use durable::checkpoint;

mod attempts;
mod durable;
mod findings;
mod hosted;

pub use attempts::{DEFAULT_REMOTE, best_of_problem};

/// How long [`Engine::shutdown`] waits for cancelled runs: longer than a command takes to
/// stop (SIGTERM, then SIGKILL two seconds later) and its output to drain.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(6);

/// Settings fixed for the life of the server.
#[derive(Clone, Default)]
pub struct EngineSettings {
    /// `$AGENTLS_HOME`.
    pub home: PathBuf,
    /// `-c key=value` from the command line.
    pub cli_overrides: Vec<String>,
    /// LSP `initializationOptions`.
    pub init_options: Option<Value>,
    /// Where task logs are written (`$AGENTLS_HOME/tasks`); off in some tests.
    pub journal: Journal,
}

pub struct Engine {
    pub tasks: TaskRegistry,
    /// The workspace's shared MCP servers (started by the first task that needs them).
    mcp: McpServers,
    /// ACP agents waiting for their tasks' follow-ups.
    external: ExternalAgents,
    /// Every task run and import in flight, so that [`Engine::shutdown`] can wait for them.
    runs: TaskTracker,
    store: Arc<Mutex<ProposalStore>>,
    sink: Arc<dyn ClientSink>,
    root: PathBuf,
    settings: EngineSettings,
    /// `task_history_max` when the server started: how many of the workspace's tasks
    /// are kept on disk (0: none, and no logs are written).
    history_max: usize,
    /// The attempts of best-of-N tasks, by task id.
    attempts: Mutex<HashMap<String, Arc<attempts::AttemptSet>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no task `{0}`; agent/listTasks shows the existing ones")]
    UnknownTask(String),
    #[error("task `{0}` is still running; wait for it to finish or cancel it first")]
    StillRunning(String),
    #[error("{0}")]
    Invalid(String),
}

/// A follow-up run: the user's new request and where the task's review stands.
struct FollowUp {
    prompt: String,
    review: FollowUpState,
}

impl Engine {
    pub fn new(
        root: PathBuf,
        store: ProposalStore,
        sink: Arc<dyn ClientSink>,
        settings: EngineSettings,
    ) -> Arc<Self> {
        materialize::sweep_orphans(&views_dir(&settings.home));
        let mut engine = Engine {
            tasks: TaskRegistry::default(),
            mcp: McpServers::default(),
            external: ExternalAgents::default(),
            runs: TaskTracker::new(),
            store: Arc::new(Mutex::new(store)),
            sink,
            root,
            settings,
            history_max: 0,
            attempts: Mutex::default(),
        };
        engine.history_max = match config::load(&engine.config_sources(None, None)) {
            Ok((config, _)) if engine.settings.journal.is_on() => config.task_history_max,
            Ok(_) => 0,
            // The same problem is reported by `check_config` and by every task.
            Err(_) => config::Config::default().task_history_max,
        };
        let engine = Arc::new(engine);
        engine.load_history();
        engine
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The review state; held only for short, synchronous sections.
    pub fn store(&self) -> MutexGuard<'_, ProposalStore> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The configuration the server itself follows (no task's profile or model): whether
    /// hunks show as diagnostics and code lenses. A broken one gives the defaults;
    /// [`Engine::check_config`] reports it.
    pub fn server_config(&self) -> config::Config {
        config::load(&self.config_sources(None, None))
            .map(|(config, _)| config)
            .unwrap_or_default()
    }

    /// Loads configuration the way a task would, to report problems early (at `initialize`).
    pub fn check_config(&self) -> Vec<String> {
        match config::load(&self.config_sources(None, None)) {
            Ok((mut config, mut warnings)) => {
                let home = &self.settings.home;
                let extensions = Extensions::load(
                    &mut config,
                    home,
                    home_dir().as_deref(),
                    &self.root,
                    &self.root,
                );
                warnings.extend(extensions.warnings);
                warnings.extend(mcp::check(&config.mcp_servers, &config::process_env));
                warnings
            }
            Err(error) => vec![error.to_string()],
        }
    }

    /// `agent/listMcpServers`: every configured server, its status and its tools. Shared
    /// servers start if they have not yet; a `sandbox = "task"` one is started read-only in
    /// the workspace for the list and stopped again.
    pub async fn list_mcp_servers(&self) -> Result<Vec<McpServerInfo>, String> {
        let (mut config, _) = config::load(&self.config_sources(None, None))
            .map_err(|e| format!("configuration error: {e}"))?;
        crate::plugins::load(&config, &self.settings.home, &self.root).add_mcp_servers(&mut config);
        Ok(self.mcp.list(&config, &self.root).await)
    }

    /// Creates the task and starts it in the background; returns its id at once.
    pub fn start_task(self: &Arc<Self>, params: StartTaskParams) -> String {
        // The snapshot is taken now, not when the task gets to run: the user's next
        // keystrokes are not part of what they asked about.
        let buffers = self.store().open_buffers();
        self.start_task_seeing(self.tasks.new_id(), params, buffers)
    }

    /// [`Engine::start_task`] with the task's id chosen by the caller (an ACP session's,
    /// from [`TaskRegistry::new_id`]) and the unsaved `buffers` it sees
    /// (workspace-relative path → text) given rather than taken from the open documents.
    pub fn start_task_seeing(
        self: &Arc<Self>,
        id: String,
        params: StartTaskParams,
        buffers: HashMap<String, String>,
    ) -> String {
        let title = match params.mode {
            TaskMode::Review => crate::review::title(&params),
            _ => params.prompt.clone(),
        };
        let task = self.create_task(
            id,
            TaskKind::Agent,
            title,
            params.mode,
            Some(&params),
            &buffers,
            None,
        );
        task.begin_run(Some(params.clone()));
        let id = task.id.clone();
        if params.best_of.is_some_and(|n| n > 1) {
            self.start_attempts(task, params, buffers);
            return id;
        }
        let engine = self.clone();
        self.runs.spawn(async move {
            let outcome = engine.run(&task, params, buffers, None).await;
            engine.conclude(&task, outcome, false);
        });
        id
    }

    /// Runs another turn of a finished task: the model continues its conversation, told
    /// what the user accepted, rejected (and why) and edited, and starts from the current
    /// text with the task's still-pending hunks applied. Its hunks replace the pending ones.
    pub fn follow_up(self: &Arc<Self>, task_id: &str, prompt: String) -> Result<(), EngineError> {
        self.follow_up_with_schema(task_id, prompt, None)
    }

    /// [`Engine::follow_up`], with `output_schema` (when given) in place of the one the
    /// task was started with, for this run only.
    pub fn follow_up_with_schema(
        self: &Arc<Self>,
        task_id: &str,
        prompt: String,
        output_schema: Option<Value>,
    ) -> Result<(), EngineError> {
        let task = self.task(task_id)?;
        if self
            .attempts_of(task_id)
            .is_some_and(|set| set.chosen().is_none())
        {
            return Err(EngineError::Invalid(format!(
                "task {task_id}'s attempts wait for a choice: choose one \
                 (agent/chooseAttempt), then follow up to continue it"
            )));
        }
        let (review, buffers) = {
            let store = self.store();
            (store.follow_up_state(task_id), store.open_buffers())
        };
        let mut params = StartTaskParams {
            prompt: prompt.clone(),
            mode: task.mode,
            // The first request's selections were quoted with it; a follow-up has its own.
            context: Vec::new(),
            ..task.history().params.unwrap_or_default()
        };
        if output_schema.is_some() {
            params.output_schema = output_schema;
        }
        self.follow_up_seeing(&task, params, review, buffers)
    }

    /// A follow-up run of `params` (its prompt, mode and context) from `review` and the
    /// unsaved `buffers` given by the caller: an ACP session tells what the user kept of
    /// the files it wrote, and starts from the text the editor holds now.
    pub fn follow_up_seeing(
        self: &Arc<Self>,
        task: &Arc<Task>,
        params: StartTaskParams,
        review: FollowUpState,
        buffers: HashMap<String, String>,
    ) -> Result<(), EngineError> {
        if !task.restart() {
            return Err(EngineError::StillRunning(task.id.clone()));
        }
        let task = task.clone();
        let prompt = params.prompt.clone();
        task.begin_run(None);
        task.emit(TaskUpdate::FollowUp {
            prompt: prompt.clone(),
        });
        let engine = self.clone();
        self.runs.spawn(async move {
            let follow_up = FollowUp { prompt, review };
            let outcome = engine.run(&task, params, buffers, Some(follow_up)).await;
            engine.conclude(&task, outcome, true);
        });
        Ok(())
    }

    /// Imports a diff made elsewhere as a task whose proposal is the diff placed against
    /// the current text (open buffers included); no model is involved. Returns its id.
    pub fn import_diff(self: &Arc<Self>, source: Source) -> String {
        let task = self.create_task(
            self.tasks.new_id(),
            TaskKind::Import,
            format!("import {}", source.describe()),
            TaskMode::Code,
            None,
            &HashMap::new(),
            None,
        );
        let engine = self.clone();
        let id = task.id.clone();
        self.runs.spawn(async move {
            task.set_status(TaskStatus::Running);
            match engine.import(&task, &source).await {
                Ok(summary) => task.finish(TaskStatus::Completed, Some(summary)),
                Err(message) => {
                    task.emit(TaskUpdate::Error {
                        message: message.clone(),
                        will_retry: false,
                    });
                    task.finish(TaskStatus::Failed, Some(message))
                }
            };
        });
        id
    }

    /// Loads, parses and places the diff, installs the proposal, and reports every file
    /// that could not be imported (binary changes, unreadable files) as an error update.
    async fn import(&self, task: &Arc<Task>, source: &Source) -> Result<String, String> {
        let placed = self.place(source).await?;
        task.emit(TaskUpdate::Message {
            delta: placed.report,
        });
        for problem in &placed.problems {
            task.emit(TaskUpdate::Error {
                message: problem.clone(),
                will_retry: false,
            });
        }
        let (files, hunks) = self.install(task, placed.files, InstallAs::New);
        task.emit(TaskUpdate::Proposal { files, hunks });
        Ok(format!(
            "imported {} from {}: {hunks} hunks in {files} files, {} in conflict, \
             {} files not importable",
            plural(placed.sections, "file section"),
            source.describe(),
            placed.conflicts,
            placed.problems.len()
        ))
    }

    /// Loads and parses the diff of `source` and places it against the current text
    /// (open buffers included), without installing it.
    async fn place(&self, source: &Source) -> Result<Placed, String> {
        let text = import::source::load(source, &self.root).await?;
        let patches = import::parse_diff(&text).map_err(|e| e.to_string())?;
        let tree = WorkspaceTree::new(&self.root, self.store().open_buffers())?;
        // Placement reads the disk and may run git for a 3-way base.
        let (patches, outcomes) = tokio::task::spawn_blocking(move || {
            let outcomes = import::plan::plan(&patches, &tree, true);
            (patches, outcomes)
        })
        .await
        .map_err(|e| format!("placing the diff failed: {e}"))?;
        Ok(Placed {
            report: import::cli::report(&patches, &outcomes),
            problems: outcomes.iter().filter_map(|o| o.problem.clone()).collect(),
            sections: patches.len(),
            conflicts: outcomes.iter().map(|o| o.conflicts.len()).sum(),
            files: import::review::review_files(&outcomes),
        })
    }

    /// Cancels a running task (its model stream is dropped at once). With `revert`, its
    /// proposal is dropped too, now or when the run winds down.
    pub fn cancel(&self, task_id: &str, revert: bool) -> Result<(), EngineError> {
        let task = self.task(task_id)?;
        if revert {
            task.revert_on_cancel.store(true, Ordering::SeqCst);
            // A follow-up's revert drops only what that run would have proposed.
            if task.runs() <= 1 {
                self.update_store(|store| {
                    store.discard(task_id);
                    checkpoint(store, &task, None);
                });
                self.revert_attempts(&task);
            }
        }
        task.cancel_token().cancel();
        Ok(())
    }

    /// For a server going away: ends every task still running as `interrupted` (the next
    /// server can continue it) and cancels its run — which stops its command (the whole
    /// process group, and with it the command's pid namespace), keeps what it changed so
    /// far as its proposal and removes its view — then waits for the runs, at most
    /// [`SHUTDOWN_GRACE`]. What is still running then dies with the process, and a later
    /// start removes its view.
    pub async fn shutdown(&self) {
        for summary in self.tasks.list() {
            if let Some(task) = self.tasks.get(&summary.task_id)
                && task.interrupt()
            {
                task.cancel_token().cancel();
            }
        }
        self.runs.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.runs.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "{} task runs did not stop within {} s; exiting anyway",
                self.runs.len(),
                SHUTDOWN_GRACE.as_secs()
            );
        }
        // What outlives tasks goes last: waiting agents and the shared MCP servers.
        self.external.stop_all().await;
        self.mcp.stop_all().await;
    }

    pub fn task(&self, task_id: &str) -> Result<Arc<Task>, EngineError> {
        self.tasks
            .get(task_id)
            .ok_or_else(|| EngineError::UnknownTask(task_id.to_string()))
    }

    /// Runs `change` on the review state, then tells each task's client about the hunk
    /// statuses it changed as a side effect (stale after typing, conflicts re-evaluated,
    /// confirmations).
    pub fn update_store<R>(&self, change: impl FnOnce(&mut ProposalStore) -> R) -> R {
        let (result, changed) = {
            let mut store = self.store();
            let result = change(&mut store);
            (result, store.take_changed())
        };
        self.notify_hunks(changed);
        result
    }

    /// Installs `changes` as the task's proposal with the store held only briefly (the
    /// diffs run without it: `proposal::store::install_unlocked`), records the checkpoint
    /// in the same section that puts the hunks in, and reports the statuses it changed.
    fn install(
        &self,
        task: &Task,
        changes: Vec<(FileChange, Vec<(RawHunk, String)>)>,
        how: InstallAs,
    ) -> (usize, usize) {
        let (counts, changed) =
            install_unlocked(&self.store, &task.id, changes, how, |store, mut counts| {
                // A revert asked for while the install was prepared still wins (for a
                // first run; a follow-up's revert is decided before it installs).
                if how == InstallAs::New && task.revert_on_cancel.load(Ordering::SeqCst) {
                    store.discard(&task.id);
                    counts = (0, 0);
                }
                checkpoint(store, task, None);
                (counts, store.take_changed())
            });
        self.notify_hunks(changed);
        counts
    }

    /// An accept or undo of `ids` with the store held only to decide and to confirm
    /// (`proposal::store::resolve_unlocked`: files not open in the editor are read and
    /// written without it). `decide` checks what it must and calls `begin_accept_with` or
    /// `begin_undo_with`; an `Err` leaves everything as it was.
    pub fn resolve<E>(
        &self,
        task_id: &str,
        ids: &[String],
        decide: impl FnOnce(&mut ProposalStore, DiskReads) -> Result<EditPlan, E>,
    ) -> Result<EditPlan, E> {
        let (plan, changed) = resolve_unlocked(&self.store, task_id, ids, decide, |store, _| {
            store.take_changed()
        })?;
        self.notify_hunks(changed);
        Ok(plan)
    }

    /// Tells each task's client about hunks whose status changed behind its back.
    pub fn notify_hunks(&self, changed: Vec<(String, HunkState)>) {
        let mut by_task: HashMap<String, Vec<HunkState>> = HashMap::new();
        for (task_id, state) in changed {
            by_task.entry(task_id).or_default().push(state);
        }
        for (task_id, hunks) in by_task {
            if let Some(task) = self.tasks.get(&task_id) {
                task.emit(TaskUpdate::Hunks { hunks });
            }
        }
    }

    async fn run(
        &self,
        task: &Arc<Task>,
        params: StartTaskParams,
        buffers: HashMap<String, String>,
        follow_up: Option<FollowUp>,
    ) -> Run {
        if let Some(agent) = hosted::agent_of(&params)
            && params.mode == TaskMode::Review
        {
            return Run::failed(format!(
                "a review runs on agentls's own agent, not `{agent}`: leave `agent` out"
            ));
        }
        if let Some(agent) = hosted::agent_of(&params) {
            let agent = agent.to_string();
            return self
                .run_hosted(task, params, buffers, follow_up, agent)
                .await;
        }
        let (mut config, provider, model) = match self.model_setup(&params) {
            Ok(setup) => setup,
            Err(message) => return Run::failed(message),
        };
        let output_schema = match params.output_schema.clone().map(Schema::new) {
            None => None,
            Some(Ok(schema)) => {
                for keyword in schema.unchecked() {
                    tracing::warn!(
                        "task {}: the output schema's `{keyword}` is left to the provider; agentls does not check it",
                        task.id
                    );
                }
                Some(schema)
            }
            Some(Err(error)) => {
                return Run::failed(format!("the output schema cannot be used: {error}"));
            }
        };
        // Loaded before the run is logged, which keeps the change replay checks against.
        let review: Result<Option<Arc<ReviewedChange>>, String> =
            match (params.mode, &params.target) {
                (TaskMode::Review, Some(target)) => {
                    let change = crate::review::load(target, &self.root, &buffers).await;
                    change.map(|change| Some(Arc::new(change)))
                }
                (TaskMode::Review, None) => crate::review::check_params(&params).map(|()| None),
                _ => Ok(None),
            };
        task.log(log::Event::Run(log::RunStart {
            model: Some(model.clone()),
            provider: Some(provider.id.clone()),
            reviewed: review
                .iter()
                .flatten()
                .next()
                .map(|change| BlobText::from_text(change.diff.as_str())),
            ..run_start(task, follow_up.as_ref())
        }));
        let review = match review {
            Ok(review) => review,
            Err(message) => return Run::failed(message),
        };
        let client = match ModelClient::new(provider) {
            Ok(client) => client,
            Err(error) => return Run::failed(error.to_string()),
        };
        let view = match self.open_view(buffers, follow_up.as_ref()) {
            Ok(view) => view,
            Err(message) => return Run::failed(message),
        };
        let cwd = self.task_cwd(params.cwd.as_deref());
        let extensions = Extensions::load(
            &mut config,
            &self.settings.home,
            home_dir().as_deref(),
            &self.root,
            &cwd,
        );
        let docs = match config::project_docs(&config, &self.settings.home, &cwd) {
            Ok(docs) => docs,
            Err(error) => {
                tracing::warn!("AGENTS.md discovery failed: {error}");
                None
            }
        };
        let snippets = context_snippets(&self.root, &view, &params.context);
        let cwd_rel = uri::relative(&self.root, &cwd);
        let setup = AgentSetup {
            task: task.clone(),
            model: Model::Live(Box::new(client)),
            model_name: model,
            instructions: prompt::instructions(
                params.mode,
                docs.as_deref(),
                &extensions.skills.skills,
                &self.root,
            ),
            view,
            mode: params.mode,
            config: &config,
            views: views_dir(&self.settings.home),
            home: home_dir(),
            mcp: &self.mcp,
            output_schema,
            extensions: &extensions,
            review: review.clone(),
        };
        for message in config.withheld.iter().chain(&extensions.warnings) {
            task.emit(TaskUpdate::Warning {
                message: message.clone(),
            });
        }
        let mut agent = match Agent::start(setup).await {
            Ok(agent) => agent,
            Err(message) => return Run::failed(message),
        };
        let mut items = task.history().items;
        // A review's first run is told the change; so is a follow-up that turns a task
        // which changed files into a review (an ACP session switched to `review`).
        let review_request = review
            .as_ref()
            .filter(|_| follow_up.is_none() || task.mode != TaskMode::Review);
        let request_message = |prompt: &str, cwd: Option<&str>| match review_request {
            Some(change) => {
                crate::review::user_message(change, params.instructions.as_deref(), prompt)
            }
            None => prompt::user_message(prompt, cwd, &snippets),
        };
        let (message, explicit_skills) = match &follow_up {
            Some(follow_up) => (
                prompt::follow_up_message(
                    &request_message(&follow_up.prompt, None),
                    &follow_up.review,
                ),
                &[][..],
            ),
            None => (
                request_message(&params.prompt, cwd_rel.as_deref()),
                &params.skills[..],
            ),
        };
        let request = follow_up.as_ref().map_or(&params.prompt, |f| &f.prompt);
        let (message, skill_warnings) = prompt::invoke_skills(
            message,
            &extensions.skills,
            explicit_skills,
            request,
            &self.root,
        );
        for message in skill_warnings {
            task.emit(TaskUpdate::Warning { message });
        }
        task.log(log::Event::User {
            text: message.clone(),
        });
        items.push(Item::User(message));
        task.set_status(TaskStatus::Running);
        let (outcome, items) = agent.run(items).await;
        task.keep_conversation(items);
        agent.commands.close().await;
        agent.mcp.close().await;
        let reviewed = review.is_some();
        let changes = match reviewed {
            true => Vec::new(),
            false => agent
                .view
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .changes(),
        };
        let findings =
            std::mem::take(&mut *agent.findings.lock().unwrap_or_else(|p| p.into_inner()));
        Run {
            outcome,
            changes,
            findings,
            reviewed,
        }
    }

    /// The view a run starts from: the workspace with the unsaved `buffers`, and for a
    /// follow-up the task's pending hunks applied.
    fn open_view(
        &self,
        buffers: HashMap<String, String>,
        follow_up: Option<&FollowUp>,
    ) -> Result<TaskView, String> {
        let mut view = TaskView::new(&self.root, buffers).map_err(|error| {
            format!("cannot open the workspace {}: {error}", self.root.display())
        })?;
        for (path, text) in follow_up.iter().flat_map(|f| &f.review.files) {
            match text {
                Some(text) => view.write(path, text.clone()),
                None => view.delete(path),
            }
        }
        Ok(view)
    }

    /// The configuration a run of `params` uses, its provider and model name.
    fn model_setup(
        &self,
        params: &StartTaskParams,
    ) -> Result<(config::Config, config::ProviderInfo, String), String> {
        let sources = self.config_sources(params.profile.as_deref(), params.model.as_deref());
        let (config, warnings) =
            config::load(&sources).map_err(|error| format!("configuration error: {error}"))?;
        for warning in warnings {
            tracing::warn!("{warning}");
        }
        let provider = config
            .provider(&config::process_env)
            .map_err(|e| e.to_string())?;
        let model = config.model_name().map_err(|e| e.to_string())?;
        Ok((config, provider, model))
    }

    /// `agent/compactTask`: a running task compacts before its next model turn; a
    /// finished one now, in the background, so its next follow-up starts small. The
    /// outcome arrives as a `compacted` update (or an `error` one).
    pub fn compact_task(self: &Arc<Self>, task_id: &str) -> Result<(), EngineError> {
        let task = self.task(task_id)?;
        self.built_in_only(&task, "compacted")?;
        if !task.status().is_finished() {
            task.request_compaction();
            return Ok(());
        }
        let history = task.history();
        if history.items.is_empty() {
            return Err(EngineError::Invalid(format!(
                "task {task_id} has no conversation to compact"
            )));
        }
        let engine = self.clone();
        tokio::spawn(async move {
            if let Err(message) = engine.compact_finished(&task, history).await {
                task.emit(TaskUpdate::Error {
                    message: format!("compacting task {} failed: {message}", task.id),
                    will_retry: false,
                });
            }
        });
        Ok(())
    }

    async fn compact_finished(
        &self,
        task: &Arc<Task>,
        history: super::task::History,
    ) -> Result<(), String> {
        let params = history.params.clone().unwrap_or_default();
        let (config, provider, model_name) = self.model_setup(&params)?;
        let model = Model::Live(Box::new(
            ModelClient::new(provider).map_err(|e| e.to_string())?,
        ));
        let docs = config::project_docs(
            &config,
            &self.settings.home,
            &self.task_cwd(params.cwd.as_deref()),
        )
        .ok()
        .flatten();
        let instructions = prompt::instructions(task.mode, docs.as_deref(), &[], &self.root);
        let compacted = compact::compact(
            &model,
            &model_name,
            &instructions,
            &history.items,
            &task.cancel_token(),
        )
        .await
        .map_err(|e| e.to_string())?;
        if task.runs() != history.runs || !task.status().is_finished() {
            return Err(
                "a follow-up started meanwhile; it goes on with the whole conversation".into(),
            );
        }
        let after = compact::estimate_tokens(&instructions, &compacted.items, &[]);
        task.log(log::Event::Compacted(log::Compaction {
            at: crate::task::now_ms(),
            summary: compacted.summary,
            items: compacted.items.iter().map(log::ItemRecord::from).collect(),
            input_tokens: None,
        }));
        task.keep_conversation(compacted.items);
        task.emit(TaskUpdate::Compacted {
            input_tokens_before: None,
            estimated_tokens_after: after,
        });
        Ok(())
    }

    /// Installs what the task changed as its proposal (a follow-up's replaces the
    /// hunks still undecided) and reports how the task ended. A follow-up that failed
    /// leaves the proposal as it was: the hunks under review are not traded for a
    /// half-done run's.
    fn conclude(&self, task: &Arc<Task>, run: Run, follow_up: bool) {
        // A revert that raced the task's own ending still wins: the user asked for nothing.
        let keep = !task.revert_on_cancel.load(Ordering::SeqCst);
        let failed = matches!(run.outcome, Outcome::Failed(_));
        // A review proposes nothing itself (what its commands wrote is dropped with its
        // view); its hunks are the fixes the user applied, which a follow-up keeps.
        let install = if task.mode == TaskMode::Review || run.reviewed {
            false
        } else if follow_up {
            !failed
        } else {
            !run.changes.is_empty()
        };
        // A review's findings are shown even when it failed later: each was checked.
        if keep && !run.findings.is_empty() {
            let findings = self.install_findings(task, run.findings);
            task.emit(TaskUpdate::Findings { findings });
        } else if keep && run.reviewed && !failed {
            task.emit(TaskUpdate::Findings { findings: 0 });
        }
        if keep && install {
            let how = if follow_up {
                InstallAs::FollowUp
            } else {
                InstallAs::New
            };
            let changes = run.changes.into_iter().map(|c| (c, Vec::new())).collect();
            let (files, hunks) = self.install(task, changes, how);
            task.emit(TaskUpdate::Proposal { files, hunks });
        }
        match run.outcome {
            Outcome::Completed(message) => {
                task.finish(TaskStatus::Completed, Some(summarize(&message)))
            }
            Outcome::Cancelled => task.finish(TaskStatus::Cancelled, None),
            Outcome::Failed(message) => {
                task.emit(TaskUpdate::Error {
                    message: message.clone(),
                    will_retry: false,
                });
                task.finish(TaskStatus::Failed, Some(message))
            }
        };
    }

    fn config_sources<'a>(
        &'a self,
        profile: Option<&'a str>,
        model: Option<&'a str>,
    ) -> ConfigSources<'a> {
        ConfigSources {
            home: &self.settings.home,
            workspace_root: Some(&self.root),
            cli_overrides: &self.settings.cli_overrides,
            init_options: self.settings.init_options.as_ref(),
            profile,
            model,
        }
    }

    /// The task's working directory: a path or file URI inside the workspace, else the root.
    fn task_cwd(&self, cwd: Option<&str>) -> PathBuf {
        let Some(cwd) = cwd else {
            return self.root.clone();
        };
        let path = uri::to_path(cwd).unwrap_or_else(|| self.root.join(cwd));
        match uri::relative(&self.root, &path) {
            Some(rel) => self.root.join(rel),
            None => {
                tracing::warn!("cwd {cwd} is outside the workspace; using the workspace root");
                self.root.clone()
            }
        }
    }
}

/// The log's record of a run starting; the caller adds what ran it.
fn run_start(task: &Task, follow_up: Option<&FollowUp>) -> log::RunStart {
    log::RunStart {
        at: crate::task::now_ms(),
        run: task.runs(),
        model: None,
        provider: None,
        agent: None,
        follow_up: follow_up.map(|f| f.prompt.clone()),
        start_files: follow_up
            .iter()
            .flat_map(|f| &f.review.files)
            .map(|(path, text)| log::FileText {
                path: path.clone(),
                text: text.clone().map(BlobText::from_text),
            })
            .collect(),
        reviewed: None,
    }
}

/// `1 hunk`, `2 hunks`.
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

struct Run {
    outcome: Outcome,
    changes: Vec<crate::workspace::FileChange>,
    /// What a review reported.
    findings: Vec<ReportedFinding>,
    /// The run reviewed a change: it proposes nothing (what its commands wrote is dropped
    /// with its view), even as a follow-up of a task that changes files (an ACP session
    /// switched to `review`).
    reviewed: bool,
}

/// A diff placed against the current text, ready to install.
struct Placed {
    files: Vec<import::review::ReviewFile>,
    /// What was placed where, file by file (the task's message).
    report: String,
    /// Files that could not be imported, each with why.
    problems: Vec<String>,
    /// File sections in the diff.
    sections: usize,
    /// Changes that could not be placed.
    conflicts: usize,
}

impl Run {
    fn failed(message: String) -> Run {
        Run {
            outcome: Outcome::Failed(message),
            changes: Vec::new(),
            findings: Vec::new(),
            reviewed: false,
        }
    }
}

/// Where task views live: `$AGENTLS_HOME/views/<taskId>`.
pub fn views_dir(home: &Path) -> PathBuf {
    home.join("views")
}

/// The user's home directory, for `~/` in `readable_roots` and `writable_roots`.
pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// The summary shown in task lists: the model's last message, first paragraph, bounded.
fn summarize(message: &str) -> String {
    let first = message.trim().split("\n\n").next().unwrap_or_default();
    match first.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &first[..cut]),
        None => first.to_string(),
    }
}

/// The 0-based first and last line a selection covers. LSP ranges end before `end`, so a
/// line-wise selection that ends at column 0 of the next line (what editors send for whole
/// lines) does not include that line.
fn selected_lines(range: &crate::protocol::Range) -> (usize, usize) {
    let (first, end) = (range.start.line as usize, range.end.line as usize);
    if range.end.character == 0 && end > first {
        (first, end - 1)
    } else {
        (first, end)
    }
}

/// The text of each context reference, as the task sees it (unsaved buffers included).
fn context_snippets(root: &Path, view: &TaskView, refs: &[ContextRef]) -> Vec<ContextSnippet> {
    refs.iter()
        .filter_map(|reference| {
            let Some(path) = uri::to_relative(root, &reference.uri) else {
                tracing::warn!(
                    "context {} is not a file in the workspace; skipped",
                    reference.uri
                );
                return None;
            };
            let text = view.read(&path).ok().flatten()?;
            let Some(range) = reference.range else {
                return Some(ContextSnippet {
                    path,
                    lines: None,
                    text,
                });
            };
            let (first, last) = selected_lines(&range);
            let selected: Vec<&str> = text
                .split_inclusive('\n')
                .skip(first)
                .take(last.saturating_sub(first) + 1)
                .collect();
            Some(ContextSnippet {
                path,
                lines: Some((first + 1, first + selected.len().max(1))),
                text: selected.concat(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::selected_lines;
    use crate::protocol::{Position, Range};

    fn range(start: (u32, u32), end: (u32, u32)) -> Range {
        Range {
            start: Position {
                line: start.0,
                character: start.1,
            },
            end: Position {
                line: end.0,
                character: end.1,
            },
        }
    }

    #[test]
    fn a_selection_ending_at_the_start_of_a_line_leaves_that_line_out() {
        assert_eq!(selected_lines(&range((1, 0), (3, 0))), (1, 2));
    }

    #[test]
    fn a_selection_ending_inside_a_line_includes_it() {
        assert_eq!(selected_lines(&range((1, 0), (2, 4))), (1, 2));
        assert_eq!(selected_lines(&range((2, 0), (2, 0))), (2, 2));
        assert_eq!(selected_lines(&range((2, 3), (2, 7))), (2, 2));
    }
}
