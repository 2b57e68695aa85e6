//! The one owner of `textDocument/publishDiagnostics`: every diagnostic agentls shows
//! goes out from here, one merged list per document.
//!
//! What to show comes from [`DiagnosticLayer`](crate::lsp::diagnostics::DiagnosticLayer)s — the undecided hunks of every task
//! (`markers::HunkLayer`) and review findings (`findings::FindingLayer`, `source:
//! "agentls review"`). A document's list is the concatenation of every layer's, because LSP
//! has one list per document per server: two publishers would overwrite each other.
//!
//! Publishing is kept off the keystroke path. A `didChange` only marks its document
//! (and only if something is published there), a task update marks the task; a single
//! background loop waits until the marks have been quiet for [`QUIET`](crate::lsp::diagnostics::QUIET) (at most [`MAX_DELAY`](crate::lsp::diagnostics::MAX_DELAY)
//! after the first), then computes each marked document once and sends only the lists
//! that changed. Typing a burst of characters over a file full of hunks costs one
//! computation, not one per keystroke.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{Diagnostic, Uri};

use crate::engine::Engine;
use crate::uri;

/// How long the marks must stay quiet before a publish.
pub const QUIET: Duration = Duration::from_millis(150);
/// How long a steady stream of marks (someone typing without a pause) may hold a
/// publish back.
pub const MAX_DELAY: Duration = Duration::from_millis(1000);

/// One kind of diagnostic, merged with the others per document.
pub trait DiagnosticLayer: Send + Sync {
    /// The layer's diagnostics for `path` (workspace-relative) as things are now.
    fn diagnostics(&self, engine: &Engine, path: &str) -> Vec<Diagnostic>;
    /// The documents the layer has something in for task `task_id`. The publisher adds
    /// the ones it returned last time for the task, so a document the task left (its
    /// hunks decided, the task deleted) is cleared too.
    fn task_paths(&self, engine: &Engine, task_id: &str) -> Vec<String>;
}

pub struct Publisher {
    client: Client,
    /// Set once by [`Publisher::start`]; until then (and when no layer is on) marks are
    /// dropped.
    running: OnceLock<Running>,
    marks: Mutex<Marks>,
    wake: Notify,
}

struct Running {
    engine: Weak<Engine>,
    layers: Vec<Box<dyn DiagnosticLayer>>,
    /// Ask the client to fetch code lenses again after lists changed (they sit on the
    /// same hunks): `workspace/codeLens/refresh`, for clients that announced it.
    refresh_code_lenses: bool,
}

/// What is marked for the next publish, and what was last sent: the publisher's
/// bookkeeping, apart from the loop and the client so that the keystroke path can be
/// measured on its own (`benches/editing.rs`).
#[derive(Default)]
pub struct Marks {
    paths: HashSet<String>,
    tasks: HashSet<String>,
    /// What was last sent per document (documents with an empty list are left out).
    published: HashMap<String, Vec<Diagnostic>>,
    /// Per task, the documents its layers named last time.
    task_paths: HashMap<String, Vec<String>>,
}

impl Marks {
    /// A document's text changed. Returns whether it was marked (it shows something).
    pub fn document_changed(&mut self, path: &str) -> bool {
        if !self.published.contains_key(path) {
            return false;
        }
        // A burst of keystrokes marks once (no allocation after the first).
        if !self.paths.contains(path) {
            self.paths.insert(path.to_string());
        }
        true
    }

    /// Takes what is marked: documents, and tasks.
    pub fn take(&mut self) -> (HashSet<String>, HashSet<String>) {
        (
            std::mem::take(&mut self.paths),
            std::mem::take(&mut self.tasks),
        )
    }

    /// Records what each task's layers name now; returns the documents to compute
    /// because of it (named now, or named before and no longer).
    fn name_task_paths(&mut self, named: Vec<(String, Vec<String>)>) -> Vec<String> {
        let mut paths = Vec::new();
        for (task_id, now) in named {
            paths.extend(now.iter().cloned());
            let before = if now.is_empty() {
                self.task_paths.remove(&task_id)
            } else {
                self.task_paths.insert(task_id, now)
            };
            paths.extend(before.into_iter().flatten());
        }
        paths
    }

    /// Keeps the newly computed lists; returns those that differ from what was sent
    /// (an empty one for a document whose list went away).
    pub fn settle(
        &mut self,
        computed: Vec<(String, Vec<Diagnostic>)>,
    ) -> Vec<(String, Vec<Diagnostic>)> {
        let mut changed = Vec::new();
        for (path, list) in computed {
            let unchanged = match self.published.get(&path) {
                Some(sent) => *sent == list,
                // Nothing shown there: nothing to clear either.
                None => list.is_empty(),
            };
            if unchanged {
                continue;
            }
            if list.is_empty() {
                self.published.remove(&path);
            } else {
                self.published.insert(path.clone(), list.clone());
            }
            changed.push((path, list));
        }
        changed
    }
}

impl Publisher {
    pub fn new(client: Client) -> Arc<Publisher> {
        Arc::new(Publisher {
            client,
            running: OnceLock::new(),
            marks: Mutex::new(Marks::default()),
            wake: Notify::new(),
        })
    }

    /// Starts publishing `layers` (none: nothing is ever published). Marks made before
    /// are published at once.
    pub fn start(
        self: &Arc<Self>,
        engine: &Arc<Engine>,
        layers: Vec<Box<dyn DiagnosticLayer>>,
        refresh_code_lenses: bool,
    ) {
        if layers.is_empty() {
            return;
        }
        let running = Running {
            engine: Arc::downgrade(engine),
            layers,
            refresh_code_lenses,
        };
        if self.running.set(running).is_err() {
            return;
        }
        let publisher = self.clone();
        tokio::spawn(async move { publisher.run().await });
    }

    /// A document's text changed: its diagnostics moved, if it has any.
    pub fn document_changed(&self, path: &str) {
        if self.running.get().is_none() {
            return;
        }
        let marked = self.lock().document_changed(path);
        if marked {
            self.wake.notify_one();
        }
    }

    /// The editor opened a document: some clients keep diagnostics only for open
    /// documents, so it gets its list again even if nothing changed.
    pub fn document_opened(&self, path: &str) {
        if self.running.get().is_none() {
            return;
        }
        let mut marks = self.lock();
        marks.published.remove(path);
        marks.paths.insert(path.to_string());
        drop(marks);
        self.wake.notify_one();
    }

    /// Something about a task changed (hunks installed, moved, decided; the task ended
    /// or went away): every document it touches is computed again.
    pub fn task_changed(&self, task_id: &str) {
        if self.running.get().is_none() {
            return;
        }
        self.lock().tasks.insert(task_id.to_string());
        self.wake.notify_one();
    }

    async fn run(&self) {
        loop {
            self.wake.notified().await;
            let first = tokio::time::Instant::now();
            loop {
                let quiet = tokio::time::sleep(QUIET);
                tokio::select! {
                    () = quiet => break,
                    () = self.wake.notified() => {
                        if first.elapsed() >= MAX_DELAY {
                            break;
                        }
                    }
                }
            }
            let Some(running) = self.running.get() else {
                return;
            };
            let Some(engine) = running.engine.upgrade() else {
                return;
            };
            let changed = self.changed_lists(running, &engine);
            let any = !changed.is_empty();
            for (uri, diagnostics) in changed {
                self.client
                    .publish_diagnostics(uri, diagnostics, None)
                    .await;
            }
            if any && running.refresh_code_lenses {
                // A request: its answer is not waited for here.
                let client = self.client.clone();
                tokio::spawn(async move {
                    if let Err(error) = client.code_lens_refresh().await {
                        tracing::debug!("workspace/codeLens/refresh failed: {error}");
                    }
                });
            }
        }
    }

    /// Takes the marks and computes every marked document; returns the lists that
    /// differ from what was sent. The store is read without the marks held, so a
    /// keystroke marking its document never waits for a computation.
    fn changed_lists(&self, running: &Running, engine: &Engine) -> Vec<(Uri, Vec<Diagnostic>)> {
        let (mut paths, tasks) = self.lock().take();
        let named: Vec<(String, Vec<String>)> = tasks
            .into_iter()
            .map(|task_id| {
                let now = running
                    .layers
                    .iter()
                    .flat_map(|layer| layer.task_paths(engine, &task_id))
                    .collect();
                (task_id, now)
            })
            .collect();
        paths.extend(self.lock().name_task_paths(named));
        let computed: Vec<(String, Vec<Diagnostic>)> = paths
            .into_iter()
            .map(|path| {
                let list = running
                    .layers
                    .iter()
                    .flat_map(|layer| layer.diagnostics(engine, &path))
                    .collect();
                (path, list)
            })
            .collect();
        let changed = self.lock().settle(computed);
        changed
            .into_iter()
            .filter_map(|(path, list)| {
                match Uri::from_str(&uri::from_relative(engine.root(), &path)) {
                    Ok(uri) => Some((uri, list)),
                    Err(_) => {
                        tracing::warn!(
                            "cannot build a URI for {path}; its diagnostics are not sent"
                        );
                        None
                    }
                }
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Marks> {
        self.marks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
