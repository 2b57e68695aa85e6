//! Everything that can end a model turn, worded for the person reading the task log: which
//! provider, which URL, what the server said, and what to try next.

/// Why a model turn failed. Retryable failures only surface here once retries ran out.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("provider `{provider}` needs an API key: set {env_var}")]
    MissingApiKey { provider: String, env_var: String },

    #[error("cannot use provider `{provider}`: {detail}")]
    InvalidProvider { provider: String, detail: String },

    #[error("cannot reach model provider `{provider}` at {url}: {reason} — is the server running?")]
    Unreachable {
        provider: String,
        url: String,
        reason: String,
    },

    #[error("no response from model provider `{provider}` at {url}: {reason}")]
    NoResponse {
        provider: String,
        url: String,
        reason: String,
    },

    #[error("HTTP {status} from model provider `{provider}` at {url}: {message}{}", http_hint(*.status))]
    Http {
        provider: String,
        url: String,
        status: u16,
        /// The server's own explanation (its `error.message` when it sent JSON).
        message: String,
    },

    #[error(
        "model provider `{provider}` at {url} broke off the reply {attempts} time(s): {reason} — try again, or raise stream_max_retries / stream_idle_timeout_ms"
    )]
    StreamInterrupted {
        provider: String,
        url: String,
        reason: String,
        attempts: u32,
    },

    #[error("model provider `{provider}` reported an error: {message}")]
    Provider { provider: String, message: String },

    #[error(
        "unreadable reply from model provider `{provider}` at {url}, {attempts} time(s) in a row: {detail} — is base_url / wire_api right for this server?"
    )]
    InvalidResponse {
        provider: String,
        url: String,
        detail: String,
        /// How many replies were unreadable (retried up to stream_max_retries).
        attempts: u32,
    },

    #[error("the model turn was cancelled")]
    Cancelled,

    #[error("compacting the conversation failed: {0}")]
    Compaction(String),

    #[error(
        "the recording has no model turn {turn}: the replayed task went on where the recorded one stopped"
    )]
    RecordingExhausted { turn: u32 },
}

/// What to do about an HTTP status, for the statuses where the answer is clear.
fn http_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => " — check the provider's API key",
        404 => " — check base_url and the model name",
        429 => " — rate limited even after retrying; wait and try again",
        500..=599 => " — the server kept failing after retries; try again later",
        _ => "",
    }
}

/// The most useful part of an error body: `error.message` (OpenAI), `message` or `detail`
/// (other servers), else the text itself, shortened so a stray HTML page stays readable.
pub(crate) fn server_message(body: &str) -> String {
    const MAX_CHARS: usize = 500;
    let from_json = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|json| {
            [
                json.pointer("/error/message"),
                json.get("error"),
                json.get("message"),
                json.get("detail"),
            ]
            .into_iter()
            .flatten()
            .find_map(|value| value.as_str().map(str::to_owned))
        });
    let message = from_json.unwrap_or_else(|| body.trim().to_owned());
    if message.is_empty() {
        return "(empty response body)".to_owned();
    }
    match message.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message,
    }
}

/// A transport error in plain words: "connection refused" rather than reqwest's
/// "error sending request for url (…)", whose useful part sits at the end of the chain.
pub(crate) fn transport_reason(error: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut innermost = error.to_string();
    while let Some(current) = source {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".to_owned(),
                std::io::ErrorKind::ConnectionReset => return "connection reset".to_owned(),
                _ => {}
            }
        }
        innermost = current.to_string();
        source = current.source();
    }
    if error.is_timeout() {
        return "timed out".to_owned();
    }
    innermost
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_message_prefers_the_json_explanation() {
        assert_eq!(
            server_message(r#"{"error":{"message":"bad model"}}"#),
            "bad model"
        );
        assert_eq!(server_message(r#"{"error":"nope"}"#), "nope");
        assert_eq!(
            server_message(r#"{"detail":"Automatic streaming"}"#),
            "Automatic streaming"
        );
        assert_eq!(server_message(" plain text \n"), "plain text");
        assert_eq!(server_message(""), "(empty response body)");
        assert!(server_message(&"x".repeat(2000)).ends_with('…'));
    }

    #[test]
    fn http_errors_say_what_to_do() {
        let error = ModelError::Http {
            provider: "openai".into(),
            url: "https://api.openai.com/v1/responses".into(),
            status: 401,
            message: "Incorrect API key".into(),
        };
        assert_eq!(
            error.to_string(),
            "HTTP 401 from model provider `openai` at https://api.openai.com/v1/responses: \
             Incorrect API key — check the provider's API key"
        );
    }
}
