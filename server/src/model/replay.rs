//! Model turns from a recording instead of a provider: what `agentls replay` runs a task
//! against. No network, no key: each turn is the next recorded response, streamed to the
//! caller as the provider streamed it (reasoning, then text), and each summary request
//! of a compaction gets the next recorded summary.

use std::collections::VecDeque;
use std::sync::Mutex;

use super::{ModelError, StreamEvent, TurnOutput};

/// One recorded model turn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordedTurn {
    pub reasoning: String,
    pub output: TurnOutput,
}

pub struct Recording {
    turns: Mutex<VecDeque<RecordedTurn>>,
    summaries: Mutex<VecDeque<String>>,
    /// Turns handed out so far, for messages.
    served: Mutex<u32>,
}

impl Recording {
    pub fn new(turns: Vec<RecordedTurn>, summaries: Vec<String>) -> Self {
        Recording {
            turns: Mutex::new(turns.into()),
            summaries: Mutex::new(summaries.into()),
            served: Mutex::new(0),
        }
    }

    /// The next recorded turn; an error once the recording has none left (the replayed
    /// task went on where the recorded one stopped).
    pub fn turn(
        &self,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<TurnOutput, ModelError> {
        let next = lock(&self.turns).pop_front();
        let mut served = lock(&self.served);
        *served += 1;
        let Some(turn) = next else {
            return Err(ModelError::RecordingExhausted { turn: *served });
        };
        if !turn.reasoning.is_empty() {
            on_event(StreamEvent::ReasoningDelta(turn.reasoning));
        }
        if !turn.output.text.is_empty() {
            on_event(StreamEvent::TextDelta(turn.output.text.clone()));
        }
        Ok(turn.output)
    }

    /// The next recorded compaction summary.
    pub fn summary(&self) -> Result<String, ModelError> {
        lock(&self.summaries).pop_front().ok_or_else(|| {
            ModelError::Compaction(
                "the replay compacted the conversation where the recording did not".into(),
            )
        })
    }

    /// Recorded turns not asked for (the replayed task ended early).
    pub fn unused(&self) -> usize {
        lock(&self.turns).len()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
