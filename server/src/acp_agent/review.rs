//! The host reviews, agentls learns: at the end of a turn each changed file goes to the
//! editor ([`write_back`]: `fs/write_text_file` with its full new text; creations and
//! deletions, and every file without that method, to the disk by `acp_write`), and at
//! the start of the next one what the editor holds now is compared with what was
//! written ([`review`]): each hunk was kept, reverted or rewritten. The verdicts are a
//! [`FollowUpState`], so the model reads them exactly as it reads a review made over LSP.
//! What was written is also kept in the task log ([`Written::record`]), so a session
//! loaded after a restart still learns.
//!
//! Nothing is written over text the task did not see: a file the user changed while the
//! turn ran is left alone and named, and a disk write is all files or none.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::acp::rpc::Connection;
use crate::acp::types::{
    Empty, FileSystemCapabilities, ReadTextFileRequest, ReadTextFileResponse, WriteTextFileRequest,
    method,
};
use crate::config::AcpWrite;
use crate::patch::{self, FileWrite};
use crate::proposal::diff_hunks;
use crate::proposal::store::{FollowUpState, ReviewedHunk};
use crate::task::blobs::{BlobText, Blobs};
use crate::task::log::ChangeRecord;
use crate::workspace::FileChange;

use super::updates::{absolute, read_disk};

/// How long one file's diff may take when judging the user's review.
const DIFF_DEADLINE: Duration = Duration::from_millis(200);

/// A file agentls put in the editor (or on disk) at the end of a turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: String,
    /// What the task started from (`None`: the file did not exist).
    pub base: Option<String>,
    /// What was written (`None`: deleted).
    pub text: Option<String>,
}

impl Written {
    /// As the task log keeps it (`writtenBack`), so a later agentls can judge it.
    pub fn record(&self) -> ChangeRecord {
        ChangeRecord {
            path: self.path.clone(),
            base: self.base.clone().map(BlobText::from_text),
            new: self.text.clone().map(BlobText::from_text),
        }
    }

    /// Back from the task log; `None` when a text of it is lost (its blob removed).
    pub fn restore(record: &ChangeRecord, blobs: &Blobs) -> Option<Written> {
        let text = |blob: &Option<BlobText>| blob.as_ref().map(|b| blobs.read(b)).transpose();
        Some(Written {
            path: record.path.clone(),
            base: text(&record.base).ok()?,
            text: text(&record.new).ok()?,
        })
    }
}

/// Reads and writes the session's files the way the client allows.
pub struct ClientFiles<'a> {
    pub connection: &'a Arc<Connection>,
    pub session_id: &'a str,
    pub root: &'a Path,
    pub fs: &'a FileSystemCapabilities,
}

impl ClientFiles<'_> {
    /// The file as the editor has it (its unsaved buffer, through `fs/read_text_file`),
    /// or on disk when the client cannot be asked. `Ok(None)`: no such file.
    pub async fn read(&self, rel: &str) -> Result<Option<String>, String> {
        if !self.fs.read_text_file {
            return read_disk(self.root, rel);
        }
        let asked: Result<ReadTextFileResponse, _> = self
            .connection
            .request(
                method::READ_TEXT_FILE,
                &ReadTextFileRequest {
                    session_id: self.session_id.to_string(),
                    path: absolute(self.root, rel),
                    line: None,
                    limit: None,
                },
            )
            .await;
        match asked {
            Ok(response) => Ok(Some(response.content)),
            // Editors answer an error for a file that does not exist; so does the disk.
            Err(error) => match read_disk(self.root, rel)? {
                None => Ok(None),
                Some(_) => Err(format!("the editor would not give {rel}: {error}")),
            },
        }
    }
}

/// What [`write_back`] did.
#[derive(Debug, Default)]
pub struct WriteBack {
    pub written: Vec<Written>,
    /// What the user should know (files left alone and why), one line each.
    pub notes: Vec<String>,
}

/// Puts the run's `changes` where the user reviews them: modified files through
/// `fs/write_text_file` when the client has it, and creations, deletions and renames
/// (which that method cannot express) on disk with [`write_disk`]'s guard; without
/// `fs/write_text_file`, everything on disk as `acp_write` says. A file that no longer
/// holds what the task saw is not written.
pub async fn write_back(
    files: &ClientFiles<'_>,
    policy: AcpWrite,
    changes: Vec<FileChange>,
) -> WriteBack {
    let mut done = WriteBack::default();
    if changes.is_empty() {
        return done;
    }
    if !files.fs.write_text_file {
        match policy {
            AcpWrite::None => done.notes.push(format!(
                "acp_write = \"none\": nothing written; the changes to {} are in the diffs above",
                names(&changes)
            )),
            AcpWrite::Disk => write_disk(files, changes, &mut done).await,
        }
        return done;
    }
    let (modified, moved): (Vec<FileChange>, Vec<FileChange>) = changes
        .into_iter()
        .partition(|change| change.base.is_some() && change.new.is_some());
    if !moved.is_empty() {
        write_disk(files, moved, &mut done).await;
    }
    for change in modified {
        let now = match files.read(&change.path).await {
            Ok(now) => now,
            Err(error) => {
                done.notes
                    .push(format!("{} not written: {error}", change.path));
                continue;
            }
        };
        if now != change.base {
            done.notes.push(format!(
                "{} not written: it changed while the turn ran; ask again to redo it on the new text",
                change.path
            ));
            continue;
        }
        let text = change.new.clone().unwrap_or_default();
        let result = files
            .connection
            .request::<_, Option<Empty>>(
                method::WRITE_TEXT_FILE,
                &WriteTextFileRequest {
                    session_id: files.session_id.to_string(),
                    path: absolute(files.root, &change.path),
                    content: text,
                },
            )
            .await;
        match result {
            Ok(_) => done.written.push(Written {
                path: change.path,
                base: change.base,
                text: change.new,
            }),
            Err(error) => done
                .notes
                .push(format!("{} not written: {error}", change.path)),
        }
    }
    done
}

/// Writes `changes` to disk as `agentls apply` does: every file, atomically and synced,
/// or none when one of them no longer holds what the task saw (the editor's text when
/// the client can be asked, else the disk's).
async fn write_disk(files: &ClientFiles<'_>, changes: Vec<FileChange>, done: &mut WriteBack) {
    let mut moved = Vec::new();
    for change in &changes {
        if files.read(&change.path).await.ok() != Some(change.base.clone()) {
            moved.push(change.path.as_str());
        }
    }
    if !moved.is_empty() {
        done.notes.push(format!(
            "nothing written to disk: {} changed while the turn ran; ask again to redo the change on the new text",
            moved.join(", ")
        ));
        return;
    }
    let writes: Vec<FileWrite> = changes
        .iter()
        .map(|change| match &change.new {
            Some(text) => FileWrite::Write {
                path: change.path.clone(),
                contents: text.clone(),
            },
            None => FileWrite::Delete {
                path: change.path.clone(),
            },
        })
        .collect();
    let committed = patch::DirSource::new(files.root)
        .and_then(|disk| disk.commit(&writes, patch::Durability::Synced));
    match committed {
        Ok(()) => {
            done.notes
                .push(format!("written to disk: {}", names(&changes)));
            done.written
                .extend(changes.into_iter().map(|change| Written {
                    path: change.path,
                    base: change.base,
                    text: change.new,
                }));
        }
        Err(error) => done.notes.push(format!("nothing written to disk: {error}")),
    }
}

fn names(changes: &[FileChange]) -> String {
    let names: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
    names.join(", ")
}

/// How the user reviewed what was `written`, given each file's text `now` (`None`: gone):
/// per hunk, kept as written (accepted), put back as it was (rejected), or rewritten
/// (accepted with the user's text).
pub fn review(written: &[(Written, Option<String>)]) -> FollowUpState {
    let mut state = FollowUpState::default();
    for (file, now) in written {
        let hunks = file_hunks(file);
        let verdicts: Vec<Verdict> = match (&file.text, now) {
            (text, now) if text == now => vec![Verdict::Kept; hunks.len()],
            (_, now) if *now == file.base => vec![Verdict::Reverted; hunks.len()],
            (Some(text), Some(now)) => judge(text, now, &hunks),
            // Deleted by the user, or a deletion the user undid into something else.
            (_, now) => vec![Verdict::Rewritten(now.clone().unwrap_or_default()); hunks.len()],
        };
        for (n, (hunk, verdict)) in hunks.into_iter().zip(verdicts).enumerate() {
            let reviewed = |user_text| ReviewedHunk {
                path: file.path.clone(),
                hunk_id: format!("{}#{}", file.path, n + 1),
                old_text: hunk.old_text.clone(),
                proposed_text: hunk.new_text.clone(),
                user_text,
                reason: None,
            };
            match verdict {
                Verdict::Kept => state.accepted.push(reviewed(None)),
                Verdict::Rewritten(text) => state.accepted.push(reviewed(Some(text))),
                Verdict::Reverted => state.rejected.push(reviewed(None)),
            }
        }
    }
    state
}

#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Kept,
    Reverted,
    /// The user's text where the hunk was.
    Rewritten(String),
}

/// One hunk of what was written, with its place in the written text.
struct WrittenHunk {
    old_text: String,
    new_text: String,
    /// Byte range of `new_text` in the written text.
    start: usize,
    end: usize,
}

fn file_hunks(file: &Written) -> Vec<WrittenHunk> {
    let base = file.base.as_deref().unwrap_or_default();
    let text = file.text.as_deref().unwrap_or_default();
    let mut shift: isize = 0;
    diff_hunks(base, text, DIFF_DEADLINE)
        .into_iter()
        .map(|hunk| {
            let start = (byte_at(base, hunk.start) as isize + shift) as usize;
            shift += hunk.new_text.len() as isize - hunk.old_text.len() as isize;
            WrittenHunk {
                start,
                end: start + hunk.new_text.len(),
                old_text: hunk.old_text,
                new_text: hunk.new_text,
            }
        })
        .collect()
}

/// Each hunk's verdict from the user's edits of the written text: untouched is kept; an
/// edit over it that restores what was there before is a revert; anything else a rewrite.
fn judge(written: &str, now: &str, hunks: &[WrittenHunk]) -> Vec<Verdict> {
    let edits: Vec<(usize, usize, String)> = diff_hunks(written, now, DIFF_DEADLINE)
        .into_iter()
        .map(|edit| {
            (
                byte_at(written, edit.start),
                byte_at(written, edit.end),
                edit.new_text,
            )
        })
        .collect();
    hunks
        .iter()
        .map(|hunk| {
            let touching: Vec<_> = edits
                .iter()
                .filter(|(start, end, _)| *start <= hunk.end && *end >= hunk.start)
                .collect();
            let (Some(first), Some(last)) = (touching.first(), touching.last()) else {
                return Verdict::Kept;
            };
            let (from, to) = (first.0.min(hunk.start), last.1.max(hunk.end));
            // The user's text over [from, to): the written text with their edits applied.
            let mut users = String::new();
            let mut at = from;
            for (start, end, text) in &touching {
                users.push_str(&written[at..*start]);
                users.push_str(text);
                at = *end;
            }
            users.push_str(&written[at..to]);
            let before = format!(
                "{}{}{}",
                &written[from..hunk.start],
                hunk.old_text,
                &written[hunk.end..to]
            );
            if users == before {
                Verdict::Reverted
            } else {
                Verdict::Rewritten(users)
            }
        })
        .collect()
}

/// The byte offset of the `chars`-th character (diff offsets count characters).
fn byte_at(text: &str, chars: usize) -> usize {
    text.char_indices()
        .nth(chars)
        .map_or(text.len(), |(at, _)| at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(base: &str, text: &str) -> Written {
        Written {
            path: "a.txt".into(),
            base: Some(base.into()),
            text: Some(text.into()),
        }
    }

    #[test]
    fn each_hunk_is_kept_reverted_or_rewritten() {
        let base = "one\ntwo\nthree\nfour\nfive\nsix\n";
        let text = "ONE\ntwo\nthree\nFOUR\nfive\nSIX\n";
        // The user put `four` back and wrote their own last line.
        let now = "ONE\ntwo\nthree\nfour\nfive\nsix!\n";
        let state = review(&[(written(base, text), Some(now.into()))]);
        assert_eq!(state.accepted.len(), 2);
        assert_eq!(state.accepted[0].proposed_text, "ONE\n");
        assert_eq!(state.accepted[0].user_text, None);
        assert_eq!(state.accepted[1].user_text.as_deref(), Some("six!\n"));
        assert_eq!(state.rejected.len(), 1);
        assert_eq!(state.rejected[0].old_text, "four\n");
    }

    #[test]
    fn whole_files_kept_or_reverted() {
        let file = written("a\n", "b\n");
        assert_eq!(
            review(&[(file.clone(), Some("b\n".into()))]).accepted.len(),
            1
        );
        assert_eq!(
            review(&[(file.clone(), Some("a\n".into()))]).rejected.len(),
            1
        );
        let created = Written { base: None, ..file };
        assert_eq!(review(&[(created, None)]).rejected.len(), 1);
    }
}
