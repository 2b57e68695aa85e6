//! Shared test support: a scripted model server and a scripted editor, review and
//! file-tree helpers, and the property tests' generators.
#![allow(dead_code)]

pub mod bench;
pub mod cli;
pub mod fixture;
pub mod lsp_client;
pub mod model_server;
pub mod props;
pub mod review;
pub mod tree;

/// The Python running these tests, by its real path, and the prefix a sandboxed command
/// must be allowed to read for it to start.
pub fn python() -> (String, String) {
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            "import os, sys; print(os.path.realpath(sys.executable)); print(sys.base_prefix)",
        ])
        .output()
        .expect("python3 is needed for the sandbox and shell tool tests");
    let text = String::from_utf8(output.stdout).unwrap();
    let mut lines = text.lines().map(str::to_string);
    (lines.next().unwrap(), lines.next().unwrap())
}

/// Whether a process whose command line contains `needle` is running (spaces in the
/// needle match the NULs between arguments).
pub fn processes_running(needle: &str) -> bool {
    let needle = needle.replace(' ', "\0");
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .any(|cmdline| String::from_utf8_lossy(&cmdline).contains(&needle))
}
