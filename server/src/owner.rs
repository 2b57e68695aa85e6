//! What belongs to which running agentls process, where several share a place: task views
//! under `$AGENTLS_HOME/views`, records of where writes go under `$AGENTLS_HOME/writes`, temporary
//! files in the user's tree. Two editor windows on one `$AGENTLS_HOME` are two servers; a
//! server starting up must tell what a dead one left behind (to clean it) from what a live
//! one is using (never to be touched).
//!
//! Ownership is an *owner file* its process keeps locked (`flock`) for as long as it uses
//! what the file guards. The kernel drops the lock when the process ends, however it ends,
//! and a later process that gets the same pid does not inherit it; a lock also works
//! between pid namespaces (containers sharing a home), where pids mean nothing. The file
//! records the owner's pid and start time too: for people, and as a second test where
//! locks do not work (some network filesystems): a lock that is free still means "alive"
//! while that pid runs with that start time.
//!
//! An owner file never appears incomplete: it is written and locked under a staging name
//! and renamed into place, so a sweeper that finds one can trust what it says.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// Names in shared directories that start with this are being built (or were, by a process
/// that died meanwhile): sweeps leave them alone until they are [`STAGING_MAX_AGE`] old.
pub const STAGING_PREFIX: &str = ".new-";
/// Building a staging entry takes microseconds; one this old was left by a dead process.
pub const STAGING_MAX_AGE: Duration = Duration::from_secs(60);

/// Six hex digits, random, fixed for the life of this process: names what it creates in
/// shared places (task ids, temporary files) so that processes never pick the same name.
pub fn process_tag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| format!("{:06x}", random_u64() & 0xff_ffff))
}

/// Random bits from the kernel; the time and pid if it cannot give any (they still differ
/// between processes).
pub fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // SAFETY: getrandom writes at most `bytes.len()` bytes into the buffer.
    let filled = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if filled == bytes.len() as isize {
        return u64::from_ne_bytes(bytes);
    }
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 40)
}

/// A locked owner file: what it guards belongs to this process until it is dropped.
#[derive(Debug)]
pub struct OwnerFile {
    file: File,
}

impl OwnerFile {
    /// Creates `path`, which must not exist, holding this process's pid and start time,
    /// locked. Whatever follows the first line is the caller's ([`OwnerFile::append`]).
    pub fn create(path: &Path) -> io::Result<OwnerFile> {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let staging = path.with_file_name(format!("{STAGING_PREFIX}{name}-{:016x}", random_u64()));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&staging)?;
        let published = (|| {
            lock(&file)?;
            let pid = std::process::id();
            let start = start_time(pid).unwrap_or(0);
            writeln!(file, "{pid} {start}")?;
            rename_noreplace(&staging, path)
        })();
        if let Err(error) = published {
            let _ = fs::remove_file(&staging);
            return Err(error);
        }
        Ok(OwnerFile { file })
    }

    /// Adds a line to the owner file (the directories a write record lists), or several
    /// joined by newlines, in one write.
    pub fn append(&mut self, line: &str) -> io::Result<()> {
        self.file.write_all(format!("{line}\n").as_bytes())
    }

    /// The lines after the owner record.
    pub fn entries(&mut self) -> io::Result<Vec<String>> {
        let mut text = String::new();
        self.file.seek(SeekFrom::Start(0))?;
        self.file.read_to_string(&mut text)?;
        Ok(text.lines().skip(1).map(str::to_owned).collect())
    }
}

/// Takes over what the owner file at `path` guards if its owner is gone: `Some` holds the
/// lock, so that the caller can remove it without racing another process doing the same;
/// `None` means a live process owns it.
pub fn take_over(path: &Path) -> io::Result<Option<OwnerFile>> {
    let file = File::open(path)?;
    match try_lock(&file) {
        Ok(true) => {}
        Ok(false) => return Ok(None),
        // Locks do not work here: the pid and start time have to do.
        Err(error) => tracing::debug!("cannot lock {}: {error}", path.display()),
    }
    let mut record = [0u8; 64];
    let len = file.read_at(&mut record, 0)?;
    let record = String::from_utf8_lossy(&record[..len]);
    let mut fields = record.lines().next().unwrap_or_default().split_whitespace();
    let pid = fields.next().and_then(|pid| pid.parse().ok());
    let start = fields.next().and_then(|start| start.parse().ok());
    if pid.is_some_and(|pid| is_running(pid, start)) {
        return Ok(None);
    }
    Ok(Some(OwnerFile { file }))
}

/// Whether an entry of a shared directory is old enough that its builder must be gone
/// (see [`STAGING_PREFIX`]).
pub fn is_stale_staging(path: &Path) -> bool {
    fs::symlink_metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
        .and_then(|modified| modified.elapsed().ok())
        .is_some_and(|age| age > STAGING_MAX_AGE)
}

/// Whether process `pid` runs, and is the one that started at `start` (clock ticks since
/// boot, from `/proc/<pid>/stat`) when that is known: a reused pid is another process.
/// A zombie has ended.
fn is_running(pid: u32, start: Option<u64>) -> bool {
    match process_stat(pid) {
        Some((state, started)) => state != 'Z' && start.is_none_or(|s| s == 0 || s == started),
        // No /proc to read: whether the pid exists is all we can know.
        // SAFETY: signal 0 only checks that the process exists.
        None if !Path::new("/proc/self/stat").exists() => unsafe { libc::kill(pid as i32, 0) == 0 },
        None => false,
    }
}

/// A process's start time, for [`OwnerFile::create`]'s record.
fn start_time(pid: u32) -> Option<u64> {
    process_stat(pid).map(|(_, start)| start)
}

/// State (field 3) and start time (field 22) of `/proc/<pid>/stat`, read after the command
/// name, which may itself contain spaces and parentheses.
fn process_stat(pid: u32) -> Option<(char, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

fn lock(file: &File) -> io::Result<()> {
    match try_lock(file) {
        Ok(true) => Ok(()),
        Ok(false) => Err(io::Error::other("locked by another process")),
        // Without locks the record alone tells who owns the file.
        Err(_) => Ok(()),
    }
}

/// Takes the exclusive `flock` on `file`: `Ok(false)` when another open file — another
/// process — holds it; `Err` when locks do not work here.
pub fn try_lock(file: &File) -> io::Result<bool> {
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(error)
    }
}

/// Renames `from` to `to`, failing with `AlreadyExists` if `to` exists, never replacing it.
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |path: &Path| CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other);
    let (c_from, c_to) = (c(from)?, c(to)?);
    // SAFETY: two valid NUL-terminated paths.
    let renamed = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            c_from.as_ptr(),
            libc::AT_FDCWD,
            c_to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if renamed == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() != Some(libc::EINVAL) {
        return Err(error);
    }
    // The filesystem has no RENAME_NOREPLACE. A file: link, which refuses an existing
    // name, then unlink. A directory: rename replaces only an empty directory, and what
    // we publish never is one.
    if fs::symlink_metadata(from)?.is_dir() {
        if to.exists() {
            return Err(io::Error::from(io::ErrorKind::AlreadyExists));
        }
        fs::rename(from, to)
    } else {
        fs::hard_link(from, to)?;
        fs::remove_file(from)
    }
}

/// The names in `dir`, sorted: what tests of shared directories compare.
#[cfg(test)]
pub(crate) fn sorted_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_owner_keeps_what_it_owns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("owner");
        let owner = OwnerFile::create(&path).unwrap();
        assert!(take_over(&path).unwrap().is_none(), "our own lock is held");
        drop(owner);
        // Our pid still runs with the recorded start time: alive even with the lock free.
        assert!(take_over(&path).unwrap().is_none());
    }

    #[test]
    fn a_dead_owner_or_a_reused_pid_gives_it_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("owner");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        fs::write(&path, format!("{dead} 12345\n")).unwrap();
        assert!(take_over(&path).unwrap().is_some(), "the owner is gone");
        let me = std::process::id();
        let started = start_time(me).unwrap();
        fs::write(&path, format!("{me} {}\n", started + 1)).unwrap();
        assert!(
            take_over(&path).unwrap().is_some(),
            "our pid, another start time: a reused pid"
        );
        fs::write(&path, format!("{me} {started}\n")).unwrap();
        assert!(take_over(&path).unwrap().is_none());
    }

    #[test]
    fn a_held_lock_means_alive_whatever_the_record_says() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("owner");
        fs::write(&path, "999999999 1\n").unwrap();
        let holder = File::open(&path).unwrap();
        assert!(try_lock(&holder).unwrap());
        assert!(take_over(&path).unwrap().is_none());
        drop(holder);
        let taken = take_over(&path).unwrap();
        assert!(taken.is_some());
        assert!(
            take_over(&path).unwrap().is_none(),
            "a second sweeper waits for the first"
        );
    }

    #[test]
    fn an_owner_file_never_replaces_an_existing_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("owner");
        let mut first = OwnerFile::create(&path).unwrap();
        first.append("/some/dir").unwrap();
        let error = OwnerFile::create(&path).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(
            sorted_names(dir.path()),
            ["owner"],
            "no staging file is left behind"
        );
        let mut taken = OwnerFile {
            file: File::open(&path).unwrap(),
        };
        assert_eq!(taken.entries().unwrap(), ["/some/dir"]);
    }
}
