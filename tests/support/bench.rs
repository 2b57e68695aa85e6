//! What the benchmarks share: whether this is a real run, and the statistic they report.

use std::time::Duration;

/// `cargo bench` passes `--bench`; `cargo test --all-targets` does not, and then each
/// benchmark runs once, small, so that it keeps compiling and its assertions hold.
pub fn full_run() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// The middle sample (the upper one of an even count).
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
