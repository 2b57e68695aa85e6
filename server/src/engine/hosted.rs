//! Tasks run by an ACP agent (`agent/startTask {agent}`, `[agents.<name>]`) instead of the
//! built-in loop: the engine's side. The run takes the same road as a built-in one — a
//! view of the workspace with the unsaved buffers (and for a follow-up the pending hunks),
//! the user's message with their selection, the run's changes installed as the proposal
//! by `conclude` — with `agent::external` in place of the model loop. `agent/listAgents`
//! is here too.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Engine, EngineError, FollowUp, Run, context_snippets, home_dir, run_start, views_dir};
use crate::agent::external::ExternalRun;
use crate::agent::prompt;
use crate::config::{self, BUILT_IN_AGENT};
use crate::model::Item;
use crate::protocol::{AgentInfo, StartTaskParams, TaskStatus, TaskUpdate};
use crate::task::{Task, log};
use crate::uri;

/// The ACP agent a task runs with; `None` for the built-in one.
pub(super) fn agent_of(params: &StartTaskParams) -> Option<&str> {
    params
        .agent
        .as_deref()
        .filter(|name| *name != BUILT_IN_AGENT)
}

impl Engine {
    pub(super) async fn run_hosted(
        &self,
        task: &Arc<Task>,
        params: StartTaskParams,
        buffers: HashMap<String, String>,
        follow_up: Option<FollowUp>,
        name: String,
    ) -> Run {
        let sources = self.config_sources(params.profile.as_deref(), params.model.as_deref());
        let config = match config::load(&sources) {
            Ok((config, warnings)) => {
                for warning in warnings {
                    tracing::warn!("{warning}");
                }
                config
            }
            Err(error) => return Run::failed(format!("configuration error: {error}")),
        };
        let Some(agent) = config.agents.get(&name).cloned() else {
            let withheld = format!("agent `{name}` from ");
            if let Some(untrusted) = config.withheld.iter().find(|w| w.starts_with(&withheld)) {
                return Run::failed(untrusted.clone());
            }
            let known: Vec<&str> = config.agents.keys().map(String::as_str).collect();
            return Run::failed(format!(
                "there is no agent `{name}`: add an [agents.{name}] table to config.toml \
                 (docs/configuration.md has entries for codex-acp, claude-agent-acp and gemini){}",
                if known.is_empty() {
                    String::new()
                } else {
                    format!("; configured: {}", known.join(", "))
                }
            ));
        };
        for message in &config.withheld {
            task.emit(TaskUpdate::Warning {
                message: message.clone(),
            });
        }
        task.log(log::Event::Run(log::RunStart {
            agent: Some(name.clone()),
            ..run_start(task, follow_up.as_ref())
        }));
        let view = match self.open_view(buffers, follow_up.as_ref()) {
            Ok(view) => view,
            Err(message) => return Run::failed(message),
        };
        let history = task.history();
        let first_request = history.items.iter().find_map(|item| match item {
            Item::User(text) => Some(text.clone()),
            _ => None,
        });
        let request = match (&follow_up, first_request) {
            (Some(_), Some(first)) => first,
            (follow_up, _) => {
                let asked = if follow_up.is_some() {
                    &task.prompt
                } else {
                    &params.prompt
                };
                let cwd = self.task_cwd(params.cwd.as_deref());
                let snippets = context_snippets(&self.root, &view, &params.context);
                let cwd = uri::relative(&self.root, &cwd);
                prompt::user_message(asked, cwd.as_deref(), &snippets)
            }
        };
        let message = match &follow_up {
            Some(follow_up) => prompt::follow_up_message(&follow_up.prompt, &follow_up.review),
            None => request.clone(),
        };
        let fresh_prompt = match &follow_up {
            Some(_) => format!(
                "This continues an earlier task whose conversation is not available to you any more. \
                 The task was:\n\n{request}\n\n{message}"
            ),
            None => message.clone(),
        };
        task.log(log::Event::User {
            text: message.clone(),
        });
        let mut items = history.items;
        items.push(Item::User(message.clone()));
        task.set_status(TaskStatus::Running);
        let ran = self
            .external
            .run(ExternalRun {
                task: task.clone(),
                name: name.clone(),
                agent,
                config: &config,
                mode: task.mode,
                view: Arc::new(std::sync::Mutex::new(view)),
                views: views_dir(&self.settings.home),
                home: home_dir(),
                prompt: message,
                fresh_prompt,
                resume: last_session(task, &name),
            })
            .await;
        if let crate::agent::Outcome::Completed(answer) = &ran.outcome
            && !answer.is_empty()
        {
            items.push(Item::Assistant(answer.clone()));
        }
        task.keep_conversation(items);
        Run {
            outcome: ran.outcome,
            changes: ran.changes,
            findings: Vec::new(),
            reviewed: false,
        }
    }

    /// `agent/listAgents`: the built-in agent, then every `[agents.<name>]`, each with
    /// what would keep a task from starting it (found without starting it).
    pub fn list_agents(&self) -> Result<Vec<AgentInfo>, String> {
        let (config, _) = config::load(&self.config_sources(None, None))
            .map_err(|e| format!("configuration error: {e}"))?;
        let model = config
            .model_name()
            .map(|model| format!("{model} via {}", config.model_provider))
            .unwrap_or_else(|e| e.to_string());
        let mut agents = vec![AgentInfo {
            name: BUILT_IN_AGENT.into(),
            description: Some(format!("agentls's own agent ({model})")),
            built_in: true,
            command: Vec::new(),
            problem: None,
        }];
        let path = std::env::var("PATH").ok();
        for (name, agent) in &config.agents {
            let problem = agent.launch_problem().map(str::to_string).or_else(|| {
                let command = agent.command.as_deref().unwrap_or_default();
                crate::sandbox::find_program(command, path.as_deref())
                    .is_none()
                    .then(|| format!("`{command}` is not a file and not on PATH"))
            });
            agents.push(AgentInfo {
                name: name.clone(),
                description: agent.description.clone(),
                built_in: false,
                command: agent.command.iter().chain(&agent.args).cloned().collect(),
                problem,
            });
        }
        Ok(agents)
    }

    /// What only the built-in agent's tasks can do (fork, compact): an ACP agent keeps its
    /// conversation to itself.
    pub(super) fn built_in_only(&self, task: &Task, what: &str) -> Result<(), EngineError> {
        match task.history().params.as_ref().and_then(agent_of) {
            Some(agent) => Err(EngineError::Invalid(format!(
                "task {} ran with the ACP agent `{agent}`, which keeps its conversation to itself; \
                 only tasks of the built-in agent can be {what}",
                task.id
            ))),
            None => Ok(()),
        }
    }
}

/// The task's last session with agent `name`, from its updates (the task log keeps them).
fn last_session(task: &Task, name: &str) -> Option<String> {
    task.events()
        .into_iter()
        .rev()
        .find_map(|event| match event.update {
            TaskUpdate::AgentSession {
                agent, session_id, ..
            } if agent == name => Some(session_id),
            _ => None,
        })
}
