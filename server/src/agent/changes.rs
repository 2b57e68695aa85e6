//! What a run changed so far, reported as it happens: the proposal's size to the client
//! (a `proposal` update) and the changed files to the task log (a `changes` event), so
//! that what a run did survives the server dying before the run ends. Shared by the
//! built-in loop and hosted ACP agents, after every tool call that changed files.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::protocol::TaskUpdate;
use crate::task::Task;
use crate::task::blobs::BlobText;
use crate::task::log;
use crate::workspace::{FileChange, TaskView};

/// How long the size count may spend diffing one file.
const DIFF_DEADLINE: Duration = Duration::from_millis(100);

/// The fingerprint of each file's text as last written to the task log.
#[derive(Default)]
pub struct ChangeReports {
    logged: Mutex<HashMap<String, u64>>,
}

impl ChangeReports {
    /// Logs the files whose text changed since last logged (with their base the first
    /// time) and tells the client how large the proposal now is.
    pub fn report(&self, task: &Task, view: &Mutex<TaskView>) {
        let changes = view.lock().unwrap_or_else(|p| p.into_inner()).changes();
        self.log(task, &changes);
        let hunks = changes
            .iter()
            .map(|c| {
                crate::proposal::diff_hunks(
                    c.base.as_deref().unwrap_or_default(),
                    c.new.as_deref().unwrap_or_default(),
                    DIFF_DEADLINE,
                )
                .len()
            })
            .sum();
        task.emit(TaskUpdate::Proposal {
            files: changes.len(),
            hunks,
        });
        task.emit_changes(changes);
    }

    fn log(&self, task: &Task, changes: &[FileChange]) {
        let mut logged = self.logged.lock().unwrap_or_else(|p| p.into_inner());
        let files: Vec<log::ChangeRecord> = changes
            .iter()
            .filter_map(|change| {
                let fingerprint = fingerprint(change.new.as_deref());
                let before = logged.insert(change.path.clone(), fingerprint);
                (before != Some(fingerprint)).then(|| log::ChangeRecord {
                    path: change.path.clone(),
                    base: change.base.as_deref().map(BlobText::from_text),
                    new: change.new.as_deref().map(BlobText::from_text),
                })
            })
            .collect();
        if !files.is_empty() {
            task.log(log::Event::Changes { files });
        }
    }
}

/// Tells a file's texts apart cheaply (a collision only costs one unlogged change).
fn fingerprint(text: Option<&str>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}
