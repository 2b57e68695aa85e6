//! Skills end to end: the real binary over LSP and the scripted model. SKILL.md folders in
//! the project, in `$AGENTLS_HOME/skills` and in a plugin are listed in the instructions,
//! `$name` and `startTask {skills}` put a body in the first turn, the deeper of two skills
//! with one name wins, and a skill folder outside the workspace can be read — by the tools
//! and by commands — but not changed. Also `agentls skills list`.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::cli::agentls;
use crate::support::fixture::Fixture;
use crate::support::lsp_client::ClientOptions;
use crate::support::model_server::{self, Reply};
use crate::support::review;

/// `SKILL.md` text: its front matter, then `body`.
fn skill_md(name: &str, description: &str, body: &str) -> String {
    format!(
        "---\nname: {name}\ndescription: >\n  {description}\nlicense: MIT\nmetadata:\n  version: 1\n---\n{body}"
    )
}

/// Writes a skill into `dir` (created), returning its `SKILL.md`, canonical.
fn write_skill(dir: &Path, name: &str, description: &str, body: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("SKILL.md");
    std::fs::write(&path, skill_md(name, description, body)).unwrap();
    path.canonicalize().unwrap()
}

/// What the model was told before the conversation (both wire APIs).
pub(crate) fn instructions(request: &Value) -> String {
    request["instructions"]
        .as_str()
        .or(request["messages"][0]["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The first user message of a chat request.
fn first_user_message(request: &Value) -> String {
    request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn skills_are_listed_in_the_instructions_and_dollar_name_loads_a_body() {
    let fixture = Fixture::new(
        "chat",
        &[("README.md", "# app\n")],
        vec![Reply::text("noted"), Reply::text("done")],
    )
    .await;
    let project = write_skill(
        &fixture.root().join(".agents/skills/deploy"),
        "deploy",
        "Deploys the app to staging. Use when asked to ship.",
        "Run `make deploy` and report the URL.\n",
    );
    let home_skill = write_skill(
        &fixture.home().join("skills/changelog"),
        "changelog",
        "Writes the changelog entry for a change.",
        "Add one line under ## Unreleased in CHANGELOG.md.\n",
    );
    std::fs::create_dir_all(fixture.home().join("skills/broken")).unwrap();
    std::fs::write(
        fixture.home().join("skills/broken/SKILL.md"),
        "---\ndescription: no name\n---\n",
    )
    .unwrap();
    let mut client = fixture.client(ClientOptions::default()).await;

    let (task, finished) = client.run_task("please $changelog this change").await;
    assert_eq!(finished["status"], "completed", "{finished}");
    let request = &fixture.model.requests()[0];
    let text = instructions(request);
    assert!(
        text.contains(
            "- deploy: Deploys the app to staging. Use when asked to ship. (file: .agents/skills/deploy/SKILL.md)"
        ),
        "a project skill, by its workspace path: {text}"
    );
    assert!(
        text.contains(&format!(
            "- changelog: Writes the changelog entry for a change. (file: {})",
            home_skill.display()
        )),
        "a skill of $AGENTLS_HOME, by its absolute path: {text}"
    );
    assert!(
        !text.contains("make deploy") && !text.contains("Unreleased"),
        "bodies are read when needed, not listed: {text}"
    );
    let message = first_user_message(request);
    assert!(
        message.starts_with("please $changelog this change"),
        "{message}"
    );
    assert!(
        message.contains("<skill name=\"changelog\">\nAdd one line under ## Unreleased in CHANGELOG.md.\n</skill>"),
        "$changelog puts its body in the first turn: {message}"
    );
    assert!(!message.contains("make deploy"), "{message}");
    let warned = client.warnings(&task);
    assert!(
        warned
            .iter()
            .any(|w| w.contains("broken/SKILL.md") && w.contains("no `name`")),
        "a broken skill is a warning: {warned:?}"
    );

    let task = client
        .start_task(json!({"prompt": "ship it", "skills": ["deploy", "nonesuch"]}))
        .await;
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    let message = first_user_message(&fixture.model.requests()[1]);
    assert!(
        message.contains("The user invoked the skill `deploy` (.agents/skills/deploy/SKILL.md)")
            && message.contains("Run `make deploy` and report the URL."),
        "startTask {{skills}} puts the body in the first turn: {message}"
    );
    let warned = client.warnings(&task);
    assert!(
        warned
            .iter()
            .any(|w| w.contains("no skill `nonesuch`") && w.contains("changelog, deploy")),
        "{warned:?}"
    );
    assert_eq!(project.parent().unwrap().join("SKILL.md"), project);
    client.shutdown().await;
}

#[tokio::test]
async fn the_skill_nearest_the_tasks_cwd_wins_a_name_clash() {
    let fixture = Fixture::new(
        "responses",
        &[(".git/HEAD", "ref: refs/heads/main\n"), ("app/main.py", "")],
        vec![Reply::text("ok")],
    )
    .await;
    write_skill(
        &fixture.root().join(".agents/skills/lint"),
        "lint",
        "Lints the whole repository.",
        "ruff check .\n",
    );
    write_skill(
        &fixture.root().join("app/.agents/skills/lint"),
        "lint",
        "Lints the app with its own rules.",
        "ruff check app\n",
    );
    write_skill(
        &fixture.home().join("skills/lint"),
        "lint",
        "The user's own lint.",
        "make lint\n",
    );
    let mut client = fixture.client(ClientOptions::default()).await;
    let task = client
        .start_task(json!({"prompt": "lint", "cwd": "app"}))
        .await;
    let finished = client.wait_finished(&task).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    let text = instructions(&fixture.model.requests()[0]);
    assert!(
        text.contains(
            "- lint: Lints the app with its own rules. (file: app/.agents/skills/lint/SKILL.md)"
        ),
        "{text}"
    );
    assert_eq!(text.matches("- lint:").count(), 1, "{text}");

    let listed = agentls(
        &fixture.root().join("app"),
        fixture.home(),
        &["skills", "list"],
        "",
    );
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{stdout}");
    assert!(
        stdout.starts_with("lint (project): Lints the app with its own rules.\n"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("shadowed: lint").count(), 2, "{stdout}");
    client.shutdown().await;
}

#[tokio::test]
async fn a_skill_outside_the_workspace_can_be_read_and_run_but_not_changed() {
    let fixture = Fixture::new("chat", &[("notes.txt", "notes\n")], vec![]).await;
    let skill = write_skill(
        &fixture.home().join("skills/release"),
        "release",
        "Cuts a release.",
        "Read reference.md, then run scripts/bump.sh.\n",
    );
    let dir = skill.parent().unwrap().to_path_buf();
    std::fs::write(dir.join("reference.md"), "Tag as vX.Y.Z.\n").unwrap();
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::write(dir.join("scripts/bump.sh"), "echo bumped > VERSION\n").unwrap();
    let at = |rel: &str| dir.join(rel).display().to_string();
    let patch = |op: &str, path: String| {
        format!("*** Begin Patch\n*** {op}: {path}\n+changed\n*** End Patch\n")
    };
    for reply in [
        Reply::tool_call("read_file", json!({"path": skill.display().to_string()})),
        Reply::tool_call("list_dir", json!({"path": dir.display().to_string()})),
        Reply::tool_call(
            "grep",
            json!({"pattern": "vX", "path": dir.display().to_string()}),
        ),
        Reply::tool_call(
            "apply_patch",
            json!({"input": patch("Add File", at("new.md"))}),
        ),
        Reply::tool_call(
            "apply_patch",
            json!({"input": "*** Begin Patch\n*** Delete File: ".to_string() + &at("reference.md") + "\n*** End Patch\n"}),
        ),
        Reply::tool_call(
            "read_file",
            json!({"path": fixture.home().join("config.toml").display().to_string()}),
        ),
        Reply::tool_call(
            "shell",
            json!({"command": format!("cat {} && bash {}", at("reference.md"), at("scripts/bump.sh"))}),
        ),
        Reply::tool_call(
            "shell",
            json!({"command": format!("echo sneaky >> {}", skill.display())}),
        ),
        Reply::text("released"),
    ] {
        fixture.model.push(reply);
    }
    let mut client = fixture.client(ClientOptions::default()).await;
    let (task, finished) = client.run_task("$release it").await;
    assert_eq!(finished["status"], "completed", "{finished}");

    let outputs = model_server::tool_outputs(fixture.model.requests().last().unwrap());
    assert!(
        outputs[0].contains("L9: Read reference.md, then run scripts/bump.sh."),
        "read_file reads the skill by its path: {}",
        outputs[0]
    );
    assert!(
        outputs[1].contains("reference.md") && outputs[1].contains("scripts/"),
        "{}",
        outputs[1]
    );
    assert!(
        outputs[2].contains(&format!("{}:1:Tag as vX.Y.Z.", at("reference.md"))),
        "grep names the file by its absolute path: {}",
        outputs[2]
    );
    for refused in &outputs[3..5] {
        assert!(
            refused.starts_with("error:") && refused.contains("read but not change"),
            "{refused}"
        );
    }
    assert!(
        outputs[5].contains("outside the workspace"),
        "only the skill's folder is readable, not the rest of $AGENTLS_HOME: {}",
        outputs[5]
    );
    assert!(
        outputs[6].contains("Exit code: 0") && outputs[6].contains("Tag as vX.Y.Z."),
        "commands may read the skill and run its scripts: {}",
        outputs[6]
    );
    assert!(
        !outputs[7].contains("Exit code: 0"),
        "the sandbox refuses a write to the skill: {}",
        outputs[7]
    );
    assert_eq!(
        std::fs::read_to_string(&skill).unwrap(),
        skill_md(
            "release",
            "Cuts a release.",
            "Read reference.md, then run scripts/bump.sh.\n"
        ),
        "the skill is unchanged"
    );
    assert!(dir.join("reference.md").exists() && !dir.join("new.md").exists());
    assert!(!dir.join("VERSION").exists());

    let proposal = review::proposal(&mut client, &task).await;
    let uris: Vec<&str> = proposal["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["uri"].as_str().unwrap())
        .collect();
    assert_eq!(uris.len(), 1, "{proposal:#}");
    assert!(
        uris[0].ends_with("/VERSION"),
        "the script's output is a hunk in the workspace: {uris:?}"
    );
    client.shutdown().await;
}
