//! [`ModelClient`]: runs one model turn over HTTP and survives what real servers do.
//!
//! A turn is a loop of attempts. Each attempt POSTs the whole conversation and reads the
//! reply; how it failed decides what happens next:
//! - before the reply began (transport error, 5xx, 429): retry, up to `request_max_retries`,
//!   after `Retry-After` or a jittered backoff;
//! - mid-stream (connection cut, no bytes for `stream_idle_timeout`): restart the turn, up
//!   to `stream_max_retries`, telling the caller to discard what it received;
//! - the server refuses to stream with tools (an error that mentions streaming, or a stream
//!   that ends before its first event: llama-cpp-python does both): redo the turn
//!   unstreamed, for free, and never stream tool turns to this server again;
//! - a reply that is not shaped like the wire format, or that holds no text and no tool
//!   call but parts that could not be read: retried like a cut stream (same budget), then
//!   failed with an excerpt of what came;
//! - anything else (4xx, an error the server reported in the stream): fail at once.
//!
//! Cancellation is checked around every await, so dropping the in-flight response aborts
//! the connection right away.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Response, Url};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::error::{server_message, transport_reason};
use super::retry::{DEFAULT_BACKOFF_BASE, backoff, retry_after};
use super::sse::{SseDecoder, SseEvent};
use super::wire::{self, StreamDecoder, WireError};
use super::{ModelError, Prompt, StreamEvent, TurnOutput};
use crate::config::ProviderInfo;

/// Why a stream that ended before its completion event failed.
const CLOSED_EARLY: &str = "the connection closed before the reply was complete";

/// Long enough for a cold local server, short enough that a wrong port is noticed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Talks to one model provider. Share it (`turn` takes `&self`) so that what it learns
/// about the server, like the streaming fallback, holds for every turn.
pub struct ModelClient {
    provider: ProviderInfo,
    http: reqwest::Client,
    /// The endpoint with the provider's query parameters.
    endpoint: Url,
    /// The endpoint as shown in messages (without query parameters, which may hold keys).
    endpoint_for_messages: String,
    backoff_base: Duration,
    /// Set once the server refused `stream: true` together with tools.
    never_stream_tools: AtomicBool,
}

/// How one attempt failed, which decides whether and how the turn goes on.
enum Failure {
    /// Nothing was streamed yet; worth another request.
    BeforeStream {
        error: ModelError,
        retry_after: Option<Duration>,
    },
    /// The reply broke off or went quiet; the turn starts over.
    MidStream {
        reason: String,
    },
    /// The reply came, but nothing in it could be used (`WireError::Malformed`); the
    /// turn starts over, on the budget of cut streams.
    Unusable {
        detail: String,
    },
    /// The server cannot stream while tools are offered.
    StreamingWithToolsRefused {
        message: String,
    },
    Fatal(ModelError),
}

/// Retries spent so far in one turn, per kind.
#[derive(Default)]
struct RetriesUsed {
    requests: u32,
    stream_breaks: u32,
}

enum NextStep {
    /// Tell the caller (as [`StreamEvent::Retrying`]), wait `delay`, try again.
    Retry {
        attempt: u32,
        max: u32,
        delay: Duration,
        reason: String,
    },
    RedoUnstreamed,
    Fail(ModelError),
}

impl ModelClient {
    /// Checks the provider settings (API key, URL, headers) without contacting the server.
    pub fn new(provider: ProviderInfo) -> Result<Self, ModelError> {
        if provider.api_key.is_none() && provider.id == "openai" {
            return Err(ModelError::MissingApiKey {
                provider: provider.id,
                env_var: "OPENAI_API_KEY".to_owned(),
            });
        }
        let base_url = provider.base_url.trim_end_matches('/');
        let endpoint_for_messages = format!("{base_url}/{}", wire::endpoint(provider.wire_api));
        let endpoint = endpoint_url(&provider, &endpoint_for_messages)?;
        let http = reqwest::Client::builder()
            .default_headers(default_headers(&provider)?)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|error| {
                invalid_provider(&provider, format!("cannot build an HTTP client: {error}"))
            })?;
        Ok(Self {
            provider,
            http,
            endpoint,
            endpoint_for_messages,
            backoff_base: DEFAULT_BACKOFF_BASE,
            never_stream_tools: AtomicBool::new(false),
        })
    }

    /// Shrinks the retry backoff so tests of retries run fast.
    #[doc(hidden)]
    pub fn with_backoff_base(mut self, base: Duration) -> Self {
        self.backoff_base = base;
        self
    }

    pub fn provider(&self) -> &ProviderInfo {
        &self.provider
    }

    /// One model turn: streams deltas to `on_event` as they arrive and returns the complete turn.
    /// Aborts the HTTP stream at once when `cancel` fires (returns [`ModelError::Cancelled`]).
    pub async fn turn(
        &self,
        prompt: &Prompt<'_>,
        cancel: &CancellationToken,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<TurnOutput, ModelError> {
        let mut retries_used = RetriesUsed::default();
        let mut stream =
            prompt.tools.is_empty() || !self.never_stream_tools.load(Ordering::Relaxed);
        loop {
            let failure = match self.attempt(prompt, stream, cancel, on_event).await {
                Ok(output) => return Ok(output),
                Err(failure) => failure,
            };
            let delay = match self.next_step(failure, &mut retries_used) {
                NextStep::Fail(error) => return Err(error),
                NextStep::RedoUnstreamed => {
                    stream = false;
                    continue;
                }
                NextStep::Retry {
                    attempt,
                    max,
                    delay,
                    reason,
                } => {
                    on_event(StreamEvent::Retrying {
                        attempt,
                        max,
                        delay,
                        reason,
                    });
                    delay
                }
            };
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(ModelError::Cancelled),
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Decides what a failed attempt leads to, counting the retries it uses.
    fn next_step(&self, failure: Failure, used: &mut RetriesUsed) -> NextStep {
        let (attempt, max, delay, reason) = match failure {
            Failure::Fatal(error) => return NextStep::Fail(error),
            Failure::StreamingWithToolsRefused { message } => {
                tracing::info!(
                    provider = self.provider.id,
                    message,
                    "the server cannot stream with tools; tool turns go unstreamed from now on"
                );
                self.never_stream_tools.store(true, Ordering::Relaxed);
                return NextStep::RedoUnstreamed;
            }
            Failure::BeforeStream { error, retry_after } => {
                let max = self.provider.request_max_retries;
                if used.requests >= max {
                    return NextStep::Fail(error);
                }
                used.requests += 1;
                let delay =
                    retry_after.unwrap_or_else(|| backoff(self.backoff_base, used.requests));
                (used.requests, max, delay, error.to_string())
            }
            Failure::MidStream { reason } => {
                let retry = format!("the reply from `{}` broke off: {reason}", self.provider.id);
                match self.restart(used, retry) {
                    Some(step) => step,
                    None => {
                        let error = self.stream_interrupted(reason, used.stream_breaks);
                        return NextStep::Fail(error);
                    }
                }
            }
            Failure::Unusable { detail } => {
                let retry = format!(
                    "the reply from `{}` held nothing usable: {detail}",
                    self.provider.id
                );
                match self.restart(used, retry) {
                    Some(step) => step,
                    None => {
                        return NextStep::Fail(ModelError::InvalidResponse {
                            provider: self.provider.id.clone(),
                            url: self.endpoint_for_messages.clone(),
                            detail,
                            attempts: used.stream_breaks,
                        });
                    }
                }
            }
        };
        tracing::warn!(
            provider = self.provider.id,
            attempt,
            max,
            ?delay,
            reason,
            "retrying the model turn"
        );
        NextStep::Retry {
            attempt,
            max,
            delay,
            reason,
        }
    }

    /// Counts one more reply that has to start over (cut, silent or unusable); `(attempt,
    /// max, delay, reason)` of the retry, or `None` once stream_max_retries are spent.
    fn restart(
        &self,
        used: &mut RetriesUsed,
        reason: String,
    ) -> Option<(u32, u32, Duration, String)> {
        used.stream_breaks += 1;
        let max = self.provider.stream_max_retries;
        if used.stream_breaks > max {
            return None;
        }
        let delay = backoff(self.backoff_base, used.stream_breaks);
        Some((used.stream_breaks, max, delay, reason))
    }

    /// One request and its reply.
    async fn attempt(
        &self,
        prompt: &Prompt<'_>,
        stream: bool,
        cancel: &CancellationToken,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<TurnOutput, Failure> {
        let body = wire::request_body(self.provider.wire_api, prompt, stream);
        let request = self.http.post(self.endpoint.clone()).json(&body).send();
        let response = match self.within_idle_timeout(cancel, request).await? {
            Some(Ok(response)) => response,
            Some(Err(error)) => return Err(self.request_failed(&error)),
            None => {
                let reason = format!(
                    "no answer within {} (stream_idle_timeout)",
                    self.idle_timeout_text()
                );
                return Err(self.not_answered(reason));
            }
        };
        let streams_tools = stream && !prompt.tools.is_empty();
        if !response.status().is_success() {
            return Err(self.rejection(response, streams_tools, cancel).await);
        }
        // What the server sent decides, not what was asked for: some servers ignore `stream`.
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let streamed = if stream {
            !content_type.contains("json")
        } else {
            content_type.contains("event-stream")
        };
        if streamed {
            self.read_stream(response, streams_tools, cancel, on_event)
                .await
        } else {
            self.read_whole(response, cancel, on_event).await
        }
    }

    /// Turns an HTTP error status into the right kind of failure.
    async fn rejection(
        &self,
        response: Response,
        streams_tools: bool,
        cancel: &CancellationToken,
    ) -> Failure {
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = match self.within_idle_timeout(cancel, response.text()).await {
            Ok(Some(Ok(text))) => text,
            Ok(_) => String::new(),
            Err(cancelled) => return cancelled,
        };
        let message = server_message(&body);
        if streams_tools && refuses_streaming_with_tools(&body) {
            return Failure::StreamingWithToolsRefused { message };
        }
        let error = ModelError::Http {
            provider: self.provider.id.clone(),
            url: self.endpoint_for_messages.clone(),
            status: status.as_u16(),
            message,
        };
        if status.is_server_error() || status.as_u16() == 429 {
            Failure::BeforeStream { error, retry_after }
        } else {
            Failure::Fatal(error)
        }
    }

    /// Reads an SSE reply, forwarding deltas as they arrive.
    ///
    /// A tool turn whose stream ends before its first event counts as a refusal to stream
    /// with tools: llama-cpp-python 0.3 behind sse-starlette answers `200 text/event-stream`
    /// and then closes the empty stream when it cannot (measured).
    async fn read_stream(
        &self,
        response: Response,
        streams_tools: bool,
        cancel: &CancellationToken,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<TurnOutput, Failure> {
        let mut decoder = wire::stream_decoder(self.provider.wire_api);
        let mut sse = SseDecoder::default();
        let mut body = response.bytes_stream();
        let mut any_event = false;
        while !decoder.is_finished() {
            let chunk = match self.within_idle_timeout(cancel, body.next()).await? {
                Some(Some(Ok(chunk))) => chunk,
                Some(Some(Err(error))) => {
                    return Err(ended_early(
                        transport_reason(&error),
                        streams_tools,
                        any_event,
                    ));
                }
                Some(None) => break,
                None => {
                    let reason = format!(
                        "no data for {} (stream_idle_timeout)",
                        self.idle_timeout_text()
                    );
                    return Err(Failure::MidStream { reason });
                }
            };
            for event in sse.push(&chunk) {
                any_event = true;
                self.decode(&mut *decoder, &event, on_event)?;
            }
        }
        if let Some(event) = sse.finish() {
            any_event = true;
            self.decode(&mut *decoder, &event, on_event)?;
        }
        if !decoder.is_complete() {
            return Err(ended_early(
                CLOSED_EARLY.to_owned(),
                streams_tools,
                any_event,
            ));
        }
        decoder
            .into_output()
            .map_err(|error| self.wire_failure(error))
    }

    fn decode(
        &self,
        decoder: &mut dyn StreamDecoder,
        event: &SseEvent,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<(), Failure> {
        if decoder.is_finished() {
            return Ok(());
        }
        decoder
            .on_event(event, on_event)
            .map_err(|error| self.wire_failure(error))
    }

    /// Reads a non-streamed JSON reply.
    async fn read_whole(
        &self,
        response: Response,
        cancel: &CancellationToken,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<TurnOutput, Failure> {
        let bytes = match self.within_idle_timeout(cancel, response.bytes()).await? {
            Some(Ok(bytes)) => bytes,
            Some(Err(error)) => {
                return Err(Failure::MidStream {
                    reason: transport_reason(&error),
                });
            }
            None => {
                let reason = format!(
                    "the reply was not finished within {}",
                    self.idle_timeout_text()
                );
                return Err(Failure::MidStream { reason });
            }
        };
        let body: Value = serde_json::from_slice(&bytes).map_err(|error| {
            self.wire_failure(WireError::Malformed(format!(
                "the reply is not JSON ({error}): {}",
                wire::excerpt(&String::from_utf8_lossy(&bytes))
            )))
        })?;
        wire::parse_complete(self.provider.wire_api, &body, on_event)
            .map_err(|error| self.wire_failure(error))
    }

    /// Awaits `future` unless the turn is cancelled (an error) or the server stays silent
    /// for the idle timeout (`None`).
    async fn within_idle_timeout<F: Future>(
        &self,
        cancel: &CancellationToken,
        future: F,
    ) -> Result<Option<F::Output>, Failure> {
        tokio::select! {
            biased;
            () = cancel.cancelled() => Err(Failure::Fatal(ModelError::Cancelled)),
            result = tokio::time::timeout(self.provider.stream_idle_timeout, future) => Ok(result.ok()),
        }
    }

    /// A request that got no response: the server could not be reached at all, or the
    /// connection failed after that (llama-cpp-python, for one, closes a kept-alive
    /// connection after a failed stream, which the next request finds out).
    fn request_failed(&self, error: &reqwest::Error) -> Failure {
        if !error.is_connect() {
            return self.not_answered(transport_reason(error));
        }
        let error = ModelError::Unreachable {
            provider: self.provider.id.clone(),
            url: self.provider.base_url.clone(),
            reason: transport_reason(error),
        };
        Failure::BeforeStream {
            error,
            retry_after: None,
        }
    }

    fn not_answered(&self, reason: String) -> Failure {
        let error = ModelError::NoResponse {
            provider: self.provider.id.clone(),
            url: self.endpoint_for_messages.clone(),
            reason,
        };
        Failure::BeforeStream {
            error,
            retry_after: None,
        }
    }

    fn stream_interrupted(&self, reason: String, attempts: u32) -> ModelError {
        ModelError::StreamInterrupted {
            provider: self.provider.id.clone(),
            url: self.endpoint_for_messages.clone(),
            reason,
            attempts,
        }
    }

    fn wire_failure(&self, error: WireError) -> Failure {
        match error {
            WireError::Reported(message) => Failure::Fatal(ModelError::Provider {
                provider: self.provider.id.clone(),
                message,
            }),
            WireError::Malformed(detail) => Failure::Unusable { detail },
        }
    }

    fn idle_timeout_text(&self) -> String {
        format!("{:.1}s", self.provider.stream_idle_timeout.as_secs_f64())
    }
}

/// Written out so the API key never reaches a log.
impl std::fmt::Debug for ModelClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelClient")
            .field("provider", &self.provider.id)
            .field("endpoint", &self.endpoint_for_messages)
            .field("never_stream_tools", &self.never_stream_tools)
            .finish_non_exhaustive()
    }
}

/// How a stream that ended before completion failed (see [`ModelClient::read_stream`]).
fn ended_early(reason: String, streams_tools: bool, any_event: bool) -> Failure {
    if streams_tools && !any_event {
        let message = format!("the stream ended before its first event ({reason})");
        Failure::StreamingWithToolsRefused { message }
    } else {
        Failure::MidStream { reason }
    }
}

fn endpoint_url(provider: &ProviderInfo, endpoint: &str) -> Result<Url, ModelError> {
    let mut url = Url::parse(endpoint).map_err(|error| {
        invalid_provider(
            provider,
            format!("base_url `{}` is not a URL: {error}", provider.base_url),
        )
    })?;
    if !provider.query_params.is_empty() {
        url.query_pairs_mut().extend_pairs(&provider.query_params);
    }
    Ok(url)
}

fn default_headers(provider: &ProviderInfo) -> Result<HeaderMap, ModelError> {
    let mut headers = HeaderMap::new();
    if let Some(key) = &provider.api_key {
        let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
            invalid_provider(
                provider,
                "the API key contains characters not allowed in a header".to_owned(),
            )
        })?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    for (name, value) in &provider.http_headers {
        let invalid = || {
            invalid_provider(
                provider,
                format!("http_headers: `{name}` cannot be sent as an HTTP header"),
            )
        };
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let value = HeaderValue::from_str(value).map_err(|_| invalid())?;
        headers.insert(name, value);
    }
    Ok(headers)
}

fn invalid_provider(provider: &ProviderInfo, detail: String) -> ModelError {
    ModelError::InvalidProvider {
        provider: provider.id.clone(),
        detail,
    }
}

/// Whether an error body says the server cannot stream a turn that offers tools, like
/// llama-cpp-python's "Automatic streaming tool choice is not supported". Both words must
/// be there: "upstream overloaded" is an ordinary 5xx to retry.
fn refuses_streaming_with_tools(body: &str) -> bool {
    let body = body.to_lowercase();
    let words: Vec<&str> = body.split(|c: char| !c.is_alphanumeric()).collect();
    let mentions = |prefixes: &[&str]| {
        words
            .iter()
            .any(|w| prefixes.iter().any(|p| w.starts_with(p)))
    };
    mentions(&["stream"]) && mentions(&["tool", "function"])
}

#[cfg(test)]
mod refusal_tests {
    use super::refuses_streaming_with_tools;

    #[test]
    fn only_a_streaming_with_tools_refusal_counts() {
        assert!(refuses_streaming_with_tools(
            r#"{"error":"Automatic streaming tool choice is not supported"}"#
        ));
        assert!(refuses_streaming_with_tools(
            "stream=true is not supported with functions"
        ));
        assert!(!refuses_streaming_with_tools("upstream overloaded"));
        assert!(!refuses_streaming_with_tools("stream timed out"));
    }
}
