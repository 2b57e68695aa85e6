//! Pending hunks follow the user's typing and are never anchored on the wrong text,
//! whatever mix of edits, accepts (confirmed, refused, raced) and rejects happens.
//!
//! The oracle is deliberately naive: the text is a plain `String` edited directly, and
//! each hunk's expected status is tracked from the rules alone (an overlapping edit
//! makes a pending hunk stale; accept and reject decide once).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use agentls::documents::{Change, Document, PositionEncoding, char_to_position};
use agentls::proposal::{FileHunks, Hunk, diff_hunks};
use agentls::protocol::{HunkStatus, Range};
use proptest::prelude::*;
use proptest::sample::Index;

use crate::support::props::{
    EditSpec, char_len, chars_of, edit_spec, line_maybe_crlf, picks, splice,
};

/// What lines are made of: multi-byte and astral chars, so UTF-16 and UTF-8 positions
/// differ from char offsets; lines end in `\r\n` a fifth of the time.
const LINE_PIECES: &[&str] = &["a", "b", "é", "😀", "名", " ", "{"];
/// What the user types, line breaks included.
const TYPED_PIECES: &[&str] = &["x", "é", "😀", "\n", "\r\n", "名"];

#[derive(Debug, Clone)]
enum LineOp {
    Keep,
    Delete,
    Replace(String),
    InsertBefore(String),
}

/// How the editor reports the edit it applied for an accepted hunk.
#[derive(Debug, Clone, Copy)]
enum EditorReport {
    /// The replacement as sent (VS Code).
    Exact,
    /// The replacement with the text common to both sides trimmed (Neovim).
    Minimal,
    /// The whole new text (full sync).
    WholeText,
}

#[derive(Debug, Clone)]
enum Step {
    Type(EditSpec),
    Accept {
        picks: Vec<Index>,
        report: EditorReport,
        /// The user types before the editor applies the edit, so the editor refuses it.
        race: Option<EditSpec>,
        refused: bool,
    },
    Reject(Vec<Index>),
}

fn line_op() -> impl Strategy<Value = LineOp> {
    prop_oneof![
        3 => Just(LineOp::Keep),
        1 => Just(LineOp::Delete),
        1 => line_maybe_crlf(LINE_PIECES, 5, 0.2).prop_map(LineOp::Replace),
        1 => line_maybe_crlf(LINE_PIECES, 5, 0.2).prop_map(LineOp::InsertBefore),
    ]
}

/// Drops the final line break, so texts without a trailing newline get tested too.
fn without_final_line_break(mut text: String) -> String {
    for ending in ["\r\n", "\n"] {
        if let Some(stripped) = text.strip_suffix(ending) {
            text.truncate(stripped.len());
            break;
        }
    }
    text
}

/// A base text and a target sharing most of its lines.
fn base_and_target() -> impl Strategy<Value = (String, String)> {
    (
        prop::collection::vec(line_maybe_crlf(LINE_PIECES, 5, 0.2), 0..14),
        prop::collection::vec(line_op(), 14),
        prop::collection::vec(line_maybe_crlf(LINE_PIECES, 5, 0.2), 0..2),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(lines, ops, appended, trim_base, trim_target)| {
            let mut target = String::new();
            for (line, op) in lines.iter().zip(ops) {
                match op {
                    LineOp::Keep => target.push_str(line),
                    LineOp::Delete => {}
                    LineOp::Replace(new) => target.push_str(&new),
                    LineOp::InsertBefore(new) => target.push_str(&(new + line)),
                }
            }
            target.push_str(&appended.concat());
            let base = lines.concat();
            let base = if trim_base {
                without_final_line_break(base)
            } else {
                base
            };
            let target = if trim_target {
                without_final_line_break(target)
            } else {
                target
            };
            (base, target)
        })
}

fn typed() -> impl Strategy<Value = EditSpec> {
    edit_spec(TYPED_PIECES, 5, 0.3)
}

fn step() -> impl Strategy<Value = Step> {
    let picks = picks();
    prop_oneof![
        3 => typed().prop_map(Step::Type),
        2 => (
            picks.clone(),
            prop_oneof![Just(EditorReport::Exact), Just(EditorReport::Minimal), Just(EditorReport::WholeText)],
            prop::option::weighted(0.2, typed()),
            prop::bool::weighted(0.15),
        )
            .prop_map(|(picks, report, race, refused)| Step::Accept { picks, report, race, refused }),
        1 => picks.prop_map(Step::Reject),
    ]
}

/// The system under test next to its oracle.
struct World {
    encoding: PositionEncoding,
    doc: Document,
    hunks: FileHunks,
    model: String,
    expected: HashMap<String, HunkStatus>,
    /// Hunks whose edit reached the text; none may be sent again.
    applied: HashSet<String>,
}

/// Shrinks the replacement of `old` (at `[start, end)`) by `new` to the part that
/// differs, keeping `\r\n` whole, as Neovim's incremental sync does.
fn trim_common(start: usize, end: usize, old: &str, new: &str) -> (usize, usize, String) {
    let old: Vec<char> = old.chars().collect();
    let new: Vec<char> = new.chars().collect();
    let mut prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    if prefix > 0 && old[prefix - 1] == '\r' {
        prefix -= 1;
    }
    let max_suffix = old.len().min(new.len()) - prefix;
    let mut suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    if suffix > 0
        && old[old.len() - suffix] == '\n'
        && old.len() - suffix > prefix
        && old[old.len() - suffix - 1] == '\r'
    {
        suffix -= 1;
    }
    let text: String = new[prefix..new.len() - suffix].iter().collect();
    (start + prefix, end - suffix, text)
}

fn overlaps(hunk: &Hunk, change: Change) -> bool {
    change.start < hunk.end && hunk.start < change.old_end
}

impl World {
    fn new(base: &str, target: &str, encoding: PositionEncoding) -> Self {
        let mut n = 0;
        let hunks = FileHunks::new(diff_hunks(base, target, Duration::from_secs(5)), || {
            n += 1;
            format!("task-{n}")
        });
        let expected = hunks
            .hunks()
            .iter()
            .map(|h| (h.id.clone(), HunkStatus::Pending))
            .collect();
        Self {
            encoding,
            doc: Document::new(base, 1),
            hunks,
            model: base.to_string(),
            expected,
            applied: HashSet::new(),
        }
    }

    /// Editors never address the middle of a `\r\n`.
    fn off_crlf(&self, idx: usize, forward: bool) -> usize {
        let chars: Vec<char> = self.model.chars().collect();
        let inside = idx > 0 && idx < chars.len() && chars[idx - 1] == '\r' && chars[idx] == '\n';
        match (inside, forward) {
            (false, _) => idx,
            (true, true) => idx + 1,
            (true, false) => idx - 1,
        }
    }

    fn resolve(&self, spec: &EditSpec) -> (usize, usize) {
        let len = char_len(&self.model);
        let hunks = self.hunks.hunks();
        let start = match spec.in_hunk {
            Some(pick) if !hunks.is_empty() => {
                let hunk = &hunks[pick.index(hunks.len())];
                hunk.start + spec.at.index(hunk.end - hunk.start + 1)
            }
            _ => spec.at.index(len + 1),
        };
        let start = self.off_crlf(start.min(len), false);
        let end = self.off_crlf((start + spec.len).min(len), true);
        (start, end)
    }

    /// Sends the current model text, or the replacement of `[start, end)` that produced
    /// it, the way an editor reports a change.
    fn report(&mut self, whole_text: bool, start: usize, end: usize, text: &str) -> Vec<Change> {
        let changes = if whole_text {
            let in_flight = self.hunks.in_flight();
            self.doc.apply(None, &self.model, self.encoding, &in_flight)
        } else {
            let range = Range {
                start: char_to_position(self.doc.rope(), start, self.encoding),
                end: char_to_position(self.doc.rope(), end, self.encoding),
            };
            self.doc.apply(Some(range), text, self.encoding, &[])
        };
        for &change in &changes {
            self.hunks.apply_change(change);
        }
        changes
    }

    /// The user types; pending hunks under the edit must turn stale, the rest stay.
    fn user_edit(&mut self, spec: &EditSpec) -> Vec<Change> {
        let (start, end) = self.resolve(spec);
        splice(&mut self.model, start, end, &spec.text);
        let before: Vec<Hunk> = self.hunks.hunks().to_vec();
        let changes = self.report(spec.whole_text, start, end, &spec.text);
        if !spec.whole_text {
            let typed = Change {
                start,
                old_end: end,
                new_len: char_len(&spec.text),
            };
            assert_eq!(
                changes,
                [typed],
                "an incremental edit is reported as itself"
            );
        }
        for hunk in &before {
            let status = self.expected.get_mut(&hunk.id).expect("known id");
            if *status == HunkStatus::Pending && changes.iter().any(|&c| overlaps(hunk, c)) {
                *status = HunkStatus::Stale;
            }
        }
        changes
    }

    fn pick_ids(&self, picks: &[Index]) -> Vec<String> {
        let hunks = self.hunks.hunks();
        if hunks.is_empty() {
            return Vec::new();
        }
        picks
            .iter()
            .map(|p| hunks[p.index(hunks.len())].id.clone())
            .collect()
    }

    fn accept(
        &mut self,
        picks: &[Index],
        report: EditorReport,
        race: Option<&EditSpec>,
        refused: bool,
    ) {
        let ids = self.pick_ids(picks);
        let edits = self.hunks.begin_accept(&ids, self.doc.rope());
        let sent_ids: BTreeSet<&String> = edits.iter().map(|(id, ..)| id).collect();
        for id in ids
            .iter()
            .filter(|id| self.expected[*id] == HunkStatus::Pending)
        {
            let hunk = self.hunks.get(id).expect("id");
            let waits_for_same_point = hunk.start == hunk.end
                && edits
                    .iter()
                    .any(|(other, s, e, _)| other != id && *s == hunk.start && *e == hunk.start);
            assert!(
                sent_ids.contains(id) || waits_for_same_point,
                "{id} was pending and asked for, so it is sent unless another insertion at its point is"
            );
        }
        for id in &sent_ids {
            assert_eq!(
                self.expected[*id],
                HunkStatus::Pending,
                "only pending hunks are sent"
            );
        }
        assert!(
            edits.windows(2).all(|w| w[0].2 <= w[1].1),
            "edits sorted and disjoint"
        );
        for (id, start, end, new_text) in &edits {
            let hunk = self.hunks.get(id).expect("accepted hunk exists");
            assert_eq!(chars_of(&self.model, *start, *end), hunk.old_text);
            assert_eq!(new_text, &hunk.new_text);
            assert!(
                !self.applied.contains(id),
                "{id} sent again after it was applied"
            );
            self.expected.insert(id.clone(), HunkStatus::Accepted);
        }
        let accepted: Vec<String> = edits.iter().map(|(id, ..)| id.clone()).collect();

        if let Some(spec) = race {
            self.race_then_refuse(spec, &accepted);
        } else if refused {
            self.hunks.abort_accept(&accepted);
            for id in &accepted {
                self.expected.insert(id.clone(), HunkStatus::Pending);
            }
        } else {
            self.editor_applies(&edits, report);
        }
    }

    /// The user edits while the accepted hunks are in flight; the editor then refuses
    /// the now outdated versioned edit.
    fn race_then_refuse(&mut self, spec: &EditSpec, accepted: &[String]) {
        let in_flight: Vec<Hunk> = accepted
            .iter()
            .map(|id| self.hunks.get(id).expect("id").clone())
            .collect();
        let changes = self.user_edit(spec);
        self.hunks.abort_accept(accepted);
        for before in &in_flight {
            let far_from_edit = changes
                .iter()
                .all(|c| c.old_end < before.start || c.start > before.end);
            let now = self.hunks.get(&before.id).expect("id").status;
            if far_from_edit {
                assert_eq!(now, HunkStatus::Pending, "{} was not touched", before.id);
            } else {
                assert!(
                    matches!(now, HunkStatus::Pending | HunkStatus::Stale),
                    "{now:?}"
                );
            }
            self.expected.insert(before.id.clone(), now);
        }
    }

    fn editor_applies(&mut self, edits: &[(String, usize, usize, String)], report: EditorReport) {
        for (_, start, end, new_text) in edits.iter().rev() {
            splice(&mut self.model, *start, *end, new_text);
        }
        match report {
            EditorReport::WholeText => {
                self.report(true, 0, 0, "");
            }
            EditorReport::Exact => {
                for (_, start, end, new_text) in edits.iter().rev() {
                    self.report(false, *start, *end, new_text);
                }
            }
            EditorReport::Minimal => {
                for (_, start, end, new_text) in edits.iter().rev() {
                    let old_text = chars_of(self.doc.text().as_str(), *start, *end).to_string();
                    let (start, end, text) = trim_common(*start, *end, &old_text, new_text);
                    self.report(false, start, end, &text);
                }
            }
        }
        assert!(
            self.hunks.in_flight().is_empty(),
            "the editor's edit confirmed every hunk"
        );
        for (id, ..) in edits {
            let hunk = self.hunks.get(id).expect("id");
            assert_eq!(hunk.status, HunkStatus::Accepted);
            assert_eq!(chars_of(&self.model, hunk.start, hunk.end), hunk.new_text);
            self.applied.insert(id.clone());
        }
    }

    fn reject(&mut self, picks: &[Index]) {
        let ids = self.pick_ids(picks);
        let rejected: BTreeSet<String> = self.hunks.reject(&ids, None).into_iter().collect();
        let undecided: BTreeSet<String> = ids
            .into_iter()
            .filter(|id| matches!(self.expected[id], HunkStatus::Pending | HunkStatus::Stale))
            .collect();
        assert_eq!(rejected, undecided);
        for id in rejected {
            self.expected.insert(id, HunkStatus::Rejected);
        }
    }

    fn check(&self) {
        assert_eq!(self.doc.text(), self.model, "document follows the editor");
        let hunks = self.hunks.hunks();
        let ids: HashSet<&String> = hunks.iter().map(|h| &h.id).collect();
        assert_eq!(ids.len(), hunks.len(), "no id twice");
        assert_eq!(ids.len(), self.expected.len(), "no hunk lost");
        for hunk in hunks {
            assert_eq!(
                hunk.status, self.expected[&hunk.id],
                "status of {}",
                hunk.id
            );
            if hunk.status == HunkStatus::Pending {
                assert_eq!(
                    chars_of(&self.model, hunk.start, hunk.end),
                    hunk.old_text,
                    "pending {} anchored on its own text",
                    hunk.id
                );
            }
        }
        assert!(
            hunks
                .windows(2)
                .all(|w| w[0].start <= w[1].start && w[0].end <= w[1].end)
        );
        self.check_touching();
    }

    fn check_touching(&self) {
        let hunks = self.hunks.hunks();
        let probes = hunks
            .iter()
            .flat_map(|h| [h.start.saturating_sub(1), h.start, h.end, h.end + 1]);
        for p in probes {
            let found: Vec<&str> = self.hunks.touching(p, p).map(|h| h.id.as_str()).collect();
            let all: Vec<&str> = hunks
                .iter()
                .filter(|h| h.start <= p && p <= h.end)
                .map(|h| h.id.as_str())
                .collect();
            assert_eq!(found, all, "touching({p}, {p})");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn hunks_follow_edits_accepts_and_rejects(
        (base, target) in base_and_target(),
        utf8 in any::<bool>(),
        steps in prop::collection::vec(step(), 1..14),
    ) {
        let encoding = if utf8 { PositionEncoding::Utf8 } else { PositionEncoding::Utf16 };
        let mut world = World::new(&base, &target, encoding);
        world.check();
        for step in &steps {
            match step {
                Step::Type(spec) => {
                    world.user_edit(spec);
                }
                Step::Accept { picks, report, race, refused } => {
                    world.accept(picks, *report, race.as_ref(), *refused);
                }
                Step::Reject(picks) => world.reject(picks),
            }
            world.check();
        }
    }

    #[test]
    fn diff_hunks_turn_base_into_target((base, target) in base_and_target(), hurry in any::<bool>()) {
        let deadline = if hurry { Duration::ZERO } else { Duration::from_secs(5) };
        let hunks = diff_hunks(&base, &target, deadline);
        let mut rebuilt = String::new();
        let mut at = 0;
        prop_assert!(hunks.windows(2).all(|w| w[0].end < w[1].start), "maximal runs: {hunks:?}");
        for hunk in &hunks {
            prop_assert!(hunk.start == 0 || chars_of(&base, hunk.start - 1, hunk.start) == "\n");
            prop_assert_eq!(chars_of(&base, hunk.start, hunk.end), hunk.old_text.as_str());
            rebuilt.push_str(chars_of(&base, at, hunk.start));
            rebuilt.push_str(&hunk.new_text);
            at = hunk.end;
        }
        rebuilt.push_str(chars_of(&base, at, char_len(&base)));
        prop_assert_eq!(rebuilt, target);
    }
}
