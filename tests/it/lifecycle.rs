//! The server's ways out. Whatever ends it — `shutdown` then `exit`, `exit` alone, the
//! client vanishing (end of input), SIGTERM, SIGINT, SIGHUP — a `shell` command still
//! running stops with everything it started (a background child, one that left the
//! process group with `setsid`), the task's view is removed, the exit status says which
//! way it went, and the next server lists the task as `interrupted`.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::fixture::Fixture;
use crate::support::lsp_client::{ClientOptions, LspClient};
use crate::support::model_server::Reply;
use crate::support::processes_running;

#[derive(Clone, Copy, Debug)]
enum WayOut {
    ShutdownThenExit,
    ExitWithoutShutdown,
    EndOfInput,
    Signal(i32),
}

#[tokio::test]
async fn shutdown_then_exit_stops_everything_before_answering() {
    way_out(WayOut::ShutdownThenExit, "1", 0).await;
}

#[tokio::test]
async fn exit_without_shutdown_stops_everything() {
    way_out(WayOut::ExitWithoutShutdown, "2", 1).await;
}

#[tokio::test]
async fn a_client_that_vanishes_leaves_nothing_running() {
    way_out(WayOut::EndOfInput, "3", 1).await;
}

#[tokio::test]
async fn sigterm_stops_everything() {
    way_out(WayOut::Signal(libc::SIGTERM), "4", 128 + libc::SIGTERM).await;
}

#[tokio::test]
async fn sigint_stops_everything() {
    way_out(WayOut::Signal(libc::SIGINT), "5", 128 + libc::SIGINT).await;
}

#[tokio::test]
async fn sighup_stops_everything() {
    way_out(WayOut::Signal(libc::SIGHUP), "6", 128 + libc::SIGHUP).await;
}

/// SIGKILL cannot be caught, so nothing is cancelled: the command's pid namespace is what
/// takes everything it started along, and the next server to start removes the view.
#[tokio::test]
async fn sigkill_leaves_no_process_and_the_next_start_removes_the_view() {
    let (fixture, mut client, processes) = running_command("7").await;
    // SAFETY: signalling the server this test started.
    assert_eq!(unsafe { libc::kill(client.pid() as i32, libc::SIGKILL) }, 0);
    let status = client.wait_exit().await;
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    let processes: Vec<&String> = processes.iter().collect();
    if pid_namespaces_work() {
        wait_until_gone(&processes).await;
        assert_no_process(&fixture, &processes, "after SIGKILL");
    } else {
        // Without namespaces only the helper and the shell die with the server (their
        // parent-death signal); the shell's children are re-parented and live on.
        eprintln!("no pid namespaces here: a SIGKILL leaves the command's children running");
        assert_no_process(&fixture, &[], "after SIGKILL");
        for process in processes {
            kill_all(process);
        }
    }
    assert_eq!(
        views(fixture.home()).len(),
        1,
        "the killed server's view stays"
    );
    assert_interrupted(&fixture).await;
    assert!(
        views(fixture.home()).is_empty(),
        "the next start removes it"
    );
}

/// Whether this machine lets the sandbox helper make a pid namespace (as root directly,
/// else with a user namespace).
fn pid_namespaces_work() -> bool {
    [&["--pid", "--fork", "true"][..], &["-Urpf", "true"]]
        .iter()
        .any(|args| {
            std::process::Command::new("unshare")
                .args(*args)
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
}

/// The kernel kills a namespace's processes as its first process exits, which races the
/// server's own death by a moment.
async fn wait_until_gone(processes: &[&String]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while processes.iter().any(|p| processes_running(p)) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Kills the processes whose command line is exactly `process` (this test's own).
fn kill_all(process: &str) {
    let wanted = format!("{}\0", process.replace(' ', "\0"));
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if std::fs::read(entry.path().join("cmdline")).is_ok_and(|c| c == wanted.as_bytes()) {
            // SAFETY: signalling a process this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// A running server whose task's command leaves a background child and a detached one
/// running while it runs itself; returns the three processes' command lines.
async fn running_command(case: &str) -> (Fixture, LspClient, [String; 3]) {
    // Distinct durations name this case's processes among those of tests running alongside.
    let processes = ["1", "2", "3"].map(|n| format!("sleep 45.{case}{n}"));
    let [background, detached, foreground] = &processes;
    let command = format!("{background} & setsid {detached} & {foreground}");
    let fixture = Fixture::new(
        "chat",
        &[("a.txt", "a\n")],
        vec![
            Reply::tool_call("shell", json!({"command": command})),
            Reply::text("done"),
        ],
    )
    .await;
    let mut client = fixture.client(ClientOptions::default()).await;
    let task = client.start_task(json!({"prompt": "wait"})).await;
    for process in &processes {
        wait_for_process(&client, process).await;
    }
    assert_eq!(views(fixture.home()), [task], "the task has its view");
    (fixture, client, processes)
}

/// Ends the server `way` while a command runs, and checks what is left.
async fn way_out(way: WayOut, case: &str, expected_status: i32) {
    let (fixture, mut client, processes) = running_command(case).await;
    let [background, detached, foreground] = &processes;
    match way {
        WayOut::ShutdownThenExit => {
            client.request("shutdown", Value::Null).await.unwrap();
            assert_nothing_left(
                &fixture,
                &[background, detached, foreground],
                "at the shutdown answer",
            );
            client.notify("exit", Value::Null).await;
        }
        WayOut::ExitWithoutShutdown => client.notify("exit", Value::Null).await,
        WayOut::EndOfInput => client.close_input().await,
        WayOut::Signal(signal) => {
            // SAFETY: signalling the server this test started.
            assert_eq!(unsafe { libc::kill(client.pid() as i32, signal) }, 0);
        }
    }
    let status = client.wait_exit().await;
    assert_eq!(
        status.code(),
        Some(expected_status),
        "{way:?}: {status}; server stderr:\n{}",
        client.stderr()
    );
    assert_nothing_left(
        &fixture,
        &[background, detached, foreground],
        &format!("after {way:?}"),
    );
    assert_interrupted(&fixture).await;
}

/// The server stopped the task, the user did not: the next server lists it as
/// `interrupted`, to be continued with a follow-up.
async fn assert_interrupted(fixture: &Fixture) {
    let mut next = fixture.client(ClientOptions::default()).await;
    let tasks = next.request("agent/listTasks", json!({})).await.unwrap();
    assert_eq!(tasks["tasks"][0]["status"], "interrupted", "{tasks}");
    next.shutdown().await;
}

async fn wait_for_process(client: &LspClient, process: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !processes_running(process) {
        assert!(
            std::time::Instant::now() < deadline,
            "`{process}` never started; server stderr:\n{}",
            client.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn assert_nothing_left(fixture: &Fixture, processes: &[&String], when: &str) {
    assert_no_process(fixture, processes, when);
    assert!(
        views(fixture.home()).is_empty(),
        "views left {when}: {:?}",
        views(fixture.home())
    );
}

fn assert_no_process(fixture: &Fixture, processes: &[&String], when: &str) {
    for process in processes {
        assert!(!processes_running(process), "`{process}` still runs {when}");
    }
    // Every sandbox helper carries its view's path, under this home, in its arguments.
    let home = fixture.home().display().to_string();
    assert!(
        !processes_running(&home),
        "a sandbox helper still runs {when}"
    );
}

fn views(home: &Path) -> Vec<String> {
    std::fs::read_dir(home.join("views"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}
