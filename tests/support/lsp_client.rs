//! A scripted editor for integration tests: spawns the real `agentls` binary, speaks
//! Content-Length framed JSON-RPC over its stdio, and behaves like an editor — it keeps its
//! own copy of each open document, applies `workspace/applyEdit` to it (checking document
//! versions, as VS Code does) and reports the result back with `didChange`.
//!
//! Its position arithmetic is written independently of the server's `documents` module, so
//! the two check each other.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{Notify, oneshot};

/// How long any single wait may take before a test fails with a readable message.
pub const WAIT: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug)]
pub struct ClientOptions {
    /// Offer utf-8 positions (the server should pick them); else utf-16 only.
    pub utf8: bool,
    /// Report an applied edit as one whole-text didChange instead of incremental ones.
    pub full_text_after_apply: bool,
    /// Advertise create/rename/delete resource operations in workspace edits (and carry
    /// them out on disk, as an editor does).
    pub resource_operations: bool,
    /// Refuse every workspace/applyEdit (a client that says no).
    pub refuse_edits: bool,
    /// Advertise `experimental.agent.approvals` and answer every `agent/requestApproval`
    /// with this decision (`allow`, `allowForTask`, `deny`, `cancel`); `None`: a client
    /// without the capability.
    pub approval: Option<&'static str>,
    /// Force how task views are made (`AGENTLS_VIEW_STRATEGY`: `overlay` or `copy`).
    pub view_strategy: Option<&'static str>,
    /// Offer to watch files (`workspace.didChangeWatchedFiles.dynamicRegistration`); the
    /// test then reports disk changes itself.
    pub watch_files: bool,
    /// Report an applied edit of whole lines as Neovim does: the replacement stops before
    /// the last line break it covers (leaving an extra one), then a second didChange
    /// deletes the empty line that left.
    pub split_line_edits: bool,
    /// Announce no `experimental.agent`: an editor without the agentls protocol (Helix,
    /// Emacs eglot, Neovim without the plugin).
    pub plain: bool,
    /// Wait this long before applying and answering a `workspace/applyEdit`, reading
    /// nothing meanwhile (an editor asking its user "Proceed?", as eglot does).
    pub edit_answer_delay: Option<Duration>,
    /// Never answer `workspace/applyEdit` (nor apply it).
    pub ignore_edits: bool,
    /// Announce `window.showDocument` and answer it with success.
    pub show_document: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            utf8: false,
            full_text_after_apply: false,
            resource_operations: true,
            refuse_edits: false,
            approval: None,
            view_strategy: None,
            watch_files: false,
            split_line_edits: false,
            plain: false,
            edit_answer_delay: None,
            ignore_edits: false,
            show_document: false,
        }
    }
}

#[derive(Clone, Debug)]
struct Doc {
    text: String,
    version: i32,
}

#[derive(Default)]
struct Shared {
    pending: HashMap<i64, oneshot::Sender<Value>>,
    notifications: Vec<Value>,
    docs: HashMap<String, Doc>,
    applied_edits: Vec<Value>,
    /// Responses no request of this client waits for.
    unawaited_responses: Vec<Value>,
    /// What happened on the wire, in order: `request <method>` (from the server),
    /// `answered <method>`, `response <id>` (to one of ours).
    events: Vec<String>,
    stderr: String,
    utf8: bool,
}

pub struct LspClient {
    child: Child,
    /// `None` once [`LspClient::close_input`] closed it.
    stdin: Arc<tokio::sync::Mutex<Option<ChildStdin>>>,
    shared: Arc<Mutex<Shared>>,
    changed: Arc<Notify>,
    next_id: i64,
    pub root: PathBuf,
    pub initialize_result: Value,
}

impl LspClient {
    /// Starts `agentls` for `root` with `$AGENTLS_HOME = home` and completes `initialize`.
    pub async fn start(root: &Path, home: &Path, options: ClientOptions) -> LspClient {
        Self::start_with(root, home, options, json!(null)).await
    }

    pub async fn start_with(
        root: &Path,
        home: &Path,
        options: ClientOptions,
        init_options: Value,
    ) -> LspClient {
        let mut client = Self::spawn(root, home, options);
        let encodings = if options.utf8 {
            json!(["utf-8", "utf-16"])
        } else {
            json!(["utf-16"])
        };
        let resource_ops = if options.resource_operations {
            json!(["create", "rename", "delete"])
        } else {
            json!([])
        };
        let experimental = if options.plain {
            json!({})
        } else {
            json!({"agent": {"approvals": options.approval.is_some()}})
        };
        let result = client
            .request(
                "initialize",
                json!({
                    "processId": null,
                    "rootUri": file_uri(root),
                    "workspaceFolders": [{"uri": file_uri(root), "name": "ws"}],
                    "initializationOptions": init_options,
                    "capabilities": {
                        "experimental": experimental,
                        "general": {"positionEncodings": encodings},
                        "window": {"workDoneProgress": true, "showDocument": {"support": options.show_document}},
                        "workspace": {"applyEdit": true, "workspaceEdit": {"documentChanges": true, "resourceOperations": resource_ops},
                                      "didChangeWatchedFiles": {"dynamicRegistration": options.watch_files}},
                        "textDocument": {"synchronization": {"didSave": true}, "codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["source"]}}}}
                    }
                }),
            )
            .await
            .expect("initialize failed");
        let encoding = result["capabilities"]["positionEncoding"]
            .as_str()
            .unwrap_or("utf-16");
        client.shared.lock().unwrap().utf8 = encoding == "utf-8";
        client.notify("initialized", json!({})).await;
        client.initialize_result = result;
        client
    }

    /// Spawns the server without initializing it.
    pub fn spawn(root: &Path, home: &Path, options: ClientOptions) -> LspClient {
        let mut command = Command::new(env!("CARGO_BIN_EXE_agentls"));
        if let Some(strategy) = options.view_strategy {
            command.env("AGENTLS_VIEW_STRATEGY", strategy);
        }
        let mut child = command
            .current_dir(root)
            .env("AGENTLS_HOME", home)
            .env("AGENTLS_LOG", "agentls=debug")
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_BASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("cannot start the agentls binary");
        let stdin = Arc::new(tokio::sync::Mutex::new(child.stdin.take()));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let changed = Arc::new(Notify::new());
        tokio::spawn(read_stdout(
            child.stdout.take().unwrap(),
            stdin.clone(),
            shared.clone(),
            changed.clone(),
            options,
        ));
        let stderr_shared = shared.clone();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        tokio::spawn(async move {
            let mut line = String::new();
            while stderr.read_line(&mut line).await.unwrap_or(0) > 0 {
                stderr_shared.lock().unwrap().stderr.push_str(&line);
                line.clear();
            }
        });
        LspClient {
            child,
            stdin,
            shared,
            changed,
            next_id: 1,
            root: root.to_path_buf(),
            initialize_result: Value::Null,
        }
    }

    /// Sends a request and waits for its response: Ok(result) or Err(error object).
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let id = self.next_id;
        self.next_id += 1;
        let (tx, rx) = oneshot::channel();
        self.shared.lock().unwrap().pending.insert(id, tx);
        write_message(
            &self.stdin,
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        )
        .await;
        let response = tokio::time::timeout(WAIT, rx)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no response to {method} within {WAIT:?}; server stderr:\n{}",
                    self.stderr()
                )
            })
            .expect("server closed the connection");
        match response.get("error") {
            Some(error) => Err(error.clone()),
            None => Ok(response["result"].clone()),
        }
    }

    pub async fn notify(&self, method: &str, params: Value) {
        write_message(
            &self.stdin,
            &json!({"jsonrpc": "2.0", "method": method, "params": params}),
        )
        .await;
    }

    /// Raw bytes on the wire (for malformed-input tests).
    pub async fn send_raw(&self, bytes: &[u8]) {
        let mut stdin = self.stdin.lock().await;
        let stdin = stdin.as_mut().expect("the server's input is closed");
        stdin.write_all(bytes).await.unwrap();
        stdin.flush().await.unwrap();
    }

    pub fn uri(&self, rel: &str) -> String {
        file_uri(&self.root.join(rel))
    }

    /// Opens a document with `text` (which may differ from disk: an unsaved buffer).
    pub async fn open(&self, rel: &str, text: &str) {
        let uri = self.uri(rel);
        self.shared.lock().unwrap().docs.insert(
            uri.clone(),
            Doc {
                text: text.to_string(),
                version: 1,
            },
        );
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "plaintext", "version": 1, "text": text}}),
        )
        .await;
    }

    /// Types: replaces `range` ((line, character) pairs in the negotiated encoding) with
    /// `text` in the client's copy and sends the incremental didChange.
    pub async fn edit(&self, rel: &str, start: (u32, u32), end: (u32, u32), text: &str) {
        let uri = self.uri(rel);
        // Hold the pipe while the copy changes, as an editor's single thread would: a
        // didChange reporting an applied edit must not overtake or trail this one.
        let mut pipe = self.stdin.lock().await;
        let (version, params) = {
            let mut shared = self.shared.lock().unwrap();
            let utf8 = shared.utf8;
            let doc = shared
                .docs
                .get_mut(&uri)
                .expect("edit of a document that is not open");
            let range = json!({"start": {"line": start.0, "character": start.1}, "end": {"line": end.0, "character": end.1}});
            apply_text_edit(&mut doc.text, &range, text, utf8);
            doc.version += 1;
            (doc.version, range)
        };
        let message = json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": version}, "contentChanges": [{"range": params, "text": text}]}});
        write_locked(&mut pipe, &message).await;
    }

    /// The client's current text of an open document.
    pub fn text(&self, rel: &str) -> String {
        self.shared.lock().unwrap().docs[&self.uri(rel)]
            .text
            .clone()
    }

    pub fn applied_edits(&self) -> Vec<Value> {
        self.shared.lock().unwrap().applied_edits.clone()
    }

    /// The wire events so far (see `Shared::events`).
    pub fn events(&self) -> Vec<String> {
        self.shared.lock().unwrap().events.clone()
    }

    /// Responses to nothing this client asked: the server's answers to malformed input
    /// (`"id": null`), or to raw requests sent with `send_raw`.
    pub fn unawaited_responses(&self) -> Vec<Value> {
        self.shared.lock().unwrap().unawaited_responses.clone()
    }

    /// Whether the server process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("cannot poll the server")
            .is_none()
    }

    pub fn stderr(&self) -> String {
        self.shared.lock().unwrap().stderr.clone()
    }

    pub fn notifications(&self, method: &str) -> Vec<Value> {
        self.shared
            .lock()
            .unwrap()
            .notifications
            .iter()
            .filter(|n| n["method"] == method)
            .map(|n| n["params"].clone())
            .collect()
    }

    /// Every `agent/taskUpdate` of a task so far, in arrival order.
    pub fn updates(&self, task_id: &str) -> Vec<Value> {
        self.notifications("agent/taskUpdate")
            .into_iter()
            .filter(|n| n["taskId"] == task_id)
            .collect()
    }

    /// A task's updates of one `kind` so far (each the `update` object itself).
    pub fn updates_of(&self, task_id: &str, kind: &str) -> Vec<Value> {
        self.updates(task_id)
            .into_iter()
            .filter(|u| u["update"]["kind"] == kind)
            .map(|u| u["update"].clone())
            .collect()
    }

    /// The messages of a task's `warning` updates so far.
    pub fn warnings(&self, task_id: &str) -> Vec<String> {
        self.updates(task_id)
            .into_iter()
            .filter(|u| u["update"]["kind"] == "warning")
            .map(|u| {
                u["update"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    /// Waits until `check` holds, re-checking after every message from the server.
    pub async fn wait_until<T>(
        &self,
        what: &str,
        mut check: impl FnMut(&LspClient) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.changed.notified();
            if let Some(value) = check(self) {
                return value;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "timed out waiting for {what}; server stderr:\n{}",
                    self.stderr()
                );
            }
        }
    }

    /// Waits for the task's `finished` update and returns it.
    pub async fn wait_finished(&self, task_id: &str) -> Value {
        self.wait_until(&format!("task {task_id} to finish"), |c| {
            c.updates(task_id)
                .into_iter()
                .find(|u| u["update"]["kind"] == "finished")
                .map(|u| u["update"].clone())
        })
        .await
    }

    pub async fn start_task(&mut self, params: Value) -> String {
        let result = self
            .request("agent/startTask", params)
            .await
            .expect("agent/startTask failed");
        result["taskId"].as_str().expect("no taskId").to_string()
    }

    /// Starts a task with just a prompt and waits for its `finished` update.
    pub async fn run_task(&mut self, prompt: &str) -> (String, Value) {
        let task = self.start_task(json!({ "prompt": prompt })).await;
        let finished = self.wait_finished(&task).await;
        (task, finished)
    }

    /// `shutdown` + `exit`, then the process's exit status.
    pub async fn shutdown(mut self) -> ExitStatus {
        self.request("shutdown", Value::Null)
            .await
            .expect("shutdown failed");
        self.notify("exit", Value::Null).await;
        self.wait_exit().await
    }

    /// SIGKILL, as a crash or `kill -9` would end the server: nothing gets to clean up.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("cannot kill the server");
    }

    /// Closes the server's standard input, as an editor that vanishes does; later
    /// messages go nowhere.
    pub async fn close_input(&self) {
        self.stdin.lock().await.take();
    }

    /// The server's process id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server was already reaped")
    }

    pub async fn wait_exit(&mut self) -> ExitStatus {
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("server did not exit")
            .expect("cannot wait for the server")
    }
}

async fn write_message(stdin: &tokio::sync::Mutex<Option<ChildStdin>>, message: &Value) {
    write_locked(&mut *stdin.lock().await, message).await;
}

async fn write_locked(stdin: &mut Option<ChildStdin>, message: &Value) {
    let Some(stdin) = stdin else {
        return;
    };
    let body = serde_json::to_vec(message).unwrap();
    // A server that died makes writes fail; the waiting side reports it with context.
    let _ = stdin
        .write_all(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes())
        .await;
    let _ = stdin.write_all(&body).await;
    let _ = stdin.flush().await;
}

async fn read_stdout(
    stdout: tokio::process::ChildStdout,
    stdin: Arc<tokio::sync::Mutex<Option<ChildStdin>>>,
    shared: Arc<Mutex<Shared>>,
    changed: Arc<Notify>,
    options: ClientOptions,
) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut length = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                changed.notify_waiters();
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            match line.split_once(':') {
                Some((name, value)) if name.eq_ignore_ascii_case("content-length") => {
                    length = value.trim().parse().ok()
                }
                Some(_) => {}
                None => panic!("server wrote a non-header line on stdout: {line:?}"),
            }
        }
        let mut body = vec![0; length.expect("message without Content-Length")];
        if reader.read_exact(&mut body).await.is_err() {
            // Killed in the middle of a message (a test's kill -9).
            changed.notify_waiters();
            return;
        }
        let message: Value =
            serde_json::from_slice(&body).expect("server wrote invalid JSON on stdout");
        let is_request = message.get("method").is_some() && message.get("id").is_some();
        if is_request {
            let method = message["method"].as_str().unwrap_or_default().to_string();
            shared
                .lock()
                .unwrap()
                .events
                .push(format!("request {method}"));
            let is_edit = method == "workspace/applyEdit";
            if is_edit && options.ignore_edits {
                shared.lock().unwrap().notifications.push(message);
                changed.notify_waiters();
                continue;
            }
            if let Some(delay) = options.edit_answer_delay.filter(|_| is_edit) {
                tokio::time::sleep(delay).await;
            }
            // The pipe is held from applying the edit to reporting it (see `edit`).
            let mut pipe = stdin.lock().await;
            let reply = answer_server_request(&message, &shared, options);
            let response = json!({"jsonrpc": "2.0", "id": message["id"], "result": reply.result});
            write_locked(&mut pipe, &response).await;
            shared
                .lock()
                .unwrap()
                .events
                .push(format!("answered {method}"));
            for change in reply.did_change {
                write_locked(&mut pipe, &change).await;
            }
        } else if message.get("method").is_some() {
            shared.lock().unwrap().notifications.push(message);
        } else if let Some((id, tx)) = message["id"].as_i64().and_then(|id| {
            let waiting = shared.lock().unwrap().pending.remove(&id);
            waiting.map(|tx| (id, tx))
        }) {
            shared.lock().unwrap().events.push(format!("response {id}"));
            let _ = tx.send(message);
        } else {
            shared.lock().unwrap().unawaited_responses.push(message);
        }
        changed.notify_waiters();
    }
}

struct Reply {
    result: Value,
    did_change: Vec<Value>,
}

fn answer_server_request(message: &Value, shared: &Mutex<Shared>, options: ClientOptions) -> Reply {
    let mut shared = shared.lock().unwrap();
    shared.notifications.push(message.clone());
    match message["method"].as_str() {
        Some("workspace/applyEdit") => {
            let edit = message["params"]["edit"].clone();
            shared.applied_edits.push(edit.clone());
            if options.refuse_edits {
                return Reply {
                    result: json!({"applied": false, "failureReason": "refused by the test client"}),
                    did_change: vec![],
                };
            }
            apply_workspace_edit(&mut shared, &edit, options)
        }
        Some("agent/requestApproval") => Reply {
            result: json!({"decision": options.approval.unwrap_or("deny")}),
            did_change: vec![],
        },
        Some("window/showDocument") => Reply {
            result: json!({"success": options.show_document}),
            did_change: vec![],
        },
        _ => Reply {
            result: Value::Null,
            did_change: vec![],
        },
    }
}

/// Applies each TextDocumentEdit to the client's copy, as an editor does: all or nothing,
/// refused when the version the server named is not the document's current one.
fn apply_workspace_edit(shared: &mut Shared, edit: &Value, options: ClientOptions) -> Reply {
    let utf8 = shared.utf8;
    let mut did_change = Vec::new();
    let operations = edit["documentChanges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for op in &operations {
        let Some(uri) = op["textDocument"]["uri"].as_str() else {
            continue;
        };
        if let Some(doc) = shared.docs.get(uri)
            && !op["textDocument"]["version"].is_null()
            && op["textDocument"]["version"] != doc.version
        {
            return Reply {
                result: json!({"applied": false, "failureReason": format!("version mismatch for {uri}")}),
                did_change: vec![],
            };
        }
    }
    for op in operations {
        if let Some(kind) = op["kind"].as_str() {
            apply_resource_operation(shared, kind, &op);
            continue;
        }
        let Some(uri) = op["textDocument"]["uri"].as_str() else {
            continue;
        };
        let Some(doc) = shared.docs.get_mut(uri) else {
            // A file not open: the editor loads it, edits it and (here, at once) saves it.
            apply_to_disk(&uri_path(uri), &op, utf8);
            continue;
        };
        let mut edits = op["edits"].as_array().cloned().unwrap_or_default();
        if options.split_line_edits
            && let [edit] = edits.as_slice()
            && let Some(pieces) = neovim_pieces(&doc.text, edit, utf8)
        {
            for piece in pieces {
                apply_text_edit(
                    &mut doc.text,
                    &piece["range"],
                    piece["text"].as_str().unwrap(),
                    utf8,
                );
                doc.version += 1;
                did_change.push(json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                    "textDocument": {"uri": uri, "version": doc.version}, "contentChanges": [piece]}}));
            }
            continue;
        }
        // Edits in one TextDocumentEdit refer to the original text: apply last first.
        edits.sort_by_key(|e| {
            std::cmp::Reverse((
                e["range"]["start"]["line"].as_u64(),
                e["range"]["start"]["character"].as_u64(),
            ))
        });
        let mut changes = Vec::new();
        for e in &edits {
            apply_text_edit(
                &mut doc.text,
                &e["range"],
                e["newText"].as_str().unwrap(),
                utf8,
            );
            changes.push(json!({"range": e["range"], "text": e["newText"]}));
        }
        doc.version += 1;
        let content_changes = if options.full_text_after_apply {
            json!([{"text": doc.text}])
        } else {
            json!(changes)
        };
        did_change.push(json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": doc.version}, "contentChanges": content_changes}}));
    }
    Reply {
        result: json!({"applied": true}),
        did_change,
    }
}

/// Create, rename and delete on disk; a renamed open document moves with its file.
fn apply_resource_operation(shared: &mut Shared, kind: &str, op: &Value) {
    match kind {
        "create" => {
            let path = uri_path(op["uri"].as_str().unwrap());
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            if !path.exists() {
                std::fs::write(path, "").unwrap();
            }
        }
        "delete" => {
            let uri = op["uri"].as_str().unwrap();
            let _ = std::fs::remove_file(uri_path(uri));
            shared.docs.remove(uri);
        }
        "rename" => {
            let (old, new) = (
                op["oldUri"].as_str().unwrap(),
                op["newUri"].as_str().unwrap(),
            );
            let target = uri_path(new);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::rename(uri_path(old), target).unwrap();
            if let Some(doc) = shared.docs.remove(old) {
                shared.docs.insert(new.to_string(), doc);
            }
        }
        other => panic!("unknown resource operation {other}"),
    }
}

fn apply_to_disk(path: &Path, op: &Value, utf8: bool) {
    let mut text = std::fs::read_to_string(path).unwrap_or_default();
    let mut edits = op["edits"].as_array().cloned().unwrap_or_default();
    edits.sort_by_key(|e| {
        std::cmp::Reverse((
            e["range"]["start"]["line"].as_u64(),
            e["range"]["start"]["character"].as_u64(),
        ))
    });
    for e in &edits {
        apply_text_edit(&mut text, &e["range"], e["newText"].as_str().unwrap(), utf8);
    }
    std::fs::write(path, text).unwrap();
}

fn uri_path(uri: &str) -> PathBuf {
    let encoded = uri.strip_prefix("file://").expect("a file URI");
    let bytes = encoded.as_bytes();
    let mut decoded = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            decoded.push(u8::from_str_radix(&encoded[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    PathBuf::from(String::from_utf8(decoded).unwrap())
}

/// An edit of whole lines (`(a, c)`–`(b, 0)`, new text ending in a line break) as the two
/// changes Neovim reports for it; None for any other edit.
fn neovim_pieces(text: &str, edit: &Value, utf8: bool) -> Option<[Value; 2]> {
    let (range, new_text) = (&edit["range"], edit["newText"].as_str()?);
    let end_line = range["end"]["line"].as_u64()?;
    if range["end"]["character"] != 0 || end_line == 0 || !new_text.ends_with('\n') {
        return None;
    }
    let last = text.split('\n').nth(end_line as usize - 1)?;
    let width = if utf8 {
        last.len()
    } else {
        last.encode_utf16().count()
    };
    let start_line = range["start"]["line"].as_u64()?;
    let extra = start_line + new_text.matches('\n').count() as u64;
    Some([
        json!({"range": {"start": range["start"], "end": {"line": end_line - 1, "character": width}},
               "text": new_text}),
        json!({"range": {"start": {"line": extra, "character": 0}, "end": {"line": extra + 1, "character": 0}},
               "text": ""}),
    ])
}

fn apply_text_edit(text: &mut String, range: &Value, new_text: &str, utf8: bool) {
    let start = offset(text, &range["start"], utf8);
    let end = offset(text, &range["end"], utf8);
    text.replace_range(start..end, new_text);
}

/// Byte offset of an LSP position; characters past the line end mean the line end.
fn offset(text: &str, position: &Value, utf8: bool) -> usize {
    let line = position["line"].as_u64().unwrap() as usize;
    let character = position["character"].as_u64().unwrap() as usize;
    let mut line_start = 0;
    for _ in 0..line {
        match text[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return text.len(),
        }
    }
    let line_text = &text[line_start..];
    let line_text = &line_text[..line_text.find('\n').unwrap_or(line_text.len())];
    let mut units = 0;
    for (i, ch) in line_text.char_indices() {
        if units >= character {
            return line_start + i;
        }
        units += if utf8 { ch.len_utf8() } else { ch.len_utf16() };
    }
    line_start + line_text.len()
}

pub fn file_uri(path: &Path) -> String {
    let mut uri = String::from("file://");
    for byte in path.to_string_lossy().bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            uri.push(byte as char);
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}
