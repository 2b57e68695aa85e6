//! Patch text → [`Patch`].
//!
//! As lenient as Codex, because models trained on it rely on that: markers and file headers
//! may carry surrounding whitespace, the whole patch may be wrapped in a shell heredoc
//! (`<<'EOF'` … `EOF`), and an update's first chunk may omit its `@@` line. Two liberties
//! Codex's parser does not take: several `@@ <text>` lines may be stacked in front of one
//! chunk (Codex's own prompt tells models to write that), and a patch without any file
//! operation is refused here rather than when applied. Line numbers in errors count lines
//! of the text as given, heredoc wrapper included.

use super::{Anchor, ChunkLine, FileHunk, Patch, PatchError, UpdateChunk};

pub(crate) const BEGIN_PATCH: &str = "*** Begin Patch";
pub(crate) const END_PATCH: &str = "*** End Patch";
pub(crate) const ADD_FILE: &str = "*** Add File:";
pub(crate) const DELETE_FILE: &str = "*** Delete File:";
pub(crate) const UPDATE_FILE: &str = "*** Update File:";
pub(crate) const MOVE_TO: &str = "*** Move to:";
const END_OF_FILE: &str = "*** End of File";
const BARE_CHUNK_HEADER: &str = "@@";
pub(crate) const CHUNK_HEADER_PREFIX: &str = "@@ ";
const HEREDOC_OPENERS: [&str; 3] = ["<<EOF", "<<'EOF'", "<<\"EOF\""];
const HEREDOC_CLOSER: &str = "EOF";

/// A line of the patch text with its 1-based line number.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    number: usize,
    text: &'a str,
}

/// Parses `*** Begin Patch` … `*** End Patch` text; see the module docs for what is tolerated.
pub fn parse_patch(text: &str) -> Result<Patch, PatchError> {
    let lines: Vec<Line> = text
        .lines()
        .enumerate()
        .map(|(index, text)| Line {
            number: index + 1,
            text,
        })
        .collect();
    let body = strip_envelope(trim_blank_edges(&lines))?;
    let hunks = parse_hunks(body)?;
    if hunks.is_empty() {
        return Err(syntax(
            body.first().map_or(2, |line| line.number),
            "the patch contains no file operation; add an `*** Add File:`, `*** Delete File:` \
             or `*** Update File:` section",
        ));
    }
    Ok(Patch { hunks })
}

fn syntax(line: usize, message: impl Into<String>) -> PatchError {
    PatchError::Syntax {
        line,
        message: message.into(),
    }
}

fn trim_blank_edges<'s, 'a>(lines: &'s [Line<'a>]) -> &'s [Line<'a>] {
    let is_blank = |line: &Line| line.text.trim().is_empty();
    let start = lines.iter().position(|line| !is_blank(line));
    let end = lines.iter().rposition(|line| !is_blank(line));
    match (start, end) {
        (Some(start), Some(end)) => &lines[start..=end],
        _ => &[],
    }
}

/// The lines between `*** Begin Patch` and `*** End Patch`, looking inside a heredoc
/// wrapper when the markers are not the outermost lines.
fn strip_envelope<'s, 'a>(lines: &'s [Line<'a>]) -> Result<&'s [Line<'a>], PatchError> {
    strip_markers(lines).or_else(|error| match heredoc_contents(lines) {
        Some(inner) => strip_markers(inner),
        None => Err(error),
    })
}

fn strip_markers<'s, 'a>(lines: &'s [Line<'a>]) -> Result<&'s [Line<'a>], PatchError> {
    let Some(first) = lines.first() else {
        return Err(syntax(
            1,
            "the patch is empty; it must start with `*** Begin Patch`",
        ));
    };
    if first.text.trim() != BEGIN_PATCH {
        return Err(syntax(
            first.number,
            format!(
                "the first line must be `{BEGIN_PATCH}`, found `{}`",
                first.text
            ),
        ));
    }
    match lines {
        [_, body @ .., last] if last.text.trim() == END_PATCH => Ok(body),
        _ => {
            let last = lines.last().unwrap_or(first);
            Err(syntax(
                last.number,
                format!("the last line must be `{END_PATCH}`, found `{}`", last.text),
            ))
        }
    }
}

fn heredoc_contents<'s, 'a>(lines: &'s [Line<'a>]) -> Option<&'s [Line<'a>]> {
    match lines {
        [first, inner @ .., last]
            if HEREDOC_OPENERS.contains(&first.text.trim())
                && last.text.trim_end().ends_with(HEREDOC_CLOSER) =>
        {
            Some(trim_blank_edges(inner))
        }
        _ => None,
    }
}

fn parse_hunks(mut rest: &[Line]) -> Result<Vec<FileHunk>, PatchError> {
    let mut hunks = Vec::new();
    while let Some(line) = rest.first() {
        if line.text.trim().is_empty() {
            rest = &rest[1..];
            continue;
        }
        hunks.push(parse_hunk(&mut rest)?);
    }
    Ok(hunks)
}

/// Parses the file operation whose header is `rest[0]`, advancing `rest` past it.
fn parse_hunk(rest: &mut &[Line]) -> Result<FileHunk, PatchError> {
    let header = rest[0];
    *rest = &rest[1..];
    let trimmed = header.text.trim();
    if let Some(path) = trimmed.strip_prefix(ADD_FILE) {
        let path = header_path(path, header)?;
        Ok(FileHunk::Add {
            path,
            contents: take_added_lines(rest),
        })
    } else if let Some(path) = trimmed.strip_prefix(DELETE_FILE) {
        Ok(FileHunk::Delete {
            path: header_path(path, header)?,
        })
    } else if let Some(path) = trimmed.strip_prefix(UPDATE_FILE) {
        let path = header_path(path, header)?;
        let move_to = take_move_to(rest)?;
        let chunks = parse_chunks(rest)?;
        if chunks.is_empty() {
            return Err(syntax(
                header.number,
                format!(
                    "`{UPDATE_FILE} {path}` has no changes; give it `@@` chunks of ` `, `-` \
                     and `+` lines, or remove it"
                ),
            ));
        }
        Ok(FileHunk::Update {
            path,
            move_to,
            chunks,
        })
    } else {
        Err(syntax(
            header.number,
            format!(
                "`{trimmed}` is not a valid file operation; expected `{ADD_FILE} <path>`, \
                 `{DELETE_FILE} <path>` or `{UPDATE_FILE} <path>`"
            ),
        ))
    }
}

fn header_path(after_marker: &str, header: Line) -> Result<String, PatchError> {
    let path = after_marker.trim();
    if path.is_empty() {
        return Err(syntax(
            header.number,
            format!("`{}` names no file", header.text.trim()),
        ));
    }
    Ok(path.to_string())
}

/// The contents of an added file: its `+` lines, each ending with a newline.
fn take_added_lines(rest: &mut &[Line]) -> String {
    let mut contents = String::new();
    while let Some(added) = rest.first().and_then(|line| line.text.strip_prefix('+')) {
        contents.push_str(added);
        contents.push('\n');
        *rest = &rest[1..];
    }
    contents
}

fn take_move_to(rest: &mut &[Line]) -> Result<Option<String>, PatchError> {
    let Some(&line) = rest.first() else {
        return Ok(None);
    };
    let Some(path) = line.text.trim().strip_prefix(MOVE_TO) else {
        return Ok(None);
    };
    *rest = &rest[1..];
    header_path(path, line).map(Some)
}

/// The chunks of one update, up to the next line starting with `*` (the next file
/// operation; the end of the body otherwise).
fn parse_chunks(rest: &mut &[Line]) -> Result<Vec<UpdateChunk>, PatchError> {
    let mut chunks = Vec::new();
    while let Some(line) = rest.first() {
        if line.text.trim().is_empty() {
            *rest = &rest[1..];
        } else if line.text.starts_with('*') {
            break;
        } else {
            let chunk = parse_chunk(rest, chunks.is_empty())?;
            chunks.push(chunk);
        }
    }
    Ok(chunks)
}

fn parse_chunk(rest: &mut &[Line], is_first: bool) -> Result<UpdateChunk, PatchError> {
    let (anchors, header_line) = take_chunk_headers(rest);
    let Some(&first) = rest.first() else {
        return Err(empty_chunk(header_line.unwrap_or(1)));
    };
    if header_line.is_none() && !is_first {
        return Err(not_a_patch_line(first));
    }
    let mut chunk = UpdateChunk {
        anchors,
        lines: Vec::new(),
        at_end_of_file: false,
        line: first.number,
    };
    let mut body_lines = 0;
    while let Some(&line) = rest.first() {
        if line.text.trim_end() == END_OF_FILE {
            if body_lines == 0 {
                return Err(empty_chunk(line.number));
            }
            chunk.at_end_of_file = true;
            *rest = &rest[1..];
            break;
        }
        if !push_body_line(&mut chunk, line.text) {
            break;
        }
        body_lines += 1;
        *rest = &rest[1..];
    }
    if body_lines == 0 {
        return Err(match header_line {
            Some(header) if first.text.starts_with('*') => empty_chunk(header),
            _ => not_a_patch_line(first),
        });
    }
    Ok(chunk)
}

/// Consumes the `@@` lines in front of a chunk; returns their anchors and the last one's
/// line number (`None` when the chunk has no header).
fn take_chunk_headers(rest: &mut &[Line]) -> (Vec<Anchor>, Option<usize>) {
    let mut anchors = Vec::new();
    let mut header_line = None;
    while let Some(&line) = rest.first() {
        let text = line.text.trim_end();
        if let Some(anchor) = text.strip_prefix(CHUNK_HEADER_PREFIX) {
            anchors.push(Anchor {
                text: anchor.to_string(),
                line: line.number,
            });
        } else if text != BARE_CHUNK_HEADER {
            break;
        }
        header_line = Some(line.number);
        *rest = &rest[1..];
    }
    (anchors, header_line)
}

/// Adds a ` `, `-` or `+` line to the chunk; false when the line is none of those, i.e. the
/// chunk has ended. A blank line counts as an empty context line: editors and models drop
/// the lone space of an empty context line.
fn push_body_line(chunk: &mut UpdateChunk, text: &str) -> bool {
    if text.trim().is_empty() && !text.starts_with(' ') {
        chunk.lines.push(ChunkLine::Context(String::new()));
        return true;
    }
    let mut chars = text.chars();
    let marker = chars.next();
    let content = chars.as_str().to_string();
    chunk.lines.push(match marker {
        Some(' ') => ChunkLine::Context(content),
        Some('-') => ChunkLine::Removed(content),
        Some('+') => ChunkLine::Added(content),
        _ => return false,
    });
    true
}

fn empty_chunk(line: usize) -> PatchError {
    syntax(
        line,
        "this `@@` chunk has no lines; follow it with ` ` (context), `-` (removed) or `+` \
         (added) lines, or remove it",
    )
}

fn not_a_patch_line(line: Line) -> PatchError {
    syntax(
        line.number,
        format!(
            "`{}` is not a patch line: in an update, lines start with ` ` (context), `-` \
             (removed) or `+` (added), and a new chunk starts with `@@`",
            line.text
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_error(text: &str) -> (usize, String) {
        match parse_patch(text) {
            Err(PatchError::Syntax { line, message }) => (line, message),
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    fn old_lines(chunk: &UpdateChunk) -> Vec<&str> {
        chunk.old_lines().collect()
    }

    #[test]
    fn parses_every_operation() {
        let patch = parse_patch(
            "*** Begin Patch\n\
             *** Add File: a/new.txt\n\
             +one\n\
             +two\n\
             *** Delete File: old.txt\n\
             *** Update File: src/x.rs\n\
             *** Move to: src/y.rs\n\
             @@ fn main() {\n \
             let a = 1;\n\
             -let b = 2;\n\
             +let b = 3;\n\
             *** End of File\n\
             *** End Patch\n",
        )
        .unwrap();
        assert_eq!(
            patch.hunks,
            vec![
                FileHunk::Add {
                    path: "a/new.txt".into(),
                    contents: "one\ntwo\n".into()
                },
                FileHunk::Delete {
                    path: "old.txt".into()
                },
                FileHunk::Update {
                    path: "src/x.rs".into(),
                    move_to: Some("src/y.rs".into()),
                    chunks: vec![UpdateChunk {
                        anchors: vec![Anchor {
                            text: "fn main() {".into(),
                            line: 8
                        }],
                        lines: vec![
                            ChunkLine::Context("let a = 1;".into()),
                            ChunkLine::Removed("let b = 2;".into()),
                            ChunkLine::Added("let b = 3;".into()),
                        ],
                        at_end_of_file: true,
                        line: 9,
                    }],
                },
            ]
        );
    }

    #[test]
    fn first_chunk_may_omit_its_header_and_later_ones_are_split_by_headers() {
        let patch = parse_patch(
            "*** Begin Patch\n*** Update File: f\n a\n-b\n+c\n@@\n-d\n\n@@ e\n+f\n*** End Patch",
        )
        .unwrap();
        let FileHunk::Update { chunks, .. } = &patch.hunks[0] else {
            panic!("expected an update: {patch:?}");
        };
        assert_eq!(chunks.len(), 3);
        assert_eq!(old_lines(&chunks[0]), ["a", "b"]);
        assert!(chunks[0].anchors.is_empty());
        // An empty line inside a chunk is an empty context line.
        assert_eq!(old_lines(&chunks[1]), ["d", ""]);
        assert_eq!(chunks[2].anchors[0].text, "e");
        assert_eq!(chunks[2].line, 10);
    }

    #[test]
    fn stacked_headers_all_become_anchors() {
        let patch = parse_patch(
            "*** Begin Patch\n*** Update File: f.py\n@@ class A\n@@     def m(self):\n-x\n+y\n*** End Patch",
        )
        .unwrap();
        let FileHunk::Update { chunks, .. } = &patch.hunks[0] else {
            panic!("expected an update: {patch:?}");
        };
        let anchors: Vec<&str> = chunks[0].anchors.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(anchors, ["class A", "    def m(self):"]);
    }

    #[test]
    fn tolerates_padding_blank_edges_and_crlf() {
        let patch = parse_patch(
            "\n\n  *** Begin Patch \r\n   *** Add File:  x.txt  \r\n+hi\r\n\r\n *** End Patch\r\n\n",
        )
        .unwrap();
        assert_eq!(
            patch.hunks,
            vec![FileHunk::Add {
                path: "x.txt".into(),
                contents: "hi\n".into()
            }]
        );
    }

    #[test]
    fn accepts_heredoc_wrapped_patches() {
        for opener in HEREDOC_OPENERS {
            let text =
                format!("{opener}\n*** Begin Patch\n*** Delete File: gone\n*** End Patch\nEOF\n");
            let patch = parse_patch(&text).unwrap();
            assert_eq!(
                patch.hunks,
                vec![FileHunk::Delete {
                    path: "gone".into()
                }]
            );
        }
    }

    #[test]
    fn heredoc_line_counts_in_line_numbers() {
        let (line, _) =
            parse_error("<<'EOF'\n*** Begin Patch\n*** Frobnicate: x\n*** End Patch\nEOF");
        assert_eq!(line, 3);
    }

    #[test]
    fn add_file_without_lines_is_an_empty_file() {
        let patch = parse_patch("*** Begin Patch\n*** Add File: empty\n*** End Patch").unwrap();
        assert_eq!(
            patch.hunks,
            vec![FileHunk::Add {
                path: "empty".into(),
                contents: String::new()
            }]
        );
    }

    #[test]
    fn rejects_an_empty_patch() {
        let (line, message) = parse_error("*** Begin Patch\n*** End Patch\n");
        assert_eq!(line, 2);
        assert!(message.contains("no file operation"), "{message}");
        let (_, message) = parse_error("   \n");
        assert!(message.contains("the patch is empty"), "{message}");
    }

    #[test]
    fn rejects_missing_markers() {
        let (line, message) = parse_error("*** Add File: x\n+a\n*** End Patch");
        assert_eq!(line, 1);
        assert!(
            message.contains("first line must be `*** Begin Patch`"),
            "{message}"
        );
        let (line, message) = parse_error("*** Begin Patch\n*** Add File: x\n+a\n");
        assert_eq!(line, 3);
        assert!(
            message.contains("last line must be `*** End Patch`"),
            "{message}"
        );
    }

    #[test]
    fn rejects_an_invalid_file_operation_with_its_line() {
        let (line, message) = parse_error(
            "*** Begin Patch\n*** Add File: a\n+x\n*** Frobnicate File: foo\n*** End Patch",
        );
        assert_eq!(line, 4);
        assert!(
            message.starts_with("`*** Frobnicate File: foo` is not a valid file operation"),
            "{message}"
        );
    }

    #[test]
    fn rejects_an_update_without_chunks() {
        let (line, message) =
            parse_error("*** Begin Patch\n*** Update File: foo.txt\n*** End Patch");
        assert_eq!(line, 2);
        assert!(
            message.contains("`*** Update File: foo.txt` has no changes"),
            "{message}"
        );
    }

    #[test]
    fn rejects_a_header_without_lines() {
        let (line, message) = parse_error(
            "*** Begin Patch\n*** Update File: f\n@@ fn a\n*** Delete File: g\n*** End Patch",
        );
        assert_eq!(line, 3);
        assert!(message.contains("chunk has no lines"), "{message}");
    }

    #[test]
    fn rejects_a_line_without_a_diff_marker() {
        let (line, message) =
            parse_error("*** Begin Patch\n*** Update File: f\n@@\n-a\n+b\nstray\n*** End Patch");
        assert_eq!(line, 6);
        assert!(
            message.starts_with("`stray` is not a patch line"),
            "{message}"
        );
    }

    #[test]
    fn rejects_a_header_without_a_path() {
        let (line, message) = parse_error("*** Begin Patch\n*** Delete File:  \n*** End Patch");
        assert_eq!(line, 2);
        assert!(message.contains("names no file"), "{message}");
    }
}
