//! The files in examples/ are checked by the tools their users' engines trust:
//! actionlint for the GitHub Actions workflow and kubernetes-validate (strict, against the
//! schema of a current Kubernetes) for the Job — both installed by
//! scripts/install-test-deps.sh. Each validator is also shown a broken copy, so a
//! validator that passes everything fails here.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const KUBERNETES_VERSION: &str = "1.37.0";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn validator(name: &str) -> PathBuf {
    let path = repo().join("target/test-deps/validators/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-test-deps.sh",
        path.display()
    );
    path
}

fn run(program: &Path, args: &[&str], file: &Path) -> Output {
    Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `text` with `from` replaced, written next to a scratch copy's name.
fn broken_copy(dir: &Path, name: &str, text: &str, from: &str, to: &str) -> PathBuf {
    assert!(text.contains(from), "the example no longer holds {from:?}");
    let path = dir.join(name);
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path
}

#[test]
fn the_github_actions_example_passes_actionlint() {
    let actionlint = validator("actionlint");
    let workflow = repo().join("examples/ci/github-actions.yml");
    let checked = run(&actionlint, &[], &workflow);
    assert!(checked.status.success(), "{}", said(&checked));

    let text = std::fs::read_to_string(&workflow).unwrap();
    assert!(
        text.contains(r#"--push origin --ref "$ATTEMPT_REF""#)
            && text
                .contains("ATTEMPT_REF: refs/agentls/${{ github.run_id }}/${{ matrix.attempt }}"),
        "each matrix job pushes its attempt under the run's prefix"
    );
    let scratch = tempfile::tempdir().unwrap();
    // An action whose runtime GitHub has retired (node20) is refused.
    let outdated = broken_copy(
        scratch.path(),
        "outdated.yml",
        &text,
        "actions/checkout@v5",
        "actions/checkout@v4",
    );
    let refused = run(&actionlint, &[], &outdated);
    assert!(!refused.status.success(), "{}", said(&refused));
    assert!(said(&refused).contains("checkout@v4"), "{}", said(&refused));
}

#[test]
fn the_kubernetes_job_example_is_a_valid_indexed_job() {
    let validate = validator("kubernetes-validate");
    let job = repo().join("examples/k8s/attempts-job.yaml");
    let args = ["--strict", "-k", KUBERNETES_VERSION];
    let checked = run(&validate, &args, &job);
    assert!(checked.status.success(), "{}", said(&checked));
    assert!(said(&checked).contains("passed"), "{}", said(&checked));

    let text = std::fs::read_to_string(&job).unwrap();
    for needed in [
        "completionMode: Indexed",
        "completions: 4",
        "parallelism: 4",
        "backoffLimit:",
        "ttlSecondsAfterFinished:",
        "initContainers:",
        "secretKeyRef:",
        "limits:",
        r#"--ref "refs/agentls/$RUN/$JOB_COMPLETION_INDEX""#,
    ] {
        assert!(text.contains(needed), "the Job lost {needed:?}");
    }
    let scratch = tempfile::tempdir().unwrap();
    let misspelt = broken_copy(
        scratch.path(),
        "misspelt.yaml",
        &text,
        "ttlSecondsAfterFinished:",
        "ttlSecondAfterFinished:",
    );
    let refused = run(&validate, &args, &misspelt);
    assert!(!refused.status.success(), "{}", said(&refused));
}
