//! A whole diff against a tree: each file section placed against the text that file has
//! now (an open buffer or the disk, whatever [`Tree`] says), in diff order, so a series of
//! patches touching one file applies one after the other.

use std::collections::{HashMap, HashSet};

use super::place::{self, Conflict, Outcome, Placed};
use super::{FileOp, FilePatch};
use crate::workspace::FileChange;

/// What a diff is placed against.
pub trait Tree {
    /// The current text of a workspace-relative path; `Ok(None)` if there is no such file,
    /// `Err` (with the reason) if it cannot be read as text.
    fn read(&self, path: &str) -> Result<Option<String>, String>;
    /// The text of a blob (id possibly abbreviated) from the local object database; `Err`
    /// says why there is none (see [`super::blobs::BlobReader::read`]). Called only for
    /// sections whose hunks do not place directly.
    fn blob(&self, id: &str) -> Result<String, String>;
}

/// The result of one file section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOutcome {
    /// Index of the section in the parsed diff.
    pub patch: usize,
    pub writes: Vec<FileChange>,
    /// Changes that could not be made, in the lines of `conflict_path`'s current text.
    pub conflicts: Vec<Conflict>,
    pub conflict_path: String,
    /// The text of `conflict_path` the conflicts' lines refer to (empty without conflicts).
    pub conflict_text: String,
    pub outcomes: Vec<Outcome>,
    /// The section cannot be applied at all (binary, unreadable file); why.
    pub problem: Option<String>,
    /// A file mode the diff sets, for callers that can set modes.
    pub mode: Option<String>,
}

impl FileOutcome {
    pub fn is_clean(&self) -> bool {
        self.conflicts.is_empty() && self.problem.is_none()
    }
}

/// Places every section of `patches` against `tree`; `three_way` allows merging against
/// the base blob named by a section's `index` line.
pub fn plan(patches: &[FilePatch], tree: &dyn Tree, three_way: bool) -> Vec<FileOutcome> {
    let mut outcomes = Vec::with_capacity(patches.len());
    plan_each(patches, tree, three_way, |outcome| outcomes.push(outcome));
    outcomes
}

/// [`plan`], handing each section's outcome to `each` as soon as it is placed, in diff
/// order: a caller that reports or gathers writes as it goes never holds every file's
/// text at once (which, for a diff of thousands of files, is most of the time spent:
/// memory the kernel must hand over page by page).
pub fn plan_each(
    patches: &[FilePatch],
    tree: &dyn Tree,
    three_way: bool,
    mut each: impl FnMut(FileOutcome),
) {
    let again = touched_again(patches);
    let mut staged = Staged {
        tree,
        written: HashMap::new(),
    };
    for (i, patch) in patches.iter().enumerate() {
        let outcome = plan_file(i, patch, &staged, three_way);
        for write in &outcome.writes {
            if again.contains(write.path.as_str()) {
                staged.written.insert(write.path.clone(), write.new.clone());
            }
        }
        each(outcome);
    }
}

/// The paths more than one section reads or writes: only their texts must be kept for
/// the sections after.
fn touched_again(patches: &[FilePatch]) -> HashSet<&str> {
    let mut seen = HashSet::new();
    let mut again = HashSet::new();
    for patch in patches {
        let target = patch.target();
        let source = patch.source().filter(|&source| source != target);
        for path in source.into_iter().chain([target]) {
            if !seen.insert(path) {
                again.insert(path);
            }
        }
    }
    again
}

/// The tree as earlier sections of the diff left it.
struct Staged<'a> {
    tree: &'a dyn Tree,
    /// What earlier sections left at the paths a later one touches again.
    written: HashMap<String, Option<String>>,
}

impl Staged<'_> {
    fn read(&self, path: &str) -> Result<Option<String>, String> {
        match self.written.get(path) {
            Some(text) => Ok(text.clone()),
            None => self.tree.read(path),
        }
    }
}

fn plan_file(index: usize, patch: &FilePatch, tree: &Staged, three_way: bool) -> FileOutcome {
    let target = patch.target().to_string();
    let mut outcome = FileOutcome {
        patch: index,
        writes: Vec::new(),
        conflicts: Vec::new(),
        conflict_path: patch.source().unwrap_or(&target).to_string(),
        conflict_text: String::new(),
        outcomes: Vec::new(),
        problem: None,
        mode: patch
            .new_mode
            .clone()
            .filter(|mode| patch.old_mode.as_ref() != Some(mode) || patch.op == FileOp::Create),
    };
    if patch.binary {
        outcome.problem = Some(format!(
            "{target}: binary change (the diff carries no text hunks for it); \
             copy the file from where the diff was made"
        ));
        return outcome;
    }
    let source_text = match patch.source().map(|p| tree.read(p)).transpose() {
        Ok(text) => text.flatten(),
        Err(reason) => {
            outcome.problem = Some(format!(
                "{}: cannot read it: {reason}",
                outcome.conflict_path
            ));
            return outcome;
        }
    };
    let existing_target = match patch.source() {
        // A file modified or deleted in place is not written over another path.
        Some(source) if source == target && matches!(patch.op, FileOp::Modify | FileOp::Delete) => {
            Ok(None)
        }
        Some(source) if source == target => Ok(source_text.clone()),
        _ => tree.read(&target),
    };
    let existing_target = match existing_target {
        Ok(text) => text,
        Err(reason) => {
            outcome.problem = Some(format!("{target}: cannot read it: {reason}"));
            return outcome;
        }
    };
    let current = match patch.op {
        FileOp::Create => "",
        _ => source_text.as_deref().unwrap_or_default(),
    };
    let base = || match patch.old_blob.as_deref().filter(|_| three_way) {
        Some(id) => tree
            .tree
            .blob(id)
            .map_err(|why| format!("{} of {}: {why}", place::NO_BASE, outcome.conflict_path)),
        None => Err(place::NO_BASE.to_string()),
    };
    let placed = place::place(current, &patch.hunks, base);
    let result = placed.apply(current);
    outcome.outcomes = placed.outcomes.clone();
    outcome.conflicts = placed.conflicts.clone();
    if !outcome.conflicts.is_empty() {
        outcome.conflict_text = current.to_string();
    }
    if patch.source().is_some() && source_text.is_none() {
        mark_missing(&mut outcome, &placed);
    }
    outcome.writes = writes(patch, &mut outcome, source_text, existing_target, result);
    outcome
}

/// Hunks meant for a file that does not exist say so in their conflicts.
fn mark_missing(outcome: &mut FileOutcome, placed: &Placed) {
    for conflict in &mut outcome.conflicts {
        conflict.reason = format!("{} does not exist", outcome.conflict_path);
    }
    if placed.conflicts.is_empty() && outcome.conflicts.is_empty() {
        outcome.problem = Some(format!("{} does not exist", outcome.conflict_path));
    }
}

/// The paths the section writes, given the placed result; adds whole-file conflicts
/// (a created file that exists with other text, a deleted file with lines left).
fn writes(
    patch: &FilePatch,
    outcome: &mut FileOutcome,
    source_text: Option<String>,
    existing_target: Option<String>,
    result: String,
) -> Vec<FileChange> {
    let target = patch.target().to_string();
    let source = patch.source().map(str::to_string);
    if source.is_some() && source_text.is_none() {
        return Vec::new();
    }
    match patch.op {
        FileOp::Modify => vec![FileChange {
            path: target,
            base: source_text,
            new: Some(result),
        }],
        FileOp::Create => match existing_target {
            Some(existing) if existing != result => {
                outcome.conflict_path = target.clone();
                outcome.conflict_text = existing.clone();
                outcome.conflicts.push(whole_file_conflict(
                    &existing,
                    result,
                    format!("{target} already exists with other content"),
                ));
                Vec::new()
            }
            existing => vec![FileChange {
                path: target,
                base: existing,
                new: Some(result),
            }],
        },
        FileOp::Delete if !result.is_empty() && outcome.conflicts.is_empty() => {
            let current = source_text.unwrap_or_default();
            outcome.conflict_text = current.clone();
            outcome.conflicts.push(whole_file_conflict(
                &current,
                String::new(),
                format!("{target} has lines the diff does not delete"),
            ));
            Vec::new()
        }
        FileOp::Delete if !outcome.conflicts.is_empty() => Vec::new(),
        FileOp::Delete => vec![FileChange {
            path: target,
            base: source_text,
            new: None,
        }],
        FileOp::Rename { .. } | FileOp::Copy { .. } => {
            let mut writes = vec![FileChange {
                path: target,
                base: existing_target,
                new: Some(result),
            }];
            // A renamed file with conflicts stays where it is until they are resolved.
            if matches!(patch.op, FileOp::Rename { .. }) && outcome.conflicts.is_empty() {
                writes.push(FileChange {
                    path: source.unwrap_or_default(),
                    base: source_text,
                    new: None,
                });
            }
            writes
        }
    }
}

fn whole_file_conflict(current: &str, incoming_new: String, reason: String) -> Conflict {
    Conflict {
        start: 0,
        end: current.split_inclusive('\n').count(),
        incoming_old: String::new(),
        incoming_new,
        hunks: Vec::new(),
        reason,
    }
}
