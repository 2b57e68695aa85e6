//! OpenAI Responses (`POST {base_url}/responses`): typed output items and semantic stream
//! events (`response.output_text.delta`, `response.completed`, …) instead of chunks.
//!
//! Requests are stateless (`store: false`): the whole conversation is sent every turn, as
//! with chat, so both formats share one provider-neutral history.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::sse::SseEvent;
use super::wire::{
    OUTPUT_SCHEMA_NAME, StreamDecoder, ToolCallAssembler, Unreadable, WireError, json_text,
    reported_error, usage,
};
use super::{Item, Prompt, StreamEvent, ToolImage, TurnOutput, Usage};

pub(crate) fn request_body(prompt: &Prompt<'_>, stream: bool) -> Value {
    let mut body = json!({
        "model": prompt.model,
        "input": prompt.items.iter().map(input_item).collect::<Vec<_>>(),
        "stream": stream,
        "store": false,
    });
    if !prompt.instructions.is_empty() {
        body["instructions"] = json!(prompt.instructions);
    }
    if !prompt.tools.is_empty() {
        let tools: Vec<Value> = prompt
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "type": "function",
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                })
            })
            .collect();
        body["tools"] = Value::Array(tools);
        body["tool_choice"] = json!("auto");
    }
    if let Some(schema) = prompt.output_schema {
        body["text"] = json!({
            "format": {
                "type": "json_schema",
                "name": OUTPUT_SCHEMA_NAME,
                "schema": schema,
                "strict": true,
            },
        });
    }
    body
}

fn input_item(item: &Item) -> Value {
    match item {
        Item::User(text) => json!({
            "type": "message",
            "role": "user",
            "content": [{ "type": "input_text", "text": text }],
        }),
        Item::Assistant(text) => json!({
            "type": "message",
            "role": "assistant",
            "content": [{ "type": "output_text", "text": text }],
        }),
        Item::ToolCall(call) => json!({
            "type": "function_call",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": call.arguments,
        }),
        Item::ToolOutput {
            call_id,
            output,
            images,
        } => json!({
            "type": "function_call_output",
            "call_id": call_id,
            "output": tool_output(output, images),
        }),
    }
}

/// A text-only output stays a string (what every compatible server takes); with images
/// it becomes a list of input parts, as Codex sends them.
fn tool_output(output: &str, images: &[ToolImage]) -> Value {
    if images.is_empty() {
        return json!(output);
    }
    let text = (!output.is_empty()).then(|| json!({ "type": "input_text", "text": output }));
    let images = images
        .iter()
        .map(|image| json!({ "type": "input_image", "image_url": image.data_url() }));
    Value::Array(text.into_iter().chain(images).collect())
}

/// A streamed Responses reply, which ends with `response.completed` (there is no `[DONE]`).
#[derive(Debug, Default)]
pub(crate) struct ResponsesStream {
    text: String,
    calls: ToolCallAssembler,
    /// Output index of each function-call item, for deltas that name only their item.
    call_indexes: HashMap<String, u64>,
    usage: Option<Usage>,
    unreadable: Unreadable,
    completed: bool,
}

impl StreamDecoder for ResponsesStream {
    fn on_event(
        &mut self,
        event: &SseEvent,
        emit: &mut dyn FnMut(StreamEvent),
    ) -> Result<(), WireError> {
        let json: Value = match serde_json::from_str(&event.data) {
            Ok(json) => json,
            Err(error) => {
                self.unreadable.record(&event.data, &error);
                return Ok(());
            }
        };
        let Some(kind) = json
            .get("type")
            .and_then(Value::as_str)
            .or(event.event.as_deref())
        else {
            self.unreadable
                .record(&event.data, &"an event without a `type`");
            return Ok(());
        };
        if kind.ends_with(".delta") && !json.get("delta").is_some_and(Value::is_string) {
            self.unreadable
                .record(&event.data, &"a delta event whose `delta` is not text");
            return Ok(());
        }
        let delta = || {
            json.get("delta")
                .and_then(Value::as_str)
                .filter(|d| !d.is_empty())
        };
        match kind {
            "response.output_text.delta" => {
                if let Some(text) = delta() {
                    self.text.push_str(text);
                    emit(StreamEvent::TextDelta(text.to_owned()));
                }
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                if let Some(text) = delta() {
                    emit(StreamEvent::ReasoningDelta(text.to_owned()));
                }
            }
            "response.output_item.added" | "response.output_item.done" => self.take_item(&json),
            "response.function_call_arguments.delta" => {
                if let (Some(text), Some(index)) = (delta(), self.delta_index(&json)) {
                    self.calls.call(index).arguments.push_str(text);
                }
            }
            "response.completed" => {
                self.usage = json
                    .get("response")
                    .and_then(|r| usage(r, "input_tokens", "output_tokens"));
                self.completed = true;
            }
            "response.incomplete" => {
                return Err(WireError::Reported(incomplete_reason(&json["response"])));
            }
            "response.failed" => {
                return Err(WireError::Reported(failure_message(&json["response"])));
            }
            "error" => return Err(WireError::Reported(failure_message(&json))),
            _ => {}
        }
        Ok(())
    }

    fn is_complete(&self) -> bool {
        self.completed
    }

    fn is_finished(&self) -> bool {
        self.completed
    }

    fn into_output(self: Box<Self>) -> Result<TurnOutput, WireError> {
        let output = TurnOutput {
            text: self.text,
            tool_calls: self.calls.finish(),
            usage: self.usage,
        };
        self.unreadable.judge(output)
    }
}

impl ResponsesStream {
    /// A function-call item starts (`added`, arguments usually empty) or ends (`done`,
    /// arguments complete and authoritative over the deltas seen so far).
    fn take_item(&mut self, event: &Value) {
        let item = &event["item"];
        if item["type"] != "function_call" {
            return;
        }
        let index = event
            .get("output_index")
            .and_then(Value::as_u64)
            .unwrap_or_else(|| self.calls.last_index().map_or(0, |last| last + 1));
        if let Some(id) = item.get("id").and_then(Value::as_str) {
            self.call_indexes.insert(id.to_owned(), index);
        }
        let call = self.calls.call(index);
        if let Some(call_id) = item.get("call_id").and_then(Value::as_str) {
            call.call_id = Some(call_id.to_owned());
        }
        if let Some(name) = item
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            call.name = name.to_owned();
        }
        let arguments = json_text(item.get("arguments").unwrap_or(&Value::Null));
        if !arguments.is_empty() {
            call.arguments = arguments;
        }
    }

    fn delta_index(&self, event: &Value) -> Option<u64> {
        let by_item = || {
            let item_id = event.get("item_id").and_then(Value::as_str)?;
            self.call_indexes.get(item_id).copied()
        };
        event
            .get("output_index")
            .and_then(Value::as_u64)
            .or_else(by_item)
            .or_else(|| self.calls.last_index())
    }
}

fn failure_message(response_or_event: &Value) -> String {
    reported_error(response_or_event)
        .or_else(|| {
            response_or_event
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "the response failed without a message".to_owned())
}

fn incomplete_reason(response: &Value) -> String {
    let reason = response
        .pointer("/incomplete_details/reason")
        .and_then(Value::as_str)
        .unwrap_or("unknown reason");
    format!("the response stopped early ({reason})")
}

/// A non-streamed reply: the `output` items of a response object. Returns the reasoning
/// summary separately, since a turn's output does not keep it.
pub(crate) fn parse_complete(body: &Value) -> Result<(String, TurnOutput), WireError> {
    match body.get("status").and_then(Value::as_str) {
        Some("failed") => return Err(WireError::Reported(failure_message(body))),
        Some("incomplete") => return Err(WireError::Reported(incomplete_reason(body))),
        _ => {}
    }
    let items = body
        .get("output")
        .and_then(Value::as_array)
        .ok_or_else(|| WireError::Malformed("no `output` array in the reply".to_owned()))?;
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = ToolCallAssembler::default();
    let mut unreadable = Unreadable::default();
    for (index, item) in items.iter().enumerate() {
        match item["type"].as_str() {
            Some("message") => text.push_str(&part_texts(&item["content"], "output_text")),
            Some("reasoning") => reasoning.push_str(&part_texts(&item["summary"], "summary_text")),
            Some("function_call") => {
                let call = calls.call(index as u64);
                call.call_id = item
                    .get("call_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                call.name = item["name"].as_str().unwrap_or_default().to_owned();
                call.arguments = json_text(&item["arguments"]);
            }
            Some(_) => {}
            None => unreadable.record(&item.to_string(), &"an output item without a `type`"),
        }
    }
    let output = TurnOutput {
        text,
        tool_calls: calls.finish(),
        usage: usage(body, "input_tokens", "output_tokens"),
    };
    Ok((reasoning, unreadable.judge(output)?))
}

/// The concatenated `text` of the parts of the given type.
fn part_texts(parts: &Value, part_type: &str) -> String {
    let parts = parts.as_array().map(Vec::as_slice).unwrap_or_default();
    parts
        .iter()
        .filter(|part| part["type"] == part_type)
        .filter_map(|part| part["text"].as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ToolCall;

    fn event(json: Value) -> SseEvent {
        SseEvent {
            event: None,
            data: json.to_string(),
        }
    }

    #[test]
    fn history_maps_to_typed_input_items() {
        let items = [
            Item::User("hi".into()),
            Item::Assistant("hello".into()),
            Item::ToolCall(ToolCall {
                call_id: "c1".into(),
                name: "grep".into(),
                arguments: "{}".into(),
            }),
            Item::ToolOutput {
                call_id: "c1".into(),
                output: "none".into(),
                images: Vec::new(),
            },
            Item::ToolOutput {
                call_id: "c2".into(),
                output: "a picture".into(),
                images: vec![ToolImage {
                    mime_type: "image/png".into(),
                    data: "AAAA".into(),
                }],
            },
        ];
        let prompt = Prompt {
            model: "m",
            instructions: "sys",
            items: &items,
            tools: &[],
            output_schema: None,
        };
        let body = request_body(&prompt, true);
        assert_eq!(body["instructions"], "sys");
        assert_eq!(body["store"], false);
        assert_eq!(body["input"][0]["content"][0]["type"], "input_text");
        assert_eq!(body["input"][1]["content"][0]["type"], "output_text");
        assert_eq!(body["input"][2]["type"], "function_call");
        assert_eq!(body["input"][3]["output"], "none");
        assert_eq!(
            body["input"][4]["output"],
            json!([
                {"type": "input_text", "text": "a picture"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}
            ])
        );
        assert!(body.get("tools").is_none());
    }

    #[test]
    fn argument_deltas_alone_reassemble_a_call() {
        let mut stream = ResponsesStream::default();
        let mut feed = |json: Value| stream.on_event(&event(json), &mut |_| {}).ok();
        feed(
            json!({"type": "response.output_item.added", "output_index": 1,
            "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "grep", "arguments": ""}}),
        );
        feed(
            json!({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": "{\"a\""}),
        );
        feed(
            json!({"type": "response.function_call_arguments.delta", "output_index": 1, "delta": ":2}"}),
        );
        feed(
            json!({"type": "response.completed", "response": {"usage": {"input_tokens": 3, "output_tokens": 4}}}),
        );
        assert!(stream.is_complete());
        let output = Box::new(stream).into_output().unwrap();
        assert_eq!(output.tool_calls[0].arguments, "{\"a\":2}");
        assert_eq!(output.tool_calls[0].call_id, "call_1");
        assert_eq!(output.usage.map(|u| u.total_tokens), Some(7));
    }

    #[test]
    fn failures_report_the_servers_message() {
        let mut stream = ResponsesStream::default();
        let failed =
            json!({"type": "response.failed", "response": {"error": {"message": "overloaded"}}});
        let result = stream.on_event(&event(failed), &mut |_| {});
        assert!(matches!(result, Err(WireError::Reported(m)) if m == "overloaded"));
        let error = json!({"type": "error", "message": "bad input"});
        let result = stream.on_event(&event(error), &mut |_| {});
        assert!(matches!(result, Err(WireError::Reported(m)) if m == "bad input"));
    }
}
