//! Diffs made elsewhere — a cloud agent, CI, a colleague — pulled into the working tree.
//!
//! One engine serves `agent/importDiff` (the result becomes a reviewable proposal) and
//! `agentls apply` (the result is written to disk): [`parse`] reads the unified diff dialects
//! real tools emit (and Codex's `*** Begin Patch`), [`source`] fetches the text from a file,
//! URL, git ref or cloud task payload, [`place`] finds where each hunk goes in the text the
//! user has now, falling back to a 3-way merge ([`merge`]) against the diff's base (read by
//! [`blobs`] only then), and
//! [`plan`] does that for every file; [`review`] turns the result into a proposal. Nothing
//! is dropped: what cannot be placed is reported
//! as a conflict with both sides.

pub mod attempts;
pub mod blobs;
pub mod cli;
pub mod merge;
pub mod parse;
pub mod place;
pub mod plan;
pub mod review;
pub mod source;

pub use parse::{DiffError, parse_diff};

/// One file's part of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePatch {
    /// The file the diff was made from; `None` when it creates the file.
    pub old_path: Option<String>,
    /// The file the diff produces; `None` when it deletes the file.
    pub new_path: Option<String>,
    pub op: FileOp,
    /// Git file modes (`100644`, `100755`, `120000`) when the diff states them.
    pub old_mode: Option<String>,
    pub new_mode: Option<String>,
    /// Blob ids from the `index` line (possibly abbreviated): the base for a 3-way merge.
    pub old_blob: Option<String>,
    /// The diff changes a binary file but carries no text hunks for it.
    pub binary: bool,
    pub hunks: Vec<Hunk>,
    /// 1-based line of the diff where this file's section starts.
    pub line: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOp {
    Modify,
    Create,
    Delete,
    Rename { similarity: Option<u8> },
    Copy { similarity: Option<u8> },
}

impl FilePatch {
    /// A modification of `old_path` into `new_path` with no modes, blob or hunks yet,
    /// found at diff line `line`: what every reader starts from.
    pub fn modify(old_path: Option<String>, new_path: Option<String>, line: usize) -> Self {
        FilePatch {
            old_path,
            new_path,
            op: FileOp::Modify,
            old_mode: None,
            new_mode: None,
            old_blob: None,
            binary: false,
            hunks: Vec::new(),
            line,
        }
    }

    /// The path the result is written to (the old one for a deletion).
    pub fn target(&self) -> &str {
        self.new_path
            .as_deref()
            .or(self.old_path.as_deref())
            .unwrap_or_default()
    }

    /// The path whose current text the hunks are placed in (`None`: the file is created).
    pub fn source(&self) -> Option<&str> {
        match self.op {
            FileOp::Create => None,
            _ => self.old_path.as_deref().or(self.new_path.as_deref()),
        }
    }
}

/// One `@@` section: lines keep their own line endings (`\n`, `\r\n`, or none for a last
/// line marked `\ No newline at end of file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// 1-based first old line as the header states it; `None` for Codex patches, which
    /// carry no line numbers and are placed by context alone.
    pub old_start: Option<usize>,
    pub new_start: Option<usize>,
    /// Codex `@@ text` anchors, outermost first: the hunk is searched for after them.
    pub anchors: Vec<String>,
    /// Codex `*** End of File`: the old lines end the file.
    pub at_end: bool,
    pub lines: Vec<HunkLine>,
    /// 1-based line of the diff holding the `@@` header.
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HunkLine {
    Context(String),
    Removed(String),
    Added(String),
}

impl Hunk {
    /// Context and removed lines: what the hunk expects to find.
    pub fn old_lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().filter_map(|line| match line {
            HunkLine::Context(text) | HunkLine::Removed(text) => Some(text.as_str()),
            HunkLine::Added(_) => None,
        })
    }

    /// Context and added lines: what the hunk leaves behind.
    pub fn new_lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().filter_map(|line| match line {
            HunkLine::Context(text) | HunkLine::Added(text) => Some(text.as_str()),
            HunkLine::Removed(_) => None,
        })
    }

    pub fn old_len(&self) -> usize {
        self.old_lines().count()
    }

    /// Context lines before the first change and after the last one.
    pub fn context_around(&self) -> (usize, usize) {
        let is_context = |line: &&HunkLine| matches!(line, HunkLine::Context(_));
        let leading = self.lines.iter().take_while(is_context).count();
        let trailing = self.lines.iter().rev().take_while(is_context).count();
        (leading, trailing)
    }

    /// The hunk in unified diff form, as `.rej` files and conflict reasons show it.
    pub fn to_unified(&self) -> String {
        let old_len = self.old_len();
        let new_len = self.new_lines().count();
        let start = |at: Option<usize>| at.unwrap_or(if old_len == 0 { 0 } else { 1 });
        let mut out = format!(
            "@@ -{},{} +{},{} @@\n",
            start(self.old_start),
            old_len,
            start(self.new_start),
            new_len
        );
        for line in &self.lines {
            let (marker, text) = match line {
                HunkLine::Context(text) => (' ', text),
                HunkLine::Removed(text) => ('-', text),
                HunkLine::Added(text) => ('+', text),
            };
            out.push(marker);
            out.push_str(text);
            if !text.ends_with('\n') {
                out.push_str("\n\\ No newline at end of file\n");
            }
        }
        out
    }
}
