//! A kill -9 in the middle of an accept the server writes itself (a large file the editor
//! does not have open): the file is the old text or the new one, never half of either,
//! and once a server starts again no temporary file of ours is left in the user's tree.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::fixture::Fixture;
use crate::support::lsp_client::{ClientOptions, LspClient};

/// Large enough that the write takes a while (the issue measured leftovers on 20 MB).
const LINES: usize = 50_000;
const KILLS: usize = 16;

fn old_text() -> String {
    (0..LINES)
        .map(|n| format!("line {n:06} of a large file that the editor does not have open\n"))
        .collect()
}

/// Changes the first and the last line, so the whole file is rewritten: the diff and the
/// text it makes.
fn diff(old: &str) -> (String, String) {
    let lines: Vec<&str> = old.lines().collect();
    let (first, last) = (lines[0], lines[LINES - 1]);
    let middle: String = old.split_inclusive('\n').skip(1).take(LINES - 2).collect();
    let diff = format!(
        "--- a/big.txt\n+++ b/big.txt\n@@ -1 +1 @@\n-{first}\n+FIRST\n@@ -{LINES} +{LINES} @@\n-{last}\n+LAST\n"
    );
    (diff, format!("FIRST\n{middle}LAST\n"))
}

/// Imports the diff and asks for all its hunks to be accepted; returns once the request
/// is sent.
async fn accept_all(client: &mut LspClient, diff: &str) {
    let task = client
        .request("agent/importDiff", json!({"diff": diff}))
        .await
        .expect("agent/importDiff failed")["taskId"]
        .as_str()
        .unwrap()
        .to_string();
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    let proposal = client
        .request("agent/getProposal", json!({"taskId": task}))
        .await
        .unwrap();
    let hunks: Vec<_> = proposal["files"][0]["hunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hunkId"].clone())
        .collect();
    assert_eq!(hunks.len(), 2, "{proposal:#}");
    // Sent raw, not awaited: the kill is timed from when the request leaves.
    let request = json!({"jsonrpc": "2.0", "id": 999, "method": "agent/resolveHunks",
        "params": {"taskId": task, "accept": hunks}});
    let body = request.to_string();
    client
        .send_raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes())
        .await;
}

/// The tag of the record of written directories a server left in `home` (the one it
/// names its temporary files with), if one did.
fn record_tag(home: &Path) -> Option<String> {
    std::fs::read_dir(home.join("writes"))
        .ok()?
        .flatten()
        .find_map(|e| Some(e.file_name().to_str()?.strip_suffix(".dirs")?.to_owned()))
}

async fn delete_tasks(client: &mut LspClient) {
    let tasks = client.request("agent/listTasks", json!({})).await.unwrap();
    for task in tasks["tasks"].as_array().unwrap() {
        client
            .request("agent/deleteTask", json!({"taskId": task["taskId"]}))
            .await
            .unwrap();
    }
}

fn entries(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_kill_during_an_accept_leaves_the_old_file_or_the_new_and_no_temporary_file() {
    let old = old_text();
    let (diff, new) = diff(&old);
    let fixture = Fixture::new("chat", &[("big.txt", &old)], vec![]).await;
    let big = fixture.root().join("big.txt");

    // How long an accept takes to reach the disk, to spread the kills over it.
    let mut client = fixture.client(ClientOptions::default()).await;
    accept_all(&mut client, &diff).await;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(20);
    while std::fs::read(&big).unwrap() != new.as_bytes() {
        assert!(
            Instant::now() < deadline,
            "the accept never reached the disk"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let accept_time = started.elapsed();
    delete_tasks(&mut client).await;
    client.shutdown().await;

    // The file is written at the end of the accept, which takes a little more or less
    // time each run: each kill aims at the moment between the last one that came too
    // early (old text) and the last one that came too late (new text).
    let (mut early, mut late) = (Duration::ZERO, accept_time.mul_f64(1.5));
    let (mut kept_old, mut got_new, mut stray_before_restart) = (0, 0, 0);
    for kill in 0..KILLS {
        std::fs::write(&big, &old).unwrap();
        let mut client = fixture.client(ClientOptions::default()).await;
        accept_all(&mut client, &diff).await;
        let at = (early + late) / 2;
        tokio::time::sleep(at).await;
        client.kill().await;
        if entries(&fixture.root()).len() > 1 {
            stray_before_restart += 1;
        }

        let text = std::fs::read(&big).unwrap();
        let written = text == new.as_bytes();
        if written {
            got_new += 1;
            late = at;
            // The write may take longer next time.
            early = early.mul_f64(0.8);
        } else if text == old.as_bytes() {
            kept_old += 1;
            early = at;
            // The write may come later next time.
            if early > late.mul_f64(0.9) {
                late = late.mul_f64(1.5);
            }
        } else {
            panic!(
                "kill {kill} at {at:?} left big.txt half-written ({} of {} or {} bytes)",
                text.len(),
                old.len(),
                new.len()
            );
        }
        let tag = record_tag(fixture.home());
        if written {
            let record = tag.as_ref().map(|tag| {
                std::fs::read_to_string(fixture.home().join(format!("writes/{tag}.dirs"))).unwrap()
            });
            assert!(
                record.is_some_and(|r| r.lines().any(|l| Path::new(l) == fixture.root())),
                "the server wrote big.txt without recording its directory first"
            );
        }
        // The named temporary file exists only between two system calls, which a kill
        // rarely hits: stand in for one, named as the killed server names them, so that
        // the cleanup at restart is exercised whenever the server got to write.
        // Only in a directory the record lists: a kill between the record's creation and
        // its first line leaves no temporary file anywhere, and nothing to clean up.
        let recorded = tag.as_ref().is_some_and(|tag| {
            std::fs::read_to_string(fixture.home().join(format!("writes/{tag}.dirs")))
                .is_ok_and(|r| r.lines().any(|l| Path::new(l) == fixture.root()))
        });
        if let Some(tag) = tag.filter(|_| recorded) {
            let name = format!(".agentls-write-{tag}-999999.tmp");
            std::fs::write(fixture.root().join(name), "partial").unwrap();
        }
        // A restart cleans up what the killed server left.
        let mut client = fixture.client(ClientOptions::default()).await;
        assert_eq!(
            entries(&fixture.root()),
            ["big.txt"],
            "kill {kill} at {at:?}: a temporary file survived the restart"
        );
        // Each import is a task the next server loads again (3 MB texts): delete it, so
        // that every start stays as quick as the first.
        delete_tasks(&mut client).await;
        client.shutdown().await;
    }
    eprintln!(
        "{KILLS} kills over a {accept_time:?} accept: {kept_old} old, {got_new} new, \
         {stray_before_restart} with a temporary file until the restart"
    );
}
