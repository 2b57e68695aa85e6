//! Cutting a large proposal into pages of at most `limit` hunks.
//!
//! A page boundary may fall inside a file; the cursor names the file and the hunk to
//! continue from, by position, and the revision of the task's hunk list it was cut
//! from. Positions stay valid while the proposal is reviewed (hunks change status, not
//! place in the list); when hunks are added, replaced or re-placed the revision moves on,
//! and an older cursor is refused rather than continuing a listing of a different list.

/// Where the next page starts: file `file`, its hunk number `hunk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cursor {
    pub file: usize,
    pub hunk: usize,
}

impl Cursor {
    /// The cursor as the client sees it, for the list at `revision`.
    pub(super) fn encode(self, revision: u64) -> String {
        format!("r{revision}f{}h{}", self.file, self.hunk)
    }

    /// The revision the cursor was cut from, and where it continues; None for text that
    /// is not a cursor this server gave out.
    pub(super) fn decode(text: &str) -> Option<(u64, Cursor)> {
        let rest = text.strip_prefix('r')?;
        let (revision, rest) = rest.split_once('f')?;
        let (file, hunk) = rest.split_once('h')?;
        let cursor = Cursor {
            file: file.parse().ok()?,
            hunk: hunk.parse().ok()?,
        };
        Some((revision.parse().ok()?, cursor))
    }
}

/// The slices of hunks one page holds: `(file, first hunk, end hunk)` for the files
/// from `from`, whose hunk counts are `sizes`, and the cursor after them if any.
pub(super) fn plan(
    sizes: &[usize],
    from: Cursor,
    limit: usize,
) -> (Vec<(usize, usize, usize)>, Option<Cursor>) {
    let limit = limit.max(1);
    let mut room = limit;
    let mut slices = Vec::new();
    let mut hunk = from.hunk;
    for (file, &size) in sizes.iter().enumerate().skip(from.file) {
        if room == 0 {
            return (slices, Some(Cursor { file, hunk: 0 }));
        }
        let take = (size - hunk.min(size)).min(room);
        slices.push((file, hunk, hunk + take));
        room -= take;
        if hunk + take < size {
            return (
                slices,
                Some(Cursor {
                    file,
                    hunk: hunk + take,
                }),
            );
        }
        hunk = 0;
    }
    (slices, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let c = Cursor { file: 12, hunk: 3 };
        assert_eq!(Cursor::decode(&c.encode(7)), Some((7, c)));
        assert!(Cursor::decode("12:3").is_none());
        assert!(Cursor::decode("r1fxh1").is_none());
        assert!(Cursor::decode("f1h1").is_none());
    }

    #[test]
    fn a_walk_visits_every_hunk_once_splitting_files_where_needed() {
        let sizes = [3, 0, 5, 1];
        let mut seen = Vec::new();
        let mut from = Cursor { file: 0, hunk: 0 };
        loop {
            let (slices, next) = plan(&sizes, from, 4);
            assert!(slices.iter().map(|(_, a, b)| b - a).sum::<usize>() <= 4);
            for (f, a, b) in slices {
                seen.extend((a..b).map(|h| (f, h)));
            }
            match next {
                Some(c) => from = c,
                None => break,
            }
        }
        let all: Vec<(usize, usize)> = sizes
            .iter()
            .enumerate()
            .flat_map(|(f, &n)| (0..n).map(move |h| (f, h)))
            .collect();
        assert_eq!(seen, all);
    }
}
