//! A task's plugin command tools: each tool of a packaged-tools manifest is a model tool
//! that runs its command the way `shell` runs one — in the task's view, under the sandbox,
//! approved by the same rules — so what it changes becomes hunks to review. The command
//! may also read its plugin's folder and write its `${PLUGIN_DATA}`, and finds both in
//! `PLUGIN_ROOT` / `PLUGIN_DATA`.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::shell::Access;
use crate::mcp::names::{ToolNamer, sanitize};
use crate::model::ToolSpec;
use crate::plugins::{Plugin, ToolCommand};
use crate::protocol::TaskMode;
use crate::tools::ToolOutput;
use crate::tools::shell::ShellArgs;

/// How long a command tool may run when its manifest does not say.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The command tools one task run may call.
#[derive(Default)]
pub struct PluginTools {
    tools: Vec<PluginTool>,
}

struct PluginTool {
    model_name: String,
    plugin: String,
    description: String,
    command: ToolCommand,
    timeout: Duration,
    access: Access,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(default)]
    args: Vec<String>,
}

impl PluginTools {
    /// The tools of `plugins`, named by their own names unless `namer` already gave the
    /// name out (a built-in tool, another plugin's).
    pub fn new(plugins: &[Plugin], namer: &mut ToolNamer) -> PluginTools {
        let mut tools = Vec::new();
        for plugin in plugins {
            let env = vec![
                ("PLUGIN_ROOT".to_string(), plugin.root.display().to_string()),
                ("PLUGIN_DATA".to_string(), plugin.data.display().to_string()),
            ];
            for tool in &plugin.tools {
                tools.push(PluginTool {
                    model_name: namer.claim(&sanitize(&tool.name), &plugin.name, &tool.name),
                    plugin: plugin.name.clone(),
                    description: tool.description.clone(),
                    command: tool.command.clone(),
                    timeout: tool.timeout.unwrap_or(DEFAULT_TIMEOUT),
                    access: Access {
                        writable: vec![plugin.data.clone()],
                        env: env.clone(),
                    },
                });
            }
        }
        PluginTools { tools }
    }

    /// The names the model calls them by.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tools.iter().map(|t| t.model_name.as_str())
    }

    /// Commands may change files: `ask` mode gets none of them.
    pub fn specs(&self, mode: TaskMode) -> Vec<ToolSpec> {
        if !mode.may_write() {
            return Vec::new();
        }
        self.tools.iter().map(PluginTool::spec).collect()
    }

    pub fn has(&self, model_name: &str) -> bool {
        self.tools.iter().any(|t| t.model_name == model_name)
    }

    /// Runs the tool the model named `model_name`, for `agent`'s task.
    pub async fn call(
        &self,
        agent: &super::Agent,
        call_id: &str,
        model_name: &str,
        args: &Value,
    ) -> Result<ToolOutput, String> {
        let Some(tool) = self.tools.iter().find(|t| t.model_name == model_name) else {
            return Err(format!("unknown tool `{model_name}`"));
        };
        if !agent.mode.may_write() {
            return Err(format!(
                "{model_name} is not available in ask mode: it runs a command. Answer the question instead."
            ));
        }
        let Args { args } = serde_json::from_value(args.clone()).map_err(|e| {
            format!("{model_name} takes {{\"args\": [\"…\"]}} (or no arguments): {e}")
        })?;
        let argv = match &tool.command {
            ToolCommand::Line(line) => ["bash", "-c", line, model_name]
                .into_iter()
                .map(str::to_owned)
                .chain(args)
                .collect(),
            ToolCommand::Argv(command) => command.iter().cloned().chain(args).collect(),
        };
        let command = ShellArgs {
            argv,
            workdir: None,
            timeout: tool.timeout,
            escalation: None,
        };
        agent
            .commands
            .run_command(&agent.task, &agent.view, call_id, &command, &tool.access)
            .await
    }
}

impl PluginTool {
    fn spec(&self) -> ToolSpec {
        let runs = match &self.command {
            ToolCommand::Line(line) => format!("`{line}` (bash; `args` are $1, $2, …)"),
            ToolCommand::Argv(argv) => format!("`{}` (`args` are appended)", argv.join(" ")),
        };
        let what = if self.description.is_empty() {
            String::new()
        } else {
            format!("{}. ", self.description.trim_end_matches('.'))
        };
        ToolSpec {
            name: self.model_name.clone(),
            description: format!(
                "{what}From the plugin `{}`: runs {runs} in the task's copy of the workspace, sandboxed like `shell`; the files it changes become part of your proposal. Returns its exit code and output.",
                self.plugin
            ),
            parameters: json!({
                "type": "object",
                "properties": {
                    "args": {
                        "type": "array",
                        "items": { "type": "string" },
                        "description": "arguments for the command, if it takes any"
                    }
                },
                "additionalProperties": false
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::plugins::{CommandTool, Layout};

    fn plugin(name: &str, tools: &[&str]) -> Plugin {
        Plugin {
            name: name.into(),
            version: None,
            description: None,
            layout: Layout::Tools,
            root: format!("/plugins/{name}").into(),
            data: format!("/data/{name}").into(),
            skills: None,
            mcp_servers: Default::default(),
            tools: tools
                .iter()
                .map(|tool| CommandTool {
                    name: tool.to_string(),
                    description: format!("{tool} things"),
                    command: ToolCommand::Argv(vec!["make".into(), tool.to_string()]),
                    timeout: None,
                })
                .collect(),
            problems: Vec::new(),
        }
    }

    #[test]
    fn tools_keep_their_names_unless_taken_and_are_not_offered_in_ask_mode() {
        let mut namer = ToolNamer::default();
        namer.reserve("shell");
        let plugins = [
            plugin("a", &["run-e2e", "shell"]),
            plugin("b", &["run e2e"]),
        ];
        let tools = PluginTools::new(&plugins, &mut namer);
        let names: Vec<&str> = tools.names().collect();
        assert_eq!(names[0], "run-e2e");
        assert!(names[1].starts_with("shell_") && names[1].len() == "shell_".len() + 8);
        assert_eq!(names[2], "run_e2e", "sanitised, and free");
        assert_eq!(names.len(), 3);
        assert!(tools.specs(TaskMode::Ask).is_empty());
        let spec = &tools.specs(TaskMode::Code)[0];
        assert!(
            spec.description
                .starts_with("run-e2e things. From the plugin `a`: runs `make run-e2e`")
        );
        assert_eq!(tools.tools[0].access.writable, [PathBuf::from("/data/a")]);
    }
}
