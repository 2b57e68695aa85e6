//! Stands around tower-lsp, so that bad input costs one message, never the session.
//!
//! tower-lsp reads through tokio-util's `FramedRead`, which ends the stream after the first
//! decode error: one message tower-lsp cannot decode, and the server stops reading for
//! good. So the client's bytes never reach tower-lsp directly:
//!
//! ```text
//! stdin ─▶ FrameReader ─▶ vet ─(what tower-lsp decodes)─▶ pipe ─▶ tower-lsp
//!                          │                                          │
//!                          │ error replies, notices                   │ its output
//!                          ▼                                          ▼
//!                       Replies ──────────▶ writer ◀────────────── pipe
//!                                             │ whole frames
//!                                             ▼
//!                                           stdout
//! ```
//!
//! - [`frames`] re-frames the input itself and, after a header it cannot trust,
//!   resynchronises on the next `Content-Length`.
//! - [`vet`] forwards a message only if tower-lsp 0.23's decoder accepts it (see
//!   [`vet`] for its exact rules) and otherwise answers it here: an error reply echoing
//!   the id when it is one tower-lsp could have echoed, `"id": null` when not (JSON-RPC
//!   2.0 §5); a malformed *response* from the client is never answered (nobody waits for
//!   an answer to an answer) but becomes an error response for its request when its id
//!   is usable, and a `window/logMessage` notice when not.
//! - [`writer`] owns stdout. The guard's replies cannot go through tower-lsp: before
//!   `initialize` tower-lsp answers every request with "server not initialized", after
//!   `shutdown` with a bare "Invalid request", and requests with `"id": null` share one
//!   slot in its table of pending requests, so a reason would be lost exactly when a burst
//!   of bad input needs it. tower-lsp therefore writes into a pipe, and one task copies its
//!   output to stdout frame by frame with the guard's replies put between frames: two
//!   producers, never a frame cut by another. It costs one copy of each outgoing message.
//! - [`AnswerEveryRequest`] wraps the service: tower-lsp drops the MethodNotFound error of
//!   any `$/` method, requests included, but LSP wants an error for an unhandled request
//!   (only `$/` *notifications* may go unanswered).
//!
//! The guard also supplies the `params: {}` that clients often leave out of parameterless
//! `agent/*` requests.

mod frames;
mod writer;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};
use tokio::task::JoinHandle;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Id, Request, Response};
use tower_lsp_server::ls_types::notification::{LogMessage, Notification};
use tower_lsp_server::ls_types::{LogMessageParams, MessageType};
use tower_service::Service;

use frames::{Frame, FrameReader, write_frame};
use writer::Replies;

/// Room in each pipe between the guard, tower-lsp and the writer.
const PIPE_BYTES: usize = 64 * 1024;

/// The ends of guarded stdio that tower-lsp's `Server` reads and writes.
pub(super) struct Stdio {
    pub(super) input: DuplexStream,
    pub(super) output: DuplexStream,
    /// Ends once tower-lsp's output has ended and all of it has reached stdout.
    pub(super) written: JoinHandle<()>,
}

impl Stdio {
    /// Starts the guard on `stdin` and the writer on `stdout`.
    pub(super) fn start(
        stdin: impl AsyncRead + Unpin + Send + 'static,
        stdout: impl AsyncWrite + Unpin + Send + 'static,
    ) -> Stdio {
        let (output, replies, written) = writer::start(stdout);
        let (input, guarded) = tokio::io::duplex(PIPE_BYTES);
        tokio::spawn(forward(stdin, guarded, replies));
        Stdio {
            input,
            output,
            written,
        }
    }
}

/// Frames and vets `input` until it ends: what tower-lsp can decode goes to `server`, the
/// rest is answered through `replies`.
async fn forward(
    input: impl AsyncRead + Unpin,
    mut server: impl AsyncWrite + Unpin,
    replies: Replies,
) {
    let mut frames = FrameReader::new(input);
    while let Some(frame) = frames.next().await {
        let verdict = match frame {
            Frame::Body(body) => vet(&body),
            Frame::BadHeader(problem) => answer(
                Id::Null,
                ErrorCode::ParseError,
                format!("{problem}; reading resumes at the next Content-Length header"),
            ),
        };
        match verdict {
            Verdict::Forward(body) => {
                if write_frame(&mut server, &body).await.is_err() {
                    return; // tower-lsp stopped reading: the server is exiting
                }
            }
            Verdict::Answer { id, error } => {
                tracing::warn!("answered a malformed message: {}", error.message);
                replies.send(&Response::from_error(id, error)).await;
            }
            Verdict::Notice(problem) => {
                tracing::warn!("ignored a malformed message: {problem}");
                let params = LogMessageParams {
                    typ: MessageType::ERROR,
                    message: format!("agentls ignored a malformed message: {problem}"),
                };
                let notice = Request::build(LogMessage::METHOD)
                    .params(serde_json::to_value(params).unwrap_or_default())
                    .finish();
                replies.send(&notice).await;
            }
        }
    }
}

/// What becomes of one received message.
#[derive(Debug)]
enum Verdict {
    /// Hand these bytes to tower-lsp.
    Forward(Vec<u8>),
    /// Reply to the client with this error, tower-lsp never seeing the message.
    Answer { id: Id, error: Error },
    /// Tell the user; there is nobody to reply to.
    Notice(String),
}

/// Decides what becomes of a message body.
///
/// tower-lsp 0.23 decodes each body as its crate-private `jsonrpc::Message`, an untagged
/// `Response | Request` (tower-lsp's `src/jsonrpc.rs`, `request.rs`, `response.rs`):
/// - both need `"jsonrpc": "2.0"`;
/// - `Request`: `method` a string if present, `params` anything, `id` if present an
///   [`Id`]: an integer in i64 range, a string or null (so not `1.5`, `1e3`, `true`,
///   `[1]`, `{}`, nor an integer beyond i64, requests and responses alike);
/// - `Response`: an [`Id`] (required), and a `result` of any value or an `error` that is
///   exactly `{code: i64, message: string, data?}` ([`Error`] denies other fields).
///
/// The guard forwards only messages it has re-serialized from a parsed value (so
/// duplicate keys, nesting and number syntax are settled before tower-lsp sees them) that
/// meet these rules, checked with tower-lsp's own [`Id`] and [`Error`] types, plus LSP's
/// own: `params` an object or an array, a message either a request or a response.
fn vet(body: &[u8]) -> Verdict {
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(problem) => {
            return answer(
                Id::Null,
                ErrorCode::ParseError,
                format!("invalid JSON: {problem}"),
            );
        }
    };
    let Value::Object(mut message) = value else {
        return answer(
            Id::Null,
            ErrorCode::InvalidRequest,
            "a JSON-RPC message must be an object (batches are not part of LSP)".to_owned(),
        );
    };
    let id = message.get("id").map(|id| Id::deserialize(id).ok());
    let is_response = !message.contains_key("method")
        && (message.contains_key("result") || message.contains_key("error"));
    match (problem(&message), is_response) {
        (None, _) => {
            if let Some(Value::String(method)) = message.get("method")
                && method.starts_with("agent/")
                && matches!(message.get("params"), None | Some(Value::Null))
            {
                message.insert("params".into(), Value::Object(Map::new()));
            }
            Verdict::Forward(to_json(&Value::Object(message)))
        }
        (Some(problem), true) => match id {
            // The request it answers is not left waiting forever.
            Some(Some(id)) => {
                tracing::warn!("a malformed response from the client: {problem}");
                let response = Response::from_error(
                    id,
                    error(
                        ErrorCode::InvalidRequest,
                        format!("the client's response {problem}"),
                    ),
                );
                Verdict::Forward(to_json(&response))
            }
            _ => Verdict::Notice(format!("a response {problem}")),
        },
        (Some(problem), false) => answer(
            id.flatten().unwrap_or(Id::Null),
            ErrorCode::InvalidRequest,
            format!("invalid JSON-RPC: the message {problem}"),
        ),
    }
}

/// The first thing about `message` that tower-lsp (or LSP) would not take, in words.
fn problem(message: &Map<String, Value>) -> Option<String> {
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Some("lacks \"jsonrpc\": \"2.0\"".to_owned());
    }
    if let Some(id) = message.get("id")
        && Id::deserialize(id).is_err()
    {
        let what = match id {
            Value::Number(number) if number.is_u64() => format!("{number}, beyond 2^63-1"),
            Value::Number(_) => "a number with a fraction or an exponent, or beyond 64 bits".into(),
            Value::Bool(_) => "a boolean".into(),
            Value::Array(_) => "an array".into(),
            _ => "an object".into(),
        };
        return Some(format!(
            "has an id that is {what}; an id is an integer from -2^63 to 2^63-1 or a string"
        ));
    }
    match message.get("method") {
        Some(Value::String(_)) => {
            let params = message.get("params");
            if params.is_some_and(|p| !p.is_object() && !p.is_array() && !p.is_null()) {
                return Some("has \"params\" that are neither an object nor an array".to_owned());
            }
            None
        }
        Some(_) => Some("has a \"method\" that is not a string".to_owned()),
        None if message.contains_key("result") || message.contains_key("error") => {
            if !message.contains_key("id") {
                return Some("has no id".to_owned());
            }
            if !message.contains_key("result")
                && let Err(problem) = Error::deserialize(&message["error"])
            {
                return Some(format!(
                    "has an error that is not {{code, message, data?}}: {problem}"
                ));
            }
            None
        }
        None => Some(
            "is neither a request (no \"method\") nor a response (no \"result\" or \"error\")"
                .to_owned(),
        ),
    }
}

fn answer(id: Id, code: ErrorCode, message: String) -> Verdict {
    Verdict::Answer {
        id,
        error: error(code, message),
    }
}

fn error(code: ErrorCode, message: String) -> Error {
    Error {
        code,
        message: message.into(),
        data: None,
    }
}

fn to_json(message: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(message).expect("a JSON value always serializes")
}

/// Wraps tower-lsp's service so that every request with an id is answered.
///
/// `LspService` turns the MethodNotFound error of any method starting with `$/` into no
/// response at all, for requests too (tower-lsp's `src/service.rs`); LSP allows that only
/// for notifications. A `$/` request the service left unanswered gets the MethodNotFound
/// error any other unknown method gets (the method name as `data`). Nothing else changes:
/// a `$/` method the server does handle answers for itself.
pub(super) struct AnswerEveryRequest<S>(pub(super) S);

impl<S> Service<Request> for AnswerEveryRequest<S>
where
    S: Service<Request, Response = Option<Response>>,
    S::Future: Send + 'static,
{
    type Response = Option<Response>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Option<Response>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let dropped_if_unknown = match request.id() {
            Some(id) if request.method().starts_with("$/") => {
                Some((id.clone(), request.method().to_owned()))
            }
            _ => None,
        };
        let response = self.0.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.or_else(|| {
                let (id, method) = dropped_if_unknown?;
                let mut error = Error::method_not_found();
                error.data = Some(Value::String(method));
                Some(Response::from_error(id, error))
            }))
        })
    }
}

#[cfg(test)]
mod tests;
