//! What agentls puts in a tool call's `rawInput` and `rawOutput` where it builds them
//! itself: a permission question's input (the model's own arguments are passed as they
//! came) and a finished call's output. ACP leaves their shape to the agent; these are
//! ours, named as the tools name their arguments so a client sees one shape per tool.

use serde::Serialize;
use serde_json::Value;

/// `apply_patch`'s input: the patch as the model wrote it.
#[derive(Debug, Serialize)]
pub struct PatchInput {
    pub input: String,
}

/// `shell`'s input: the command and the directory it runs in.
#[derive(Debug, Serialize)]
pub struct CommandInput {
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
}

/// An MCP tool call's input.
#[derive(Debug, Serialize)]
pub struct McpCallInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
}

/// A finished tool call's output, as the model got it.
#[derive(Debug, Serialize)]
pub struct ToolOutput {
    pub output: String,
}

/// As JSON for `rawInput`/`rawOutput`; these shapes always serialize.
pub fn to_raw(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
