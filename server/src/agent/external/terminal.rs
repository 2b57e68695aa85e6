//! The terminals a hosted ACP agent runs through `terminal/*`: commands in the task's view
//! directory under the task's sandbox, started at once and read while they run. Each one
//! is a sandbox helper leading its own process group, so a kill reaches everything the
//! command started; output is kept to the agent's byte limit, dropping the oldest.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::acp::types::{TerminalExitStatus, TerminalOutputResponse};
use crate::sandbox::HelperSpec;
use crate::sandbox::run;

/// Output kept when the agent sets no limit.
const DEFAULT_OUTPUT_LIMIT: usize = 1 << 20;
/// How long the output pipes may stay open once the command is gone (a process that
/// escaped the group and holds them).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// A session's terminals by id.
#[derive(Default)]
pub struct Terminals {
    next: AtomicU64,
    open: Mutex<HashMap<String, Terminal>>,
}

#[derive(Clone)]
struct Terminal {
    output: Arc<Mutex<Output>>,
    exit: watch::Receiver<Option<TerminalExitStatus>>,
    kill: CancellationToken,
}

struct Output {
    bytes: Vec<u8>,
    limit: usize,
    truncated: bool,
}

impl Output {
    /// Appends, then drops the oldest bytes beyond the limit, starting at a character.
    fn push(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
        if self.bytes.len() <= self.limit {
            return;
        }
        let mut cut = self.bytes.len() - self.limit;
        while cut < self.bytes.len() && (self.bytes[cut] & 0b1100_0000) == 0b1000_0000 {
            cut += 1;
        }
        self.bytes.drain(..cut);
        self.truncated = true;
    }
}

type Pipe = Box<dyn AsyncRead + Send + Unpin>;

impl Terminals {
    /// Starts `spec` with exactly `env`; returns the terminal's id.
    pub fn spawn(
        &self,
        spec: &HelperSpec,
        env: &[(String, String)],
        limit: Option<u64>,
    ) -> std::io::Result<String> {
        let mut child = run::helper_command(spec, env)?
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let output = Arc::new(Mutex::new(Output {
            bytes: Vec::new(),
            limit: limit.map_or(DEFAULT_OUTPUT_LIMIT, |l| l as usize),
            truncated: false,
        }));
        let pipes: [Option<Pipe>; 2] = [
            child.stdout.take().map(|pipe| Box::new(pipe) as Pipe),
            child.stderr.take().map(|pipe| Box::new(pipe) as Pipe),
        ];
        let readers: Vec<_> = pipes
            .into_iter()
            .flatten()
            .map(|pipe| tokio::spawn(collect(pipe, output.clone())))
            .collect();
        let (exited, exit) = watch::channel(None);
        let kill = CancellationToken::new();
        let group = child.id().map(|pid| pid as i32);
        let killed = kill.clone();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => TerminalExitStatus {
                    exit_code: status.ok().and_then(|s| s.code()).map(|c| c as u32),
                    signal: None,
                },
                () = killed.cancelled() => {
                    run::terminate(group, &mut child).await;
                    TerminalExitStatus { exit_code: None, signal: Some("SIGTERM".into()) }
                }
            };
            let drained = futures_util::future::join_all(readers);
            let _ = tokio::time::timeout(DRAIN_GRACE, drained).await;
            let _ = exited.send(Some(status));
        });
        let id = format!("term-{}", self.next.fetch_add(1, Ordering::Relaxed) + 1);
        let terminal = Terminal { output, exit, kill };
        lock(&self.open).insert(id.clone(), terminal);
        Ok(id)
    }

    /// What the command printed so far, and how it ended if it did. `None`: no such
    /// terminal.
    pub fn output(&self, id: &str) -> Option<TerminalOutputResponse> {
        let terminal = self.get(id)?;
        let output = lock(&terminal.output);
        Some(TerminalOutputResponse {
            output: String::from_utf8_lossy(&output.bytes).into_owned(),
            truncated: output.truncated,
            exit_status: terminal.exit.borrow().clone(),
        })
    }

    /// Waits for the command to end (its output read to the end).
    pub async fn wait(&self, id: &str) -> Option<TerminalExitStatus> {
        let mut exit = self.get(id)?.exit;
        let status = exit.wait_for(Option::is_some).await.ok()?;
        status.clone()
    }

    /// Stops the command (its whole process group); the terminal stays readable.
    pub fn kill(&self, id: &str) -> bool {
        self.get(id).map(|t| t.kill.cancel()).is_some()
    }

    /// Stops the command if it still runs and forgets the terminal.
    pub fn release(&self, id: &str) -> bool {
        let removed = lock(&self.open).remove(id);
        removed.map(|t| t.kill.cancel()).is_some()
    }

    /// Stops every command (a cancelled turn, a session that ends).
    pub fn kill_all(&self) {
        for terminal in lock(&self.open).values() {
            terminal.kill.cancel();
        }
    }

    fn get(&self, id: &str) -> Option<Terminal> {
        lock(&self.open).get(id).cloned()
    }
}

impl Drop for Terminals {
    fn drop(&mut self) {
        self.kill_all();
    }
}

async fn collect(mut pipe: Pipe, output: Arc<Mutex<Output>>) {
    let mut buffer = [0u8; 8192];
    while let Ok(n) = pipe.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        lock(&output).push(&buffer[..n]);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::Output;

    #[test]
    fn output_past_the_limit_loses_its_oldest_bytes_at_a_character() {
        let mut output = Output {
            bytes: Vec::new(),
            limit: 2,
            truncated: false,
        };
        output.push("a".as_bytes());
        assert!(!output.truncated);
        // 4 bytes: keeping the last 2 would start inside "é", so only "!" is kept.
        output.push("é!".as_bytes());
        assert_eq!(output.bytes, b"!");
        assert!(output.truncated);
    }
}
