//! The command-line tools: `agentls apply-patch` and `agentls exec`.

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
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "proposal");
    assert_eq!(last["files"][0]["path"], "a.txt");
    assert_eq!(
        last["files"][0]["diff"],
        "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+2\n"
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
        let proposal: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        let made = proposal["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "made.txt");
        assert_eq!(made, expect_made, "{flag:?}: {stdout}");
        assert_eq!(fixture.disk("made.txt"), None, "exec never writes the tree");
    }
}
