use tempfile::TempDir;

use super::*;
use ropey::Rope;

use crate::documents::char_to_position;
use crate::proposal::RawHunk;
use crate::protocol::{FileKind, HunkEdit, HunkInfo, HunkRef, HunkStatus, Position, Range};
use crate::workspace::FileChange;

const ENC: PositionEncoding = PositionEncoding::Utf16;
const BASE: &str = "alpha\nkeep 1\nbeta\nkeep 2\ngamma\n";

struct Ws {
    dir: TempDir,
    store: ProposalStore,
}

fn ws() -> Ws {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ProposalStore::new(dir.path().to_path_buf(), ENC);
    Ws { dir, store }
}

fn change(path: &str, base: Option<&str>, new: Option<&str>) -> FileChange {
    FileChange {
        path: path.into(),
        base: base.map(str::to_string),
        new: new.map(str::to_string),
    }
}

fn ids(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

impl Ws {
    /// The editor opens f.rs holding `text`.
    fn open(&mut self, text: &str) {
        self.store.open("f.rs", text, 1);
    }

    /// Task `task` changed f.rs from `base` into `target`.
    fn task(&mut self, task: &str, base: &str, target: &str) {
        self.store
            .install(task, vec![change("f.rs", Some(base), Some(target))]);
    }

    /// f.rs (BASE) open in the editor, and task `t` whose one hunk `t-1` turns `beta`
    /// into `BETA`.
    fn open_with_beta_task(&mut self) {
        self.open(BASE);
        self.task("t", BASE, &BASE.replace("beta", "BETA"));
    }

    fn disk(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join(path)).ok()
    }

    fn put(&self, path: &str, text: &str) {
        let file = self.dir.path().join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, text).expect("write");
    }

    fn text(&self, path: &str) -> String {
        self.store.docs[path].doc.text()
    }

    fn version(&self, path: &str) -> i32 {
        self.store.docs[path].doc.version
    }

    /// The user replaces the first `old` in `path` with `new` (an incremental change).
    fn type_over(&mut self, path: &str, old: &str, new: &str) {
        let text = self.text(path);
        let at = text[..text.find(old).expect("old text present")]
            .chars()
            .count();
        let rope = Rope::from_str(&text);
        let range = Range {
            start: char_to_position(&rope, at, ENC),
            end: char_to_position(&rope, at + old.chars().count(), ENC),
        };
        let v = self.version(path) + 1;
        self.store
            .change(path, v, &[(Some(range), new.to_string())]);
    }

    fn whole(&mut self, path: &str, text: &str) {
        let v = self.version(path) + 1;
        self.store.change(path, v, &[(None, text.to_string())]);
    }

    /// The editor applies the plan's text edits to its open documents, last first.
    fn editor_applies(&mut self, plan: &EditPlan) {
        for file in &plan.editor {
            for (range, text) in file.edits.iter().rev() {
                let v = self.version(&file.path) + 1;
                self.store
                    .change(&file.path, v, &[(Some(*range), text.clone())]);
            }
        }
    }

    fn state(&self, task: &str, id: &str) -> HunkState {
        self.store
            .hunk_states(task, &ids(&[id]))
            .pop()
            .expect("known hunk")
    }

    fn status(&self, task: &str, id: &str) -> HunkStatus {
        self.state(task, id).status
    }

    fn info(&self, task: &str, id: &str) -> HunkInfo {
        let page = self
            .store
            .view_page(task, None, None, usize::MAX)
            .expect("page");
        page.files
            .into_iter()
            .flat_map(|f| f.hunks)
            .find(|h| h.hunk_id == id)
            .expect("hunk in view")
    }
}

// ----- work done without the lock --------------------------------------------------------

/// The beta task's changes, for the phases of an install.
fn beta_changes() -> Vec<(FileChange, Vec<(RawHunk, String)>)> {
    vec![(
        change("f.rs", Some(BASE), Some(&BASE.replace("beta", "BETA"))),
        Vec::new(),
    )]
}

impl Ws {
    /// f.rs (BASE) on disk only and the beta task; its accept of `t-1` through the phases
    /// that read the file and decide, not yet written.
    fn decide_closed_beta_accept(&mut self) -> EditPlan {
        self.put("f.rs", BASE);
        self.task("t", BASE, &BASE.replace("beta", "BETA"));
        let wanted = ids(&["t-1"]);
        let reads = self.store.disk_reads("t", &wanted).read();
        self.store.begin_accept_with("t", &wanted, &[], reads)
    }

    /// f.rs (BASE) open, and the beta task's install through its first two phases.
    fn open_and_prepare_beta(&mut self) -> PreparedInstall {
        self.open(BASE);
        let changes = beta_changes();
        self.store.install_basis(&changes).prepare(&changes)
    }
}

#[test]
fn an_install_prepared_while_the_user_types_lands_where_the_typing_moved_the_text() {
    let mut w = ws();
    let prepared = w.open_and_prepare_beta();
    // Meanwhile: a line above the hunk, and a word right after it.
    w.type_over("f.rs", "alpha", "alpha\nnew line");
    w.type_over("f.rs", "keep 2", "kept 2");
    let counts = w
        .store
        .commit_install("t", prepared, InstallAs::New)
        .expect("typing is followed");
    assert_eq!(counts, (1, 1));
    assert_eq!(w.status("t", "t-1"), HunkStatus::Pending);
    let hunk = w.info("t", "t-1");
    assert_eq!(hunk.range.start.line, 3, "moved down by the new line");
    let plan = w.store.begin_accept("t", &ids(&["t-1"]), &[]);
    w.editor_applies(&plan);
    assert_eq!(
        w.text("f.rs"),
        "alpha\nnew line\nkeep 1\nBETA\nkept 2\ngamma\n"
    );
}

#[test]
fn typing_into_a_hunk_while_its_install_is_prepared_makes_it_stale() {
    let mut w = ws();
    let prepared = w.open_and_prepare_beta();
    w.type_over("f.rs", "beta", "bet");
    w.store
        .commit_install("t", prepared, InstallAs::New)
        .expect("typing is followed");
    assert_eq!(w.status("t", "t-1"), HunkStatus::Stale);
}

#[test]
fn an_install_whose_document_was_made_anew_meanwhile_is_refused_and_changes_nothing() {
    let mut w = ws();
    w.put("f.rs", BASE);
    let changes = beta_changes();
    // No document yet: the install reads the disk and would make a shadow of it...
    let prepared = w.store.install_basis(&changes).prepare(&changes);
    // ...but the editor opened the file with unsaved text in between.
    w.store.open("f.rs", &format!("// unsaved\n{BASE}"), 1);
    assert!(
        w.store
            .commit_install("t", prepared, InstallAs::New)
            .is_err()
    );
    assert!(
        w.store.view_page("t", None, None, 10).is_err(),
        "no proposal"
    );
    // Prepared again, it anchors on the editor's text.
    let store = std::sync::Mutex::new(w.store);
    let counts = install_unlocked(&store, "t", changes, InstallAs::New, |_, counts| counts);
    assert_eq!(counts, (1, 1));
    let store = store.into_inner().expect("not poisoned");
    let page = store.view_page("t", None, None, 10).expect("page");
    assert_eq!(page.files[0].hunks[0].range.start.line, 3);
}

#[test]
fn installing_in_phases_gives_the_same_ids_and_places_as_in_one_go() {
    let target = BASE.replace("alpha", "ALPHA").replace("gamma", "GAMMA");
    let mut one_go = ws();
    one_go.open(BASE);
    one_go.task("t", BASE, &target);
    one_go.task("u", BASE, &BASE.replace("beta", "BETA"));
    let mut phases = ws();
    phases.open(BASE);
    let store = std::sync::Mutex::new(phases.store);
    for (task, target) in [("t", target.clone()), ("u", BASE.replace("beta", "BETA"))] {
        let changes = vec![(change("f.rs", Some(BASE), Some(&target)), Vec::new())];
        install_unlocked(&store, task, changes, InstallAs::New, |_, _| ());
    }
    phases.store = store.into_inner().expect("not poisoned");
    for task in ["t", "u"] {
        let page = |w: &Ws| -> Vec<(String, Range)> {
            w.store
                .view_page(task, None, None, 10)
                .expect("page")
                .files
                .into_iter()
                .flat_map(|f| f.hunks)
                .map(|h| (h.hunk_id, h.range))
                .collect()
        };
        assert_eq!(page(&one_go), page(&phases));
    }
}

// ----- refresh ---------------------------------------------------------------------------

#[test]
fn refresh_re_places_a_hunk_a_formatter_made_stale_without_touching_its_lines() {
    let mut w = ws();
    w.open_with_beta_task();
    // A formatter rewrites the whole buffer; only the lines around the hunk change.
    w.whole("f.rs", "  alpha\nkeep 1\nbeta\nkeep 2\n  gamma\n");
    assert_eq!(w.status("t", "t-1"), HunkStatus::Stale);
    assert!(
        !w.store.take_changed().is_empty(),
        "stale is news for the client"
    );

    let states = w.store.refresh("t", &[]);
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].status, HunkStatus::Pending);
    let info = w.info("t", "t-1");
    assert_eq!(info.range.start.line, 2);
    let plan = w.store.begin_accept("t", &ids(&["t-1"]), &[]);
    w.editor_applies(&plan);
    assert_eq!(w.text("f.rs"), "  alpha\nkeep 1\nBETA\nkeep 2\n  gamma\n");
    assert_eq!(w.status("t", "t-1"), HunkStatus::Accepted);
}

#[test]
fn a_closed_file_is_written_between_the_locked_phases_of_an_accept_and_then_confirmed() {
    let mut w = ws();
    let mut plan = w.decide_closed_beta_accept();
    let wanted = ids(&["t-1"]);
    assert_eq!(plan.disk.len(), 1, "{plan:?}");
    assert!(plan.written.is_empty() && plan.refused.is_empty());
    // Between the phases the hunk is accepted but not confirmed, and the file untouched.
    assert_eq!(w.status("t", "t-1"), HunkStatus::Accepted);
    assert_eq!(w.disk("f.rs").as_deref(), Some(BASE));
    plan.carry_out();
    assert_eq!(w.disk("f.rs"), Some(BASE.replace("beta", "BETA")));
    w.store.finish_writes("t", &mut plan);
    assert_eq!(plan.written, wanted);
    assert!(plan.disk.is_empty());
    assert_eq!(
        w.text("f.rs"),
        BASE.replace("beta", "BETA"),
        "the shadow follows"
    );
    // Confirmed: it can be undone, which writes the file back.
    let undo = w.store.begin_undo("t", &wanted);
    assert_eq!(undo.written, wanted, "{undo:?}");
    assert_eq!(w.disk("f.rs").as_deref(), Some(BASE));
}

#[test]
fn a_file_changed_on_disk_between_deciding_and_writing_is_not_written_over() {
    let mut w = ws();
    let mut plan = w.decide_closed_beta_accept();
    let theirs = BASE.replace("gamma", "GAMMA");
    w.put("f.rs", &theirs);
    plan.carry_out();
    w.store.finish_writes("t", &mut plan);
    assert!(plan.written.is_empty());
    assert!(
        plan.refused[0].reason.contains("changed on disk"),
        "{plan:?}"
    );
    assert_eq!(w.disk("f.rs"), Some(theirs));
    assert_eq!(w.status("t", "t-1"), HunkStatus::Pending, "taken back");
}

#[test]
fn a_refresh_whose_document_moved_while_its_merges_ran_is_refused_then_done_again() {
    let mut w = ws();
    w.open_with_beta_task();
    w.whole("f.rs", "  alpha\nkeep 1\nbeta\nkeep 2\n  gamma\n");
    assert_eq!(w.status("t", "t-1"), HunkStatus::Stale);
    let prepared = w.store.refresh_basis("t", &[]).prepare();
    w.type_over("f.rs", "keep 2", "kept 2");
    assert!(w.store.commit_refresh("t", &[], &prepared).is_err());
    assert_eq!(w.status("t", "t-1"), HunkStatus::Stale, "nothing changed");
    let store = std::sync::Mutex::new(w.store);
    let states = refresh_unlocked(&store, "t", &[], |_, states| states);
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].status, HunkStatus::Pending);
}

#[test]
fn refresh_keeps_a_real_conflict_stale_and_shows_what_is_there_now() {
    let mut w = ws();
    w.open_with_beta_task();
    w.type_over("f.rs", "beta", "beta2");
    let states = w.store.refresh("t", &ids(&["t-1"]));
    assert_eq!(states[0].status, HunkStatus::Stale);
    assert!(
        states[0].reason.as_deref().unwrap_or("").contains("line 3"),
        "{states:?}"
    );
    let info = w.info("t", "t-1");
    assert_eq!(info.current_text.as_deref(), Some("beta2\n"));
    assert_eq!(info.new_text, "BETA\n");
    let plan = w.store.begin_accept("t", &ids(&["t-1"]), &[]);
    assert!(
        plan.editor.is_empty() && plan.refused.len() == 1,
        "{plan:?}"
    );
}

#[test]
fn refresh_of_a_change_the_user_made_themselves_marks_it_done() {
    let mut w = ws();
    w.open_with_beta_task();
    w.type_over("f.rs", "beta", "BETA");
    assert_eq!(w.status("t", "t-1"), HunkStatus::Stale);
    let states = w.store.refresh("t", &[]);
    assert_eq!(states[0].status, HunkStatus::Accepted);
    assert_eq!(
        states[0].reason.as_deref(),
        Some(super::super::ALREADY_APPLIED)
    );
    assert_eq!(
        w.text("f.rs"),
        BASE.replace("beta", "BETA"),
        "nothing applied twice"
    );
}

// ----- conflicts between tasks -----------------------------------------------------------

#[test]
fn the_later_of_three_overlapping_tasks_yield_and_decisions_release_them() {
    let mut w = ws();
    w.open(BASE);
    let mine = |what: &str| BASE.replace("beta", what);
    w.task("a", BASE, &mine("A"));
    w.task("b", BASE, &mine("B"));
    w.task("c", BASE, &mine("C"));
    assert_eq!(w.status("a", "a-1"), HunkStatus::Pending);
    for task in ["b", "c"] {
        let state = w.state(task, &format!("{task}-1"));
        assert_eq!(state.status, HunkStatus::Conflict);
        assert_eq!(
            state.conflicts_with,
            Some(HunkRef {
                task_id: "a".into(),
                hunk_id: "a-1".into()
            }),
            "the earliest task is named"
        );
    }
    assert_eq!(w.store.accept_blockers("b", &ids(&["b-1"])).len(), 1);

    w.store.reject("a", &ids(&["a-1"]), Some("not this"));
    assert_eq!(
        w.status("b", "b-1"),
        HunkStatus::Pending,
        "b is next in line"
    );
    let c = w.state("c", "c-1");
    assert_eq!(c.conflicts_with.map(|r| r.hunk_id), Some("b-1".into()));
    let news = w.store.take_changed();
    assert!(
        news.iter()
            .any(|(t, s)| t == "b" && s.status == HunkStatus::Pending)
    );

    let plan = w.store.begin_accept("b", &ids(&["b-1"]), &[]);
    w.editor_applies(&plan);
    assert_eq!(w.text("f.rs"), mine("B"));
    let c = w.state("c", "c-1");
    assert_eq!(c.status, HunkStatus::Stale);
    assert!(
        c.reason
            .unwrap_or_default()
            .contains("was accepted over this one")
    );
    // Refreshing c against B's accepted text: the same lines changed, so it stays stale.
    assert_eq!(w.store.refresh("c", &[])[0].status, HunkStatus::Stale);
}

#[test]
fn insertions_at_the_same_point_by_two_tasks_conflict_but_touching_changes_do_not() {
    let mut w = ws();
    w.open(BASE);
    let inserted = BASE.replace("keep 2\n", "keep 2\nnew\n");
    w.task("a", BASE, &inserted);
    w.task("b", BASE, &inserted.replace("new", "other"));
    w.task("c", BASE, &BASE.replace("gamma", "G"));
    assert_eq!(w.status("b", "b-1"), HunkStatus::Conflict);
    assert_eq!(
        w.status("c", "c-1"),
        HunkStatus::Pending,
        "a change right after an insertion point does not overlap it"
    );
}

#[test]
fn deleting_the_text_between_two_tasks_insertions_makes_the_later_one_a_conflict() {
    let mut w = ws();
    w.open(BASE);
    // Task a inserts before `beta`, task b before `keep 2`: one line apart.
    w.task("a", BASE, &BASE.replace("beta\n", "A\nbeta\n"));
    w.task("b", BASE, &BASE.replace("keep 2\n", "B\nkeep 2\n"));
    assert_eq!(w.status("b", "b-1"), HunkStatus::Pending);
    // Typing far from both changes nothing.
    w.type_over("f.rs", "gamma", "gamma!");
    assert_eq!(w.status("b", "b-1"), HunkStatus::Pending);
    w.store.take_changed();
    // Deleting the line between them puts both insertions at one point.
    w.type_over("f.rs", "beta\n", "");
    assert_eq!(w.status("a", "a-1"), HunkStatus::Pending);
    let state = w.state("b", "b-1");
    assert_eq!(state.status, HunkStatus::Conflict);
    assert_eq!(
        state.conflicts_with,
        Some(HunkRef {
            task_id: "a".into(),
            hunk_id: "a-1".into()
        })
    );
    assert!(
        w.store
            .take_changed()
            .iter()
            .any(|(t, h)| t == "b" && h.hunk_id == "b-1"),
        "the client hears of it"
    );
}

// ----- undo ------------------------------------------------------------------------------

#[test]
fn undo_in_an_open_document_is_two_phase_and_gives_the_hunk_back_pending() {
    let mut w = ws();
    w.open_with_beta_task();
    let plan = w.store.begin_accept("t", &ids(&["t-1"]), &[]);
    w.editor_applies(&plan);

    let undo = w.store.begin_undo("t", &ids(&["t-1"]));
    assert_eq!(undo.editor.len(), 1);
    assert_eq!(undo.editor[0].edits[0].1, "beta\n");
    assert_eq!(
        w.status("t", "t-1"),
        HunkStatus::Accepted,
        "until the editor confirms"
    );
    w.store.abort_undo("t", &ids(&["t-1"]));
    assert_eq!(w.status("t", "t-1"), HunkStatus::Accepted);

    let undo = w.store.begin_undo("t", &ids(&["t-1"]));
    w.editor_applies(&undo);
    assert_eq!(w.text("f.rs"), BASE);
    assert_eq!(w.status("t", "t-1"), HunkStatus::Pending);
    assert_eq!(w.info("t", "t-1").range.start.line, 2);
}

#[test]
fn undo_is_refused_once_the_accepted_text_was_edited() {
    let mut w = ws();
    let base = "a\nb\nc\nd\n";
    w.open(base);
    w.task("t", base, "a\nB1\nB2\nB3\nc\nd\n");
    let plan = w.store.begin_accept("t", &ids(&["t-1"]), &[]);
    w.editor_applies(&plan);
    w.type_over("f.rs", "B3", "b3");
    let undo = w.store.begin_undo("t", &ids(&["t-1"]));
    assert!(undo.editor.is_empty());
    assert_eq!(undo.refused.len(), 1);
    assert!(
        undo.refused[0]
            .reason
            .contains("line 3 of the accepted text was edited since"),
        "{undo:?}"
    );
}

#[test]
fn accept_and_undo_of_a_closed_file_write_the_disk_and_are_confirmed_at_once() {
    let mut w = ws();
    w.put("f.rs", BASE);
    w.task("t", BASE, &BASE.replace("beta", "BETA"));
    let plan = w.store.begin_accept("t", &ids(&["t-1"]), &[]);
    assert!(plan.editor.is_empty());
    assert_eq!(plan.written, ["t-1"]);
    assert_eq!(w.disk("f.rs"), Some(BASE.replace("beta", "BETA")));
    assert_eq!(w.status("t", "t-1"), HunkStatus::Accepted);

    let undo = w.store.begin_undo("t", &ids(&["t-1"]));
    assert_eq!(undo.written, ["t-1"]);
    assert_eq!(w.disk("f.rs").as_deref(), Some(BASE));
    assert_eq!(w.status("t", "t-1"), HunkStatus::Pending);
}

#[test]
fn a_closed_file_changed_on_disk_is_re_read_and_nothing_is_written_over_it() {
    let mut w = ws();
    w.put("f.rs", BASE);
    w.task("t", BASE, &BASE.replace("beta", "BETA"));
    w.put("f.rs", &BASE.replace("beta", "bêta"));
    let plan = w.store.begin_accept("t", &ids(&["t-1"]), &[]);
    assert!(plan.written.is_empty() && plan.editor.is_empty());
    assert!(plan.refused[0].reason.contains("stale"), "{plan:?}");
    assert_eq!(w.disk("f.rs"), Some(BASE.replace("beta", "bêta")));
}

// ----- file operations -------------------------------------------------------------------

#[test]
fn created_deleted_and_renamed_files_are_written_to_disk_without_resource_operations() {
    let mut w = ws();
    w.put("gone.txt", "bye\n");
    w.put("old.rs", "fn a() {}\nfn b() {}\n");
    w.store.install(
        "t",
        vec![
            change("gone.txt", Some("bye\n"), None),
            change("old.rs", Some("fn a() {}\nfn b() {}\n"), None),
            change("new.rs", None, Some("fn a() {}\nfn b() {}\nfn c() {}\n")),
            change("fresh/made.txt", None, Some("hi\n")),
        ],
    );
    let page = w.store.view_page("t", None, None, 100).expect("page");
    let kinds: Vec<(&str, FileKind, Option<&str>)> = page
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.kind, f.new_path.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("gone.txt", FileKind::Delete, None),
            ("old.rs", FileKind::Rename, Some("new.rs")),
            ("fresh/made.txt", FileKind::Create, None),
        ]
    );
    assert_eq!(page.total_hunks, 3, "a rename is one decision");
    let all: Vec<String> = page
        .files
        .iter()
        .flat_map(|f| f.hunks.iter().map(|h| h.hunk_id.clone()))
        .collect();
    let plan = w.store.begin_accept("t", &all, &[]);
    assert!(plan.editor.is_empty(), "{plan:?}");
    assert_eq!(plan.written.len(), 3);
    assert_eq!(w.disk("gone.txt"), None);
    assert_eq!(w.disk("old.rs"), None);
    assert_eq!(
        w.disk("new.rs").as_deref(),
        Some("fn a() {}\nfn b() {}\nfn c() {}\n")
    );
    assert_eq!(w.disk("fresh/made.txt").as_deref(), Some("hi\n"));
    for id in &all {
        assert_eq!(w.status("t", id), HunkStatus::Accepted);
    }

    // Undo puts every file back as it was, and the hunks are pending again.
    let undo = w.store.begin_undo("t", &all);
    assert_eq!(undo.written.len(), 3, "{undo:?}");
    assert_eq!(w.disk("gone.txt").as_deref(), Some("bye\n"));
    assert_eq!(w.disk("old.rs").as_deref(), Some("fn a() {}\nfn b() {}\n"));
    assert_eq!(w.disk("new.rs"), None);
    assert_eq!(w.disk("fresh/made.txt"), None);
    for id in &all {
        assert_eq!(w.status("t", id), HunkStatus::Pending);
    }
}

#[test]
fn undoing_a_created_file_is_refused_once_it_was_edited() {
    let mut w = ws();
    w.store
        .install("t", vec![change("n.txt", None, Some("one\ntwo\n"))]);
    assert_eq!(
        w.store.begin_accept("t", &ids(&["t-1"]), &[]).written,
        ["t-1"]
    );
    w.put("n.txt", "one\n2\n");
    let undo = w.store.begin_undo("t", &ids(&["t-1"]));
    assert!(undo.written.is_empty());
    assert!(
        undo.refused[0]
            .reason
            .contains("line 2 of the accepted text"),
        "{undo:?}"
    );
    assert_eq!(w.disk("n.txt").as_deref(), Some("one\n2\n"));
}

#[test]
fn with_resource_operations_file_operations_go_to_the_editor_and_confirm_applied_confirms() {
    let mut w = ws();
    w.store.set_resource_operations(true);
    w.put("old.rs", "x\n");
    w.store.install(
        "t",
        vec![
            change("old.rs", Some("x\n"), None),
            change("new.rs", None, Some("x\n")),
        ],
    );
    let plan = w.store.begin_accept("t", &ids(&["t-1"]), &[]);
    assert!(plan.written.is_empty());
    assert_eq!(plan.editor.len(), 1);
    assert_eq!(plan.editor[0].kind, FileKind::Rename);
    assert_eq!(plan.editor[0].new_path.as_deref(), Some("new.rs"));
    assert_eq!(
        w.disk("old.rs").as_deref(),
        Some("x\n"),
        "the store wrote nothing"
    );
    w.store.confirm_applied("t", &ids(&["t-1"]));
    assert_eq!(w.status("t", "t-1"), HunkStatus::Accepted);

    // The editor did the move; undoing it moves the file back, through the editor too.
    std::fs::rename(w.dir.path().join("old.rs"), w.dir.path().join("new.rs")).expect("mv");
    let undo = w.store.begin_undo("t", &ids(&["t-1"]));
    assert_eq!(undo.editor.len(), 1, "{undo:?}");
    let back = &undo.editor[0];
    assert_eq!(
        (back.kind, back.path.as_str(), back.new_path.as_deref()),
        (FileKind::Rename, "new.rs", Some("old.rs"))
    );
    w.store.confirm_applied("t", &ids(&["t-1"]));
    assert_eq!(w.status("t", "t-1"), HunkStatus::Pending);
}

#[test]
fn a_create_is_refused_when_a_file_appeared_at_its_path() {
    let mut w = ws();
    w.store
        .install("t", vec![change("n.txt", None, Some("mine\n"))]);
    w.put("n.txt", "theirs\n");
    let plan = w.store.begin_accept("t", &ids(&["t-1"]), &[]);
    assert!(plan.written.is_empty());
    assert!(plan.refused[0].reason.contains("exists now"), "{plan:?}");
    assert_eq!(w.disk("n.txt").as_deref(), Some("theirs\n"));
}

// ----- paging ----------------------------------------------------------------------------

#[test]
fn walking_the_cursor_returns_every_hunk_exactly_once_and_a_path_narrows_it() {
    let mut w = ws();
    let base: String = (0..20).map(|i| format!("line {i}\n")).collect();
    let target = base
        .replace("line 3\n", "L3\n")
        .replace("line 9\n", "L9\n")
        .replace("line 15\n", "L15\n");
    let changes = (0..7)
        .map(|i| change(&format!("f{i}.txt"), Some(&base), Some(&target)))
        .collect();
    for i in 0..7 {
        w.put(&format!("f{i}.txt"), &base);
    }
    assert_eq!(w.store.install("t", changes), (7, 21));
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = w
            .store
            .view_page("t", None, cursor.as_deref(), 4)
            .expect("page");
        assert_eq!((page.total_files, page.total_hunks), (7, 21));
        let n: usize = page.files.iter().map(|f| f.hunks.len()).sum();
        assert!(n <= 4);
        seen.extend(
            page.files
                .iter()
                .flat_map(|f| f.hunks.iter().map(|h| h.hunk_id.clone())),
        );
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (1..=21).map(|n| format!("t-{n}")).collect();
    assert_eq!(seen, expected);

    let one = w
        .store
        .view_page("t", Some("f2.txt"), None, 100)
        .expect("page");
    assert_eq!((one.total_files, one.total_hunks), (1, 3));
    assert_eq!(one.files[0].hunks[0].hunk_id, "t-7");
    assert_eq!(
        w.store.view_page("t", None, Some("bogus"), 4).err(),
        Some(PageError::ForeignCursor {
            cursor: "bogus".into()
        })
    );
    assert_eq!(
        w.store.view_page("nope", None, None, 4).err(),
        Some(PageError::NoProposal {
            task_id: "nope".into()
        })
    );

    // A follow-up replaces the hunks between two pages: the old cursor is refused, not
    // continued into a different list.
    let first = w.store.view_page("t", None, None, 4).expect("page");
    let stale_cursor = first.next_cursor.expect("more pages");
    w.store
        .replace_undecided("t", vec![change("f0.txt", Some(&base), Some(&target))]);
    let Err(refused) = w.store.view_page("t", None, Some(&stale_cursor), 4) else {
        panic!("a cursor of the old list was taken");
    };
    assert_eq!(
        refused,
        PageError::ListChanged {
            task_id: "t".into()
        }
    );
    assert!(
        refused.to_string().contains("start again without a cursor"),
        "{refused}"
    );
}

// ----- review feedback and follow-ups ----------------------------------------------------

#[test]
fn accepting_with_the_users_text_keeps_the_proposal_and_rejections_keep_their_reason() {
    let mut w = ws();
    w.open(BASE);
    let target = BASE.replace("beta", "BETA").replace("gamma", "GAMMA");
    w.task("t", BASE, &target);
    let edits = [HunkEdit {
        hunk_id: "t-1".into(),
        new_text: "Beta\n".into(),
    }];
    let plan = w.store.begin_accept("t", &[], &edits);
    w.editor_applies(&plan);
    w.store
        .reject("t", &ids(&["t-2"]), Some("keep gamma lowercase"));
    assert_eq!(w.text("f.rs"), BASE.replace("beta", "Beta"));
    let info = w.info("t", "t-1");
    assert_eq!(
        (info.new_text.as_str(), info.proposed_text.as_deref()),
        ("Beta\n", Some("BETA\n"))
    );
    assert_eq!(
        w.info("t", "t-2").reason.as_deref(),
        Some("keep gamma lowercase")
    );

    let state = w.store.follow_up_state("t");
    assert_eq!(state.accepted[0].user_text.as_deref(), Some("Beta\n"));
    assert_eq!(state.accepted[0].proposed_text, "BETA\n");
    assert_eq!(
        state.rejected[0].reason.as_deref(),
        Some("keep gamma lowercase")
    );
    assert_eq!(state.undecided, 0);
}

#[test]
fn a_follow_up_replaces_undecided_hunks_and_continues_the_ids() {
    let mut w = ws();
    let base = "a\nb\nc\nd\ne\n";
    w.open(base);
    w.task("t", base, "A\nb\nC\nd\nE\n");
    let plan = w.store.begin_accept("t", &ids(&["t-1"]), &[]);
    w.editor_applies(&plan);
    w.store.reject("t", &ids(&["t-2"]), None);

    let state = w.store.follow_up_state("t");
    assert_eq!(
        state.files,
        [("f.rs".to_string(), Some("A\nb\nc\nd\nE\n".to_string()))]
    );
    assert_eq!(state.undecided, 1);

    // The follow-up's view started from the user's text with the pending E as its own
    // write; it keeps E and also changes b.
    let counts = w.store.replace_undecided(
        "t",
        vec![change(
            "f.rs",
            Some("A\nb\nc\nd\ne\n"),
            Some("A\nB\nc\nd\nE\n"),
        )],
    );
    assert_eq!(counts, (1, 2));
    let page = w.store.view_page("t", None, None, 100).expect("page");
    let hunks: Vec<(String, HunkStatus, String)> = page.files[0]
        .hunks
        .iter()
        .map(|h| (h.hunk_id.clone(), h.status, h.new_text.clone()))
        .collect();
    assert_eq!(
        hunks,
        [
            ("t-1".to_string(), HunkStatus::Accepted, "A\n".to_string()),
            ("t-4".to_string(), HunkStatus::Pending, "B\n".to_string()),
            ("t-2".to_string(), HunkStatus::Rejected, "C\n".to_string()),
            ("t-5".to_string(), HunkStatus::Pending, "E\n".to_string()),
        ]
    );
    let plan = w.store.begin_accept("t", &ids(&["t-4", "t-5"]), &[]);
    w.editor_applies(&plan);
    assert_eq!(w.text("f.rs"), "A\nB\nc\nd\nE\n");
}

#[test]
fn a_follow_up_keeps_the_pending_changes_it_kept_when_the_user_typed_meanwhile() {
    let mut w = ws();
    let base = "a\nb\nc\nd\ne\n";
    w.open(base);
    w.task("t", base, "a\nb\nc\nd\nE\n");
    let started = w.text("f.rs");
    // While the follow-up runs the user edits line 1.
    w.type_over("f.rs", "a\n", "a (mine)\n");
    let counts = w.store.replace_undecided(
        "t",
        vec![change("f.rs", Some(&started), Some("a\nB\nc\nd\nE\n"))],
    );
    assert_eq!(counts, (1, 2));
    let plan = w.store.begin_accept("t", &ids(&["t-2", "t-3"]), &[]);
    w.editor_applies(&plan);
    assert_eq!(w.text("f.rs"), "a (mine)\nB\nc\nd\nE\n");
}

#[test]
fn hunks_at_finds_what_can_be_acted_on_of_every_task() {
    let mut w = ws();
    w.open(BASE);
    w.task("a", BASE, &BASE.replace("alpha", "A"));
    w.task("b", BASE, &BASE.replace("gamma", "G"));
    let plan = w.store.begin_accept("a", &ids(&["a-1"]), &[]);
    w.editor_applies(&plan);
    let whole = Range {
        start: crate::protocol::Position {
            line: 0,
            character: 0,
        },
        end: crate::protocol::Position {
            line: 9,
            character: 0,
        },
    };
    let found: Vec<(String, HunkStatus)> = w
        .store
        .hunks_at("f.rs", whole)
        .into_iter()
        .map(|h| (h.hunk_id, h.status))
        .collect();
    assert_eq!(
        found,
        [
            ("a-1".to_string(), HunkStatus::Accepted),
            ("b-1".to_string(), HunkStatus::Pending)
        ]
    );
    // An accepted hunk whose text the user changed cannot be undone: it is not offered.
    // A stale one can still be refreshed or rejected: it is.
    w.type_over("f.rs", "A\n", "A!\n");
    w.type_over("f.rs", "gamma", "gamm");
    let found: Vec<(String, HunkStatus, String)> = w
        .store
        .hunks_at("f.rs", whole)
        .into_iter()
        .map(|h| (h.hunk_id, h.status, h.new_text))
        .collect();
    assert_eq!(
        found,
        [("b-1".to_string(), HunkStatus::Stale, "G\n".to_string())]
    );
}

#[test]
fn an_accept_reported_as_two_changes_is_still_the_accept() {
    let mut w = ws();
    let base = "def wave():\n    print('bye')\n";
    w.open(base);
    w.task("t", base, &base.replace("bye", "goodbye"));
    let plan = w.store.begin_accept("t", &ids(&["t-1"]), &[]);
    assert_eq!(plan.editor.len(), 1);
    // What Neovim 0.11 sends for that edit at the end of the file: the replacement
    // brings its own newline, then the old newline goes.
    let at = |line, character| Position { line, character };
    let v = w.version("f.rs") + 1;
    w.store.change(
        "f.rs",
        v,
        &[
            (
                Some(Range {
                    start: at(1, 11),
                    end: at(1, 16),
                }),
                "goodbye')\n".to_string(),
            ),
            (
                Some(Range {
                    start: at(2, 0),
                    end: at(3, 0),
                }),
                String::new(),
            ),
        ],
    );
    assert_eq!(w.text("f.rs"), base.replace("bye", "goodbye"));
    assert_eq!(w.status("t", "t-1"), HunkStatus::Accepted);
    // Confirmed, not still in flight: it can be undone.
    let undo = w.store.begin_undo("t", &ids(&["t-1"]));
    assert_eq!(undo.refused, Vec::new());
    assert_eq!(undo.editor.len(), 1);
}
