//! OpenAI Chat Completions (`POST {base_url}/chat/completions`): the wire format every
//! "OpenAI-compatible" local server speaks (Ollama, LM Studio, llama.cpp, vLLM).
//!
//! Reading is deliberately lenient, because those servers differ in small ways: unknown
//! fields are ignored, `null` content is no content, tool calls may lack ids, reasoning
//! arrives as `reasoning_content` or `reasoning`, and an unparsable chunk is skipped
//! rather than fatal — unless the reply holds nothing else ([`Unreadable`]).

use serde_json::{Value, json};

use super::sse::SseEvent;
use super::wire::{
    OUTPUT_SCHEMA_NAME, StreamDecoder, ToolCallAssembler, Unreadable, WireError, excerpt,
    json_text, reported_error, usage,
};
use super::{Item, Prompt, StreamEvent, ToolCall, ToolImage, TurnOutput, Usage};

pub(crate) fn request_body(prompt: &Prompt<'_>, stream: bool) -> Value {
    let mut body = json!({
        "model": prompt.model,
        "messages": messages(prompt),
        "stream": stream,
    });
    if !prompt.tools.is_empty() {
        let tools: Vec<Value> = prompt
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    },
                })
            })
            .collect();
        body["tools"] = Value::Array(tools);
        body["tool_choice"] = json!("auto");
    }
    if let Some(schema) = prompt.output_schema {
        body["response_format"] = json!({
            "type": "json_schema",
            "json_schema": { "name": OUTPUT_SCHEMA_NAME, "schema": schema, "strict": true },
        });
    }
    if stream {
        body["stream_options"] = json!({ "include_usage": true });
    }
    body
}

fn messages(prompt: &Prompt<'_>) -> Vec<Value> {
    let mut messages = Vec::with_capacity(prompt.items.len() + 1);
    if !prompt.instructions.is_empty() {
        messages.push(json!({ "role": "system", "content": prompt.instructions }));
    }
    for item in prompt.items {
        match item {
            Item::User(text) => messages.push(json!({ "role": "user", "content": text })),
            Item::Assistant(text) => {
                messages.push(json!({ "role": "assistant", "content": text }));
            }
            Item::ToolCall(call) => attach_tool_call(&mut messages, call),
            Item::ToolOutput {
                call_id,
                output,
                images,
            } => messages.push(json!({
                "role": "tool",
                "tool_call_id": call_id,
                "content": tool_content(output, images),
            })),
        }
    }
    messages
}

/// Chat Completions takes only text in a tool message: each image is named instead.
fn tool_content(output: &str, images: &[ToolImage]) -> String {
    let mut text = output.to_owned();
    for image in images {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&image.placeholder());
    }
    text
}

/// Chat wants the calls of one turn on the assistant message that made them (servers
/// reject tool results whose call is not on the preceding assistant message), so a call
/// joins the assistant message right before it, or starts one without text.
fn attach_tool_call(messages: &mut Vec<Value>, call: &ToolCall) {
    let wire_call = json!({
        "id": call.call_id,
        "type": "function",
        "function": { "name": call.name, "arguments": call.arguments },
    });
    if let Some(last) = messages
        .last_mut()
        .filter(|last| last["role"] == "assistant")
    {
        match last.get_mut("tool_calls").and_then(Value::as_array_mut) {
            Some(calls) => calls.push(wire_call),
            None => last["tool_calls"] = json!([wire_call]),
        }
        return;
    }
    // An empty string, not null: OpenAI takes either, but llama-cpp-python's request schema
    // requires a string and answers 500 ("7 validation errors") to null.
    messages.push(json!({ "role": "assistant", "content": "", "tool_calls": [wire_call] }));
}

/// A streamed chat reply: `chat.completion.chunk` objects, then `[DONE]`.
#[derive(Debug, Default)]
pub(crate) struct ChatStream {
    text: String,
    calls: ToolCallAssembler,
    usage: Option<Usage>,
    unreadable: Unreadable,
    finish_reason_seen: bool,
    done: bool,
}

impl StreamDecoder for ChatStream {
    fn on_event(
        &mut self,
        event: &SseEvent,
        emit: &mut dyn FnMut(StreamEvent),
    ) -> Result<(), WireError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        let chunk: Value = match serde_json::from_str(data) {
            Ok(chunk) => chunk,
            Err(error) => {
                self.unreadable.record(data, &error);
                return Ok(());
            }
        };
        if let Some(message) = reported_error(&chunk) {
            return Err(WireError::Reported(message));
        }
        let usage = usage(&chunk, "prompt_tokens", "completion_tokens");
        if usage.is_some() {
            self.usage = usage;
        }
        let choice = match chunk.get("choices") {
            Some(Value::Array(choices)) => choices.first(),
            // A usage chunk of a server that leaves out the empty `choices`.
            None if usage.is_some() => None,
            _ => {
                self.unreadable.record(data, &"no `choices` array");
                return Ok(());
            }
        };
        let Some(choice) = choice else {
            return Ok(());
        };
        match choice.get("delta") {
            Some(delta @ Value::Object(_)) => self.take_delta(delta, data, emit),
            None | Some(Value::Null) => {}
            Some(_) => self
                .unreadable
                .record(data, &"a `delta` that is not an object"),
        }
        // Usage still follows the finish reason, so keep reading until `[DONE]`; but a
        // body that ends here holds the whole turn.
        if choice
            .get("finish_reason")
            .is_some_and(|reason| !reason.is_null())
        {
            self.finish_reason_seen = true;
        }
        Ok(())
    }

    fn is_complete(&self) -> bool {
        self.done || self.finish_reason_seen
    }

    fn is_finished(&self) -> bool {
        self.done
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

impl ChatStream {
    /// `data` is the chunk the delta came in, for the record if its content is unreadable.
    fn take_delta(&mut self, delta: &Value, data: &str, emit: &mut dyn FnMut(StreamEvent)) {
        if let Some(reasoning) = reasoning_text(delta).filter(|text| !text.is_empty()) {
            emit(StreamEvent::ReasoningDelta(reasoning.to_owned()));
        }
        match delta.get("content") {
            Some(Value::String(text)) if !text.is_empty() => {
                self.text.push_str(text);
                emit(StreamEvent::TextDelta(text.to_owned()));
            }
            None | Some(Value::String(_) | Value::Null) => {}
            Some(_) => self
                .unreadable
                .record(data, &"a `content` that is not text"),
        }
        let fragments = delta.get("tool_calls").and_then(Value::as_array);
        for (position, fragment) in fragments.into_iter().flatten().enumerate() {
            self.take_tool_call_fragment(position, fragment);
        }
    }

    /// The first fragment of a call names it; later ones carry pieces of its arguments.
    /// Servers that omit `index` send one call per chunk, so its position stands in.
    fn take_tool_call_fragment(&mut self, position: usize, fragment: &Value) {
        let index = fragment.get("index").and_then(Value::as_u64);
        let call = self.calls.call(index.unwrap_or(position as u64));
        if let Some(id) = fragment
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
        {
            call.call_id = Some(id.to_owned());
        }
        let function = fragment.get("function");
        if let Some(name) = function
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
        {
            call.name = name.to_owned();
        }
        if let Some(arguments) = function.and_then(|f| f.get("arguments")) {
            call.arguments.push_str(&json_text(arguments));
        }
    }
}

fn reasoning_text(delta_or_message: &Value) -> Option<&str> {
    ["reasoning_content", "reasoning"]
        .iter()
        .find_map(|key| delta_or_message.get(key).and_then(Value::as_str))
}

/// A non-streamed reply: `choices[0].message` holds the text and the tool calls.
/// Returns the reasoning separately, since a turn's output does not keep it.
pub(crate) fn parse_complete(body: &Value) -> Result<(String, TurnOutput), WireError> {
    let message = body
        .pointer("/choices/0/message")
        .ok_or_else(|| WireError::Malformed("no `choices[0].message` in the reply".to_owned()))?;
    if !message.is_object() {
        return Err(WireError::Malformed(format!(
            "`choices[0].message` is not an object: {}",
            excerpt(&message.to_string())
        )));
    }
    let mut calls = ToolCallAssembler::default();
    let wire_calls = message.get("tool_calls").and_then(Value::as_array);
    for (index, wire_call) in wire_calls.into_iter().flatten().enumerate() {
        let call = calls.call(index as u64);
        call.call_id = wire_call
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let function = wire_call.get("function").unwrap_or(&Value::Null);
        call.name = function
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        call.arguments = json_text(function.get("arguments").unwrap_or(&Value::Null));
    }
    let text = message
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let output = TurnOutput {
        text: text.to_owned(),
        tool_calls: calls.finish(),
        usage: usage(body, "prompt_tokens", "completion_tokens"),
    };
    Ok((
        reasoning_text(message).unwrap_or_default().to_owned(),
        output,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ToolSpec;

    fn feed(stream: &mut ChatStream, data: &str) -> Vec<String> {
        let mut seen = Vec::new();
        let event = SseEvent {
            event: None,
            data: data.to_owned(),
        };
        stream
            .on_event(&event, &mut |e| match e {
                StreamEvent::TextDelta(t) => seen.push(format!("text:{t}")),
                StreamEvent::ReasoningDelta(t) => seen.push(format!("reasoning:{t}")),
                StreamEvent::Retrying { .. } => seen.push("retrying".into()),
            })
            .ok();
        seen
    }

    #[test]
    fn history_puts_tool_calls_on_the_assistant_message_that_made_them() {
        let call = |id: &str| {
            Item::ToolCall(ToolCall {
                call_id: id.into(),
                name: "read_file".into(),
                arguments: "{}".into(),
            })
        };
        let items = [
            Item::User("look".into()),
            Item::Assistant("Reading both.".into()),
            call("a"),
            call("b"),
            Item::ToolOutput {
                call_id: "a".into(),
                output: "A".into(),
                images: Vec::new(),
            },
            Item::ToolOutput {
                call_id: "b".into(),
                output: "B".into(),
                images: vec![ToolImage {
                    mime_type: "image/png".into(),
                    data: "AAAA".into(),
                }],
            },
            call("c"),
        ];
        let tools = [ToolSpec {
            name: "read_file".into(),
            description: "Reads".into(),
            parameters: json!({"type": "object"}),
        }];
        let prompt = Prompt {
            model: "m",
            instructions: "be brief",
            items: &items,
            tools: &tools,
            output_schema: None,
        };
        let body = request_body(&prompt, true);
        let messages = body["messages"].as_array().unwrap();
        let roles: Vec<&str> = messages
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(
            roles,
            ["system", "user", "assistant", "tool", "tool", "assistant"]
        );
        assert_eq!(messages[2]["tool_calls"].as_array().unwrap().len(), 2);
        assert_eq!(messages[3]["tool_call_id"], "a");
        assert_eq!(
            messages[4]["content"],
            "B\n[the tool returned an image (image/png, about 3 bytes) that this model API cannot show in a tool result]"
        );
        assert_eq!(messages[5]["content"], "", "a string, for llama-cpp-python");
        assert_eq!(body["tools"][0]["function"]["name"], "read_file");
        assert_eq!(body["stream_options"]["include_usage"], true);
    }

    #[test]
    fn no_tools_means_no_tool_fields() {
        let prompt = Prompt {
            model: "m",
            instructions: "",
            items: &[],
            tools: &[],
            output_schema: None,
        };
        let body = request_body(&prompt, false);
        assert!(body.get("tools").is_none() && body.get("tool_choice").is_none());
        assert!(body.get("stream_options").is_none());
        assert!(body.get("response_format").is_none());
        assert_eq!(body["messages"], json!([]));
    }

    #[test]
    fn lenient_chunks_from_compatible_servers_are_understood() {
        let mut stream = ChatStream::default();
        assert_eq!(
            feed(
                &mut stream,
                r#"{"choices":[{"delta":{"content":null,"role":"assistant"}}]}"#
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            feed(
                &mut stream,
                r#"{"choices":[{"delta":{"reasoning":"hmm"}}],"x":1}"#
            ),
            ["reasoning:hmm"]
        );
        assert_eq!(feed(&mut stream, "not json at all"), Vec::<String>::new());
        // No index and no id: the position stands in and an id is made up.
        feed(
            &mut stream,
            r#"{"choices":[{"delta":{"tool_calls":[{"function":{"name":"grep","arguments":"{\"pat"}}]}}]}"#,
        );
        feed(
            &mut stream,
            r#"{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"tern\":1}"}}]}}]}"#,
        );
        feed(
            &mut stream,
            r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
        );
        assert!(stream.is_complete() && !stream.is_finished());
        let output = Box::new(stream).into_output().unwrap();
        assert_eq!(output.tool_calls.len(), 1);
        assert_eq!(output.tool_calls[0].name, "grep");
        assert_eq!(output.tool_calls[0].arguments, r#"{"pattern":1}"#);
        assert!(output.tool_calls[0].call_id.starts_with("call_"));
    }

    #[test]
    fn an_error_chunk_ends_the_turn_with_the_servers_message() {
        let mut stream = ChatStream::default();
        let event = SseEvent {
            event: None,
            data: r#"{"error":{"message":"context length exceeded"}}"#.into(),
        };
        let result = stream.on_event(&event, &mut |_| {});
        assert!(matches!(result, Err(WireError::Reported(m)) if m == "context length exceeded"));
    }
}
