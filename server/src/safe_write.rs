//! Replacing a file in the user's tree so that it is never seen half-written, and so that
//! a crash at any moment (a kill -9 in the middle of a 20 MB accept) leaves no temporary
//! file behind in it. Used for every file agentls writes there: accepts and undos of files
//! the editor does not have open, `agentls apply`, `agentls apply-patch`.
//!
//! The new contents go to an unnamed file in the target's directory (`O_TMPFILE`), which
//! the kernel discards if the process dies. Only once it is complete does it get a name,
//! [`TEMP_PREFIX`]`<tag>-<n>.tmp` (a dot file: hidden from `ls` and most file trees), and
//! that name is renamed over the target at once, so the named file exists for the time
//! between two system calls; a file that is new gets no temporary name at all: it is
//! linked under its own, which fails if something took that name meanwhile. Where the
//! filesystem cannot make unnamed files, the temporary file is named from the start.
//!
//! [`replace`] takes a path. [`replace_in`] takes a directory handle instead, for a caller
//! that confines paths itself (`patch::confine`, so that a directory swapped for a symlink
//! cannot redirect a write) and writes thousands of files: it [`record`]s every directory
//! of the batch at once first.
//!
//! Git ignores nothing by default, so a leftover would show in `git status`. Before the
//! first write in a directory, the directory is added to this process's record of the
//! directories it writes in, `$AGENTLS_HOME/writes/<tag>.dirs` (an [`OwnerFile`], so it is
//! known when its process is gone); at startup [`start`] removes, in each directory a dead
//! process recorded, the temporary files named with that process's tag — nothing else,
//! nowhere else.

use std::collections::BTreeSet;
use std::ffi::{CStr, CString, OsStr};
use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
    let name = target.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} does not name a file", target.display()),
        )
    })?;
    let recorded = record([dir]);
    let dir = open_dir(dir)?;
    let existing = Existing::Replaced {
        mode: permissions.map(PermissionsExt::mode),
    };
    replace_in(&recorded, dir.as_fd(), name, bytes, existing, sync)
}

/// Directories this process has put in its record of where it writes (the record's tag
/// is what their temporary files carry): [`replace_in`] writes only with one in hand.
#[derive(Debug)]
pub struct Recorded {
    tag: String,
}

/// Adds `dirs` to this process's record, before anything is written in them, in one
/// append (a commit of thousands of files in a thousand directories is one write to the
/// record, not a thousand). A directory that does not exist yet may be recorded: one that
/// a commit is about to make.
pub fn record<P: AsRef<Path>>(dirs: impl IntoIterator<Item = P>) -> Recorded {
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
        return Recorded {
            tag: owner::process_tag().to_string(),
        };
    };
    let mut new = BTreeSet::new();
    for dir in dirs {
        let dir = dir.as_ref();
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        if !recorded.contains(&dir) {
            new.insert(dir);
        }
    }
    if !new.is_empty() {
        let lines: Vec<_> = new.iter().map(|dir| dir.to_string_lossy()).collect();
        match file.append(&lines.join("\n")) {
            Ok(()) => recorded.append(&mut new),
            Err(error) => tracing::warn!("cannot record {}: {error}", lines.join(", ")),
        }
    }
    Recorded { tag: tag.clone() }
}

/// What a write finds at its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Nothing: the file is created, and the write fails with `AlreadyExists` (changing
    /// nothing) if something appeared there since that was seen.
    Nothing,
    /// Whatever is there is replaced; the new file gets the permission bits of `mode`
    /// (`None`: a new file's defaults).
    Replaced { mode: Option<u32> },
}

/// [`replace`], for `name` in the open directory `dir`, which must be one of `recorded`
/// (the handle, not a path, says where: a directory swapped for a symlink after it was
/// opened cannot redirect the write). A file that is [`Existing::Nothing`] never has a
/// temporary name at all: the unnamed file is linked under `name` itself, which fails if
/// something has that name.
pub fn replace_in(
    recorded: &Recorded,
    dir: BorrowedFd<'_>,
    name: &OsStr,
    bytes: &[u8],
    existing: Existing,
    sync: bool,
) -> io::Result<()> {
    let name = c_name(name)?;
    let (mode, explicit) = match existing {
        Existing::Replaced { mode: Some(mode) } => (mode & 0o7777, true),
        _ => (0o666, false),
    };
    let fill = |file: &mut File| -> io::Result<()> {
        file.write_all(bytes)?;
        if explicit {
            // The kernel took the umask off the mode the file was made with.
            file.set_permissions(Permissions::from_mode(mode))?;
        }
        if sync { file.sync_all() } else { Ok(()) }
    };
    if let Ok(mut file) = unnamed_file(dir, mode) {
        fill(&mut file)?;
        let named = match existing {
            Existing::Nothing => link(&file, dir, &name).map(|()| None),
            Existing::Replaced { .. } => name_unnamed(&file, dir, &recorded.tag).map(Some),
        };
        match named {
            Ok(None) => return Ok(()),
            Ok(Some(temp)) => return rename_temp(dir, &temp, &name, false),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => return Err(error),
            // Linking needs /proc where the kernel is older than 6.10; without it, the
            // temporary file is named from the start.
            Err(error) => tracing::debug!("cannot name an unnamed file: {error}"),
        }
    }
    let (temp, mut file) = named_file(dir, &recorded.tag, mode)?;
    if let Err(error) = fill(&mut file) {
        let _ = unlink(dir, &temp);
        return Err(error);
    }
    rename_temp(dir, &temp, &name, existing == Existing::Nothing)
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

fn temp_name(tag: &str) -> CString {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    CString::new(format!("{TEMP_PREFIX}{tag}-{n}.tmp")).expect("a tag has no NUL byte")
}

fn c_name(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} contains a NUL byte", name.to_string_lossy()),
        )
    })
}

/// A system call's result, `Err` with `errno` when it failed.
pub(crate) fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

/// `path` opened as a directory to write in (`O_PATH`: for the `*at` calls only).
pub(crate) fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let path = c_name(path.as_os_str())?;
    // SAFETY: a NUL-terminated path; the descriptor returned is ours alone.
    let fd = check(unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: just opened, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `openat(dir, name, O_WRONLY | flags)`, owned.
fn open_for_writing(
    dir: BorrowedFd<'_>,
    name: &CStr,
    flags: libc::c_int,
    mode: u32,
) -> io::Result<File> {
    // SAFETY: a valid directory descriptor and a NUL-terminated name.
    let fd = check(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC | flags,
            mode as libc::c_uint,
        )
    })?;
    // SAFETY: just opened, owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

fn named_file(dir: BorrowedFd<'_>, tag: &str, mode: u32) -> io::Result<(CString, File)> {
    loop {
        let name = temp_name(tag);
        match open_for_writing(dir, &name, libc::O_CREAT | libc::O_EXCL, mode) {
            Ok(file) => return Ok((name, file)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
}

fn unnamed_file(dir: BorrowedFd<'_>, mode: u32) -> io::Result<File> {
    open_for_writing(dir, c".", libc::O_TMPFILE, mode)
}

/// Gives the unnamed `file` a temporary name in `dir`.
fn name_unnamed(file: &File, dir: BorrowedFd<'_>, tag: &str) -> io::Result<CString> {
    loop {
        let temp = temp_name(tag);
        match link(file, dir, &temp) {
            Ok(()) => return Ok(temp),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
}

/// Links the unnamed `file` as `name` in `dir`; `AlreadyExists` if that name is taken.
/// The descriptor itself is linked where the kernel allows it (Linux 6.10 on, or with
/// `CAP_DAC_READ_SEARCH`), else its `/proc/self/fd` path.
fn link(file: &File, dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    static BY_DESCRIPTOR_REFUSED: AtomicBool = AtomicBool::new(false);
    if !BY_DESCRIPTOR_REFUSED.load(Ordering::Relaxed) {
        // SAFETY: valid descriptors and NUL-terminated names.
        let linked = unsafe {
            libc::linkat(
                file.as_raw_fd(),
                c"".as_ptr(),
                dir.as_raw_fd(),
                name.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        };
        match check(linked) {
            Ok(_) => return Ok(()),
            // How a kernel that does not allow it refuses.
            Err(error) if error.raw_os_error() == Some(libc::ENOENT) => {
                BY_DESCRIPTOR_REFUSED.store(true, Ordering::Relaxed);
            }
            Err(error) => return Err(error),
        }
    }
    let source =
        CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).map_err(io::Error::other)?;
    // SAFETY: a valid directory descriptor and NUL-terminated paths.
    check(unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            source.as_ptr(),
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    })
    .map(drop)
}

fn unlink(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    // SAFETY: a valid directory descriptor and a NUL-terminated name.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) }).map(drop)
}

/// Renames the temporary file `temp` to `name` in `dir` (with `no_replace`, only if
/// nothing has that name: `AlreadyExists` otherwise), or removes it if that fails.
fn rename_temp(dir: BorrowedFd<'_>, temp: &CStr, name: &CStr, no_replace: bool) -> io::Result<()> {
    let fd = dir.as_raw_fd();
    // SAFETY (each call): a valid directory descriptor and NUL-terminated names.
    let renamed = if no_replace {
        let renamed = check(unsafe {
            libc::renameat2(fd, temp.as_ptr(), fd, name.as_ptr(), libc::RENAME_NOREPLACE)
        });
        if renamed
            .as_ref()
            .is_err_and(|e| e.raw_os_error() == Some(libc::EINVAL))
        {
            // A filesystem without RENAME_NOREPLACE: a link refuses a taken name too.
            let linked = check(unsafe { libc::linkat(fd, temp.as_ptr(), fd, name.as_ptr(), 0) });
            let _ = unlink(dir, temp);
            return linked.map(drop);
        }
        renamed
    } else {
        check(unsafe { libc::renameat(fd, temp.as_ptr(), fd, name.as_ptr()) })
    };
    if renamed.is_err() {
        let _ = unlink(dir, temp);
    }
    renamed.map(drop)
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
