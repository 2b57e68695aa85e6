//! The seam between the transport (HTTP, retries, cancellation) and the two OpenAI wire
//! formats: each format says where to POST, what body to send, and how to read the reply,
//! streamed or not. Also home of the tool-call assembly both formats need, since both
//! deliver a call's JSON arguments in fragments.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use super::sse::SseEvent;
use super::{Prompt, StreamEvent, ToolCall, TurnOutput, Usage, chat, responses};
use crate::config::WireApi;

/// A reply the wire format could not turn into a model turn.
#[derive(Debug)]
pub(crate) enum WireError {
    /// The server said what went wrong (an `error` event, `response.failed`, an error body).
    Reported(String),
    /// The reply is not shaped like this wire format.
    Malformed(String),
}

/// Reads one streamed reply, event by event.
pub(crate) trait StreamDecoder: Send {
    /// Takes in one SSE event, forwarding text and reasoning deltas to `emit`.
    fn on_event(
        &mut self,
        event: &SseEvent,
        emit: &mut dyn FnMut(StreamEvent),
    ) -> Result<(), WireError>;

    /// The server signalled the end of the turn, so a body ending now is not a cut.
    fn is_complete(&self) -> bool;

    /// Nothing after this point matters; the body can be dropped unread.
    fn is_finished(&self) -> bool;

    fn into_output(self: Box<Self>) -> TurnOutput;
}

/// The endpoint below `base_url`.
pub(crate) fn endpoint(api: WireApi) -> &'static str {
    match api {
        WireApi::Chat => "chat/completions",
        WireApi::Responses => "responses",
    }
}

pub(crate) fn request_body(api: WireApi, prompt: &Prompt<'_>, stream: bool) -> Value {
    match api {
        WireApi::Chat => chat::request_body(prompt, stream),
        WireApi::Responses => responses::request_body(prompt, stream),
    }
}

pub(crate) fn stream_decoder(api: WireApi) -> Box<dyn StreamDecoder> {
    match api {
        WireApi::Chat => Box::<chat::ChatStream>::default(),
        WireApi::Responses => Box::<responses::ResponsesStream>::default(),
    }
}

/// Reads a non-streamed reply, delivering its reasoning and text to `emit` in one piece each.
pub(crate) fn parse_complete(
    api: WireApi,
    body: &Value,
    emit: &mut dyn FnMut(StreamEvent),
) -> Result<TurnOutput, WireError> {
    if let Some(message) = reported_error(body) {
        return Err(WireError::Reported(message));
    }
    let (reasoning, output) = match api {
        WireApi::Chat => chat::parse_complete(body)?,
        WireApi::Responses => responses::parse_complete(body)?,
    };
    if !reasoning.is_empty() {
        emit(StreamEvent::ReasoningDelta(reasoning));
    }
    if !output.text.is_empty() {
        emit(StreamEvent::TextDelta(output.text.clone()));
    }
    Ok(output)
}

/// The message of an `error` object a server put in its reply, if it put one there.
pub(crate) fn reported_error(json: &Value) -> Option<String> {
    let error = json.get("error").filter(|error| !error.is_null())?;
    let message = error.get("message").and_then(Value::as_str);
    Some(message.map_or_else(|| json_text(error), str::to_owned))
}

/// Token counts from a `usage` object whose input/output fields have the given names
/// (they differ between the formats); a missing total is the sum.
pub(crate) fn usage(json: &Value, input_key: &str, output_key: &str) -> Option<Usage> {
    let usage = json.get("usage").filter(|usage| usage.is_object())?;
    let count = |key: &str| usage.get(key).and_then(Value::as_u64);
    let input_tokens = count(input_key).unwrap_or(0);
    let output_tokens = count(output_key).unwrap_or(0);
    Some(Usage {
        input_tokens,
        output_tokens,
        total_tokens: count("total_tokens").unwrap_or(input_tokens + output_tokens),
    })
}

/// A JSON value as text: servers send strings, a few send arguments as a JSON object.
pub(crate) fn json_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Tool calls collected from fragments, keyed by the position the server gave them.
#[derive(Debug, Default)]
pub(crate) struct ToolCallAssembler {
    calls: BTreeMap<u64, PartialCall>,
}

#[derive(Debug, Default)]
pub(crate) struct PartialCall {
    pub(crate) call_id: Option<String>,
    pub(crate) name: String,
    pub(crate) arguments: String,
}

impl ToolCallAssembler {
    pub(crate) fn call(&mut self, index: u64) -> &mut PartialCall {
        self.calls.entry(index).or_default()
    }

    pub(crate) fn last_index(&self) -> Option<u64> {
        self.calls.keys().next_back().copied()
    }

    /// The finished calls in server order. A call without an id gets a unique one (some
    /// local servers send none, yet the reply must quote it); empty arguments become `{}`.
    pub(crate) fn finish(self) -> Vec<ToolCall> {
        self.calls
            .into_values()
            .map(|call| ToolCall {
                call_id: call
                    .call_id
                    .filter(|id| !id.is_empty())
                    .unwrap_or_else(synthesized_call_id),
                name: call.name,
                arguments: if call.arguments.trim().is_empty() {
                    "{}".to_owned()
                } else {
                    call.arguments
                },
            })
            .collect()
    }
}

fn synthesized_call_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("call_agentls_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembled_calls_keep_server_order_and_get_unique_ids() {
        let mut calls = ToolCallAssembler::default();
        calls.call(1).name = "grep".into();
        calls.call(0).name = "read_file".into();
        calls.call(0).arguments.push_str("{\"path\":");
        calls.call(0).arguments.push_str("\"a\"}");
        let finished = calls.finish();
        assert_eq!(finished[0].name, "read_file");
        assert_eq!(finished[0].arguments, "{\"path\":\"a\"}");
        assert_eq!(finished[1].arguments, "{}");
        assert_ne!(finished[0].call_id, finished[1].call_id);
    }
}
