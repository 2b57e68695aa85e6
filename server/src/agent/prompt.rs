//! What the model reads before the user's request: our instructions, the project's
//! AGENTS.md files, the skills it may use, and the code the user pointed at.

use std::path::Path;

use crate::proposal::store::{FollowUpState, ReviewedHunk};
use crate::protocol::TaskMode;
use crate::skills::{Catalog, Skill};

/// Quoted hunk text is cut here: the model can read the file for the rest.
const QUOTE_LIMIT: usize = 2000;

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

const REVIEW_INSTRUCTIONS: &str = "\
This is a review task: you review a change the user made, you do not make changes. Read the \
diff in the user's message, look around the workspace with read_file, list_dir and grep where \
it helps, and report every real problem (bugs, missed cases, security issues, broken \
contracts; not style nits unless asked) with report_finding, at the lines it is about, in the \
files as they are now. If a shell tool is offered you may run the tests or linters to check \
a suspicion; nothing you write is kept. Give a `fix` only when you are sure of it. When you are done, reply with \
a short summary of the review; if you found nothing worth reporting, say so.";

const SKILLS_INSTRUCTIONS: &str = "\
Skills: each is a folder of instructions (its SKILL.md) and files for one kind of work. When \
the user names a skill ($name) or the request clearly matches a skill's description, read \
its SKILL.md with read_file before you start and follow it; open the other files it points \
to only when you need them, and prefer running its scripts over retyping them. Skill \
folders outside the workspace are read-only: read them by the path given, never edit them.
Available skills:";

/// The system prompt for a task; `skills` are listed with their paths, relative to the
/// workspace `root` when they are inside it.
pub fn instructions(
    mode: TaskMode,
    project_docs: Option<&str>,
    skills: &[Skill],
    root: &Path,
) -> String {
    let mut text = BASE_INSTRUCTIONS.to_string();
    let mode_instructions = match mode {
        TaskMode::Code => None,
        TaskMode::Ask => Some(ASK_INSTRUCTIONS),
        TaskMode::Review => Some(REVIEW_INSTRUCTIONS),
    };
    if let Some(instructions) = mode_instructions {
        text.push_str("\n\n");
        text.push_str(instructions);
    }
    if !skills.is_empty() {
        text.push_str("\n\n");
        text.push_str(SKILLS_INSTRUCTIONS);
        for skill in skills {
            text.push_str(&format!(
                "\n- {}: {} (file: {})",
                skill.name,
                skill.description,
                shown_path(&skill.path, root)
            ));
        }
    }
    if let Some(docs) = project_docs {
        text.push_str("\n\nThe project's instructions for agents (AGENTS.md files; deeper directories take precedence):\n\n");
        text.push_str(docs);
    }
    text
}

/// The first message of a run with the bodies of the skills it invokes: `explicit`
/// (`startTask {skills}`) and those `request` names as `$name`. Also returns what to warn
/// about (an unknown skill, an unreadable one).
pub fn invoke_skills(
    message: String,
    catalog: &Catalog,
    explicit: &[String],
    request: &str,
    root: &Path,
) -> (String, Vec<String>) {
    let (invoked, mut warnings) = catalog.invoked(explicit, request);
    let mut bodies = Vec::new();
    for skill in invoked {
        match skill.body() {
            Ok(body) => bodies.push((skill, body)),
            Err(error) => warnings.push(format!("skill `{}` is not loaded: {error}", skill.name)),
        }
    }
    (with_skills(message, &bodies, root), warnings)
}

/// A request with the bodies of the skills it invoked (`$name`, `startTask {skills}`)
/// after it, so the model has them in the same turn.
fn with_skills(message: String, skills: &[(&Skill, String)], root: &Path) -> String {
    let mut text = message;
    for (skill, body) in skills {
        text.push_str(&format!(
            "\n\nThe user invoked the skill `{}` ({}); its instructions:\n<skill name=\"{}\">\n{body}\n</skill>",
            skill.name,
            shown_path(&skill.path, root),
            skill.name
        ));
    }
    text
}

fn shown_path(path: &Path, root: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(inside) => inside.display().to_string(),
        Err(_) => path.display().to_string(),
    }
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

/// The message of a follow-up run: how the user reviewed the task's hunks, then their
/// new request. Rejection reasons and the user's own versions are quoted so the model
/// does not propose again what was turned down.
pub fn follow_up_message(request: &str, review: &FollowUpState) -> String {
    let mut text = String::from("The user reviewed your proposed changes.\n");
    let accepted_as_proposed = review
        .accepted
        .iter()
        .filter(|h| h.user_text.is_none())
        .count();
    if accepted_as_proposed > 0 {
        text.push_str(&format!(
            "\nAccepted as you proposed them: {accepted_as_proposed} hunk(s); they are in the files now.\n"
        ));
    }
    let edited: Vec<&ReviewedHunk> = review
        .accepted
        .iter()
        .filter(|h| h.user_text.is_some())
        .collect();
    if !edited.is_empty() {
        text.push_str(
            "\nAccepted with the user's own edits (their version is in the files now; keep it):\n",
        );
        for hunk in edited {
            text.push_str(&format!("- {}: you proposed\n", hunk.path));
            text.push_str(&quote(&hunk.proposed_text));
            text.push_str("  the user wrote instead\n");
            text.push_str(&quote(hunk.user_text.as_deref().unwrap_or_default()));
        }
    }
    if !review.rejected.is_empty() {
        text.push_str(
            "\nRejected (do not propose these again unless the new request asks for it):\n",
        );
        for hunk in &review.rejected {
            text.push_str(&format!("- {}: replacing\n", hunk.path));
            text.push_str(&quote(&hunk.old_text));
            text.push_str("  with\n");
            text.push_str(&quote(&hunk.proposed_text));
            match &hunk.reason {
                Some(reason) => text.push_str(&format!("  The user's reason: {}\n", reason.trim())),
                None => text.push_str("  (no reason given)\n"),
            }
        }
    }
    if !review.dismissed.is_empty() {
        text.push_str(
            "\nReview findings the user dismissed (do not report them again unless the new request asks for it):\n",
        );
        for finding in &review.dismissed {
            text.push_str(&format!("- {}: {}", finding.path, finding.title));
            match &finding.reason {
                Some(reason) => {
                    text.push_str(&format!(" — the user's reason: {}\n", reason.trim()))
                }
                None => text.push_str(" (no reason given)\n"),
            }
        }
    }
    if review.undecided > 0 {
        text.push_str(&format!(
            "\n{} of your hunks are not decided yet; those the user's own edits did not \
             overlap are applied in your working copy. What you change now replaces them in \
             the user's review.\n",
            review.undecided
        ));
    }
    text.push_str("\nThe user's follow-up request:\n");
    text.push_str(request.trim());
    text
}

fn quote(text: &str) -> String {
    let cut = match text.char_indices().nth(QUOTE_LIMIT) {
        Some((at, _)) => &text[..at],
        None => text,
    };
    let mut quoted = format!("```\n{cut}");
    if !cut.ends_with('\n') {
        quoted.push('\n');
    }
    if cut.len() < text.len() {
        quoted.push_str("… (cut; read the file for the rest)\n");
    }
    quoted.push_str("```\n");
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ask_mode_and_project_docs_are_part_of_the_instructions() {
        let root = Path::new("/ws");
        let text = instructions(TaskMode::Ask, Some("Use tabs."), &[], root);
        assert!(text.contains("cannot change files"));
        assert!(text.ends_with("Use tabs."));
        let code = instructions(TaskMode::Code, None, &[], root);
        assert!(!code.contains("ask-mode") && !code.contains("Available skills"));
    }

    #[test]
    fn skills_are_listed_with_their_paths_and_invoked_ones_carry_their_body() {
        let skill = |name: &str, path: &str| Skill {
            name: name.into(),
            description: format!("{name} things"),
            path: path.into(),
            origin: crate::skills::Origin::Project,
        };
        let skills = [
            skill("deploy", "/ws/.agents/skills/deploy/SKILL.md"),
            skill(
                "ops:check",
                "/home/u/.agentls/plugins/ops/1/skills/check/SKILL.md",
            ),
        ];
        let root = Path::new("/ws");
        let text = instructions(TaskMode::Code, None, &skills, root);
        assert!(text.contains("\n- deploy: deploy things (file: .agents/skills/deploy/SKILL.md)"));
        assert!(text.contains(
            "\n- ops:check: ops:check things (file: /home/u/.agentls/plugins/ops/1/skills/check/SKILL.md)"
        ));
        let message = with_skills(
            "ship it".into(),
            &[(&skills[0], "Run make deploy.".into())],
            root,
        );
        assert!(message.starts_with("ship it\n\nThe user invoked the skill `deploy`"));
        assert!(message.ends_with("<skill name=\"deploy\">\nRun make deploy.\n</skill>"));
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

    #[test]
    fn a_follow_up_quotes_rejections_with_reasons_and_the_users_own_versions() {
        let hunk = |old: &str, new: &str, user: Option<&str>, reason: Option<&str>| ReviewedHunk {
            path: "src/lib.rs".into(),
            hunk_id: "t1-1".into(),
            old_text: old.into(),
            proposed_text: new.into(),
            user_text: user.map(Into::into),
            reason: reason.map(Into::into),
        };
        let review = FollowUpState {
            files: Vec::new(),
            accepted: vec![
                hunk("a\n", "b\n", None, None),
                hunk("c\n", "d\n", Some("D!\n"), None),
            ],
            rejected: vec![hunk("e\n", "f\n", None, Some("keep e, it is public API"))],
            undecided: 2,
            dismissed: vec![crate::proposal::store::DismissedFinding {
                path: "src/lib.rs".into(),
                title: "unchecked index".into(),
                reason: Some("the caller checks it".into()),
            }],
        };
        let text = follow_up_message("  now add tests ", &review);
        assert!(
            text.contains(
                "- src/lib.rs: unchecked index — the user's reason: the caller checks it"
            )
        );
        assert!(text.contains("Accepted as you proposed them: 1 hunk(s)"));
        assert!(text.contains("you proposed\n```\nd\n```\n  the user wrote instead\n```\nD!\n```"));
        assert!(text.contains("with\n```\nf\n```\n  The user's reason: keep e, it is public API"));
        assert!(text.contains("2 of your hunks are not decided yet"));
        assert!(text.ends_with("The user's follow-up request:\nnow add tests"));
    }
}
