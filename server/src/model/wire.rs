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
    /// The reply is not shaped like this wire format, or held nothing usable but data that
    /// is not (see [`Unreadable`]). Retried like a cut stream: a proxy or an overloaded
    /// server can garble one reply and send the next one whole.
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

    /// The turn, or [`WireError::Malformed`] when the reply held nothing usable but data
    /// that could not be read ([`Unreadable::judge`]).
    fn into_output(self: Box<Self>) -> Result<TurnOutput, WireError>;
}

/// The parts of a reply a decoder could not read as its wire format, skipped as they come
/// (compatible servers send the odd chunk) but remembered: a turn made of nothing else
/// must not pass for an empty answer.
///
/// So a reply with no text and no tool call is an error only if something in it could not
/// be read. A model that says nothing in a well-formed reply has given an empty answer:
/// asking again would most likely get the same, and the user sees the empty summary.
#[derive(Debug, Default)]
pub(crate) struct Unreadable {
    count: usize,
    /// The first such part, shortened, to show what came instead of a reply.
    first: Option<String>,
}

impl Unreadable {
    /// Notes one part that could not be read: `data` as received, and why.
    pub(crate) fn record(&mut self, data: &str, why: &dyn std::fmt::Display) {
        tracing::debug!(%why, data, "skipping a part of the model's reply");
        self.count += 1;
        self.first.get_or_insert_with(|| excerpt(data));
    }

    /// Passes `output` on, unless it holds no text and no tool call and some part of the
    /// reply could not be read.
    pub(crate) fn judge(self, output: TurnOutput) -> Result<TurnOutput, WireError> {
        let Some(first) = self.first else {
            return Ok(output);
        };
        if output.text.is_empty() && output.tool_calls.is_empty() {
            return Err(WireError::Malformed(format!(
                "no text and no tool call, only {} part(s) that could not be read, the first: {first}",
                self.count
            )));
        }
        tracing::warn!(
            count = self.count,
            first,
            "skipped parts of the model's reply that could not be read"
        );
        Ok(output)
    }
}

/// Enough of a reply to recognise it in a message, in backticks.
pub(crate) fn excerpt(data: &str) -> String {
    const MAX_CHARS: usize = 80;
    let data = data.trim();
    match data.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("`{}…`", data[..cut].escape_debug()),
        None => format!("`{}`", data.escape_debug()),
    }
}

/// The name structured output gives the schema of a task's final answer (both formats
/// require one).
pub(crate) const OUTPUT_SCHEMA_NAME: &str = "final_answer";

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
    fn only_a_turn_with_nothing_usable_besides_unreadable_parts_is_an_error() {
        let text = TurnOutput {
            text: "hi".into(),
            ..TurnOutput::default()
        };
        let mut unreadable = Unreadable::default();
        unreadable.record("{not json", &"invalid");
        unreadable.record("{\"choices\":1}", &"no choices");
        let Err(WireError::Malformed(detail)) = unreadable.judge(TurnOutput::default()) else {
            panic!("an empty turn with unreadable parts passed");
        };
        assert!(
            detail.contains("2 part(s)") && detail.contains("`{not json`"),
            "{detail}"
        );

        let mut unreadable = Unreadable::default();
        unreadable.record("{not json", &"invalid");
        assert_eq!(unreadable.judge(text.clone()).unwrap(), text, "text wins");
        let empty = Unreadable::default().judge(TurnOutput::default());
        assert_eq!(
            empty.unwrap(),
            TurnOutput::default(),
            "an empty answer is an answer"
        );
    }

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
