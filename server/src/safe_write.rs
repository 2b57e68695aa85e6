//! Replacing a file in the user's tree so that it is never seen half-written, and so that
//! a crash at any moment (a kill -9 in the middle of a 20 MB accept) leaves no temporary
//! file behind in it. Used for every file agentls writes there: accepts and undos of files
//! the editor does not have open, `agentls apply`, `agentls apply-patch`.
//!
//! The new contents go to an unnamed file in the target's directory (`O_TMPFILE`), which
//! the kernel discards if the process dies. Only once it is complete does it get a name,
//! [`TEMP_PREFIX`]`<tag>-<n>.tmp` (a dot file: hidden from `ls` and most file trees), and
//! that name is renamed over the target at once, so the named file exists for the time
//! between two system calls. Where the filesystem cannot make unnamed files, the temporary
//! file is named from the start.
//!
//! Git ignores nothing by default, so a leftover would show in `git status`. Before the
//! first write in a directory, the directory is added to this process's record of the
//! directories it writes in, `$AGENTLS_HOME/writes/<tag>.dirs` (an [`OwnerFile`], so it is
//! known when its process is gone); at startup [`start`] removes, in each directory a dead
//! process recorded, the temporary files named with that process's tag — nothing else,
//! nowhere else.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::owner::{self, OwnerFile, STAGING_PREFIX};

/// How every temporary file agentls makes in the user's tree is named (then the writing
/// process's tag, a counter, `.tmp`).
pub const TEMP_PREFIX: &str = ".agentls-write-";
const RECORD_SUFFIX: &str = ".dirs";

/// Cleans up after processes that died while writing, then records where this process
/// writes under `home` (from its first write on). Without it, writes are not recorded
/// (the library used on its own, tests).
pub fn start(home: &Path) {
    let writes = home.join("writes");
    recover(&writes);
    lock_record().dir = Some(writes);
}

/// Removes this process's record, for a process about to exit after its last write.
pub fn finish() {
    let mut record = lock_record();
    if let (Some(writes), Some((_, tag))) = (&record.dir, &record.open) {
        let _ = fs::remove_file(writes.join(format!("{tag}{RECORD_SUFFIX}")));
    }
    record.open = None;
    record.failed = true;
}

/// Replaces (or creates) `target` with `bytes` in one rename, with `permissions` if given
/// (else the defaults for a new file). `sync`: flush the contents to the disk before the
/// rename, so a power cut leaves the old file or the new one, never an empty one.
pub fn replace(
    target: &Path,
    bytes: &[u8],
    permissions: Option<&Permissions>,
    sync: bool,
) -> io::Result<()> {
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let tag = record(dir);
    let fill = |file: &mut File| -> io::Result<()> {
        file.write_all(bytes)?;
        if let Some(permissions) = permissions {
            file.set_permissions(permissions.clone())?;
        }
        if sync { file.sync_all() } else { Ok(()) }
    };
    let temp = match unnamed_file(dir) {
        Ok(mut file) => {
            fill(&mut file)?;
            match name_unnamed(&file, dir, &tag) {
                Ok(temp) => Some(temp),
                Err(error) => {
                    tracing::debug!("cannot name an unnamed file in {}: {error}", dir.display());
                    None
                }
            }
        }
        Err(_) => None,
    };
    let temp = match temp {
        Some(temp) => temp,
        None => {
            let (temp, mut file) = named_file(dir, &tag)?;
            if let Err(error) = fill(&mut file) {
                let _ = fs::remove_file(&temp);
                return Err(error);
            }
            temp
        }
    };
    fs::rename(&temp, target).inspect_err(|_| {
        let _ = fs::remove_file(&temp);
    })
}

/// This process's record of the directories it writes in: where it is kept, and what it
/// holds so far.
struct WriteRecord {
    /// `$AGENTLS_HOME/writes`, once [`start`] ran.
    dir: Option<PathBuf>,
    /// The open record and the tag its temporary files carry.
    open: Option<(OwnerFile, String)>,
    /// A record could not be made; not tried again.
    failed: bool,
    recorded: BTreeSet<PathBuf>,
}

static RECORD: Mutex<WriteRecord> = Mutex::new(WriteRecord {
    dir: None,
    open: None,
    failed: false,
    recorded: BTreeSet::new(),
});

fn lock_record() -> std::sync::MutexGuard<'static, WriteRecord> {
    RECORD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Records `dir` before anything is written there; returns the tag the temporary file
/// must carry. A record that cannot be written costs only the cleanup
/// after a crash, so the write goes on.
fn record(dir: &Path) -> String {
    let mut record = lock_record();
    let WriteRecord {
        dir: writes,
        open,
        failed,
        recorded,
    } = &mut *record;
    if open.is_none()
        && !*failed
        && let Some(writes) = writes
    {
        match open_record(writes) {
            Ok(opened) => *open = Some(opened),
            Err(error) => {
                *failed = true;
                tracing::warn!(
                    "cannot record where agentls writes, in {}: {error}; a crash while writing may leave {TEMP_PREFIX}* files behind",
                    writes.display()
                );
            }
        }
    }
    let Some((file, tag)) = open else {
        return owner::process_tag().to_string();
    };
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !recorded.contains(&dir) {
        match file.append(&dir.to_string_lossy()) {
            Ok(()) => {
                recorded.insert(dir);
            }
            Err(error) => tracing::warn!("cannot record {}: {error}", dir.display()),
        }
    }
    tag.clone()
}

/// `writes/<tag>.dirs`; another tag if a live process has that one.
fn open_record(writes: &Path) -> io::Result<(OwnerFile, String)> {
    fs::create_dir_all(writes)?;
    let base = owner::process_tag();
    let mut tag = base.to_string();
    loop {
        match OwnerFile::create(&writes.join(format!("{tag}{RECORD_SUFFIX}"))) {
            Ok(file) => return Ok((file, tag)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                tag = format!("{base}{:04x}", owner::random_u64() & 0xffff);
            }
            Err(error) => return Err(error),
        }
    }
}

/// For each record whose process is gone: remove the temporary files it named in the
/// directories it recorded, then the record.
fn recover(writes: &Path) {
    let Ok(entries) = fs::read_dir(writes) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(STAGING_PREFIX) {
            if owner::is_stale_staging(&path) {
                let _ = fs::remove_file(&path);
            }
            continue;
        }
        let Some(tag) = name.strip_suffix(RECORD_SUFFIX) else {
            continue;
        };
        let mut record = match owner::take_over(&path) {
            Ok(Some(record)) => record,
            Ok(None) => continue,
            Err(error) => {
                tracing::debug!("cannot read {}: {error}", path.display());
                continue;
            }
        };
        for dir in record.entries().unwrap_or_default() {
            remove_leftovers(Path::new(&dir), tag);
        }
        // Removed while its lock is held, so no other process is cleaning the same.
        if let Err(error) = fs::remove_file(&path) {
            tracing::warn!("cannot remove {}: {error}", path.display());
        }
    }
}

fn remove_leftovers(dir: &Path, tag: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !is_temp_of(&name.to_string_lossy(), tag)
            || !entry.file_type().is_ok_and(|kind| kind.is_file())
        {
            continue;
        }
        match fs::remove_file(entry.path()) {
            Ok(()) => tracing::info!(
                "removed {}, left by an interrupted write",
                entry.path().display()
            ),
            Err(error) => tracing::warn!("cannot remove {}: {error}", entry.path().display()),
        }
    }
}

/// Whether `name` is exactly a temporary file of the process with `tag`.
fn is_temp_of(name: &str, tag: &str) -> bool {
    name.strip_prefix(TEMP_PREFIX)
        .and_then(|rest| rest.strip_prefix(tag))
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|rest| rest.strip_suffix(".tmp"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn temp_name(dir: &Path, tag: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{TEMP_PREFIX}{tag}-{n}.tmp"))
}

fn named_file(dir: &Path, tag: &str) -> io::Result<(PathBuf, File)> {
    loop {
        let path = temp_name(dir, tag);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
}

fn unnamed_file(dir: &Path) -> io::Result<File> {
    let dir = c_path(dir)?;
    // SAFETY: a valid path; the descriptor returned is ours.
    let fd = unsafe {
        libc::open(
            dir.as_ptr(),
            libc::O_TMPFILE | libc::O_WRONLY | libc::O_CLOEXEC,
            0o666 as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Gives the unnamed `file` a temporary name in `dir`, through `/proc/self/fd` (linking
/// the descriptor itself needs a privilege).
fn name_unnamed(file: &File, dir: &Path, tag: &str) -> io::Result<PathBuf> {
    let source =
        CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).map_err(io::Error::other)?;
    loop {
        let path = temp_name(dir, tag);
        let target = c_path(&path)?;
        // SAFETY: two valid NUL-terminated paths.
        let linked = unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                source.as_ptr(),
                libc::AT_FDCWD,
                target.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        };
        if linked == 0 {
            return Ok(path);
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::AlreadyExists {
            return Err(error);
        }
    }
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::owner::sorted_names as names;

    #[test]
    fn replace_writes_the_whole_file_and_leaves_nothing_beside_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("run.sh");
        replace(&file, b"echo one\n", None, false).unwrap();
        replace(
            &file,
            b"echo two\n",
            Some(&Permissions::from_mode(0o755)),
            true,
        )
        .unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap(), "echo two\n");
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert_eq!(names(dir.path()), ["run.sh"]);
    }

    #[test]
    fn only_our_own_temporary_names_match() {
        assert!(is_temp_of(".agentls-write-abc123-0.tmp", "abc123"));
        assert!(is_temp_of(".agentls-write-abc123-42.tmp", "abc123"));
        for other in [
            ".agentls-write-abc1234-1.tmp",
            ".agentls-write-abc123-.tmp",
            ".agentls-write-abc123-1.tmp.bak",
            ".agentls-write-abc123-x.tmp",
            "agentls-write-abc123-1.tmp",
            ".agentls-write-ffffff-1.tmp",
        ] {
            assert!(!is_temp_of(other, "abc123"), "{other}");
        }
    }

    #[test]
    fn recovery_removes_a_dead_writers_leftovers_only_where_it_wrote() {
        let home = tempfile::tempdir().unwrap();
        let tree = tempfile::tempdir().unwrap();
        let (written, elsewhere) = (tree.path().join("src"), tree.path().join("other"));
        fs::create_dir_all(&written).unwrap();
        fs::create_dir_all(&elsewhere).unwrap();
        let writes = home.path().join("writes");
        fs::create_dir_all(&writes).unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        fs::write(
            writes.join("dead01.dirs"),
            format!("{dead} 1\n{}\n", written.display()),
        )
        .unwrap();
        let leftovers = [
            (&written, ".agentls-write-dead01-7.tmp"),
            (&written, ".agentls-write-live02-3.tmp"),
            (&written, "notes.tmp"),
            (&elsewhere, ".agentls-write-dead01-8.tmp"),
        ];
        for (dir, name) in leftovers {
            fs::write(dir.join(name), "partial").unwrap();
        }
        recover(&writes);
        assert_eq!(
            names(&written),
            [".agentls-write-live02-3.tmp", "notes.tmp"],
            "another process's file and the user's stay"
        );
        assert_eq!(
            names(&elsewhere),
            [".agentls-write-dead01-8.tmp"],
            "a directory the record does not name is not touched"
        );
        assert!(names(&writes).is_empty(), "the record is done with");
    }
}
