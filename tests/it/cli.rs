//! The command-line tools: `agentls apply-patch` and `agentls exec` (more of exec in
//! `exec_cli.rs`), and what `agentls` alone tells a person in a terminal.

use serde_json::{Value, json};

use crate::support::cli::agentls;
use crate::support::fixture::Fixture;
use crate::support::model_server::Reply;

#[test]
fn apply_patch_applies_in_the_current_directory_and_summarizes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "one\ntwo\n").unwrap();
    let patch = "*** Begin Patch\n*** Update File: a.txt\n@@\n one\n-two\n+2\n*** Add File: b/c.txt\n+new\n*** End Patch\n";
    let out = agentls(dir.path(), dir.path(), &["apply-patch"], patch);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Success. Updated the following files:\nA b/c.txt\nM a.txt\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "one\n2\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("b/c.txt")).unwrap(),
        "new\n"
    );
}

#[test]
fn a_failing_patch_names_the_file_and_context_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "one\ntwo\n").unwrap();
    std::fs::write(dir.path().join("patch.txt"), "*** Begin Patch\n*** Add File: created.txt\n+x\n*** Update File: a.txt\n@@\n-three\n+3\n*** End Patch\n").unwrap();
    let out = agentls(dir.path(), dir.path(), &["apply-patch", "patch.txt"], "");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a.txt") && stderr.contains("three"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("created.txt").exists(),
        "the tree must be unchanged on failure"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "one\ntwo\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_json_streams_updates_and_prints_the_proposal_without_writing() {
    let patch = json!({"input": "*** Begin Patch\n*** Update File: a.txt\n@@\n one\n-two\n+2\n*** End Patch\n"});
    let fixture = Fixture::new(
        "responses",
        &[("a.txt", "one\ntwo\n")],
        vec![Reply::tool_call("apply_patch", patch), Reply::text("Done.")],
    )
    .await;
    let (root, home) = (fixture.root(), fixture.home().to_path_buf());
    let out = tokio::task::spawn_blocking(move || {
        agentls(&root, &home, &["exec", "--json", "make two a digit"], "")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let proposal = lines.iter().find(|l| l["type"] == "proposal").unwrap();
    assert_eq!(proposal["files"][0]["path"], "a.txt");
    assert_eq!(
        proposal["files"][0]["diff"],
        "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+2\n"
    );
    assert!(lines.iter().any(|l| l["type"] == "update"
        && l["update"]["kind"] == "finished"
        && l["update"]["status"] == "completed"));
    assert_eq!(fixture.disk("a.txt").as_deref(), Some("one\ntwo\n"));
}

/// `exec` has nobody to ask: approvals are denied unless `--approve` says otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_denies_approvals_unless_told_to_approve() {
    for (flag, expect_made) in [(None, false), (Some("--approve"), true)] {
        let make = json!({"command": ["bash", "-c", "echo made > made.txt"]});
        let fixture = Fixture::new(
            "chat",
            &[],
            vec![Reply::tool_call("shell", make), Reply::text("Done.")],
        )
        .await;
        let (root, home) = (fixture.root(), fixture.home().to_path_buf());
        let mut args = vec!["-c", "approval_policy=untrusted", "exec", "--json"];
        args.extend(flag);
        args.push("make a file");
        let args: Vec<String> = args.into_iter().map(str::to_string).collect();
        let out = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            agentls(&root, &home, &args, "")
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let proposal: Value = stdout
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|l| l["type"] == "proposal")
            .unwrap();
        let made = proposal["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "made.txt");
        assert_eq!(made, expect_made, "{flag:?}: {stdout}");
        assert_eq!(fixture.disk("made.txt"), None, "exec never writes the tree");
    }
}

#[test]
fn started_in_a_terminal_the_server_says_what_it_waits_for_and_in_a_pipe_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_leader, terminal) = pseudo_terminal();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_agentls"))
        .current_dir(dir.path())
        .env("AGENTLS_HOME", dir.path())
        .stdin(terminal)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cannot start the agentls binary");
    let stderr = server.stderr.take().unwrap();
    let (line_sender, line) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut first_line = String::new();
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stderr), &mut first_line);
        let _ = line_sender.send(first_line);
    });
    let first_line = line.recv_timeout(std::time::Duration::from_secs(20));
    server.kill().unwrap();
    server.wait().unwrap();
    let first_line = first_line.expect("nothing on stderr within 20 s");
    for words in ["waiting for an editor", "agentls exec", "agentls --help"] {
        assert!(
            first_line.contains(words),
            "{words:?} not in {first_line:?}"
        );
    }

    let piped = agentls(dir.path(), dir.path(), &[], "");
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(!stderr.contains("waiting for an editor"), "{stderr}");
}

/// A pseudo-terminal: its leader (keep it open while the follower is in use) and its
/// follower, to stand in for the terminal a person runs a command in.
fn pseudo_terminal() -> (std::os::fd::OwnedFd, std::fs::File) {
    use std::os::fd::FromRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    // SAFETY: plain libc calls on a descriptor this function owns; the name buffer is
    // NUL-terminated by ptsname_r on success.
    let (leader, name) = unsafe {
        let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(fd >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        let leader = std::os::fd::OwnedFd::from_raw_fd(fd);
        assert_eq!(libc::grantpt(fd), 0, "grantpt");
        assert_eq!(libc::unlockpt(fd), 0, "unlockpt");
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(
            libc::ptsname_r(fd, name.as_mut_ptr(), name.len()),
            0,
            "ptsname_r"
        );
        let name = std::ffi::CStr::from_ptr(name.as_ptr())
            .to_str()
            .unwrap()
            .to_owned();
        (leader, name)
    };
    let follower = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&name)
        .unwrap_or_else(|error| panic!("cannot open {name}: {error}"));
    (leader, follower)
}
