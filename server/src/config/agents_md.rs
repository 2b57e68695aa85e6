//! AGENTS.md discovery: the standing instructions given to the model with every task.
//!
//! The global file in `$AGENTLS_HOME` comes first, then one file per directory from the
//! project root down to the task's cwd, so that the most specific guidance comes last and
//! wins. The total is capped because it is paid for in every request's context window.

use std::io;
use std::path::{Path, PathBuf};

use super::Config;

const OVERRIDE_FILENAME: &str = "AGENTS.override.md";
const DEFAULT_FILENAME: &str = "AGENTS.md";

/// The project docs for a task running in `cwd`, each under a header naming its path, or
/// `None` when there are none (or `project_doc_max_bytes` is 0).
pub fn project_docs(config: &Config, home: &Path, cwd: &Path) -> io::Result<Option<String>> {
    if config.project_doc_max_bytes == 0 {
        return Ok(None);
    }
    let mut docs = Docs::new(config.project_doc_max_bytes);
    // The global directory takes no fallbacks: it is ours, so its names are never foreign.
    if let Some(path) = instruction_file(home, &[OVERRIDE_FILENAME, DEFAULT_FILENAME])? {
        docs.push(&path)?;
    }
    let names: Vec<&str> = [OVERRIDE_FILENAME, DEFAULT_FILENAME]
        .into_iter()
        .chain(
            config
                .project_doc_fallback_filenames
                .iter()
                .map(String::as_str),
        )
        .collect();
    for dir in dirs_from_root(cwd) {
        if docs.is_truncated() {
            break;
        }
        if let Some(path) = instruction_file(dir, &names)? {
            docs.push(&path)?;
        }
    }
    Ok(docs.finish())
}

/// The nearest ancestor of `cwd` (itself included) that holds `.git` (a directory, or a
/// file in worktrees and submodules); `cwd` itself outside a repository.
pub fn project_root(cwd: &Path) -> &Path {
    cwd.ancestors()
        .find(|dir| dir.join(".git").exists())
        .unwrap_or(cwd)
}

/// Every directory from the project root down to `cwd`: project root first, `cwd` last.
pub fn dirs_from_root(cwd: &Path) -> Vec<&Path> {
    let root = project_root(cwd);
    let mut dirs: Vec<&Path> = cwd.ancestors().take_while(|dir| *dir != root).collect();
    dirs.push(root);
    dirs.reverse();
    dirs
}

/// The first of `names` that is a file in `dir`. Only one file per directory counts, so an
/// empty `AGENTS.override.md` silences that directory's `AGENTS.md`.
fn instruction_file(dir: &Path, names: &[&str]) -> io::Result<Option<PathBuf>> {
    for name in names {
        let path = dir.join(name);
        match std::fs::metadata(&path) {
            Ok(metadata) if metadata.is_file() => return Ok(Some(path)),
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
    }
    Ok(None)
}

/// The concatenated docs and what is left of the byte budget (file contents only; the
/// headers are ours and not counted).
struct Docs {
    max_bytes: usize,
    remaining: usize,
    text: String,
    truncated: bool,
}

impl Docs {
    fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            remaining: max_bytes,
            text: String::new(),
            truncated: false,
        }
    }

    /// Once a file has been cut, deeper files would only be cut to nothing.
    fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Appends one file, cut to what is left of the budget. Whitespace at the end is not
    /// content, so it neither costs budget nor counts as something cut off.
    fn push(&mut self, path: &Path) -> io::Result<()> {
        let bytes = std::fs::read(path)?;
        let content = String::from_utf8_lossy(&bytes);
        let content = content.trim_end();
        if content.trim_start().is_empty() {
            return Ok(());
        }
        let kept = &content[..content.floor_char_boundary(self.remaining)];
        self.truncated = kept.len() < content.len();
        self.remaining -= kept.len();
        if kept.is_empty() {
            return Ok(());
        }
        if !self.text.is_empty() {
            self.text.push_str("\n\n");
        }
        self.text
            .push_str(&format!("--- {} ---\n{kept}", path.display()));
        Ok(())
    }

    fn finish(mut self) -> Option<String> {
        if self.truncated {
            self.text.push_str(&format!(
                "\n\n[truncated: AGENTS.md files exceed project_doc_max_bytes ({} bytes)]",
                self.max_bytes
            ));
        }
        (!self.text.is_empty()).then_some(self.text)
    }
}
