//! The model client against a real (scripted) HTTP server, every case on both wire APIs:
//! streaming, tool-call reassembly, retries, timeouts, cancellation, error wording and
//! the fallback for servers that cannot stream with tools.

use std::collections::BTreeMap;
use std::sync::Once;
use std::time::{Duration, Instant};

use agentls::config::{ProviderInfo, WireApi};
use agentls::model::{Item, ModelClient, ModelError, Prompt, StreamEvent, ToolSpec, TurnOutput};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::model_server::{ModelServer, Reply, USAGE};

/// Runs each case once per wire API, as `chat::<case>` and `responses::<case>`, failing
/// (rather than hanging) if a case takes longer than `CASE_TIMEOUT`.
macro_rules! on_both_wire_apis {
    ($($case:ident),* $(,)?) => {
        mod chat {
            $( #[tokio::test] async fn $case() { super::within_time(super::$case(agentls::config::WireApi::Chat)).await } )*
        }
        mod responses {
            $( #[tokio::test] async fn $case() { super::within_time(super::$case(agentls::config::WireApi::Responses)).await } )*
        }
    };
}

const CASE_TIMEOUT: Duration = Duration::from_secs(10);

async fn within_time(case: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(CASE_TIMEOUT, case)
        .await
        .unwrap_or_else(|_| panic!("the case did not finish within {CASE_TIMEOUT:?}"));
}

on_both_wire_apis!(
    text_streams_in_order,
    reasoning_streams_before_text,
    parallel_tool_calls_are_reassembled,
    usage_is_recorded,
    provider_settings_reach_the_server,
    server_error_is_retried,
    persistent_server_errors_give_up_after_request_max_retries,
    retry_after_is_honoured,
    bad_request_is_not_retried,
    cut_stream_is_retried,
    cuts_beyond_stream_max_retries_fail,
    idle_stream_is_retried,
    cancel_mid_stream_returns_at_once,
    cancel_during_backoff_returns_at_once,
    missing_openai_key_is_reported_before_any_request,
    connection_refused_names_provider_and_url,
    refused_streaming_with_tools_falls_back_to_unstreamed_and_remembers,
    empty_stream_with_tools_falls_back_to_unstreamed_and_remembers,
    unreadable_replies_are_retried_then_fail_with_what_came,
    a_misshaped_reply_is_retried_and_the_next_good_one_used,
    an_unreadable_whole_reply_is_retried_like_a_stream,
    a_model_that_says_nothing_gives_an_empty_answer,
);

fn provider(base_url: String, wire_api: WireApi) -> ProviderInfo {
    ProviderInfo {
        id: "scripted".to_owned(),
        name: "Scripted".to_owned(),
        base_url,
        api_key: Some("sk-test".to_owned()),
        wire_api,
        query_params: BTreeMap::new(),
        http_headers: BTreeMap::new(),
        request_max_retries: 3,
        stream_max_retries: 2,
        stream_idle_timeout: Duration::from_secs(5),
    }
}

fn client(provider: ProviderInfo) -> ModelClient {
    static CRYPTO: Once = Once::new();
    CRYPTO.call_once(|| {
        // The binary installs it in main(); reqwest panics without one.
        rustls::crypto::ring::default_provider()
            .install_default()
            .ok();
    });
    ModelClient::new(provider)
        .expect("a valid provider")
        .with_backoff_base(Duration::from_millis(5))
}

fn read_file_tool() -> ToolSpec {
    ToolSpec {
        name: "read_file".to_owned(),
        description: "Reads a file of the workspace.".to_owned(),
        parameters: json!({
            "type": "object",
            "properties": { "path": { "type": "string" } },
            "required": ["path"],
        }),
    }
}

struct Turn {
    result: Result<TurnOutput, ModelError>,
    events: Vec<StreamEvent>,
}

impl Turn {
    fn output(&self) -> &TurnOutput {
        match &self.result {
            Ok(output) => output,
            Err(error) => panic!("the turn failed: {error}"),
        }
    }

    fn error(&self) -> &ModelError {
        match &self.result {
            Ok(output) => panic!("the turn succeeded: {output:?}"),
            Err(error) => error,
        }
    }

    /// The text streamed since the last retry (a retry discards what came before).
    fn streamed_text(&self) -> String {
        let since_retry = self
            .events
            .iter()
            .rposition(|e| matches!(e, StreamEvent::Retrying { .. }))
            .map_or(0, |last| last + 1);
        self.events[since_retry..]
            .iter()
            .filter_map(|e| match e {
                StreamEvent::TextDelta(text) => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    fn text_deltas(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, StreamEvent::TextDelta(_)))
            .count()
    }

    fn retries(&self) -> Vec<(u32, u32, Duration, String)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Retrying {
                    attempt,
                    max,
                    delay,
                    reason,
                } => Some((*attempt, *max, *delay, reason.clone())),
                _ => None,
            })
            .collect()
    }
}

async fn run_turn(client: &ModelClient, tools: &[ToolSpec], cancel: &CancellationToken) -> Turn {
    let items = [Item::User("Say something.".to_owned())];
    let prompt = Prompt {
        model: "test-model",
        instructions: "You are under test.",
        items: &items,
        tools,
        output_schema: None,
    };
    let mut events = Vec::new();
    let result = client
        .turn(&prompt, cancel, &mut |event| events.push(event))
        .await;
    Turn { result, events }
}

async fn turn(client: &ModelClient) -> Turn {
    run_turn(client, &[], &CancellationToken::new()).await
}

async fn text_streams_in_order(wire: WireApi) {
    let text = "The quick brown fox jumps over the lazy dog, twice.";
    let server = ModelServer::start(vec![Reply::text(text)]).await;
    let client = client(provider(server.base_url(), wire));

    let turn = turn(&client).await;

    assert_eq!(turn.output().text, text);
    assert_eq!(turn.streamed_text(), text);
    assert!(
        turn.text_deltas() > 5,
        "expected many deltas, got {:?}",
        turn.events
    );
    assert!(turn.output().tool_calls.is_empty());
    let request = &server.requests()[0];
    assert_eq!(request["model"], "test-model");
    assert_eq!(request["stream"], true);
}

async fn reasoning_streams_before_text(wire: WireApi) {
    let reply = Reply::Turn {
        reasoning: "Thinking hard.".to_owned(),
        text: "Done.".to_owned(),
        tool_calls: Vec::new(),
    };
    let server = ModelServer::start(vec![reply]).await;
    let client = client(provider(server.base_url(), wire));

    let turn = turn(&client).await;

    let reasoning: String = turn
        .events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ReasoningDelta(text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(reasoning, "Thinking hard.");
    assert!(matches!(turn.events[0], StreamEvent::ReasoningDelta(_)));
    assert_eq!(turn.output().text, "Done.");
}

async fn parallel_tool_calls_are_reassembled(wire: WireApi) {
    let read = json!({ "path": "src/main.rs", "offset": 10, "limit": 200 });
    let grep = json!({ "pattern": "fn main\\(", "path": "src", "case_insensitive": true });
    let reply = Reply::ToolCalls(vec![
        ("read_file".to_owned(), read.clone()),
        ("grep".to_owned(), grep.clone()),
    ]);
    let server = ModelServer::start(vec![reply]).await;
    let client = client(provider(server.base_url(), wire));

    let turn = run_turn(&client, &[read_file_tool()], &CancellationToken::new()).await;

    let calls = &turn.output().tool_calls;
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].name.as_str(), calls[1].name.as_str()),
        ("read_file", "grep")
    );
    let arguments =
        |i: usize| serde_json::from_str::<Value>(&calls[i].arguments).expect("JSON arguments");
    assert_eq!(arguments(0), read);
    assert_eq!(arguments(1), grep);
    assert_ne!(calls[0].call_id, calls[1].call_id);
    assert!(!calls[0].call_id.is_empty());
    let request = &server.requests()[0];
    assert_eq!(request["tool_choice"], "auto");
    assert_eq!(request["tools"].as_array().map(Vec::len), Some(1));
}

async fn usage_is_recorded(wire: WireApi) {
    let server = ModelServer::start(vec![Reply::text("counted")]).await;
    let client = client(provider(server.base_url(), wire));

    let turn = turn(&client).await;

    assert_eq!(turn.output().usage, Some(USAGE));
}

async fn provider_settings_reach_the_server(wire: WireApi) {
    let server = ModelServer::start(vec![Reply::text("ok")]).await;
    let mut provider = provider(server.base_url(), wire);
    provider
        .query_params
        .insert("api-version".to_owned(), "2025-01-01".to_owned());
    provider
        .http_headers
        .insert("x-team".to_owned(), "editors".to_owned());
    let client = client(provider);

    turn(&client).await.output();

    let request = &server.recorded()[0];
    let expected_path = match wire {
        WireApi::Chat => "/v1/chat/completions",
        WireApi::Responses => "/v1/responses",
    };
    assert_eq!(request.path, expected_path);
    assert_eq!(request.query.as_deref(), Some("api-version=2025-01-01"));
    assert_eq!(request.headers["authorization"], "Bearer sk-test");
    assert_eq!(request.headers["x-team"], "editors");
}

async fn server_error_is_retried(wire: WireApi) {
    let server = ModelServer::start(vec![
        Reply::Status(500, "overloaded".to_owned()),
        Reply::text("recovered"),
    ])
    .await;
    let client = client(provider(server.base_url(), wire));

    let turn = turn(&client).await;

    assert_eq!(turn.output().text, "recovered");
    let retries = turn.retries();
    assert_eq!(retries.len(), 1);
    let (attempt, max, _, reason) = &retries[0];
    assert_eq!((*attempt, *max), (1, 3));
    assert!(
        reason.contains("HTTP 500") && reason.contains("overloaded"),
        "{reason}"
    );
    assert_eq!(server.requests().len(), 2);
}

async fn persistent_server_errors_give_up_after_request_max_retries(wire: WireApi) {
    let failing = || Reply::Status(503, "down for maintenance".to_owned());
    let server = ModelServer::start(vec![
        failing(),
        failing(),
        failing(),
        Reply::text("too late"),
    ])
    .await;
    let mut provider = provider(server.base_url(), wire);
    provider.request_max_retries = 2;
    let client = client(provider);

    let turn = turn(&client).await;

    assert!(matches!(turn.error(), ModelError::Http { status: 503, .. }));
    assert!(turn.error().to_string().contains("down for maintenance"));
    assert_eq!(turn.retries().len(), 2);
    assert_eq!(server.requests().len(), 3);
}

async fn retry_after_is_honoured(wire: WireApi) {
    let limited = Reply::StatusRetryAfter {
        status: 429,
        seconds: 1,
        message: "rate limited".to_owned(),
    };
    let server = ModelServer::start(vec![limited, Reply::text("ok")]).await;
    let client = client(provider(server.base_url(), wire));

    let started = Instant::now();
    let turn = turn(&client).await;

    assert_eq!(turn.output().text, "ok");
    assert_eq!(turn.retries()[0].2, Duration::from_secs(1));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited only {:?}",
        started.elapsed()
    );
}

async fn bad_request_is_not_retried(wire: WireApi) {
    let server = ModelServer::start(vec![
        Reply::Status(400, "The model `test-model` does not exist".to_owned()),
        Reply::text("never sent"),
    ])
    .await;
    let client = client(provider(server.base_url(), wire));

    let turn = turn(&client).await;

    assert!(matches!(turn.error(), ModelError::Http { status: 400, .. }));
    let message = turn.error().to_string();
    assert!(
        message.starts_with("HTTP 400 from model provider `scripted` at http://127.0.0.1:"),
        "{message}"
    );
    assert!(
        message.ends_with(": The model `test-model` does not exist"),
        "{message}"
    );
    assert!(turn.retries().is_empty());
    assert_eq!(server.requests().len(), 1);
}

async fn cut_stream_is_retried(wire: WireApi) {
    let text = "Hello there, this reply gets cut.";
    let server = ModelServer::start(vec![
        Reply::cut_after(2, Reply::text(text)),
        Reply::text(text),
    ])
    .await;
    let client = client(provider(server.base_url(), wire));

    let turn = turn(&client).await;

    assert_eq!(turn.output().text, text);
    assert_eq!(turn.streamed_text(), text);
    let first_retry = turn
        .events
        .iter()
        .position(|e| matches!(e, StreamEvent::Retrying { .. }));
    assert_eq!(
        first_retry,
        Some(2),
        "two deltas, then the retry: {:?}",
        turn.events
    );
    let (attempt, max, _, reason) = &turn.retries()[0];
    assert_eq!((*attempt, *max), (1, 2));
    assert!(reason.contains("broke off"), "{reason}");
    assert_eq!(server.requests().len(), 2);
}

async fn cuts_beyond_stream_max_retries_fail(wire: WireApi) {
    let cut = || Reply::cut_after(1, Reply::text("never finished"));
    let server = ModelServer::start(vec![cut(), cut(), cut(), Reply::text("too late")]).await;
    let client = client(provider(server.base_url(), wire));

    let turn = turn(&client).await;

    assert!(
        matches!(
            turn.error(),
            ModelError::StreamInterrupted { attempts: 3, .. }
        ),
        "{:?}",
        turn.error()
    );
    assert!(turn.error().to_string().contains("stream_max_retries"));
    assert_eq!(turn.retries().len(), 2);
    assert_eq!(server.requests().len(), 3);
}

async fn idle_stream_is_retried(wire: WireApi) {
    let text = "A stalled reply.";
    let server = ModelServer::start(vec![
        Reply::stall(Duration::from_secs(20), Reply::text(text)),
        Reply::text(text),
    ])
    .await;
    let mut provider = provider(server.base_url(), wire);
    provider.stream_idle_timeout = Duration::from_millis(300);
    let client = client(provider);

    let started = Instant::now();
    let turn = turn(&client).await;

    assert_eq!(turn.output().text, text);
    let reason = &turn.retries()[0].3;
    assert!(reason.contains("no data for 0.3s"), "{reason}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

async fn cancel_mid_stream_returns_at_once(wire: WireApi) {
    let server = ModelServer::start(vec![Reply::stall(
        Duration::from_secs(20),
        Reply::text("never finishes"),
    )])
    .await;
    let mut provider = provider(server.base_url(), wire);
    provider.stream_idle_timeout = Duration::from_secs(60);
    let client = client(provider);
    let cancel = CancellationToken::new();
    let mut cancelled_at = None;

    let items = [Item::User("hi".to_owned())];
    let prompt = Prompt {
        model: "m",
        instructions: "",
        items: &items,
        tools: &[],
        output_schema: None,
    };
    let result = client
        .turn(&prompt, &cancel, &mut |event| {
            if matches!(event, StreamEvent::TextDelta(_)) && cancelled_at.is_none() {
                cancelled_at = Some(Instant::now());
                cancel.cancel();
            }
        })
        .await;

    let cancelled_at = cancelled_at.expect("a delta arrived before the stall");
    assert!(matches!(result, Err(ModelError::Cancelled)), "{result:?}");
    assert!(
        cancelled_at.elapsed() < Duration::from_millis(100),
        "took {:?}",
        cancelled_at.elapsed()
    );
}

async fn cancel_during_backoff_returns_at_once(wire: WireApi) {
    let limited = Reply::StatusRetryAfter {
        status: 429,
        seconds: 30,
        message: "rate limited".to_owned(),
    };
    let server = ModelServer::start(vec![limited, Reply::text("too late")]).await;
    let client = client(provider(server.base_url(), wire));
    let cancel = CancellationToken::new();
    let mut cancelled_at = None;

    let items = [Item::User("hi".to_owned())];
    let prompt = Prompt {
        model: "m",
        instructions: "",
        items: &items,
        tools: &[],
        output_schema: None,
    };
    let result = client
        .turn(&prompt, &cancel, &mut |event| {
            if matches!(event, StreamEvent::Retrying { .. }) {
                cancelled_at = Some(Instant::now());
                cancel.cancel();
            }
        })
        .await;

    let cancelled_at = cancelled_at.expect("a retry was announced");
    assert!(matches!(result, Err(ModelError::Cancelled)), "{result:?}");
    assert!(cancelled_at.elapsed() < Duration::from_millis(100));
    assert_eq!(server.requests().len(), 1);
}

async fn missing_openai_key_is_reported_before_any_request(wire: WireApi) {
    let mut provider = provider("http://127.0.0.1:9/v1".to_owned(), wire);
    provider.id = "openai".to_owned();
    provider.api_key = None;

    let error = ModelClient::new(provider).expect_err("no key, no client");

    assert_eq!(
        error.to_string(),
        "provider `openai` needs an API key: set OPENAI_API_KEY"
    );
}

async fn connection_refused_names_provider_and_url(wire: WireApi) {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        listener.local_addr().expect("local address").port()
    };
    let base_url = format!("http://127.0.0.1:{port}/v1");
    let mut provider = provider(base_url.clone(), wire);
    provider.request_max_retries = 1;
    let client = client(provider);

    let turn = turn(&client).await;

    assert_eq!(
        turn.error().to_string(),
        format!(
            "cannot reach model provider `scripted` at {base_url}: connection refused — is the server running?"
        )
    );
    assert_eq!(turn.retries().len(), 1);
}

async fn refused_streaming_with_tools_falls_back_to_unstreamed_and_remembers(wire: WireApi) {
    falls_back_to_unstreamed_and_remembers(wire, Reply::RejectStreamingWithTools).await;
}

async fn empty_stream_with_tools_falls_back_to_unstreamed_and_remembers(wire: WireApi) {
    falls_back_to_unstreamed_and_remembers(wire, Reply::EmptyStreamWithTools).await;
}

/// The first tool turn is streamed and refused, then redone unstreamed; the next tool
/// turn goes straight to unstreamed; a turn without tools still streams.
async fn falls_back_to_unstreamed_and_remembers(wire: WireApi, refusal: Reply) {
    let server = ModelServer::start(vec![
        refusal.clone(),
        Reply::ToolCalls(vec![(
            "read_file".to_owned(),
            json!({ "path": "README.md" }),
        )]),
        refusal,
        Reply::text("All done."),
        Reply::text("No tools, so streamed."),
    ])
    .await;
    let client = client(provider(server.base_url(), wire));
    let tools = [read_file_tool()];
    let cancel = CancellationToken::new();

    let first = run_turn(&client, &tools, &cancel).await;
    let second = run_turn(&client, &tools, &cancel).await;
    let third = run_turn(&client, &[], &cancel).await;

    assert_eq!(first.output().tool_calls[0].name, "read_file");
    assert_eq!(
        first.output().tool_calls[0].arguments,
        r#"{"path":"README.md"}"#
    );
    assert!(first.retries().is_empty(), "the fallback costs no retry");
    assert_eq!(second.output().text, "All done.");
    assert_eq!(
        second.events,
        [StreamEvent::TextDelta("All done.".to_owned())]
    );
    assert!(third.text_deltas() > 1);
    let streamed: Vec<Value> = server
        .requests()
        .iter()
        .map(|r| r["stream"].clone())
        .collect();
    assert_eq!(streamed, [true, false, false, true]);
    assert_eq!(server.remaining(), 0);
}

/// SSE that is not the wire format, ending the way the format ends a reply.
fn unreadable_stream(wire: WireApi) -> Reply {
    match wire {
        WireApi::Chat => Reply::raw_events(&["data: {this is not json\n\n", "data: [DONE]\n\n"]),
        WireApi::Responses => Reply::raw_events(&[
            "data: {this is not json\n\n",
            "data: {\"type\":\"response.completed\",\"response\":{}}\n\n",
        ]),
    }
}

/// JSON events of the wrong shape, then a well-formed end of the reply.
fn misshaped_stream(wire: WireApi) -> Reply {
    match wire {
        WireApi::Chat => Reply::raw_events(&[
            "data: {\"choices\":\"nope\"}\n\n",
            "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
            "data: [DONE]\n\n",
        ]),
        WireApi::Responses => Reply::raw_events(&[
            "data: {\"type\":\"response.output_text.delta\",\"delta\":{\"nope\":1}}\n\n",
            "data: {\"choices\":\"nope\"}\n\n",
            "data: {\"type\":\"response.completed\",\"response\":{}}\n\n",
        ]),
    }
}

async fn unreadable_replies_are_retried_then_fail_with_what_came(wire: WireApi) {
    let garbage = || unreadable_stream(wire);
    let server = ModelServer::start(vec![garbage(), garbage(), garbage()]).await;
    let client = client(provider(server.base_url(), wire));

    let turn = turn(&client).await;

    assert!(
        matches!(
            turn.error(),
            ModelError::InvalidResponse { attempts: 3, .. }
        ),
        "{:?}",
        turn.error()
    );
    let message = turn.error().to_string();
    assert!(message.contains("`{this is not json`"), "{message}");
    assert!(message.contains("no text and no tool call"), "{message}");
    assert_eq!(turn.retries().len(), 2, "stream_max_retries = 2");
    assert_eq!(server.requests().len(), 3);
}

async fn a_misshaped_reply_is_retried_and_the_next_good_one_used(wire: WireApi) {
    let server = ModelServer::start(vec![misshaped_stream(wire), Reply::text("Recovered.")]).await;
    let client = client(provider(server.base_url(), wire));

    let turn = turn(&client).await;

    assert_eq!(turn.output().text, "Recovered.");
    let retries = turn.retries();
    let (attempt, max, _, reason) = &retries[0];
    assert_eq!((retries.len(), *attempt, *max), (1, 1, 2));
    assert!(reason.contains("held nothing usable"), "{reason}");
    assert!(reason.contains("nope"), "what came is quoted: {reason}");
}

async fn an_unreadable_whole_reply_is_retried_like_a_stream(wire: WireApi) {
    let page = || Reply::raw_body("application/json", "<html>502 Bad Gateway</html>");
    let server = ModelServer::start(vec![page(), page(), page()]).await;
    let client = client(provider(server.base_url(), wire));

    let turn = turn(&client).await;

    let message = turn.error().to_string();
    assert!(message.contains("502 Bad Gateway"), "{message}");
    assert!(message.contains("3 time(s) in a row"), "{message}");
    assert_eq!(server.requests().len(), 3);
}

/// Only a reply with unreadable parts is suspect: a model that really says nothing has
/// answered (asking again would cost a turn and most likely get the same).
async fn a_model_that_says_nothing_gives_an_empty_answer(wire: WireApi) {
    let server = ModelServer::start(vec![Reply::text("")]).await;
    let client = client(provider(server.base_url(), wire));

    let turn = turn(&client).await;

    assert_eq!(turn.output().text, "");
    assert!(turn.output().tool_calls.is_empty());
    assert!(turn.retries().is_empty());
    assert_eq!(server.requests().len(), 1);
}
