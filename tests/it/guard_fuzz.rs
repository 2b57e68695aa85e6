//! The input guard against the real binary: request ids, headers and frames that ended the
//! session before, each followed by a request the server must still answer, alive. Then
//! seeded bursts of random and mutated frames (set `AGENTLS_FUZZ_SEED` to replay one).

use proptest::prelude::{Rng, RngCore};
use proptest::test_runner::{RngAlgorithm, TestRng};
use serde_json::{Value, json};

use crate::support::fixture::Fixture;
use crate::support::lsp_client::{ClientOptions, LspClient};

async fn started() -> (Fixture, LspClient) {
    let fixture = Fixture::new("chat", &[], vec![]).await;
    let client = fixture.client(ClientOptions::default()).await;
    (fixture, client)
}

fn frame(body: &[u8]) -> Vec<u8> {
    [
        format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
        body,
    ]
    .concat()
}

/// The server answers a request and is still running; `context` says what came before.
async fn assert_still_serving(client: &mut LspClient, context: &str) {
    let tasks = client.request("agent/listTasks", json!({})).await;
    assert_eq!(
        tasks.map(|t| t["tasks"].clone()),
        Ok(json!([])),
        "after {context}"
    );
    assert!(client.is_running(), "the server exited after {context}");
}

/// Waits for the `n`-th (1-based) response nobody waits for and returns it.
async fn nth_unawaited(client: &LspClient, n: usize, context: &str) -> Value {
    client
        .wait_until(&format!("an error reply to {context}"), |c| {
            c.unawaited_responses().get(n - 1).cloned()
        })
        .await
}

/// Ids tower-lsp's decoder refuses; it used to end the session on each of them.
const HOSTILE_IDS: [&str; 8] = [
    "1.5",
    "true",
    "1e3",
    "[1]",
    "{}",
    "-9223372036854775809",
    "9223372036854775808",
    "18446744073709551616",
];

#[tokio::test]
async fn requests_with_ids_tower_lsp_cannot_decode_get_an_error_with_id_null() {
    let (_fixture, mut client) = started().await;
    for (n, id) in HOSTILE_IDS.iter().enumerate() {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"agent/listTasks"}}"#);
        client.send_raw(&frame(body.as_bytes())).await;
        let reply = nth_unawaited(&client, n + 1, &body).await;
        assert_eq!(reply["id"], Value::Null, "{reply}");
        assert_eq!(reply["error"]["code"], -32600, "{reply}");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains("an id is an integer"), "{id}: {message}");
        assert_still_serving(&mut client, &body).await;
    }
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn responses_with_ids_beyond_i64_are_a_logged_notice() {
    let (_fixture, mut client) = started().await;
    for (n, id) in ["9223372036854775808", "-9223372036854775809", "1.5"]
        .iter()
        .enumerate()
    {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":null}}"#);
        client.send_raw(&frame(body.as_bytes())).await;
        let notice = client
            .wait_until("a notice of the malformed response", |c| {
                c.notifications("window/logMessage").get(n).cloned()
            })
            .await;
        assert_eq!(notice["type"], 1, "an error: {notice}");
        let message = notice["message"].as_str().unwrap();
        assert!(
            message.contains("a response has an id that is"),
            "{message}"
        );
        assert_still_serving(&mut client, &body).await;
    }
    let replies = client.unawaited_responses();
    assert!(
        replies.is_empty(),
        "responses are never answered: {replies:?}"
    );
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn after_a_bad_header_the_stream_resynchronises_on_the_next_content_length() {
    let (_fixture, mut client) = started().await;
    let body = r#"{"jsonrpc":"2.0","id":"lost","method":"agent/listTasks"}"#;
    // What precedes the body, and how many error replies it costs.
    let cases: [(&str, &[u8], usize); 7] = [
        ("a negative length", b"Content-Length: -5\r\n\r\n", 1),
        ("a non-numeric length", b"Content-Length: five\r\n\r\n", 1),
        (
            "a length over the cap",
            b"Content-Length: 999999999999\r\n\r\n",
            1,
        ),
        (
            "no Content-Length",
            b"Content-Type: application/json\r\n\r\n",
            1,
        ),
        (
            "a non-UTF-8 header line",
            b"Content-Length: 56\r\n\xc3\x28: x\r\n\r\n",
            1,
        ),
        ("a non-UTF-8 line before the header", b"\xff\xfe\xfd\r\n", 1),
        // The truncated body is not JSON, and the rest of it is not a header.
        (
            "a length shorter than the body",
            b"Content-Length: 12\r\n\r\n",
            2,
        ),
    ];
    let mut expected = 0;
    for (what, header, replies) in cases {
        client.send_raw(&[header, body.as_bytes()].concat()).await;
        assert_still_serving(&mut client, what).await;
        // The guard's replies and tower-lsp's answers reach stdout in either order.
        expected += replies;
        let replies = client
            .wait_until(&format!("the error reply for {what}"), |c| {
                let replies = c.unawaited_responses();
                (replies.len() >= expected).then_some(replies)
            })
            .await;
        assert_eq!(replies.len(), expected, "{what}: {replies:?}");
        for reply in &replies {
            assert_eq!(reply["id"], Value::Null, "{what}: {reply}");
            assert_eq!(reply["error"]["code"], -32700, "{what}: {reply}");
        }
    }
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn a_bad_header_then_the_same_message_intact_is_answered() {
    let (_fixture, client) = started().await;
    let request = r#"{"jsonrpc":"2.0","id":"again","method":"agent/listTasks"}"#;
    let input = [
        b"\xff\xfe garbage\r\n".as_slice(),
        &frame(request.as_bytes()),
    ]
    .concat();
    client.send_raw(&input).await;
    let answered = client
        .wait_until("the message after the garbage line", |c| {
            c.unawaited_responses()
                .into_iter()
                .find(|r| r["id"] == "again")
        })
        .await;
    assert_eq!(answered["result"]["tasks"], json!([]), "{answered}");
    assert!(client.shutdown().await.success());
}

#[tokio::test]
async fn dollar_requests_get_method_not_found_and_dollar_notifications_nothing() {
    let (_fixture, mut client) = started().await;
    let error = client
        .request("$/agentls/unknownRequest", json!({}))
        .await
        .unwrap_err();
    assert_eq!(error["code"], -32601, "{error}");
    assert_eq!(error["data"], "$/agentls/unknownRequest", "{error}");
    client
        .notify("$/agentls/unknownNotification", json!({}))
        .await;
    client.notify("$/setTrace", json!({"value": "off"})).await;
    assert_still_serving(&mut client, "$/ notifications").await;
    let replies = client.unawaited_responses();
    assert!(
        replies.is_empty(),
        "$/ notifications are never answered: {replies:?}"
    );
    assert!(client.shutdown().await.success());
}

// ----- fuzzing --------------------------------------------------------------------------

const BURSTS: usize = 60;
const PIECES_PER_BURST: usize = 30;

/// A body claims at most this many bytes more than it has: more would swallow the check
/// request after the burst (a client that does so loses that request, by design).
const MAX_OVERCLAIM: usize = 32;

/// Completes any body or header a burst leaves unfinished: blank lines are skipped between
/// messages, and inside a body they only make it invalid JSON.
fn padding() -> Vec<u8> {
    b"\r\n".repeat(1024)
}

#[tokio::test]
async fn fuzzed_bursts_never_end_the_session() {
    let seed = std::env::var("AGENTLS_FUZZ_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(0x0061_6765_6e74_6c73);
    let mut fuzzer = Fuzzer::new(seed);
    let (_fixture, mut client) = started().await;
    for burst_number in 0..BURSTS {
        let burst: Vec<u8> = (0..PIECES_PER_BURST).flat_map(|_| fuzzer.piece()).collect();
        client.send_raw(&burst).await;
        client.send_raw(&padding()).await;
        let context = format!(
            "burst {burst_number} of seed {seed} (AGENTLS_FUZZ_SEED={seed} replays it): {}",
            String::from_utf8_lossy(&burst).escape_debug()
        );
        assert_still_serving(&mut client, &context).await;
    }
    assert!(client.shutdown().await.success());
}

/// Frames, some well formed, most not; ids are kept out of the range the scripted client
/// uses, and methods to ones that change nothing (no `exit`, `shutdown`, `initialize`).
struct Fuzzer {
    rng: TestRng,
    next_id: u64,
}

const METHODS: [&str; 8] = [
    "agent/listTasks",
    "agent/getTask",
    "agent/getProposal",
    "$/cancelRequest",
    "$/unknown",
    "textDocument/didChange",
    "textDocument/hover",
    "no/such/method",
];
const PARAMS: [&str; 8] = [
    "{}",
    "[]",
    "null",
    "\"text\"",
    "3",
    r#"{"taskId":"nope"}"#,
    r#"{"id":1000000}"#,
    r#"{"textDocument":{"uri":"file:///elsewhere/x","version":2},"contentChanges":[]}"#,
];
const ERRORS: [&str; 4] = [
    r#"{"code":-1,"message":"m"}"#,
    r#"{"code":1.5,"message":"m"}"#,
    r#""boom""#,
    r#"{"code":1,"message":"m","extra":1}"#,
];
const HOSTILE_HEADERS: [&str; 8] = [
    "Content-Length: -5\r\n\r\n",
    "Content-Length: abc\r\n\r\n",
    "Content-Length: 99999999999999999999\r\n\r\n",
    "Content-Length: 268435457\r\n\r\n",
    "Content-Type: application/json\r\n\r\n",
    "Content-Length 12\r\n\r\n",
    "Content-Length: 12\r\nContent-Length: 13\r\n\r\n",
    "\u{1b}[31m\r\n\r\n",
];

impl Fuzzer {
    fn new(seed: u64) -> Fuzzer {
        let mut bytes = [0; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        Fuzzer {
            rng: TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
            next_id: 1_000_000,
        }
    }

    fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        choices[self.rng.random_range(0..choices.len())]
    }

    fn piece(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..10) {
            0..=2 => frame(self.message().as_bytes()),
            3..=6 => self.mutated_frame(),
            7 => self.hostile_header(),
            8 => self.garbage(),
            _ => frame(&self.odd_body()),
        }
    }

    /// An id: one the server can answer (in a range the scripted client never uses), or
    /// one tower-lsp cannot decode.
    fn id(&mut self) -> String {
        self.next_id += 1;
        match self.rng.random_range(0..4) {
            0 => self.next_id.to_string(),
            1 => format!("\"fuzz-{}\"", self.next_id),
            _ => self.pick(&HOSTILE_IDS).to_owned(),
        }
    }

    fn message(&mut self) -> String {
        let id = self.id();
        let method = self.pick(&METHODS);
        let params = self.pick(&PARAMS);
        match self.rng.random_range(0..7) {
            0 | 1 => {
                format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#)
            }
            2 => format!(r#"{{"jsonrpc":"2.0","method":"{method}","params":{params}}}"#),
            3 => format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{params}}}"#),
            4 => {
                let error = self.pick(&ERRORS);
                format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{error}}}"#)
            }
            5 => {
                let version = self.pick(&["\"1.0\"", "\"\"", "2", "null"]);
                format!(r#"{{"jsonrpc":{version},"id":{id},"method":"{method}"}}"#)
            }
            _ => {
                let method = self.pick(&["7", "null", "[\"x\"]", "{}"]);
                format!(r#"{{"jsonrpc":"2.0","id":{id},"method":{method}}}"#)
            }
        }
    }

    /// A message with its bytes damaged, under a Content-Length that is right, short of
    /// the body, or a little beyond it.
    fn mutated_frame(&mut self) -> Vec<u8> {
        let mut body = self.message().into_bytes();
        for _ in 0..self.rng.random_range(1..=3) {
            let at = self.rng.random_range(0..body.len());
            match self.rng.random_range(0..4) {
                0 => body[at] = self.rng.random(),
                1 => body.insert(at, self.rng.random()),
                2 => {
                    body.remove(at);
                }
                _ => body.truncate(at.max(1)),
            }
            if body.is_empty() {
                body.push(b'{');
            }
        }
        let claimed = match self.rng.random_range(0..4) {
            0 => self.rng.random_range(0..body.len()),
            1 => body.len() + self.rng.random_range(1..=MAX_OVERCLAIM),
            _ => body.len(),
        };
        [
            format!("Content-Length: {claimed}\r\n\r\n").as_bytes(),
            &body,
        ]
        .concat()
    }

    fn hostile_header(&mut self) -> Vec<u8> {
        let header = self.pick(&HOSTILE_HEADERS).as_bytes().to_vec();
        let header = if self.rng.random_bool(0.2) {
            [b"\xff\xfe".as_slice(), &header].concat()
        } else {
            header
        };
        [header, self.message().into_bytes()].concat()
    }

    /// Random bytes between frames, now and then with line breaks.
    fn garbage(&mut self) -> Vec<u8> {
        let length = self.rng.random_range(0..120);
        (0..length)
            .map(|_| match self.rng.random_range(0..8) {
                0 => b'\n',
                1 => b'\r',
                _ => self.rng.random(),
            })
            .collect()
    }

    /// A well-framed body that is no JSON-RPC message, or barely JSON.
    fn odd_body(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..6) {
            0 => {
                let mut bytes = vec![0; self.rng.random_range(0..80)];
                self.rng.fill_bytes(&mut bytes);
                bytes
            }
            1 => format!("{}{}", "[".repeat(300), "]".repeat(300)).into_bytes(),
            2 => format!("[{},{}]", self.message(), self.message()).into_bytes(),
            3 => br#"{"jsonrpc":"2.0","id":1e999,"method":"agent/listTasks"}"#.to_vec(),
            4 => br#"{"jsonrpc":"2.0","method":"$/unknown","params":{"a":"\ud800"}}"#.to_vec(),
            _ => Vec::new(),
        }
    }
}
