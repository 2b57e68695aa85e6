//! The engine's side of review findings: a review's findings installed in the store and
//! recorded in its log, dismissals, a finding's fix becoming hunks of the review task, and
//! findings brought back from the log by a later server.

use std::collections::{BTreeMap, HashSet};

use std::sync::Arc;

use super::{Engine, EngineError};
use crate::proposal::findings::Finding;
use crate::proposal::store::InstallAs;
use crate::protocol::{FindingInfo, HunkStatus, TaskUpdate};
use crate::review::ReportedFinding;
use crate::task::blobs::{BlobText, Blobs};
use crate::task::load::LoadedTask;
use crate::task::log::{Event, FindingRecord};
use crate::task::{Task, now_ms};
use crate::workspace::TaskView;

impl Engine {
    /// Numbers a run's findings (`<taskId>-f<n>`, continuing over follow-ups), records
    /// them and anchors them in the current text; returns how many are shown.
    pub(super) fn install_findings(&self, task: &Task, reported: Vec<ReportedFinding>) -> usize {
        let mut by_path: BTreeMap<String, (String, Vec<Finding>)> = BTreeMap::new();
        let ids: Vec<String> = {
            let mut store = self.store();
            reported
                .iter()
                .map(|_| store.take_finding_id(&task.id))
                .collect()
        };
        for (finding, id) in reported.into_iter().zip(ids) {
            task.log(Event::Finding(FindingRecord {
                at: now_ms(),
                id: id.clone(),
                path: finding.path.clone(),
                start: finding.start,
                end: finding.end,
                text: BlobText::from_text(finding.text.as_str()),
                report: finding.report.clone(),
            }));
            let entry = by_path
                .entry(finding.path.clone())
                .or_insert_with(|| (finding.text.clone(), Vec::new()));
            entry.1.push(Finding {
                task_id: task.id.clone(),
                id,
                start: finding.start,
                end: finding.end,
                report: finding.report,
            });
        }
        self.update_store(|store| {
            by_path
                .into_iter()
                .map(|(path, (text, findings))| store.add_findings(&path, &text, findings))
                .sum()
        })
    }

    /// The task's findings still shown.
    pub fn findings(&self, task_id: &str) -> Vec<FindingInfo> {
        self.store().task_findings(task_id)
    }

    /// `agent/dismissFinding`: the finding goes away, and the next follow-up tells the
    /// model (with `reason`).
    pub fn dismiss_finding(
        &self,
        task_id: &str,
        finding_id: &str,
        reason: Option<String>,
    ) -> Result<(), EngineError> {
        let task = self.task(task_id)?;
        if !self.update_store(|store| store.dismiss_finding(task_id, finding_id, reason.as_deref()))
        {
            return Err(not_shown(task_id, finding_id));
        }
        task.log(Event::FindingDismissed {
            at: now_ms(),
            finding_id: finding_id.to_string(),
            reason: reason.clone(),
        });
        task.emit(TaskUpdate::FindingDismissed {
            finding_id: finding_id.to_string(),
            reason,
        });
        Ok(())
    }

    /// `agent.applyFix`: the finding's fix, applied to the current text (unsaved buffers
    /// included), becomes pending hunks of the review task, reviewed like any others.
    /// Returns their ids.
    pub fn apply_fix(&self, task_id: &str, finding_id: &str) -> Result<Vec<String>, EngineError> {
        let task = self.task(task_id)?;
        let (_, finding) = self
            .store()
            .finding(task_id, finding_id)
            .ok_or_else(|| not_shown(task_id, finding_id))?;
        let fix = finding.report.fix.ok_or_else(|| {
            EngineError::Invalid(format!("finding {finding_id} comes with no fix"))
        })?;
        let buffers = self.store().open_buffers();
        let mut view = TaskView::new(&self.root, buffers)
            .map_err(|e| EngineError::Invalid(format!("cannot read the workspace: {e}")))?;
        crate::review::apply_fix(&mut view, &fix).map_err(|e| {
            EngineError::Invalid(format!(
                "the fix of {finding_id} no longer applies to the text as it is now: {e}"
            ))
        })?;
        let changes = view.changes();
        let paths: Vec<String> = changes.iter().map(|c| c.path.clone()).collect();
        let pending = |engine: &Engine| -> HashSet<String> {
            let store = engine.store();
            paths
                .iter()
                .flat_map(|path| store.ids_in_file(task_id, path, HunkStatus::Pending))
                .collect()
        };
        let before = pending(self);
        let changes = changes.into_iter().map(|c| (c, Vec::new())).collect();
        let (files, hunks) = self.install(&task, changes, InstallAs::Add);
        task.emit(TaskUpdate::Proposal { files, hunks });
        let mut added: Vec<String> = pending(self).difference(&before).cloned().collect();
        added.sort();
        Ok(added)
    }

    /// Shows a restored review's findings again (those not dismissed), moved onto the
    /// files' current text, and remembers its dismissals for a follow-up.
    pub(super) fn restore_findings(&self, loaded: &LoadedTask, task: &Arc<Task>, blobs: &Blobs) {
        self.update_store(|store| {
            for (record, dismissed) in &loaded.findings {
                store.note_finding_id(&task.id, &record.id);
                if let Some(reason) = dismissed {
                    store.remember_dismissal(
                        &task.id,
                        &record.path,
                        &record.report.title,
                        reason.as_deref(),
                    );
                    continue;
                }
                let text = match blobs.read(&record.text) {
                    Ok(text) => text,
                    Err(error) => {
                        tracing::warn!(
                            "finding {} of task {} is not restored: {error}",
                            record.id,
                            task.id
                        );
                        continue;
                    }
                };
                let finding = Finding {
                    task_id: task.id.clone(),
                    id: record.id.clone(),
                    start: record.start,
                    end: record.end,
                    report: record.report.clone(),
                };
                store.add_findings(&record.path, &text, vec![finding]);
            }
        });
    }
}

fn not_shown(task_id: &str, finding_id: &str) -> EngineError {
    EngineError::Invalid(format!(
        "task {task_id} shows no finding {finding_id} (dismissed, or its lines were edited); \
         agent/getTask lists the findings it shows"
    ))
}
