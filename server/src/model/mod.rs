//! The model client: one agent turn against an OpenAI-compatible provider, over either
//! wire API (Chat Completions or Responses), streamed, retried and cancellable.
//!
//! The agent loop owns the conversation as provider-neutral [`Item`]s and calls
//! [`ModelClient::turn`] once per model turn; everything about HTTP, SSE, the two wire
//! formats and the quirks of "compatible" servers stays inside this module.
//!
//! - `client`: the turn loop: retries, backoff, cancellation, the streaming fallback.
//! - `wire`, `chat`, `responses`: request bodies and reply decoding per wire format.
//! - `sse`: server-sent events framing. `retry`: backoff and `Retry-After`.
//! - `error`: [`ModelError`], the user-facing failure messages.

mod chat;
mod client;
mod error;
pub mod replay;
mod responses;
mod retry;
mod sse;
mod wire;

use std::time::Duration;

pub use client::ModelClient;
pub use error::ModelError;
use tokio_util::sync::CancellationToken;

/// Where a task's model turns come from: a provider over HTTP, or a recording of an
/// earlier run (`agentls replay`).
pub enum Model {
    Live(Box<ModelClient>),
    Recorded(replay::Recording),
}

impl Model {
    /// One model turn; see [`ModelClient::turn`].
    pub async fn turn(
        &self,
        prompt: &Prompt<'_>,
        cancel: &CancellationToken,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<TurnOutput, ModelError> {
        match self {
            Model::Live(client) => client.turn(prompt, cancel, on_event).await,
            Model::Recorded(recording) => recording.turn(on_event),
        }
    }

    /// The text of a turn that offers no tools and streams nothing to the user: a
    /// compaction's summary.
    pub async fn summary(
        &self,
        prompt: &Prompt<'_>,
        cancel: &CancellationToken,
    ) -> Result<String, ModelError> {
        match self {
            Model::Live(client) => {
                let mut ignore = |_: StreamEvent| {};
                Ok(client.turn(prompt, cancel, &mut ignore).await?.text)
            }
            Model::Recorded(recording) => recording.summary(),
        }
    }
}

/// A tool the model may call: its name, what it does, and a JSON Schema of its arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// A JSON Schema object.
    pub parameters: serde_json::Value,
}

/// One entry of the conversation, in the order it happened.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    User(String),
    Assistant(String),
    ToolCall(ToolCall),
    /// What a tool call produced: text, and images for wire APIs that take them in a
    /// tool result (Responses); Chat Completions gets a placeholder line per image.
    ToolOutput {
        call_id: String,
        output: String,
        images: Vec<ToolImage>,
    },
}

/// An image a tool returned (an MCP server's `image` content).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolImage {
    /// e.g. `image/png`.
    pub mime_type: String,
    /// The image bytes, base64-encoded, as the tool sent them.
    pub data: String,
}

impl ToolImage {
    /// A `data:` URL, which is how the Responses API takes an image.
    pub fn data_url(&self) -> String {
        format!("data:{};base64,{}", self.mime_type, self.data)
    }

    /// What a model that cannot be shown the image reads instead.
    pub fn placeholder(&self) -> String {
        format!(
            "[the tool returned an image ({}, about {} bytes) that this model API cannot show in a tool result]",
            self.mime_type,
            self.data.len() / 4 * 3
        )
    }
}

/// A tool call the model made.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    /// Quoted back in the matching [`Item::ToolOutput`]. Made up when the server sent none.
    pub call_id: String,
    pub name: String,
    /// The raw JSON text of the arguments, reassembled from the streamed fragments;
    /// `{}` when the model sent none. Not validated: the tool reports bad JSON.
    pub arguments: String,
}

/// Everything one turn sends.
#[derive(Clone, Copy, Debug)]
pub struct Prompt<'a> {
    pub model: &'a str,
    /// The system prompt.
    pub instructions: &'a str,
    pub items: &'a [Item],
    pub tools: &'a [ToolSpec],
    /// A JSON Schema the model's answer must satisfy, sent as structured output
    /// (`response_format` on chat, `text.format` on responses) in strict mode.
    pub output_schema: Option<&'a serde_json::Value>,
}

/// Token counts the provider reported for one turn (the protocol shows them as they are).
pub use crate::protocol::Usage;

/// What a turn reports while it runs.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamEvent {
    TextDelta(String),
    ReasoningDelta(String),
    /// A retry is about to happen after `delay`; whatever was streamed so far in this turn
    /// is discarded (the turn starts over).
    Retrying {
        /// 1-based number of this retry.
        attempt: u32,
        /// How many retries of this kind are allowed.
        max: u32,
        delay: Duration,
        /// What went wrong, in words fit for the user.
        reason: String,
    },
}

/// A completed turn.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TurnOutput {
    /// The whole assistant text (the concatenated [`StreamEvent::TextDelta`]s).
    pub text: String,
    /// In the order the model made them.
    pub tool_calls: Vec<ToolCall>,
    /// `None` when the server reported no usage.
    pub usage: Option<Usage>,
}
