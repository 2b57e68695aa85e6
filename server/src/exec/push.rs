//! `agentls exec --push REMOTE [--ref REF]`: the task's proposal as one commit, pushed,
//! so that attempts run on other machines (a CI matrix, a Kubernetes Job) come back to
//! the editor as git refs (`agent/importAttempts`).
//!
//! Everything happens in a temporary index (`GIT_INDEX_FILE`) and the object database:
//! the user's working tree, index and branches are never touched. Before the task runs,
//! [`PushBase::prepare`] records the commit the task starts from — `HEAD`, or, when the
//! tree is dirty, a commit on top of it holding the uncommitted state (tracked changes and
//! files not ignored), so the task's view and the commit's parent agree. After it,
//! [`PushBase::push`] applies the proposal's diff to that index (`git apply --cached`),
//! writes the tree, commits it on that parent with a message saying how the task ended
//! (`import::attempts::commit_message`) and pushes the commit to the ref, replacing what
//! was there (an attempt's ref names one attempt).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::import::attempts::git;

/// Who commits when git has no identity configured (a fresh CI runner, a container).
const FALLBACK_NAME: &str = "agentls";
const FALLBACK_EMAIL: &str = "agentls@localhost";

/// The commit a pushed attempt goes on, and the temporary index holding its tree.
pub struct PushBase {
    /// The repository's top directory.
    top: PathBuf,
    /// The workspace's place in it (`sub/dir/`, or empty): the diff's paths are relative
    /// to the workspace.
    prefix: String,
    /// `HEAD`, or the commit of the uncommitted state on top of it.
    parent: String,
    index: PathBuf,
}

/// A pushed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub remote: String,
    pub git_ref: String,
    pub commit: String,
}

impl PushBase {
    /// Records what the task starts from. Fails (before any task runs) outside a git
    /// repository or in one without a commit.
    pub fn prepare(root: &Path) -> Result<PushBase, String> {
        let top = PathBuf::from(
            git(root, &["rev-parse", "--show-toplevel"], &[], None)
                .map_err(|e| format!("--push needs a git repository: {e}"))?
                .trim(),
        );
        let prefix = git(root, &["rev-parse", "--show-prefix"], &[], None)?
            .trim()
            .to_string();
        let head = git(&top, &["rev-parse", "--verify", "HEAD^{commit}"], &[], None)
            .map_err(|_| {
                "--push writes the proposal on top of HEAD, and this repository has no \
                 commit yet; commit something first"
                    .to_string()
            })?
            .trim()
            .to_string();
        let index = std::env::temp_dir().join(format!(
            "agentls-push-{}-{}.index",
            crate::owner::process_tag(),
            std::process::id()
        ));
        let mut base = PushBase {
            top,
            prefix,
            parent: head.clone(),
            index,
        };
        // Starting from a copy of the user's index lets git reuse what it knows of the
        // files (a fresh index would hash every file of the tree).
        let real_index = git(&base.top, &["rev-parse", "--git-path", "index"], &[], None)?;
        let real_index = base.top.join(real_index.trim());
        if std::fs::copy(&real_index, &base.index).is_err() {
            base.git(&["read-tree", &head], None)?;
        }
        base.git(&["add", "--all", "--", "."], None)?;
        let tree = base.git(&["write-tree"], None)?;
        let head_tree = git(
            &base.top,
            &["rev-parse", &format!("{head}^{{tree}}")],
            &[],
            None,
        )?;
        if tree.trim() == head_tree.trim() {
            return Ok(base);
        }
        base.parent = base.commit(
            tree.trim(),
            &head,
            "agentls: the uncommitted state the task started from\n",
        )?;
        Ok(base)
    }

    /// Commits `diff` (the proposal, against the files the task started from) with
    /// `message` and pushes the commit to `git_ref` of `remote`.
    pub fn push(
        &self,
        diff: &str,
        message: &str,
        remote: &str,
        git_ref: &str,
    ) -> Result<Pushed, String> {
        if remote.is_empty() || remote.starts_with('-') {
            return Err(format!("`{remote}` is not a git remote"));
        }
        if !diff.is_empty() {
            let mut args = vec!["apply", "--cached", "--whitespace=nowarn"];
            let directory = format!("--directory={}", self.prefix);
            if !self.prefix.is_empty() {
                args.push(&directory);
            }
            args.push("-");
            self.git(&args, Some(diff.as_bytes())).map_err(|e| {
                format!("the proposal does not apply to the commit it started from: {e}")
            })?;
        }
        let tree = self.git(&["write-tree"], None)?;
        let commit = self.commit(tree.trim(), &self.parent, message)?;
        let refspec = format!("+{commit}:{git_ref}");
        git(&self.top, &["push", "--quiet", remote, &refspec], &[], None)
            .map_err(|e| format!("cannot push {commit} to {remote} {git_ref}: {e}"))?;
        Ok(Pushed {
            remote: remote.to_string(),
            git_ref: git_ref.to_string(),
            commit,
        })
    }

    /// Git with the temporary index.
    fn git(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<String, String> {
        git(
            &self.top,
            args,
            &[("GIT_INDEX_FILE", self.index.as_os_str())],
            stdin,
        )
    }

    fn commit(&self, tree: &str, parent: &str, message: &str) -> Result<String, String> {
        let identity_known = git(&self.top, &["var", "GIT_COMMITTER_IDENT"], &[], None).is_ok()
            && git(&self.top, &["var", "GIT_AUTHOR_IDENT"], &[], None).is_ok();
        let fallback: &[(&str, &OsStr)] = &[
            ("GIT_AUTHOR_NAME", OsStr::new(FALLBACK_NAME)),
            ("GIT_AUTHOR_EMAIL", OsStr::new(FALLBACK_EMAIL)),
            ("GIT_COMMITTER_NAME", OsStr::new(FALLBACK_NAME)),
            ("GIT_COMMITTER_EMAIL", OsStr::new(FALLBACK_EMAIL)),
        ];
        let env = if identity_known { &[][..] } else { fallback };
        let commit = git(
            &self.top,
            &["commit-tree", tree, "-p", parent, "-F", "-"],
            env,
            Some(message.as_bytes()),
        )?;
        Ok(commit.trim().to_string())
    }
}

impl Drop for PushBase {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.index);
    }
}
