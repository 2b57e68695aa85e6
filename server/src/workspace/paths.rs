//! Turning a path written by the model into a workspace-relative path, and refusing the
//! ones that would reach outside the workspace.
//!
//! The model writes paths freely: relative, absolute, with `.` and `..`, through symlinks.
//! Everything the tools touch is addressed by the normalized relative form returned here,
//! so this is the one place where escapes must be caught.

use std::fs;
use std::path::{Component, Path, PathBuf};

/// Why a path given by the model was refused. The message is shown to the model as is,
/// so it names the path, the reason and what to do instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    #[error("{path:?} contains a NUL byte; use a plain path inside the workspace")]
    Nul { path: String },
    #[error("`{path}` is outside the workspace ({root}); use a path inside it")]
    OutsideRoot { path: String, root: PathBuf },
    #[error(
        "`{path}` goes through the symlink `{link}`, which leads outside the workspace \
         (to {target}); use a path inside the workspace ({root})"
    )]
    SymlinkEscape {
        path: String,
        link: String,
        target: PathBuf,
        root: PathBuf,
    },
    #[error(
        "`{path}` is in {dir}, which you may read but not change (skill and plugin folders \
         are read-only); make your changes inside the workspace ({root})"
    )]
    ReadOnly {
        path: String,
        dir: PathBuf,
        root: PathBuf,
    },
    #[error(
        "`{path}` goes through the symlink `{link}`, whose target does not exist, so it \
         cannot be checked to stay inside the workspace; use the path it should point to"
    )]
    DanglingSymlink { path: String, link: String },
}

/// Resolves `raw` against the canonical `root`; see [`super::TaskView::resolve`].
pub(super) fn resolve(root: &Path, raw: &str) -> Result<String, PathError> {
    if raw.contains('\0') {
        return Err(PathError::Nul { path: raw.into() });
    }
    let outside = || PathError::OutsideRoot {
        path: raw.into(),
        root: root.to_path_buf(),
    };
    let candidate = Path::new(raw);
    let components = if candidate.is_absolute() {
        relative_to_root(root, candidate).ok_or_else(outside)?
    } else {
        normalize(candidate).ok_or_else(outside)?
    };
    check_symlinks(root, &components, raw)?;
    Ok(components.join("/"))
}

/// Drops `.` and folds `..` into its parent, without touching the disk (the path may not
/// exist yet). `None` when a `..` climbs above the start.
fn normalize(path: &Path) -> Option<Vec<String>> {
    let mut parts: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Normal(name) => parts.push(name.to_string_lossy().into_owned()),
        }
    }
    Some(parts)
}

/// The components of an absolute path below `root`, or `None` if it lies elsewhere.
///
/// The model may spell the root through a symlink (`/tmp` vs `/private/tmp`), so when the
/// lexical form is not under the root, the deepest existing ancestor is canonicalized and
/// compared again.
fn relative_to_root(root: &Path, absolute: &Path) -> Option<Vec<String>> {
    let lexical: PathBuf = Path::new("/").join(normalize(absolute)?.join("/"));
    if let Ok(below) = lexical.strip_prefix(root) {
        return normalize(below);
    }
    let (existing, missing_tail) = deepest_existing_ancestor(&lexical)?;
    let canonical = fs::canonicalize(existing).ok()?.join(missing_tail);
    normalize(canonical.strip_prefix(root).ok()?)
}

fn deepest_existing_ancestor(path: &Path) -> Option<(&Path, &Path)> {
    let existing = path.ancestors().find(|ancestor| ancestor.exists())?;
    Some((existing, path.strip_prefix(existing).ok()?))
}

/// Refuses the path if any existing prefix of it is a symlink resolving outside `root`.
///
/// Only symlinks need canonicalizing: a plain directory below a prefix already known to be
/// inside stays inside. Checking stops at the first prefix that cannot be inspected (it
/// does not exist, or is not a directory), since nothing below it can be traversed.
fn check_symlinks(root: &Path, components: &[String], raw: &str) -> Result<(), PathError> {
    let mut current = root.to_path_buf();
    for (index, name) in components.iter().enumerate() {
        current.push(name);
        let Ok(metadata) = fs::symlink_metadata(&current) else {
            return Ok(());
        };
        if !metadata.file_type().is_symlink() {
            continue;
        }
        let link = components[..=index].join("/");
        match fs::canonicalize(&current) {
            Ok(target) if target.starts_with(root) => {}
            Ok(target) => {
                return Err(PathError::SymlinkEscape {
                    path: raw.into(),
                    link,
                    target,
                    root: root.to_path_buf(),
                });
            }
            Err(_) => {
                return Err(PathError::DanglingSymlink {
                    path: raw.into(),
                    link,
                });
            }
        }
    }
    Ok(())
}
