//! Running the model's `shell` calls: approvals first (decided here in the server, not in
//! the client; docs/protocol.md, `agent/requestApproval`), then the command in the task's view directory under the
//! sandbox, then whatever it changed folded back into the task's view.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::config::{ApprovalPolicy, Config, SandboxMode};
use crate::protocol::{
    ApprovalDecision, ApprovalKind, ApprovalRequestParams, TaskUpdate, ViewStrategy,
};
use crate::sandbox::run::{self, Finished, Output};
use crate::sandbox::{HelperSpec, Policy, approval};
use crate::task::Task;
use crate::tools::ToolOutput;
use crate::tools::shell::{self, ShellArgs};
use crate::workspace::TaskView;
use crate::workspace::materialize::{self, ViewDir};

/// The task's command runner: its policies, its view directory (created on the first
/// command) and the approvals the user granted for the whole task.
pub struct Commands {
    /// `$AGENTLS_HOME/views`.
    pub views: PathBuf,
    pub sandbox: Policy,
    pub approval_policy: ApprovalPolicy,
    pub approval_timeout: Duration,
    dir: tokio::sync::Mutex<Option<ViewDir>>,
    allowed_for_task: Mutex<HashSet<String>>,
}

/// What a command may use besides the view, its tmp and the configured roots (which every
/// command gets, along with the view's read-only directories: skills and plugins).
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub writable: Vec<PathBuf>,
    pub env: Vec<(String, String)>,
}

/// How to run one command, as far as the sandbox is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Confine {
    Sandboxed { network: bool },
    Unsandboxed,
}

impl Commands {
    /// Commands as `config` has them: its sandbox, approval policy and timeout; their
    /// directories under `views`, `~/` in its roots meaning `home`.
    pub fn from_config(config: &Config, views: PathBuf, home: Option<&Path>) -> Self {
        Self::new(
            views,
            Policy::from_config(config, home),
            config.approval_policy,
            Duration::from_millis(config.approval_timeout_ms),
        )
    }

    pub fn new(
        views: PathBuf,
        sandbox: Policy,
        approval_policy: ApprovalPolicy,
        approval_timeout: Duration,
    ) -> Self {
        Commands {
            views,
            sandbox,
            approval_policy,
            approval_timeout,
            dir: tokio::sync::Mutex::new(None),
            allowed_for_task: Mutex::new(HashSet::new()),
        }
    }

    /// Runs a `shell` call. `Ok` with the report for the model whatever the exit code;
    /// `Err` when the command could not run (bad arguments, denied, no sandbox available).
    pub async fn run(
        &self,
        task: &Task,
        view: &Arc<Mutex<TaskView>>,
        call_id: &str,
        args: &Value,
    ) -> Result<ToolOutput, String> {
        let args = shell::parse(args)?;
        self.run_command(task, view, call_id, &args, &Access::default())
            .await
    }

    /// Runs a command the way `shell` runs one (approvals, sandbox, changes folded into
    /// the view), with `access` on top of what every command gets: a plugin's command
    /// tools use it for their plugin's files.
    pub async fn run_command(
        &self,
        task: &Task,
        view: &Arc<Mutex<TaskView>>,
        call_id: &str,
        args: &ShellArgs,
        access: &Access,
    ) -> Result<ToolOutput, String> {
        let workdir = match &args.workdir {
            Some(dir) => lock(view).resolve(dir).map_err(|e| e.to_string())?,
            None => String::new(),
        };
        let root = lock(view).root().to_path_buf();
        let cwd = if workdir.is_empty() {
            root
        } else {
            root.join(&workdir)
        };
        let cwd = cwd.display().to_string();
        let confine = self.approve_command(task, call_id, args, &cwd).await?;
        let mut finished = self
            .execute(task, view, args, &workdir, confine, access)
            .await?;
        if let Some(retry) = self
            .retry_after_denial(task, call_id, args, &cwd, confine, &finished)
            .await
        {
            finished = self
                .execute(task, view, args, &workdir, retry, access)
                .await?;
        }
        let changed_files = self.absorb_changes(view).await;
        Ok(ToolOutput {
            text: shell::report(&finished, args.timeout),
            changed_files,
            exit_code: finished.exit_code,
            ..ToolOutput::default()
        })
    }

    /// Asks before the command when the policy wants it; says how to confine it.
    async fn approve_command(
        &self,
        task: &Task,
        call_id: &str,
        args: &ShellArgs,
        cwd: &str,
    ) -> Result<Confine, String> {
        let escalation = args.escalation.as_deref();
        let Some(reason) = approval::before_command(self.approval_policy, &args.argv, escalation)
        else {
            return Ok(Confine::Sandboxed { network: false });
        };
        self.ask_command(
            task,
            call_id,
            ApprovalKind::Command,
            args,
            cwd.into(),
            reason,
        )
        .await?;
        Ok(match escalation {
            Some(_) => Confine::Unsandboxed,
            None => Confine::Sandboxed { network: false },
        })
    }

    /// Under `on-failure`, a sandboxed command that failed the way a sandbox denial does
    /// may run again with the restriction lifted, if the user agrees.
    async fn retry_after_denial(
        &self,
        task: &Task,
        call_id: &str,
        args: &ShellArgs,
        cwd: &str,
        confine: Confine,
        finished: &Finished,
    ) -> Option<Confine> {
        let applies = self.approval_policy == ApprovalPolicy::OnFailure
            && self.sandbox.mode != SandboxMode::DangerFullAccess
            && confine != Confine::Unsandboxed;
        if !applies {
            return None;
        }
        let kind = approval::sandbox_denial(finished.exit_code, &finished.output)?;
        let reason = "the command failed in the sandbox; run it again without that restriction?";
        self.ask_command(task, call_id, kind, args, cwd.into(), reason.into())
            .await
            .ok()?;
        Some(match kind {
            ApprovalKind::Network => Confine::Sandboxed { network: true },
            _ => Confine::Unsandboxed,
        })
    }

    /// Under `untrusted`, a patch is shown to the user before it enters the view.
    pub async fn approve_patch(
        &self,
        task: &Task,
        call_id: &str,
        args: &Value,
    ) -> Result<(), String> {
        if !approval::before_patch(self.approval_policy) {
            return Ok(());
        }
        let request = ApprovalRequestParams {
            task_id: task.id.clone(),
            call_id: call_id.to_string(),
            kind: ApprovalKind::Patch,
            command: None,
            cwd: None,
            diff: args.get("input").and_then(Value::as_str).map(str::to_owned),
            reason: None,
            server: None,
            tool: None,
            arguments: None,
            attempt: None,
        };
        self.ask(task, request, "patch".into(), "this patch").await
    }

    /// Asks about a command, unless it was already allowed for the whole task.
    async fn ask_command(
        &self,
        task: &Task,
        call_id: &str,
        kind: ApprovalKind,
        args: &ShellArgs,
        cwd: String,
        reason: String,
    ) -> Result<(), String> {
        let key = match kind {
            ApprovalKind::Network => "network".to_string(),
            _ => format!("{kind:?}:{}", args.argv.join("\u{0}")),
        };
        let request = ApprovalRequestParams {
            task_id: task.id.clone(),
            call_id: call_id.to_string(),
            kind,
            command: Some(args.argv.clone()),
            cwd: Some(cwd),
            diff: None,
            reason: Some(reason),
            server: None,
            tool: None,
            arguments: None,
            attempt: None,
        };
        let what = format!("running `{}`", args.argv.join(" "));
        self.ask(task, request, key, &what).await
    }

    /// `Err` carries the message the model gets for a refusal.
    pub(super) async fn ask(
        &self,
        task: &Task,
        request: ApprovalRequestParams,
        key: String,
        what: &str,
    ) -> Result<(), String> {
        match self.decide(task, request, key).await {
            ApprovalDecision::Allow | ApprovalDecision::AllowForTask => Ok(()),
            ApprovalDecision::Deny => Err(format!(
                "the user did not approve {what} (denied, unanswered, or the editor cannot ask); do not retry it, find another way or explain what you need"
            )),
            ApprovalDecision::Cancel => Err("the task was cancelled".into()),
        }
    }

    /// Asks the user, unless something with the same `key` was allowed for the whole task
    /// already (then `AllowForTask` without asking); remembers a new `AllowForTask`.
    pub(super) async fn decide(
        &self,
        task: &Task,
        request: ApprovalRequestParams,
        key: String,
    ) -> ApprovalDecision {
        if lock(&self.allowed_for_task).contains(&key) {
            return ApprovalDecision::AllowForTask;
        }
        let decision = task.request_approval(request, self.approval_timeout).await;
        if decision == ApprovalDecision::AllowForTask {
            lock(&self.allowed_for_task).insert(key);
        }
        decision
    }

    /// Asks before a command that is not `args` of the model's `shell` tool (an ACP
    /// agent's terminal), as the policy says for a sandboxed command.
    pub(super) async fn approve_argv(
        &self,
        task: &Task,
        call_id: &str,
        argv: Vec<String>,
        cwd: &str,
    ) -> Result<(), String> {
        let args = ShellArgs {
            argv,
            workdir: None,
            timeout: Duration::ZERO,
            escalation: None,
        };
        self.approve_command(task, call_id, &args, cwd)
            .await
            .map(drop)
    }

    /// Writes the task's edits into its directory and runs the command there.
    async fn execute(
        &self,
        task: &Task,
        view: &Arc<Mutex<TaskView>>,
        args: &ShellArgs,
        workdir: &str,
        confine: Confine,
        access: &Access,
    ) -> Result<Finished, String> {
        let mut dir = self.open_dir(task, view, None).await?;
        let Some(dir) = dir.as_mut() else {
            return Err("the task's directory is missing".into());
        };
        materialize::flush_view(dir, view)
            .map_err(|e| format!("cannot write your edits into the task's directory: {e}"))?;
        let tree = dir.tree();
        let mut readable = dir.extra_readable();
        readable.extend(lock(view).read_only_dirs().iter().cloned());
        let confinement = match confine {
            Confine::Sandboxed { network } => self
                .sandbox
                .confinement(&tree, &dir.tmp(), &readable, network)
                .map(|mut confinement| {
                    confinement.writable.extend(access.writable.iter().cloned());
                    confinement
                }),
            Confine::Unsandboxed => None,
        };
        let spec = HelperSpec {
            overlay: dir.overlay(),
            tmp: dir.tmp(),
            cwd: if workdir.is_empty() {
                tree.clone()
            } else {
                tree.join(workdir)
            },
            confine: confinement,
            command: args.argv.clone(),
        };
        let mut env = self.sandbox.command_env(&dir.tmp());
        for (name, value) in &access.env {
            env.retain(|(n, _)| n != name);
            env.push((name.clone(), value.clone()));
        }
        run::run(
            &spec,
            &env,
            Output::Capture(shell::OUTPUT_LIMIT),
            Some(args.timeout),
            &task.cancel_token(),
        )
        .await
        .map_err(|e| format!("cannot start the command: {e}"))
    }

    /// The task's directory, created first if it has none yet: with `strategy`, or the
    /// one this process chose for views.
    pub(super) async fn open_dir(
        &self,
        task: &Task,
        view: &Arc<Mutex<TaskView>>,
        strategy: Option<ViewStrategy>,
    ) -> Result<tokio::sync::MutexGuard<'_, Option<ViewDir>>, String> {
        let mut dir = self.dir.lock().await;
        if dir.is_none() {
            *dir = Some(self.create_dir(task, view, strategy).await?);
        }
        Ok(dir)
    }

    async fn create_dir(
        &self,
        task: &Task,
        view: &Arc<Mutex<TaskView>>,
        strategy: Option<ViewStrategy>,
    ) -> Result<ViewDir, String> {
        let (root, buffers) = {
            let view = lock(view);
            (view.root().to_path_buf(), view.buffers().clone())
        };
        let views = self.views.clone();
        let id = task.id.clone();
        let created = tokio::task::spawn_blocking(move || match strategy {
            Some(strategy) => ViewDir::create_with(strategy, &views, &id, &root, &buffers),
            None => ViewDir::create(&views, &id, &root, &buffers),
        })
        .await
        .map_err(|e| format!("creating the task's directory crashed: {e}"))?
        .map_err(|e| {
            format!(
                "cannot create the task's directory under {}: {e}",
                self.views.display()
            )
        })?;
        task.emit(TaskUpdate::View {
            strategy: created.strategy(),
            path: created.tree().display().to_string(),
        });
        Ok(created)
    }

    /// The task's directory, if it has one.
    pub(super) async fn lock_dir(&self) -> tokio::sync::MutexGuard<'_, Option<ViewDir>> {
        self.dir.lock().await
    }

    /// Folds what the command changed into the task's view; true if anything changed.
    pub(super) async fn absorb_changes(&self, view: &Arc<Mutex<TaskView>>) -> bool {
        let mut dir = self.dir.lock().await;
        dir.as_mut()
            .is_some_and(|dir| materialize::fold_changes(dir, view))
    }

    /// Removes the task's directory (its changes are already in the view).
    pub async fn close(&self) {
        self.dir.lock().await.take();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
