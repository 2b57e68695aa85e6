//! Shared test support: a scripted model server and a scripted editor.
#![allow(dead_code)]

pub mod cli;
pub mod fixture;
pub mod lsp_client;
pub mod model_server;

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
