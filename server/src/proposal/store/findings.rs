//! Review findings in the store: anchored in the same documents as hunks (open or
//! shadow), moved by the same text sync (`text.rs` calls [`ProposalStore::move_findings`]),
//! and shown through the protocol's [`FindingInfo`].

use super::ProposalStore;
use super::persist::drift;
use crate::documents::{Change, char_to_position, position_to_char};
use crate::proposal::findings::{self, Finding};
use crate::protocol::{FindingInfo, Range};
use crate::uri;

/// A finding the user dismissed: what a follow-up tells the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DismissedFinding {
    pub path: String,
    pub title: String,
    pub reason: Option<String>,
}

impl ProposalStore {
    /// Adds findings reported on `path` as it read `text_then`; they are moved onto the
    /// file's current text (the user may have typed since) and those whose lines changed
    /// meanwhile are dropped. Returns how many were kept.
    pub fn add_findings(&mut self, path: &str, text_then: &str, mut added: Vec<Finding>) -> usize {
        self.ensure_doc(path, text_then);
        let Some(entry) = self.docs.get(path) else {
            return 0;
        };
        if entry.doc.rope() != text_then {
            let now = entry.doc.text();
            for change in drift(text_then, &now) {
                findings::apply_change(&mut added, change);
            }
        }
        let kept = added.len();
        if kept > 0 {
            let list = self.findings.entry(path.to_string()).or_default();
            list.extend(added);
            list.sort_by_key(|f| (f.start, f.end));
        } else {
            self.drop_shadow_if_unused(path);
        }
        kept
    }

    /// A new finding id for the task: `<taskId>-f<n>`, n never handed out before for it
    /// (findings that went away keep theirs).
    pub fn take_finding_id(&mut self, task_id: &str) -> String {
        let serial = self.finding_serials.entry(task_id.to_string()).or_default();
        *serial += 1;
        format!("{task_id}-f{serial}")
    }

    /// A restored finding's id: later ones are numbered after it.
    pub fn note_finding_id(&mut self, task_id: &str, id: &str) {
        let n = id
            .strip_prefix(task_id)
            .and_then(|rest| rest.strip_prefix("-f"))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_default();
        let serial = self.finding_serials.entry(task_id.to_string()).or_default();
        *serial = (*serial).max(n);
    }

    /// Moves the findings in `path` through edits just applied to its document.
    pub(super) fn move_findings(&mut self, path: &str, changes: &[Change]) {
        let Some(list) = self.findings.get_mut(path) else {
            return;
        };
        for change in changes {
            findings::apply_change(list, *change);
        }
        if list.is_empty() {
            self.findings.remove(path);
        }
    }

    /// Whether any finding is anchored in `path` (its shadow document must stay).
    pub(super) fn has_findings(&self, path: &str) -> bool {
        self.findings.contains_key(path)
    }

    /// The findings of every task touching `range` of `path`, in document order.
    pub fn findings_at(&self, path: &str, range: Range) -> Vec<(String, FindingInfo)> {
        let (Some(entry), Some(list)) = (self.docs.get(path), self.findings.get(path)) else {
            return Vec::new();
        };
        let rope = entry.doc.rope();
        let from = position_to_char(rope, range.start, self.encoding);
        let to = position_to_char(rope, range.end, self.encoding);
        list.iter()
            .filter(|f| f.start <= to && f.end >= from)
            .map(|f| (f.task_id.clone(), self.finding_info(path, f)))
            .collect()
    }

    /// The task's findings, file by file in document order.
    pub fn task_findings(&self, task_id: &str) -> Vec<FindingInfo> {
        let mut paths: Vec<&String> = self.findings.keys().collect();
        paths.sort();
        paths
            .into_iter()
            .flat_map(|path| {
                self.findings[path]
                    .iter()
                    .filter(|f| f.task_id == task_id)
                    .map(|f| self.finding_info(path, f))
            })
            .collect()
    }

    /// The files the task has findings in.
    pub fn finding_paths(&self, task_id: &str) -> Vec<String> {
        self.findings
            .iter()
            .filter(|(_, list)| list.iter().any(|f| f.task_id == task_id))
            .map(|(path, _)| path.clone())
            .collect()
    }

    /// The finding, and the file it is in.
    pub fn finding(&self, task_id: &str, finding_id: &str) -> Option<(String, Finding)> {
        self.findings.iter().find_map(|(path, list)| {
            list.iter()
                .find(|f| f.task_id == task_id && f.id == finding_id)
                .map(|f| (path.clone(), f.clone()))
        })
    }

    /// Removes a finding the user dismissed and remembers it for a follow-up. False:
    /// no such finding is shown (dismissed already, or its lines were edited).
    pub fn dismiss_finding(
        &mut self,
        task_id: &str,
        finding_id: &str,
        reason: Option<&str>,
    ) -> bool {
        let Some((path, finding)) = self.finding(task_id, finding_id) else {
            return false;
        };
        self.remember_dismissal(task_id, &path, &finding.report.title, reason);
        if let Some(list) = self.findings.get_mut(&path) {
            list.retain(|f| !(f.task_id == task_id && f.id == finding_id));
            if list.is_empty() {
                self.findings.remove(&path);
            }
        }
        self.drop_shadow_if_unused(&path);
        true
    }

    /// Records a dismissal for the task's next follow-up (also when a log is restored).
    pub fn remember_dismissal(
        &mut self,
        task_id: &str,
        path: &str,
        title: &str,
        reason: Option<&str>,
    ) {
        self.dismissed
            .entry(task_id.to_string())
            .or_default()
            .push(DismissedFinding {
                path: path.to_string(),
                title: title.to_string(),
                reason: reason.map(str::to_string),
            });
    }

    /// Forgets the task's findings (a deleted task, a follow-up reporting anew).
    pub fn drop_findings(&mut self, task_id: &str) {
        let paths = self.finding_paths(task_id);
        for path in paths {
            if let Some(list) = self.findings.get_mut(&path) {
                list.retain(|f| f.task_id != task_id);
                if list.is_empty() {
                    self.findings.remove(&path);
                }
            }
            self.drop_shadow_if_unused(&path);
        }
    }

    /// Forgets everything about the task's findings, dismissals included.
    pub fn forget_findings(&mut self, task_id: &str) {
        self.drop_findings(task_id);
        self.dismissed.remove(task_id);
        self.finding_serials.remove(task_id);
    }

    pub(super) fn dismissed_findings(&self, task_id: &str) -> Vec<DismissedFinding> {
        self.dismissed.get(task_id).cloned().unwrap_or_default()
    }

    fn finding_info(&self, path: &str, finding: &Finding) -> FindingInfo {
        let rope = self.docs.get(path).map(|e| e.doc.rope());
        let position = |offset: usize| {
            rope.map(|rope| char_to_position(rope, offset, self.encoding))
                .unwrap_or_default()
        };
        FindingInfo {
            finding_id: finding.id.clone(),
            uri: uri::from_relative(&self.root, path),
            range: Range {
                start: position(finding.start),
                end: position(finding.end),
            },
            report: finding.report.clone(),
        }
    }
}
