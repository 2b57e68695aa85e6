//! When the server must ask the user before running something (docs/protocol.md,
//! `agent/requestApproval`): the pure decisions, kept apart from the round trip so they can be tested on their own.

use crate::config::ApprovalPolicy;
use crate::protocol::ApprovalKind;

/// Commands that only read, run without asking under `untrusted`.
const READ_ONLY_PROGRAMS: [&str; 24] = [
    "ls", "cat", "head", "tail", "wc", "pwd", "echo", "grep", "rg", "sort", "uniq", "cut", "stat",
    "file", "which", "true", "false", "tree", "nl", "diff", "cmp", "basename", "dirname",
    "realpath",
];
const READ_ONLY_GIT: [&str; 5] = ["status", "diff", "log", "show", "blame"];
/// `find` actions that write or run something.
const FIND_ACTIONS: [&str; 6] = ["-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint"];
/// Shell syntax that can chain, substitute or redirect: such a string is never "known".
const SHELL_METACHARACTERS: [char; 9] = [';', '&', '|', '<', '>', '`', '$', '(', '\n'];

/// Why a command needs the user's go-ahead before it runs, or `None` to run it at once.
/// `escalation` is the model's request to run outside the sandbox (with its reason).
pub fn before_command(
    policy: ApprovalPolicy,
    argv: &[String],
    escalation: Option<&str>,
) -> Option<String> {
    match (policy, escalation) {
        (ApprovalPolicy::Never, _) => None,
        (_, Some(reason)) if policy != ApprovalPolicy::Never => Some(format!(
            "the agent asks to run this outside the sandbox: {reason}"
        )),
        (ApprovalPolicy::Untrusted, _) if !is_known_read_only(argv) => {
            Some("this command is not known to be read-only".into())
        }
        _ => None,
    }
}

/// Under `untrusted`, patches (to the task's own view) are shown before they are applied.
pub fn before_patch(policy: ApprovalPolicy) -> bool {
    policy == ApprovalPolicy::Untrusted
}

/// Whether a failed sandboxed command looks like it hit the sandbox, and which kind of
/// permission it would need: the network, or the filesystem.
pub fn sandbox_denial(exit_code: Option<i32>, output: &str) -> Option<ApprovalKind> {
    if exit_code == Some(0) {
        return None;
    }
    let lower = output.to_ascii_lowercase();
    const NETWORK: [&str; 3] = [
        "address family not supported",
        "network is unreachable",
        "temporary failure in name resolution",
    ];
    const FILESYSTEM: [&str; 3] = [
        "permission denied",
        "operation not permitted",
        "read-only file system",
    ];
    if NETWORK.iter().any(|marker| lower.contains(marker)) {
        Some(ApprovalKind::Network)
    } else if FILESYSTEM.iter().any(|marker| lower.contains(marker)) {
        Some(ApprovalKind::Command)
    } else {
        None
    }
}

/// A command that can only read: a known program whose arguments cannot make it write. A
/// shell string counts only when it is a single plain command.
pub fn is_known_read_only(argv: &[String]) -> bool {
    let words: Vec<&str> = match argv {
        [shell, flag, script] if is_shell(shell) && (flag == "-c" || flag == "-lc") => {
            if script.contains(SHELL_METACHARACTERS) {
                return false;
            }
            script.split_whitespace().collect()
        }
        _ => argv.iter().map(String::as_str).collect(),
    };
    match words.as_slice() {
        [] => false,
        ["git", sub, ..] => READ_ONLY_GIT.contains(sub),
        ["find", args @ ..] => !args.iter().any(|arg| FIND_ACTIONS.contains(arg)),
        [program, ..] => READ_ONLY_PROGRAMS.contains(program),
    }
}

fn is_shell(program: &str) -> bool {
    matches!(
        program.rsplit('/').next(),
        Some("bash" | "sh" | "zsh" | "dash")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn untrusted_asks_for_anything_but_plain_reads() {
        let policy = ApprovalPolicy::Untrusted;
        assert_eq!(before_command(policy, &argv(&["ls", "-la"]), None), None);
        assert_eq!(
            before_command(policy, &argv(&["git", "status"]), None),
            None
        );
        assert!(before_command(policy, &argv(&["git", "commit", "-m", "x"]), None).is_some());
        assert!(before_command(policy, &argv(&["python3", "-m", "unittest"]), None).is_some());
        assert!(before_command(policy, &argv(&["bash", "-lc", "cat a > b"]), None).is_some());
        assert!(before_command(policy, &argv(&["find", ".", "-delete"]), None).is_some());
        assert_eq!(
            before_command(policy, &argv(&["bash", "-lc", "cat a"]), None),
            None
        );
    }

    #[test]
    fn escalations_are_asked_for_unless_the_policy_never_asks() {
        let command = argv(&["curl", "example.com"]);
        assert!(before_command(ApprovalPolicy::OnRequest, &command, Some("fetch")).is_some());
        assert_eq!(
            before_command(ApprovalPolicy::OnRequest, &command, None),
            None
        );
        assert_eq!(
            before_command(ApprovalPolicy::Never, &command, Some("x")),
            None
        );
    }

    #[test]
    fn sandbox_denials_are_recognised_by_their_messages() {
        assert_eq!(
            sandbox_denial(Some(1), "socket: Address family not supported by protocol"),
            Some(ApprovalKind::Network)
        );
        assert_eq!(
            sandbox_denial(Some(1), "touch: cannot touch '/etc/x': Permission denied"),
            Some(ApprovalKind::Command)
        );
        assert_eq!(sandbox_denial(Some(1), "AssertionError: 2 != 3"), None);
        assert_eq!(sandbox_denial(Some(0), "Permission denied"), None);
    }
}
