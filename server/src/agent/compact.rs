//! Context compaction: when a conversation grows past what the model takes in, the model
//! writes a summary of the work so far and the conversation starts over from it.
//!
//! The trigger is the input size of the last request — what the provider reported, or an
//! estimate (a token per four bytes) when it reports nothing — against the limit:
//! `model_auto_compact_token_limit`, else 90 % of the model's context window when that
//! is configured (`model_context_window`) or known for the model; no limit otherwise.
//! Compacting sends one request without tools: the conversation plus a request for a
//! hand-over summary. What replaces the conversation is the user's own messages (the
//! newest ones, within a budget) followed by the summary, so the request and every
//! correction the user made survive word for word.

use tokio_util::sync::CancellationToken;

use crate::model::{Item, Model, ModelError, Prompt, ToolSpec};

/// What the model is asked for when compacting.
const SUMMARY_REQUEST: &str = "Stop working on the task for a moment. The conversation is \
about to be cut short, and the next agent continuing it will see only the user's messages \
and what you write now. Write a hand-over note: what the user asked for, what you have \
done so far (files changed, commands run and what they showed), what you found out, and \
what remains to be done next. Be specific: name files, functions and failing tests. Reply \
with the note only.";

/// What the summary is introduced with in the new conversation.
const SUMMARY_INTRO: &str = "An earlier part of this conversation was replaced by this \
hand-over note, written by the agent that did the work. Your file edits and command \
results from then are in place in the workspace; continue from here:\n\n";

/// Bytes of the user's earlier messages kept word for word (about 20k tokens).
const USER_MESSAGES_BUDGET: usize = 80_000;

/// Context windows of some models, in tokens, for when `model_context_window` is unset.
const KNOWN_WINDOWS: &[(&str, u64)] = &[
    ("gpt-5", 272_000),
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("o3", 200_000),
    ("o4-mini", 200_000),
];

/// The input size past which the conversation is compacted, if any.
pub fn token_limit(model: &str, context_window: Option<u64>, limit: Option<u64>) -> Option<u64> {
    limit.or_else(|| Some(context_window_of(model, context_window)? / 10 * 9))
}

/// The tokens `model` can take in: `configured` (`model_context_window`), else what is
/// known for the model, else unknown.
pub fn context_window_of(model: &str, configured: Option<u64>) -> Option<u64> {
    configured.or_else(|| {
        KNOWN_WINDOWS
            .iter()
            .find(|(prefix, _)| model.starts_with(prefix))
            .map(|(_, window)| *window)
    })
}

/// An estimate of a request's input tokens: a token per four bytes of what it sends.
pub fn estimate_tokens(instructions: &str, items: &[Item], tools: &[ToolSpec]) -> u64 {
    let items: usize = items
        .iter()
        .map(|item| match item {
            Item::User(text) | Item::Assistant(text) => text.len(),
            Item::ToolCall(call) => call.name.len() + call.arguments.len(),
            Item::ToolOutput { output, .. } => output.len(),
        })
        .sum();
    let tools: usize = tools
        .iter()
        .map(|t| t.name.len() + t.description.len() + t.parameters.to_string().len())
        .sum();
    ((instructions.len() + items + tools) / 4) as u64
}

/// A compacted conversation.
pub struct Compacted {
    pub summary: String,
    pub items: Vec<Item>,
}

/// Asks the model for a hand-over summary of `items` and builds the conversation that
/// replaces them. A model that answers with nothing is an error: there would be nothing
/// to continue from.
pub async fn compact(
    model: &Model,
    model_name: &str,
    instructions: &str,
    items: &[Item],
    cancel: &CancellationToken,
) -> Result<Compacted, ModelError> {
    let mut request = items.to_vec();
    request.push(Item::User(SUMMARY_REQUEST.to_string()));
    let prompt = Prompt {
        model: model_name,
        instructions,
        items: &request,
        tools: &[],
        // The summary is prose for the conversation, not the task's final answer.
        output_schema: None,
    };
    let summary = model.summary(&prompt, cancel).await?.trim().to_string();
    if summary.is_empty() {
        return Err(ModelError::Compaction(
            "the model answered the request for a summary with nothing".into(),
        ));
    }
    Ok(Compacted {
        items: replacement(items, &summary),
        summary,
    })
}

/// The user's messages (newest first, within [`USER_MESSAGES_BUDGET`], kept in order),
/// then the summary.
fn replacement(items: &[Item], summary: &str) -> Vec<Item> {
    let mut kept = Vec::new();
    let mut budget = USER_MESSAGES_BUDGET;
    for item in items.iter().rev() {
        if let Item::User(text) = item {
            if text.len() > budget {
                break;
            }
            budget -= text.len();
            kept.push(item.clone());
        }
    }
    kept.reverse();
    kept.push(Item::User(format!("{SUMMARY_INTRO}{summary}")));
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ToolCall;

    #[test]
    fn the_limit_is_the_configured_one_else_nine_tenths_of_a_known_window() {
        assert_eq!(token_limit("anything", None, Some(5_000)), Some(5_000));
        assert_eq!(token_limit("local-model", Some(10_000), None), Some(9_000));
        assert_eq!(token_limit("gpt-5-codex", None, None), Some(244_800));
        assert_eq!(token_limit("qwen2.5-coder", None, None), None);
    }

    #[test]
    fn the_new_conversation_keeps_the_users_words_and_ends_with_the_summary() {
        let items = vec![
            Item::User("add a --verbose flag".into()),
            Item::Assistant("Looking.".into()),
            Item::ToolCall(ToolCall {
                call_id: "c1".into(),
                name: "read_file".into(),
                arguments: "{}".into(),
            }),
            Item::ToolOutput {
                call_id: "c1".into(),
                output: "x".repeat(10_000),
                images: Vec::new(),
            },
            Item::User("and keep -v for it".into()),
        ];
        let new = replacement(&items, "Added the flag in cli.rs.");
        assert_eq!(new.len(), 3);
        assert_eq!(new[0], Item::User("add a --verbose flag".into()));
        assert_eq!(new[1], Item::User("and keep -v for it".into()));
        match &new[2] {
            Item::User(text) => assert!(text.ends_with("Added the flag in cli.rs."), "{text}"),
            other => panic!("{other:?}"),
        }
        assert!(estimate_tokens("", &new, &[]) < estimate_tokens("", &items, &[]));
    }
}
