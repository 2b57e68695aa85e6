//! Attempts that ran elsewhere, with git as the transport: `agentls exec --push` writes
//! an attempt as a commit whose message carries how it ended (this module's
//! [`commit_message`]), and `agent/importAttempts` finds those commits on a remote,
//! fetches them and reads the message back ([`PushedAttempt::parse`]).
//!
//! A pushed attempt is one commit on top of the commit its task started from (or of a
//! commit holding the uncommitted state it started from), so its change is exactly the
//! diff against its first parent, `C^..C`, and every base blob that diff names is
//! fetched along with it — what a 3-way placement needs.
//!
//! Git runs as a subprocess, blocking: callers are on a blocking thread.

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::protocol::{LastCommand, TaskStatus, Usage};

/// Where refs named without `refs/` go: `run1/0` is `refs/agentls/run1/0`.
pub const REF_NAMESPACE: &str = "refs/agentls/";

/// The full name of a ref given on a command line or in `agent/importAttempts`.
pub fn full_ref(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.starts_with('-') || name.contains("..") || name.ends_with('/') {
        return Err(format!("`{name}` is not a ref name"));
    }
    Ok(if name.starts_with("refs/") {
        name.to_string()
    } else {
        format!("{REF_NAMESPACE}{name}")
    })
}

/// Runs git in `dir` with extra environment and standard input; its stdout, or an error
/// quoting what it said.
pub fn git(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &OsStr)],
    stdin: Option<&[u8]>,
) -> Result<String, String> {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A git that exits early closes the pipe; its status says why.
        let _ = pipe.write_all(input);
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "git {} failed: {}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Which pushed attempts to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// These refs, in this order.
    Refs(Vec<String>),
    /// Every ref of the remote under this prefix, in natural order (`…/2` before `…/10`).
    Prefix(String),
}

/// A pushed attempt fetched into the workspace's repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub git_ref: String,
    pub commit: String,
}

/// Lists what `selection` names on `remote` and fetches it into the repository of
/// `root`. Refs under `refs/agentls/` are kept under the same local name (so `agentls
/// apply git:REF` finds them); no other local ref is written.
pub fn fetch(root: &Path, remote: &str, selection: &Selection) -> Result<Vec<Fetched>, String> {
    if remote.is_empty() || remote.starts_with('-') {
        return Err(format!("`{remote}` is not a git remote"));
    }
    let listed = git(root, &["ls-remote", "--refs", remote], &[], None)
        .map_err(|e| format!("cannot list the refs of {remote}: {e}"))?;
    let remote_refs: Vec<(String, String)> = listed
        .lines()
        .filter_map(|line| {
            let (commit, name) = line.split_once('\t')?;
            Some((name.to_string(), commit.to_string()))
        })
        .collect();
    let wanted: Vec<Fetched> = match selection {
        Selection::Refs(names) => names
            .iter()
            .map(|name| {
                let full = full_ref(name)?;
                let commit = remote_refs
                    .iter()
                    .find(|(n, _)| *n == full)
                    .map(|(_, c)| c.clone())
                    .ok_or_else(|| format!("{remote} has no ref {full}"))?;
                Ok(Fetched {
                    git_ref: full,
                    commit,
                })
            })
            .collect::<Result<_, String>>()?,
        Selection::Prefix(prefix) => {
            let prefix = full_ref(prefix.trim_end_matches('/'))? + "/";
            let mut found: Vec<Fetched> = remote_refs
                .iter()
                .filter(|(name, _)| name.starts_with(&prefix))
                .map(|(name, commit)| Fetched {
                    git_ref: name.clone(),
                    commit: commit.clone(),
                })
                .collect();
            found.sort_by_cached_key(|f| natural_key(&f.git_ref));
            if found.is_empty() {
                return Err(format!(
                    "{remote} has no refs under {prefix}; were the attempts pushed there \
                     (`agentls exec --push {remote} --ref {prefix}N`)?"
                ));
            }
            found
        }
    };
    let refspecs: Vec<String> = wanted
        .iter()
        .map(|f| {
            if f.git_ref.starts_with(REF_NAMESPACE) {
                format!("+{0}:{0}", f.git_ref)
            } else {
                f.git_ref.clone()
            }
        })
        .collect();
    let mut args = vec!["fetch", "--quiet", "--no-tags", remote];
    args.extend(refspecs.iter().map(String::as_str));
    git(root, &args, &[], None).map_err(|e| format!("cannot fetch from {remote}: {e}"))?;
    Ok(wanted)
}

/// `refs/agentls/run/10` sorts after `refs/agentls/run/9`.
fn natural_key(name: &str) -> Vec<(String, u64)> {
    let mut key = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for c in name.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if !digits.is_empty() {
                key.push((
                    std::mem::take(&mut text),
                    digits.parse().unwrap_or(u64::MAX),
                ));
                digits.clear();
            }
            text.push(c);
        }
    }
    key.push((text, digits.parse().unwrap_or(0)));
    key
}

/// How a pushed attempt ended, as its commit message says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushedAttempt {
    pub task_id: Option<String>,
    pub status: Option<TaskStatus>,
    pub summary: Option<String>,
    pub last_command: Option<LastCommand>,
    pub usage: Usage,
}

const TASK: &str = "Agentls-Task";
const STATUS: &str = "Agentls-Status";
const LAST_COMMAND: &str = "Agentls-Last-Command";
const EXIT_CODE: &str = "Agentls-Exit-Code";
const USAGE: &str = "Agentls-Usage";

/// The message of a pushed attempt's commit: a subject naming the prompt, the task's
/// summary, and trailers with how it ended (read back by [`PushedAttempt::parse`]).
pub fn commit_message(prompt: &str, attempt: &PushedAttempt) -> String {
    let first_line = prompt.lines().next().unwrap_or_default().trim();
    let subject: String = first_line.chars().take(60).collect();
    let ellipsis = if subject.len() < first_line.len() {
        "…"
    } else {
        ""
    };
    let mut message = format!("agentls: {subject}{ellipsis}\n\n");
    if let Some(summary) = attempt.summary.as_deref().filter(|s| !s.trim().is_empty()) {
        message.push_str(summary.trim());
        message.push_str("\n\n");
    }
    let mut trailer = |key: &str, value: &str| {
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        message.push_str(&format!("{key}: {value}\n"));
    };
    if let Some(task_id) = &attempt.task_id {
        trailer(TASK, task_id);
    }
    if let Some(status) = attempt.status {
        trailer(STATUS, status.name());
    }
    if let Some(command) = &attempt.last_command {
        trailer(LAST_COMMAND, &command.command);
        trailer(EXIT_CODE, &command.exit_code.to_string());
    }
    let usage = attempt.usage;
    trailer(
        USAGE,
        &format!(
            "{} {} {}",
            usage.input_tokens, usage.output_tokens, usage.total_tokens
        ),
    );
    message
}

impl PushedAttempt {
    /// Reads a commit message: the paragraphs between the subject and the trailers are
    /// the summary (the subject when there are none). A message without our trailers (a
    /// commit made by hand) is an attempt that completed, with its message as summary.
    pub fn parse(message: &str) -> PushedAttempt {
        let paragraphs: Vec<&str> = message
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        let is_trailers = |p: &&str| p.lines().all(|line| line.starts_with("Agentls-"));
        let (body, trailers) = match paragraphs.split_last() {
            Some((last, rest)) if is_trailers(last) && !rest.is_empty() => (rest, Some(*last)),
            _ => (&paragraphs[..], None),
        };
        let mut attempt = PushedAttempt {
            summary: match body {
                [] => None,
                [subject] => Some(subject.to_string()),
                [_, rest @ ..] => Some(rest.join("\n\n")),
            },
            ..PushedAttempt::default()
        };
        let mut command = None;
        let mut exit_code = None;
        for line in trailers.into_iter().flat_map(str::lines) {
            let Some((key, value)) = line.split_once(": ") else {
                continue;
            };
            match key {
                TASK => attempt.task_id = Some(value.to_string()),
                STATUS => attempt.status = status_from_name(value),
                LAST_COMMAND => command = Some(value.to_string()),
                EXIT_CODE => exit_code = value.parse().ok(),
                USAGE => {
                    let n: Vec<u64> = value.split(' ').filter_map(|n| n.parse().ok()).collect();
                    if let [input, output, total] = n[..] {
                        attempt.usage = Usage {
                            input_tokens: input,
                            output_tokens: output,
                            total_tokens: total,
                        };
                    }
                }
                _ => {}
            }
        }
        if let (Some(command), Some(exit_code)) = (command, exit_code) {
            attempt.last_command = Some(LastCommand { command, exit_code });
        }
        attempt
    }
}

/// The full message of a commit.
pub fn read_message(root: &Path, commit: &str) -> Result<String, String> {
    git(root, &["log", "-1", "--format=%B", commit, "--"], &[], None)
}

fn status_from_name(name: &str) -> Option<TaskStatus> {
    [
        TaskStatus::Completed,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
        TaskStatus::Interrupted,
    ]
    .into_iter()
    .find(|status| status.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_message_reads_back_as_the_attempt_it_describes() {
        let attempt = PushedAttempt {
            task_id: Some("t1".into()),
            status: Some(TaskStatus::Completed),
            summary: Some("Fixed the parser.\n\nAll tests pass.".into()),
            last_command: Some(LastCommand {
                command: "cargo test\n-p core".into(),
                exit_code: 0,
            }),
            usage: Usage {
                input_tokens: 10,
                output_tokens: 20,
                total_tokens: 30,
            },
        };
        let message = commit_message("fix the parser\nand more", &attempt);
        assert!(
            message.starts_with("agentls: fix the parser\n\n"),
            "{message}"
        );
        let parsed = PushedAttempt::parse(&message);
        assert_eq!(
            parsed.last_command.as_ref().map(|c| c.command.as_str()),
            Some("cargo test -p core"),
            "a command stays on one trailer line"
        );
        assert_eq!(
            parsed,
            PushedAttempt {
                last_command: parsed.last_command.clone(),
                ..attempt
            }
        );
    }

    #[test]
    fn a_commit_made_by_hand_is_a_completed_attempt_summarised_by_its_message() {
        assert_eq!(
            PushedAttempt::parse("Use a faster hash\n"),
            PushedAttempt {
                summary: Some("Use a faster hash".into()),
                ..PushedAttempt::default()
            }
        );
    }

    #[test]
    fn refs_without_a_namespace_go_under_refs_agentls_and_sort_naturally() {
        assert_eq!(full_ref("run1/0").unwrap(), "refs/agentls/run1/0");
        assert_eq!(full_ref("refs/heads/x").unwrap(), "refs/heads/x");
        assert!(full_ref("--upload-pack=x").is_err());
        assert!(full_ref("a/../b").is_err());
        let mut refs = ["r/10", "r/9", "r/1"];
        refs.sort_by_key(|r| natural_key(r));
        assert_eq!(refs, ["r/1", "r/9", "r/10"]);
    }
}
