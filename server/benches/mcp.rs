//! MCP servers, measured against their peers in the same run (docs/performance.md records
//! the numbers and this command: `cargo bench --bench mcp`), with the real
//! `server-everything` installed by scripts/install-test-deps.sh:
//!
//! - a tool call through agentls's client (the connection, the call, the result turned
//!   into what the model reads) against the raw round trip to the same server with the
//!   SDK alone: the difference is our overhead (target < 2 ms);
//! - time to the first model request of a task with three stdio servers configured,
//!   against the same task with none, and against one server's start: the servers start
//!   in parallel, so three cost about one, not three.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) everything runs once, small.

#[path = "../../tests/support/mod.rs"]
mod support;

use support::bench::median;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use agentls::config::McpServerConfig;
use agentls::mcp::{Connection, Place, server_spec};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientConfig};
use serde_json::json;
use support::fixture::Fixture;
use support::lsp_client::ClientOptions;
use support::model_server::Reply;

fn everything() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-deps/mcp/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    assert!(path.exists(), "run scripts/install-test-deps.sh first");
    path.canonicalize().unwrap()
}

fn main() {
    // Our stdio servers run under the sandbox helper, which is this binary re-executed.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(agentls::sandbox::HELPER_SUBCOMMAND) {
        std::process::exit(match agentls::sandbox::helper::main(&args[2]) {
            code if code == std::process::ExitCode::SUCCESS => 0,
            _ => 1,
        });
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(call_overhead());
    runtime.block_on(first_request());
}

fn ms(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1000.0)
}

async fn call_overhead() {
    let calls = if support::bench::full_run() { 500 } else { 5 };
    let server = everything().display().to_string();

    let mut child = tokio::process::Command::new("node")
        .arg(&server)
        .arg("stdio")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let io = (child.stdout.take().unwrap(), child.stdin.take().unwrap());
    let raw = ClientConfig::default().serve(io).await.unwrap();

    let config: McpServerConfig = toml::from_str(&format!(
        "command = \"node\"\nargs = [{server:?}, \"stdio\"]"
    ))
    .unwrap();
    let place = Place {
        root: std::env::temp_dir(),
        tmp: std::env::temp_dir(),
        confine: None,
    };
    let spec = server_spec("everything", &config, &place, &agentls::config::process_env).unwrap();
    let ours = Connection::new(spec);
    ours.ensure_started().await.unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let arguments = json!({"message": "hello"}).as_object().cloned();

    let (mut raw_times, mut our_times) = (Vec::new(), Vec::new());
    for _ in 0..calls {
        let started = Instant::now();
        let mut params = CallToolRequestParams::new("echo");
        params.arguments = arguments.clone();
        raw.peer().call_tool(params).await.unwrap();
        raw_times.push(started.elapsed());

        let started = Instant::now();
        let result = ours.call("echo", arguments.clone(), &cancel).await.unwrap();
        our_times.push(started.elapsed());
        assert!(result.text.contains("hello"), "{}", result.text);
    }
    let (raw_median, our_median) = (median(raw_times), median(our_times));
    println!("MCP tool call (server-everything `echo` over stdio, median of {calls}):"); // stdout-ok: bench output
    println!("  raw rmcp round trip:     {}", ms(raw_median)); // stdout-ok: bench output
    println!("  through agentls:         {}", ms(our_median)); // stdout-ok: bench output
    println!(
        "  overhead:                {} (ratio {:.2})",
        ms(our_median.saturating_sub(raw_median)),
        our_median.as_secs_f64() / raw_median.as_secs_f64()
    ); // stdout-ok: bench output
    ours.stop().await;
    drop(raw);
}

/// From `agent/startTask` to the model server seeing the first request, with `servers`
/// stdio servers configured.
async fn time_to_first_request(servers: usize) -> Duration {
    let fixture = Fixture::new("chat", &[], vec![Reply::text("done")]).await;
    let path = fixture.home().join("config.toml");
    let mut config = std::fs::read_to_string(&path).unwrap();
    for n in 0..servers {
        config.push_str(&format!(
            "\n[mcp_servers.s{n}]\ncommand = \"node\"\nargs = [{:?}, \"stdio\"]\n",
            everything().display().to_string()
        ));
    }
    std::fs::write(&path, config).unwrap();
    let mut client = fixture.client(ClientOptions::default()).await;
    let started = Instant::now();
    let task = client.start_task(json!({"prompt": "hi"})).await;
    while fixture.model.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = started.elapsed();
    client.wait_finished(&task).await;
    client.shutdown().await;
    elapsed
}

async fn first_request() {
    let rounds = if support::bench::full_run() { 5 } else { 1 };
    let mut results = Vec::new();
    for servers in [0, 1, 3] {
        let mut samples = Vec::new();
        for _ in 0..rounds {
            samples.push(time_to_first_request(servers).await);
        }
        results.push((servers, median(samples)));
    }
    println!("Time to the first model request (median of {rounds}):"); // stdout-ok: bench output
    for (servers, time) in &results {
        println!("  {servers} stdio servers: {}", ms(*time)); // stdout-ok: bench output
    }
    let (none, one, three) = (results[0].1, results[1].1, results[2].1);
    let start_one = one.saturating_sub(none);
    println!(
        "  one server's start: {}; three servers add {} (ratio to one start {:.2}; one after another would be about 3)",
        ms(start_one),
        ms(three.saturating_sub(none)),
        three.saturating_sub(none).as_secs_f64() / start_one.as_secs_f64().max(1e-9)
    ); // stdout-ok: bench output
}
