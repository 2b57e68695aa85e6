//! Independent work over a batch, shared among a few threads: the commit of a large
//! patch is thousands of writes to different files, system calls that wait on nothing but
//! the CPU. (Planning a large diff is not shared: it allocates every file's text, and
//! glibc grows a thread's own heap a page at a time, one `mprotect` per page.)

use std::ops::Range;

/// The most threads a batch is shared among.
const MAX_THREADS: usize = 4;

/// Runs `work` on contiguous shares of `0..len`, at least `min_share` items each, on up
/// to [`MAX_THREADS`] threads (one per core); returns the results in the order of the
/// shares. A batch too small to share runs on the calling thread.
pub fn map_shares<T: Send>(
    len: usize,
    min_share: usize,
    work: impl Fn(Range<usize>) -> T + Sync,
) -> Vec<T> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = (len / min_share.max(1)).clamp(1, cores.min(MAX_THREADS));
    if threads == 1 {
        return vec![work(0..len)];
    }
    let share = len.div_ceil(threads);
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..len)
            .step_by(share)
            .map(|start| scope.spawn(move || work(start..(start + share).min(len))))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("a worker thread panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_in_exactly_one_share_in_order() {
        for (len, min_share) in [(0, 1), (1, 1), (7, 1), (100, 3), (1000, 64), (5, 64)] {
            let shares = map_shares(len, min_share, |range| range.collect::<Vec<_>>());
            let items: Vec<usize> = shares.concat();
            assert_eq!(items, (0..len).collect::<Vec<_>>(), "{len} by {min_share}");
            assert!(shares.len() <= MAX_THREADS);
        }
    }
}
