//! What the protocol shows of the store: the hunks under the cursor (code actions), a
//! proposal cut into pages, hunk states, and what a follow-up turn starts from.

use ropey::Rope;

use super::{FileProposal, ProposalStore, hunk_state};
use crate::documents::char_to_position;
use crate::proposal::page::{self, Cursor};
use crate::proposal::{ALREADY_APPLIED, Hunk, rebase};
use crate::protocol::{FileKind, HunkInfo, HunkState, HunkStatus, Range};

/// A proposal file as the protocol shows it (paths still workspace-relative).
pub struct FileView {
    pub path: String,
    pub kind: FileKind,
    pub new_path: Option<String>,
    pub version: Option<i32>,
    pub hunks: Vec<HunkInfo>,
}

pub struct ProposalPage {
    pub files: Vec<FileView>,
    pub next_cursor: Option<String>,
    pub total_files: usize,
    pub total_hunks: usize,
}

/// Why a page of a proposal cannot be given. Each message says how to go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// The task has no proposal (yet): it changed nothing so far.
    #[error("task {task_id} has no proposal")]
    NoProposal { task_id: String },
    #[error("`{cursor}` is not a cursor this server gave out; start again without one")]
    ForeignCursor { cursor: String },
    #[error(
        "task {task_id}'s hunks changed since that page was listed (a follow-up or refresh \
         added or re-placed some); start again without a cursor"
    )]
    ListChanged { task_id: String },
    #[error("the cursor points past the end of task {task_id}'s proposal; start again without one")]
    PastTheEnd { task_id: String },
}

/// A hunk the user can act on now, for code actions, code lenses and diagnostics:
/// undecided (pending, stale, conflict), or accepted with its text still exactly in
/// place (so an undo can succeed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HunkAt {
    pub task_id: String,
    pub hunk_id: String,
    pub range: Range,
    pub status: HunkStatus,
    /// The file's change as a whole (a created, deleted or renamed file's hunk is the
    /// whole file).
    pub kind: FileKind,
    /// Where a rename moves the file.
    pub new_path: Option<String>,
    pub old_text: String,
    pub new_text: String,
    /// Why it is stale or in conflict.
    pub reason: Option<String>,
}

/// What a follow-up turn starts from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FollowUpState {
    /// (path, text to start from; None = the pending change deletes it)
    pub files: Vec<(String, Option<String>)>,
    pub accepted: Vec<ReviewedHunk>,
    pub rejected: Vec<ReviewedHunk>,
    /// Still pending/stale/conflict when the follow-up starts.
    pub undecided: usize,
    /// Review findings the user dismissed.
    pub dismissed: Vec<super::DismissedFinding>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReviewedHunk {
    pub path: String,
    pub hunk_id: String,
    pub old_text: String,
    /// What the task proposed.
    pub proposed_text: String,
    /// Accepted with the user's own text (resolveHunks `edits`).
    pub user_text: Option<String>,
    /// Rejection reason given by the user.
    pub reason: Option<String>,
}

impl ProposalStore {
    /// The hunks touching `range` that the user can act on now (see [`HunkAt`]), all
    /// tasks, in document order. O(log h + k) per task with hunks in the file.
    pub fn hunks_at(&self, path: &str, range: Range) -> Vec<HunkAt> {
        let (Some(entry), Some(task_ids)) = (self.docs.get(path), self.by_path.get(path)) else {
            return Vec::new();
        };
        let rope = entry.doc.rope();
        let from = crate::documents::position_to_char(rope, range.start, self.encoding);
        let to = crate::documents::position_to_char(rope, range.end, self.encoding);
        let mut found = Vec::new();
        for task_id in task_ids {
            let Some(file) = self.file(task_id, path) else {
                continue;
            };
            let actionable = |h: &&Hunk| match h.status {
                HunkStatus::Pending | HunkStatus::Stale | HunkStatus::Conflict => true,
                HunkStatus::Accepted => {
                    file.hunks.in_flight_direction(&h.id).is_none()
                        && h.reason.as_deref() != Some(ALREADY_APPLIED)
                        && rebase::holds(h, rope, &h.new_text)
                }
                HunkStatus::Rejected => false,
            };
            for hunk in file.hunks.touching(from, to).filter(actionable) {
                found.push(HunkAt {
                    task_id: task_id.clone(),
                    hunk_id: hunk.id.clone(),
                    range: self.range_of(rope, hunk),
                    status: hunk.status,
                    kind: file.kind,
                    new_path: file.new_path.clone(),
                    old_text: hunk.old_text.clone(),
                    new_text: hunk.new_text.clone(),
                    reason: hunk.reason.clone(),
                });
            }
        }
        found.sort_by_key(|h| h.range.start);
        found
    }

    /// The files the task has hunks in (any status).
    pub fn task_paths(&self, task_id: &str) -> Vec<String> {
        self.tasks
            .get(task_id)
            .map(|task| task.files.iter().map(|f| f.path.clone()).collect())
            .unwrap_or_default()
    }

    /// How many of the task's hunks are accepted (their text is in the files).
    pub fn accepted_count(&self, task_id: &str) -> usize {
        self.tasks.get(task_id).map_or(0, |task| {
            task.files
                .iter()
                .flat_map(|f| f.hunks.hunks())
                .filter(|h| h.status == HunkStatus::Accepted)
                .count()
        })
    }

    /// Ids of the task's hunks in `path` with `status`.
    pub fn ids_in_file(&self, task_id: &str, path: &str, status: HunkStatus) -> Vec<String> {
        self.file(task_id, path)
            .map(|f| {
                f.hunks
                    .hunks()
                    .iter()
                    .filter(|h| h.status == status)
                    .map(|h| h.id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Current status of each named hunk; unknown ids are left out.
    pub fn hunk_states(&self, task_id: &str, ids: &[String]) -> Vec<HunkState> {
        ids.iter()
            .filter_map(|id| self.hunk(task_id, id))
            .map(hunk_state)
            .collect()
    }

    /// One page of the task's proposal (`path`: that file only), at most `limit` hunks,
    /// continuing at `cursor` (the `next_cursor` of the page before).
    pub fn view_page(
        &self,
        task_id: &str,
        path: Option<&str>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<ProposalPage, PageError> {
        let task_id_owned = || task_id.to_string();
        let task = self
            .tasks
            .get(task_id)
            .ok_or_else(|| PageError::NoProposal {
                task_id: task_id_owned(),
            })?;
        let files: Vec<&FileProposal> = match path {
            Some(path) => task.file(path).into_iter().collect(),
            None => task.files.iter().collect(),
        };
        let from = match cursor {
            None => Cursor { file: 0, hunk: 0 },
            Some(text) => {
                let (revision, from) =
                    Cursor::decode(text).ok_or_else(|| PageError::ForeignCursor {
                        cursor: text.to_string(),
                    })?;
                if revision != task.revision {
                    return Err(PageError::ListChanged {
                        task_id: task_id_owned(),
                    });
                }
                from
            }
        };
        let sizes: Vec<usize> = files.iter().map(|f| f.hunks.hunks().len()).collect();
        if from.file > sizes.len() || sizes.get(from.file).is_some_and(|&n| from.hunk > n) {
            return Err(PageError::PastTheEnd {
                task_id: task_id_owned(),
            });
        }
        let (slices, next) = page::plan(&sizes, from, limit);
        let views = slices
            .into_iter()
            .map(|(fi, a, b)| self.file_view(files[fi], a..b))
            .collect();
        Ok(ProposalPage {
            files: views,
            next_cursor: next.map(|c| c.encode(task.revision)),
            total_files: files.len(),
            total_hunks: sizes.iter().sum(),
        })
    }

    /// What a follow-up turn starts from: per file of the task that still has pending
    /// hunks, its current text with exactly those pending hunks applied (None: the
    /// pending change deletes the file); plus the review so far.
    pub fn follow_up_state(&self, task_id: &str) -> FollowUpState {
        let mut state = FollowUpState {
            dismissed: self.dismissed_findings(task_id),
            ..FollowUpState::default()
        };
        let Some(task) = self.tasks.get(task_id) else {
            return state;
        };
        for file in &task.files {
            let mut pending = Vec::new();
            for hunk in file.hunks.hunks() {
                match hunk.status {
                    HunkStatus::Pending => pending.push(hunk),
                    HunkStatus::Accepted => state.accepted.push(reviewed(file, hunk)),
                    HunkStatus::Rejected => state.rejected.push(reviewed(file, hunk)),
                    HunkStatus::Stale | HunkStatus::Conflict => {}
                }
                if rebase::is_undecided(hunk.status) {
                    state.undecided += 1;
                }
            }
            if pending.is_empty() {
                continue;
            }
            match (file.kind, &file.new_path) {
                (FileKind::Delete, _) => state.files.push((file.path.clone(), None)),
                (FileKind::Rename, Some(to)) => {
                    state.files.push((file.path.clone(), None));
                    let text = pending.first().map(|h| h.new_text.clone());
                    state.files.push((to.clone(), text));
                }
                _ => {
                    let text = self.current_text(&file.path).unwrap_or_default();
                    state
                        .files
                        .push((file.path.clone(), Some(with_applied(&text, &pending))));
                }
            }
        }
        state
    }

    fn file_view(&self, file: &FileProposal, hunks: std::ops::Range<usize>) -> FileView {
        let entry = self.docs.get(&file.path);
        let infos = match entry {
            Some(entry) => file.hunks.hunks()[hunks]
                .iter()
                .map(|h| self.hunk_info(entry.doc.rope(), h))
                .collect(),
            None => Vec::new(),
        };
        FileView {
            path: file.path.clone(),
            kind: file.kind,
            new_path: file.new_path.clone(),
            version: entry.filter(|e| e.open).map(|e| e.doc.version),
            hunks: infos,
        }
    }

    fn hunk_info(&self, rope: &Rope, h: &Hunk) -> HunkInfo {
        let shows_both_sides = matches!(h.status, HunkStatus::Stale | HunkStatus::Conflict);
        let current_text = shows_both_sides.then(|| {
            let end = h.end.min(rope.len_chars());
            rope.slice(h.start.min(end)..end).to_string()
        });
        HunkInfo {
            hunk_id: h.id.clone(),
            range: self.range_of(rope, h),
            old_text: h.old_text.clone(),
            new_text: h.new_text.clone(),
            status: h.status,
            reason: h.reason.clone(),
            current_text,
            conflicts_with: h.conflicts_with.clone(),
            proposed_text: h.proposed_text.clone(),
        }
    }

    fn range_of(&self, rope: &Rope, hunk: &Hunk) -> Range {
        Range {
            start: char_to_position(rope, hunk.start, self.encoding),
            end: char_to_position(rope, hunk.end, self.encoding),
        }
    }
}

fn reviewed(file: &FileProposal, h: &Hunk) -> ReviewedHunk {
    let (proposed_text, user_text) = match &h.proposed_text {
        Some(proposed) => (proposed.clone(), Some(h.new_text.clone())),
        None => (h.new_text.clone(), None),
    };
    ReviewedHunk {
        path: file.path.clone(),
        hunk_id: h.id.clone(),
        old_text: h.old_text.clone(),
        proposed_text,
        user_text,
        reason: (h.status == HunkStatus::Rejected)
            .then(|| h.reason.clone())
            .flatten(),
    }
}

/// `text` with the (sorted, disjoint) pending hunks applied.
pub(super) fn with_applied(text: &str, pending: &[&Hunk]) -> String {
    let mut rope = Rope::from_str(text);
    for h in pending.iter().rev() {
        let end = h.end.min(rope.len_chars());
        rope.remove(h.start.min(end)..end);
        rope.insert(h.start.min(end), &h.new_text);
    }
    rope.to_string()
}
