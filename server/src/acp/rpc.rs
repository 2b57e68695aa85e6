//! JSON-RPC 2.0 over newline-delimited JSON, the ACP transport: one message per line on a
//! pair of byte streams (an agent's stdout and stdin when agentls hosts it; agentls's own
//! stdin and stdout when an editor hosts agentls). Either side may send requests and
//! notifications at any time.
//!
//! A [`Connection`] owns two tasks: a reader that matches responses to the requests
//! waiting for them and hands every request and notification from the peer to the
//! receiver returned by [`Connection::new`], in order; and a writer that sends one line per
//! message, so concurrent senders never interleave bytes. A line that is not JSON-RPC
//! costs that line: it is answered with a parse error (`id: null`) and the connection goes
//! on. When the peer's output ends, every request still waiting fails with
//! [`RequestError::Closed`] and the receiver ends.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::types::error_code;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            error_code::METHOD_NOT_FOUND,
            format!("method `{method}` is not supported"),
        )
    }

    pub fn invalid_params(method: &str, error: impl fmt::Display) -> Self {
        Self::new(
            error_code::INVALID_PARAMS,
            format!("invalid parameters for `{method}`: {error}"),
        )
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (error {})", self.message, self.code)?;
        if let Some(data) = &self.data {
            write!(f, ": {data}")?;
        }
        Ok(())
    }
}

/// Why a request got no usable answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// The peer's output ended (it exited, or closed the stream) before it answered.
    #[error("the connection closed before an answer came")]
    Closed,
    #[error("{0}")]
    Remote(RpcError),
    /// The answer did not have the result's shape.
    #[error("the answer cannot be read: {0}")]
    BadResult(String),
}

/// A message from the peer that is not a response.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// Must be answered with [`Connection::respond`], with this `id`.
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
        params: Value,
    },
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, RpcError>>>>>;

/// One end of a JSON-RPC connection. Cheap to share behind an `Arc`.
pub struct Connection {
    lines: mpsc::UnboundedSender<String>,
    pending: Pending,
    next_id: AtomicU64,
    closed: CancellationToken,
}

impl Connection {
    /// Starts the reader and writer tasks on `input` (the peer's output) and `output`
    /// (the peer's input). Must be called within a tokio runtime.
    pub fn new<R, W>(input: R, output: W) -> (Connection, mpsc::UnboundedReceiver<Incoming>)
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (lines, to_write) = mpsc::unbounded_channel();
        let (incoming, received) = mpsc::unbounded_channel();
        let pending: Pending = Arc::default();
        let closed = CancellationToken::new();
        tokio::spawn(write_lines(to_write, output));
        tokio::spawn(read_lines(
            input,
            pending.clone(),
            incoming,
            lines.clone(),
            closed.clone(),
        ));
        let connection = Connection {
            lines,
            pending,
            next_id: AtomicU64::new(0),
            closed,
        };
        (connection, received)
    }

    /// Sends a request and waits for its answer.
    pub async fn request<P: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<T, RequestError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        lock(&self.pending).insert(id, answer);
        if self.closed.is_cancelled() {
            lock(&self.pending).remove(&id);
            return Err(RequestError::Closed);
        }
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        match answered.await {
            Ok(Ok(result)) => {
                serde_json::from_value(result).map_err(|e| RequestError::BadResult(e.to_string()))
            }
            Ok(Err(error)) => Err(RequestError::Remote(error)),
            Err(_) => Err(RequestError::Closed),
        }
    }

    pub fn notify<P: Serialize>(&self, method: &str, params: &P) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Answers a request of the peer.
    pub fn respond(&self, id: Value, result: Result<Value, RpcError>) {
        self.send(response(id, result));
    }

    /// Resolves once the peer's output has ended.
    pub async fn closed(&self) {
        self.closed.cancelled().await
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    fn send(&self, message: Value) {
        // The writer is gone only once the peer's input is closed; the reader reports that.
        let _ = self.lines.send(message.to_string());
    }
}

fn response(id: Value, result: Result<Value, RpcError>) -> Value {
    match result {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(error) => json!({"jsonrpc": "2.0", "id": id, "error": error}),
    }
}

async fn write_lines<W: AsyncWrite + Unpin>(
    mut lines: mpsc::UnboundedReceiver<String>,
    mut out: W,
) {
    while let Some(mut line) = lines.recv().await {
        line.push('\n');
        if out.write_all(line.as_bytes()).await.is_err() || out.flush().await.is_err() {
            return;
        }
    }
}

async fn read_lines<R: AsyncRead + Unpin>(
    input: R,
    pending: Pending,
    incoming: mpsc::UnboundedSender<Incoming>,
    replies: mpsc::UnboundedSender<String>,
    closed: CancellationToken,
) {
    let mut lines = BufReader::new(input).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim().is_empty() {
            continue;
        }
        match classify(&line) {
            Ok(Message::Response { id, result }) => match lock(&pending).remove(&id) {
                Some(waiting) => {
                    let _ = waiting.send(result);
                }
                None => tracing::warn!("ACP: an answer to no request of ours (id {id})"),
            },
            Ok(Message::Incoming(message)) => {
                let _ = incoming.send(message);
            }
            Err(problem) => {
                tracing::warn!("ACP: skipped a line that is not JSON-RPC ({problem}): {line:.200}");
                let error = RpcError::new(error_code::PARSE_ERROR, problem);
                let _ = replies.send(response(Value::Null, Err(error)).to_string());
            }
        }
    }
    closed.cancel();
    // Waiting requests fail now rather than hang: their senders are dropped.
    lock(&pending).clear();
}

enum Message {
    Response {
        id: u64,
        result: Result<Value, RpcError>,
    },
    Incoming(Incoming),
}

fn classify(line: &str) -> Result<Message, String> {
    let mut value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Some(object) = value.as_object_mut() else {
        return Err("not a JSON object".into());
    };
    let params = object.remove("params").unwrap_or(Value::Null);
    match (object.remove("method"), object.remove("id")) {
        (Some(Value::String(method)), Some(id)) => {
            Ok(Message::Incoming(Incoming::Request { id, method, params }))
        }
        (Some(Value::String(method)), None) => {
            Ok(Message::Incoming(Incoming::Notification { method, params }))
        }
        (Some(_), _) => Err("`method` is not a string".into()),
        (None, Some(id)) => {
            // Our ids are numbers; a peer may echo them back as strings.
            let id = id
                .as_u64()
                .or_else(|| id.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| format!("a response with an id we never sent: {id}"))?;
            let result = match (object.remove("result"), object.remove("error")) {
                (_, Some(error)) => Err(serde_json::from_value(error)
                    .unwrap_or_else(|e| RpcError::new(error_code::INTERNAL_ERROR, e.to_string()))),
                (Some(result), None) => Ok(result),
                (None, None) => Ok(Value::Null),
            };
            Ok(Message::Response { id, result })
        }
        (None, None) => Err("neither a request, a notification nor a response".into()),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, duplex};

    #[tokio::test]
    async fn requests_both_ways_and_bad_lines_cost_one_line() {
        let (ours, theirs) = duplex(4096);
        let (read, write) = tokio::io::split(ours);
        let (connection, mut incoming) = Connection::new(read, write);
        let (their_read, mut their_write) = tokio::io::split(theirs);
        let mut their_lines = BufReader::new(their_read).lines();

        their_write
            .write_all(b"{oops\n{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"fs/read_text_file\",\"params\":{\"path\":\"/x\"}}\n")
            .await
            .unwrap();
        let parse_error: Value =
            serde_json::from_str(&their_lines.next_line().await.unwrap().unwrap()).unwrap();
        assert_eq!(parse_error["error"]["code"], error_code::PARSE_ERROR);
        assert_eq!(parse_error["id"], Value::Null);
        let Some(Incoming::Request { id, method, params }) = incoming.recv().await else {
            panic!("a request");
        };
        assert_eq!(
            (id.clone(), method.as_str()),
            (json!("a"), "fs/read_text_file")
        );
        assert_eq!(params["path"], "/x");
        connection.respond(id, Ok(json!({"content": "hi"})));
        let answer: Value =
            serde_json::from_str(&their_lines.next_line().await.unwrap().unwrap()).unwrap();
        assert_eq!(
            answer,
            json!({"jsonrpc": "2.0", "id": "a", "result": {"content": "hi"}})
        );

        let asking = tokio::spawn(async move {
            let result: Result<Value, RequestError> = connection
                .request("session/new", &json!({"cwd": "/w"}))
                .await;
            (result, connection)
        });
        let request: Value =
            serde_json::from_str(&their_lines.next_line().await.unwrap().unwrap()).unwrap();
        assert_eq!(request["method"], "session/new");
        let reply = json!({"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32000, "message": "log in"}});
        their_write
            .write_all(format!("{reply}\n").as_bytes())
            .await
            .unwrap();
        let (result, connection) = asking.await.unwrap();
        assert_eq!(
            result,
            Err(RequestError::Remote(RpcError::new(-32000, "log in")))
        );

        let waiting = tokio::spawn(async move {
            connection
                .request::<_, Value>("session/prompt", &json!({}))
                .await
        });
        their_lines.next_line().await.unwrap();
        drop(their_write);
        drop(their_lines);
        assert_eq!(waiting.await.unwrap(), Err(RequestError::Closed));
        assert!(incoming.recv().await.is_none(), "the receiver ends too");
    }
}
