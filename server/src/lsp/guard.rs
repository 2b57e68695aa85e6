//! Stands between the client's bytes and tower-lsp, so bad input costs one message, not
//! the session.
//!
//! tower-lsp reads through tokio-util's `FramedRead`, which ends the stream after the first
//! decode error: one message of invalid JSON, or valid JSON that is not JSON-RPC, and the
//! server stops reading for good. This guard re-frames every message itself and forwards
//! only well-formed ones. A malformed message becomes an `agentls/invalidRequest` request
//! when its id can be recovered (so the client gets an error for it) and an
//! `agentls/malformedMessage` notification otherwise (logged and shown to the user).
//! It also supplies the `params: {}` that clients often leave out of parameterless
//! `agent/*` requests.

use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

pub const INVALID_REQUEST_METHOD: &str = "agentls/invalidRequest";
pub const MALFORMED_MESSAGE_METHOD: &str = "agentls/malformedMessage";

/// Far above any real LSP message; a larger Content-Length is a broken client.
const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// Copies framed messages from `input` to `output` until `input` ends.
pub async fn forward(input: impl AsyncRead + Unpin, mut output: impl AsyncWrite + Unpin) {
    let mut input = BufReader::new(input);
    loop {
        let length = match read_headers(&mut input).await {
            Ok(Some(length)) => length,
            Ok(None) => return,
            Err(problem) => {
                tracing::warn!("dropping a message: {problem}");
                if write_message(&mut output, &malformed(None, &problem))
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
        };
        let mut body = vec![0; length];
        if input.read_exact(&mut body).await.is_err() {
            return;
        }
        let message = vet(&body);
        if write_message(&mut output, &message).await.is_err() {
            return;
        }
    }
}

/// Reads header lines up to the blank line. Ok(None) at end of input.
async fn read_headers(input: &mut (impl AsyncBufReadExt + Unpin)) -> Result<Option<usize>, String> {
    let mut length = None;
    let mut saw_header = false;
    loop {
        let mut line = String::new();
        match input.read_line(&mut line).await {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(error) => return Err(format!("unreadable header: {error}")),
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            if !saw_header {
                continue;
            }
            return match length {
                Some(length) if length <= MAX_MESSAGE_BYTES => Ok(Some(length)),
                Some(length) => Err(format!(
                    "Content-Length {length} is larger than {MAX_MESSAGE_BYTES} bytes"
                )),
                None => Err("a message without a Content-Length header".into()),
            };
        }
        saw_header = true;
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok();
        }
    }
}

/// The message to hand to tower-lsp for one received body.
fn vet(body: &[u8]) -> Value {
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(error) => return malformed(None, &format!("invalid JSON: {error}")),
    };
    let Value::Object(mut object) = value else {
        return malformed(
            None,
            "a JSON-RPC message must be an object (batches are not part of LSP)",
        );
    };
    let id = object
        .get("id")
        .filter(|id| id.is_string() || id.is_i64() || id.is_u64())
        .cloned();
    if object.get("jsonrpc") != Some(&json!("2.0")) {
        return malformed(id, "the message lacks \"jsonrpc\": \"2.0\"");
    }
    match object.get("method") {
        Some(Value::String(method)) => {
            let absent = matches!(object.get("params"), None | Some(Value::Null));
            if absent && method.starts_with("agent/") {
                object.insert("params".into(), Value::Object(Map::new()));
            }
            if object
                .get("params")
                .is_some_and(|p| !p.is_object() && !p.is_array() && !p.is_null())
            {
                return malformed(id, "\"params\" must be an object or an array");
            }
            Value::Object(object)
        }
        Some(_) => malformed(id, "\"method\" must be a string"),
        None if id.is_some() && (object.contains_key("result") || object.contains_key("error")) => {
            Value::Object(object)
        }
        None => malformed(
            id,
            "neither a request (no \"method\") nor a response (no \"result\" or \"error\")",
        ),
    }
}

fn malformed(id: Option<Value>, problem: &str) -> Value {
    match id {
        Some(id) => {
            json!({"jsonrpc": "2.0", "id": id, "method": INVALID_REQUEST_METHOD, "params": {"problem": problem}})
        }
        None => {
            json!({"jsonrpc": "2.0", "method": MALFORMED_MESSAGE_METHOD, "params": {"problem": problem}})
        }
    }
}

async fn write_message(
    output: &mut (impl AsyncWrite + Unpin),
    message: &Value,
) -> std::io::Result<()> {
    let body = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    output
        .write_all(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes())
        .await?;
    output.write_all(&body).await?;
    output.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(input: &[u8]) -> Vec<Value> {
        let mut out = Vec::new();
        forward(input, &mut out).await;
        let text = String::from_utf8(out).unwrap();
        text.split("Content-Length: ")
            .filter(|part| !part.is_empty())
            .map(|part| serde_json::from_str(part.split_once("\r\n\r\n").unwrap().1).unwrap())
            .collect()
    }

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    #[tokio::test]
    async fn good_messages_pass_and_bad_ones_become_reportable() {
        let input = [
            frame(r#"{"jsonrpc":"2.0","id":1,"method":"agent/listTasks"}"#),
            frame("{not json"),
            frame(r#"{"jsonrpc":"2.0","id":7,"params":{}}"#),
            "X-Junk: 1\r\n\r\n".to_string(),
            frame(r#"[1,2]"#),
            frame(r#"{"jsonrpc":"2.0","id":2,"result":null}"#),
        ]
        .concat();
        let out = run(input.as_bytes()).await;
        assert_eq!(out.len(), 6);
        assert_eq!(out[0]["params"], json!({}), "params filled in for agent/*");
        assert_eq!(out[1]["method"], MALFORMED_MESSAGE_METHOD);
        assert!(
            out[1]["params"]["problem"]
                .as_str()
                .unwrap()
                .contains("invalid JSON")
        );
        assert_eq!(out[2]["method"], INVALID_REQUEST_METHOD);
        assert_eq!(out[2]["id"], 7);
        assert!(
            out[3]["params"]["problem"]
                .as_str()
                .unwrap()
                .contains("Content-Length")
        );
        assert_eq!(out[4]["method"], MALFORMED_MESSAGE_METHOD);
        assert_eq!(out[5]["result"], Value::Null);
    }

    #[tokio::test]
    async fn a_body_cut_short_ends_the_stream_quietly() {
        let out = run(b"Content-Length: 50\r\n\r\n{\"jsonrpc\"").await;
        assert!(out.is_empty());
    }
}
