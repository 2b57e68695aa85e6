//! A task against a REAL OpenAI-compatible server: llama-cpp-python serving SmolLM2-135M,
//! installed offline by scripts/install-test-deps.sh. The model is tiny and its answers are
//! nonsense; what is checked is the wire path: the task ends — completed, or failed with a
//! clear error — within a bound, its output is well-formed, and nothing panics.

use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct LlamaServer(Child);

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn model_dir() -> PathBuf {
    let dir = std::env::var_os("AGENTLS_LOCAL_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-deps/local-model")
        });
    assert!(
        dir.join("model.gguf").is_file() && dir.join("venv/bin/python").is_file(),
        "the local model server is not installed in {}: run scripts/install-test-deps.sh (scripts/test does it for you)",
        dir.display()
    );
    dir
}

fn start_llama(dir: &std::path::Path) -> (LlamaServer, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(dir.join("venv/bin/python"))
        .args(["-m", "llama_cpp.server", "--model"])
        .arg(dir.join("model.gguf"))
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--n_ctx",
            "4096",
            "--n_threads",
            "1",
            "--chat_format",
            "chatml-function-calling",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start llama_cpp.server");
    let server = LlamaServer(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "llama_cpp.server did not listen on {port} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    (server, port)
}

#[test]
fn a_task_against_a_real_local_model_ends_cleanly_within_a_bound() {
    let dir = model_dir();
    let (_server, port) = start_llama(&dir);
    let workspace = tempfile::tempdir().unwrap();
    std::fs::write(workspace.path().join("hello.py"), "print('hello')\n").unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "model = \"smollm2\"\nmodel_provider = \"local\"\nmax_turns = 3\n[model_providers.local]\nname = \"llama-cpp-python\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\nwire_api = \"chat\"\nrequest_max_retries = 2\nstream_max_retries = 1\nstream_idle_timeout_ms = 60000\n"
        ),
    )
    .unwrap();

    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentls"))
        .args(["exec", "--json", "Read hello.py and say what it prints."])
        .current_dir(workspace.path())
        .env("AGENTLS_HOME", home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let bound = Duration::from_secs(240);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > bound {
            let _ = child.kill();
            panic!("the task did not end within {bound:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("panicked"), "agentls panicked:\n{stderr}");

    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("exec --json printed a non-JSON line"))
        .collect();
    let finished = lines
        .iter()
        .find(|l| l["type"] == "update" && l["update"]["kind"] == "finished")
        .unwrap_or_else(|| panic!("no finished update; stderr:\n{stderr}"));
    let status_name = finished["update"]["status"].as_str().unwrap();
    match status_name {
        "completed" => assert!(status.success()),
        "failed" => {
            let summary = finished["update"]["summary"].as_str().unwrap_or_default();
            assert!(!summary.is_empty(), "a failed task must say why");
            // The model may be useless; the server must still accept every request we
            // build (a `content: null` once made every second turn a 500 here).
            assert!(
                !summary.contains("HTTP 4") && !summary.contains("HTTP 5"),
                "the real server rejected a request agentls built: {summary}"
            );
            assert!(!status.success());
        }
        other => panic!("unexpected final status {other}"),
    }
    assert_eq!(lines[lines.len() - 2]["type"], "proposal");
    let result = lines.last().unwrap();
    assert_eq!(result["type"], "result");
    assert_eq!(result["status"], status_name);
    assert_eq!(result["exitCode"], status.code().unwrap());
    let turns = lines
        .iter()
        .filter(|l| l["update"]["kind"] == "toolCall" && l["update"]["status"] == "running")
        .count();
    // Past libtest's capture, so the outcome shows in every CI log.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "local model: task {status_name} in {:.1} s with {turns} tool calls{}",
        started.elapsed().as_secs_f64(),
        finished["update"]["summary"]
            .as_str()
            .filter(|_| status_name == "failed")
            .map(|why| format!(": {why}"))
            .unwrap_or_default()
    );
}
