//! Runs the `agentls` binary as a command-line tool.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// `agentls ARGS…` in `cwd` with `$AGENTLS_HOME = home`, `stdin` written to its input.
pub fn agentls(cwd: &Path, home: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = start(cwd, home, args);
    // A command that exits before reading its input closes the pipe; that is its business.
    let _ = child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes());
    child.wait_with_output().expect("cannot wait for agentls")
}

/// Starts `agentls ARGS…` in `cwd` with `$AGENTLS_HOME = home`, every stream piped.
pub fn start(cwd: &Path, home: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_agentls"))
        .args(args)
        .current_dir(cwd)
        .env("AGENTLS_HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the agentls binary")
}
