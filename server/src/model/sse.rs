//! Server-sent events decoding: turns the raw bytes of a streamed HTTP body into events.
//!
//! Written by hand rather than pulled from a crate because "OpenAI-compatible" servers
//! bend the format (CRLF line endings, comments, `event:` lines, data split over several
//! lines, a last event without its blank line) and the only SSE crates built for reqwest
//! 0.13 are young. Bytes are buffered until a full line arrives, so a UTF-8 character
//! or a line split across network chunks decodes correctly.

/// One dispatched event: its optional `event:` name and its `data:` lines joined by `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    pub(crate) event: Option<String>,
    pub(crate) data: String,
}

/// Incremental decoder: feed it chunks as they arrive, call [`SseDecoder::finish`] at the end.
#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    pending_bytes: Vec<u8>,
    event: Option<String>,
    data: Option<String>,
}

impl SseDecoder {
    /// Decodes every complete line in `chunk` and returns the events they completed.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.pending_bytes.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(newline) = self.pending_bytes.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending_bytes.drain(..=newline).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if let Some(event) = self.take_line(line) {
                events.push(event);
            }
        }
        events
    }

    /// The body ended: a last event whose blank line never came is still delivered,
    /// because servers that forget it still meant it.
    pub(crate) fn finish(&mut self) -> Option<SseEvent> {
        if !self.pending_bytes.is_empty() {
            let rest = std::mem::take(&mut self.pending_bytes);
            let line = String::from_utf8_lossy(&rest);
            let line = line.trim_end_matches('\r').to_owned();
            if let Some(event) = self.take_line(&line) {
                return Some(event);
            }
        }
        self.dispatch()
    }

    fn take_line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "event" => self.event = Some(value.to_owned()),
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        let data = self.data.take()?;
        Some(SseEvent { event, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::default();
        let mut events: Vec<SseEvent> = chunks.iter().flat_map(|c| decoder.push(c)).collect();
        events.extend(decoder.finish());
        events
    }

    fn data(text: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: text.to_owned(),
        }
    }

    #[test]
    fn events_split_across_chunks_are_reassembled() {
        let events = decode_all(&[b"data: {\"a\"", b":1}\n", b"\ndata: [DONE]\n\n"]);
        assert_eq!(events, vec![data("{\"a\":1}"), data("[DONE]")]);
    }

    #[test]
    fn crlf_comments_and_event_names_are_understood() {
        let events =
            decode_all(&[b": keep-alive\r\n\r\nevent: response.completed\r\ndata: {}\r\n\r\n"]);
        assert_eq!(
            events,
            vec![SseEvent {
                event: Some("response.completed".into()),
                data: "{}".into()
            }]
        );
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        let events = decode_all(&[b"data: {\"a\":\ndata: 1}\n\n"]);
        assert_eq!(events, vec![data("{\"a\":\n1}")]);
    }

    #[test]
    fn a_character_split_between_chunks_survives() {
        let text = "data: é\n\n".as_bytes();
        let events = decode_all(&[&text[..7], &text[7..]]);
        assert_eq!(events, vec![data("é")]);
    }

    #[test]
    fn a_last_event_without_blank_line_is_delivered() {
        assert_eq!(decode_all(&[b"data: [DONE]"]), vec![data("[DONE]")]);
        assert_eq!(decode_all(&[b"data: [DONE]\n"]), vec![data("[DONE]")]);
    }

    #[test]
    fn blank_lines_without_data_dispatch_nothing() {
        assert_eq!(decode_all(&[b"\n\n\r\nevent: ping\n\n"]), vec![]);
    }
}
