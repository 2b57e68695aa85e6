//! Work done without holding the store: what it starts from and how its result is
//! checked before it goes in.
//!
//! The heavy parts of an install (diffing a large file), an accept or undo written to
//! disk (reading, comparing and writing the file) and a refresh (the 3-way merge's diff)
//! run between two short sections under the store's lock. The first takes a
//! [`DocSnapshot`] of each document the work needs — cloning a rope shares its chunks,
//! so this is O(1) — and the last checks the document is still the same entry, at the
//! same *generation* (the count of changes applied to it). Invariant 3
//! (docs/architecture.md) holds throughout: the text and the anchors in it only ever move
//! together, under the lock; what runs outside reads a snapshot and touches neither.
//!
//! When the document moved meanwhile (the user typed), an install moves its new hunks
//! through the changes made since its snapshot, which the document's [`ChangeLog`] keeps
//! while someone is watching; an accept or refresh starts over, and after a few attempts
//! does its work under the lock as before.

use std::collections::VecDeque;

use ropey::Rope;

use super::{DocEntry, ProposalStore};
use crate::documents::Change;

/// How many changes a document keeps for the installs watching it. Beyond this (a
/// formatter rewriting the file line by line while an install is prepared) the install
/// starts over from a new snapshot instead.
const KEPT_CHANGES: usize = 4096;

/// How many times work prepared without the lock starts over because its documents
/// moved in a way it cannot follow, before it is done under the lock instead.
pub(super) const ATTEMPTS: usize = 3;

/// The changes applied to one document, counted; the latest are kept while an install
/// prepared against an earlier generation still has to follow them.
#[derive(Debug, Default)]
pub(super) struct ChangeLog {
    generation: u64,
    kept: VecDeque<Change>,
    watchers: usize,
}

impl ChangeLog {
    pub(super) fn record(&mut self, changes: &[Change]) {
        self.generation += changes.len() as u64;
        if self.watchers == 0 {
            return;
        }
        self.kept.extend(changes.iter().copied());
        let excess = self.kept.len().saturating_sub(KEPT_CHANGES);
        self.kept.drain(..excess);
    }

    /// Keeps changes from now on, until as many [`ChangeLog::unwatch`]es.
    fn watch(&mut self) {
        self.watchers += 1;
    }

    fn unwatch(&mut self) {
        self.watchers = self.watchers.saturating_sub(1);
        if self.watchers == 0 {
            self.kept.clear();
        }
    }

    /// The changes applied since `generation`, oldest first; None if they are no longer
    /// all kept.
    pub(super) fn since(&self, generation: u64) -> Option<Vec<Change>> {
        let count = usize::try_from(self.generation - generation).ok()?;
        let skip = self.kept.len().checked_sub(count)?;
        Some(self.kept.iter().skip(skip).copied().collect())
    }
}

/// A document as it was when work without the lock started.
#[derive(Debug, Clone)]
pub(super) struct DocSnapshot {
    /// Which entry: a path's entry dropped and made again is another one.
    pub(super) serial: u64,
    pub(super) generation: u64,
    pub(super) open: bool,
    pub(super) rope: Rope,
}

impl DocSnapshot {
    fn of(entry: &DocEntry) -> Self {
        DocSnapshot {
            serial: entry.serial,
            generation: entry.log.generation,
            open: entry.open,
            rope: entry.doc.rope().clone(),
        }
    }
}

impl ProposalStore {
    /// A new document entry (open in the editor, or a shadow of the file on disk).
    pub(super) fn doc_entry(&mut self, doc: crate::documents::Document, open: bool) -> DocEntry {
        self.serials += 1;
        DocEntry {
            doc,
            open,
            serial: self.serials,
            log: ChangeLog::default(),
        }
    }

    pub(super) fn snapshot(&self, path: &str) -> Option<DocSnapshot> {
        self.docs.get(path).map(DocSnapshot::of)
    }

    /// [`ProposalStore::snapshot`], keeping the changes made from now on for
    /// [`ProposalStore::changes_since`] until [`ProposalStore::unwatch`].
    pub(super) fn watch(&mut self, path: &str) -> Option<DocSnapshot> {
        let entry = self.docs.get_mut(path)?;
        entry.log.watch();
        Some(DocSnapshot::of(entry))
    }

    pub(super) fn unwatch(&mut self, path: &str, snapshot: &DocSnapshot) {
        if let Some(entry) = self.docs.get_mut(path)
            && entry.serial == snapshot.serial
        {
            entry.log.unwatch();
        }
    }

    /// Whether `path`'s document is exactly as `snapshot` saw it.
    pub(super) fn unchanged(&self, path: &str, snapshot: &DocSnapshot) -> bool {
        self.docs.get(path).is_some_and(|entry| {
            entry.serial == snapshot.serial
                && entry.log.generation == snapshot.generation
                && entry.open == snapshot.open
        })
    }

    /// The changes `path`'s document took since a watched `snapshot`; None if it is
    /// another entry now, or the changes were not all kept.
    pub(super) fn changes_since(&self, path: &str, snapshot: &DocSnapshot) -> Option<Vec<Change>> {
        let entry = self.docs.get(path)?;
        if entry.serial != snapshot.serial {
            return None;
        }
        entry.log.since(snapshot.generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(start: usize) -> Change {
        Change {
            start,
            old_end: start,
            new_len: 1,
        }
    }

    #[test]
    fn a_watched_log_gives_back_the_changes_since_a_generation_and_only_those_it_kept() {
        let mut log = ChangeLog::default();
        let before_watch = log.generation;
        log.record(&[change(0)]);
        log.watch();
        let watched = log.generation;
        log.record(&[change(1), change(2)]);
        assert_eq!(log.since(watched), Some(vec![change(1), change(2)]));
        assert_eq!(log.since(watched + 1), Some(vec![change(2)]));
        assert_eq!(log.since(log.generation), Some(Vec::new()));
        // What happened before anyone watched was not kept.
        assert_eq!(log.since(before_watch), None);
        log.record(&vec![change(3); KEPT_CHANGES]);
        assert_eq!(log.since(watched), None, "older changes were let go");
        log.unwatch();
        assert!(log.kept.is_empty(), "nobody watches: nothing is kept");
    }
}
