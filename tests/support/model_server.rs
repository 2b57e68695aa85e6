//! A scripted OpenAI-compatible model server for integration tests.
//!
//! It is a real HTTP/1.1 server on loopback (axum) that streams real SSE over chunked
//! transfer encoding, one frame at a time, because the behaviours worth testing (deltas
//! arriving in order, a connection cut mid-reply, a stalled stream, cancelling while
//! bytes flow) only exist on a real connection. Both wire APIs are served:
//! `/v1/chat/completions` and `/v1/responses` render the same scripted [`Reply`]s in their
//! own format, streamed or not as the request asks. Every request is recorded.
//!
//! ```ignore
//! let server = ModelServer::start(vec![Reply::text("Hello!")]).await;
//! // point a provider at server.base_url(), run the code under test, then:
//! assert_eq!(server.requests()[0]["model"], "test-model");
//! ```
//!
//! When the script runs out the server answers 500 "script exhausted", so a test that
//! makes one request too many fails with that message instead of hanging.
//!
//! Clients running at once (attempts of one task, `agentls exec` processes) each get a
//! conversation of their own with [`Reply::conversation`]: a request that answers none
//! of the server's tool calls takes the next script entry, and if that is a
//! conversation, the requests answering its tool calls get its later replies — whatever
//! order the clients' requests arrive in. [`ModelServer::set_latency`] makes every reply
//! wait, and [`ModelServer::max_in_flight`] tells how many requests were answered at
//! once.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use agentls::model::Usage;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The usage every successful reply reports.
pub const USAGE: Usage = Usage {
    input_tokens: 12,
    output_tokens: 34,
    total_tokens: 46,
};

/// The message of the 500 that [`Reply::RejectStreamingWithTools`] answers with.
pub const STREAMING_WITH_TOOLS_REFUSAL: &str = "Automatic streaming tool choice is not supported";

/// Characters per streamed text delta, and per streamed tool-argument delta.
const TEXT_PIECE: usize = 4;
const ARGUMENTS_PIECE: usize = 6;
/// Pause between frames, so that each one reaches the client as its own chunk.
const FRAME_GAP: Duration = Duration::from_millis(1);

/// What the server answers to one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Text streamed in small deltas, then completion and [`USAGE`].
    Text(String),
    /// Parallel tool calls `(name, arguments)`; arguments arrive in fragments, interleaved
    /// between the calls on the chat API.
    ToolCalls(Vec<(String, Value)>),
    /// Reasoning, then text, then tool calls: any of them may be empty.
    Turn {
        reasoning: String,
        text: String,
        tool_calls: Vec<(String, Value)>,
    },
    /// A freeform ("custom") tool call `(name, input)`, as the Responses API sends the
    /// tools Codex declares that way (`apply_patch`): a `custom_tool_call` output item whose
    /// `input` is plain text, not JSON. The Chat Completions API has no such item: a chat
    /// request gets a 500 saying so.
    CustomToolCall(String, String),
    /// An HTTP error whose body is `{"error": {"message": …}}`.
    Status(u16, String),
    /// An HTTP error with a `Retry-After: <seconds>` header.
    StatusRetryAfter {
        status: u16,
        seconds: u64,
        message: String,
    },
    /// Sends this many content deltas (text, reasoning or argument fragments) of the inner
    /// reply, then aborts the connection without the completion events.
    CutAfter(usize, Box<Reply>),
    /// Sends the inner reply, but goes silent for this long after its first delta (before
    /// the body, when the reply is not streamed).
    Stall(Duration, Box<Reply>),
    /// Like llama-cpp-python as documented: a request with `stream: true` and tools gets
    /// a 500 saying [`STREAMING_WITH_TOOLS_REFUSAL`] and leaves this entry in place; any
    /// other request consumes it and is answered with the next reply.
    RejectStreamingWithTools,
    /// Like llama-cpp-python 0.3.36 as measured here: a request with `stream: true` and
    /// tools gets `200 text/event-stream` and an empty body, and leaves this entry in
    /// place; any other request consumes it and is answered with the next reply.
    EmptyStreamWithTools,
    /// `200` with this content type and these pieces of body, verbatim, one network chunk
    /// each, whatever the wire API and the request: for replies no well-behaved server
    /// sends (see [`Reply::raw_events`], [`Reply::raw_body`]).
    Raw {
        content_type: String,
        pieces: Vec<String>,
    },
    /// The replies of one client's conversation: the first answers the request that
    /// takes this entry, each later one the next request answering one of the
    /// conversation's tool calls.
    Conversation(Vec<Reply>),
}

impl Reply {
    pub fn conversation(replies: Vec<Reply>) -> Self {
        Self::Conversation(replies)
    }

    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    pub fn tool_call(name: impl Into<String>, arguments: Value) -> Self {
        Self::ToolCalls(vec![(name.into(), arguments)])
    }

    pub fn custom_tool_call(name: impl Into<String>, input: impl Into<String>) -> Self {
        Self::CustomToolCall(name.into(), input.into())
    }

    pub fn cut_after(deltas: usize, reply: Reply) -> Self {
        Self::CutAfter(deltas, Box::new(reply))
    }

    pub fn stall(silence: Duration, reply: Reply) -> Self {
        Self::Stall(silence, Box::new(reply))
    }

    /// A `text/event-stream` body made of these SSE frames (each with its blank line).
    pub fn raw_events(frames: &[&str]) -> Self {
        Self::Raw {
            content_type: "text/event-stream".to_owned(),
            pieces: frames.iter().map(|frame| (*frame).to_owned()).collect(),
        }
    }

    /// A whole body of this content type.
    pub fn raw_body(content_type: &str, body: &str) -> Self {
        Self::Raw {
            content_type: content_type.to_owned(),
            pieces: vec![body.to_owned()],
        }
    }
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// e.g. `/v1/chat/completions`.
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    /// `null` when the body was not JSON.
    pub body: Value,
}

/// The running server; dropping it shuts it down.
pub struct ModelServer {
    base_url: String,
    shared: Arc<Mutex<Shared>>,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct Shared {
    script: VecDeque<Reply>,
    requests: Vec<RecordedRequest>,
    /// The replies left of each conversation started.
    conversations: Vec<VecDeque<Reply>>,
    /// Tool call id → the conversation it was made in.
    call_owner: std::collections::HashMap<String, usize>,
    latency: Duration,
    in_flight: usize,
    max_in_flight: usize,
}

impl ModelServer {
    pub async fn start(script: Vec<Reply>) -> ModelServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the model server");
        let address = listener
            .local_addr()
            .expect("local address of the model server");
        let shared = Arc::new(Mutex::new(Shared {
            script: script.into(),
            ..Shared::default()
        }));
        let app = Router::new()
            .route("/v1/chat/completions", post(answer))
            .route("/v1/responses", post(answer))
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("model server stopped");
        });
        ModelServer {
            base_url: format!("http://{address}/v1"),
            shared,
            task,
        }
    }

    /// `http://127.0.0.1:PORT/v1`
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Every request body received, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.lock()
            .requests
            .iter()
            .map(|r| r.body.clone())
            .collect()
    }

    /// Every request received, with path, query and headers.
    pub fn recorded(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Appends to the script.
    pub fn push(&self, reply: Reply) {
        self.lock().script.push_back(reply);
    }

    /// How many scripted replies have not been used yet (conversations' included).
    pub fn remaining(&self) -> usize {
        let shared = self.lock();
        shared.script.len()
            + shared
                .conversations
                .iter()
                .map(VecDeque::len)
                .sum::<usize>()
    }

    /// Every reply from now on starts this long after its request arrived, as a remote
    /// model's would.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// The most requests that were being answered at the same moment so far.
    pub fn max_in_flight(&self) -> usize {
        self.lock().max_in_flight
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().expect("model server state poisoned")
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Wire {
    Chat,
    Responses,
}

async fn answer(
    State(shared): State<Arc<Mutex<Shared>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let wire = if uri.path().ends_with("/responses") {
        Wire::Responses
    } else {
        Wire::Chat
    };
    let streaming = body["stream"] == true;
    let offers_tools = body["tools"]
        .as_array()
        .is_some_and(|tools| !tools.is_empty());
    let model = body["model"].as_str().unwrap_or("scripted").to_owned();
    let answered = answered_calls(&body);
    let (plan, request_number, latency) = {
        let mut state = shared.lock().expect("model server state poisoned");
        state.requests.push(RecordedRequest {
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            headers,
            body,
        });
        let request_number = state.requests.len();
        // A conversation that has said everything hands over to the script (a follow-up
        // of the attempt that held it, say).
        let owner = answered
            .iter()
            .rev()
            .find_map(|id| state.call_owner.get(id).copied())
            .filter(|&c| !state.conversations[c].is_empty());
        let (plan, conversation) = match owner {
            Some(c) => (state.conversations[c].pop_front().map(flatten), Some(c)),
            None => match next_plan(&mut state.script, streaming && offers_tools) {
                Some(Err(mut replies)) => {
                    let first = replies.pop_front().map(flatten);
                    state.conversations.push(replies);
                    (first, Some(state.conversations.len() - 1))
                }
                Some(Ok(plan)) => (Some(plan), None),
                None => (None, None),
            },
        };
        if let (Some(Plan::Turn { turn, .. }), Some(c)) = (&plan, conversation) {
            let ids = Ids {
                request: request_number,
            };
            for index in 0..turn.tool_calls.len() {
                state.call_owner.insert(ids.call(index), c);
            }
        }
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        (plan, request_number, state.latency)
    };
    let guard = InFlight(Arc::clone(&shared));
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let Some(plan) = plan else {
        let message = format!("script exhausted: request #{request_number} has no scripted reply");
        return error_response(500, None, &message);
    };
    let ids = Ids {
        request: request_number,
    };
    match plan {
        Plan::Error {
            status,
            retry_after,
            message,
        } => error_response(status, retry_after, &message),
        Plan::EmptyStream => send_frames(Vec::new(), "text/event-stream", None, None, guard),
        Plan::Raw {
            content_type,
            pieces,
        } => {
            let frames = pieces
                .into_iter()
                .map(|bytes| Frame {
                    kind: FrameKind::Structural,
                    bytes,
                })
                .collect();
            send_frames(frames, &content_type, None, None, guard)
        }
        Plan::Turn { turn, .. } if wire == Wire::Chat && !turn.custom_calls.is_empty() => {
            error_response(
                500,
                None,
                "a custom tool call exists only on the Responses API; script a function call for chat",
            )
        }
        Plan::Turn {
            turn,
            cut_after,
            stall,
        } => {
            let frames = if streaming {
                stream_frames(wire, &turn, &model, ids)
            } else {
                vec![Frame::delta(
                    complete_body(wire, &turn, &model, ids).to_string(),
                )]
            };
            let content_type = if streaming {
                "text/event-stream"
            } else {
                "application/json"
            };
            send_frames(frames, content_type, cut_after, stall, guard)
        }
    }
}

/// Takes the reply for this request off the script (`Err`: a conversation's replies);
/// `None` when it is exhausted.
fn next_plan(
    script: &mut VecDeque<Reply>,
    streaming_with_tools: bool,
) -> Option<Result<Plan, VecDeque<Reply>>> {
    match script.front() {
        Some(Reply::RejectStreamingWithTools) if streaming_with_tools => {
            return Some(Ok(Plan::Error {
                status: 500,
                retry_after: None,
                message: STREAMING_WITH_TOOLS_REFUSAL.to_owned(),
            }));
        }
        Some(Reply::EmptyStreamWithTools) if streaming_with_tools => {
            return Some(Ok(Plan::EmptyStream));
        }
        Some(Reply::RejectStreamingWithTools | Reply::EmptyStreamWithTools) => {
            script.pop_front();
        }
        _ => {}
    }
    Some(match script.pop_front()? {
        Reply::Conversation(replies) => Err(replies.into()),
        reply => Ok(flatten(reply)),
    })
}

/// The tool calls a request gives the results of (both wire formats).
fn answered_calls(request: &Value) -> Vec<String> {
    let chat = request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "tool")
        .filter_map(|m| m["tool_call_id"].as_str());
    let responses = request["input"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == "function_call_output")
        .filter_map(|i| i["call_id"].as_str());
    chat.chain(responses).map(str::to_owned).collect()
}

/// Counts a request as being answered until dropped: when its reply's last byte is sent.
struct InFlight(Arc<Mutex<Shared>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut shared) = self.0.lock() {
            shared.in_flight -= 1;
        }
    }
}

/// A reply reduced to what to send and how to misbehave while sending it.
enum Plan {
    Error {
        status: u16,
        retry_after: Option<u64>,
        message: String,
    },
    /// `200 text/event-stream` with nothing in it.
    EmptyStream,
    Raw {
        content_type: String,
        pieces: Vec<String>,
    },
    Turn {
        turn: ScriptedTurn,
        cut_after: Option<usize>,
        stall: Option<Duration>,
    },
}

struct ScriptedTurn {
    reasoning: String,
    text: String,
    tool_calls: Vec<(String, Value)>,
    /// Freeform calls `(name, input)`: Responses only.
    custom_calls: Vec<(String, String)>,
}

fn flatten(reply: Reply) -> Plan {
    let turn = |reasoning: String, text: String, tool_calls| Plan::Turn {
        turn: ScriptedTurn {
            reasoning,
            text,
            tool_calls,
            custom_calls: Vec::new(),
        },
        cut_after: None,
        stall: None,
    };
    match reply {
        Reply::Text(text) => turn(String::new(), text, Vec::new()),
        Reply::ToolCalls(calls) => turn(String::new(), String::new(), calls),
        Reply::CustomToolCall(name, input) => Plan::Turn {
            turn: ScriptedTurn {
                reasoning: String::new(),
                text: String::new(),
                tool_calls: Vec::new(),
                custom_calls: vec![(name, input)],
            },
            cut_after: None,
            stall: None,
        },
        Reply::Turn {
            reasoning,
            text,
            tool_calls,
        } => turn(reasoning, text, tool_calls),
        Reply::Status(status, message) => Plan::Error {
            status,
            retry_after: None,
            message,
        },
        Reply::StatusRetryAfter {
            status,
            seconds,
            message,
        } => Plan::Error {
            status,
            retry_after: Some(seconds),
            message,
        },
        Reply::CutAfter(deltas, inner) => match flatten(*inner) {
            Plan::Turn { turn, stall, .. } => Plan::Turn {
                turn,
                cut_after: Some(deltas),
                stall,
            },
            error => error,
        },
        Reply::Stall(silence, inner) => match flatten(*inner) {
            Plan::Turn {
                turn, cut_after, ..
            } => Plan::Turn {
                turn,
                cut_after,
                stall: Some(silence),
            },
            error => error,
        },
        Reply::Raw {
            content_type,
            pieces,
        } => Plan::Raw {
            content_type,
            pieces,
        },
        Reply::RejectStreamingWithTools | Reply::EmptyStreamWithTools => Plan::Error {
            status: 500,
            retry_after: None,
            message: "streaming refusals only work as top-level script entries".to_owned(),
        },
        Reply::Conversation(_) => Plan::Error {
            status: 500,
            retry_after: None,
            message: "conversations only work as top-level script entries".to_owned(),
        },
    }
}

fn error_response(status: u16, retry_after: Option<u64>, message: &str) -> Response {
    let body = json!({ "error": { "message": message, "type": "scripted_error" } });
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status).expect("a valid scripted HTTP status"))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(seconds) = retry_after {
        response = response.header(header::RETRY_AFTER, seconds.to_string());
    }
    response
        .body(Body::from(body.to_string()))
        .expect("a valid error response")
}

#[derive(Clone, Copy, PartialEq)]
enum FrameKind {
    /// Framing that carries no content (item added, role, comments).
    Structural,
    /// Carries a piece of text, reasoning or arguments.
    Delta,
    /// Tells the client the reply is complete; never sent by a cut reply.
    Terminal,
}

struct Frame {
    kind: FrameKind,
    bytes: String,
}

impl Frame {
    fn delta(bytes: String) -> Self {
        Frame {
            kind: FrameKind::Delta,
            bytes,
        }
    }
}

/// Streams the frames from a task of their own, so that pauses and cuts happen while the
/// client is reading.
fn send_frames(
    frames: Vec<Frame>,
    content_type: &str,
    cut_after: Option<usize>,
    stall: Option<Duration>,
    guard: InFlight,
) -> Response {
    let streaming = content_type == "text/event-stream";
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    tokio::spawn(async move {
        // The request counts as answered once its last frame is handed over, before the
        // client can read it and send its next request.
        let mut answering = Some(guard);
        let last = frames.len().saturating_sub(1);
        if let (Some(silence), false) = (stall, streaming) {
            tokio::time::sleep(silence).await;
        }
        let mut deltas_sent = 0;
        for (index, frame) in frames.into_iter().enumerate() {
            let cut_here = match frame.kind {
                FrameKind::Delta => cut_after == Some(deltas_sent),
                FrameKind::Terminal => cut_after.is_some(),
                FrameKind::Structural => false,
            };
            if cut_here {
                let cut =
                    std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "scripted cut");
                let _ = sender.send(Err(cut)).await;
                return;
            }
            if sender.send(Ok(Bytes::from(frame.bytes))).await.is_err() {
                return; // the client hung up
            }
            if index == last {
                answering.take();
            }
            if frame.kind == FrameKind::Delta {
                deltas_sent += 1;
                if let (Some(silence), true, 1) = (stall, streaming, deltas_sent) {
                    tokio::time::sleep(silence).await;
                }
            }
            tokio::time::sleep(FRAME_GAP).await;
        }
    });
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from_stream(body))
        .expect("a valid streamed response")
}

/// Makes call ids unique across the requests of one server.
#[derive(Clone, Copy)]
struct Ids {
    request: usize,
}

impl Ids {
    fn call(self, index: usize) -> String {
        format!("call_{}_{index}", self.request)
    }
}

fn pieces(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(size)
        .map(|chunk| chunk.iter().collect())
        .collect()
}

fn stream_frames(wire: Wire, turn: &ScriptedTurn, model: &str, ids: Ids) -> Vec<Frame> {
    match wire {
        Wire::Chat => chat_frames(turn, model, ids),
        Wire::Responses => responses_frames(turn, model, ids),
    }
}

fn complete_body(wire: Wire, turn: &ScriptedTurn, model: &str, ids: Ids) -> Value {
    match wire {
        Wire::Chat => chat_completion(turn, model, ids),
        Wire::Responses => response_object(turn, model, ids, "completed"),
    }
}

// ----- Chat Completions -----

fn chat_frames(turn: &ScriptedTurn, model: &str, ids: Ids) -> Vec<Frame> {
    let chunk = |kind: FrameKind, delta: Value, finish_reason: Value| Frame {
        kind,
        bytes: sse_data(&json!({
            "id": "chatcmpl-scripted",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish_reason }],
        })),
    };
    let mut frames = vec![
        Frame {
            kind: FrameKind::Structural,
            bytes: ": scripted model server\n\n".to_owned(),
        },
        chunk(
            FrameKind::Structural,
            json!({ "role": "assistant", "content": null }),
            Value::Null,
        ),
    ];
    for piece in pieces(&turn.reasoning, TEXT_PIECE) {
        frames.push(chunk(
            FrameKind::Delta,
            json!({ "reasoning_content": piece }),
            Value::Null,
        ));
    }
    for piece in pieces(&turn.text, TEXT_PIECE) {
        frames.push(chunk(
            FrameKind::Delta,
            json!({ "content": piece }),
            Value::Null,
        ));
    }
    for (index, (name, _)) in turn.tool_calls.iter().enumerate() {
        let opening = json!({ "tool_calls": [{
            "index": index,
            "id": ids.call(index),
            "type": "function",
            "function": { "name": name, "arguments": "" },
        }] });
        frames.push(chunk(FrameKind::Structural, opening, Value::Null));
    }
    // Fragments of parallel calls interleave, as the client must tell them apart by index.
    let fragments: Vec<Vec<String>> = turn
        .tool_calls
        .iter()
        .map(|(_, arguments)| pieces(&arguments.to_string(), ARGUMENTS_PIECE))
        .collect();
    let rounds = fragments.iter().map(Vec::len).max().unwrap_or(0);
    for round in 0..rounds {
        for (index, call_fragments) in fragments.iter().enumerate() {
            if let Some(fragment) = call_fragments.get(round) {
                let delta = json!({ "tool_calls": [{ "index": index, "function": { "arguments": fragment } }] });
                frames.push(chunk(FrameKind::Delta, delta, Value::Null));
            }
        }
    }
    let finish_reason = if turn.tool_calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    frames.push(chunk(FrameKind::Terminal, json!({}), json!(finish_reason)));
    let usage_chunk = json!({
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [],
        "usage": chat_usage(),
    });
    frames.push(Frame {
        kind: FrameKind::Terminal,
        bytes: sse_data(&usage_chunk),
    });
    frames.push(Frame {
        kind: FrameKind::Terminal,
        bytes: "data: [DONE]\n\n".to_owned(),
    });
    frames
}

fn chat_completion(turn: &ScriptedTurn, model: &str, ids: Ids) -> Value {
    let tool_calls: Vec<Value> = turn
        .tool_calls
        .iter()
        .enumerate()
        .map(|(index, (name, arguments))| {
            json!({
                "id": ids.call(index),
                "type": "function",
                "function": { "name": name, "arguments": arguments.to_string() },
            })
        })
        .collect();
    let mut message = json!({
        "role": "assistant",
        "content": if turn.text.is_empty() { Value::Null } else { json!(turn.text) },
    });
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    if !turn.reasoning.is_empty() {
        message["reasoning_content"] = json!(turn.reasoning);
    }
    json!({
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "finish_reason": if turn.tool_calls.is_empty() { "stop" } else { "tool_calls" },
        }],
        "usage": chat_usage(),
    })
}

fn chat_usage() -> Value {
    json!({
        "prompt_tokens": USAGE.input_tokens,
        "completion_tokens": USAGE.output_tokens,
        "total_tokens": USAGE.total_tokens,
    })
}

fn sse_data(json: &Value) -> String {
    format!("data: {json}\n\n")
}

// ----- Responses -----

fn responses_frames(turn: &ScriptedTurn, model: &str, ids: Ids) -> Vec<Frame> {
    let mut sequence = 0;
    let mut event = |kind: FrameKind, json: Value| {
        let mut json = json;
        json["sequence_number"] = json!(sequence);
        sequence += 1;
        let name = json["type"].as_str().unwrap_or_default().to_owned();
        Frame {
            kind,
            bytes: format!("event: {name}\ndata: {json}\n\n"),
        }
    };
    let items = output_items(turn, ids);
    let mut frames = vec![event(
        FrameKind::Structural,
        json!({ "type": "response.created", "response": response_object(turn, model, ids, "in_progress") }),
    )];
    for (output_index, item) in items.iter().enumerate() {
        let item_id = item["id"].clone();
        let mut started = item.clone();
        match item["type"].as_str() {
            Some("reasoning") => started["summary"] = json!([]),
            Some("message") => started["content"] = json!([]),
            Some("custom_tool_call") => started["input"] = json!(""),
            _ => started["arguments"] = json!(""),
        }
        frames.push(event(
            FrameKind::Structural,
            json!({ "type": "response.output_item.added", "output_index": output_index, "item": started }),
        ));
        let (delta_type, text, size) = match item["type"].as_str() {
            Some("reasoning") => (
                "response.reasoning_summary_text.delta",
                turn.reasoning.as_str(),
                TEXT_PIECE,
            ),
            Some("message") => ("response.output_text.delta", turn.text.as_str(), TEXT_PIECE),
            Some("custom_tool_call") => (
                "response.custom_tool_call_input.delta",
                item["input"].as_str().unwrap_or_default(),
                ARGUMENTS_PIECE,
            ),
            _ => (
                "response.function_call_arguments.delta",
                item["arguments"].as_str().unwrap_or_default(),
                ARGUMENTS_PIECE,
            ),
        };
        for piece in pieces(text, size) {
            frames.push(event(
                FrameKind::Delta,
                json!({ "type": delta_type, "item_id": item_id, "output_index": output_index, "content_index": 0, "delta": piece }),
            ));
        }
        frames.push(event(
            FrameKind::Structural,
            json!({ "type": "response.output_item.done", "output_index": output_index, "item": item }),
        ));
    }
    frames.push(event(
        FrameKind::Terminal,
        json!({ "type": "response.completed", "response": response_object(turn, model, ids, "completed") }),
    ));
    frames
}

fn output_items(turn: &ScriptedTurn, ids: Ids) -> Vec<Value> {
    let mut items = Vec::new();
    if !turn.reasoning.is_empty() {
        items.push(json!({
            "type": "reasoning",
            "id": "rs_scripted",
            "summary": [{ "type": "summary_text", "text": turn.reasoning }],
        }));
    }
    if !turn.text.is_empty() {
        items.push(json!({
            "type": "message",
            "id": "msg_scripted",
            "role": "assistant",
            "status": "completed",
            "content": [{ "type": "output_text", "text": turn.text, "annotations": [] }],
        }));
    }
    for (index, (name, arguments)) in turn.tool_calls.iter().enumerate() {
        items.push(json!({
            "type": "function_call",
            "id": format!("fc_{index}"),
            "call_id": ids.call(index),
            "name": name,
            "arguments": arguments.to_string(),
            "status": "completed",
        }));
    }
    let first_custom = turn.tool_calls.len();
    for (index, (name, input)) in turn.custom_calls.iter().enumerate() {
        items.push(json!({
            "type": "custom_tool_call",
            "id": format!("ctc_{index}"),
            "call_id": ids.call(first_custom + index),
            "name": name,
            "input": input,
            "status": "completed",
        }));
    }
    items
}

fn response_object(turn: &ScriptedTurn, model: &str, ids: Ids, status: &str) -> Value {
    let completed = status == "completed";
    json!({
        "id": "resp_scripted",
        "object": "response",
        "created_at": 0,
        "status": status,
        "model": model,
        "output": if completed { output_items(turn, ids) } else { Vec::new() },
        "usage": if completed {
            json!({
                "input_tokens": USAGE.input_tokens,
                "output_tokens": USAGE.output_tokens,
                "total_tokens": USAGE.total_tokens,
            })
        } else {
            Value::Null
        },
    })
}

/// What the model was told by each tool call, in order (both wire formats).
pub fn tool_outputs(request: &Value) -> Vec<String> {
    let chat = request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or_default().to_string());
    let responses = request["input"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == "function_call_output" || i["type"] == "custom_tool_call_output")
        .map(|i| i["output"].as_str().unwrap_or_default().to_string());
    chat.chain(responses).collect()
}

/// The names of the tools a request offers (both wire formats).
pub fn tool_names(request: &Value) -> Vec<String> {
    let tools = request["tools"].as_array().cloned().unwrap_or_default();
    tools
        .iter()
        .map(|t| {
            t["function"]["name"]
                .as_str()
                .or(t["name"].as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}
