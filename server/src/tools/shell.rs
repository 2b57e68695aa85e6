//! The `shell` tool's contract with the model: its schema, its arguments, and how a
//! finished command is reported (exit code, wall time, capped output), and how a command
//! reads as one line (`CommandWatch` follows a task's last one). Running it —
//! approvals, the view directory, the sandbox — is the agent's job (`agent::shell`),
//! because it waits on processes and on the user.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::protocol::{LastCommand, TaskUpdate, ToolCallStatus};
use crate::sandbox::run::Finished;

pub const NAME: &str = "shell";
/// Bytes of output the model gets from one command (head and tail).
pub const OUTPUT_LIMIT: usize = 16 * 1024;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
const MAX_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub fn description() -> String {
    "Run a command in the task's copy of the workspace (your edits included; the user's files are never touched) \
and return its exit code and output. Runs sandboxed: writes only inside the workspace copy and $TMPDIR, no network. \
Give `command` as an argv array (e.g. [\"python3\", \"-m\", \"unittest\"]) or one shell string. \
`workdir` is relative to the workspace root. Files the command creates or changes become part of your proposal. \
If a command needs to run outside the sandbox, set `with_escalated_permissions` and explain why in `justification`; the user decides."
        .to_string()
}

pub fn parameters() -> Value {
    json!({
        "type": "object",
        "properties": {
            "command": {
                "anyOf": [
                    { "type": "array", "items": { "type": "string" } },
                    { "type": "string" }
                ],
                "description": "argv array, or a shell command line"
            },
            "workdir": { "type": "string", "description": "directory to run in, relative to the workspace root" },
            "timeout_ms": {
                "type": "integer",
                "description": format!(
                    "kill the command after this many milliseconds (default {})",
                    DEFAULT_TIMEOUT.as_millis()
                )
            },
            "with_escalated_permissions": { "type": "boolean" },
            "justification": { "type": "string" }
        },
        "required": ["command"],
        "additionalProperties": false
    })
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CommandArg {
    Argv(Vec<String>),
    Line(String),
}

#[derive(Debug, Deserialize)]
struct RawArgs {
    command: CommandArg,
    #[serde(default)]
    workdir: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    with_escalated_permissions: bool,
    #[serde(default)]
    justification: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellArgs {
    pub argv: Vec<String>,
    pub workdir: Option<String>,
    pub timeout: Duration,
    /// The model's reason for running outside the sandbox, when it asks to.
    pub escalation: Option<String>,
}

/// A `shell` call's command as one line, the way a person would type it: a command
/// line as given, an argv with each word quoted where a shell would need it. None when
/// the arguments hold no command.
pub fn command_line(args: &Value) -> Option<String> {
    match args.get("command")? {
        Value::Array(argv) => Some(argv.iter().map(word).collect::<Vec<_>>().join(" ")),
        Value::String(line) => Some(line.clone()),
        _ => None,
    }
}

/// Follows a task's updates to know the last `shell` command that ran to its end and how
/// it exited: what tells a reviewer whether an attempt ended green.
#[derive(Debug, Default)]
pub struct CommandWatch {
    /// Calls under way: call id → the command as one line.
    running: HashMap<String, String>,
    pub last: Option<LastCommand>,
}

impl CommandWatch {
    /// Takes one update in; true when it changed `last`.
    pub fn observe(&mut self, update: &TaskUpdate) -> bool {
        match update {
            TaskUpdate::ToolCall {
                call_id,
                tool,
                args,
                status: ToolCallStatus::Running,
                ..
            } if tool == NAME => {
                if let Some(line) = command_line(args) {
                    self.running.insert(call_id.clone(), line);
                }
                false
            }
            TaskUpdate::ToolResult {
                call_id,
                exit_code: Some(exit_code),
                ..
            } => match self.running.remove(call_id) {
                Some(command) => {
                    self.last = Some(LastCommand {
                        command,
                        exit_code: *exit_code,
                    });
                    true
                }
                None => false,
            },
            _ => false,
        }
    }
}

fn word(value: &Value) -> String {
    let text = value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_string);
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        text
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

pub fn parse(args: &Value) -> Result<ShellArgs, String> {
    let raw: RawArgs = serde_json::from_value(args.clone()).map_err(|e| {
        format!("{NAME} needs {{\"command\": [\"program\", \"arg\", …]}} or {{\"command\": \"a shell line\"}}: {e}")
    })?;
    let argv = match raw.command {
        CommandArg::Argv(argv) => argv,
        CommandArg::Line(line) => vec!["bash".into(), "-c".into(), line],
    };
    if argv.first().is_none_or(|program| program.is_empty()) {
        return Err(format!(
            "{NAME}: `command` is empty; give the program to run"
        ));
    }
    let timeout = raw
        .timeout_ms
        .map_or(DEFAULT_TIMEOUT, Duration::from_millis)
        .min(MAX_TIMEOUT);
    let escalation = raw.with_escalated_permissions.then(|| {
        raw.justification
            .unwrap_or_else(|| "no reason given".to_string())
    });
    Ok(ShellArgs {
        argv,
        workdir: raw.workdir,
        timeout,
        escalation,
    })
}

/// What the model reads about a finished command.
pub fn report(finished: &Finished, timeout: Duration) -> String {
    let status = match (finished.exit_code, finished.timed_out) {
        (_, true) => format!(
            "Timed out after {} ms; the command and everything it started were killed",
            timeout.as_millis()
        ),
        (Some(code), _) => format!("Exit code: {code}"),
        (None, _) => "Stopped".to_string(),
    };
    format!(
        "{status}\nWall time: {:.2} seconds\nOutput:\n{}",
        finished.duration.as_secs_f64(),
        finished.output
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shell_line_runs_through_bash_and_timeouts_are_capped() {
        let args = parse(&json!({"command": "ls | wc -l", "timeout_ms": 999_999_999})).unwrap();
        assert_eq!(args.argv, ["bash", "-c", "ls | wc -l"]);
        assert_eq!(args.timeout, MAX_TIMEOUT);
        assert_eq!(args.escalation, None);
    }

    #[test]
    fn an_empty_command_is_refused_with_a_hint() {
        let error = parse(&json!({"command": []})).unwrap_err();
        assert!(error.contains("empty"), "{error}");
    }
}
