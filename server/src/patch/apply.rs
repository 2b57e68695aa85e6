//! Applying a parsed [`Patch`] in memory: every file operation is computed against a staged
//! view (later operations see earlier ones), and the net changes are handed back only when
//! all of them succeed, so a caller never commits half a patch.
//!
//! Placing a chunk follows Codex — `@@` lines narrow the search, chunks go forward through
//! the file, whitespace and punctuation are tolerated — with one refusal Codex does not
//! make: context that matches in more than one place is an error, not a guess.

use std::slice;

use super::seek::Haystack;
use super::{ChunkLine, FileHunk, Patch, PatchError, UpdateChunk};

/// Where the current text of files comes from.
pub trait PatchSource {
    /// `Ok(None)`: no such file. `Err(reason)`: not a readable text file (e.g. "it is a
    /// directory"); the reason is shown to the user after "cannot `<action>` it: ".
    fn read(&self, path: &str) -> Result<Option<String>, String>;

    /// Whether `path` is an existing file, even one `read` cannot return as text (a binary
    /// file can still be deleted or replaced).
    fn is_file(&self, path: &str) -> bool {
        matches!(self.read(path), Ok(Some(_)))
    }
}

/// What committing a patch does to one path: its new contents, or its removal. Paths are
/// exactly as written in the patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileWrite {
    Write { path: String, contents: String },
    Delete { path: String },
}

impl FileWrite {
    pub fn path(&self) -> &str {
        match self {
            FileWrite::Write { path, .. } | FileWrite::Delete { path } => path,
        }
    }
}

/// Computes every change in memory (later hunks see earlier ones' effects) and returns them
/// only if all succeed: the net effect on each touched path, in the order paths were first
/// touched. A move is `Delete(old)` + `Write(new)`.
pub fn apply_patch(patch: &Patch, source: &dyn PatchSource) -> Result<Vec<FileWrite>, PatchError> {
    let mut staged = Staged {
        source,
        touched: Vec::new(),
    };
    for hunk in &patch.hunks {
        staged.apply(hunk)?;
    }
    Ok(staged.into_changes())
}

/// Short human summary, Codex's wording: "Success. Updated the following files:" then
/// `A`dded, `M`odified and `D`eleted paths. `source` must still show the files as they were
/// before the changes were committed.
pub fn summarize(changes: &[FileWrite], source: &dyn PatchSource) -> String {
    if changes.is_empty() {
        return "Success. The patch left every file as it was.".to_string();
    }
    let (mut added, mut modified, mut deleted) = (Vec::new(), Vec::new(), Vec::new());
    for change in changes {
        match change {
            FileWrite::Write { path, .. } if source.is_file(path) => modified.push(path),
            FileWrite::Write { path, .. } => added.push(path),
            FileWrite::Delete { path } => deleted.push(path),
        }
    }
    let mut summary = String::from("Success. Updated the following files:");
    for (tag, paths) in [("A", added), ("M", modified), ("D", deleted)] {
        for path in paths {
            summary.push_str(&format!("\n{tag} {path}"));
        }
    }
    summary
}

/// The source as it will be once the hunks applied so far are committed.
struct Staged<'a> {
    source: &'a dyn PatchSource,
    /// Every touched path with its new state (`None`: deleted), in order of first touch.
    touched: Vec<(String, Option<String>)>,
}

impl PatchSource for Staged<'_> {
    fn read(&self, path: &str) -> Result<Option<String>, String> {
        match self.staged(path) {
            Some(state) => Ok(state.clone()),
            None => self.source.read(path),
        }
    }

    fn is_file(&self, path: &str) -> bool {
        match self.staged(path) {
            Some(state) => state.is_some(),
            None => self.source.is_file(path),
        }
    }
}

impl Staged<'_> {
    fn staged(&self, path: &str) -> Option<&Option<String>> {
        self.touched
            .iter()
            .find(|(touched, _)| touched == path)
            .map(|(_, state)| state)
    }

    fn stage(&mut self, path: &str, state: Option<String>) {
        match self.touched.iter_mut().find(|(touched, _)| touched == path) {
            Some((_, slot)) => *slot = state,
            None => self.touched.push((path.to_string(), state)),
        }
    }

    fn apply(&mut self, hunk: &FileHunk) -> Result<(), PatchError> {
        match hunk {
            FileHunk::Add { path, contents } => {
                self.check_writable(path, "write")?;
                self.stage(path, Some(contents.clone()));
            }
            FileHunk::Delete { path } => {
                self.check_deletable(path)?;
                self.stage(path, None);
            }
            FileHunk::Update {
                path,
                move_to,
                chunks,
            } => {
                let old = self.read_text(path, "update")?;
                let new = update_text(path, &old, chunks)?;
                match move_to {
                    Some(destination) if destination != path => {
                        self.check_writable(destination, "move a file onto")?;
                        self.stage(path, None);
                        self.stage(destination, Some(new));
                    }
                    _ => self.stage(path, Some(new)),
                }
            }
        }
        Ok(())
    }

    fn check_writable(&self, path: &str, action: &'static str) -> Result<(), PatchError> {
        if self.is_file(path) {
            return Ok(());
        }
        match self.read(path) {
            Ok(_) => Ok(()),
            Err(reason) => Err(not_a_text_file(path, action, reason)),
        }
    }

    fn check_deletable(&self, path: &str) -> Result<(), PatchError> {
        if self.is_file(path) {
            return Ok(());
        }
        self.read_text(path, "delete").map(drop)
    }

    fn read_text(&self, path: &str, action: &'static str) -> Result<String, PatchError> {
        match self.read(path) {
            Ok(Some(text)) => Ok(text),
            Ok(None) => Err(PatchError::MissingFile {
                path: path.to_string(),
                action,
            }),
            Err(reason) => Err(not_a_text_file(path, action, reason)),
        }
    }

    fn into_changes(self) -> Vec<FileWrite> {
        let source = self.source;
        self.touched
            .into_iter()
            .filter_map(|(path, state)| match state {
                Some(contents) => Some(FileWrite::Write { path, contents }),
                // Added and deleted again within the patch: nothing to do.
                None if !source.is_file(&path) => None,
                None => Some(FileWrite::Delete { path }),
            })
            .collect()
    }
}

fn not_a_text_file(path: &str, action: &'static str, reason: String) -> PatchError {
    PatchError::NotATextFile {
        path: path.to_string(),
        action,
        reason,
    }
}

/// Applies one file's chunks to its text. The result ends with a newline (unless empty) and
/// keeps the file's line ending: CRLF if its first line ends with one.
fn update_text(path: &str, old: &str, chunks: &[UpdateChunk]) -> Result<String, PatchError> {
    let crlf = old.find('\n').is_some_and(|end| old[..end].ends_with('\r'));
    let mut lines: Vec<&str> = old.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    if crlf {
        for line in &mut lines {
            *line = line.strip_suffix('\r').unwrap_or(line);
        }
    }
    let edits = place_chunks(path, &Haystack::new(&lines), chunks)?;
    let new_lines = splice(&lines, &edits);
    if new_lines.is_empty() {
        return Ok(String::new());
    }
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut text = new_lines.join(eol);
    text.push_str(eol);
    Ok(text)
}

/// Replace `old_len` lines at `start` with `new_lines`.
#[derive(Debug)]
struct Edit<'a> {
    start: usize,
    old_len: usize,
    new_lines: Vec<&'a str>,
}

/// Finds where each chunk applies, in patch order, each after the previous one.
fn place_chunks<'a>(
    path: &str,
    file: &Haystack<'a>,
    chunks: &'a [UpdateChunk],
) -> Result<Vec<Edit<'a>>, PatchError> {
    let mut edits = Vec::with_capacity(chunks.len());
    let mut cursor = 0;
    for chunk in chunks {
        let anchor = follow_anchors(path, file, chunk, cursor)?;
        let edit = if chunk.old_lines().next().is_none() {
            let edit = place_addition(file, chunk, anchor, cursor);
            if !chunk.anchors.is_empty() {
                cursor = edit.start;
            }
            edit
        } else {
            let edit = place_replacement(path, file, chunk, anchor.unwrap_or(cursor))?;
            cursor = edit.start + edit.old_len;
            edit
        };
        edits.push(edit);
    }
    // A pure addition without an anchor goes to the end of the file, wherever it sits in the
    // patch; a stable sort keeps patch order among edits at the same spot.
    edits.sort_by_key(|edit| edit.start);
    Ok(edits)
}

/// Follows the chunk's `@@` anchors in turn from `cursor`; returns the last one's line, where
/// the chunk's old lines may start (context often repeats the anchor line). An anchor found
/// only before `cursor` means an earlier chunk already went past it, so the chunk stays
/// where it is, inside it; two chunks in one function often repeat its `@@` line.
fn follow_anchors(
    path: &str,
    file: &Haystack,
    chunk: &UpdateChunk,
    cursor: usize,
) -> Result<Option<usize>, PatchError> {
    let mut found_line = None;
    let mut from = cursor;
    for anchor in &chunk.anchors {
        let wanted = slice::from_ref(&anchor.text);
        match file.find_first(wanted, from) {
            Some(line) => {
                found_line = Some(line);
                from = line + 1;
            }
            None if found_line.is_none()
                && file.find_first(wanted, 0).is_some_and(|line| line < cursor) => {}
            None => {
                return Err(PatchError::AnchorNotFound {
                    path: path.to_string(),
                    line: anchor.line,
                    text: anchor.text.clone(),
                });
            }
        }
    }
    Ok(found_line)
}

/// A chunk with only `+` lines goes right after its anchor (or, when an earlier chunk went
/// past the anchor, right after that chunk), or at the end of the file.
fn place_addition<'a>(
    file: &Haystack<'a>,
    chunk: &'a UpdateChunk,
    anchor: Option<usize>,
    cursor: usize,
) -> Edit<'a> {
    let start = if chunk.anchors.is_empty() || chunk.at_end_of_file {
        file.lines().len()
    } else {
        anchor.map_or(cursor, |line| line + 1)
    };
    Edit {
        start,
        old_len: 0,
        new_lines: chunk.new_lines().collect(),
    }
}

fn place_replacement<'a>(
    path: &str,
    file: &Haystack<'a>,
    chunk: &'a UpdateChunk,
    from: usize,
) -> Result<Edit<'a>, PatchError> {
    let mut chunk_lines = chunk.lines.as_slice();
    loop {
        let old_lines: Vec<&str> = chunk_lines.iter().filter_map(ChunkLine::old_text).collect();
        let starts = find_old_lines(file, &old_lines, from, chunk.at_end_of_file);
        match starts.as_slice() {
            [start] => return Ok(replacement(file, *start, chunk_lines)),
            [] => {}
            _ => {
                return Err(PatchError::AmbiguousContext {
                    path: path.to_string(),
                    line: chunk.line,
                    lines: old_lines.iter().map(|line| line.to_string()).collect(),
                    file_lines: starts.iter().map(|start| start + 1).collect(),
                });
            }
        }
        // Blank lines that separate chunks in the patch parse as trailing empty context the
        // file may not have; retry without them before giving up.
        match chunk_lines {
            [rest @ .., ChunkLine::Context(last)]
                if last.is_empty() && rest.iter().any(|line| line.old_text().is_some()) =>
            {
                chunk_lines = rest;
            }
            _ => break,
        }
    }
    let old_lines: Vec<String> = chunk.old_lines().map(str::to_string).collect();
    let earlier_in_file = from > 0 && !file.find_all(&old_lines, 0).is_empty();
    Err(PatchError::ContextNotFound {
        path: path.to_string(),
        line: chunk.line,
        lines: old_lines,
        earlier_in_file,
    })
}

/// The edit for chunk lines matched at `start`. Context lines keep the file's text, so that
/// whitespace or punctuation the match tolerated is not rewritten.
fn replacement<'a>(file: &Haystack<'a>, start: usize, chunk_lines: &'a [ChunkLine]) -> Edit<'a> {
    let mut file_line = start;
    let mut new_lines = Vec::with_capacity(chunk_lines.len());
    for line in chunk_lines {
        match line {
            ChunkLine::Context(_) => {
                new_lines.push(file.lines()[file_line]);
                file_line += 1;
            }
            ChunkLine::Removed(_) => file_line += 1,
            ChunkLine::Added(text) => new_lines.push(text.as_str()),
        }
    }
    Edit {
        start,
        old_len: file_line - start,
        new_lines,
    }
}

/// Where `old_lines` may apply: the end of the file when the chunk says `*** End of File` and
/// they match there; otherwise every match after `from` (more than one is ambiguous).
fn find_old_lines(
    file: &Haystack,
    old_lines: &[&str],
    from: usize,
    at_end_of_file: bool,
) -> Vec<usize> {
    if at_end_of_file
        && let Some(start) = file.lines().len().checked_sub(old_lines.len())
        && start >= from
        && file.matches_at(old_lines, start)
    {
        return vec![start];
    }
    file.find_all(old_lines, from)
}

/// Applies edits sorted by start; edits never overlap because each chunk is placed after
/// the previous one and unanchored additions go to the very end.
fn splice<'a>(lines: &[&'a str], edits: &[Edit<'a>]) -> Vec<&'a str> {
    let mut result = Vec::with_capacity(lines.len());
    let mut next = 0;
    for edit in edits {
        debug_assert!(edit.start >= next, "overlapping edits: {edits:?}");
        result.extend_from_slice(&lines[next..edit.start]);
        result.extend_from_slice(&edit.new_lines);
        next = edit.start + edit.old_len;
    }
    result.extend_from_slice(&lines[next..]);
    result
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::patch::parse_patch;

    /// Text files by path; a path ending in `/` is a directory.
    struct Files(BTreeMap<&'static str, &'static str>);

    impl PatchSource for Files {
        fn read(&self, path: &str) -> Result<Option<String>, String> {
            if self.0.contains_key(format!("{path}/").as_str()) {
                return Err("it is a directory".to_string());
            }
            Ok(self.0.get(path).map(|text| text.to_string()))
        }
    }

    fn files(entries: &[(&'static str, &'static str)]) -> Files {
        Files(entries.iter().copied().collect())
    }

    fn apply(text: &str, source: &Files) -> Result<Vec<FileWrite>, PatchError> {
        apply_patch(&parse_patch(text).unwrap(), source)
    }

    fn update(body: &str, old: &'static str) -> Result<String, PatchError> {
        let source = files(&[("f.txt", old)]);
        let changes = apply(
            &format!("*** Begin Patch\n*** Update File: f.txt\n{body}\n*** End Patch"),
            &source,
        )?;
        match changes.as_slice() {
            [FileWrite::Write { contents, .. }] => Ok(contents.clone()),
            other => panic!("expected one write, got {other:?}"),
        }
    }

    fn write(path: &str, contents: &str) -> FileWrite {
        FileWrite::Write {
            path: path.into(),
            contents: contents.into(),
        }
    }

    fn delete(path: &str) -> FileWrite {
        FileWrite::Delete { path: path.into() }
    }

    #[test]
    fn replaces_lines_between_context() {
        assert_eq!(
            update("@@\n a\n-b\n+B\n c", "a\nb\nc\nd\n").unwrap(),
            "a\nB\nc\nd\n"
        );
    }

    #[test]
    fn each_chunk_is_searched_after_the_previous_one() {
        // `same` alone occurs twice, but only once after the first chunk.
        let old = "a\nsame\nb\nsame\n";
        let new = update("@@\n a\n-same\n+one\n@@\n-same\n+two", old).unwrap();
        assert_eq!(new, "a\none\nb\ntwo\n");
    }

    #[test]
    fn ambiguous_context_is_an_error_naming_both_places() {
        let error = update("@@\n x\n-same\n+changed", "x\nsame\nx\nsame\n").unwrap_err();
        let PatchError::AmbiguousContext {
            file_lines, line, ..
        } = &error
        else {
            panic!("expected ambiguity, got {error}");
        };
        assert_eq!(file_lines, &[1, 3]);
        assert_eq!(*line, 4);
        let message = error.to_string();
        assert!(
            message.contains("f.txt: the context at patch line 4 is ambiguous"),
            "{message}"
        );
        assert!(message.contains("\n  x\n  same\n"), "{message}");
    }

    #[test]
    fn ambiguity_is_judged_at_the_first_tolerance_that_matches() {
        // Exact match only once (line 2); the indented copy would match ignoring whitespace.
        let new = update("@@\n-same\n+changed", "  same\nsame\n").unwrap();
        assert_eq!(new, "  same\nchanged\n");
    }

    #[test]
    fn an_anchor_narrows_the_search_to_what_follows_it() {
        let old = "fn a() {\n    x\n}\nfn b() {\n    x\n}\n";
        let new = update("@@ fn b() {\n-    x\n+    y", old).unwrap();
        assert_eq!(new, "fn a() {\n    x\n}\nfn b() {\n    y\n}\n");
    }

    #[test]
    fn context_repeating_the_anchor_line_is_found() {
        let old = "fn a() {\n    x\n}\n";
        let new = update("@@ fn a() {\n fn a() {\n-    x\n+    y", old).unwrap();
        assert_eq!(new, "fn a() {\n    y\n}\n");
    }

    #[test]
    fn stacked_anchors_are_followed_in_turn() {
        let old = "class A:\n  def m():\n    pass\nclass B:\n  def m():\n    pass\n";
        let new = update("@@ class B:\n@@   def m():\n-    pass\n+    return 1", old).unwrap();
        assert_eq!(
            new,
            "class A:\n  def m():\n    pass\nclass B:\n  def m():\n    return 1\n"
        );
    }

    #[test]
    fn a_repeated_anchor_already_passed_keeps_the_chunk_in_place() {
        let old = "impl A {\n    one\n    two\n}\nimpl B {\n    three\n}\n";
        let new = update(
            "@@ impl A {\n-    one\n+    1\n@@ impl A {\n-    two\n+    2",
            old,
        )
        .unwrap();
        assert_eq!(new, "impl A {\n    1\n    2\n}\nimpl B {\n    three\n}\n");
    }

    #[test]
    fn an_addition_after_an_anchor_and_a_chunk_at_that_spot_keep_patch_order() {
        let old = "fn a() {\n}\n";
        let new = update("@@ fn a() {\n+    body\n@@\n-}\n+} // a", old).unwrap();
        assert_eq!(new, "fn a() {\n    body\n} // a\n");
    }

    #[test]
    fn a_missing_anchor_is_reported_with_its_line() {
        let error = update("@@ fn nowhere()\n-a\n+b", "a\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "f.txt: could not find the `@@ fn nowhere()` line at patch line 3 in the file; \
             re-read the file and regenerate the patch"
        );
    }

    #[test]
    fn missing_context_quotes_the_lines_and_their_patch_line() {
        let error =
            update("@@\n fn foo() {\n-let a = 1;\n+let a = 2;", "fn bar() {\n").unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with(
                "f.txt: could not find the context at patch line 4:\n  fn foo() {\n  let a = 1;\n"
            ),
            "{message}"
        );
        assert!(
            message.ends_with("Re-read the file and regenerate the patch."),
            "{message}"
        );
    }

    #[test]
    fn context_before_the_previous_chunk_is_reported_as_out_of_order() {
        let error = update("@@\n-c\n+C\n@@\n-a\n+A", "a\nb\nc\n").unwrap_err();
        assert!(
            matches!(
                error,
                PatchError::ContextNotFound {
                    earlier_in_file: true,
                    line: 7,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("Reorder the chunks"), "{error}");
    }

    #[test]
    fn whitespace_and_unicode_drift_in_context_is_tolerated() {
        let old = "say(\u{201C}hi\u{201D})   \n    let a = 1;\n";
        let new = update("@@\n say(\"hi\")\n-let a = 1;\n+    let a = 2;", old).unwrap();
        // The context line keeps the file's quotes and trailing spaces.
        assert_eq!(new, "say(\u{201C}hi\u{201D})   \n    let a = 2;\n");
    }

    #[test]
    fn pure_addition_appends_at_end_of_file() {
        assert_eq!(update("@@\n+c", "a\nb\n").unwrap(), "a\nb\nc\n");
    }

    #[test]
    fn pure_addition_with_an_anchor_goes_right_after_it() {
        assert_eq!(
            update("@@ a\n+inserted", "a\nb\n").unwrap(),
            "a\ninserted\nb\n"
        );
    }

    #[test]
    fn end_of_file_chunks_prefer_the_last_lines() {
        let old = "end\nmiddle\nend\n";
        assert_eq!(
            update("@@\n-end\n+END\n*** End of File", old).unwrap(),
            "end\nmiddle\nEND\n"
        );
    }

    #[test]
    fn end_of_file_chunks_fall_back_to_searching() {
        // The file has a trailing blank line, so `end` is not literally the last line.
        let new = update("@@\n-end\n+END\n*** End of File", "start\nend\n\n").unwrap();
        assert_eq!(new, "start\nEND\n\n");
    }

    #[test]
    fn blank_lines_between_chunks_do_not_have_to_exist_in_the_file() {
        assert_eq!(
            update("@@\n-a\n+A\n\n@@\n-b\n+B\n", "a\nb\n").unwrap(),
            "A\nB\n"
        );
    }

    #[test]
    fn output_always_ends_with_a_newline() {
        assert_eq!(update("@@\n-a\n+b", "a").unwrap(), "b\n");
        assert_eq!(update("@@\n-a", "a\n").unwrap(), "");
    }

    #[test]
    fn crlf_files_keep_crlf() {
        assert_eq!(
            update("@@\n a\n-b\n+B", "a\r\nb\r\nc\r\n").unwrap(),
            "a\r\nB\r\nc\r\n"
        );
    }

    #[test]
    fn later_hunks_see_earlier_ones_and_only_net_changes_are_returned() {
        let source = files(&[("keep.txt", "k\n"), ("gone.txt", "g\n")]);
        let changes = apply(
            "*** Begin Patch\n\
             *** Add File: new.txt\n+one\n\
             *** Update File: new.txt\n@@\n-one\n+two\n\
             *** Add File: temp.txt\n+t\n\
             *** Delete File: temp.txt\n\
             *** Delete File: gone.txt\n\
             *** End Patch",
            &source,
        )
        .unwrap();
        assert_eq!(changes, vec![write("new.txt", "two\n"), delete("gone.txt")]);
    }

    #[test]
    fn a_move_deletes_the_old_path_and_writes_the_new_one() {
        let source = files(&[("a.txt", "x\n")]);
        let changes = apply(
            "*** Begin Patch\n*** Update File: a.txt\n*** Move to: b/c.txt\n@@\n-x\n+y\n*** End Patch",
            &source,
        )
        .unwrap();
        assert_eq!(changes, vec![delete("a.txt"), write("b/c.txt", "y\n")]);
    }

    #[test]
    fn any_failure_returns_no_changes() {
        let source = files(&[("a.txt", "x\n")]);
        let error = apply(
            "*** Begin Patch\n*** Add File: b.txt\n+b\n*** Update File: missing.txt\n@@\n-o\n+n\n*** End Patch",
            &source,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "missing.txt: cannot update it: no such file. Check the path (list the directory), \
             or use `*** Add File: missing.txt` to create a new file."
        );
    }

    #[test]
    fn deleting_a_missing_file_or_a_directory_fails() {
        let source = files(&[("dir/", ""), ("dir/a", "a\n")]);
        let missing = apply(
            "*** Begin Patch\n*** Delete File: nope\n*** End Patch",
            &source,
        )
        .unwrap_err();
        assert!(
            matches!(
                missing,
                PatchError::MissingFile {
                    action: "delete",
                    ..
                }
            ),
            "{missing:?}"
        );
        let directory = apply(
            "*** Begin Patch\n*** Delete File: dir\n*** End Patch",
            &source,
        )
        .unwrap_err();
        assert_eq!(
            directory.to_string(),
            "dir: cannot delete it: it is a directory"
        );
    }

    #[test]
    fn summary_lists_added_modified_and_deleted_paths() {
        let source = files(&[("b.txt", "b\n"), ("c.txt", "c\n")]);
        let changes = vec![
            write("b.txt", "B\n"),
            write("a.txt", "a\n"),
            delete("c.txt"),
        ];
        assert_eq!(
            summarize(&changes, &source),
            "Success. Updated the following files:\nA a.txt\nM b.txt\nD c.txt"
        );
    }
}
