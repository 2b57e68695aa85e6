//! The `apply_patch` engine: Codex's `*** Begin Patch` grammar, parsed and applied all or
//! nothing.
//!
//! Two callers share it: the agent's `apply_patch` tool, which applies a model's patch to a
//! task's in-memory view of the workspace (through [`PatchSource`]), and the
//! `agentls apply-patch` CLI, which applies one to a real directory ([`apply_to_dir`]).
//! Models trained on Codex write this grammar, so parsing is as lenient as Codex's; placing
//! a change is stricter than Codex's, because a chunk whose context matches in two places is
//! refused instead of landing on the first one.
//!
//! ```text
//! *** Begin Patch
//! *** Add File: path/new.txt
//! +line
//! *** Delete File: path/old.txt
//! *** Update File: path/x.rs
//! *** Move to: path/y.rs
//! @@ fn main() {
//!  context line
//! -removed
//! +added
//! *** End of File
//! *** End Patch
//! ```

mod apply;
mod confine;
mod disk;
mod error;
mod parallel;
mod parse;
mod seek;

pub use apply::{FileWrite, PatchSource, apply_patch, summarize};
pub use disk::{DirSource, Durability, apply_to_dir};
pub use error::PatchError;
pub use parse::parse_patch;
/// The grammar's markers, for the `apply_patch` tool's description of it.
pub(crate) use parse::{
    ADD_FILE, BEGIN_PATCH, CHUNK_HEADER_PREFIX, DELETE_FILE, END_PATCH, MOVE_TO, UPDATE_FILE,
};

/// A parsed patch: the file operations in the order they are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    pub hunks: Vec<FileHunk>,
}

/// One `*** Add File`, `*** Delete File` or `*** Update File` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileHunk {
    /// Creates the file, or replaces it if it exists.
    Add {
        path: String,
        contents: String,
    },
    Delete {
        path: String,
    },
    /// Edits the file in place, or writes the edited text to `move_to` and removes `path`.
    Update {
        path: String,
        move_to: Option<String>,
        chunks: Vec<UpdateChunk>,
    },
}

/// One run of ` `/`-`/`+` lines inside an `*** Update File` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateChunk {
    /// The `@@ <text>` lines in front of the chunk, outermost first: each is found after the
    /// previous one, and the chunk's old lines are searched from the last.
    pub anchors: Vec<Anchor>,
    pub lines: Vec<ChunkLine>,
    /// Set by `*** End of File`: the old lines are expected at the very end of the file.
    pub at_end_of_file: bool,
    /// 1-based line of the patch text where the chunk's ` `/`-`/`+` lines start.
    pub line: usize,
}

impl UpdateChunk {
    /// Context and removed lines, in order: the text the chunk expects in the file.
    pub fn old_lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().filter_map(ChunkLine::old_text)
    }

    /// Context and added lines, in order: the text the chunk leaves in the file.
    pub fn new_lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().filter_map(ChunkLine::new_text)
    }
}

/// One line of a chunk, without its ` `/`-`/`+` marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkLine {
    Context(String),
    Removed(String),
    Added(String),
}

impl ChunkLine {
    /// The line's text if the file must contain it before the change.
    pub fn old_text(&self) -> Option<&str> {
        match self {
            ChunkLine::Context(text) | ChunkLine::Removed(text) => Some(text),
            ChunkLine::Added(_) => None,
        }
    }

    /// The line's text if the file contains it after the change.
    pub fn new_text(&self) -> Option<&str> {
        match self {
            ChunkLine::Context(text) | ChunkLine::Added(text) => Some(text),
            ChunkLine::Removed(_) => None,
        }
    }
}

/// An `@@ <text>` line naming something (usually a function or class) that precedes a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub text: String,
    /// 1-based line of the patch text.
    pub line: usize,
}

impl FileHunk {
    /// The paths the operation touches: its file, and an update's `Move to` destination.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        let (path, move_to) = match self {
            FileHunk::Add { path, .. } | FileHunk::Delete { path } => (path, None),
            FileHunk::Update { path, move_to, .. } => (path, move_to.as_ref()),
        };
        std::iter::once(path.as_str()).chain(move_to.map(String::as_str))
    }
}
