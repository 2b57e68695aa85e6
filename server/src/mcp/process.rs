//! A stdio MCP server's process — and a hosted ACP agent's (`agent::external`), the same
//! kind of long-lived peer on a pair of pipes. Every one runs under the sandbox helper
//! (`agentls __sandbox-helper`), confined or not, because the helper is what guarantees
//! that nothing outlives agentls: it dies with the server process (`PR_SET_PDEATHSIG`),
//! takes its command along the same way, and kills whatever the command left behind when
//! it exits. The helper leads its own process group, so stopping signals the whole group.

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::sandbox::{Confinement, HelperSpec, run};

/// How long a server has to exit by itself once its stdin is closed (the MCP spec's first
/// step of a stdio shutdown) before it is signalled.
const EXIT_GRACE: Duration = Duration::from_millis(500);
/// The last lines of a server's stderr kept for error messages.
const STDERR_LINES: usize = 20;

/// What to run and where.
#[derive(Debug, Clone, PartialEq)]
pub struct StdioLaunch {
    /// The program and its arguments, `${workspaceRoot}` already expanded.
    pub command: Vec<String>,
    /// The server's whole environment.
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// Its private temporary directory (`TMPDIR` when confined).
    pub tmp: PathBuf,
    /// `None`: unconfined (`sandbox = "none"`, or `danger-full-access`).
    pub confine: Option<Confinement>,
}

/// A running server process.
pub struct ServerProcess {
    child: Child,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl ServerProcess {
    /// Starts the server; its stdout and stdin are the MCP transport. Must be called on a
    /// runtime worker thread (not `spawn_blocking`): the helper dies with the thread that
    /// started it.
    pub fn spawn(
        name: &str,
        launch: &StdioLaunch,
    ) -> io::Result<(ServerProcess, ChildStdout, ChildStdin)> {
        let spec = HelperSpec {
            overlay: None,
            tmp: launch.tmp.clone(),
            cwd: launch.cwd.clone(),
            confine: launch.confine.clone(),
            command: launch.command.clone(),
        };
        let mut child = run::helper_command(&spec, &launch.env)?
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (Some(stdout), Some(stdin), Some(stderr)) =
            (child.stdout.take(), child.stdin.take(), child.stderr.take())
        else {
            return Err(io::Error::other("the server's pipes were not created"));
        };
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let lines = tail.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                tracing::debug!(server = %name, "{line}");
                let mut lines = lines.lock().unwrap_or_else(|p| p.into_inner());
                if lines.len() == STDERR_LINES {
                    lines.pop_front();
                }
                lines.push_back(line);
            }
        });
        Ok((
            ServerProcess {
                child,
                stderr: tail,
            },
            stdout,
            stdin,
        ))
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The last lines the server wrote to stderr, for telling the user why it failed.
    pub fn stderr_tail(&self) -> String {
        let lines = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// How the process ended, waiting for it at most `within`; `None` while it runs.
    pub async fn exit_status(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(Ok(status)) => Some(status),
            _ => None,
        }
    }

    /// Waits briefly for the server to exit by itself (its stdin is closed by then), then
    /// terminates its process group: TERM, then KILL.
    pub async fn stop(mut self) {
        if tokio::time::timeout(EXIT_GRACE, self.child.wait())
            .await
            .is_ok()
        {
            return;
        }
        let group = self.child.id().map(|pid| pid as i32);
        run::terminate(group, &mut self.child).await;
    }
}
