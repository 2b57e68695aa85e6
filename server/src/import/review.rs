//! A placed diff as a proposal: per path, the text before and after plus conflict hunks,
//! ready for [`crate::proposal::store::ProposalStore::install_with_conflicts`].
//!
//! A path several sections of the diff write (a patch series) gets one entry, from its
//! text before the first section to its text after the last.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::blobs::BlobReader;
use super::place::Conflict;
use super::plan::{FileOutcome, Tree};
use crate::patch::{DirSource, PatchSource};
use crate::proposal::RawHunk;
use crate::workspace::FileChange;

/// The workspace as the user sees it: open buffers (unsaved text included) over the disk.
pub struct WorkspaceTree {
    blobs: BlobReader,
    buffers: HashMap<String, String>,
    files: DirSource,
}

impl WorkspaceTree {
    pub fn new(root: &Path, buffers: HashMap<String, String>) -> Result<Self, String> {
        Ok(WorkspaceTree {
            blobs: BlobReader::new(root),
            buffers,
            files: DirSource::new(root).map_err(|e| e.to_string())?,
        })
    }
}

impl Tree for WorkspaceTree {
    fn read(&self, path: &str) -> Result<Option<String>, String> {
        match self.buffers.get(path) {
            Some(text) => Ok(Some(text.clone())),
            None => self.files.read(path),
        }
    }

    fn blob(&self, id: &str) -> Result<String, String> {
        self.blobs.read(id)
    }
}

/// Longest incoming text quoted in a conflict's reason.
const MAX_QUOTED_LINES: usize = 40;

/// One file of the proposal and its conflicts (char offsets in `change.base`).
pub type ReviewFile = (FileChange, Vec<(RawHunk, String)>);

pub fn review_files(outcomes: &[FileOutcome]) -> Vec<ReviewFile> {
    let mut files: BTreeMap<String, ReviewFile> = BTreeMap::new();
    for outcome in outcomes {
        for write in &outcome.writes {
            let entry = files.entry(write.path.clone()).or_insert_with(|| {
                let change = FileChange {
                    path: write.path.clone(),
                    base: write.base.clone(),
                    new: None,
                };
                (change, Vec::new())
            });
            entry.0.new = write.new.clone();
        }
        if outcome.conflicts.is_empty() {
            continue;
        }
        let entry = files
            .entry(outcome.conflict_path.clone())
            .or_insert_with(|| {
                let text = Some(outcome.conflict_text.clone());
                let change = FileChange {
                    path: outcome.conflict_path.clone(),
                    base: text.clone(),
                    new: text,
                };
                (change, Vec::new())
            });
        let base = entry.0.base.clone().unwrap_or_default();
        // Conflicts of a later section refer to the text an earlier one produced; their
        // lines mean nothing in the base, so they go to its top rather than nowhere.
        let same_text = base == outcome.conflict_text;
        for conflict in &outcome.conflicts {
            entry.1.push(conflict_hunk(&base, conflict, same_text));
        }
    }
    files.into_values().collect()
}

fn conflict_hunk(base: &str, conflict: &Conflict, in_base: bool) -> (RawHunk, String) {
    let (start_line, end_line) = if in_base {
        (conflict.start, conflict.end)
    } else {
        (0, 0)
    };
    let mut start = 0;
    let mut old_text = String::new();
    for (i, line) in base.split_inclusive('\n').enumerate().take(end_line) {
        if i < start_line {
            start += line.chars().count();
        } else {
            old_text.push_str(line);
        }
    }
    let mut reason = conflict.reason.clone();
    if !conflict.incoming_old.is_empty() {
        reason.push_str("\nThe diff expected here:\n");
        reason.push_str(&quote(&conflict.incoming_old));
    }
    let hunk = RawHunk {
        start,
        end: start + old_text.chars().count(),
        old_text,
        new_text: conflict.incoming_new.clone(),
    };
    (hunk, reason)
}

fn quote(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    if lines.len() <= MAX_QUOTED_LINES {
        return text.to_string();
    }
    format!(
        "{}… ({} more lines)\n",
        lines[..MAX_QUOTED_LINES].concat(),
        lines.len() - MAX_QUOTED_LINES
    )
}
