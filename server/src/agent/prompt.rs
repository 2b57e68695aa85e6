//! What the model reads before the user's request: our instructions, the project's
//! AGENTS.md files, and the code the user pointed at.

use crate::protocol::TaskMode;

const BASE_INSTRUCTIONS: &str = "\
You are a coding agent working inside the user's editor through agentls. You work on an \
isolated copy of the user's workspace that includes their unsaved edits; nothing you change \
reaches their files until they review and accept each hunk, so make focused changes they \
will want to accept.

Work like a careful senior engineer:
- Read before you write: use read_file, list_dir and grep to find the relevant code.
- Edit with apply_patch, using enough context lines that each change matches exactly one place.
- Keep changes minimal and consistent with the surrounding code style. Do not reformat code \
you did not need to touch.
- For multi-step work, share a short plan with update_plan and keep it current.
- Paths are relative to the workspace root.
- When you are done, reply with a short summary of what you changed and why; do not paste \
the diff, the user sees it as hunks.";

const ASK_INSTRUCTIONS: &str = "\
This is an ask-mode task: answer the user's question. You may read and search the \
workspace, but you cannot change files.";

/// The system prompt for a task.
pub fn instructions(mode: TaskMode, project_docs: Option<&str>) -> String {
    let mut text = BASE_INSTRUCTIONS.to_string();
    if mode == TaskMode::Ask {
        text.push_str("\n\n");
        text.push_str(ASK_INSTRUCTIONS);
    }
    if let Some(docs) = project_docs {
        text.push_str("\n\nThe project's instructions for agents (AGENTS.md files; deeper directories take precedence):\n\n");
        text.push_str(docs);
    }
    text
}

/// A piece of code the user pointed at.
pub struct ContextSnippet {
    pub path: String,
    /// 1-based inclusive line numbers, or None for the whole file.
    pub lines: Option<(usize, usize)>,
    pub text: String,
}

/// The first user message: the request, then the code it refers to.
pub fn user_message(request: &str, cwd: Option<&str>, snippets: &[ContextSnippet]) -> String {
    let mut text = request.trim().to_string();
    if let Some(cwd) = cwd.filter(|c| !c.is_empty()) {
        text.push_str(&format!("\n\n(The user is working in `{cwd}`.)"));
    }
    for snippet in snippets {
        let place = match snippet.lines {
            Some((first, last)) => format!("{} lines {first}-{last}", snippet.path),
            None => snippet.path.clone(),
        };
        text.push_str(&format!(
            "\n\nThe user selected {place}:\n```\n{}",
            snippet.text
        ));
        if !snippet.text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("```");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ask_mode_and_project_docs_are_part_of_the_instructions() {
        let text = instructions(TaskMode::Ask, Some("Use tabs."));
        assert!(text.contains("cannot change files"));
        assert!(text.ends_with("Use tabs."));
        assert!(!instructions(TaskMode::Code, None).contains("ask-mode"));
    }

    #[test]
    fn selections_are_quoted_with_their_place() {
        let message = user_message(
            "rename x",
            None,
            &[ContextSnippet {
                path: "src/a.rs".into(),
                lines: Some((3, 4)),
                text: "let x = 1;\nx + 1".into(),
            }],
        );
        assert_eq!(
            message,
            "rename x\n\nThe user selected src/a.rs lines 3-4:\n```\nlet x = 1;\nx + 1\n```"
        );
    }
}
