use proptest::prelude::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower_lsp_server::jsonrpc::Result as RpcResult;
use tower_lsp_server::ls_types::{InitializeParams, InitializeResult};
use tower_lsp_server::{LanguageServer, LspService};

use super::*;

/// tower-lsp's crate-private `jsonrpc::Message`, spelled the same way: what its decoder
/// takes. Everything the guard forwards must decode as this.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
#[allow(dead_code)] // only decoded, to see that it decodes
enum TowerLspMessage {
    Response(Response),
    Request(Request),
}

fn decodes_in_tower_lsp(body: &[u8]) -> bool {
    serde_json::from_slice::<TowerLspMessage>(body).is_ok()
}

fn vet_json(message: &Value) -> Verdict {
    vet(message.to_string().as_bytes())
}

/// The error reply for a message the guard answers itself: (id, code, message).
fn answered(verdict: Verdict) -> (Value, i64, String) {
    let Verdict::Answer { id, error } = verdict else {
        panic!("expected an error reply, got {verdict:?}");
    };
    let reply = serde_json::to_value(Response::from_error(id, error)).unwrap();
    (
        reply["id"].clone(),
        reply["error"]["code"].as_i64().unwrap(),
        reply["error"]["message"].as_str().unwrap().to_owned(),
    )
}

fn forwarded(verdict: Verdict) -> Value {
    match verdict {
        Verdict::Forward(body) => {
            assert!(
                decodes_in_tower_lsp(&body),
                "{}",
                String::from_utf8_lossy(&body)
            );
            serde_json::from_slice(&body).unwrap()
        }
        other => panic!("expected the message to be forwarded, got {other:?}"),
    }
}

/// Ids tower-lsp's decoder refuses (as JSON text), and how the reply names each kind.
const HOSTILE_IDS: [(&str, &str); 9] = [
    ("1.5", "a fraction"),
    ("1.0", "a fraction"),
    ("1e3", "an exponent"),
    ("-9223372036854775809", "beyond 64 bits"),
    ("18446744073709551616", "beyond 64 bits"),
    ("9223372036854775808", "9223372036854775808, beyond 2^63-1"),
    ("true", "a boolean"),
    ("[1]", "an array"),
    ("{}", "an object"),
];

#[test]
fn requests_with_ids_tower_lsp_cannot_decode_are_answered_with_id_null() {
    for (id, kind) in HOSTILE_IDS {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"agent/listTasks"}}"#);
        assert!(!decodes_in_tower_lsp(body.as_bytes()), "{id} decodes?");
        let (reply_id, code, message) = answered(vet(body.as_bytes()));
        assert_eq!((reply_id, code), (Value::Null, -32600), "{id}");
        assert!(message.contains(kind), "{id}: {message}");
    }
}

#[test]
fn responses_with_ids_tower_lsp_cannot_decode_become_notices() {
    for (id, kind) in HOSTILE_IDS {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":null}}"#);
        match vet(body.as_bytes()) {
            Verdict::Notice(problem) => assert!(
                problem.starts_with("a response has an id that is") && problem.contains(kind),
                "{id}: {problem}"
            ),
            other => panic!("{id}: {other:?}"),
        }
    }
}

#[test]
fn ids_tower_lsp_can_decode_are_forwarded_or_echoed() {
    for id in [
        json!(i64::MIN),
        json!(i64::MAX),
        json!(0),
        json!("x"),
        json!(""),
    ] {
        let request = json!({"jsonrpc": "2.0", "id": id, "method": "agent/listTasks"});
        assert_eq!(forwarded(vet_json(&request))["id"], id);
        let bad = json!({"jsonrpc": "2.0", "id": id, "method": "agent/listTasks", "params": 3});
        assert_eq!(answered(vet_json(&bad)).0, id);
    }
}

#[test]
fn a_malformed_response_with_a_usable_id_answers_its_request_with_an_error() {
    for response in [
        json!({"jsonrpc": "2.0", "id": 4, "error": {"code": 1.5, "message": "x"}}),
        json!({"jsonrpc": "2.0", "id": 4, "error": {"code": 1, "message": "x", "extra": 1}}),
        json!({"jsonrpc": "2.0", "id": 4, "error": "boom"}),
        json!({"jsonrpc": "1.0", "id": 4, "result": {}}),
    ] {
        let forwarded = forwarded(vet_json(&response));
        assert_eq!(forwarded["id"], 4, "{response}");
        assert_eq!(forwarded["error"]["code"], -32600, "{response}");
        assert!(
            forwarded["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("the client's response"),
            "{forwarded}"
        );
    }
}

#[test]
fn every_kind_of_broken_message_gets_a_reason() {
    let cases: [(&str, i64, &str); 8] = [
        ("{not json", -32700, "invalid JSON"),
        ("", -32700, "invalid JSON"),
        ("[1,2]", -32600, "must be an object"),
        ("3", -32600, "must be an object"),
        (r#"{"id":1,"method":"x"}"#, -32600, "jsonrpc"),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
            -32600,
            "not a string",
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"params":{}}"#,
            -32600,
            "neither a request",
        ),
        (
            r#"{"jsonrpc":"2.0","method":"textDocument/didChange","params":"x"}"#,
            -32600,
            "params",
        ),
    ];
    for (body, expected_code, reason) in cases {
        let (_, code, message) = answered(vet(body.as_bytes()));
        assert_eq!(code, expected_code, "{body}");
        assert!(message.contains(reason), "{body}: {message}");
    }
    let nested = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"x","params":{nested}}}"#);
    assert_eq!(
        answered(vet(body.as_bytes())).1,
        -32700,
        "too deep for serde_json"
    );
}

#[test]
fn parameterless_agent_requests_get_empty_params() {
    for params in [None, Some(Value::Null)] {
        let mut request = json!({"jsonrpc": "2.0", "id": 1, "method": "agent/listTasks"});
        if let Some(params) = params {
            request["params"] = params;
        }
        assert_eq!(forwarded(vet_json(&request))["params"], json!({}));
    }
    let other = json!({"jsonrpc": "2.0", "id": 1, "method": "shutdown"});
    assert!(forwarded(vet_json(&other)).get("params").is_none());
}

#[test]
fn duplicate_keys_reach_tower_lsp_settled() {
    let body = r#"{"jsonrpc":"2.0","id":1.5,"id":3,"method":"agent/listTasks"}"#;
    assert!(!decodes_in_tower_lsp(body.as_bytes()));
    assert_eq!(forwarded(vet(body.as_bytes()))["id"], 3);
}

/// A value for one member of a message: the usual ones and the hostile ones.
fn member_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        Just(json!("2.0")),
        Just(json!("agent/listTasks")),
        Just(json!("$/unknown")),
        ".{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("code".to_owned()),
                    Just("message".to_owned()),
                    ".{0,4}"
                ],
                inner,
                0..3
            )
            .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

fn message() -> impl Strategy<Value = Value> {
    const KEYS: [&str; 6] = ["jsonrpc", "id", "method", "params", "result", "error"];
    let members = prop::collection::vec(
        (prop::sample::select(KEYS.as_slice()), member_value()),
        0..6,
    );
    // Mostly with the right version, so that the other members decide.
    (prop::option::weighted(0.9, Just(json!("2.0"))), members).prop_map(|(version, members)| {
        let mut message = Map::new();
        if let Some(version) = version {
            message.insert("jsonrpc".to_owned(), version);
        }
        for (key, value) in members {
            message.insert(key.to_owned(), value);
        }
        Value::Object(message)
    })
}

proptest! {
    /// The guard's contract with tower-lsp: what it forwards, tower-lsp decodes.
    #[test]
    fn whatever_the_guard_forwards_tower_lsp_decodes(message in message()) {
        let body = message.to_string();
        let verdict = vet(body.as_bytes());
        if let Verdict::Forward(forwarded) = &verdict {
            prop_assert!(
                decodes_in_tower_lsp(forwarded),
                "{} became {}", body, String::from_utf8_lossy(forwarded)
            );
        }
        // And it turns nothing away that tower-lsp would take and LSP allows.
        let lsp_shaped = match message.get("method") {
            Some(Value::String(_)) => message
                .get("params")
                .is_none_or(|p| p.is_object() || p.is_array() || p.is_null()),
            Some(_) => false,
            None => {
                message.get("id").is_some()
                    && (message.get("result").is_some() || message.get("error").is_some())
            }
        };
        if decodes_in_tower_lsp(body.as_bytes()) && lsp_shaped {
            prop_assert!(matches!(verdict, Verdict::Forward(_)), "{} was turned away", body);
        }
    }
}

/// Runs [`forward`] over `input`: (what tower-lsp received, what the guard replied).
async fn guard(input: &[u8]) -> (Vec<Value>, Vec<Value>) {
    let (server_in, mut server_out) = tokio::io::duplex(PIPE_BYTES);
    let (stdout_in, mut stdout_out) = tokio::io::duplex(PIPE_BYTES);
    let (server_output, replies, written) = writer::start(stdout_in);
    forward(input, server_in, replies).await;
    drop(server_output);
    written.await.unwrap();
    let mut to_server = Vec::new();
    server_out.read_to_end(&mut to_server).await.unwrap();
    let mut to_client = Vec::new();
    stdout_out.read_to_end(&mut to_client).await.unwrap();
    (parse_frames(&to_server), parse_frames(&to_client))
}

fn parse_frames(bytes: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(bytes).unwrap();
    let mut messages = Vec::new();
    let mut rest = text;
    while let Some(after) = rest.strip_prefix("Content-Length: ") {
        let (length, after) = after.split_once("\r\n\r\n").unwrap();
        let length: usize = length.parse().unwrap();
        messages.push(serde_json::from_str(&after[..length]).unwrap());
        rest = &after[length..];
    }
    assert!(rest.is_empty(), "not framed: {rest:?}");
    messages
}

fn frame(body: &str) -> String {
    format!("Content-Length: {}\r\n\r\n{body}", body.len())
}

#[tokio::test]
async fn bad_input_is_answered_and_good_input_still_reaches_tower_lsp() {
    let input = [
        frame(r#"{"jsonrpc":"2.0","id":1,"method":"agent/listTasks"}"#),
        frame("{not json"),
        frame(r#"{"jsonrpc":"2.0","id":1.5,"method":"agent/listTasks"}"#),
        "Content-Length: -5\r\n\r\n{\"jsonrpc\":\"2.0\"}".to_owned(),
        frame(r#"{"jsonrpc":"2.0","id":9223372036854775808,"result":null}"#),
        frame(r#"{"jsonrpc":"2.0","id":2,"result":null}"#),
    ]
    .concat();
    let (to_server, to_client) = guard(input.as_bytes()).await;
    assert_eq!(to_server.len(), 2, "{to_server:?}");
    assert_eq!(to_server[0]["params"], json!({}));
    assert_eq!(to_server[1]["id"], 2);
    let codes: Vec<&Value> = to_client.iter().map(|m| &m["error"]["code"]).collect();
    assert_eq!(
        codes,
        [&json!(-32700), &json!(-32600), &json!(-32700), &Value::Null]
    );
    assert!(
        to_client[..3].iter().all(|m| m["id"].is_null()),
        "{to_client:?}"
    );
    assert!(
        to_client[2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Content-Length `-5` is not a number"),
        "{to_client:?}"
    );
    assert_eq!(to_client[3]["method"], "window/logMessage");
    assert!(
        to_client[3]["params"]["message"]
            .as_str()
            .unwrap()
            .contains("9223372036854775808"),
        "{to_client:?}"
    );
}

#[tokio::test]
async fn the_writer_never_cuts_a_frame_with_a_reply() {
    let (stdout_in, mut stdout_out) = tokio::io::duplex(1024);
    let (mut server_output, replies, written) = writer::start(stdout_in);
    let client = tokio::spawn(async move {
        let mut bytes = Vec::new();
        stdout_out.read_to_end(&mut bytes).await.unwrap();
        bytes
    });
    let big = json!({"jsonrpc": "2.0", "id": 1, "result": "x".repeat(200_000)}).to_string();
    let frame_bytes = frame(&big).into_bytes();
    let server = tokio::spawn(async move {
        // tower-lsp's writes may end anywhere: write in odd pieces.
        for piece in frame_bytes.chunks(997) {
            server_output.write_all(piece).await.unwrap();
            tokio::task::yield_now().await;
        }
        server_output
    });
    for n in 0..50 {
        replies
            .send(&json!({"jsonrpc": "2.0", "id": null, "n": n}))
            .await;
        tokio::task::yield_now().await;
    }
    // The writer ends with tower-lsp's output; every reply queued by then goes out.
    drop(server.await.unwrap());
    written.await.unwrap();
    let messages = parse_frames(&client.await.unwrap());
    assert_eq!(messages.len(), 51);
    assert_eq!(messages.iter().filter(|m| m["id"] == 1).count(), 1);
    // Replies went out while the big frame was still arriving, yet none landed inside it.
    let big_at = messages.iter().position(|m| m["id"] == 1).unwrap();
    assert!(big_at > 0, "{big_at}");
}

struct Minimal;

impl LanguageServer for Minimal {
    async fn initialize(&self, _: InitializeParams) -> RpcResult<InitializeResult> {
        Ok(InitializeResult::default())
    }

    async fn shutdown(&self) -> RpcResult<()> {
        Ok(())
    }
}

async fn call<S: Service<Request, Response = Option<Response>>>(
    service: &mut S,
    request: Request,
) -> Option<Value>
where
    S::Error: std::fmt::Debug,
{
    std::future::poll_fn(|cx| service.poll_ready(cx))
        .await
        .unwrap();
    let response = service.call(request).await.unwrap();
    response.map(|r| serde_json::to_value(r).unwrap())
}

#[tokio::test]
async fn unknown_dollar_requests_get_method_not_found_and_notifications_nothing() {
    let (service, _socket) = LspService::new(|_| Minimal);
    let mut service = AnswerEveryRequest(service);
    let initialize = Request::build("initialize")
        .params(json!({"capabilities": {}}))
        .id(1)
        .finish();
    assert!(call(&mut service, initialize).await.is_some());

    let request = Request::build("$/unknown").id("x").finish();
    let reply = call(&mut service, request).await.expect("an answer");
    assert_eq!(reply["id"], "x");
    assert_eq!(reply["error"]["code"], -32601);
    assert_eq!(reply["error"]["data"], "$/unknown");

    let notification = Request::build("$/unknown").finish();
    assert_eq!(call(&mut service, notification).await, None);
    let cancel = Request::build("$/cancelRequest")
        .params(json!({"id": 99}))
        .finish();
    assert_eq!(call(&mut service, cancel).await, None);

    let other = Request::build("custom/unknown").id(3).finish();
    let reply = call(&mut service, other).await.expect("an answer");
    assert_eq!(
        reply["error"]["code"], -32601,
        "unchanged for other methods"
    );
}
