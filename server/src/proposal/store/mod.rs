//! The review state of the whole workspace: the editor's documents and every task's hunks,
//! under one owner.
//!
//! Text and anchors live under one owner so that an edit moves both at once: a `didChange`
//! updates the document and rebases every task's hunks in that file before anything else
//! can look. Files that have hunks but are not open in the editor get a *shadow* document
//! read from disk; the shadow is re-read before anything is applied to it (accept, undo,
//! refresh), so a hunk is never applied to text it was not computed for.
//!
//! This module holds the state ([`ProposalStore`] and what it owns); each part of what is
//! done with it is a child module with its own `impl ProposalStore`:
//!
//! - `text.rs`: text sync (open, change, close, disk changes) and the documents, open or
//!   shadow, that hunks are anchored in;
//! - `findings.rs`: review findings, anchored in the same documents and moved by the
//!   same text sync as hunks;
//! - `install.rs`: a task's changes becoming hunks (install, follow-up, discard);
//! - `tasks.rs`: the task index (`TaskProposal`'s own lookups, path → tasks) and the
//!   conflicts between tasks re-evaluated over it;
//! - `views.rs`: what the protocol shows: hunks under the cursor, pages of a proposal,
//!   what a follow-up starts from;
//! - `git_diff.rs`: a task's proposal as a git diff (`agentls exec`, `agentls tasks`);
//! - `persist.rs`: a task's proposal saved as a checkpoint and restored in a later
//!   server;
//! - `snapshot.rs`: what work done without the lock (an install's diffs, an accept's
//!   disk writes, a refresh's merges) starts from, and how its result is checked;
//! - `resolve.rs`: decisions: where an accepted (or undone) hunk goes and the checks
//!   before it goes (edits of open documents, and file operations when the client can do
//!   them, come back as one plan for `workspace/applyEdit`; everything else is written to
//!   disk here, atomically, and confirmed once written), rejects and refreshes.
//!
//! Status changes nobody asked for (stale after typing, conflicts between tasks appearing
//! or going away, confirmations) collect in an outbox the LSP layer drains after each call.
//!
//! Lookups are indexed (path → tasks, per task path → file and hunk id → file), so a
//! keystroke or a code action costs what the file's hunks near the cursor cost, not
//! what the whole proposal costs.

mod findings;
pub mod git_diff;
mod install;
mod persist;
mod resolve;
mod snapshot;
mod tasks;
mod text;
mod views;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use self::findings::DismissedFinding;
pub use self::install::{InstallAs, InstallBasis, Moved, PreparedInstall, install_unlocked};
pub use self::persist::{SavedDecision, SavedFile, SavedProposal};
pub use self::resolve::{
    DiskReads, DiskWrite, EditPlan, FileEdit, RefreshBasis, refresh_unlocked, resolve_unlocked,
};
use self::snapshot::ChangeLog;
pub use self::views::{FileView, FollowUpState, HunkAt, PageError, ProposalPage, ReviewedHunk};
use crate::documents::{Document, PositionEncoding};
use crate::proposal::{FileHunks, Hunk};
use crate::protocol::{FileKind, HunkState, Refusal};

/// The one owner of documents and hunks (see the module docs).
pub struct ProposalStore {
    root: PathBuf,
    encoding: PositionEncoding,
    /// The client applies create/delete/rename operations itself.
    resource_operations: bool,
    docs: HashMap<String, DocEntry>,
    tasks: HashMap<String, TaskProposal>,
    /// path → ids of the tasks with hunks there, in install order.
    by_path: HashMap<String, Vec<String>>,
    installs: u64,
    /// path → the review findings anchored there (every task's), sorted by start.
    findings: HashMap<String, Vec<crate::proposal::findings::Finding>>,
    /// task id → the findings the user dismissed, for its next follow-up.
    dismissed: HashMap<String, Vec<DismissedFinding>>,
    /// task id → the last finding number handed out.
    finding_serials: HashMap<String, u64>,
    /// Serial of the last document entry made.
    serials: u64,
    outbox: Vec<(String, HunkState)>,
}

/// A document hunks are anchored in: the editor's, or a shadow of the file on disk.
struct DocEntry {
    doc: Document,
    /// False for a shadow of a file on disk that the editor does not have open.
    open: bool,
    /// Which entry this is (`snapshot.rs`): one dropped and made again is another.
    serial: u64,
    /// The changes applied to `doc`, for work prepared without the lock.
    log: ChangeLog,
}

/// One task's proposal: its files, indexed by path and by hunk id (`tasks.rs`).
struct TaskProposal {
    /// Install order, for deciding which of two overlapping tasks yields.
    order: u64,
    files: Vec<FileProposal>,
    by_path: HashMap<String, usize>,
    /// hunk id → index in `files`.
    by_id: HashMap<String, usize>,
    /// Hunk ids are `<taskId>-<n>`; n continues across follow-ups.
    next_hunk: u64,
    /// Moves on whenever hunks are added, dropped or re-placed, so a page cursor of an
    /// older listing is refused instead of continuing a different list.
    revision: u64,
}

/// One file of a task's proposal.
struct FileProposal {
    path: String,
    kind: FileKind,
    /// Where a rename moves the file.
    new_path: Option<String>,
    /// The texts hunks were computed against (`Hunk::base_gen` indexes it); the first is
    /// the task's base, a follow-up adds the text it started from. Empty for a file the
    /// task created.
    bases: Vec<Arc<str>>,
    hunks: FileHunks,
    /// Some hunk here was in conflict with another task: re-evaluate even when this is
    /// the only task left in the file.
    cross_conflicts: bool,
}

impl ProposalStore {
    pub fn new(root: PathBuf, encoding: PositionEncoding) -> Self {
        ProposalStore {
            root,
            encoding,
            resource_operations: false,
            docs: HashMap::new(),
            tasks: HashMap::new(),
            by_path: HashMap::new(),
            installs: 0,
            findings: HashMap::new(),
            dismissed: HashMap::new(),
            finding_serials: HashMap::new(),
            serials: 0,
            outbox: Vec::new(),
        }
    }

    pub fn encoding(&self) -> PositionEncoding {
        self.encoding
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the client applies create/delete/rename resource operations (initialize).
    pub fn set_resource_operations(&mut self, supported: bool) {
        self.resource_operations = supported;
    }

    /// Every hunk status change nobody asked for since the last call, as (task id, state).
    pub fn take_changed(&mut self) -> Vec<(String, HunkState)> {
        std::mem::take(&mut self.outbox)
    }
}

fn hunk_state(hunk: &Hunk) -> HunkState {
    HunkState {
        hunk_id: hunk.id.clone(),
        status: hunk.status,
        reason: hunk.reason.clone(),
        conflicts_with: hunk.conflicts_with.clone(),
    }
}

fn refusal(id: &str, reason: String) -> Refusal {
    Refusal {
        hunk_id: id.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests;
