//! A scripted OpenAI-compatible model server for the editor clients' end-to-end tests:
//! the same server the Rust integration tests use, started as a process.
//!
//! Usage: `cargo run --example scripted_model -- SCRIPT.json`
//! SCRIPT.json is a list of replies, served in order to successive requests:
//!   {"text": "…"}                                   a streamed answer
//!   {"toolCall": {"name": "apply_patch", "arguments": {…}}}
//!   {"toolCalls": [{"name": …, "arguments": …}, …]}
//!   {"customToolCall": {"name": "apply_patch", "input": "*** Begin Patch…"}}  (Responses)
//!   {"status": 500, "message": "…"}                 an HTTP error
//!   {"stallMs": 60000, "then": {"text": "…"}}      starts `then`, then goes quiet that long
//!   {"conversation": [entry, …]}                   one client's replies (attempts running
//!                                                  at once each get their own)
//! It prints `listening on http://127.0.0.1:PORT/v1` on stdout once ready, then serves
//! until killed. Every request body is appended as one JSON line to `$SCRIPTED_MODEL_LOG`
//! when that variable is set.

#[path = "../../tests/support/model_server.rs"]
#[allow(dead_code)]
mod model_server;

use std::io::Write;

use model_server::{ModelServer, Reply};
use serde_json::Value;

fn reply(entry: &Value) -> Result<Reply, String> {
    let calls = |list: &Value| -> Result<Vec<(String, Value)>, String> {
        list.as_array()
            .ok_or("toolCalls must be a list")?
            .iter()
            .map(|call| {
                let name = call["name"].as_str().ok_or("a tool call needs a name")?;
                Ok((name.to_string(), call["arguments"].clone()))
            })
            .collect()
    };
    if let Some(text) = entry["text"].as_str() {
        Ok(Reply::text(text))
    } else if entry["toolCall"].is_object() {
        Ok(Reply::ToolCalls(calls(&Value::Array(vec![
            entry["toolCall"].clone(),
        ]))?))
    } else if let Some(call) = entry["customToolCall"].as_object() {
        let field = |key: &str| {
            call.get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or(format!("a custom tool call needs a string `{key}`"))
        };
        Ok(Reply::custom_tool_call(field("name")?, field("input")?))
    } else if entry["toolCalls"].is_array() {
        Ok(Reply::ToolCalls(calls(&entry["toolCalls"])?))
    } else if let Some(replies) = entry["conversation"].as_array() {
        Ok(Reply::conversation(
            replies.iter().map(reply).collect::<Result<_, _>>()?,
        ))
    } else if let Some(ms) = entry["stallMs"].as_u64() {
        Ok(Reply::stall(
            std::time::Duration::from_millis(ms),
            reply(&entry["then"])?,
        ))
    } else if let Some(status) = entry["status"].as_u64() {
        Ok(Reply::Status(
            status as u16,
            entry["message"]
                .as_str()
                .unwrap_or("scripted error")
                .to_string(),
        ))
    } else {
        Err(format!("unknown script entry {entry}"))
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: scripted_model SCRIPT.json")?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let entries: Vec<Value> = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let script = entries.iter().map(reply).collect::<Result<Vec<_>, _>>()?;
    let server = ModelServer::start(script).await;
    println!("listening on {}", server.base_url());
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    let log = std::env::var_os("SCRIPTED_MODEL_LOG");
    let mut logged = 0;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let requests = server.requests();
        if let Some(log) = &log {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .map_err(|e| e.to_string())?;
            for request in &requests[logged..] {
                writeln!(file, "{request}").map_err(|e| e.to_string())?;
            }
        }
        logged = requests.len();
    }
}
