//! Reading unified diffs as real tools write them.
//!
//! Accepted: `git diff` / `git format-patch` (mail headers and commit messages before the
//! first file are skipped; `diff --git` extended headers: new/deleted files, modes, renames
//! and copies with similarity, `index` blob ids, binary markers; C-quoted paths), plain
//! `diff -u` / `diff -ruN` (timestamps after a tab, `-N`'s empty side standing for an absent
//! file), CRLF anywhere, and Codex's `*** Begin Patch` (converted to context-only hunks).
//! Paths lose their first component (`a/`, `b/`, `old/`), like `git apply -p1`.
//! Malformed input is an error naming the diff line, never a partial result.

use super::{FileOp, FilePatch, Hunk, HunkLine};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("diff line {line}: {message}")]
pub struct DiffError {
    pub line: usize,
    pub message: String,
}

fn error(line: usize, message: impl Into<String>) -> DiffError {
    DiffError {
        line,
        message: message.into(),
    }
}

/// Every file section of `text`, in order. A text without any is an error: importing
/// "nothing" is almost always a wrong file or an HTML error page.
pub fn parse_diff(text: &str) -> Result<Vec<FilePatch>, DiffError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if is_codex_patch(text) {
        return codex::convert(text);
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut reader = Reader { lines, at: 0 };
    let mut files = Vec::new();
    while let Some(line) = reader.peek() {
        let header = trim_eol(line);
        if header.starts_with("diff --git ") {
            files.push(reader.git_file()?);
        } else if header.starts_with("--- ")
            && reader.peek_at(1).is_some_and(|l| l.starts_with("+++ "))
        {
            files.push(reader.plain_file()?);
        } else if let Some(names) = binary_marker(header) {
            files.push(reader.plain_binary(names)?);
        } else if header.starts_with("@@ -") {
            return Err(error(
                reader.line_no(),
                "a hunk without a file header before it (`diff --git` or `---`/`+++` lines)",
            ));
        } else {
            reader.at += 1;
        }
    }
    if files.is_empty() {
        return Err(error(
            1,
            "no file changes found: expected a unified diff (`diff --git`, or `---`/`+++` \
             lines followed by `@@` hunks) or a `*** Begin Patch` patch",
        ));
    }
    Ok(files)
}

fn is_codex_patch(text: &str) -> bool {
    text.lines()
        .find(|line| !line.trim().is_empty())
        .is_some_and(|line| line.trim() == "*** Begin Patch")
}

fn trim_eol(line: &str) -> &str {
    line.trim_end_matches(['\n', '\r'])
}

struct Reader<'a> {
    lines: Vec<&'a str>,
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<&'a str> {
        self.lines.get(self.at).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<&'a str> {
        self.lines.get(self.at + ahead).copied()
    }

    /// 1-based number of the line at the cursor.
    fn line_no(&self) -> usize {
        self.at + 1
    }

    fn next_header(&mut self) -> Option<&'a str> {
        let line = self.peek()?;
        self.at += 1;
        Some(trim_eol(line))
    }

    /// A `diff --git` section: extended headers, then `---`/`+++` and hunks if any.
    fn git_file(&mut self) -> Result<FilePatch, DiffError> {
        let start = self.line_no();
        let header = self.next_header().unwrap_or_default();
        let (git_old, git_new) = git_header_names(&header["diff --git ".len()..]);
        let mut file = FilePatch::modify(git_old, git_new, start);
        let mut has_metadata = false;
        let mut similarity = None;
        while let Some(line) = self.peek().map(trim_eol) {
            if !self.extended_header(line, &mut file, &mut similarity)? {
                break;
            }
            has_metadata = true;
            self.at += 1;
        }
        if let FileOp::Rename { similarity: s } | FileOp::Copy { similarity: s } = &mut file.op {
            *s = similarity;
        }
        if file.binary {
            self.skip_binary_payload();
        } else if self.peek().is_some_and(|l| l.starts_with("--- "))
            && self.peek_at(1).is_some_and(|l| l.starts_with("+++ "))
        {
            let (old, new) = self.file_names()?;
            // Rename/copy headers name the files exactly; `---`/`+++` only confirm them.
            if !matches!(file.op, FileOp::Rename { .. } | FileOp::Copy { .. }) {
                (file.old_path, file.new_path) = (old, new);
            }
            file.hunks = self.hunks()?;
        } else if !has_metadata {
            return Err(match self.peek() {
                Some(line) if line.starts_with(['+', '-', ' ']) => error(
                    self.line_no(),
                    "a change line outside any hunk; a hunk starts with \
                     `@@ -start,count +start,count @@`",
                ),
                _ => error(start, "a `diff --git` header with no change after it"),
            });
        }
        finish_ops(&mut file);
        if file.old_path.is_none() && file.new_path.is_none() {
            return Err(error(
                start,
                "cannot tell which file this section changes; quote paths with spaces as git does",
            ));
        }
        Ok(file)
    }

    /// Applies one extended header line to `file`; false when `line` is not one.
    fn extended_header(
        &self,
        line: &str,
        file: &mut FilePatch,
        similarity: &mut Option<u8>,
    ) -> Result<bool, DiffError> {
        let at = self.line_no();
        if let Some(mode) = line.strip_prefix("old mode ") {
            file.old_mode = Some(mode.trim().to_string());
        } else if let Some(mode) = line.strip_prefix("new mode ") {
            file.new_mode = Some(mode.trim().to_string());
        } else if let Some(mode) = line.strip_prefix("deleted file mode ") {
            file.op = FileOp::Delete;
            file.old_mode = Some(mode.trim().to_string());
            file.new_path = None;
        } else if let Some(mode) = line.strip_prefix("new file mode ") {
            file.op = FileOp::Create;
            file.new_mode = Some(mode.trim().to_string());
            file.old_path = None;
        } else if let Some(path) = line.strip_prefix("rename from ") {
            file.op = FileOp::Rename { similarity: None };
            file.old_path = Some(exact_name(path, at)?);
        } else if let Some(path) = line.strip_prefix("rename to ") {
            file.new_path = Some(exact_name(path, at)?);
        } else if let Some(path) = line.strip_prefix("copy from ") {
            file.op = FileOp::Copy { similarity: None };
            file.old_path = Some(exact_name(path, at)?);
        } else if let Some(path) = line.strip_prefix("copy to ") {
            file.new_path = Some(exact_name(path, at)?);
        } else if let Some(value) = line.strip_prefix("similarity index ") {
            // Git writes it before the rename/copy lines it qualifies.
            *similarity = value.trim_end_matches('%').parse().ok();
        } else if line.starts_with("dissimilarity index ") {
        } else if let Some(ids) = line.strip_prefix("index ") {
            let (range, mode) = ids.split_once(' ').unwrap_or((ids, ""));
            let old = range.split_once("..").map(|(old, _)| old);
            file.old_blob = old.filter(|id| !is_null_blob(id)).map(str::to_string);
            if !mode.is_empty() {
                file.old_mode.get_or_insert_with(|| mode.to_string());
                file.new_mode.get_or_insert_with(|| mode.to_string());
            }
        } else if line == "GIT binary patch" || binary_marker(line).is_some() {
            file.binary = true;
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    /// A git binary payload runs until the next file section.
    fn skip_binary_payload(&mut self) {
        while let Some(line) = self.peek() {
            if line.starts_with("diff --git ") {
                break;
            }
            self.at += 1;
        }
    }

    /// A `---`/`+++` section of `diff -u`/`diff -ruN`.
    fn plain_file(&mut self) -> Result<FilePatch, DiffError> {
        let start = self.line_no();
        let (old, new) = self.file_names()?;
        let hunks = self.hunks()?;
        // A plain diff names two versions of one file; the new name is the one to patch
        // (`diff -u foo.orig foo` patches `foo`).
        let mut file = FilePatch::modify(new.clone().or(old.clone()), new.or(old), start);
        file.hunks = hunks;
        // `diff -N` shows an absent file as an empty one.
        match file.hunks.as_slice() {
            [only] if only.old_start == Some(0) && only.old_len() == 0 => {
                file.op = FileOp::Create;
                file.old_path = None;
            }
            [only] if only.new_start == Some(0) && only.new_lines().count() == 0 => {
                file.op = FileOp::Delete;
                file.new_path = None;
            }
            _ => {}
        }
        Ok(file)
    }

    /// `diff -r`'s `Binary files X and Y differ`.
    fn plain_binary(&mut self, (old, new): (String, String)) -> Result<FilePatch, DiffError> {
        let start = self.line_no();
        self.at += 1;
        let new = strip_prefix_component(&new).or_else(|| strip_prefix_component(&old));
        Ok(FilePatch {
            binary: true,
            ..FilePatch::modify(new.clone(), new, start)
        })
    }

    /// The `---` and `+++` lines; `/dev/null` reads as `None`.
    fn file_names(&mut self) -> Result<(Option<String>, Option<String>), DiffError> {
        let old_at = self.line_no();
        let old = self.next_header().unwrap_or_default();
        let new = self.next_header().unwrap_or_default();
        let old = diff_name(&old[4..], old_at)?;
        let new = diff_name(&new[4..], old_at + 1)?;
        Ok((old, new))
    }

    fn hunks(&mut self) -> Result<Vec<Hunk>, DiffError> {
        let mut hunks = Vec::new();
        while self.peek().is_some_and(|l| l.starts_with("@@ -")) {
            hunks.push(self.hunk()?);
        }
        Ok(hunks)
    }

    /// One `@@ -a,b +c,d @@` hunk, read by its counts.
    fn hunk(&mut self) -> Result<Hunk, DiffError> {
        let header_at = self.line_no();
        let header = self.next_header().unwrap_or_default();
        let (old_start, mut old_left, new_start, mut new_left) = hunk_header(header)
            .ok_or_else(|| {
                error(
                    header_at,
                    format!("malformed hunk header `{header}`; expected `@@ -start,count +start,count @@`"),
                )
            })?;
        let mut lines = Vec::new();
        while old_left > 0 || new_left > 0 {
            let Some(raw) = self.peek() else {
                return Err(truncated(header_at, self.line_no(), old_left, new_left));
            };
            let body = match raw.get(1..) {
                Some(body) if !body.is_empty() => body,
                // A blank line is an empty context line whose space an editor trimmed.
                _ if trim_eol(raw).is_empty() => raw,
                _ => "",
            };
            let body = with_newline(body);
            let line = match raw.as_bytes().first() {
                Some(b' ') => HunkLine::Context(body),
                _ if trim_eol(raw).is_empty() => HunkLine::Context(body),
                Some(b'-') => HunkLine::Removed(body),
                Some(b'+') => HunkLine::Added(body),
                Some(b'\\') => {
                    self.at += 1;
                    strip_last_newline(&mut lines);
                    continue;
                }
                _ => return Err(truncated(header_at, self.line_no(), old_left, new_left)),
            };
            let (takes_old, takes_new) = match line {
                HunkLine::Context(_) => (1, 1),
                HunkLine::Removed(_) => (1, 0),
                HunkLine::Added(_) => (0, 1),
            };
            if old_left < takes_old || new_left < takes_new {
                return Err(error(
                    self.line_no(),
                    format!("more lines than the hunk header at line {header_at} counts"),
                ));
            }
            old_left -= takes_old;
            new_left -= takes_new;
            lines.push(line);
            self.at += 1;
        }
        if self.peek().is_some_and(|l| l.starts_with('\\')) {
            self.at += 1;
            strip_last_newline(&mut lines);
        }
        Ok(Hunk {
            old_start: Some(old_start),
            new_start: Some(new_start),
            anchors: Vec::new(),
            at_end: false,
            lines,
            line: header_at,
        })
    }
}

fn truncated(header_at: usize, at: usize, old_left: usize, new_left: usize) -> DiffError {
    error(
        at,
        format!(
            "the hunk at line {header_at} ends early: {old_left} old and {new_left} new lines \
             are still missing (each hunk line starts with ' ', '-' or '+')"
        ),
    )
}

/// Diff lines always end with a newline, except a last line some tool stripped: the
/// `\ No newline` marker is what takes a newline away.
fn with_newline(body: &str) -> String {
    if body.ends_with('\n') {
        body.to_string()
    } else {
        format!("{body}\n")
    }
}

fn strip_last_newline(lines: &mut [HunkLine]) {
    if let Some(HunkLine::Context(text) | HunkLine::Removed(text) | HunkLine::Added(text)) =
        lines.last_mut()
        && text.ends_with('\n')
    {
        text.pop();
    }
}

/// `-a[,b] +c[,d]` of `@@ -a,b +c,d @@ section`; a missing count is 1.
fn hunk_header(header: &str) -> Option<(usize, usize, usize, usize)> {
    let rest = header.strip_prefix("@@ -")?;
    let (ranges, _) = rest.split_once(" @@")?;
    let (old, new) = ranges.split_once(" +")?;
    let range = |text: &str| -> Option<(usize, usize)> {
        match text.split_once(',') {
            Some((start, count)) => Some((start.parse().ok()?, count.parse().ok()?)),
            None => Some((text.parse().ok()?, 1)),
        }
    };
    let (old_start, old_count) = range(old)?;
    let (new_start, new_count) = range(new)?;
    Some((old_start, old_count, new_start, new_count))
}

/// A `---`/`+++` name: quoted or up to a tab (timestamps follow it), prefix stripped.
fn diff_name(text: &str, line: usize) -> Result<Option<String>, DiffError> {
    let name = if text.starts_with('"') {
        unquote(text).ok_or_else(|| error(line, format!("malformed quoted path `{text}`")))?
    } else {
        text.split('\t').next().unwrap_or_default().to_string()
    };
    if name == "/dev/null" {
        return Ok(None);
    }
    Ok(strip_prefix_component(&name))
}

/// A name from `rename from`/`copy to` lines: exact, no prefix to strip.
fn exact_name(text: &str, line: usize) -> Result<String, DiffError> {
    if text.starts_with('"') {
        unquote(text).ok_or_else(|| error(line, format!("malformed quoted path `{text}`")))
    } else {
        Ok(text.to_string())
    }
}

/// Drops the first path component, like `git apply -p1`; a bare name stays as it is.
fn strip_prefix_component(name: &str) -> Option<String> {
    let name = name.trim_end();
    if name.is_empty() {
        return None;
    }
    Some(match name.split_once('/') {
        Some((_, rest)) if !rest.is_empty() => rest.to_string(),
        _ => name.to_string(),
    })
}

/// The two names of `diff --git A B`. Unquoted names may contain spaces, so the split
/// is the one where both sides name the same file (a rename names its files in later
/// headers, so a guess that fails here is harmless).
fn git_header_names(rest: &str) -> (Option<String>, Option<String>) {
    if rest.starts_with('"') {
        let Some(end) = closing_quote(rest) else {
            return (None, None);
        };
        let (first, second) = rest.split_at(end + 1);
        let second = second.trim_start();
        let second = if second.starts_with('"') {
            unquote(second)
        } else {
            Some(second.to_string())
        };
        let strip = |name: Option<String>| name.as_deref().and_then(strip_prefix_component);
        return (strip(unquote(first)), strip(second));
    }
    if let Some(end) = rest.find(" \"") {
        let second = unquote(&rest[end + 1..]);
        return (
            strip_prefix_component(&rest[..end]),
            second.as_deref().and_then(strip_prefix_component),
        );
    }
    let splits = rest.match_indices(' ').map(|(i, _)| i);
    for split in splits {
        let (old, new) = (&rest[..split], &rest[split + 1..]);
        let (old, new) = (strip_prefix_component(old), strip_prefix_component(new));
        if old.is_some() && old == new {
            return (old, new);
        }
    }
    (None, None)
}

fn closing_quote(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Git's C-style quoting: `\t`, `\n`, `\"`, `\\` and octal bytes (`\303\251` is `é`).
fn unquote(text: &str) -> Option<String> {
    let end = closing_quote(text)?;
    let inner = &text.as_bytes()[1..end];
    let mut bytes = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        if inner[i] != b'\\' {
            bytes.push(inner[i]);
            i += 1;
            continue;
        }
        let escaped = *inner.get(i + 1)?;
        let (byte, used) = match escaped {
            b'a' => (0x07, 2),
            b'b' => (0x08, 2),
            b't' => (b'\t', 2),
            b'n' => (b'\n', 2),
            b'v' => (0x0b, 2),
            b'f' => (0x0c, 2),
            b'r' => (b'\r', 2),
            b'0'..=b'3' => {
                let digits = std::str::from_utf8(inner.get(i + 1..i + 4)?).ok()?;
                (u8::from_str_radix(digits, 8).ok()?, 4)
            }
            other => (other, 2),
        };
        bytes.push(byte);
        i += used;
    }
    String::from_utf8(bytes).ok()
}

fn is_null_blob(id: &str) -> bool {
    id.bytes().all(|b| b == b'0')
}

/// The names in `Binary files X and Y differ`.
fn binary_marker(line: &str) -> Option<(String, String)> {
    let names = line
        .strip_prefix("Binary files ")?
        .strip_suffix(" differ")?;
    let (old, new) = names.split_once(" and ")?;
    let name = |n: &str| {
        if n.starts_with('"') {
            unquote(n).unwrap_or_else(|| n.to_string())
        } else {
            n.to_string()
        }
    };
    Some((name(old), name(new)))
}

/// Settles what the headers left implicit: a section with both paths equal and no
/// rename header is a modification; a rename to the same name is one too.
fn finish_ops(file: &mut FilePatch) {
    if let FileOp::Rename { .. } = file.op
        && file.old_path == file.new_path
    {
        file.op = FileOp::Modify;
    }
    if file.op == FileOp::Modify {
        match (&file.old_path, &file.new_path) {
            (None, Some(_)) => file.op = FileOp::Create,
            (Some(_), None) => file.op = FileOp::Delete,
            _ => {}
        }
    }
}

/// Codex's `*** Begin Patch` grammar, parsed by [`crate::patch`] and restated as hunks
/// without line numbers.
mod codex {
    use super::{DiffError, FileOp, FilePatch, Hunk, HunkLine};
    use crate::patch::{ChunkLine, FileHunk, PatchError, parse_patch};

    pub(super) fn convert(text: &str) -> Result<Vec<FilePatch>, DiffError> {
        let patch = parse_patch(text).map_err(|e| match e {
            PatchError::Syntax { line, message } => DiffError { line, message },
            other => DiffError {
                line: 1,
                message: other.to_string(),
            },
        })?;
        Ok(patch.hunks.into_iter().map(file).collect())
    }

    fn file(hunk: FileHunk) -> FilePatch {
        let mut file = FilePatch::modify(None, None, 1);
        match hunk {
            FileHunk::Add { path, contents } => {
                file.op = FileOp::Create;
                file.new_path = Some(path);
                file.hunks.push(Hunk {
                    old_start: Some(0),
                    new_start: Some(1),
                    anchors: Vec::new(),
                    at_end: false,
                    lines: contents
                        .split_inclusive('\n')
                        .map(|l| HunkLine::Added(l.to_string()))
                        .collect(),
                    line: 1,
                });
            }
            FileHunk::Delete { path } => {
                file.op = FileOp::Delete;
                file.old_path = Some(path);
            }
            FileHunk::Update {
                path,
                move_to,
                chunks,
            } => {
                file.op = match &move_to {
                    Some(to) if *to != path => FileOp::Rename { similarity: None },
                    _ => FileOp::Modify,
                };
                file.new_path = Some(move_to.unwrap_or_else(|| path.clone()));
                file.old_path = Some(path);
                file.hunks = chunks
                    .into_iter()
                    .map(|chunk| Hunk {
                        old_start: None,
                        new_start: None,
                        anchors: chunk.anchors.into_iter().map(|a| a.text).collect(),
                        at_end: chunk.at_end_of_file,
                        lines: chunk.lines.into_iter().map(line).collect(),
                        line: chunk.line,
                    })
                    .collect();
            }
        }
        file
    }

    fn line(line: ChunkLine) -> HunkLine {
        match line {
            ChunkLine::Context(text) => HunkLine::Context(text + "\n"),
            ChunkLine::Removed(text) => HunkLine::Removed(text + "\n"),
            ChunkLine::Added(text) => HunkLine::Added(text + "\n"),
        }
    }
}

#[cfg(test)]
mod tests;
