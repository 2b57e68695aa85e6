//! Recognising renamed files among a task's changes.
//!
//! Tools report a move as a deletion plus a creation (apply_patch's `Move to`, `mv` in
//! a command), but the user should decide it once, as one rename. A created file is
//! taken for a rename of a deleted one when their contents are identical or share at
//! least half of their lines.

use std::collections::HashMap;

use crate::workspace::FileChange;

/// Beyond this many (deleted × created) pairs only identical contents are paired, so
/// a task that deletes and creates thousands of files stays linear.
const MAX_SIMILARITY_PAIRS: usize = 10_000;

/// `changes` with renamed files merged: a rename comes back as the deleted file's
/// change (its path and base) carrying the created file's text, plus the new path.
pub(super) fn pair(changes: Vec<FileChange>) -> Vec<(FileChange, Option<String>)> {
    let is_delete = |c: &FileChange| c.base.is_some() && c.new.is_none();
    let is_create = |c: &FileChange| c.base.is_none() && c.new.is_some();
    let deletes: Vec<usize> = (0..changes.len())
        .filter(|&i| is_delete(&changes[i]))
        .collect();
    let creates: Vec<usize> = (0..changes.len())
        .filter(|&i| is_create(&changes[i]))
        .collect();
    if deletes.is_empty() || creates.is_empty() {
        return changes.into_iter().map(|c| (c, None)).collect();
    }
    let text = |i: usize| {
        changes[i]
            .base
            .as_deref()
            .or(changes[i].new.as_deref())
            .unwrap_or_default()
    };
    let mut taken = vec![false; changes.len()];
    // created index → deleted index
    let mut renamed_from: HashMap<usize, usize> = HashMap::new();
    let mut by_content: HashMap<&str, Vec<usize>> = HashMap::new();
    for &d in &deletes {
        by_content.entry(text(d)).or_default().push(d);
    }
    for &c in &creates {
        if let Some(d) = by_content
            .get_mut(text(c))
            .and_then(|ds| ds.iter().position(|&d| !taken[d]).map(|k| ds.remove(k)))
        {
            taken[d] = true;
            taken[c] = true;
            renamed_from.insert(c, d);
        }
    }
    if deletes.len() * creates.len() <= MAX_SIMILARITY_PAIRS {
        for &c in &creates {
            if taken[c] {
                continue;
            }
            let best = deletes
                .iter()
                .filter(|&&d| !taken[d])
                .map(|&d| (similarity(text(d), text(c)), d))
                .filter(|(s, _)| *s >= 0.5)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((_, d)) = best {
                taken[d] = true;
                taken[c] = true;
                renamed_from.insert(c, d);
            }
        }
    }
    let mut slots: Vec<Option<FileChange>> = changes.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(slots.len());
    for i in 0..slots.len() {
        if let Some(&d) = renamed_from.get(&i) {
            let (Some(created), Some(deleted)) = (slots[i].take(), slots[d].take()) else {
                continue;
            };
            out.push((
                FileChange {
                    path: deleted.path,
                    base: deleted.base,
                    new: created.new,
                },
                Some(created.path),
            ));
        } else if !renamed_from.values().any(|&d| d == i)
            && let Some(change) = slots[i].take()
        {
            out.push((change, None));
        }
    }
    out
}

/// Share of lines two texts have in common (as multisets), over the longer one.
fn similarity(a: &str, b: &str) -> f64 {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut a_lines = 0;
    for line in a.lines() {
        *counts.entry(line).or_default() += 1;
        a_lines += 1;
    }
    let mut common = 0;
    let mut b_lines = 0;
    for line in b.lines() {
        b_lines += 1;
        if let Some(n) = counts.get_mut(line).filter(|n| **n > 0) {
            *n -= 1;
            common += 1;
        }
    }
    let longer = a_lines.max(b_lines);
    if longer == 0 {
        return 1.0;
    }
    common as f64 / longer as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(path: &str, base: Option<&str>, new: Option<&str>) -> FileChange {
        FileChange {
            path: path.into(),
            base: base.map(str::to_string),
            new: new.map(str::to_string),
        }
    }

    #[test]
    fn an_identical_or_mostly_same_created_file_is_a_rename_and_others_are_not() {
        let changes = vec![
            change("old.rs", Some("a\nb\nc\nd\n"), None),
            change("gone.txt", Some("x\ny\n"), None),
            change("new.rs", None, Some("a\nb\nc\nD\n")),
            change("fresh.txt", None, Some("unrelated\n")),
            change("kept.rs", Some("1\n"), Some("2\n")),
        ];
        let paired = pair(changes);
        let summary: Vec<(&str, Option<&str>, bool)> = paired
            .iter()
            .map(|(c, to)| (c.path.as_str(), to.as_deref(), c.new.is_some()))
            .collect();
        assert_eq!(
            summary,
            [
                ("gone.txt", None, false),
                ("old.rs", Some("new.rs"), true),
                ("fresh.txt", None, true),
                ("kept.rs", None, true),
            ]
        );
        assert_eq!(paired[1].0.new.as_deref(), Some("a\nb\nc\nD\n"));
    }

    #[test]
    fn identical_contents_pair_one_to_one() {
        let paired = pair(vec![
            change("a", Some("same\n"), None),
            change("b", Some("same\n"), None),
            change("c", None, Some("same\n")),
        ]);
        assert_eq!(paired.len(), 2);
        assert_eq!(paired.iter().filter(|(_, to)| to.is_some()).count(), 1);
    }
}
