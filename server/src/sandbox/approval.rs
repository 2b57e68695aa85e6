//! When the server must ask the user before running something (docs/protocol.md,
//! `agent/requestApproval`): the pure decisions, kept apart from the round trip so they can be tested on their own.

use crate::config::{ApprovalMode, ApprovalPolicy};
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

/// Whether a hosted ACP agent's own request for permission goes to the user: under every
/// policy but `never`, which answers it with the agent's "allow". The agent asks because
/// its own policy says so; it runs confined to the task's view either way, and what it
/// writes is reviewed as hunks.
pub fn before_agent_tool(policy: ApprovalPolicy) -> bool {
    policy != ApprovalPolicy::Never
}

/// What an MCP tool says about itself (its annotations, MCP's defaults filled in: a tool
/// that says nothing may destroy and may reach the outside world).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolHints {
    pub read_only: bool,
    pub destructive: bool,
    pub open_world: bool,
    /// Runs in the task's view under its sandbox without network (`sandbox = "task"`):
    /// what it writes becomes hunks, and it cannot reach out.
    pub confined: bool,
}

/// What to do before an MCP tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpDecision {
    Run,
    /// Ask the user, for this reason.
    Ask(String),
    /// Do not run it; the model is told why.
    Refuse(String),
}

/// Whether an MCP tool call needs the user's go-ahead: the tool's `approval_mode` first
/// (`approve` never asks, `prompt` always does), then under `auto` the policy and the
/// tool's hints: read-only tools never ask, destructive or open-world ones ask unless the
/// policy is `never` (or the sandbox contains what they can do).
pub fn before_mcp_tool(
    policy: ApprovalPolicy,
    mode: ApprovalMode,
    hints: ToolHints,
) -> McpDecision {
    match mode {
        ApprovalMode::Approve => return McpDecision::Run,
        ApprovalMode::Prompt if policy == ApprovalPolicy::Never => {
            return McpDecision::Refuse(
                "this tool is set to ask before each call (approval_mode = \"prompt\") but approval_policy = \"never\" allows no questions; it was not called".into(),
            );
        }
        ApprovalMode::Prompt => {
            return McpDecision::Ask("this tool is set to ask before each call".into());
        }
        ApprovalMode::Auto => {}
    }
    if policy == ApprovalPolicy::Never || hints.read_only {
        return McpDecision::Run;
    }
    if policy == ApprovalPolicy::Untrusted {
        return McpDecision::Ask("this tool is not marked read-only".into());
    }
    if hints.confined {
        return McpDecision::Run;
    }
    match (hints.destructive, hints.open_world) {
        (true, _) => McpDecision::Ask("this tool may change or delete data".into()),
        (false, true) => McpDecision::Ask("this tool may reach outside the workspace".into()),
        (false, false) => McpDecision::Run,
    }
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
    fn mcp_tools_ask_by_mode_then_by_policy_and_hints() {
        let hints = |read_only, destructive, open_world, confined| ToolHints {
            read_only,
            destructive,
            open_world,
            confined,
        };
        let auto = ApprovalMode::Auto;
        let on_request = ApprovalPolicy::OnRequest;
        let plain = hints(false, true, true, false);
        assert_eq!(
            before_mcp_tool(on_request, auto, hints(true, true, true, false)),
            McpDecision::Run
        );
        assert!(matches!(
            before_mcp_tool(on_request, auto, plain),
            McpDecision::Ask(_)
        ));
        assert!(matches!(
            before_mcp_tool(on_request, auto, hints(false, false, true, false)),
            McpDecision::Ask(_)
        ));
        assert_eq!(
            before_mcp_tool(on_request, auto, hints(false, false, false, false)),
            McpDecision::Run
        );
        assert_eq!(
            before_mcp_tool(on_request, auto, hints(false, true, true, true)),
            McpDecision::Run
        );
        assert!(matches!(
            before_mcp_tool(
                ApprovalPolicy::Untrusted,
                auto,
                hints(false, false, false, true)
            ),
            McpDecision::Ask(_)
        ));
        assert_eq!(
            before_mcp_tool(ApprovalPolicy::Never, auto, plain),
            McpDecision::Run
        );
        assert_eq!(
            before_mcp_tool(on_request, ApprovalMode::Approve, plain),
            McpDecision::Run
        );
        assert!(matches!(
            before_mcp_tool(
                on_request,
                ApprovalMode::Prompt,
                hints(true, false, false, false)
            ),
            McpDecision::Ask(_)
        ));
        assert!(matches!(
            before_mcp_tool(ApprovalPolicy::Never, ApprovalMode::Prompt, plain),
            McpDecision::Refuse(_)
        ));
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
