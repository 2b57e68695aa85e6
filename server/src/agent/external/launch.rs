//! How a hosted ACP agent's process is started: its program found before anything runs
//! (a missing one is a clear task error, not an exit status), its environment, and the
//! confinement it runs under — the task's view as its working directory and writable
//! tree, its own state directories, a private tmp, the network (it must reach its
//! model), and reads of the system, its installation and the configured roots.

use std::path::{Path, PathBuf};

use crate::config::{AgentConfig, Env, SandboxMode};
use crate::mcp::WORKSPACE_ROOT_VARIABLE;
use crate::mcp::process::StdioLaunch;
use crate::sandbox::{Policy, find_program};

/// Where the agent works: the task's view directory and what goes with it.
#[derive(Debug, Clone)]
pub struct Place {
    /// The view as a directory: the agent's working directory.
    pub tree: PathBuf,
    /// Its private temporary directory (`TMPDIR`).
    pub tmp: PathBuf,
    /// What the view itself needs readable (the user's `.git` for a copy).
    pub extra_readable: Vec<PathBuf>,
    /// Whether the agent may change the view (not in `ask` mode).
    pub writable: bool,
}

/// The launch of agent `name` as `agent` configures it, under `policy`, at `place`.
/// `env` is agentls's environment; the agent gets all of it (agents need their API keys),
/// with `TMPDIR` pointing at the private tmp and the table's `env` on top.
pub fn launch(
    name: &str,
    agent: &AgentConfig,
    policy: &Policy,
    place: &Place,
    env: &[(String, String)],
    home: Option<&Path>,
) -> Result<StdioLaunch, String> {
    if let Some(problem) = agent.launch_problem() {
        return Err(format!("[agents.{name}] in config.toml: {problem}"));
    }
    let command = agent.command.clone().unwrap_or_default();
    let lookup = |var: &str| {
        env.iter()
            .find(|(name, _)| name == var)
            .map(|(_, value)| value.clone())
    };
    let program = program(name, &command, &lookup)?;
    let tree = place.tree.display().to_string();
    let expand = |text: &str| expand_home(&text.replace(WORKSPACE_ROOT_VARIABLE, &tree), home);
    let mut vars: Vec<(String, String)> = env
        .iter()
        .filter(|(var, _)| var != "TMPDIR" && !agent.env.contains_key(var))
        .cloned()
        .collect();
    if !agent.env.contains_key("TMPDIR") {
        vars.push(("TMPDIR".into(), place.tmp.display().to_string()));
    }
    vars.extend(agent.env.iter().map(|(k, v)| (k.clone(), expand(v))));
    let roots = |paths: &[PathBuf]| -> Vec<PathBuf> {
        paths
            .iter()
            .map(|p| PathBuf::from(expand(&p.display().to_string())))
            .collect()
    };
    let writable_roots = roots(&agent.writable_roots);
    for root in writable_roots.iter().filter(|root| !root.exists()) {
        // Landlock can only grant what exists; the agent cannot make it (its parent is not
        // writable to it), and agentls cannot tell a directory from a file to be.
        tracing::warn!(
            "agent `{name}`: writable root {} does not exist, so the agent cannot write there; \
             run the agent once outside agentls (its login) to create it",
            root.display()
        );
    }
    let mode = if place.writable {
        policy.mode
    } else {
        SandboxMode::ReadOnly
    };
    let confine = Policy {
        mode,
        ..policy.clone()
    }
    .confinement(&place.tree, &place.tmp, &place.extra_readable, true)
    .map(|mut confinement| {
        confinement.readable.extend(roots(&agent.readable_roots));
        confinement.readable.extend(installation(&program));
        confinement.readable.extend(writable_roots.iter().cloned());
        confinement.writable.extend(writable_roots.iter().cloned());
        confinement
    });
    let command = std::iter::once(command)
        .chain(agent.args.iter().map(|arg| expand(arg)))
        .collect();
    Ok(StdioLaunch {
        command,
        env: vars,
        cwd: place.tree.clone(),
        tmp: place.tmp.clone(),
        confine,
    })
}

/// The agent's program on disk, or the error that tells the user what to fix.
fn program(name: &str, command: &str, env: Env<'_>) -> Result<PathBuf, String> {
    find_program(command, env("PATH").as_deref()).ok_or_else(|| {
        format!(
            "agent `{name}`: `{command}` is not a file and not on PATH; install it, or fix \
             `command` under [agents.{name}] in config.toml"
        )
    })
}

/// Where the program is installed, for the agent to read: for a program inside a
/// `node_modules` directory (what npm installs, `npx` included), that whole directory,
/// since a package's launcher starts its platform binary from a sibling package;
/// otherwise the program's own directory.
fn installation(program: &Path) -> Vec<PathBuf> {
    let real = program
        .canonicalize()
        .unwrap_or_else(|_| program.to_path_buf());
    let modules = real
        .ancestors()
        .filter(|dir| dir.file_name().is_some_and(|n| n == "node_modules"))
        .last();
    match modules.or(real.parent()) {
        Some(dir) => vec![dir.to_path_buf()],
        None => Vec::new(),
    }
}

/// A leading `~/` means the home directory.
fn expand_home(text: &str, home: Option<&Path>) -> String {
    match (text.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest).display().to_string(),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(dir: &Path) -> Place {
        Place {
            tree: dir.join("tree"),
            tmp: dir.join("tmp"),
            extra_readable: Vec::new(),
            writable: true,
        }
    }

    #[test]
    fn an_npm_agent_reads_its_packages_and_writes_only_its_view_state_and_tmp() {
        let dir = tempfile::tempdir().unwrap();
        let modules = dir.path().join("node_modules");
        let bin = modules.join("@scope/agent/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("agent.js"), "").unwrap();
        std::fs::create_dir_all(modules.join(".bin")).unwrap();
        std::os::unix::fs::symlink("../@scope/agent/bin/agent.js", modules.join(".bin/agent"))
            .unwrap();
        let home = dir.path().join("home");
        let agent: AgentConfig = toml::from_str(
            r#"
            command = "agent"
            args = ["--cwd", "${workspaceRoot}"]
            env = { AGENT_HOME = "~/.agent", TMPDIR = "/elsewhere" }
            writable_roots = ["~/.agent"]
            "#,
        )
        .unwrap();
        let env = vec![
            (
                "PATH".to_string(),
                modules.join(".bin").display().to_string(),
            ),
            ("OPENAI_API_KEY".to_string(), "sk-test".to_string()),
            ("TMPDIR".to_string(), "/tmp".to_string()),
        ];
        let place = place(dir.path());
        let launch = launch(
            "scoped",
            &agent,
            &Policy::default(),
            &place,
            &env,
            Some(&home),
        )
        .unwrap();
        let tree = place.tree.display().to_string();
        assert_eq!(launch.command, ["agent", "--cwd", tree.as_str()]);
        assert_eq!(launch.cwd, place.tree);
        assert!(
            launch
                .env
                .contains(&("OPENAI_API_KEY".into(), "sk-test".into())),
            "agents get their keys: {:?}",
            launch.env
        );
        let tmp: Vec<&String> = launch
            .env
            .iter()
            .filter(|(k, _)| k == "TMPDIR")
            .map(|(_, v)| v)
            .collect();
        assert_eq!(tmp, ["/elsewhere"], "the table's env wins, once");
        let state = home.join(".agent");
        let confine = launch.confine.unwrap();
        assert!(confine.network, "the agent must reach its model");
        let real_modules = modules.canonicalize().unwrap();
        assert!(confine.readable.contains(&real_modules), "{confine:?}");
        for writable in [&place.tree, &place.tmp, &state] {
            assert!(confine.writable.contains(writable), "{confine:?}");
        }
        assert!(!confine.writable.contains(&home), "{confine:?}");
    }

    #[test]
    fn a_missing_program_or_command_is_an_error_naming_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![("PATH".to_string(), "/nonexistent".to_string())];
        let missing: AgentConfig = toml::from_str(r#"command = "no-such-agent""#).unwrap();
        let error = launch(
            "gone",
            &missing,
            &Policy::default(),
            &place(dir.path()),
            &env,
            None,
        )
        .unwrap_err();
        assert!(
            error.contains("`no-such-agent` is not a file and not on PATH")
                && error.contains("[agents.gone]"),
            "{error}"
        );
        let empty = AgentConfig::default();
        let error = launch(
            "empty",
            &empty,
            &Policy::default(),
            &place(dir.path()),
            &env,
            None,
        )
        .unwrap_err();
        assert!(error.contains("set `command`"), "{error}");
    }

    #[test]
    fn in_ask_mode_the_view_is_read_only_and_full_access_means_unconfined() {
        let dir = tempfile::tempdir().unwrap();
        let agent: AgentConfig = toml::from_str(r#"command = "sh""#).unwrap();
        let env = vec![("PATH".to_string(), "/usr/bin:/bin".to_string())];
        let ask = Place {
            writable: false,
            ..place(dir.path())
        };
        let confine = launch("sh", &agent, &Policy::default(), &ask, &env, None)
            .unwrap()
            .confine
            .unwrap();
        assert!(!confine.writable.contains(&ask.tree), "{confine:?}");
        assert!(confine.readable.contains(&ask.tree));
        let full = Policy {
            mode: SandboxMode::DangerFullAccess,
            ..Policy::default()
        };
        let launched = launch("sh", &agent, &full, &place(dir.path()), &env, None).unwrap();
        assert!(launched.confine.is_none());
    }
}
