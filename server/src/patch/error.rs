//! Why a patch was refused. Every message names the file and, where a patch line is to
//! blame, its line number and text, because the reader is often a model that must fix the
//! patch from the message alone.

use std::io;
use std::path::PathBuf;

/// Longest run of patch lines quoted in one message; a chunk can be hundreds of lines long.
const MAX_QUOTED_LINES: usize = 12;
/// Most match positions listed for an ambiguous chunk.
const MAX_LISTED_MATCHES: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The text does not follow the `*** Begin Patch` grammar.
    #[error("invalid patch at line {line}: {message}")]
    Syntax { line: usize, message: String },

    /// An `@@ <text>` line names nothing in the file (after the previous chunk).
    #[error(
        "{path}: could not find the `@@ {text}` line at patch line {line} in the file; \
         re-read the file and regenerate the patch"
    )]
    AnchorNotFound {
        path: String,
        line: usize,
        text: String,
    },

    /// A chunk's context and removed lines are not in the file (after the previous chunk).
    #[error(
        "{path}: could not find the context at patch line {line}:\n{}\n{}",
        quote(.lines),
        not_found_advice(*.earlier_in_file)
    )]
    ContextNotFound {
        path: String,
        line: usize,
        lines: Vec<String>,
        /// The lines do occur, but before the previous chunk of the same file.
        earlier_in_file: bool,
    },

    /// A chunk's context and removed lines match more than one place.
    #[error(
        "{path}: the context at patch line {line} is ambiguous: it matches {} places \
         (file lines {}):\n{}\nAdd more unchanged lines around the change, or an `@@` line \
         naming the enclosing function or class, so that it matches exactly one place.",
        .file_lines.len(),
        list_matches(.file_lines),
        quote(.lines)
    )]
    AmbiguousContext {
        path: String,
        line: usize,
        lines: Vec<String>,
        /// 1-based lines of the file where a match starts.
        file_lines: Vec<usize>,
    },

    /// An update or delete names a file that does not exist.
    #[error("{path}: cannot {action} it: no such file. {}", missing_file_advice(.action, .path))]
    MissingFile { path: String, action: &'static str },

    /// The path exists but cannot be edited as text (a directory, a binary file…).
    #[error("{path}: cannot {action} it: {reason}")]
    NotATextFile {
        path: String,
        action: &'static str,
        reason: String,
    },

    /// An absolute path outside the root, or one whose `..` or symlinks lead out of it.
    #[error(
        "{path}: refusing a path outside {}; use a path relative to that directory",
        .root.display()
    )]
    OutsideRoot { path: String, root: PathBuf },

    /// Reading or writing the disk failed; nothing was changed.
    #[error("{path}: could not {action}: {source}")]
    Io {
        path: String,
        action: &'static str,
        source: io::Error,
    },

    /// Writing failed part-way and putting back the files already written failed too.
    #[error(
        "{path}: could not {action}: {source}; the files already changed could not all be \
         restored, check them by hand: {}",
        .unrestored.join(", ")
    )]
    RollbackFailed {
        path: String,
        action: &'static str,
        source: io::Error,
        unrestored: Vec<String>,
    },
}

fn quote(lines: &[String]) -> String {
    let mut quoted: Vec<String> = lines
        .iter()
        .take(MAX_QUOTED_LINES)
        .map(|line| format!("  {line}"))
        .collect();
    if lines.len() > MAX_QUOTED_LINES {
        quoted.push(format!(
            "  … ({} more lines)",
            lines.len() - MAX_QUOTED_LINES
        ));
    }
    quoted.join("\n")
}

fn list_matches(file_lines: &[usize]) -> String {
    let mut listed: Vec<String> = file_lines
        .iter()
        .take(MAX_LISTED_MATCHES)
        .map(usize::to_string)
        .collect();
    if file_lines.len() > MAX_LISTED_MATCHES {
        listed.push("…".to_string());
    }
    listed.join(", ")
}

fn missing_file_advice(action: &str, path: &str) -> String {
    let check = "Check the path (list the directory)";
    if action == "update" {
        format!("{check}, or use `*** Add File: {path}` to create a new file.")
    } else {
        format!("{check}.")
    }
}

fn not_found_advice(earlier_in_file: bool) -> &'static str {
    if earlier_in_file {
        "These lines occur only before the previous chunk of this file: chunks must follow \
         the file's order. Reorder the chunks, or merge them."
    } else {
        "The file does not contain these lines (even ignoring whitespace differences). \
         Re-read the file and regenerate the patch."
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_not_found_names_file_line_and_quoted_context() {
        let error = PatchError::ContextNotFound {
            path: "path/x.rs".into(),
            line: 7,
            lines: vec!["fn foo() {".into(), "let a = 1;".into()],
            earlier_in_file: false,
        };
        let message = error.to_string();
        assert!(
            message.starts_with(
                "path/x.rs: could not find the context at patch line 7:\n  fn foo() {\n  let a = 1;\n"
            ),
            "{message}"
        );
        assert!(
            message.ends_with("Re-read the file and regenerate the patch."),
            "{message}"
        );
    }

    #[test]
    fn long_context_is_cut_with_a_count() {
        let lines: Vec<String> = (0..20).map(|i| format!("line {i}")).collect();
        let message = quote(&lines);
        assert_eq!(message.lines().count(), MAX_QUOTED_LINES + 1);
        assert!(message.ends_with("  … (8 more lines)"));
    }

    #[test]
    fn ambiguous_context_lists_where_it_matches() {
        let error = PatchError::AmbiguousContext {
            path: "a.txt".into(),
            line: 4,
            lines: vec!["x".into()],
            file_lines: vec![2, 9],
        };
        let message = error.to_string();
        assert!(
            message.contains("a.txt: the context at patch line 4 is ambiguous"),
            "{message}"
        );
        assert!(
            message.contains("matches 2 places (file lines 2, 9):\n  x\n"),
            "{message}"
        );
    }
}
