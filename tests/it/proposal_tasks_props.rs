//! Three tasks propose changes to the same file while the user types, accepts, rejects,
//! undoes and refreshes in any order; the editor applies or refuses what it is sent.
//!
//! The oracle is a plain `String`: the text as the simulated editor has it, edited
//! directly. Whatever happens, the store's document must equal it (no keystroke lost),
//! every edit the store sends must replace exactly the text its hunk was computed for
//! (the old text for an accept, the accepted text for an undo), no hunk may be applied
//! twice, every pending hunk's range must hold its old text, and no two pending hunks of
//! different tasks may overlap without one of them being marked `conflict`.

use std::collections::HashMap;

use agentls::documents::{PositionEncoding, char_to_position, position_to_char};
use agentls::proposal::store::{EditPlan, ProposalStore};
use agentls::protocol::{HunkInfo, HunkStatus, Range};
use agentls::workspace::FileChange;
use proptest::prelude::*;
use proptest::sample::Index;
use ropey::Rope;

use crate::support::props::{EditSpec, char_len, chars_of, edit_spec, line, picks, splice};

const PATH: &str = "f.txt";
const TASKS: [&str; 3] = ["a", "b", "c"];
const ENC: PositionEncoding = PositionEncoding::Utf16;
/// What lines are made of (no `\r\n`: three tasks' hunks are the subject here).
const LINE_PIECES: &[&str] = &["a", "b", "é", "😀", " ", "{"];
/// What the user types, line breaks included.
const TYPED_PIECES: &[&str] = &["x", "é", "😀", "\n", "b\n"];

#[derive(Debug, Clone)]
enum Step {
    Type(EditSpec),
    Accept {
        task: usize,
        picks: Vec<Index>,
        whole_text_report: bool,
        /// The user types before the editor applies the edit, so it refuses it.
        race: Option<EditSpec>,
        refused: bool,
    },
    Reject {
        task: usize,
        picks: Vec<Index>,
    },
    Undo {
        task: usize,
        picks: Vec<Index>,
        refused: bool,
    },
    Refresh {
        task: usize,
    },
}

/// A task's result: the base with some lines replaced, deleted or inserted.
fn target_of(base_lines: &[String], ops: &[(u8, String)]) -> String {
    let mut out = String::new();
    for (line, (op, new)) in base_lines.iter().zip(ops) {
        match op % 6 {
            0 => {}
            1 => out.push_str(new),
            2 => {
                out.push_str(new);
                out.push_str(line);
            }
            _ => out.push_str(line),
        }
    }
    out
}

fn typed() -> impl Strategy<Value = EditSpec> {
    edit_spec(TYPED_PIECES, 6, 0.25)
}

fn step() -> impl Strategy<Value = Step> {
    let picks = picks();
    let task = 0usize..3;
    prop_oneof![
        3 => typed().prop_map(Step::Type),
        3 => (
            task.clone(),
            picks.clone(),
            any::<bool>(),
            prop::option::weighted(0.15, typed()),
            prop::bool::weighted(0.15),
        )
            .prop_map(|(task, picks, whole_text_report, race, refused)| Step::Accept {
                task,
                picks,
                whole_text_report,
                race,
                refused,
            }),
        1 => (task.clone(), picks.clone()).prop_map(|(task, picks)| Step::Reject { task, picks }),
        2 => (task.clone(), picks, prop::bool::weighted(0.2))
            .prop_map(|(task, picks, refused)| Step::Undo { task, picks, refused }),
        1 => task.prop_map(|task| Step::Refresh { task }),
    ]
}

struct World {
    store: ProposalStore,
    _dir: tempfile::TempDir,
    /// The editor's text.
    model: String,
    version: i32,
    /// Hunks whose accept edit is in the text and not undone since.
    applied: HashMap<(usize, String), bool>,
}

/// Whether two char ranges overlap by the store's rule: touching ends do not, two
/// insertions at one point do, an insertion strictly inside a change does.
fn overlap(a: (usize, usize), b: (usize, usize)) -> bool {
    match (a.0 == a.1, b.0 == b.1) {
        (true, true) => a.0 == b.0,
        (true, false) => b.0 < a.0 && a.0 < b.1,
        (false, true) => a.0 < b.0 && b.0 < a.1,
        (false, false) => a.0 < b.1 && b.0 < a.1,
    }
}

impl World {
    fn new(base: &str, targets: &[String]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = ProposalStore::new(dir.path().to_path_buf(), ENC);
        store.open(PATH, base, 1);
        for (task, target) in TASKS.iter().zip(targets) {
            store.install(
                task,
                vec![FileChange {
                    path: PATH.into(),
                    base: Some(base.to_string()),
                    new: Some(target.clone()),
                }],
            );
        }
        World {
            store,
            _dir: dir,
            model: base.to_string(),
            version: 1,
            applied: HashMap::new(),
        }
    }

    fn hunks(&self, task: usize) -> Vec<HunkInfo> {
        self.store
            .view_page(TASKS[task], None, None, usize::MAX)
            .expect("first page of an installed task")
            .files
            .into_iter()
            .flat_map(|f| f.hunks)
            .collect()
    }

    fn chars(&self, range: Range) -> (usize, usize) {
        let rope = Rope::from_str(&self.model);
        (
            position_to_char(&rope, range.start, ENC),
            position_to_char(&rope, range.end, ENC),
        )
    }

    fn pick(&self, task: usize, picks: &[Index]) -> Vec<String> {
        let hunks = self.hunks(task);
        if hunks.is_empty() {
            return Vec::new();
        }
        picks
            .iter()
            .map(|p| hunks[p.index(hunks.len())].hunk_id.clone())
            .collect()
    }

    /// Editors never address the middle of a `\r\n`; these texts have none.
    fn resolve(&self, spec: &EditSpec) -> (usize, usize) {
        let len = char_len(&self.model);
        let all: Vec<HunkInfo> = (0..3).flat_map(|t| self.hunks(t)).collect();
        let start = match spec.in_hunk {
            Some(pick) if !all.is_empty() => {
                let (s, e) = self.chars(all[pick.index(all.len())].range);
                s + spec.at.index(e.saturating_sub(s) + 1)
            }
            _ => spec.at.index(len + 1),
        };
        let start = start.min(len);
        (start, (start + spec.len).min(len))
    }

    fn user_edit(&mut self, spec: &EditSpec) {
        let (start, end) = self.resolve(spec);
        let rope = Rope::from_str(&self.model);
        let range = Range {
            start: char_to_position(&rope, start, ENC),
            end: char_to_position(&rope, end, ENC),
        };
        splice(&mut self.model, start, end, &spec.text);
        self.version += 1;
        if spec.whole_text {
            self.store
                .change(PATH, self.version, &[(None, self.model.clone())]);
        } else {
            self.store
                .change(PATH, self.version, &[(Some(range), spec.text.clone())]);
        }
    }

    /// Checks every edit of the plan against the model and the hunk it came from, then
    /// returns them as char ranges in the model, sorted.
    fn check_plan(
        &self,
        task: usize,
        plan: &EditPlan,
        undo: bool,
    ) -> Vec<(String, usize, usize, String)> {
        assert!(
            plan.written.is_empty(),
            "an open document is never written to disk"
        );
        let before: HashMap<String, HunkInfo> = self
            .hunks(task)
            .into_iter()
            .map(|h| (h.hunk_id.clone(), h))
            .collect();
        let mut edits = Vec::new();
        for file in &plan.editor {
            assert_eq!(file.path, PATH);
            assert_eq!(
                file.version,
                Some(self.version),
                "edits name the current version"
            );
            assert_eq!(file.edits.len(), file.hunk_ids.len());
            for ((range, text), id) in file.edits.iter().zip(&file.hunk_ids) {
                let (s, e) = self.chars(*range);
                let hunk = &before[id];
                let there = chars_of(&self.model, s, e);
                let applied = self
                    .applied
                    .get(&(task, id.clone()))
                    .copied()
                    .unwrap_or(false);
                if undo {
                    assert!(applied, "{id}: undo sent for a hunk not applied");
                    assert_eq!(
                        there, hunk.new_text,
                        "{id}: undo replaces the accepted text"
                    );
                    assert_eq!(text, &hunk.old_text);
                } else {
                    assert!(!applied, "{id}: accepted twice");
                    assert_eq!(there, hunk.old_text, "{id}: accept replaces its old text");
                    assert_eq!(text, &hunk.new_text);
                }
                edits.push((id.clone(), s, e, text.clone()));
            }
        }
        edits.sort_by_key(|(_, s, e, _)| (*s, *e));
        assert!(
            edits.windows(2).all(|w| w[0].2 <= w[1].1),
            "edits of one applyEdit must not overlap: {edits:?}"
        );
        edits
    }

    /// The editor applies the edits (last first) and reports them.
    fn editor_applies(
        &mut self,
        task: usize,
        edits: &[(String, usize, usize, String)],
        whole: bool,
        undo: bool,
    ) {
        let rope = Rope::from_str(&self.model);
        let ranges: Vec<(Range, String)> = edits
            .iter()
            .map(|(_, s, e, t)| {
                let r = Range {
                    start: char_to_position(&rope, *s, ENC),
                    end: char_to_position(&rope, *e, ENC),
                };
                (r, t.clone())
            })
            .collect();
        for (_, s, e, t) in edits.iter().rev() {
            splice(&mut self.model, *s, *e, t);
        }
        self.version += 1;
        if whole {
            self.store
                .change(PATH, self.version, &[(None, self.model.clone())]);
        } else {
            // One didChange, its content changes last-first so earlier ranges stay valid.
            let changes: Vec<(Option<Range>, String)> = ranges
                .into_iter()
                .rev()
                .map(|(r, t)| (Some(r), t))
                .collect();
            self.store.change(PATH, self.version, &changes);
        }
        for (id, ..) in edits {
            self.applied.insert((task, id.clone()), !undo);
        }
    }

    fn accept(
        &mut self,
        task: usize,
        picks: &[Index],
        whole: bool,
        race: Option<&EditSpec>,
        refused: bool,
    ) {
        let ids = self.pick(task, picks);
        let plan = self.store.begin_accept(TASKS[task], &ids, &[]);
        let edits = self.check_plan(task, &plan, false);
        let sent: Vec<String> = edits.iter().map(|(id, ..)| id.clone()).collect();
        if let Some(spec) = race {
            self.user_edit(spec);
            self.store.abort_accept(TASKS[task], &sent);
        } else if refused || sent.is_empty() {
            self.store.abort_accept(TASKS[task], &sent);
        } else {
            self.editor_applies(task, &edits, whole, false);
            self.store.confirm_applied(TASKS[task], &sent);
            for id in &sent {
                let status = self.status(task, id);
                assert_eq!(
                    status,
                    HunkStatus::Accepted,
                    "{id} confirmed by the editor's edit"
                );
            }
        }
    }

    fn undo(&mut self, task: usize, picks: &[Index], refused: bool) {
        let ids = self.pick(task, picks);
        let plan = self.store.begin_undo(TASKS[task], &ids);
        let edits = self.check_plan(task, &plan, true);
        let sent: Vec<String> = edits.iter().map(|(id, ..)| id.clone()).collect();
        if refused {
            self.store.abort_undo(TASKS[task], &sent);
            for id in &sent {
                assert_eq!(
                    self.status(task, id),
                    HunkStatus::Accepted,
                    "{id} stays accepted"
                );
            }
        } else {
            self.editor_applies(task, &edits, false, true);
            for id in &sent {
                // Pending again, unless an earlier task's hunk now overlaps it.
                let status = self.status(task, id);
                assert!(
                    matches!(status, HunkStatus::Pending | HunkStatus::Conflict),
                    "{id} undone, yet {status:?}"
                );
            }
        }
    }

    fn status(&self, task: usize, id: &str) -> HunkStatus {
        self.store.hunk_states(TASKS[task], &[id.to_string()])[0].status
    }

    fn check_invariants(&mut self) {
        assert_eq!(
            self.store.open_buffers()[PATH],
            self.model,
            "the store's text is the editor's"
        );
        let mut pending = Vec::new();
        for task in 0..3 {
            for hunk in self.hunks(task) {
                let (s, e) = self.chars(hunk.range);
                if hunk.status == HunkStatus::Pending {
                    assert_eq!(
                        chars_of(&self.model, s, e),
                        hunk.old_text,
                        "pending {} holds its old text",
                        hunk.hunk_id
                    );
                    pending.push((task, hunk.hunk_id.clone(), s, e));
                }
                if hunk.status == HunkStatus::Conflict {
                    assert!(hunk.conflicts_with.is_some(), "only tasks conflict here");
                }
            }
        }
        for (i, a) in pending.iter().enumerate() {
            for b in &pending[i + 1..] {
                assert!(
                    a.0 == b.0 || !overlap((a.2, a.3), (b.2, b.3)),
                    "pending {} and {} of different tasks overlap",
                    a.1,
                    b.1
                );
            }
        }
        // Whatever changed on its own was announced; draining keeps the outbox bounded.
        self.store.take_changed();
    }
}

fn scenario() -> impl Strategy<Value = (String, Vec<String>, Vec<Step>)> {
    (
        prop::collection::vec(line(LINE_PIECES, 4), 1..10),
        prop::collection::vec(
            prop::collection::vec((any::<u8>(), line(LINE_PIECES, 4)), 10),
            3,
        ),
        prop::collection::vec(step(), 1..25),
    )
        .prop_map(|(lines, ops, steps)| {
            let targets = ops.iter().map(|o| target_of(&lines, o)).collect();
            (lines.concat(), targets, steps)
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn three_tasks_never_lose_text_nor_apply_a_hunk_to_the_wrong_text(
        (base, targets, steps) in scenario()
    ) {
        let mut world = World::new(&base, &targets);
        world.check_invariants();
        for step in &steps {
            match step {
                Step::Type(spec) => world.user_edit(spec),
                Step::Accept { task, picks, whole_text_report, race, refused } => {
                    world.accept(*task, picks, *whole_text_report, race.as_ref(), *refused)
                }
                Step::Reject { task, picks } => {
                    let ids = world.pick(*task, picks);
                    world.store.reject(TASKS[*task], &ids, Some("no"));
                }
                Step::Undo { task, picks, refused } => world.undo(*task, picks, *refused),
                Step::Refresh { task } => {
                    for state in world.store.refresh(TASKS[*task], &[]) {
                        prop_assert!(matches!(
                            state.status,
                            HunkStatus::Pending | HunkStatus::Stale | HunkStatus::Accepted | HunkStatus::Conflict
                        ));
                    }
                }
            }
            world.check_invariants();
        }
    }
}
