//! Running a command in a task's view under a sandbox, and deciding when to ask first.
//!
//! Restrictions (Landlock, seccomp) apply per thread and are inherited, so the server never
//! restricts itself: it re-executes its own binary as a helper ([`HELPER_SUBCOMMAND`]) that
//! sets up the view's mounts, restricts the command's process and execs it. The helper is
//! told what to do by a [`HelperSpec`]; [`run`] spawns it, enforces the timeout on its
//! whole process group and caps what it printed.

pub mod approval;
pub mod env;
pub mod helper;
mod landlock;
pub mod run;
mod seccomp;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{Config, EnvPolicy, SandboxMode};

/// The hidden `agentls` subcommand that runs [`helper::main`].
pub const HELPER_SUBCOMMAND: &str = "__sandbox-helper";

/// What the helper does, passed to it as one JSON argument.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelperSpec {
    /// Set when the view is an overlay that must be mounted (in a fresh user and mount
    /// namespace) before the command can see it.
    pub overlay: Option<OverlayMount>,
    /// The command's private temporary directory (`TMPDIR`). With an overlay it becomes
    /// a size-bounded tmpfs.
    pub tmp: PathBuf,
    /// Absolute, inside the view.
    pub cwd: PathBuf,
    /// `None`: no Landlock or seccomp (`danger-full-access`, or an approved escalation).
    pub confine: Option<Confinement>,
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OverlayMount {
    /// The user's tree, never written: the overlay's lower layer.
    pub lower: PathBuf,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Confinement {
    pub readable: Vec<PathBuf>,
    pub writable: Vec<PathBuf>,
    pub network: bool,
}

/// System locations every command may read: programs, libraries, configuration and the
/// kernel's views of processes and devices. Missing ones are skipped.
/// Not `/run` as a whole: it can hold mounted secrets; only the resolver's files.
pub const SYSTEM_READABLE: [&str; 14] = [
    "/bin",
    "/sbin",
    "/usr",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc",
    "/opt",
    "/nix",
    "/proc",
    "/sys",
    "/dev",
    "/run/systemd/resolve",
];

/// Device files every command may write (shells redirect to `/dev/null` constantly).
pub const DEVICES_WRITABLE: [&str; 5] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/tty",
    "/dev/ptmx",
];

/// Where `command` is: itself when it names a path (`/` in it), else the first file of
/// that name in the directories of `path` (a `PATH` value), as `execvp` looks.
pub fn find_program(command: &str, path: Option<&str>) -> Option<PathBuf> {
    if command.contains('/') {
        return Path::new(command).is_file().then(|| PathBuf::from(command));
    }
    path.unwrap_or_default()
        .split(':')
        .map(|dir| Path::new(dir).join(command))
        .find(|candidate| candidate.is_file())
}

/// What commands may touch, from the configuration (`sandbox_mode`,
/// `[sandbox_workspace_write]`, `[shell_environment_policy]`).
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub mode: SandboxMode,
    pub readable_roots: Vec<PathBuf>,
    pub writable_roots: Vec<PathBuf>,
    pub network: bool,
    pub env: EnvPolicy,
}

impl Policy {
    pub fn from_config(config: &Config, home: Option<&Path>) -> Policy {
        let expand = |path: &PathBuf| match (path.strip_prefix("~"), home) {
            (Ok(rest), Some(home)) => home.join(rest),
            _ => path.clone(),
        };
        let sandbox = &config.sandbox_workspace_write;
        Policy {
            mode: config.sandbox_mode,
            readable_roots: sandbox.readable_roots.iter().map(expand).collect(),
            writable_roots: sandbox.writable_roots.iter().map(expand).collect(),
            network: sandbox.network_access,
            env: config.shell_environment_policy.clone(),
        }
    }

    /// The restrictions for a command in the view `tree` with private `tmp`; `None` under
    /// `danger-full-access`. `extra_readable`: what the view itself needs readable;
    /// `network`: allowed for this command on top of the configuration (an approval).
    pub fn confinement(
        &self,
        tree: &Path,
        tmp: &Path,
        extra_readable: &[PathBuf],
        network: bool,
    ) -> Option<Confinement> {
        if self.mode == SandboxMode::DangerFullAccess {
            return None;
        }
        let existing = |paths: &[&str]| -> Vec<PathBuf> {
            paths
                .iter()
                .map(PathBuf::from)
                .filter(|p| p.exists())
                .collect()
        };
        let mut readable = existing(&SYSTEM_READABLE);
        readable.extend(self.readable_roots.iter().cloned());
        readable.extend(extra_readable.iter().cloned());
        readable.push(tree.to_path_buf());
        let mut writable = existing(&DEVICES_WRITABLE);
        writable.push(tmp.to_path_buf());
        if self.mode == SandboxMode::WorkspaceWrite {
            writable.push(tree.to_path_buf());
            writable.extend(self.writable_roots.iter().cloned());
        }
        Some(Confinement {
            readable,
            writable,
            network: self.network || network,
        })
    }

    /// The environment for a command: the server's own, cleaned, with `TMPDIR` pointing
    /// at the private tmp.
    pub fn command_env(&self, tmp: &Path) -> Vec<(String, String)> {
        let mut env = env::command_env(std::env::vars(), &self.env);
        env.retain(|(name, _)| name != "TMPDIR");
        env.push(("TMPDIR".into(), tmp.display().to_string()));
        env
    }
}
