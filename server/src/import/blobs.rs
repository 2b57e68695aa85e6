//! The 3-way bases of an import (and the base of each file a review looks at): blobs of
//! the workspace's repository, read through one `git cat-file --batch` process per
//! import instead of one git process per file.
//!
//! A git spawn costs milliseconds; an import of a few hundred files asking for each base
//! paid that per file (issue 15's 7× against `git apply --3way`, which reads blobs
//! in-process). The process starts on the first read — an import whose hunks all place
//! directly never starts it — answers every later read over its pipes, and is killed and
//! reaped when the reader is dropped, so none outlives the import. Git stays the reader
//! (not a library): it knows every object storage format (packs, alternates) there is.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

/// Reads blobs of the repository containing `root`, by (possibly abbreviated) id.
pub struct BlobReader {
    root: PathBuf,
    batch: Mutex<Batch>,
}

enum Batch {
    NotStarted,
    Running(CatFile),
    /// The process could not start or broke off; why, for every later read.
    Failed(String),
}

/// A running `git cat-file --batch`: requests go to its stdin, one id a line; each reply
/// is `<id> <type> <size>\n<bytes>\n`, or `<request> missing\n` / `<request> ambiguous\n`.
struct CatFile {
    child: Child,
    requests: ChildStdin,
    replies: BufReader<ChildStdout>,
}

impl BlobReader {
    pub fn new(root: &Path) -> Self {
        BlobReader {
            root: root.to_path_buf(),
            batch: Mutex::new(Batch::NotStarted),
        }
    }

    /// The text of blob `id`. `Err` says why there is none: the repository does not have
    /// it (with what to do), it is not a blob or not UTF-8 text, or git cannot be run.
    pub fn read(&self, id: &str) -> Result<String, String> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("`{id}` is not a git object id"));
        }
        self.request(id)
    }

    /// The text of `path` at commit `rev` (`git show rev:path`, without a process per
    /// file: a review reads the base of every changed file). `Err` as for [`Self::read`].
    pub fn read_at(&self, rev: &str, path: &str) -> Result<String, String> {
        // One request is one line: a rev or path with a newline cannot be asked.
        if rev.is_empty() || rev.contains(['\n', '\r', ' ']) || path.contains(['\n', '\r']) {
            return Err(format!("`{rev}:{path}` cannot be asked of git cat-file"));
        }
        self.request(&format!("{rev}:{path}"))
    }

    fn request(&self, id: &str) -> Result<String, String> {
        let mut batch = self.batch.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(*batch, Batch::NotStarted) {
            *batch = match CatFile::start(&self.root) {
                Ok(cat_file) => Batch::Running(cat_file),
                Err(why) => Batch::Failed(why),
            };
        }
        let cat_file = match &mut *batch {
            Batch::Running(cat_file) => cat_file,
            Batch::Failed(why) => return Err(why.clone()),
            Batch::NotStarted => unreachable!("started above"),
        };
        match cat_file.read(id) {
            Ok(reply) => reply,
            Err(io_error) => {
                let Batch::Running(cat_file) = std::mem::replace(&mut *batch, Batch::NotStarted)
                else {
                    unreachable!("running above")
                };
                let why = cat_file.broken(&self.root, io_error);
                *batch = Batch::Failed(why.clone());
                Err(why)
            }
        }
    }
}

impl CatFile {
    fn start(root: &Path) -> Result<CatFile, String> {
        let mut child = Command::new("git")
            .arg("-C")
            .arg(root)
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run git to read the diff's base versions: {e}"))?;
        let (Some(requests), Some(replies)) = (child.stdin.take(), child.stdout.take()) else {
            unreachable!("stdin and stdout are piped")
        };
        Ok(CatFile {
            child,
            requests,
            replies: BufReader::new(replies),
        })
    }

    /// One request and its reply; `Err` only when the pipes fail (git exited).
    fn read(&mut self, id: &str) -> std::io::Result<Result<String, String>> {
        writeln!(self.requests, "{id}")?;
        self.requests.flush()?;
        let mut header = String::new();
        if self.replies.read_line(&mut header)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let fields: Vec<&str> = header.split_whitespace().collect();
        let size = match fields[..] {
            [_, "missing"] => {
                return Ok(Err(format!(
                    "blob {id} is not in this repository; fetch the commit the diff was \
                     made from (or the ref it came from), then import again"
                )));
            }
            [_, "ambiguous"] => {
                return Ok(Err(format!(
                    "blob id {id} is ambiguous in this repository; make the diff with full \
                     ids (`git diff --full-index`)"
                )));
            }
            [_, _, size] => size.parse::<usize>().map_err(|_| bad_reply(&header))?,
            _ => return Err(bad_reply(&header)),
        };
        // The object and the newline after it.
        let mut bytes = vec![0; size + 1];
        self.replies.read_exact(&mut bytes)?;
        bytes.pop();
        if fields[1] != "blob" {
            return Ok(Err(format!("{id} is a {}, not a blob", fields[1])));
        }
        Ok(String::from_utf8(bytes).map_err(|_| format!("blob {id} is not UTF-8 text")))
    }

    /// Why the process broke off: what git said on stderr, else the pipe error.
    fn broken(mut self, root: &Path, io_error: std::io::Error) -> String {
        self.stop();
        let mut said = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = stderr.read_to_string(&mut said);
        }
        let said = said.trim();
        let what = if said.is_empty() {
            io_error.to_string()
        } else {
            said.to_string()
        };
        format!(
            "git cat-file in {} stopped ({what}), so the diff's base versions cannot be read",
            root.display()
        )
    }

    fn stop(&mut self) {
        // Killing an exited child is harmless; waiting reaps it either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for CatFile {
    fn drop(&mut self) {
        self.stop();
    }
}

fn bad_reply(header: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("unexpected reply `{}`", header.trim()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str], stdin: &str) -> String {
        let mut child = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("git runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "git {args:?} failed");
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    fn repository() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q"], "");
        dir
    }

    fn running_pid(reader: &BlobReader) -> Option<u32> {
        match &*reader.batch.lock().unwrap() {
            Batch::Running(cat_file) => Some(cat_file.child.id()),
            _ => None,
        }
    }

    #[test]
    fn blobs_are_read_by_full_or_short_id_through_one_process_that_ends_with_the_reader() {
        let repo = repository();
        let one = git(repo.path(), &["hash-object", "-w", "--stdin"], "one\n");
        let two = git(
            repo.path(),
            &["hash-object", "-w", "--stdin"],
            "two\nlines\n",
        );
        let reader = BlobReader::new(repo.path());
        assert_eq!(running_pid(&reader), None, "nothing runs before a read");
        assert_eq!(reader.read(&one).as_deref(), Ok("one\n"));
        let pid = running_pid(&reader).expect("git cat-file runs");
        assert_eq!(reader.read(&two[..10]).as_deref(), Ok("two\nlines\n"));
        assert_eq!(reader.read(&one).as_deref(), Ok("one\n"));
        assert_eq!(
            running_pid(&reader),
            Some(pid),
            "one process for every read"
        );
        drop(reader);
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "git cat-file {pid} outlived its reader"
        );
    }

    #[test]
    fn a_missing_blob_says_what_to_do_and_later_reads_still_work() {
        let repo = repository();
        let one = git(repo.path(), &["hash-object", "-w", "--stdin"], "one\n");
        let reader = BlobReader::new(repo.path());
        let missing = "0123456789abcdef0123456789abcdef01234567";
        let error = reader.read(missing).unwrap_err();
        assert!(
            error.contains(missing) && error.contains("fetch the commit"),
            "{error}"
        );
        assert!(reader.read("not an id").is_err());
        assert_eq!(reader.read(&one).as_deref(), Ok("one\n"));
    }

    #[test]
    fn files_are_read_at_a_commit_and_a_path_absent_there_is_an_error() {
        let repo = repository();
        std::fs::write(repo.path().join("a b.txt"), "spaced\n").unwrap();
        git(repo.path(), &["add", "-A"], "");
        git(
            repo.path(),
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qm",
                "one",
            ],
            "",
        );
        let reader = BlobReader::new(repo.path());
        assert_eq!(reader.read_at("HEAD", "a b.txt").as_deref(), Ok("spaced\n"));
        assert!(reader.read_at("HEAD", "absent.txt").is_err());
        assert!(reader.read_at("HEAD", "two\nlines").is_err());
        assert_eq!(reader.read_at("HEAD", "a b.txt").as_deref(), Ok("spaced\n"));
    }

    #[test]
    fn outside_a_repository_the_error_quotes_git() {
        let dir = tempfile::tempdir().unwrap();
        let reader = BlobReader::new(dir.path());
        let error = reader.read("0123456").unwrap_err();
        assert!(error.contains("not a git repository"), "{error}");
        assert_eq!(reader.read("0123456").unwrap_err(), error);
    }
}
