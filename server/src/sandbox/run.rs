//! Spawning the helper from the server: a process group of its own, a timeout that
//! terminates the whole group (TERM, then KILL after a grace period), cancellation, and
//! output capped to its head and tail.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{HELPER_SUBCOMMAND, HelperSpec};

/// Between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// How long to wait for the output pipe to close once the helper is gone.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// How a command ended.
#[derive(Debug)]
pub struct Finished {
    /// `None` when it was stopped (timeout or cancel) rather than exiting on its own.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub cancelled: bool,
    pub duration: Duration,
    /// stdout and stderr interleaved as written; empty when output was inherited.
    pub output: String,
}

/// Where the command's output goes.
#[derive(Debug, Clone, Copy)]
pub enum Output {
    /// Shown to a user at a terminal (`agentls sandbox`).
    Inherit,
    /// Collected for the model, keeping at most this many bytes (half head, half tail).
    Capture(usize),
}

/// Runs `spec` under the helper with exactly `env`; `timeout: None` waits as long as it
/// takes.
pub async fn run(
    spec: &HelperSpec,
    env: &[(String, String)],
    output: Output,
    timeout: Option<Duration>,
    cancel: &CancellationToken,
) -> io::Result<Finished> {
    let mut command = helper_command(spec, env)?;
    command.stdin(Stdio::null());
    let reader = match output {
        Output::Inherit => None,
        Output::Capture(limit) => {
            let (read, write) = pipe()?;
            command
                .stdout(Stdio::from(write.try_clone()?))
                .stderr(Stdio::from(write));
            Some(tokio::task::spawn_blocking(move || capture(read, limit)))
        }
    };
    let started = Instant::now();
    let mut child = command.spawn()?;
    // The pipe's write ends live in `command`; drop them so EOF comes when the helper's
    // side closes.
    drop(command);
    let group = child.id().map(|pid| pid as i32);
    let (status, timed_out, cancelled) = tokio::select! {
        status = child.wait() => (Some(status?), false, false),
        () = sleep_or_forever(timeout) => (None, true, false),
        () = cancel.cancelled() => (None, false, true),
    };
    let exit_code = match status {
        Some(status) => status.code(),
        None => {
            terminate(group, &mut child).await;
            None
        }
    };
    let duration = started.elapsed();
    let output = match reader {
        Some(reader) => match tokio::time::timeout(DRAIN_GRACE, reader).await {
            Ok(Ok(text)) => text,
            _ => "(output unavailable: a process kept the output pipe open)".to_string(),
        },
        None => String::new(),
    };
    Ok(Finished {
        exit_code,
        timed_out,
        cancelled,
        duration,
        output,
    })
}

/// The helper running `spec` with exactly `env`, leading a process group of its own (what
/// `terminate` signals) and killed if dropped; its stdio is the caller's to set.
pub fn helper_command(
    spec: &HelperSpec,
    env: &[(String, String)],
) -> io::Result<tokio::process::Command> {
    let spec_json = serde_json::to_string(spec).map_err(io::Error::other)?;
    let mut command = tokio::process::Command::new(std::env::current_exe()?);
    command
        .arg(HELPER_SUBCOMMAND)
        .arg(spec_json)
        .env_clear()
        .envs(env.iter().cloned())
        .process_group(0)
        .kill_on_drop(true);
    Ok(command)
}

async fn sleep_or_forever(timeout: Option<Duration>) {
    match timeout {
        Some(timeout) => tokio::time::sleep(timeout).await,
        None => std::future::pending().await,
    }
}

/// TERM to the whole group, then KILL after the grace period (also how MCP servers stop).
pub(crate) async fn terminate(group: Option<i32>, child: &mut tokio::process::Child) {
    let Some(group) = group else {
        return;
    };
    signal_group(group, libc::SIGTERM);
    if tokio::time::timeout(KILL_GRACE, child.wait())
        .await
        .is_err()
    {
        signal_group(group, libc::SIGKILL);
        let _ = child.wait().await;
    }
}

pub(crate) fn signal_group(group: i32, signal: libc::c_int) {
    // SAFETY: signalling the process group we created for the helper.
    unsafe {
        libc::kill(-group, signal);
    }
}

/// A pipe whose ends are closed on exec: (read, write).
pub(super) fn pipe() -> io::Result<(File, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills `fds` with two new descriptors that we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    unsafe { Ok((File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))) }
}

/// Reads until EOF, keeping the first and last `limit / 2` bytes.
fn capture(mut pipe: File, limit: usize) -> String {
    let mut capped = CappedOutput::new(limit);
    let mut buffer = [0u8; 8192];
    loop {
        match pipe.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => capped.push(&buffer[..n]),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    capped.render()
}

/// A command's output with its middle cut out once it exceeds the limit: the head says
/// what started, the tail says how it ended (where test summaries are).
pub struct CappedOutput {
    half: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: usize,
}

impl CappedOutput {
    pub fn new(limit: usize) -> Self {
        CappedOutput {
            half: limit / 2,
            head: Vec::new(),
            tail: VecDeque::new(),
            total: 0,
        }
    }

    pub fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len();
        let room = self.half - self.head.len();
        let to_head = room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..to_head]);
        bytes = &bytes[to_head..];
        self.tail.extend(bytes);
        let excess = self.tail.len().saturating_sub(self.half);
        self.tail.drain(..excess);
    }

    pub fn render(&self) -> String {
        let head = String::from_utf8_lossy(&self.head);
        let kept = self.head.len() + self.tail.len();
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        let tail = String::from_utf8_lossy(&tail);
        if kept == self.total {
            return format!("{head}{tail}");
        }
        format!(
            "{head}\n… [{} bytes of output omitted] …\n{tail}",
            self.total - kept
        )
    }
}

#[cfg(test)]
mod tests {
    use super::CappedOutput;

    #[test]
    fn short_output_is_kept_whole() {
        let mut out = CappedOutput::new(100);
        out.push(b"hello ");
        out.push(b"world");
        assert_eq!(out.render(), "hello world");
    }

    #[test]
    fn long_output_keeps_head_and_tail_with_a_marker() {
        let mut out = CappedOutput::new(10);
        for chunk in [&b"start"[..], b"-middle-middle-", b"the end"] {
            out.push(chunk);
        }
        assert_eq!(
            out.render(),
            "start\n… [17 bytes of output omitted] …\ne end"
        );
    }
}
