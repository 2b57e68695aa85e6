//! Where a diff comes from: text, a file, an http(s) URL, a git ref of the workspace's
//! repository, or a Codex cloud task payload (whose `output_diff` is the diff).
//! Git is run as a subprocess: it is on every machine that has the repositories we read.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;

use crate::protocol::ImportDiffParams;

/// Largest diff accepted from a URL; bigger bodies are refused, not truncated.
const MAX_DOWNLOAD_BYTES: usize = 64 << 20;
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_REDIRECTS: usize = 5;

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Text(String),
    Path(PathBuf),
    Url(String),
    /// A ref (`origin/cloud-task`) or a range (`main..feature`, `a...b`).
    GitRef(String),
    CloudTask(Value),
}

impl Source {
    /// The CLI's SOURCE: `-` is handled by the caller; `git:REF`; an http(s) URL; a file.
    pub fn from_argument(argument: &str) -> Source {
        if let Some(git_ref) = argument.strip_prefix("git:") {
            Source::GitRef(git_ref.to_string())
        } else if argument.starts_with("http://") || argument.starts_with("https://") {
            Source::Url(argument.to_string())
        } else {
            Source::Path(PathBuf::from(argument))
        }
    }

    /// The one source `agent/importDiff` names; an error unless exactly one is given.
    pub fn from_params(params: ImportDiffParams) -> Result<Source, String> {
        let sources: Vec<Source> = [
            params.diff.map(Source::Text),
            params.path.map(|p| Source::Path(PathBuf::from(p))),
            params.url.map(Source::Url),
            params.git_ref.map(Source::GitRef),
            params.cloud_task.map(Source::CloudTask),
        ]
        .into_iter()
        .flatten()
        .collect();
        match <[Source; 1]>::try_from(sources) {
            Ok([source]) => Ok(source),
            Err(given) => Err(format!(
                "agent/importDiff takes exactly one of `diff`, `path`, `url`, `gitRef`, \
                 `cloudTask`; got {}",
                given.len()
            )),
        }
    }

    /// A few words for task titles and messages.
    pub fn describe(&self) -> String {
        match self {
            Source::Text(_) => "diff text".into(),
            Source::Path(path) => path.display().to_string(),
            Source::Url(url) => url.clone(),
            Source::GitRef(git_ref) => format!("git {git_ref}"),
            Source::CloudTask(payload) => {
                let id = payload.pointer("/task/id").and_then(Value::as_str);
                format!("cloud task {}", id.unwrap_or("(no id)"))
            }
        }
    }
}

/// The diff text of `source`; `root` resolves relative paths and is the repository for
/// git refs. A file or URL holding a cloud task payload (JSON) yields its diff.
pub async fn load(source: &Source, root: &Path) -> Result<String, String> {
    let text = match source {
        Source::Text(text) => text.clone(),
        Source::Path(path) => {
            let path = root.join(path);
            tokio::fs::read_to_string(&path)
                .await
                .map_err(|e| format!("cannot read the diff {}: {e}", path.display()))?
        }
        Source::Url(url) => download(url).await?,
        Source::GitRef(git_ref) => git_diff(root, git_ref).await?,
        Source::CloudTask(payload) => return cloud_task_diff(payload),
    };
    if text.trim_start().starts_with('{')
        && let Ok(payload) = serde_json::from_str::<Value>(&text)
    {
        return cloud_task_diff(&payload);
    }
    Ok(text)
}

async fn download(url: &str) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .timeout(DOWNLOAD_TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        .user_agent(concat!("agentls/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot start an HTTP client: {e}"))?;
    let failed = |e: reqwest::Error| format!("cannot download {url}: {e}");
    let response = client.get(url).send().await.map_err(failed)?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!(
            "cannot download {url}: the server answered {status}"
        ));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_DOWNLOAD_BYTES as u64)
    {
        return Err(too_big(url));
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk.map_err(failed)?);
        if body.len() > MAX_DOWNLOAD_BYTES {
            return Err(too_big(url));
        }
    }
    String::from_utf8(body).map_err(|_| format!("{url} is not UTF-8 text, so not a diff"))
}

fn too_big(url: &str) -> String {
    format!(
        "{url} is larger than {} MiB; download it and import the file instead",
        MAX_DOWNLOAD_BYTES >> 20
    )
}

/// `git diff` of a ref against its merge base with HEAD (what the ref's branch changed),
/// or of a range as given. Full blob ids, so a 3-way merge finds the base.
async fn git_diff(root: &Path, git_ref: &str) -> Result<String, String> {
    if git_ref.starts_with('-') {
        return Err(format!("`{git_ref}` is not a git ref"));
    }
    let range = if git_ref.contains("..") {
        git_ref.to_string()
    } else {
        format!("HEAD...{git_ref}")
    };
    let diff = git(
        root,
        &[
            "diff",
            "--full-index",
            "-M",
            "--no-color",
            "--no-ext-diff",
            &range,
            "--",
        ],
    )
    .await?;
    if diff.is_empty() {
        return Err(format!(
            "git diff {range} is empty: the ref changes nothing"
        ));
    }
    Ok(diff)
}

/// What `git -C root <args>` prints; Err says what failed, with git's own message. The
/// caller makes sure no user-given argument can be taken for an option.
pub async fn git(root: &Path, args: &[&str]) -> Result<String, String> {
    let output = tokio::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .await
        .map_err(|e| format!("cannot run git: {e}"))?;
    let command = format!("git {}", args.join(" "));
    if !output.status.success() {
        return Err(format!(
            "{command} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    String::from_utf8(output.stdout).map_err(|_| format!("{command} printed non-UTF-8 text"))
}

/// The diff of a cloud task payload, or the error the payload reports.
pub fn cloud_task_diff(payload: &Value) -> Result<String, String> {
    for turn in ["current_diff_task_turn", "current_assistant_turn"] {
        if let Some(error) = payload.get(turn).and_then(|t| t.get("error")) {
            let code = error.get("code").and_then(Value::as_str).unwrap_or("error");
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message");
            return Err(format!("the cloud task failed ({code}): {message}"));
        }
    }
    let items = ["current_diff_task_turn", "current_assistant_turn"]
        .into_iter()
        .filter_map(|turn| payload.pointer(&format!("/{turn}/output_items")))
        .filter_map(Value::as_array)
        .flatten();
    for item in items {
        let diff = match item.get("type").and_then(Value::as_str) {
            Some("output_diff") => item.get("diff"),
            _ => item.pointer("/output_diff/diff"),
        };
        if let Some(diff) = diff.and_then(Value::as_str) {
            return Ok(diff.to_string());
        }
    }
    Err("the cloud task payload has no `output_diff`: the task produced no changes".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        const FIXTURES: &str = "shared/conformance/codex-cloud-task";
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = manifest_dir
            .ancestors()
            .flat_map(|dir| [dir.join(FIXTURES), dir.join("..").join(FIXTURES)])
            .find(|candidate| candidate.is_dir())
            .unwrap_or_else(|| panic!("no {FIXTURES} folder above {}", manifest_dir.display()));
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_str(&text).expect("fixture is JSON")
    }

    #[test]
    fn a_cloud_task_yields_its_output_diff() {
        let diff = cloud_task_diff(&fixture("task_details_with_diff.json"));
        assert_eq!(
            diff.as_deref(),
            Ok("diff --git a/src/main.rs b/src/main.rs\n+fn main() { println!(\"hi\"); }\n")
        );
    }

    #[test]
    fn a_failed_cloud_task_reports_its_error() {
        let error = cloud_task_diff(&fixture("task_details_with_error.json"));
        assert_eq!(
            error,
            Err("the cloud task failed (APPLY_FAILED): Patch could not be applied".into())
        );
    }

    #[test]
    fn cli_arguments_name_their_source() {
        assert_eq!(
            Source::from_argument("git:origin/x"),
            Source::GitRef("origin/x".into())
        );
        assert_eq!(
            Source::from_argument("https://h/p.diff"),
            Source::Url("https://h/p.diff".into())
        );
        assert_eq!(
            Source::from_argument("p.diff"),
            Source::Path("p.diff".into())
        );
    }
}
