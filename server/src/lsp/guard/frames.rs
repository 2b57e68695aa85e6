//! The LSP base protocol's framing (`Content-Length: N`, a blank line, N bytes), read
//! leniently and resynchronised after garbage. One reader serves both directions: the
//! client's input and tower-lsp's output on its way to stdout.
//!
//! The base protocol has no delimiter but the header itself, so after a header that cannot
//! be trusted (a Content-Length that is negative, not a number, over the cap or missing, a
//! line that is not a header, bytes that are not UTF-8) the only way back is to look for
//! the next `Content-Length` and start over there. The search begins one byte into the
//! offending line, so that a real header inside it is found again: after a Content-Length
//! shorter than its body, the rest of the body runs straight into the next message's
//! header, on the same "line". Each rejection consumes at least one byte, so the reader
//! always makes progress.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Far above any real LSP message; a larger Content-Length is a broken client.
pub(super) const MAX_MESSAGE_BYTES: u64 = 256 * 1024 * 1024;

/// Real header sections are a line or two; garbage without a blank line stops here.
const MAX_HEADER_BYTES: usize = 8 * 1024;

/// What the resynchronisation looks for, compared ignoring ASCII case (header names are
/// case-insensitive).
const CONTENT_LENGTH: &[u8] = b"content-length";

const READ_CHUNK: usize = 64 * 1024;

/// One unit of the framed stream.
#[derive(Debug, PartialEq)]
pub(super) enum Frame {
    /// Exactly Content-Length bytes; whether they are JSON is the caller's business.
    Body(Vec<u8>),
    /// A header that cannot be trusted, in words. What follows it, up to the next
    /// `Content-Length`, is skipped without another report.
    BadHeader(String),
}

/// Reads frames from a byte stream.
pub(super) struct FrameReader<R> {
    input: R,
    /// Bytes read and not yet handed out. Everything between awaits lives here, which
    /// makes [`FrameReader::next`] cancel-safe.
    buffer: Vec<u8>,
    /// A bad header was reported: skip to the next `Content-Length`.
    resyncing: bool,
}

/// How far the header section at the start of the buffer got.
enum Header {
    /// More bytes are needed to tell.
    Incomplete,
    /// The line at byte `line` cannot be trusted.
    Bad { line: usize, problem: String },
    /// `header_len` bytes of header (blank line included), then `length` bytes of body.
    Complete { header_len: usize, length: usize },
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub(super) fn new(input: R) -> Self {
        FrameReader {
            input,
            buffer: Vec::new(),
            resyncing: false,
        }
    }

    /// The next frame; `None` once the input ends (or fails). A message the end of input
    /// cuts short is dropped: nobody is left to answer. Cancel-safe.
    pub(super) async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(frame) = self.take_frame() {
                return Some(frame);
            }
            self.buffer.reserve(READ_CHUNK);
            match self.input.read_buf(&mut self.buffer).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// A frame from what is buffered, if the buffer holds a whole one.
    fn take_frame(&mut self) -> Option<Frame> {
        if self.resyncing {
            match find_ignoring_case(&self.buffer, CONTENT_LENGTH) {
                Some(start) => {
                    self.buffer.drain(..start);
                    self.resyncing = false;
                }
                None => {
                    // Keep what could be the beginning of a `Content-Length` split across reads.
                    let keep = CONTENT_LENGTH.len() - 1;
                    self.buffer.drain(..self.buffer.len().saturating_sub(keep));
                    return None;
                }
            }
        }
        self.skip_blank_lines();
        match parse_header(&self.buffer) {
            Header::Incomplete if self.buffer.len() > MAX_HEADER_BYTES => Some(self.reject(
                0,
                format!("no end of the header section within {MAX_HEADER_BYTES} bytes"),
            )),
            Header::Incomplete => None,
            Header::Bad { line, problem } => Some(self.reject(line, problem)),
            Header::Complete { header_len, length } => {
                let end = header_len + length;
                if self.buffer.len() < end {
                    return None;
                }
                let rest = self.buffer.split_off(end);
                let mut body = std::mem::replace(&mut self.buffer, rest);
                body.drain(..header_len);
                Some(Frame::Body(body))
            }
        }
    }

    /// Tolerates the blank lines some clients put between messages.
    fn skip_blank_lines(&mut self) {
        let blank = self
            .buffer
            .iter()
            .position(|&byte| byte != b'\r' && byte != b'\n')
            .unwrap_or(self.buffer.len());
        // A trailing `\r` may be the start of a `\r\n`, or of a line that is garbage.
        let blank = match self.buffer[..blank].iter().rposition(|&byte| byte == b'\n') {
            Some(last_newline) => last_newline + 1,
            None => 0,
        };
        self.buffer.drain(..blank);
    }

    /// Drops the header up to and including the first byte of its offending line (the
    /// lines before it may hold the next real header) and resynchronises.
    fn reject(&mut self, line: usize, problem: String) -> Frame {
        self.buffer.drain(..=line);
        self.resyncing = true;
        Frame::BadHeader(problem)
    }
}

/// Reads the header section at the start of `buffer`. A bad line is reported as soon as
/// it is complete, so resynchronisation need not wait for a blank line that may never come.
fn parse_header(buffer: &[u8]) -> Header {
    let mut position = 0;
    let mut length = None;
    loop {
        let Some(newline) = buffer[position..].iter().position(|&byte| byte == b'\n') else {
            return Header::Incomplete;
        };
        let start = position;
        let bad = |problem: String| Header::Bad {
            line: start,
            problem,
        };
        let line = &buffer[position..position + newline];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        position += newline + 1;
        if line.is_empty() {
            return match length {
                Some(length) => Header::Complete {
                    header_len: position,
                    length,
                },
                None => bad("a message header without Content-Length".to_owned()),
            };
        }
        let Ok(line) = std::str::from_utf8(line) else {
            return bad(format!(
                "a header line that is not UTF-8: {}",
                excerpt(&String::from_utf8_lossy(line))
            ));
        };
        let Some((name, value)) = line.split_once(':').filter(|(name, _)| is_token(name)) else {
            return bad(format!("not a message header: {}", excerpt(line)));
        };
        if !name.eq_ignore_ascii_case("content-length") {
            continue; // Content-Type, or anything else: the body is JSON in UTF-8 regardless.
        }
        let value = value.trim();
        let parsed = match content_length(value) {
            Ok(parsed) => parsed,
            Err(problem) => return bad(problem),
        };
        if length.is_some_and(|earlier| earlier != parsed) {
            return bad("two different Content-Length headers".to_owned());
        }
        length = Some(parsed);
    }
}

fn content_length(value: &str) -> Result<usize, String> {
    if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(format!(
            "Content-Length {} is not a number of bytes",
            excerpt(value)
        ));
    }
    match value.parse::<u64>() {
        Ok(length) if length <= MAX_MESSAGE_BYTES => Ok(length as usize),
        _ => Err(format!(
            "Content-Length {} is over the limit of {MAX_MESSAGE_BYTES} bytes",
            excerpt(value)
        )),
    }
}

/// An HTTP header name (RFC 9110 `token`).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

fn find_ignoring_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle))
}

/// Enough of untrusted text to recognise it in a message, in backticks, control
/// characters escaped.
pub(super) fn excerpt(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("`{}…`", text[..cut].escape_debug()),
        None => format!("`{}`", text.escape_debug()),
    }
}

/// Writes one frame and flushes it.
pub(super) async fn write_frame(
    output: &mut (impl AsyncWrite + Unpin),
    body: &[u8],
) -> std::io::Result<()> {
    output
        .write_all(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes())
        .await?;
    output.write_all(body).await?;
    output.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every frame of `input`, read in pieces of `piece` bytes (so that headers and the
    /// resynchronisation see data split at every possible place).
    async fn frames(input: &[u8], piece: usize) -> Vec<Frame> {
        let (mut writer, reader) = tokio::io::duplex(piece);
        let input = input.to_vec();
        tokio::spawn(async move {
            for chunk in input.chunks(piece) {
                writer.write_all(chunk).await.unwrap();
            }
        });
        let mut reader = FrameReader::new(reader);
        let mut frames = Vec::new();
        while let Some(frame) = reader.next().await {
            frames.push(frame);
        }
        frames
    }

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    fn body(text: &str) -> Frame {
        Frame::Body(text.as_bytes().to_vec())
    }

    fn is_bad(frame: &Frame, containing: &str) -> bool {
        matches!(frame, Frame::BadHeader(problem) if problem.contains(containing))
    }

    const NEXT: &str = r#"{"jsonrpc":"2.0","id":2,"method":"agent/listTasks"}"#;

    #[tokio::test]
    async fn every_bad_header_resynchronises_on_the_next_content_length() {
        let body_text = r#"{"jsonrpc":"2.0","id":1,"method":"agent/listTasks"}"#;
        let cases: [(&[u8], &str); 7] = [
            (b"Content-Length: -5\r\n\r\n", "not a number"),
            (b"Content-Length: abc\r\n\r\n", "not a number"),
            (
                b"Content-Length: 99999999999999999999999\r\n\r\n",
                "over the limit",
            ),
            (b"Content-Length: 268435457\r\n\r\n", "over the limit"),
            (
                b"Content-Type: application/json\r\n\r\n",
                "without Content-Length",
            ),
            (b"Content-Length: 51\r\nX-\xff\xfe: 1\r\n\r\n", "not UTF-8"),
            (
                b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
                "two different",
            ),
        ];
        for (header, problem) in cases {
            let input = [header, body_text.as_bytes(), frame(NEXT).as_bytes()].concat();
            for piece in [1, 7, 4096] {
                let out = frames(&input, piece).await;
                assert_eq!(out.len(), 2, "{problem} in pieces of {piece}: {out:?}");
                assert!(is_bad(&out[0], problem), "{out:?}");
                assert_eq!(out[1], body(NEXT), "{problem}");
            }
        }
    }

    #[tokio::test]
    async fn a_garbage_line_before_a_good_header_costs_nothing_but_a_report() {
        let input = [b"\xff\xfe\r\n".as_slice(), frame(NEXT).as_bytes()].concat();
        let out = frames(&input, 5).await;
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(is_bad(&out[0], "not UTF-8"), "{out:?}");
        assert_eq!(out[1], body(NEXT));
    }

    #[tokio::test]
    async fn a_length_shorter_than_the_body_costs_that_message_only() {
        let input = format!("Content-Length: 10\r\n\r\n{NEXT}{}", frame(NEXT));
        let out = frames(input.as_bytes(), 3).await;
        assert_eq!(out.len(), 3, "{out:?}");
        assert_eq!(out[0], body(&NEXT[..10]));
        assert!(is_bad(&out[1], "not a message header"), "{out:?}");
        assert_eq!(out[2], body(NEXT));
    }

    #[tokio::test]
    async fn garbage_without_newlines_is_skipped_up_to_the_cap_and_after() {
        let garbage = "x".repeat(3 * MAX_HEADER_BYTES);
        let input = format!("{garbage}{}", frame(NEXT));
        let out = frames(input.as_bytes(), 1000).await;
        assert!(is_bad(&out[0], "no end of the header section"), "{out:?}");
        assert_eq!(out[1..], [body(NEXT)]);
    }

    #[tokio::test]
    async fn lenient_headers_are_accepted() {
        let input = format!(
            "\r\n\ncontent-length:{}\nContent-Type: application/vscode-jsonrpc; charset=utf-8\n\n{NEXT}",
            NEXT.len()
        );
        assert_eq!(frames(input.as_bytes(), 2).await, [body(NEXT)]);
    }

    #[tokio::test]
    async fn a_body_cut_short_by_the_end_of_input_is_dropped() {
        let out = frames(b"Content-Length: 50\r\n\r\n{\"jsonrpc\"", 4096).await;
        assert!(out.is_empty(), "{out:?}");
    }

    #[tokio::test]
    async fn a_header_split_across_reads_during_resync_is_found() {
        // The resync keeps the tail of what it skipped, so "Content-Len" + "gth" still matches.
        let input = format!("Content-Length: x\r\n\r\nskipped {}", frame(NEXT));
        for piece in 1..20 {
            let out = frames(input.as_bytes(), piece).await;
            assert_eq!(out.last(), Some(&body(NEXT)), "pieces of {piece}: {out:?}");
            assert_eq!(out.len(), 2, "pieces of {piece}: {out:?}");
        }
    }
}
