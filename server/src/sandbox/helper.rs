//! The helper process: `agentls __sandbox-helper <spec>`. It runs single-threaded (no
//! async runtime), so it may create namespaces, and it is the only process that gets
//! restricted — the server that spawned it is not.
//!
//! Steps: enter a new pid namespace (and a user + mount namespace to mount the view if it
//! is an overlay: `.git` bind-mounted read-only, a size-bounded tmpfs as the private tmp);
//! fork the namespace's first process, which starts the command with Landlock and seccomp
//! applied between fork and exec and waits for it. When that first process ends — the
//! command finished, or the helper was killed and took it along — the kernel kills every
//! process left in the namespace, so nothing the command started outlives the call, not
//! even a process that detached itself. Where no pid namespace can be made (unprivileged
//! user namespaces disabled), the helper becomes a subreaper instead and kills what the
//! command left behind once it exits; that cannot catch what survives the helper itself.

use std::ffi::CString;
use std::fs::{self, File};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitCode};

use super::run::pipe;
use super::{Confinement, HelperSpec, OverlayMount, landlock, seccomp};

/// Exit status when the helper itself failed (like `env`/`timeout` use 125).
pub const SETUP_FAILED: u8 = 125;
/// How much the private tmp may hold when it is a tmpfs.
const TMP_SIZE: &str = "size=256m";
/// The largest single file a command may write (it gets `EFBIG` beyond): the only bound on
/// the private tmp when the view is a copy and no tmpfs can be mounted.
const MAX_FILE_SIZE: libc::rlim_t = 1 << 30;

pub fn main(spec_json: &str) -> ExitCode {
    let spec: HelperSpec = match serde_json::from_str(spec_json) {
        Ok(spec) => spec,
        Err(error) => return fail(&format!("unreadable helper instructions: {error}")),
    };
    let own_pids = match &spec.overlay {
        Some(overlay) => match mount_view(overlay, &spec.tmp) {
            Ok(own_pids) => own_pids,
            Err(error) => {
                return fail(&format!(
                    "cannot mount the task's view at {}: {error}",
                    overlay.merged.display()
                ));
            }
        },
        None => match enter_pid_namespace() {
            Ok(own_pids) => own_pids,
            Err(error) => return fail(&format!("cannot set up the user namespace: {error}")),
        },
    };
    if let Err(error) = prepare_self() {
        return fail(&format!("cannot prepare the helper: {error}"));
    }
    let status = if own_pids {
        run_as_first_process(&spec)
    } else {
        let status = run_command(&spec);
        kill_leftovers();
        status
    };
    match status {
        Ok(code) => ExitCode::from(code),
        Err(error) => fail(&error),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("agentls sandbox: {message}");
    ExitCode::from(SETUP_FAILED)
}

/// Starts the command restricted and waits for it; returns its exit code (128 + signal
/// when a signal ended it, as shells report it).
fn run_command(spec: &HelperSpec) -> Result<u8, String> {
    let Some((program, args)) = spec.command.split_first() else {
        return Err("no command given".into());
    };
    let mut command = Command::new(program);
    command.args(args).current_dir(&spec.cwd);
    let confine = spec.confine.clone();
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the helper is single-threaded, so allocating in the forked child is sound;
    // the closure only restricts the child before exec.
    unsafe {
        command.pre_exec(move || restrict_child(parent, confine.as_ref()));
    }
    let mut child = command
        .spawn()
        .map_err(|error| format!("cannot run `{program}`: {error}"))?;
    let status = child
        .wait()
        .map_err(|error| format!("lost track of `{program}`: {error}"))?;
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(signal)) => 128u8.saturating_add(signal as u8),
        (None, None) => 1,
    })
}

/// Runs the command from a forked first process of the pid namespace the helper entered,
/// and waits for that process. The helper keeps the write end of a pipe open for as long
/// as it lives: the first process checks it once it has asked to die with the helper, in
/// case the helper died before that.
fn run_as_first_process(spec: &HelperSpec) -> Result<u8, String> {
    let (helper_alive, held_by_helper) =
        pipe().map_err(|error| format!("cannot create a pipe: {error}"))?;
    // SAFETY: the helper is single-threaded, so the child may go on running Rust code.
    match unsafe { libc::fork() } {
        -1 => Err(format!(
            "cannot start the sandbox's first process: {}",
            io::Error::last_os_error()
        )),
        0 => {
            drop(held_by_helper);
            let code = match die_with_helper(&helper_alive) {
                Ok(()) => run_command(spec).unwrap_or_else(|error| {
                    eprintln!("agentls sandbox: {error}");
                    SETUP_FAILED
                }),
                Err(_) => SETUP_FAILED,
            };
            std::process::exit(code.into())
        }
        first => {
            drop(helper_alive);
            let status = wait_for(first)
                .map_err(|error| format!("lost track of the sandbox's first process: {error}"));
            drop(held_by_helper);
            status
        }
    }
}

/// In the namespace's first process: die when the helper does, and make sure it has not
/// already (its end of the pipe is closed then).
fn die_with_helper(helper_alive: &File) -> io::Result<()> {
    // SAFETY: prctl with constant arguments; poll on one descriptor we own.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut poll = libc::pollfd {
            fd: helper_alive.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        if libc::poll(&mut poll, 1, 0) > 0 && poll.revents & libc::POLLHUP != 0 {
            return Err(io::Error::other("the helper is gone"));
        }
    }
    Ok(())
}

/// Waits for child `pid`; its exit code, or 128 + the signal that ended it.
fn wait_for(pid: libc::pid_t) -> io::Result<u8> {
    loop {
        let mut status = 0;
        // SAFETY: waiting for our own child.
        if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
            return Ok(if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status) as u8
            } else {
                128u8.saturating_add(libc::WTERMSIG(status) as u8)
            });
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// In the forked child, before exec. Order matters: Landlock needs syscalls that the
/// seccomp filter leaves alone, and capabilities go before both.
fn restrict_child(parent: libc::pid_t, confine: Option<&Confinement>) -> io::Result<()> {
    die_with_parent(Some(parent))?;
    limit_file_size()?;
    let Some(confine) = confine else {
        return Ok(());
    };
    drop_capabilities()?;
    let rules = landlock::PathRules {
        readable: confine.readable.clone(),
        writable: confine.writable.clone(),
    };
    landlock::restrict_self(&rules, confine.network).map_err(io::Error::other)?;
    seccomp::install(confine.network)
}

/// The helper must outlive its command to clean up: a terminal's Ctrl-C or the server's
/// SIGTERM to the process group is meant for the command. A handler (not `SIG_IGN`) is
/// reset by exec, so the command still gets the default behaviour.
fn prepare_self() -> io::Result<()> {
    extern "C" fn ignore(_: libc::c_int) {}
    // SAFETY: installing a handler that does nothing; prctl with constant arguments.
    unsafe {
        for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::signal(signal, ignore as *const () as libc::sighandler_t);
        }
        if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    die_with_parent(None)
}

/// If the server dies (a crash, SIGKILL), the helper must not linger, nor its command:
/// each is killed when its parent goes. (The server spawns helpers from its long-lived
/// runtime threads, which is what "parent" means to the kernel here.) `parent`: the pid
/// the parent must still have; `None` for the helper, which does not know the server's,
/// so that a parent of 1 is taken to mean it is gone.
fn die_with_parent(parent: Option<libc::pid_t>) -> io::Result<()> {
    // SAFETY: prctl with constant arguments; getppid cannot fail.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        let now = libc::getppid();
        if parent.map_or(now == 1, |parent| now != parent) {
            return Err(io::Error::other("the process that started it is gone"));
        }
    }
    Ok(())
}

fn limit_file_size() -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: MAX_FILE_SIZE,
        rlim_max: MAX_FILE_SIZE,
    };
    // SAFETY: plain syscalls on this process. Ignoring SIGXFSZ turns "killed" into a
    // write error the command can report.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Running as root (CI, containers) must not mean a sandboxed command can load modules
/// or reconfigure the machine: clear every capability set and the bounding set.
fn drop_capabilities() -> io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    // SAFETY: prctl/capset on this process with correctly laid out arguments.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
        for capability in 0..64 {
            // Fails with EINVAL past the last capability this kernel knows; EPERM when
            // not privileged, where there is nothing to drop.
            libc::prctl(libc::PR_CAPBSET_DROP, capability, 0, 0, 0);
        }
        let mut header = Header {
            version: CAPABILITY_VERSION_3,
            pid: 0,
        };
        let data = [Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        }; 2];
        if libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Kills every process still parented to the helper. As a subreaper the helper inherits
/// the command's orphans, including ones that called `setsid`, so repeating until none
/// are left catches whole trees.
fn kill_leftovers() {
    let me = std::process::id() as i32;
    for _ in 0..1000 {
        let children = children_of(me);
        if children.is_empty() {
            break;
        }
        for pid in children {
            // SAFETY: signalling a process we are the parent of.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        reap_all();
    }
    reap_all();
}

fn reap_all() {
    loop {
        let mut status = 0;
        // SAFETY: waiting for any child of this process.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            // Killed children may take a moment to become reapable.
            if pid == 0 {
                std::thread::sleep(std::time::Duration::from_millis(2));
                continue;
            }
            return;
        }
    }
}

/// Pids whose parent is `parent`, from `/proc/<pid>/stat` (field 4, after the command
/// name, which may itself contain spaces and parentheses).
fn children_of(parent: i32) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: i32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let after_name = &stat[stat.rfind(')')? + 1..];
            let ppid: i32 = after_name.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
}

/// Enters a new pid namespace for the command: directly when privileged (CI, containers
/// running as root), else with a user namespace that maps our own ids. `Ok(false)` when
/// neither is allowed: the helper falls back to cleaning up as a subreaper.
fn enter_pid_namespace() -> io::Result<bool> {
    // SAFETY: the helper is single-threaded, as unshare(CLONE_NEWUSER) requires.
    if unsafe { libc::unshare(libc::CLONE_NEWPID) } == 0 {
        return Ok(true);
    }
    let ids = own_ids();
    // SAFETY: as above.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWPID) } != 0 {
        return Ok(false);
    }
    // In the user namespace already: without the mapping, commands would run as nobody.
    map_ids(ids)?;
    Ok(true)
}

/// Enters a new user, mount and (where allowed) pid namespace, mapping our own ids so
/// files keep their owner; mounts the overlay, makes `.git` read-only and puts a tmpfs on
/// the private tmp. Returns whether the pid namespace is new.
fn mount_view(overlay: &OverlayMount, tmp: &Path) -> io::Result<bool> {
    let ids = own_ids();
    let namespaces = libc::CLONE_NEWUSER | libc::CLONE_NEWNS;
    // SAFETY: the helper is single-threaded, as unshare(CLONE_NEWUSER) requires.
    let own_pids = unsafe { libc::unshare(namespaces | libc::CLONE_NEWPID) } == 0;
    // SAFETY: as above.
    if !own_pids && unsafe { libc::unshare(namespaces) } != 0 {
        return Err(io::Error::last_os_error());
    }
    map_ids(ids)?;
    // Our mounts must not propagate back to the parent namespace.
    mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )?;
    let options = format!(
        "lowerdir={},upperdir={},workdir={},userxattr",
        overlay.lower.display(),
        overlay.upper.display(),
        overlay.work.display()
    );
    mount(
        Some("overlay"),
        &overlay.merged,
        Some("overlay"),
        0,
        Some(&options),
    )?;
    let git = overlay.merged.join(".git");
    if git.is_dir() {
        mount(
            Some(&git.to_string_lossy()),
            &git,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        )?;
        mount(
            None,
            &git,
            None,
            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
            None,
        )?;
    }
    mount(Some("tmpfs"), tmp, Some("tmpfs"), 0, Some(TMP_SIZE))?;
    Ok(own_pids)
}

fn own_ids() -> (libc::uid_t, libc::gid_t) {
    // SAFETY: getuid/getgid cannot fail.
    unsafe { (libc::getuid(), libc::getgid()) }
}

/// In a fresh user namespace: be who we were outside it.
fn map_ids((uid, gid): (libc::uid_t, libc::gid_t)) -> io::Result<()> {
    fs::write("/proc/self/setgroups", "deny")?;
    fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))
}

fn mount(
    source: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let c = |text: &str| CString::new(text).map_err(io::Error::other);
    let source = source.map(c).transpose()?;
    let target = c(&target.to_string_lossy())?;
    let fstype = fstype.map(c).transpose()?;
    let data = data.map(c).transpose()?;
    let ptr = |value: &Option<CString>| value.as_ref().map_or(std::ptr::null(), |v| v.as_ptr());
    // SAFETY: every pointer is a valid NUL-terminated string or null, as mount(2) allows.
    let result = unsafe {
        libc::mount(
            ptr(&source),
            target.as_ptr(),
            ptr(&fstype),
            flags,
            ptr(&data) as *const libc::c_void,
        )
    };
    if result != 0 {
        let error = io::Error::last_os_error();
        return Err(io::Error::new(
            error.kind(),
            format!("mount on {}: {error}", target.to_string_lossy()),
        ));
    }
    Ok(())
}
