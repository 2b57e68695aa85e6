//! Task views and the sandbox, measured against their peers in the same run
//! (docs/performance.md records the numbers and this command: `cargo bench --bench views`):
//!
//! - creating a task's view of a 100,000-file tree (and of the cargo registry's source
//!   cache, a real tree) as an overlay and as a copy, against `git worktree add`;
//! - spawning `true` under the sandbox helper against a plain spawn;
//! - a scripted task that runs a failing test suite, fixes it and reruns it, against
//!   running the suite twice by hand.
//!
//! Timings are medians of a few rounds: these are milliseconds-to-seconds operations.
//! Without `--bench` (as `cargo test --all-targets` runs it) everything runs once, on small
//! inputs, to check that the benchmark still works.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use agentls::protocol::ViewStrategy;
use agentls::sandbox::{Confinement, HELPER_SUBCOMMAND, HelperSpec, Policy};
use agentls::workspace::materialize::ViewDir;
use serde_json::json;

/// How much to measure: the real sizes under `cargo bench`, a smoke run otherwise.
struct Scale {
    rounds: usize,
    spawns: usize,
    tree_dirs: usize,
    real_tree: bool,
}

const FULL: Scale = Scale {
    rounds: 3,
    spawns: 200,
    tree_dirs: 1000,
    real_tree: true,
};
const SMOKE: Scale = Scale {
    rounds: 1,
    spawns: 2,
    tree_dirs: 2,
    real_tree: false,
};

fn scale() -> &'static Scale {
    if std::env::args().any(|arg| arg == "--bench") {
        &FULL
    } else {
        &SMOKE
    }
}

fn main() {
    let scratch = tempfile::tempdir().expect("scratch dir");
    let scratch = scratch.path().canonicalize().unwrap();
    let generated = scratch.join("generated");
    let files = scale().tree_dirs * 100;
    generate_tree(&generated, scale().tree_dirs, 100);
    git(&generated, None, &["init", "-q"]);
    commit_all(&generated, None);
    view_creation(
        &format!("generated tree, {files} files"),
        &generated,
        None,
        &scratch,
    );

    let registry = home().join(".cargo/registry/src");
    if scale().real_tree && registry.is_dir() {
        let git_dir = scratch.join("registry.git");
        git(&registry, Some(&git_dir), &["init", "-q"]);
        commit_all(&registry, Some(&git_dir));
        let files = count_files(&registry);
        view_creation(
            &format!("cargo registry source cache, {files} files"),
            &registry,
            Some(&git_dir),
            &scratch,
        );
    }
    spawn_overhead(&scratch);
    end_to_end();
}

fn view_creation(label: &str, root: &Path, git_dir: Option<&Path>, scratch: &Path) {
    println!("\n## view creation: {label}");
    let worktree = median(|round| {
        let target = scratch.join(format!("worktree{round}"));
        let target_arg = target.display().to_string();
        let started = Instant::now();
        git(
            root,
            git_dir,
            &["worktree", "add", "-q", "--detach", &target_arg],
        );
        let elapsed = started.elapsed();
        std::fs::remove_dir_all(&target).expect("remove the worktree");
        git(root, git_dir, &["worktree", "prune"]);
        elapsed
    });
    let row = |name: &str, time: Duration| {
        println!(
            "{name:<44} {:>10.2} ms   ratio to git worktree add: {:.4}",
            ms(time),
            time.as_secs_f64() / worktree.as_secs_f64()
        );
    };
    row("git worktree add (peer)", worktree);
    let views = scratch.join("views");
    let create = |strategy, first_command: bool| {
        median(|round| {
            let started = Instant::now();
            let view = ViewDir::create_with(
                strategy,
                &views,
                &format!("v{round}"),
                root,
                &BTreeMap::new(),
            )
            .expect("create the view");
            if first_command {
                run_helper(&spec(&view, vec!["true".into()]));
            }
            let elapsed = started.elapsed();
            drop(view);
            elapsed
        })
    };
    row(
        "overlay (agentls fast path)",
        create(ViewStrategy::Overlay, false),
    );
    row(
        "overlay + first command (mount included)",
        create(ViewStrategy::Overlay, true),
    );
    row("copy (agentls fallback)", create(ViewStrategy::Copy, false));
}

fn spec(view: &ViewDir, command: Vec<String>) -> HelperSpec {
    let policy = Policy::default();
    HelperSpec {
        overlay: view.overlay(),
        tmp: view.tmp(),
        cwd: view.tree(),
        confine: policy.confinement(&view.tree(), &view.tmp(), &view.extra_readable(), false),
        command,
    }
}

fn run_helper(spec: &HelperSpec) {
    let status = Command::new(env!("CARGO_BIN_EXE_agentls"))
        .arg(HELPER_SUBCOMMAND)
        .arg(serde_json::to_string(spec).unwrap())
        .status()
        .expect("run the helper");
    assert!(status.success(), "the helper failed");
}

fn spawn_overhead(scratch: &Path) {
    let project = scratch.join("small");
    generate_tree(&project, 10, 10);
    let views = scratch.join("views");
    let empty = BTreeMap::new();
    let plain = per_spawn(|| {
        Command::new("true").status().expect("true");
    });
    let mut results = vec![("plain spawn of `true` (peer)", plain)];
    for (name, strategy) in [
        (
            "`true` in a copied view, Landlock + seccomp",
            ViewStrategy::Copy,
        ),
        (
            "`true` in an overlay view (mount), Landlock + seccomp",
            ViewStrategy::Overlay,
        ),
    ] {
        let view = ViewDir::create_with(strategy, &views, "spawn", &project, &empty).unwrap();
        let spec = spec(&view, vec!["true".into()]);
        results.push((name, per_spawn(|| run_helper(&spec))));
    }
    let unconfined = {
        let view =
            ViewDir::create_with(ViewStrategy::Copy, &views, "bare", &project, &empty).unwrap();
        let mut spec = spec(&view, vec!["true".into()]);
        spec.confine = None::<Confinement>;
        per_spawn(|| run_helper(&spec))
    };
    results.insert(1, ("`true` through the helper, no sandbox", unconfined));
    println!("\n## spawn overhead ({} spawns each, mean)", scale().spawns);
    for (name, time) in results {
        println!(
            "{name:<56} {:>8.0} µs   {:.1}× plain",
            time.as_secs_f64() * 1e6,
            time.as_secs_f64() / plain.as_secs_f64()
        );
    }
}

fn end_to_end() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let python = python();
        let by_hand = median(|_| {
            let dir = tempfile::tempdir().unwrap();
            write_project(dir.path());
            let started = Instant::now();
            for _ in 0..2 {
                Command::new(&python)
                    .args(["-m", "unittest", "-q", "test_calc"])
                    .current_dir(dir.path())
                    .output()
                    .unwrap();
            }
            started.elapsed()
        });
        let mut times = Vec::new();
        for _ in 0..scale().rounds {
            times.push(scripted_task(&python).await);
        }
        times.sort();
        let task = times[times.len() / 2];
        println!("\n## end to end: failing test → patch → passing test");
        println!(
            "{:<44} {:>10.2} ms",
            "scripted agentls task (LSP, 4 model turns)",
            ms(task)
        );
        println!(
            "{:<44} {:>10.2} ms",
            "running the suite twice by hand (peer)",
            ms(by_hand)
        );
    });
}

const CALC: &str = "def add(a, b):\n    return a - b\n";
const TEST_CALC: &str = "import unittest\nfrom calc import add\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n";

fn write_project(dir: &Path) {
    std::fs::write(dir.join("calc.py"), CALC).unwrap();
    std::fs::write(dir.join("test_calc.py"), TEST_CALC).unwrap();
}

async fn scripted_task(python: &str) -> Duration {
    use support::fixture::Fixture;
    use support::lsp_client::ClientOptions;
    use support::model_server::Reply;
    let test = json!({"command": [python, "-m", "unittest", "-q", "test_calc"]});
    let fix = "*** Begin Patch\n*** Update File: calc.py\n@@\n def add(a, b):\n-    return a - b\n+    return a + b\n*** End Patch\n";
    let fixture = Fixture::new(
        "chat",
        &[("calc.py", CALC), ("test_calc.py", TEST_CALC)],
        vec![
            Reply::tool_call("shell", test.clone()),
            Reply::tool_call("apply_patch", json!({"input": fix})),
            Reply::tool_call("shell", test),
            Reply::text("fixed"),
        ],
    )
    .await;
    let prefix = Path::new(python).parent().and_then(Path::parent).unwrap();
    let config = fixture.home().join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "{text}\n[sandbox_workspace_write]\nreadable_roots = [{:?}]\n",
            prefix
        ),
    )
    .unwrap();
    let mut client = fixture.client(ClientOptions::default()).await;
    let started = Instant::now();
    let task = client.start_task(json!({"prompt": "fix"})).await;
    let finished = client.wait_finished(&task).await;
    let elapsed = started.elapsed();
    assert_eq!(finished["status"], "completed");
    elapsed
}

fn python() -> String {
    let output = Command::new("python3")
        .args([
            "-c",
            "import os, sys; print(os.path.realpath(sys.executable))",
        ])
        .output()
        .expect("python3");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

fn median(mut measure: impl FnMut(usize) -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..scale().rounds).map(&mut measure).collect();
    times.sort();
    times[times.len() / 2]
}

fn per_spawn(mut spawn: impl FnMut()) -> Duration {
    let started = Instant::now();
    for _ in 0..scale().spawns {
        spawn();
    }
    started.elapsed() / scale().spawns as u32
}

fn ms(time: Duration) -> f64 {
    time.as_secs_f64() * 1000.0
}

fn generate_tree(root: &Path, dirs: usize, files_per_dir: usize) {
    for d in 0..dirs {
        let dir = root.join(format!("pkg{:03}/mod{d}", d % 37));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..files_per_dir {
            std::fs::write(
                dir.join(format!("file{f}.rs")),
                format!("// {d}/{f}\npub fn f{f}() -> u32 {{ {f} }}\n"),
            )
            .unwrap();
        }
    }
}

fn count_files(root: &Path) -> usize {
    let mut count = 0;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(entry.path()),
                Ok(_) => count += 1,
                Err(_) => {}
            }
        }
    }
    count
}

fn git(work_tree: &Path, git_dir: Option<&Path>, args: &[&str]) {
    let mut command = Command::new("git");
    if let Some(git_dir) = git_dir {
        command.arg(format!("--git-dir={}", git_dir.display()));
        command.arg(format!("--work-tree={}", work_tree.display()));
    }
    let status = command
        .args(args)
        .current_dir(work_tree)
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .status()
        .expect("git");
    assert!(status.success(), "git {args:?} failed");
}

fn commit_all(work_tree: &Path, git_dir: Option<&Path>) {
    git(work_tree, git_dir, &["add", "-A"]);
    git(
        work_tree,
        git_dir,
        &["commit", "-q", "--no-gpg-sign", "-m", "tree"],
    );
}

fn home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
}
