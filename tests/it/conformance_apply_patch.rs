//! Codex's apply_patch conformance scenarios, run through `apply_to_dir`.
//!
//! Each scenario directory holds `input/` (absent = empty), `patch.txt` and `expected/`: the
//! patch is applied to a temp copy of `input/` and the whole tree must then equal
//! `expected/`, entries and bytes. agentls applies patches atomically, so where Codex keeps
//! the effect of hunks before a failing one (scenario 015) the tree must equal `input/`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use agentls::patch::apply_to_dir;

use crate::support::tree::{Entry, copy_tree, snapshot};

const SCENARIOS: &str = "shared/conformance/codex-apply-patch";
/// Scenarios where Codex leaves a partial result that agentls must not.
const ATOMIC_DIFFERENCE: &str = "015_";

/// The scenario folder: `shared/` next to the repository root locally, next to the clone in CI.
fn scenarios_dir() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .flat_map(|dir| [dir.join(SCENARIOS), dir.join("..").join(SCENARIOS)])
        .find(|candidate| candidate.is_dir())
        .unwrap_or_else(|| {
            panic!(
                "no {SCENARIOS} folder above {}: the conformance scenarios are missing",
                manifest_dir.display()
            )
        })
}

/// Runs one scenario; `Err` describes how it went wrong.
fn run(scenario: &Path) -> Result<(), String> {
    let name = scenario.file_name().unwrap().to_string_lossy().to_string();
    let work = tempfile::tempdir().unwrap();
    copy_tree(&scenario.join("input"), work.path());
    let patch = fs::read_to_string(scenario.join("patch.txt")).unwrap();

    let result = apply_to_dir(work.path(), &patch);

    let atomic_difference = name.starts_with(ATOMIC_DIFFERENCE);
    let expected = scenario.join(if atomic_difference {
        "input"
    } else {
        "expected"
    });
    // A scenario whose expected tree is its input tree expects the patch to be refused.
    let leaves_input_alone = snapshot(&expected) == snapshot(&scenario.join("input"));
    let must_fail = name.contains("rejects") || name.contains("fails") || leaves_input_alone;
    match &result {
        Ok(_) if must_fail => return Err("the patch was accepted, but it must be rejected".into()),
        Err(error) if !must_fail => return Err(format!("the patch was rejected: {error}")),
        Err(error) if error.to_string().trim().is_empty() => {
            return Err("the error message is empty".into());
        }
        _ => {}
    }
    let (actual, expected) = (snapshot(work.path()), snapshot(&expected));
    if actual != expected {
        return Err(format!(
            "tree differs:\n  got      {:?}\n  expected {:?}",
            readable(&actual),
            readable(&expected)
        ));
    }
    Ok(())
}

fn readable(tree: &BTreeMap<PathBuf, Entry>) -> Vec<String> {
    tree.iter()
        .map(|(path, entry)| match entry {
            Entry::File(bytes) => {
                format!("{} = {:?}", path.display(), String::from_utf8_lossy(bytes))
            }
            other => format!("{}: {other:?}", path.display()),
        })
        .collect()
}

#[test]
fn every_codex_scenario_passes() {
    let mut scenarios: Vec<PathBuf> = fs::read_dir(scenarios_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("patch.txt").is_file())
        .collect();
    scenarios.sort();
    assert!(
        scenarios.len() >= 23,
        "expected at least 23 scenarios, found {}",
        scenarios.len()
    );

    let failures: Vec<String> = scenarios
        .iter()
        .filter_map(|scenario| {
            run(scenario)
                .err()
                .map(|why| format!("{}: {why}", scenario.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    // Past libtest's capture, so the count shows in every CI log.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "apply_patch conformance: {} of {} scenarios match",
        scenarios.len() - failures.len(),
        scenarios.len()
    );
    assert!(
        failures.is_empty(),
        "failed scenarios:\n{}",
        failures.join("\n")
    );
}
