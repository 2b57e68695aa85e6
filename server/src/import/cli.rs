//! `agentls apply [--check] [--3way] [--reject] SOURCE`: a diff placed against the files
//! on disk and written to the working tree, for use outside an editor.
//!
//! All files or none: everything is placed in memory first and written only if every
//! change places, each file through a temp file renamed over it, and files already
//! written are put back if a later write fails ([`crate::patch::DirSource::commit`], from
//! the bytes the plan read; unsynced, like `git apply`, so a large diff is not one disk
//! flush per file). With
//! `--reject`, what places is written and every other hunk goes to `<file>.rej`, as
//! `git apply --reject` does.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use super::blobs::BlobReader;
use super::place::Outcome;
use super::plan::{self, FileOutcome, Tree};
use super::{FilePatch, parse_diff};
use crate::patch::{self, DirSource, PatchSource};

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Report only; write nothing.
    pub check: bool,
    /// Merge against the `index` base blob when a hunk does not place.
    pub three_way: bool,
    /// Write what places; the rest goes to `.rej` files.
    pub reject: bool,
}

/// What `apply` did: the report to print and whether everything applied.
#[derive(Debug, Clone)]
pub struct Report {
    pub text: String,
    pub clean: bool,
}

/// The working tree under `root`, reading through the same path checks as `apply-patch`.
struct DiskTree {
    blobs: BlobReader,
    files: DirSource,
}

impl Tree for DiskTree {
    fn read(&self, path: &str) -> Result<Option<String>, String> {
        self.files.read(path)
    }

    fn blob(&self, id: &str) -> Result<String, String> {
        self.blobs.read(id)
    }
}

/// Applies `diff` to the files under `root`. `Err` is for input that is not a diff or a
/// write that failed; hunks that do not place are in the report.
pub fn apply(root: &Path, diff: &str, options: Options) -> Result<Report, String> {
    let patches = parse_diff(diff).map_err(|e| e.to_string())?;
    // An apply keeps what it reads: the commit puts those bytes back if a write fails.
    let files = if options.check {
        DirSource::new(root)
    } else {
        DirSource::keeping_reads(root)
    };
    let files = files.map_err(|e| e.to_string())?;
    let tree = DiskTree {
        blobs: BlobReader::new(root),
        files,
    };
    let mut text = String::new();
    let mut clean = true;
    let mut writes = Writes::default();
    // Each file's report line and writes are taken as it is placed; its texts are dropped
    // then (what is left to write is the new texts).
    plan::plan_each(&patches, &tree, options.three_way, |mut outcome| {
        report_outcome(&patches, &outcome, &mut text);
        clean &= outcome.is_clean();
        if !options.check {
            writes.add(&patches, &mut outcome);
        }
    });
    if options.check {
        return Ok(Report { text, clean });
    }
    if !clean && !options.reject {
        text.push_str(
            "nothing written: the diff does not apply as a whole (--reject applies what does)\n",
        );
        return Ok(Report { text, clean });
    }
    tree.files
        .commit(&writes.changes, patch::Durability::Unsynced)
        .map_err(|e| e.to_string())?;
    set_modes(root, &writes.modes, &mut text);
    Ok(Report { text, clean })
}

/// The files to write, gathered section by section: every write of the plan, plus `.rej`
/// files for what did not place.
#[derive(Default)]
struct Writes {
    changes: Vec<patch::FileWrite>,
    /// Where each path's change is in `changes`: a later section of the diff may write a
    /// path again, and its text is the final one.
    position: HashMap<String, usize>,
    /// The git modes to set (target, mode), of sections that applied cleanly.
    modes: Vec<(String, String)>,
}

impl Writes {
    /// Takes `outcome`'s writes (and their texts) and mode.
    fn add(&mut self, patches: &[FilePatch], outcome: &mut FileOutcome) {
        let patch = &patches[outcome.patch];
        for write in &mut outcome.writes {
            let change = match write.new.take() {
                Some(contents) => patch::FileWrite::Write {
                    path: write.path.clone(),
                    contents,
                },
                None => patch::FileWrite::Delete {
                    path: write.path.clone(),
                },
            };
            match self.position.get(&write.path) {
                Some(&at) => self.changes[at] = change,
                None => {
                    self.position.insert(write.path.clone(), self.changes.len());
                    self.changes.push(change);
                }
            }
        }
        if !outcome.conflicts.is_empty() {
            self.changes.push(patch::FileWrite::Write {
                path: format!("{}.rej", patch.target()),
                contents: rejects(patch, outcome),
            });
        }
        if outcome.is_clean()
            && let Some(mode) = outcome.mode.take()
        {
            self.modes.push((patch.target().to_string(), mode));
        }
    }
}

/// The hunks that did not place, in unified form under a `diff a/… b/…` line, as
/// `git apply --reject` writes them.
fn rejects(patch: &FilePatch, outcome: &FileOutcome) -> String {
    let target = patch.target();
    let mut text = format!("diff a/{target} b/{target}\t(rejected hunks)\n");
    let mut listed = Vec::new();
    for conflict in &outcome.conflicts {
        if conflict.hunks.is_empty() {
            let _ = writeln!(text, "# {}", conflict.reason);
        }
        for &i in &conflict.hunks {
            if !listed.contains(&i) {
                listed.push(i);
                text.push_str(&patch.hunks[i].to_unified());
            }
        }
    }
    text
}

/// Git's executable bit; other modes (symlinks, submodules) are reported, not set.
fn set_modes(root: &Path, modes: &[(String, String)], report: &mut String) {
    for (path, mode) in modes {
        if let Err(problem) = set_mode(&root.join(path), mode) {
            let _ = writeln!(report, "mode {mode} of {path} not set: {problem}");
        }
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let executable = match mode {
        "100755" => true,
        "100644" => false,
        other => {
            return Err(format!(
                "agentls only sets modes 100644 and 100755, not {other}"
            ));
        }
    };
    let metadata = std::fs::metadata(path).map_err(|e| e.to_string())?;
    let mut permissions = metadata.permissions();
    let bits = permissions.mode();
    let wanted = if executable {
        bits | ((bits & 0o444) >> 2)
    } else {
        bits & !0o111
    };
    if wanted != bits {
        permissions.set_mode(wanted);
        std::fs::set_permissions(path, permissions).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, mode: &str) -> Result<(), String> {
    Err(format!(
        "file modes ({mode}) are not supported on this platform"
    ))
}

/// One line per file (what happened, how hunks placed), then one per conflict.
pub fn report(patches: &[FilePatch], outcomes: &[FileOutcome]) -> String {
    let mut text = String::new();
    for outcome in outcomes {
        report_outcome(patches, outcome, &mut text);
    }
    text
}

/// [`report`]'s lines for one file.
fn report_outcome(patches: &[FilePatch], outcome: &FileOutcome, text: &mut String) {
    let patch = &patches[outcome.patch];
    let _ = writeln!(text, "{}", file_line(patch, outcome));
    if let Some(mode) = &outcome.mode {
        let _ = writeln!(text, "  mode {mode}");
    }
    if let Some(problem) = &outcome.problem {
        let _ = writeln!(text, "  error: {problem}");
    }
    for conflict in &outcome.conflicts {
        let _ = writeln!(
            text,
            "  conflict at {}:{}: {}",
            outcome.conflict_path,
            conflict.start + 1,
            conflict.reason
        );
    }
}

fn file_line(patch: &FilePatch, outcome: &FileOutcome) -> String {
    use super::FileOp;
    let target = patch.target();
    let what = match (patch.op, patch.old_path.as_deref()) {
        (FileOp::Create, _) => format!("create {target}"),
        (FileOp::Delete, _) => format!("delete {target}"),
        (FileOp::Rename { .. }, Some(old)) => format!("rename {old} → {target}"),
        (FileOp::Copy { .. }, Some(old)) => format!("copy {old} → {target}"),
        _ => format!("modify {target}"),
    };
    let placements = summarize_outcomes(&outcome.outcomes);
    if placements.is_empty() {
        what
    } else {
        format!("{what}: {placements}")
    }
}

/// "3 hunks: 1 exact, 1 at offset +4, 1 ignoring whitespace".
pub fn summarize_outcomes(outcomes: &[Outcome]) -> String {
    if outcomes.is_empty() {
        return String::new();
    }
    let mut parts = Vec::new();
    let count = |wanted: fn(&Outcome) -> bool| outcomes.iter().filter(|o| wanted(o)).count();
    let exact = count(|o| *o == Outcome::Exact);
    if exact > 0 {
        parts.push(format!("{exact} exact"));
    }
    for outcome in outcomes {
        match outcome {
            Outcome::Offset(by) => parts.push(format!("1 at offset {by:+}")),
            Outcome::Whitespace(by) => parts.push(format!("1 ignoring whitespace (offset {by:+})")),
            _ => {}
        }
    }
    let merged = count(|o| *o == Outcome::Merged);
    if merged > 0 {
        parts.push(format!("{merged} by 3-way merge"));
    }
    let conflicts = count(|o| *o == Outcome::Conflict);
    if conflicts > 0 {
        parts.push(format!("{conflicts} in conflict"));
    }
    let noun = if outcomes.len() == 1 { "hunk" } else { "hunks" };
    format!("{} {noun}: {}", outcomes.len(), parts.join(", "))
}
