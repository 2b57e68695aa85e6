//! The sandbox security battery: each case is an attempt a hostile or confused command
//! might make, run through `agentls sandbox` (the policy every `shell` call gets) under
//! each view strategy this machine supports. Every attempt must fail and leave no trace:
//! the user's tree, the directory outside it and the views directory are compared with
//! how they were before. The count of attempts and escapes is printed (docs/security.md).

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::python;
use crate::support::tree::{Entry, snapshot};

const SECRET: &str = "-----BEGIN OPENSSH PRIVATE KEY----- battery-secret";
const VICTIM: &str = "original\n";
const GIT_CONFIG: &str = "[core]\n\trepositoryformatversion = 0\n";

/// A workspace, a fake HOME with a key in it, a directory outside both, and an
/// `$AGENTLS_HOME`, all under one temporary directory.
struct Scene {
    _base: tempfile::TempDir,
    project: PathBuf,
    home: PathBuf,
    outside: PathBuf,
    agentls_home: PathBuf,
}

impl Scene {
    fn new() -> Scene {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().canonicalize().unwrap();
        let scene = Scene {
            project: root.join("project"),
            home: root.join("home"),
            outside: root.join("outside"),
            agentls_home: root.join("agentls"),
            _base: base,
        };
        for dir in [&scene.project, &scene.outside, &scene.agentls_home] {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::create_dir_all(scene.home.join(".ssh")).unwrap();
        std::fs::write(scene.home.join(".ssh/id_ed25519"), SECRET).unwrap();
        std::fs::write(scene.outside.join("victim.txt"), VICTIM).unwrap();
        std::fs::write(scene.project.join("main.py"), "print('hi')\n").unwrap();
        std::fs::create_dir_all(scene.project.join(".git")).unwrap();
        std::fs::write(scene.project.join(".git/config"), GIT_CONFIG).unwrap();
        std::os::unix::fs::symlink(&scene.outside, scene.project.join("link")).unwrap();
        std::fs::hard_link(
            scene.outside.join("victim.txt"),
            scene.project.join("hard.txt"),
        )
        .unwrap();
        let (_, prefix) = python();
        std::fs::write(
            scene.agentls_home.join("config.toml"),
            format!("[sandbox_workspace_write]\nreadable_roots = [{prefix:?}]\n"),
        )
        .unwrap();
        scene
    }

    /// Runs `script` with bash under `agentls sandbox`; returns (success, output).
    fn run(&self, strategy: &str, script: &str) -> (bool, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_agentls"))
            .args(["sandbox", "--", "bash", "-c", script])
            .current_dir(&self.project)
            .env("HOME", &self.home)
            .env("AGENTLS_HOME", &self.agentls_home)
            .env("AGENTLS_VIEW_STRATEGY", strategy)
            .output()
            .expect("cannot run agentls sandbox");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    }

    /// Everything that must not change: every entry under the project, outside, and the
    /// views directory (which must be empty again), by absolute path.
    fn state(&self) -> BTreeMap<PathBuf, Entry> {
        let mut state = BTreeMap::new();
        for dir in [
            &self.project,
            &self.outside,
            &self.agentls_home.join("views"),
        ] {
            state.extend(
                snapshot(dir)
                    .into_iter()
                    .map(|(path, entry)| (dir.join(path), entry)),
            );
        }
        state
    }
}

/// Whether an attempt got through, from its output: `Some(what happened)`.
type EscapeCheck = Box<dyn Fn(&str) -> Option<String>>;

/// One attempt: a script, and a check run afterwards that says whether it got through
/// (besides the common before/after comparison).
struct Case {
    name: &'static str,
    script: String,
    /// The command itself must fail. Not so for attempts whose first step is legitimate
    /// (writing the view's own copy of a hardlinked file, starting a background job).
    must_fail: bool,
    escaped: EscapeCheck,
}

fn cases(scene: &Scene) -> Vec<Case> {
    let outside = scene.outside.display().to_string();
    let climb = "../".repeat(40);
    let (python, _) = python();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    tcp.set_nonblocking(true).unwrap();
    let tcp_port = tcp.local_addr().unwrap().port();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let udp_port = udp.local_addr().unwrap().port();
    let stray = format!("/tmp/agentls-battery-{}", std::process::id());
    let stray_check = stray.clone();
    let nothing = |_: &str| None;
    vec![
        Case {
            name: "write outside the view by absolute path",
            script: format!("echo pwned > {outside}/absolute.txt"),
            must_fail: true,
            escaped: Box::new(nothing),
        },
        Case {
            name: "write outside the view through `..`",
            script: format!(
                "echo pwned > {climb}{}/dotdot.txt",
                outside.trim_start_matches('/')
            ),
            must_fail: true,
            escaped: Box::new(nothing),
        },
        Case {
            name: "write to the machine's /tmp",
            script: format!("echo pwned > {stray}"),
            must_fail: true,
            escaped: Box::new(move |_| {
                let leaked = Path::new(&stray_check).exists();
                let _ = std::fs::remove_file(&stray_check);
                leaked.then(|| "a file appeared in /tmp".into())
            }),
        },
        Case {
            name: "write through a symlink planted in the workspace",
            script: "echo pwned > link/through-symlink.txt".into(),
            must_fail: true,
            escaped: Box::new(nothing),
        },
        Case {
            name: "write through a hardlink planted in the workspace",
            script: "echo pwned > hard.txt".into(),
            must_fail: false,
            escaped: Box::new(nothing),
        },
        Case {
            name: "hardlink an outside file into the view, then write it",
            script: format!("ln {outside}/victim.txt made-link && echo pwned > made-link"),
            must_fail: true,
            escaped: Box::new(nothing),
        },
        Case {
            name: "read a private key in HOME",
            script: "cat $HOME/.ssh/id_ed25519".into(),
            must_fail: true,
            escaped: Box::new(|output| {
                output
                    .contains(SECRET)
                    .then(|| "the key was printed".into())
            }),
        },
        Case {
            name: "modify .git/config",
            script: "echo '[evil]' >> .git/config; git config core.evil true".into(),
            must_fail: true,
            escaped: Box::new(nothing),
        },
        Case {
            name: "connect to a TCP listener on 127.0.0.1",
            script: format!("echo hi > /dev/tcp/127.0.0.1/{tcp_port}"),
            must_fail: true,
            escaped: Box::new(move |_| match tcp.accept() {
                Err(error) if error.kind() == ErrorKind::WouldBlock => None,
                _ => Some("the listener got a connection".into()),
            }),
        },
        Case {
            name: "send a UDP datagram to a listener on 127.0.0.1",
            script: format!("echo hi > /dev/udp/127.0.0.1/{udp_port}"),
            must_fail: true,
            escaped: Box::new(move |_| {
                let mut buffer = [0u8; 64];
                udp.recv(&mut buffer)
                    .ok()
                    .map(|_| "a datagram arrived".into())
            }),
        },
        Case {
            name: "ptrace a sibling process",
            script: format!(
                "sleep 30 & {python} -c \"import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True); print('ptrace-attached' if libc.ptrace(16, int(sys.argv[1]), 0, 0) == 0 else 'ptrace-refused')\" $!; kill $!"
            ),
            must_fail: false,
            escaped: Box::new(|output| {
                if output.contains("ptrace-attached") {
                    Some("PTRACE_ATTACH succeeded".into())
                } else if !output.contains("ptrace-refused") {
                    Some(format!("the attempt did not run: {output}"))
                } else {
                    None
                }
            }),
        },
        Case {
            name: "leave background processes running after the command returns",
            script: "setsid sleep 53.125 & (nohup sleep 53.25 >/dev/null 2>&1 &); echo started"
                .into(),
            must_fail: false,
            escaped: Box::new(|_| {
                std::thread::sleep(Duration::from_millis(100));
                ["sleep 53.125", "sleep 53.25"]
                    .iter()
                    .find(|needle| crate::support::processes_running(needle))
                    .map(|needle| format!("`{needle}` is still running"))
            }),
        },
        Case {
            name: "fill the private tmp",
            script: "head -c 1200M /dev/zero > $TMPDIR/fill".into(),
            must_fail: true,
            escaped: Box::new(|output| {
                let bounded = output.contains("No space left") || output.contains("File too large");
                (!bounded).then(|| format!("no bounded error: {output}"))
            }),
        },
    ]
}

/// Strategies to run the battery under: both when this machine can mount overlays.
fn strategies(scene: &Scene) -> Vec<&'static str> {
    let (overlay_works, _) = scene.run("overlay", "true");
    if overlay_works {
        vec!["overlay", "copy"]
    } else {
        eprintln!("overlay views are unavailable here; the battery runs on copies only");
        vec!["copy"]
    }
}

#[test]
fn every_escape_attempt_fails_and_leaves_no_trace() {
    let scene = Scene::new();
    let mut attempts = 0;
    let mut escapes = Vec::new();
    for strategy in strategies(&scene) {
        for case in cases(&scene) {
            let before = scene.state();
            let (succeeded, output) = scene.run(strategy, &case.script);
            let after = scene.state();
            attempts += 1;
            let mut problems = Vec::new();
            if succeeded && case.must_fail {
                problems.push(format!("the command succeeded: {output}"));
            }
            if before != after {
                let changed: Vec<_> = after
                    .iter()
                    .filter(|(path, entry)| before.get(*path) != Some(entry))
                    .map(|(path, _)| path.display().to_string())
                    .chain(
                        before
                            .keys()
                            .filter(|p| !after.contains_key(*p))
                            .map(|p| p.display().to_string()),
                    )
                    .collect();
                problems.push(format!("left a trace: {changed:?}"));
            }
            problems.extend((case.escaped)(&output));
            let verdict = if problems.is_empty() {
                "held"
            } else {
                "ESCAPED"
            };
            eprintln!("[{strategy}] {}: {verdict}", case.name);
            if !problems.is_empty() {
                escapes.push(format!(
                    "[{strategy}] {}: {}",
                    case.name,
                    problems.join("; ")
                ));
            }
        }
    }
    let (fine, output) = scene.run("copy", "echo still-working");
    assert!(
        fine && output.contains("still-working"),
        "the sandbox is broken after the battery: {output}"
    );
    // Past libtest's capture, so the count shows in every CI log.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "sandbox security battery: {attempts} attempts, {} escapes",
        escapes.len()
    );
    assert!(escapes.is_empty(), "escapes:\n{}", escapes.join("\n"));
}
