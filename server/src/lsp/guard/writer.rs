//! stdout's one writer: what tower-lsp wrote, frame by frame, with the guard's replies
//! put between frames (see the module above for why the guard cannot reply through
//! tower-lsp).
//!
//! tower-lsp's output is trusted to be well framed — it is read with the same
//! [`FrameReader`] as the client's input only to find where each frame ends.

use serde::Serialize;
use tokio::io::{AsyncWrite, DuplexStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::PIPE_BYTES;
use super::frames::{Frame, FrameReader, write_frame};

/// Replies waiting for the writer; the guard waits when the client stops reading.
const QUEUED_REPLIES: usize = 64;

/// The guard's way onto stdout.
pub(super) struct Replies(mpsc::Sender<Vec<u8>>);

impl Replies {
    /// Queues one message; it reaches stdout whole, between two of tower-lsp's.
    pub(super) async fn send(&self, message: &impl Serialize) {
        let body = serde_json::to_vec(message).expect("a JSON-RPC message always serializes");
        // The writer is gone only when stdout is: nobody to tell.
        let _ = self.0.send(body).await;
    }
}

/// Starts the writer on `stdout`. Returns the pipe tower-lsp writes to, the guard's
/// handle, and the task, which ends once tower-lsp's end of the pipe is closed and all it
/// wrote (and every reply queued by then) has been written and flushed.
pub(super) fn start(
    stdout: impl AsyncWrite + Unpin + Send + 'static,
) -> (DuplexStream, Replies, JoinHandle<()>) {
    let (server_end, writer_end) = tokio::io::duplex(PIPE_BYTES);
    let (sender, receiver) = mpsc::channel(QUEUED_REPLIES);
    // One write per frame, header and body together, as tower-lsp did.
    let stdout = tokio::io::BufWriter::new(stdout);
    let task = tokio::spawn(copy_frames(writer_end, receiver, stdout));
    (server_end, Replies(sender), task)
}

async fn copy_frames(
    server: DuplexStream,
    mut replies: mpsc::Receiver<Vec<u8>>,
    mut stdout: impl AsyncWrite + Unpin,
) {
    let mut frames = FrameReader::new(server);
    loop {
        // Both branches are cancel-safe: a frame half read stays in `frames`.
        let body = tokio::select! {
            frame = frames.next() => match frame {
                Some(Frame::Body(body)) => body,
                Some(Frame::BadHeader(problem)) => {
                    tracing::error!("tower-lsp wrote a frame that cannot be read: {problem}");
                    continue;
                }
                None => break,
            },
            Some(reply) = replies.recv() => reply,
        };
        if write_frame(&mut stdout, &body).await.is_err() {
            return; // the client is gone; dropping the pipe tells tower-lsp
        }
    }
    while let Ok(reply) = replies.try_recv() {
        if write_frame(&mut stdout, &reply).await.is_err() {
            return;
        }
    }
}
