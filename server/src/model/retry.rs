//! How long to wait before retrying a model request: jittered exponential backoff, or
//! what the server asked for in `Retry-After`.
//!
//! Jitter keeps several tasks that failed together (a provider hiccup) from retrying in
//! lockstep. The cap on `Retry-After` keeps a misbehaving server from parking a task for
//! hours; the user can always cancel.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use reqwest::header::HeaderMap;

/// The first retry waits about this long; each further retry doubles it.
pub(crate) const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(200);
/// No computed backoff waits longer than this.
const BACKOFF_CAP: Duration = Duration::from_secs(10);
/// No server-requested wait is honoured beyond this.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(60);

/// The wait before retry number `attempt` (1-based): `base · 2^(attempt-1)`, ±20 %, capped.
pub(crate) fn backoff(base: Duration, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    let exponential = base.saturating_mul(1 << doublings).min(BACKOFF_CAP);
    exponential
        .mul_f64(0.8 + 0.4 * random_unit())
        .min(BACKOFF_CAP)
}

/// The wait a 429/503 response asks for, from `retry-after-ms` (OpenAI) or `Retry-After`
/// (seconds). HTTP-date values are ignored: model providers send seconds.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    let wait = match header("retry-after-ms") {
        Some(millis) => millis / 1000.0,
        None => header("retry-after")?,
    };
    (wait.is_finite() && wait >= 0.0)
        .then(|| Duration::from_secs_f64(wait.min(RETRY_AFTER_CAP.as_secs_f64())))
}

/// A number in `[0, 1)`, random enough for jitter. `RandomState` is freshly keyed on every
/// call, which spares a dependency on a random number crate.
fn random_unit() -> f64 {
    let bits = RandomState::new().build_hasher().finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let base = Duration::from_millis(200);
        for _ in 0..50 {
            let first = backoff(base, 1);
            assert!(first >= Duration::from_millis(160) && first <= Duration::from_millis(240));
            let third = backoff(base, 3);
            assert!(third >= Duration::from_millis(640) && third <= Duration::from_millis(960));
            assert!(backoff(base, 40) <= BACKOFF_CAP);
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_milliseconds_and_caps_them() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after", HeaderValue::from_static("86400"));
        assert_eq!(retry_after(&headers), Some(RETRY_AFTER_CAP));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(1500)));
    }
}
