//! `agentls exec`: one task, headless — the same engine the editor uses, for CI and
//! scripts — and `agentls exec resume`, a follow-up of a recorded task. The proposal is
//! printed, never written: stdout carries only the task's product (the diff, ready for
//! `git apply`; the answer in `--ask` mode) or, with `--json`, JSON lines; everything a
//! person watches goes to stderr. docs/exec.md is the contract: flags, line types, exit
//! codes.
//!
//! The engine reports every task of the workspace to its sink, including earlier tasks it
//! loaded from their logs; the sink only queues, and `watch` picks out this run's
//! updates — those of the task from its `queued` status on (a task starts, and a
//! follow-up restarts, with one) — prints them in order, and stops at its `finished`.

mod output;
mod push;
mod review;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::{mpsc, oneshot};

use crate::documents::PositionEncoding;
use crate::engine::{Engine, EngineError, EngineSettings};
use crate::import::attempts::{self, PushedAttempt};
use crate::json_schema::Schema;
use crate::model::{Item, Usage};
use crate::proposal::store::ProposalStore;
use crate::protocol::{
    ApprovalDecision, ApprovalRequestParams, StartTaskParams, TaskMode, TaskStatus, TaskUpdate,
    TaskUpdateParams,
};
use crate::task::{ClientSink, ProgressEvent};
use crate::tools::shell::CommandWatch;
use output::Printer;
pub(crate) use output::{describe, wire_name};
use push::PushBase;

/// The exit codes of `agentls exec` (docs/exec.md).
pub mod exit {
    /// The task completed (with `--output-schema`: and its answer matched).
    pub const COMPLETED: u8 = 0;
    /// The task failed: the model, the provider, the configuration, the turn limit, or an
    /// answer that does not match the output schema.
    pub const FAILED: u8 = 1;
    /// The command line was wrong: bad flags, no prompt, an unreadable schema, an unknown
    /// task to resume. No task ran.
    pub const USAGE: u8 = 2;
    /// The task ended, but `--push` could not write or push its commit (the `result` line
    /// still says how the task ended).
    pub const PUSH_FAILED: u8 = 3;
    /// `--review --fail-on LEVEL`: the review completed with a finding at LEVEL or above.
    pub const FINDINGS: u8 = 4;
    /// Cancelled by SIGINT (128 + 2), the task ended `cancelled`.
    pub const INTERRUPTED: u8 = 130;
    /// Cancelled by SIGTERM (128 + 15), the task ended `cancelled`.
    pub const TERMINATED: u8 = 143;
}

/// What `agentls exec` is asked to do.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ExecArgs {
    #[command(flatten)]
    pub options: ExecOptions,
    /// Answer a question with read-only tools instead of changing code; the answer is
    /// then what goes to stdout.
    #[arg(long)]
    pub ask: bool,
    /// Review a change instead of making one (with --uncommitted, --base or --commit);
    /// the findings are the product, in --format. PROMPT, if given, says what to look for.
    #[arg(long, conflicts_with = "ask")]
    pub review: bool,
    /// Review the working tree, the index and untracked files against HEAD.
    #[arg(long, requires = "review")]
    pub uncommitted: bool,
    /// Review the current state against its merge base with BRANCH.
    #[arg(long, value_name = "BRANCH", requires = "review")]
    pub base: Option<String>,
    /// Review one commit.
    #[arg(long, value_name = "SHA", requires = "review")]
    pub commit: Option<String>,
    /// How the review's findings are written.
    #[arg(long, value_enum, default_value = "text", requires = "review")]
    pub format: review::Format,
    /// Exit with 4 when the review found something at this level or above.
    #[arg(long, value_enum, value_name = "LEVEL", requires = "review")]
    pub fail_on: Option<review::FailOn>,
    /// Use this model instead of the configured one.
    #[arg(short, long)]
    pub model: Option<String>,
    /// Use a `[profiles.<name>]` from config.toml.
    #[arg(short, long)]
    pub profile: Option<String>,
    /// Run the task with this ACP agent (`[agents.<name>]` in config.toml) instead of the
    /// built-in one.
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// What to do; `-` reads it from standard input.
    #[arg(required_unless_present = "review")]
    pub prompt: Option<String>,
    #[command(subcommand)]
    pub resume: Option<ExecCommand>,
}

#[derive(Debug, clap::Subcommand)]
pub enum ExecCommand {
    /// Continue a recorded task of this workspace headless: a follow-up that continues its
    /// conversation (`agentls tasks list` shows the tasks).
    Resume {
        /// The most recent task of this workspace.
        #[arg(long)]
        last: bool,
        /// The task to continue (not with --last, where the first argument is the prompt).
        task_id: Option<String>,
        /// What to do next; `-` reads it from standard input. Default: carry on with the
        /// task where it stopped.
        prompt: Option<String>,
    },
}

/// Flags of both `exec` and `exec resume`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExecOptions {
    /// Print JSON lines (docs/exec.md) instead of the diff.
    #[arg(long, global = true)]
    pub json: bool,
    /// Allow every approval request (commands outside the sandbox, patches under
    /// `untrusted`); without it, every request is denied.
    #[arg(long, global = true)]
    pub approve: bool,
    /// The workspace: run in DIR instead of the current directory.
    #[arg(short = 'C', long = "cd", value_name = "DIR", global = true)]
    pub cd: Option<PathBuf>,
    /// Also write the model's last message to FILE.
    #[arg(short = 'o', long, value_name = "FILE", global = true)]
    pub output_last_message: Option<PathBuf>,
    /// A JSON Schema the final answer must satisfy: asked of the model as structured
    /// output and checked; an answer that does not match fails the task.
    #[arg(long, value_name = "FILE", global = true)]
    pub output_schema: Option<PathBuf>,
    /// When the task ends, commit its proposal on top of the commit it started from and
    /// push that commit to REMOTE (an attempt for `agent/importAttempts`). The working
    /// tree, index and branches are not touched.
    #[arg(long, value_name = "REMOTE", global = true)]
    pub push: Option<String>,
    /// The ref `--push` writes: default `refs/agentls/<taskId>`; a name without `refs/`
    /// goes under `refs/agentls/`.
    #[arg(long = "ref", value_name = "REF", requires = "push", global = true)]
    pub push_ref: Option<String>,
}

/// Carry on where the task stopped: what `exec resume` asks when given no prompt.
const CONTINUE_PROMPT: &str = "Continue the task where you left off.";

/// A usage error: said on stderr, exit 2, no task ran.
struct UsageError(String);

impl From<String> for UsageError {
    fn from(message: String) -> Self {
        UsageError(message)
    }
}

pub async fn run(settings: EngineSettings, args: ExecArgs) -> ExitCode {
    match prepare_and_run(settings, args).await {
        Ok(code) => ExitCode::from(code),
        Err(UsageError(message)) => {
            eprintln!("agentls exec: {message}");
            ExitCode::from(exit::USAGE)
        }
    }
}

/// What this run does to which task.
enum Target {
    Start(Box<StartTaskParams>),
    Resume {
        task: Option<String>,
        prompt: String,
    },
}

async fn prepare_and_run(settings: EngineSettings, args: ExecArgs) -> Result<u8, UsageError> {
    let options = args.options.clone();
    // From the start: a signal must cancel the task, not kill the process.
    let signals = Signals::listen();
    let root = workspace_root(options.cd.as_deref())?;
    let schema = options
        .output_schema
        .as_deref()
        .map(load_schema)
        .transpose()?;
    if options.push.is_some() && (args.ask || args.review) {
        return Err(
            "--push needs a task that changes code; leave out --ask and --review"
                .to_string()
                .into(),
        );
    }
    let push_ref = options
        .push_ref
        .as_deref()
        .map(attempts::full_ref)
        .transpose()?;
    // What the task starts from is recorded before it starts.
    let push_base = match &options.push {
        Some(_) => {
            let root = root.clone();
            let base = tokio::task::spawn_blocking(move || PushBase::prepare(&root))
                .await
                .map_err(|e| e.to_string())?;
            Some(base?)
        }
        None => None,
    };
    let review_params = args.review.then(|| review::params(&args)).transpose()?;
    let target = match args.resume {
        Some(ExecCommand::Resume {
            last,
            task_id,
            prompt,
        }) => {
            // With --last, the one argument there is is the prompt.
            let (task, prompt) = if last {
                if prompt.is_some() {
                    return Err("--last takes no task id: give a prompt only"
                        .to_string()
                        .into());
                }
                (None, task_id)
            } else {
                let Some(id) = task_id else {
                    return Err(
                        "name the task to resume, or pass --last (`agentls tasks list` shows them)"
                            .to_string()
                            .into(),
                    );
                };
                (Some(id), prompt)
            };
            let prompt = match prompt {
                Some(prompt) => read_prompt(prompt)?,
                None => CONTINUE_PROMPT.to_string(),
            };
            Target::Resume { task, prompt }
        }
        None if review_params.is_some() => {
            Target::Start(Box::new(review_params.unwrap_or_default()))
        }
        None => {
            let prompt = read_prompt(args.prompt.unwrap_or_default())?;
            Target::Start(Box::new(StartTaskParams {
                prompt,
                mode: if args.ask {
                    TaskMode::Ask
                } else {
                    TaskMode::Code
                },
                model: args.model,
                profile: args.profile,
                output_schema: schema.as_ref().map(|s| s.value().clone()),
                agent: args.agent,
                ..StartTaskParams::default()
            }))
        }
    };
    let (queue, updates) = mpsc::unbounded_channel();
    let sink = Arc::new(ExecSink {
        queue,
        approve: options.approve,
    });
    let store = ProposalStore::new(root.clone(), PositionEncoding::Utf8);
    let engine = Engine::new(root.clone(), store, sink, settings);
    // Where the task stood before this run: what the run adds comes after.
    let (task_id, prompt, resumed, before) = match target {
        Target::Start(params) => {
            let prompt = params.prompt.clone();
            (engine.start_task(*params), prompt, false, (0, 0))
        }
        Target::Resume { task, prompt } => {
            let task_id = match task {
                Some(id) => id,
                None => last_task(&engine)?,
            };
            let before = engine
                .task(&task_id)
                .map(|t| (t.history().items.len(), t.turns()));
            let schema = schema.as_ref().map(|s| s.value().clone());
            match engine.follow_up_with_schema(&task_id, prompt.clone(), schema) {
                Ok(()) => {}
                Err(EngineError::UnknownTask(id)) => {
                    return Err(unknown_task(&engine, &id).into());
                }
                Err(error) => return Err(error.to_string().into()),
            }
            (task_id, prompt, true, before.unwrap_or_default())
        }
    };
    let task = engine
        .task(&task_id)
        .map_err(|e| UsageError(e.to_string()))?;
    let mode = task.mode;
    let (items_before, turns_before) = before;
    let mut printer = Printer::new(options.json, mode);
    printer.started(&task_id, &root, &prompt, resumed);
    let watched = watch(&engine, &task_id, updates, signals, &mut printer).await;
    // The run is over: its MCP servers go with it.
    engine.shutdown().await;
    // The run's answer: its last assistant message.
    let items = task.history().items;
    let last_message = items[items_before.min(items.len())..]
        .iter()
        .rev()
        .find_map(|item| match item {
            Item::Assistant(text) => Some(text.clone()),
            _ => None,
        });
    let mut files = Vec::new();
    let reviewed = if mode == TaskMode::Review {
        let findings = engine.findings(&task_id);
        let report = review::Report {
            root: &root,
            task_id: &task_id,
            status: watched.status,
            summary: task.summary().summary,
            findings: &findings,
        };
        review::write(
            &report,
            args.format,
            options.output_last_message.as_deref(),
            options.json,
        );
        Some(findings)
    } else {
        if let (Some(path), Some(message)) = (&options.output_last_message, &last_message)
            && let Err(error) = crate::proposal::disk::write(&absolute(path), message)
        {
            eprintln!("agentls exec: --output-last-message: {error}");
        }
        files = engine.store().git_diff(&task_id).unwrap_or_default();
        printer.proposal(&task_id, &files, watched.status);
        None
    };
    let output = match (&schema, &last_message, watched.status) {
        (Some(schema), Some(message), TaskStatus::Completed) => schema.check(message).ok(),
        _ => None,
    };
    if mode == TaskMode::Ask && watched.status == TaskStatus::Completed {
        printer.answer(last_message.as_deref().unwrap_or_default());
    }
    let fails = reviewed
        .as_deref()
        .is_some_and(|findings| review::fails(args.fail_on, findings));
    let mut code = match (watched.status, watched.signal) {
        (TaskStatus::Completed, _) if fails => exit::FINDINGS,
        (TaskStatus::Completed, _) => exit::COMPLETED,
        (TaskStatus::Cancelled, Some(signal)) => signal,
        _ => exit::FAILED,
    };
    if let (Some(base), Some(remote)) = (push_base, options.push.clone()) {
        let diff: String = files.iter().map(|f| f.diff.as_str()).collect();
        let git_ref = push_ref.unwrap_or_else(|| format!("{}{task_id}", attempts::REF_NAMESPACE));
        let message = attempts::commit_message(
            &task.prompt,
            &PushedAttempt {
                task_id: Some(task_id.clone()),
                status: Some(watched.status),
                summary: task.summary().summary,
                last_command: watched.commands.last.clone(),
                usage: watched.usage,
            },
        );
        let pushed =
            tokio::task::spawn_blocking(move || base.push(&diff, &message, &remote, &git_ref))
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
        match pushed {
            Ok(pushed) => printer.pushed(&task_id, &pushed),
            Err(error) => {
                eprintln!("agentls exec: --push: {error}");
                code = exit::PUSH_FAILED;
            }
        }
    }
    printer.result(output::Outcome {
        task_id: &task_id,
        status: watched.status,
        exit_code: code,
        turns: task.turns() - turns_before,
        usage: watched.usage,
        summary: task.summary().summary,
        last_message,
        output,
    });
    Ok(code)
}

/// How the watched run ended.
struct Watched {
    status: TaskStatus,
    /// The exit code of the signal that cancelled it.
    signal: Option<u8>,
    /// Tokens over the run's turns.
    usage: Usage,
    /// The run's last command.
    commands: CommandWatch,
}

/// Prints the run's updates until it finishes. SIGINT or SIGTERM cancels the task (it
/// then ends `cancelled`, its partial proposal kept); a second one exits at once.
async fn watch(
    engine: &Arc<Engine>,
    task_id: &str,
    mut updates: mpsc::UnboundedReceiver<TaskUpdateParams>,
    mut signals: Signals,
    printer: &mut Printer,
) -> Watched {
    let mut watched = Watched {
        status: TaskStatus::Failed,
        signal: None,
        usage: Usage::default(),
        commands: CommandWatch::default(),
    };
    let mut started = false;
    loop {
        let received = tokio::select! {
            update = updates.recv() => Ok(update),
            code = signals.next() => Err(code),
        };
        let update = match received {
            Ok(Some(update)) => update,
            Ok(None) => break,
            Err(code) => {
                if watched.signal.is_some() {
                    eprintln!("agentls exec: second signal; exiting without waiting for the task");
                    engine.settings().journal.flush();
                    std::process::exit(code.into());
                }
                eprintln!("agentls exec: cancelling task {task_id} (signal again to exit at once)");
                watched.signal = Some(code);
                let _ = engine.cancel(task_id, false);
                continue;
            }
        };
        if update.task_id != task_id {
            continue;
        }
        // Updates from before this run (a loaded task marked interrupted) are history.
        started |= matches!(
            update.update,
            TaskUpdate::Status {
                status: TaskStatus::Queued
            }
        );
        if !started {
            continue;
        }
        if let TaskUpdate::Usage {
            input_tokens,
            output_tokens,
            total_tokens,
            ..
        } = update.update
        {
            watched.usage.input_tokens += input_tokens;
            watched.usage.output_tokens += output_tokens;
            watched.usage.total_tokens += total_tokens;
        }
        watched.commands.observe(&update.update);
        printer.update(&update);
        if let TaskUpdate::Finished { status, .. } = update.update {
            watched.status = status;
            break;
        }
    }
    watched
}

/// SIGINT and SIGTERM, caught.
struct Signals {
    interrupt: Option<Signal>,
    terminate: Option<Signal>,
}

impl Signals {
    fn listen() -> Signals {
        let listen = |kind| {
            signal(kind)
                .inspect_err(|error| {
                    tracing::warn!("cannot catch a signal ({error}); it will end agentls at once")
                })
                .ok()
        };
        Signals {
            interrupt: listen(SignalKind::interrupt()),
            terminate: listen(SignalKind::terminate()),
        }
    }

    /// Waits for the next one; returns the exit code it stands for.
    async fn next(&mut self) -> u8 {
        async fn recv(signal: &mut Option<Signal>) {
            if let Some(signal) = signal
                && signal.recv().await.is_some()
            {
                return;
            }
            std::future::pending().await
        }
        tokio::select! {
            () = recv(&mut self.interrupt) => exit::INTERRUPTED,
            () = recv(&mut self.terminate) => exit::TERMINATED,
        }
    }
}

/// The newest agent task of the workspace (imports have nothing to continue).
fn last_task(engine: &Engine) -> Result<String, UsageError> {
    engine
        .tasks
        .list()
        .into_iter()
        .rev()
        .find(|summary| {
            engine
                .task(&summary.task_id)
                .is_ok_and(|task| task.history().params.is_some())
        })
        .map(|summary| summary.task_id)
        .ok_or_else(|| {
            UsageError(format!(
                "no earlier task in {} to resume; start one with `agentls exec PROMPT`",
                engine.root().display()
            ))
        })
}

/// Why a task id is not among the workspace's tasks, and what to do.
pub fn unknown_task(engine: &Engine, task_id: &str) -> String {
    let root = engine.root().display();
    let log = engine
        .settings()
        .journal
        .dir()
        .map(|dir| crate::task::journal::log_path(dir, task_id));
    match log.as_deref().and_then(crate::task::load::read_header) {
        Some(header) if Path::new(&header.root) != engine.root() => format!(
            "task {task_id} belongs to the workspace {}, not {root}; run this there (or pass -C {})",
            header.root, header.root
        ),
        Some(_) => format!(
            "task {task_id} is held by a running agentls server (an editor has this workspace \
             open); resume it there, or close it first"
        ),
        None => format!("no task {task_id} in {root}; `agentls tasks list` shows the tasks here"),
    }
}

/// `-C DIR`, or the current directory: the workspace, absolute and canonical (task logs
/// name their workspace by it).
pub fn workspace_root(cd: Option<&Path>) -> Result<PathBuf, String> {
    let dir = match cd {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir()
            .map_err(|e| format!("cannot find the current directory: {e}"))?,
    };
    let root = dir
        .canonicalize()
        .map_err(|e| format!("cannot use {} as the workspace: {e}", dir.display()))?;
    if !root.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    Ok(root)
}

/// The prompt as given, or standard input for `-`.
fn read_prompt(prompt: String) -> Result<String, UsageError> {
    let prompt = if prompt == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the prompt from standard input: {e}"))?;
        text
    } else {
        prompt
    };
    if prompt.trim().is_empty() {
        return Err(
            "the prompt is empty; say what to do (or pipe it in with `-`)"
                .to_string()
                .into(),
        );
    }
    Ok(prompt)
}

fn load_schema(path: &Path) -> Result<Schema, UsageError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the output schema {}: {e}", path.display()))?;
    let value = serde_json::from_str(&text)
        .map_err(|e| format!("the output schema {} is not JSON: {e}", path.display()))?;
    let schema = Schema::new(value)
        .map_err(|e| format!("the output schema {} cannot be used: {e}", path.display()))?;
    for keyword in schema.unchecked() {
        eprintln!(
            "agentls exec: note: the output schema's `{keyword}` is left to the provider; \
             agentls does not check it"
        );
    }
    Ok(schema)
}

/// A path given on the command line, against the directory agentls was started in (not
/// `-C`'s).
fn absolute(path: &Path) -> PathBuf {
    std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Queues every update for [`watch`]; answers approvals at once (there is nobody to ask).
struct ExecSink {
    queue: mpsc::UnboundedSender<TaskUpdateParams>,
    approve: bool,
}

impl ClientSink for ExecSink {
    fn task_update(&self, update: &TaskUpdateParams) {
        let _ = self.queue.send(update.clone());
    }

    fn progress(&self, _task_id: &str, _event: ProgressEvent) {}

    fn request_approval(
        &self,
        request: ApprovalRequestParams,
    ) -> oneshot::Receiver<ApprovalDecision> {
        let decision = if self.approve {
            ApprovalDecision::Allow
        } else {
            ApprovalDecision::Deny
        };
        eprintln!(
            "[approval] {:?} {}: {decision:?}{}",
            request.kind,
            request
                .command
                .map(|argv| argv.join(" "))
                .or(request.reason)
                .unwrap_or_default(),
            if self.approve {
                ""
            } else {
                " (pass --approve to allow)"
            }
        );
        let (answer, receiver) = oneshot::channel();
        let _ = answer.send(decision);
        receiver
    }
}
