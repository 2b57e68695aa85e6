//! The agent loop: model turn → tool calls → results back to the model, until the model
//! answers without calling a tool, the turn limit is reached, or the task is cancelled.
//!
//! The loop owns the conversation; the task owns reporting. A tool error is not a task
//! error: it goes back to the model, which reads it and tries something else.

pub mod changes;
pub mod compact;
pub mod external;
pub mod mcp;
pub mod plugin_tools;
pub mod prompt;
pub mod shell;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::config::Config;
use crate::json_schema::Schema;
use crate::mcp::McpServers;
use crate::model::{Item, Model, ModelError, Prompt, StreamEvent, ToolImage, ToolSpec};
use crate::plugins::Extensions;
use crate::protocol::{TaskMode, TaskUpdate, ToolCallStatus};
use crate::review::{REPORT_FINDING, ReportedFinding, ReviewedChange};
use crate::task::Task;
use crate::task::log;
use crate::tools;
use crate::workspace::TaskView;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The model's last message.
    Completed(String),
    Failed(String),
    Cancelled,
}

/// Everything one run needs; built by the task engine.
pub struct Agent {
    pub task: Arc<Task>,
    pub model: Model,
    pub model_name: String,
    pub instructions: String,
    pub view: Arc<Mutex<TaskView>>,
    pub mode: TaskMode,
    pub max_turns: u32,
    pub commands: shell::Commands,
    /// Input tokens past which the conversation is compacted (`compact.rs`).
    pub compact_limit: Option<u64>,
    /// What the run changed so far, as last told to the client and the task log.
    pub changes: changes::ChangeReports,
    pub mcp: mcp::McpTools,
    pub plugin_tools: plugin_tools::PluginTools,
    /// What the final answer must match (sent as structured output, then checked).
    pub output_schema: Option<Schema>,
    /// A review's change, which `report_finding` checks findings against.
    pub review: Option<Arc<ReviewedChange>>,
    /// What `report_finding` accepted so far, in order.
    pub findings: Mutex<Vec<ReportedFinding>>,
    /// A review may run commands (tests, linters) in its view: the sandbox policy lets
    /// commands write somewhere (not `read-only`).
    pub review_commands: bool,
    /// Files already asked of the editor ([`Agent::read_from_editor`]), asked once a run.
    editor_asked: Mutex<HashSet<String>>,
}

/// What [`Agent::start`] needs.
pub struct AgentSetup<'a> {
    pub task: Arc<Task>,
    pub model: Model,
    pub model_name: String,
    pub instructions: String,
    pub view: TaskView,
    pub mode: TaskMode,
    pub config: &'a Config,
    /// `$AGENTLS_HOME/views`: where commands get their directories.
    pub views: PathBuf,
    /// The user's home, for `~/` in the sandbox's roots.
    pub home: Option<PathBuf>,
    /// The workspace's shared MCP servers.
    pub mcp: &'a McpServers,
    /// What the final answer must match (sent as structured output, then checked).
    pub output_schema: Option<Schema>,
    /// The plugins' command tools, and the skill and plugin folders the task may read.
    pub extensions: &'a Extensions,
    /// A review's change (review mode only).
    pub review: Option<Arc<ReviewedChange>>,
}

/// How long the editor may take to give a file's text before the task reads the disk.
const EDITOR_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Tool output shown to the client is cut to this; the model always gets all of it.
const CLIENT_OUTPUT_LIMIT: usize = 4096;

impl Agent {
    /// An agent for one run: its command runner and MCP tools set up from the
    /// configuration (MCP servers started, in parallel). Err: a `required` MCP server did
    /// not start.
    pub async fn start(setup: AgentSetup<'_>) -> Result<Agent, String> {
        let commands =
            shell::Commands::from_config(setup.config, setup.views.clone(), setup.home.as_deref());
        let mut view = setup.view;
        view.allow_reading(setup.extensions.read_only_dirs());
        let view = Arc::new(Mutex::new(view));
        let mut reserved: Vec<String> = tools::specs(TaskMode::Code)
            .into_iter()
            .map(|tool| tool.name)
            .collect();
        let mut namer = crate::mcp::names::ToolNamer::default();
        for name in &reserved {
            namer.reserve(name);
        }
        let plugin_tools = plugin_tools::PluginTools::new(&setup.extensions.plugins, &mut namer);
        reserved.extend(plugin_tools.names().map(str::to_owned));
        let mcp = mcp::McpTools::start(
            setup.config,
            mcp::McpStart {
                shared: setup.mcp,
                task: &setup.task,
                view: &view,
                views: &setup.views,
                sandbox: &commands.sandbox,
                reserved: &reserved,
            },
        )
        .await?;
        Ok(Agent {
            task: setup.task,
            compact_limit: compact::token_limit(
                &setup.model_name,
                setup.config.model_context_window,
                setup.config.model_auto_compact_token_limit,
            ),
            model: setup.model,
            model_name: setup.model_name,
            instructions: setup.instructions,
            view,
            mode: setup.mode,
            max_turns: setup.config.max_turns,
            commands,
            changes: Default::default(),
            mcp,
            plugin_tools,
            output_schema: setup.output_schema,
            review_commands: setup.review.is_some()
                && setup.config.sandbox_mode != crate::config::SandboxMode::ReadOnly,
            review: setup.review,
            findings: Mutex::new(Vec::new()),
            editor_asked: Mutex::default(),
        })
    }

    /// Runs the conversation `items` (ending with the user's message) to its end; returns
    /// how it ended and the conversation as it then stands, for a follow-up.
    pub async fn run(&self, mut items: Vec<Item>) -> (Outcome, Vec<Item>) {
        let outcome = self.converse(&mut items).await;
        (outcome, items)
    }

    async fn converse(&self, items: &mut Vec<Item>) -> Outcome {
        let mut tools = tools::specs(self.mode);
        if self.review.is_some() {
            tools.push(crate::review::spec());
        }
        if self.review_commands {
            tools.extend(
                tools::specs(TaskMode::Code)
                    .into_iter()
                    .filter(|t| t.name == tools::shell::NAME),
            );
        }
        tools.extend(self.plugin_tools.specs(self.mode));
        tools.extend(self.mcp.specs(self.mode));
        let cancel = self.task.cancel_token();
        let mut last_message = String::new();
        let mut reasoning = String::new();
        // Input tokens of the last request: reported by the provider, else estimated.
        let mut last_input = None;
        let mut just_compacted = false;
        for _ in 0..self.max_turns {
            let over_limit = last_input
                .zip(self.compact_limit)
                .is_some_and(|(used, limit)| used > limit);
            if just_compacted && over_limit {
                return Outcome::Failed(self.too_large(last_input.unwrap_or_default()));
            }
            just_compacted = false;
            if self.task.take_compact_request() || over_limit {
                if let Err(outcome) = self.compact(items, &tools, last_input, &cancel).await {
                    return outcome;
                }
                just_compacted = true;
            }
            let turn = match self.turn(items, &tools, &cancel, &mut reasoning).await {
                Ok(turn) => turn,
                Err(ModelError::Cancelled) => return Outcome::Cancelled,
                Err(error) => return Outcome::Failed(error.to_string()),
            };
            last_input = Some(turn.usage.map_or_else(
                || compact::estimate_tokens(&self.instructions, items, &tools),
                |usage| usage.input_tokens,
            ));
            let number = self.task.next_turn();
            self.task.log(log::Event::Response(log::Response {
                turn: number,
                text: turn.text.clone(),
                reasoning: std::mem::take(&mut reasoning),
                tool_calls: turn
                    .tool_calls
                    .iter()
                    .map(log::ToolCallRecord::from)
                    .collect(),
                usage: turn.usage,
            }));
            if let Some(usage) = &turn.usage {
                self.task.emit(TaskUpdate::Usage {
                    turn: number,
                    input_tokens: usage.input_tokens,
                    output_tokens: usage.output_tokens,
                    total_tokens: usage.total_tokens,
                    context_window: None,
                });
            }
            if !turn.text.is_empty() {
                last_message = turn.text.clone();
                items.push(Item::Assistant(turn.text));
            }
            if turn.tool_calls.is_empty() {
                return match &self.output_schema {
                    Some(schema) => match schema.check(&last_message) {
                        Ok(_) => Outcome::Completed(last_message),
                        Err(mismatch) => Outcome::Failed(mismatch),
                    },
                    None => Outcome::Completed(last_message),
                };
            }
            for call in turn.tool_calls {
                if cancel.is_cancelled() {
                    return Outcome::Cancelled;
                }
                let (ok, output, images) = self
                    .call_tool(&call.call_id, &call.name, &call.arguments)
                    .await;
                self.task.log(log::Event::ToolOutput {
                    call_id: call.call_id.clone(),
                    ok,
                    output: output.clone(),
                    images: images.clone(),
                });
                items.push(Item::ToolCall(call.clone()));
                items.push(Item::ToolOutput {
                    call_id: call.call_id,
                    output,
                    images,
                });
            }
        }
        Outcome::Failed(format!(
            "stopped after {} model turns without a final answer (raise `max_turns` in config.toml if the task needs more)",
            self.max_turns
        ))
    }

    /// Replaces the conversation with the user's messages and a summary (`compact.rs`),
    /// logs it and tells the client. Err: how the run ends instead.
    async fn compact(
        &self,
        items: &mut Vec<Item>,
        tools: &[ToolSpec],
        input_tokens: Option<u64>,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<(), Outcome> {
        self.task.log_written().await;
        let compacted = match compact::compact(
            &self.model,
            &self.model_name,
            &self.instructions,
            items,
            cancel,
        )
        .await
        {
            Ok(compacted) => compacted,
            Err(ModelError::Cancelled) => return Err(Outcome::Cancelled),
            Err(error) => return Err(Outcome::Failed(error.to_string())),
        };
        // Whether it fits now is told by the next request's input tokens.
        let after = compact::estimate_tokens(&self.instructions, &compacted.items, tools);
        self.task.log(log::Event::Compacted(log::Compaction {
            at: crate::task::now_ms(),
            summary: compacted.summary,
            items: compacted.items.iter().map(log::ItemRecord::from).collect(),
            input_tokens,
        }));
        self.task.emit(TaskUpdate::Compacted {
            input_tokens_before: input_tokens,
            estimated_tokens_after: after,
        });
        *items = compacted.items;
        Ok(())
    }

    fn too_large(&self, tokens: u64) -> String {
        format!(
            "the conversation does not fit the model's context even after compacting it \
             ({tokens} input tokens, over the limit of {}); start a new task with a narrower \
             request, or raise model_context_window / model_auto_compact_token_limit if the \
             model takes more",
            self.compact_limit.unwrap_or_default()
        )
    }

    async fn turn(
        &self,
        items: &[Item],
        tools: &[ToolSpec],
        cancel: &tokio_util::sync::CancellationToken,
        reasoning: &mut String,
    ) -> Result<crate::model::TurnOutput, ModelError> {
        let prompt = Prompt {
            model: &self.model_name,
            instructions: &self.instructions,
            items,
            tools,
            output_schema: self.output_schema.as_ref().map(Schema::value),
        };
        let task = &self.task;
        reasoning.clear();
        // What came before this request is on disk before the request is made.
        self.task.log_written().await;
        let mut on_event = |event: StreamEvent| match event {
            StreamEvent::TextDelta(delta) => task.emit(TaskUpdate::Message { delta }),
            StreamEvent::ReasoningDelta(delta) => {
                reasoning.push_str(&delta);
                task.emit(TaskUpdate::Reasoning { delta })
            }
            StreamEvent::Retrying {
                attempt,
                max,
                delay,
                reason,
            } => {
                // The turn starts over; what it streamed so far is discarded.
                reasoning.clear();
                task.emit(TaskUpdate::Error {
                    message: format!(
                        "{reason}; retrying in {} ms (attempt {attempt} of {max})",
                        delay.as_millis()
                    ),
                    will_retry: true,
                })
            }
        };
        self.model.turn(&prompt, cancel, &mut on_event).await
    }

    /// Runs one tool call and reports it; returns whether it succeeded, what the model
    /// should read, and the images it should see.
    async fn call_tool(
        &self,
        call_id: &str,
        name: &str,
        arguments: &str,
    ) -> (bool, String, Vec<ToolImage>) {
        let args: Value = match serde_json::from_str(arguments) {
            Ok(args) => args,
            Err(error) => Value::String(format!("{arguments} (unparseable: {error})")),
        };
        self.task.emit(TaskUpdate::ToolCall {
            call_id: call_id.to_string(),
            tool: name.to_string(),
            args: args.clone(),
            status: ToolCallStatus::Running,
            title: None,
        });
        let result = if args.is_string() {
            Err(format!(
                "the arguments of `{name}` are not valid JSON; send a JSON object matching the tool's schema"
            ))
        } else {
            self.dispatch(call_id, name, &args).await
        };
        let (ok, text, images, exit_code) = match result {
            Ok(output) => {
                if let Some((explanation, plan)) = output.plan {
                    self.task.emit(TaskUpdate::Plan { explanation, plan });
                }
                if output.changed_files {
                    self.report_proposal_size();
                }
                (true, output.text, output.images, output.exit_code)
            }
            Err(message) => (false, message, Vec::new(), None),
        };
        self.task.emit(TaskUpdate::ToolResult {
            call_id: call_id.to_string(),
            ok,
            output: truncate_for_client(&text),
            exit_code,
        });
        self.task.emit(TaskUpdate::ToolCall {
            call_id: call_id.to_string(),
            tool: name.to_string(),
            args,
            status: if ok {
                ToolCallStatus::Completed
            } else {
                ToolCallStatus::Failed
            },
            title: None,
        });
        if ok {
            (true, text, images)
        } else {
            (false, format!("error: {text}"), images)
        }
    }

    /// Commands (and patch approvals) wait on processes and the user; the rest are quick
    /// blocking work.
    async fn dispatch(
        &self,
        call_id: &str,
        name: &str,
        args: &Value,
    ) -> Result<tools::ToolOutput, String> {
        if name == REPORT_FINDING
            && let Some(change) = &self.review
        {
            return self.report_finding(change, args);
        }
        if name == tools::shell::NAME && (self.mode.may_write() || self.review_commands) {
            return self
                .commands
                .run(&self.task, &self.view, call_id, args)
                .await;
        }
        if self.mcp.has(name) {
            return self.mcp.call(self, call_id, name, args).await;
        }
        if self.plugin_tools.has(name) {
            return self.plugin_tools.call(self, call_id, name, args).await;
        }
        self.read_from_editor(name, args).await;
        if name == tools::APPLY_PATCH && self.mode.may_write() {
            self.commands
                .approve_patch(&self.task, call_id, args)
                .await?;
        }
        self.run_blocking(name.to_string(), args.clone()).await
    }

    /// Checks a finding against the view and keeps it for the end of the run.
    fn report_finding(
        &self,
        change: &ReviewedChange,
        args: &Value,
    ) -> Result<tools::ToolOutput, String> {
        let finding = {
            let view = self.view.lock().unwrap_or_else(|p| p.into_inner());
            crate::review::report(&view, change, args)?
        };
        let mut findings = self.findings.lock().unwrap_or_else(|p| p.into_inner());
        let text = format!(
            "Recorded finding {} on {}{}.",
            findings.len() + 1,
            finding.path,
            if finding.report.outside_change {
                " (outside the reviewed change)"
            } else {
                ""
            }
        );
        findings.push(finding);
        Ok(tools::ToolOutput {
            text,
            ..tools::ToolOutput::default()
        })
    }

    /// The files `read_file` or `apply_patch` is about to read that the view was not
    /// given are asked of the editor first ([`Task::editor_text`]: ACP's
    /// `fs/read_text_file`), so that an unsaved buffer is what the tool, the patch's base
    /// and later commands see. Searches and commands read the view as it is.
    async fn read_from_editor(&self, name: &str, args: &Value) {
        let text = |key: &str| args.get(key).and_then(Value::as_str);
        let paths: Vec<String> = match name {
            tools::read_file::NAME => text("path").map(str::to_owned).into_iter().collect(),
            tools::APPLY_PATCH => text("input")
                .and_then(|input| crate::patch::parse_patch(input).ok())
                .map(|patch| {
                    let paths = patch.hunks.iter().flat_map(|hunk| hunk.paths());
                    paths.map(str::to_owned).collect()
                })
                .unwrap_or_default(),
            _ => return,
        };
        for path in paths {
            let rel = {
                let view = self.view.lock().unwrap_or_else(|p| p.into_inner());
                match view.resolve(&path) {
                    Ok(rel) if !view.holds(&rel) => rel,
                    _ => continue,
                }
            };
            let first = self
                .editor_asked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(rel.clone());
            if !first {
                continue;
            }
            if let Some(text) = self.task.editor_text(&rel, EDITOR_READ_TIMEOUT).await {
                let mut view = self.view.lock().unwrap_or_else(|p| p.into_inner());
                view.take_buffer(&rel, text);
            }
        }
    }

    /// Tools read files and walk directories: keep them off the async workers.
    async fn run_blocking(&self, name: String, args: Value) -> Result<tools::ToolOutput, String> {
        let view = self.view.clone();
        let mode = self.mode;
        tokio::task::spawn_blocking(move || {
            let mut view = view.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            tools::run(&name, &args, &mut view, mode)
        })
        .await
        .unwrap_or_else(|join_error| Err(format!("the tool crashed: {join_error}")))
    }

    fn report_proposal_size(&self) {
        self.changes.report(&self.task, &self.view);
    }
}

pub(crate) fn truncate_for_client(text: &str) -> String {
    if text.len() <= CLIENT_OUTPUT_LIMIT {
        return text.to_string();
    }
    let mut cut = CLIENT_OUTPUT_LIMIT;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}\n… ({} more bytes)", &text[..cut], text.len() - cut)
}
