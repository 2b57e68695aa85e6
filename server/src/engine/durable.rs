//! Tasks that outlive the server: what the engine writes to a task's log besides its
//! updates (headers, proposal checkpoints, decisions), and how it brings a workspace's
//! tasks back when a server starts, forks one, or deletes one.
//!
//! The proposal store decides what a checkpoint holds and how one is restored
//! (`proposal/store/persist.rs`); the log module decides how it is written
//! (`task/log.rs`). This module only moves data between the two, and keeps the order
//! that makes restoring exact: a checkpoint is recorded inside the same store section
//! that changed the hunks it describes, so no decision can slip between the two.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Engine, EngineError};
use crate::model::Item;
use crate::proposal::Hunk;
use crate::proposal::store::{
    ProposalStore, SavedDecision, SavedFile, SavedProposal, refresh_unlocked,
};
use crate::protocol::{
    HunkEdit, HunkState, HunkStatus, StartTaskParams, TaskMode, TaskStatus, TaskUpdate,
};
use crate::task::blobs::{BlobText, Blobs};
use crate::task::load::{self, LoadedTask, LoggedProposal, UnfinishedRun};
use crate::task::log::{self, DecisionAction, Event, ForkOrigin, TaskKind};
use crate::task::{Task, now_ms};
use crate::workspace::FileChange;

impl Engine {
    /// Creates the task `id` (from [`crate::task::TaskRegistry::new_id`]) and, when
    /// history is on, its log (header first).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn create_task(
        &self,
        id: String,
        kind: TaskKind,
        prompt: String,
        mode: TaskMode,
        params: Option<&StartTaskParams>,
        buffers: &HashMap<String, String>,
        forked_from: Option<ForkOrigin>,
    ) -> Arc<Task> {
        let journal = if self.history_max > 0 {
            let header = Event::Header(log::Header {
                version: log::FORMAT_VERSION,
                task_id: id.clone(),
                kind,
                prompt: prompt.clone(),
                mode,
                params: params.cloned(),
                root: self.root.to_string_lossy().into_owned(),
                created_at: now_ms(),
                buffers: buffers
                    .iter()
                    .map(|(path, text)| (path.clone(), BlobText::from_text(text.as_str())))
                    .collect(),
                forked_from: forked_from.clone(),
            });
            self.settings.journal.create(&id, header)
        } else {
            None
        };
        self.tasks
            .create(id, prompt, mode, self.sink.clone(), journal, forked_from)
    }

    /// Loads the workspace's tasks from their logs: each as it was (a task whose server
    /// died mid-run is `interrupted`, with the hunks it had made so far), proposals
    /// re-anchored on the text the files have now.
    pub(super) fn load_history(&self) {
        if self.history_max == 0 {
            return;
        }
        let journal = &self.settings.journal;
        let scan = load::scan(journal, &self.root, self.history_max);
        for warning in &scan.warnings {
            tracing::warn!("{warning}");
        }
        let mut loaded: Vec<(LoadedTask, Arc<Task>)> = scan
            .tasks
            .into_iter()
            .map(|(task, file)| {
                let handle = journal.adopt(&task.header.task_id, file);
                let restored = self.tasks.restore(&task, self.sink.clone(), handle);
                (task, restored)
            })
            .collect();
        // Overlapping hunks of two tasks: the one installed first keeps precedence.
        loaded.sort_by_key(|(task, _)| task.proposal.as_ref().map_or(u64::MAX, |p| p.installed_at));
        let Some(blobs) = journal.blobs() else {
            return;
        };
        for (task, restored) in &loaded {
            self.restore_attempts(restored, task, blobs);
            if let Some(proposal) = &task.proposal {
                let files = saved_files(proposal, blobs, &restored.id);
                self.update_store(|store| store.restore(&restored.id, proposal.next_hunk, files));
            }
            if let Some(run) = &task.unfinished {
                self.recover_run(restored, run, blobs);
            }
            if !task.findings.is_empty() {
                self.restore_findings(task, restored, blobs);
            }
        }
        if !loaded.is_empty() {
            tracing::info!(
                "loaded {} earlier tasks of {}",
                loaded.len(),
                self.root.display()
            );
        }
    }

    /// Installs what a run that never finished had changed, as its end would have.
    fn recover_run(&self, task: &Arc<Task>, run: &UnfinishedRun, blobs: &Blobs) {
        let installed = self.update_store(|store| {
            let installed = install_run(store, &task.id, run, blobs)?;
            checkpoint(store, task, None);
            Some(installed)
        });
        if let Some((files, hunks)) = installed {
            task.emit(TaskUpdate::Proposal { files, hunks });
        }
    }

    /// Records a decision that took effect (an accept the editor applied or the server
    /// wrote, a rejection, an undo) in the task's log; `edits`: hunks accepted with the
    /// user's own text (see [`ProposalStore::user_texts`]).
    pub fn log_decision(
        &self,
        task_id: &str,
        action: DecisionAction,
        hunk_ids: &[String],
        reason: Option<&str>,
        edits: Vec<HunkEdit>,
    ) {
        let Ok(task) = self.task(task_id) else {
            return;
        };
        task.log(Event::Decision(log::Decision {
            at: now_ms(),
            action,
            hunk_ids: hunk_ids.to_vec(),
            reason: reason.map(str::to_string),
            edits,
        }));
    }

    /// Re-places stale hunks (`agent/refreshProposal`) and records the new positions.
    pub fn refresh(
        &self,
        task_id: &str,
        hunk_ids: &[String],
    ) -> Result<Vec<HunkState>, EngineError> {
        let task = self.task(task_id)?;
        let (states, changed) =
            refresh_unlocked(&self.store, task_id, hunk_ids, |store, states| {
                if !states.is_empty() {
                    let ids: Vec<String> = states.iter().map(|s| s.hunk_id.clone()).collect();
                    task.log(Event::Decision(log::Decision {
                        at: now_ms(),
                        action: DecisionAction::Refresh,
                        hunk_ids: ids.clone(),
                        reason: None,
                        edits: Vec::new(),
                    }));
                    checkpoint(store, &task, Some(&store.files_of(task_id, &ids)));
                }
                let changed = store.take_changed();
                (states, changed)
            });
        self.notify_hunks(changed);
        Ok(states)
    }

    /// Where files made for a task live besides its log (`$AGENTLS_HOME/tasks/<taskId>/`:
    /// the `proposal.diff` of `agent.showProposal`); deleting the task removes it.
    pub fn task_dir(&self, task_id: &str) -> PathBuf {
        self.settings.home.join("tasks").join(task_id)
    }

    /// Removes a finished task: its hunks, its log, its directory, and the blobs only it
    /// used.
    pub fn delete_task(&self, task_id: &str) -> Result<(), EngineError> {
        let task = self.task(task_id)?;
        if !task.status().is_finished() {
            return Err(EngineError::StillRunning(task_id.to_string()));
        }
        self.update_store(|store| {
            store.discard(task_id);
            store.forget_findings(task_id);
        });
        self.external.discard(task_id);
        self.tasks.remove(task_id);
        self.attempt_sets().remove(task_id);
        let dir = self.task_dir(task_id);
        if let Err(error) = std::fs::remove_dir_all(&dir)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove {}: {error}", dir.display());
        }
        self.settings.journal.remove(task_id);
        // Gone once the answer says so, even if the server dies right after.
        self.settings.journal.flush();
        Ok(())
    }

    /// A new task whose conversation is the original's up to model turn `at_turn`
    /// (default: all of it) and whose proposal is the original's undecided hunks at that
    /// point, under new ids. The original is untouched.
    pub async fn fork_task(
        &self,
        task_id: &str,
        at_turn: Option<u32>,
    ) -> Result<String, EngineError> {
        let original = self.task(task_id)?;
        if !original.status().is_finished() {
            return Err(EngineError::StillRunning(task_id.to_string()));
        }
        self.built_in_only(&original, "forked")?;
        if self.attempts_of(task_id).is_some() {
            return Err(EngineError::Invalid(format!(
                "task {task_id} has attempts, which a fork cannot carry yet; follow up on \
                 the chosen attempt instead"
            )));
        }
        let turns = original.turns();
        let at = at_turn.unwrap_or(turns);
        if turns == 0 || at == 0 || at > turns {
            return Err(EngineError::Invalid(if turns == 0 {
                format!("task {task_id} has no model turns to fork from")
            } else {
                format!("atTurn must be between 1 and {turns} for task {task_id}")
            }));
        }
        let history = original.history();
        let (events, items, proposal) = if at == turns {
            let saved = self.store().save(task_id, None).unwrap_or_default();
            (
                self.conversation_events(task_id, None),
                history.items.clone(),
                saved,
            )
        } else {
            let events = self.conversation_events(task_id, Some(at)).ok_or_else(|| {
                EngineError::Invalid(format!(
                    "forking at an earlier turn needs task {task_id}'s log, and there is none \
                     (task_history_max = 0?)"
                ))
            })?;
            let (items, proposal) = self.state_at(task_id, at)?;
            (Some(events), items, proposal)
        };
        let fork = self.create_task(
            self.tasks.new_id(),
            TaskKind::Agent,
            original.prompt.clone(),
            original.mode,
            history.params.as_ref(),
            &HashMap::new(),
            Some(ForkOrigin {
                task_id: task_id.to_string(),
                at_turn: at,
            }),
        );
        for event in events.into_iter().flatten() {
            fork.log(event);
        }
        fork.set_conversation(history.params, items, at);
        let hunks = renumbered(proposal, &fork.id);
        let next_hunk = hunks.iter().map(|(f, _)| f.hunks.len() as u64).sum();
        let (files, hunks) = self.update_store(|store| {
            let restored = store.restore(&fork.id, next_hunk, hunks);
            checkpoint(store, &fork, None);
            restored
        });
        fork.emit(TaskUpdate::Proposal { files, hunks });
        fork.finish(
            TaskStatus::Completed,
            Some(format!("fork of {task_id} at turn {at} of {turns}")),
        );
        // On disk, finished, once the answer names it, even if the server dies right after.
        fork.settled().await;
        Ok(fork.id.clone())
    }

    /// The original's conversation events (user messages, responses, tool outputs) up to
    /// `at_turn` (None: all), read from its log; None without a log.
    fn conversation_events(&self, task_id: &str, at_turn: Option<u32>) -> Option<Vec<Event>> {
        let dir = self.settings.journal.dir()?;
        self.settings.journal.flush();
        let read = log::read(&crate::task::journal::log_path(dir, task_id)).ok()?;
        Some(load::conversation(read.events, at_turn))
    }

    /// The conversation and the proposal of the task as they were after `at_turn`.
    fn state_at(
        &self,
        task_id: &str,
        at_turn: u32,
    ) -> Result<(Vec<Item>, SavedProposal), EngineError> {
        let dir = self.settings.journal.dir();
        let blobs = self.settings.journal.blobs();
        let (Some(dir), Some(blobs)) = (dir, blobs) else {
            return Err(EngineError::Invalid("task history is off".into()));
        };
        let read = log::read(&crate::task::journal::log_path(dir, task_id))
            .map_err(|e| EngineError::Invalid(format!("cannot read task {task_id}'s log: {e}")))?;
        let cut = load::cut_at_turn(read, at_turn);
        let task = load::rebuild(cut);
        // Rebuilt in a store of its own: the proposal as it was then, without touching
        // the live one.
        let mut store = ProposalStore::new(self.root.clone(), self.store().encoding());
        if let Some(logged) = &task.proposal {
            store.restore(
                task_id,
                logged.next_hunk,
                saved_files(logged, blobs, task_id),
            );
        }
        if let Some(run) = &task.unfinished {
            install_run(&mut store, task_id, run, blobs);
        }
        Ok((task.items, store.save(task_id, None).unwrap_or_default()))
    }
}

/// Installs the changes of a run that did not finish (it was cut short, or a fork stops
/// in its middle) as the run's end would have: a first run's as the proposal, a
/// follow-up's in place of the undecided hunks. None when there is nothing to install.
fn install_run(
    store: &mut ProposalStore,
    task_id: &str,
    run: &UnfinishedRun,
    blobs: &Blobs,
) -> Option<(usize, usize)> {
    let read = |blob: &Option<BlobText>| -> Result<Option<String>, String> {
        blob.as_ref()
            .map(|b| blobs.read(b).map_err(|e| e.to_string()))
            .transpose()
    };
    let changes: Result<Vec<FileChange>, String> = run
        .changes
        .iter()
        .map(|change| {
            Ok(FileChange {
                path: change.path.clone(),
                base: read(&change.base)?,
                new: read(&change.new)?,
            })
        })
        .collect();
    match changes {
        Ok(changes) if changes.is_empty() => None,
        Ok(changes) if run.run > 1 => Some(store.replace_undecided(task_id, changes)),
        Ok(changes) => Some(store.install(task_id, changes)),
        Err(error) => {
            tracing::warn!("task {task_id}: what its unfinished run changed is lost: {error}");
            None
        }
    }
}

/// Records the task's proposal (all files, or `only` those) as it stands in `store`.
/// Call it inside the store section that changed it, so the order in the log is the
/// order of the changes.
pub fn checkpoint(store: &ProposalStore, task: &Task, only: Option<&[String]>) {
    let saved = store.save(&task.id, only).unwrap_or_default();
    task.log(Event::Proposal(log::ProposalCheckpoint {
        at: now_ms(),
        full: only.is_none(),
        next_hunk: saved.next_hunk,
        files: saved
            .files
            .into_iter()
            .map(|file| log::FileCheckpoint {
                path: file.path,
                kind: file.kind,
                new_path: file.new_path,
                text: BlobText::from_rope(file.text),
                bases: file.bases.into_iter().map(BlobText::from_text).collect(),
                hunks: file.hunks.iter().map(log::HunkRecord::from).collect(),
            })
            .collect(),
    }));
}

/// The logged proposal with its texts read back, ready for [`ProposalStore::restore`].
/// A file whose texts are missing is left out, with a warning.
fn saved_files(
    proposal: &LoggedProposal,
    blobs: &Blobs,
    task_id: &str,
) -> Vec<(SavedFile, Vec<SavedDecision>)> {
    proposal
        .files
        .iter()
        .filter_map(|(checkpoint, decisions)| {
            let read = || -> std::io::Result<SavedFile> {
                Ok(SavedFile {
                    path: checkpoint.path.clone(),
                    kind: checkpoint.kind,
                    new_path: checkpoint.new_path.clone(),
                    text: ropey::Rope::from_str(&blobs.read(&checkpoint.text)?),
                    bases: checkpoint
                        .bases
                        .iter()
                        .map(|b| blobs.read(b).map(Arc::from))
                        .collect::<std::io::Result<_>>()?,
                    hunks: checkpoint.hunks.iter().cloned().map(Hunk::from).collect(),
                })
            };
            match read() {
                Ok(file) => Some((file, decisions.iter().map(saved_decision).collect())),
                Err(error) => {
                    tracing::warn!(
                        "task {task_id}: the hunks of {} cannot be restored: {error}",
                        checkpoint.path
                    );
                    None
                }
            }
        })
        .collect()
}

fn saved_decision(decision: &log::Decision) -> SavedDecision {
    let hunk_ids = decision.hunk_ids.clone();
    match decision.action {
        DecisionAction::Accept => SavedDecision::Accept {
            hunk_ids,
            edits: decision.edits.clone(),
        },
        DecisionAction::Reject => SavedDecision::Reject {
            hunk_ids,
            reason: decision.reason.clone(),
        },
        DecisionAction::Undo => SavedDecision::Undo { hunk_ids },
        // Its effect is in the checkpoint that follows it.
        DecisionAction::Refresh => SavedDecision::Undo {
            hunk_ids: Vec::new(),
        },
    }
}

/// A proposal's undecided hunks under the fork's own ids (`<forkId>-1`, …), to be
/// restored as the fork's proposal; conflicts are re-evaluated there.
fn renumbered(proposal: SavedProposal, fork_id: &str) -> Vec<(SavedFile, Vec<SavedDecision>)> {
    let mut next = 0;
    proposal
        .files
        .into_iter()
        .filter_map(|mut file| {
            file.hunks.retain(|h| {
                matches!(
                    h.status,
                    HunkStatus::Pending | HunkStatus::Stale | HunkStatus::Conflict
                )
            });
            for hunk in &mut file.hunks {
                next += 1;
                hunk.id = format!("{fork_id}-{next}");
                hunk.conflicts_with = None;
                if hunk.status == HunkStatus::Conflict && hunk.placed {
                    hunk.status = HunkStatus::Pending;
                    hunk.reason = None;
                }
            }
            (!file.hunks.is_empty()).then_some((file, Vec::new()))
        })
        .collect()
}
