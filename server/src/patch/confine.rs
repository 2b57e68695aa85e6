//! Paths under a root directory, opened so that nothing outside it is reached.
//!
//! Every directory is opened from its parent's handle with `O_NOFOLLOW`, so a symlink on
//! the way is noticed instead of followed: it is allowed only if it resolves inside the
//! root, and is then replaced by the directory it resolves to, walked the same way; one
//! that leads out, or nowhere, refuses the path. Files are opened, replaced and removed
//! relative to their directory's handle, so a directory swapped for a symlink after the
//! check cannot redirect a write.
//!
//! Handles are kept per directory, so a diff of 5,000 files in 1,000 directories opens
//! each directory once, where checking each path by `canonicalize` cost one `readlink`
//! per component per file. A file is opened for reading with one `openat2` from the root
//! (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`: the kernel walks the path and refuses a
//! symlink anywhere on it) where the kernel has it (Linux 5.6, and a seccomp policy that
//! lets it through); only a path that has a symlink on it is walked here, which allows
//! symlinks that resolve inside the root, absolute ones included.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::safe_write::{self, check};

/// An open directory under the root.
pub(super) type Dir = Arc<OwnedFd>;

/// How many directory handles the cache keeps before it starts over (each is a file
/// descriptor, and the usual limit is 1,024 per process).
const MAX_OPEN_DIRS: usize = 256;

/// Why a path cannot be used.
#[derive(Debug)]
pub(super) enum Error {
    /// It leads outside the root: an absolute path elsewhere, `..` above the root, or a
    /// symlink that resolves outside it or to nothing.
    Outside,
    Io(io::Error),
}

impl From<io::Error> for Error {
    fn from(error: io::Error) -> Self {
        Error::Io(error)
    }
}

/// A root directory and the handles of the directories below it opened so far.
#[derive(Debug)]
pub(super) struct Confined {
    /// Canonical, so that resolved symlinks can be checked with `starts_with`.
    root: PathBuf,
    root_dir: Dir,
    /// Files are opened with `openat2` first, while the kernel allows it.
    openat2: AtomicBool,
    /// Keyed by path relative to the root, `""` being the root itself, which stays.
    dirs: Mutex<HashMap<String, Dir>>,
}

impl Confined {
    pub fn new(root: &Path) -> io::Result<Self> {
        let root = root.canonicalize()?;
        let handle = safe_write::open_dir(&root)?;
        let root_dir = Arc::new(handle);
        let dirs = HashMap::from([(String::new(), root_dir.clone())]);
        Ok(Confined {
            root,
            root_dir,
            openat2: AtomicBool::new(true),
            dirs: Mutex::new(dirs),
        })
    }

    /// Every path walked as on a kernel without `openat2`.
    #[cfg(test)]
    pub fn walk_only(&self) {
        self.openat2.store(false, Ordering::Relaxed);
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `written` relative to the root, normalized (`""` is the root itself); `None` if it
    /// lies outside by its spelling alone: absolute elsewhere, or `..` above the root.
    pub fn relative(&self, written: &str) -> Option<String> {
        let joined = normalize(&self.root.join(written))?;
        let below = joined.strip_prefix(&self.root).ok()?;
        let names: Vec<&str> = below
            .components()
            .map(|component| component.as_os_str().to_str())
            .collect::<Option<_>>()?;
        Some(names.join("/"))
    }

    /// The directory `rel` names; `None` if it does not exist or is not a directory.
    pub fn dir(&self, rel: &str) -> Result<Option<Dir>, Error> {
        self.walk(&mut self.lock(), rel, None, true)
    }

    /// The directory `rel` names, made if missing; each directory made is pushed to
    /// `created` (relative to the root), parents first.
    pub fn make_dir(&self, rel: &str, created: &mut Vec<String>) -> Result<Dir, Error> {
        let walked = self.walk(&mut self.lock(), rel, Some(created), true)?;
        walked.ok_or_else(|| Error::Io(io::Error::from_raw_os_error(libc::ENOTDIR)))
    }

    /// The file `rel` names, opened for reading; `None` if there is none. A symlink is
    /// followed only if it resolves inside the root.
    pub fn open_file(&self, rel: &str) -> Result<Option<File>, Error> {
        self.open_file_following(rel, true)
    }

    /// What `rel` is, a symlink followed only if it resolves inside the root; `None` if
    /// nothing has that name.
    pub fn stat(&self, rel: &str) -> Result<Option<libc::stat>, Error> {
        let (parent, name) = split(rel);
        let Some(dir) = self.dir(parent)? else {
            return Ok(None);
        };
        match lstat_at(&dir, name)? {
            Some(stat) if is_kind(&stat, libc::S_IFLNK) => {
                let real = self.resolve_link(rel)?;
                let (parent, name) = split(&real);
                match self.dir(parent)? {
                    Some(dir) => Ok(lstat_at(&dir, name)?),
                    None => Ok(None),
                }
            }
            stat => Ok(stat),
        }
    }

    fn open_file_following(&self, rel: &str, follow: bool) -> Result<Option<File>, Error> {
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW;
        let path = if rel.is_empty() { "." } else { rel };
        match open_beneath(&self.openat2, &self.root_dir, path, flags) {
            Some(Ok(handle)) => return Ok(Some(File::from(handle))),
            Some(Err(error))
                if matches!(error.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) =>
            {
                return Ok(None);
            }
            Some(Err(error)) => return Err(Error::Io(error)),
            None => {}
        }
        let (parent, name) = split(rel);
        let Some(dir) = self.dir(parent)? else {
            return Ok(None);
        };
        match open_at(&dir, name, libc::O_RDONLY | libc::O_NOFOLLOW) {
            Ok(handle) => Ok(Some(File::from(handle))),
            Err(error) if error.raw_os_error() == Some(libc::ELOOP) => {
                if !follow {
                    // The resolved path held a symlink: it changed while being checked.
                    return Err(Error::Outside);
                }
                let real = self.resolve_link(rel)?;
                self.open_file_following(&real, false)
            }
            Err(error) if matches!(error.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                Ok(None)
            }
            Err(error) => Err(Error::Io(error)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Dir>> {
        self.dirs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Opens each component of `rel` from its parent, with the cache; makes missing ones
    /// when `created` is given. `follow`: a symlink that resolves inside may be walked
    /// through (false while walking a path a symlink resolved to, which has none).
    fn walk(
        &self,
        dirs: &mut HashMap<String, Dir>,
        rel: &str,
        mut created: Option<&mut Vec<String>>,
        follow: bool,
    ) -> Result<Option<Dir>, Error> {
        if let Some(dir) = dirs.get(rel) {
            return Ok(Some(dir.clone()));
        }
        let mut dir = dirs[""].clone();
        let mut end = 0;
        for name in rel.split('/') {
            end += if end == 0 { name.len() } else { name.len() + 1 };
            let prefix = &rel[..end];
            if let Some(cached) = dirs.get(prefix) {
                dir = cached.clone();
                continue;
            }
            let next = match open_dir_at(&dir, name) {
                Ok(handle) => Arc::new(handle),
                Err(error) if error.raw_os_error() == Some(libc::ENOENT) => {
                    let Some(created) = created.as_deref_mut() else {
                        return Ok(None);
                    };
                    match make_dir_at(&dir, name) {
                        Ok(()) => created.push(prefix.to_string()),
                        // Made meanwhile by someone else: not ours to remove.
                        Err(error) if error.raw_os_error() == Some(libc::EEXIST) => {}
                        Err(error) => return Err(Error::Io(error)),
                    }
                    Arc::new(open_dir_at(&dir, name)?)
                }
                Err(error) if matches!(error.raw_os_error(), Some(libc::ENOTDIR | libc::ELOOP)) => {
                    let is_link =
                        lstat_at(&dir, name)?.is_some_and(|stat| is_kind(&stat, libc::S_IFLNK));
                    if !is_link {
                        return match created {
                            Some(_) => Err(Error::Io(error)),
                            None => Ok(None),
                        };
                    }
                    if !follow {
                        return Err(Error::Outside);
                    }
                    let real = self.resolve_link(prefix)?;
                    match self.walk(dirs, &real, created.as_deref_mut(), false)? {
                        Some(dir) => dir,
                        None => return Ok(None),
                    }
                }
                Err(error) => return Err(Error::Io(error)),
            };
            if dirs.len() >= MAX_OPEN_DIRS {
                dirs.retain(|key, _| key.is_empty());
            }
            dirs.insert(prefix.to_string(), next.clone());
            dir = next;
        }
        Ok(Some(dir))
    }

    /// Where the symlink at `rel` leads, relative to the root; `Outside` if that is not
    /// below the root or does not exist (then it cannot be shown to stay inside).
    fn resolve_link(&self, rel: &str) -> Result<String, Error> {
        let real = self
            .root
            .join(rel)
            .canonicalize()
            .map_err(|_| Error::Outside)?;
        let below = real.strip_prefix(&self.root).map_err(|_| Error::Outside)?;
        match below.to_str() {
            Some(below) => Ok(below.to_string()),
            None => Err(Error::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a symlink leads to {}, which is not UTF-8", real.display()),
            ))),
        }
    }
}

/// `rel` as (directory, name); the root itself is `("", ".")`.
pub(super) fn split(rel: &str) -> (&str, &str) {
    match rel.rsplit_once('/') {
        Some((parent, name)) => (parent, name),
        None if rel.is_empty() => ("", "."),
        None => ("", rel),
    }
}

/// Resolves `.` and `..` without touching the disk; `None` if `..` climbs above `/`.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !normal.pop() {
                    return None;
                }
            }
            other => normal.push(other),
        }
    }
    Some(normal)
}

pub(super) fn c_name(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} contains a NUL byte"),
        )
    })
}

/// `rel` opened from `root` in one system call, which fails rather than follow a symlink
/// or leave `root` (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`). `None` when that cannot
/// decide: a symlink is on the way (the walk checks where it leads), or the kernel has
/// no `openat2` (then `usable` is cleared, and it is not tried again).
fn open_beneath(
    usable: &AtomicBool,
    root: &OwnedFd,
    rel: &str,
    flags: libc::c_int,
) -> Option<io::Result<OwnedFd>> {
    if !usable.load(Ordering::Relaxed) {
        return None;
    }
    let path = match c_name(rel) {
        Ok(path) => path,
        Err(error) => return Some(Err(error)),
    };
    /// The kernel's `struct open_how` (libc's cannot be built outside libc).
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let how = OpenHow {
        flags: u64::try_from(flags | libc::O_CLOEXEC).unwrap_or_default(),
        mode: 0,
        resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: a valid directory descriptor, a NUL-terminated path and an `open_how` of
    // the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd >= 0 {
        let fd = libc::c_int::try_from(fd).expect("a file descriptor fits in an int");
        // SAFETY: just opened, owned by nobody else.
        return Some(Ok(unsafe { OwnedFd::from_raw_fd(fd) }));
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        // A symlink on the way, or a rename racing the lookup.
        Some(libc::ELOOP | libc::EXDEV | libc::EAGAIN) => None,
        // Before Linux 5.6, or refused by a seccomp policy.
        Some(libc::ENOSYS | libc::EPERM | libc::EINVAL | libc::E2BIG) => {
            usable.store(false, Ordering::Relaxed);
            None
        }
        _ => Some(Err(error)),
    }
}

/// `openat(dir, name, flags | O_CLOEXEC)`.
fn open_at(dir: &OwnedFd, name: &str, flags: libc::c_int) -> io::Result<OwnedFd> {
    let name = c_name(name)?;
    // SAFETY: a valid directory descriptor and a NUL-terminated name.
    let fd =
        check(unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC) })?;
    // SAFETY: just opened, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn open_dir_at(dir: &OwnedFd, name: &str) -> io::Result<OwnedFd> {
    open_at(
        dir,
        name,
        libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
    )
}

fn make_dir_at(dir: &OwnedFd, name: &str) -> io::Result<()> {
    let name = c_name(name)?;
    // SAFETY: a valid directory descriptor and a NUL-terminated name.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o777) }).map(drop)
}

/// What `name` in `dir` is, symlinks not followed; `None` if nothing has that name.
pub(super) fn lstat_at(dir: &OwnedFd, name: &str) -> io::Result<Option<libc::stat>> {
    let name = c_name(name)?;
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: a valid descriptor, a NUL-terminated name and room for the result.
    let result = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            stat.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    match check(result) {
        // SAFETY: fstatat succeeded, so it filled `stat`.
        Ok(_) => Ok(Some(unsafe { stat.assume_init() })),
        Err(error) if error.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(error) => Err(error),
    }
}

pub(super) fn is_kind(stat: &libc::stat, kind: libc::mode_t) -> bool {
    stat.st_mode & libc::S_IFMT == kind
}

/// `unlinkat(dir, name, flags)`.
pub(super) fn remove_at(dir: &OwnedFd, name: &str, flags: libc::c_int) -> io::Result<()> {
    let name = c_name(name)?;
    // SAFETY: a valid directory descriptor and a NUL-terminated name.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) }).map(drop)
}
