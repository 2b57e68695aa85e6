//! Writes the task logs: one thread appends every task's events in the order they were
//! recorded.
//!
//! Recording must never slow the work it records — a streamed turn, a keystroke's
//! review bookkeeping under the proposal store's lock — so [`TaskJournal::record`] only
//! queues the event; the writer thread stores the blobs an event names (hashing whole
//! files is the expensive part), then appends the event as one line. One queue for all
//! tasks keeps a task's events in the order they were recorded, wherever they came from.
//!
//! Each log is held with an exclusive `flock` while this server has the task: a second
//! server sharing `$AGENTLS_HOME` on the same workspace leaves such a task alone instead
//! of interleaving its own lines into it.
//!
//! A crash loses what is still queued and can tear the line being written, which
//! reading skips. The agent loop waits for the queue to drain before each model request
//! ([`TaskJournal::written`]), so a crash during a request — the slow part of a turn —
//! loses nothing that came before it.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};

use super::blobs::Blobs;
use super::log::{self, Event};

/// The task logs of one `$AGENTLS_HOME`, or none when history is off.
#[derive(Clone, Default)]
pub struct Journal {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    queue: mpsc::Sender<Command>,
    dir: PathBuf,
    blobs: Blobs,
}

/// Where one task's events go. Cheap to clone; recording never blocks.
#[derive(Clone)]
pub struct TaskJournal {
    task_id: Arc<str>,
    queue: mpsc::Sender<Command>,
}

enum Command {
    /// Creates the task's log (it must not exist yet), then appends the header.
    Create {
        task_id: Arc<str>,
        header: Event,
    },
    /// Takes over the log of a task loaded from disk (already locked, torn tail cut).
    Adopt {
        task_id: Arc<str>,
        file: File,
    },
    Append {
        task_id: Arc<str>,
        event: Event,
    },
    /// Closes and deletes the task's log, then collects the blobs only it used.
    Remove {
        task_id: Arc<str>,
    },
    /// Answered once everything queued before it is written.
    Flush(Flushed),
}

/// Who waits for a flush: a thread, or an async task.
enum Flushed {
    Thread(mpsc::Sender<()>),
    Task(tokio::sync::oneshot::Sender<()>),
}

impl Journal {
    /// A journal writing under `home/tasks` and `home/blobs`.
    pub fn open(home: &Path) -> Journal {
        let dir = home.join("tasks");
        if let Err(error) = fs::create_dir_all(&dir) {
            tracing::warn!(
                "task history is off: cannot create {} ({error}); tasks will not survive a restart",
                dir.display()
            );
            return Journal::off();
        }
        let blobs = Blobs::new(home);
        let (queue, commands) = mpsc::channel();
        let writer = Writer {
            dir: dir.clone(),
            blobs: blobs.clone(),
            files: HashMap::new(),
        };
        let spawned = std::thread::Builder::new()
            .name("agentls-task-log".into())
            .spawn(move || writer.run(commands));
        if let Err(error) = spawned {
            tracing::warn!("task history is off: cannot start its writer ({error})");
            return Journal::off();
        }
        Journal {
            inner: Some(Arc::new(Inner { queue, dir, blobs })),
        }
    }

    /// No history: tasks live only as long as the process.
    pub fn off() -> Journal {
        Journal { inner: None }
    }

    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// `$AGENTLS_HOME/tasks`, when history is on.
    pub fn dir(&self) -> Option<&Path> {
        self.inner.as_deref().map(|inner| inner.dir.as_path())
    }

    pub fn blobs(&self) -> Option<&Blobs> {
        self.inner.as_deref().map(|inner| &inner.blobs)
    }

    /// Starts the log of a new task with its header.
    pub fn create(&self, task_id: &str, header: Event) -> Option<TaskJournal> {
        let journal = self.task(task_id)?;
        journal.send(Command::Create {
            task_id: journal.task_id.clone(),
            header,
        });
        Some(journal)
    }

    /// Continues the log of a task loaded from disk.
    pub fn adopt(&self, task_id: &str, file: File) -> Option<TaskJournal> {
        let journal = self.task(task_id)?;
        journal.send(Command::Adopt {
            task_id: journal.task_id.clone(),
            file,
        });
        Some(journal)
    }

    /// Deletes a task's log (and the blobs no other log uses).
    pub fn remove(&self, task_id: &str) {
        if let Some(journal) = self.task(task_id) {
            journal.send(Command::Remove {
                task_id: journal.task_id.clone(),
            });
        }
    }

    /// Waits until everything recorded so far is written.
    pub fn flush(&self) {
        let Some(inner) = &self.inner else {
            return;
        };
        let (done, wait) = mpsc::channel();
        if inner
            .queue
            .send(Command::Flush(Flushed::Thread(done)))
            .is_ok()
        {
            let _ = wait.recv();
        }
    }

    fn task(&self, task_id: &str) -> Option<TaskJournal> {
        let inner = self.inner.as_ref()?;
        Some(TaskJournal {
            task_id: task_id.into(),
            queue: inner.queue.clone(),
        })
    }
}

impl TaskJournal {
    pub fn record(&self, event: Event) {
        self.send(Command::Append {
            task_id: self.task_id.clone(),
            event,
        });
    }

    /// Waits until everything recorded so far is written: the task's history up to
    /// this point survives a crash from now on.
    pub async fn written(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.send(Command::Flush(Flushed::Task(done)));
        let _ = wait.await;
    }

    fn send(&self, command: Command) {
        // The writer only stops when the process does.
        let _ = self.queue.send(command);
    }
}

impl std::fmt::Debug for TaskJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TaskJournal({})", self.task_id)
    }
}

/// The path of a task's log.
pub fn log_path(dir: &Path, task_id: &str) -> PathBuf {
    dir.join(format!("{task_id}.jsonl"))
}

/// The exclusive lock a server holds on each task log it has (false when another live
/// process holds it): the one lock every owner file of a shared directory takes.
pub use crate::owner::try_lock;

struct Writer {
    dir: PathBuf,
    blobs: Blobs,
    files: HashMap<Arc<str>, File>,
}

impl Writer {
    fn run(mut self, commands: mpsc::Receiver<Command>) {
        while let Ok(command) = commands.recv() {
            match command {
                Command::Create { task_id, header } => match self.create(&task_id) {
                    Ok(file) => {
                        self.files.insert(task_id.clone(), file);
                        self.append(&task_id, &header);
                    }
                    Err(error) => tracing::warn!(
                        "task {task_id} will not survive a restart: cannot create its log ({error})"
                    ),
                },
                Command::Adopt { task_id, file } => {
                    self.files.insert(task_id, file);
                }
                Command::Append { task_id, event } => self.append(&task_id, &event),
                Command::Remove { task_id } => self.remove(&task_id),
                Command::Flush(Flushed::Thread(done)) => {
                    let _ = done.send(());
                }
                Command::Flush(Flushed::Task(done)) => {
                    let _ = done.send(());
                }
            }
        }
    }

    fn create(&self, task_id: &str) -> io::Result<File> {
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(log_path(&self.dir, task_id))?;
        if !try_lock(&file)? {
            return Err(io::Error::other("another process holds its lock"));
        }
        Ok(file)
    }

    fn append(&mut self, task_id: &str, event: &Event) {
        let Some(file) = self.files.get_mut(task_id) else {
            return;
        };
        for blob in event.blobs() {
            if let Err(error) = self.blobs.store(blob) {
                tracing::warn!("task {task_id}: cannot store a text of its log ({error})");
            }
        }
        if let Err(error) = file.write_all(&log::encode(event)) {
            tracing::warn!("task {task_id}: cannot append to its log ({error})");
        }
    }

    fn remove(&mut self, task_id: &str) {
        self.files.remove(task_id);
        let path = log_path(&self.dir, task_id);
        let used = super::load::blob_refs(&path);
        if let Err(error) = fs::remove_file(&path)
            && error.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove the log of task {task_id}: {error}");
            return;
        }
        let still_used = super::load::blob_refs_of_dir(&self.dir);
        self.blobs.collect(&used, |hash| still_used.contains(hash));
    }
}
