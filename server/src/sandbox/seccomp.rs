//! The seccomp half of the sandbox: a small hand-built BPF filter, installed by the helper
//! in the command's process just before `exec`.
//!
//! Landlock cannot see UDP, raw sockets, `ptrace` of a sibling in the same domain or
//! `io_uring` (which bypasses syscall-level checks), so those are cut here. The filter is a
//! dozen instructions; a BPF compiler crate would cost more than it saves.

use std::io;

use libc::{sock_filter, sock_fprog};

const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL_PROCESS: u32 = libc::SECCOMP_RET_KILL_PROCESS;

/// `struct seccomp_data` offsets: the syscall number, the architecture, the first argument
/// (its low 32 bits on a little-endian machine).
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const OFFSET_ARG0_LOW: u32 = 16;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH_NATIVE: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH_NATIVE: u32 = 0xc000_00b7;

/// x32 syscalls share the x86_64 architecture value but set this bit in the number; they
/// would otherwise slip past every rule below.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Syscalls a sandboxed command never gets: debugging other processes and `io_uring`.
const DENIED: [libc::c_long; 6] = [
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
];

/// Installs the filter on the calling thread (inherited by everything it starts). With
/// `network` false, `socket()` works only for `AF_UNIX`; other families fail with
/// `EAFNOSUPPORT`, which programs report as "address family not supported".
pub fn install(network: bool) -> io::Result<()> {
    let program = filter(network);
    let fprog = sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut sock_filter,
    };
    // SAFETY: plain prctl calls; `fprog` points at `program`, which outlives the call (the
    // kernel copies the filter).
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &fprog as *const sock_fprog,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn filter(network: bool) -> Vec<sock_filter> {
    let mut program = vec![
        load(OFFSET_ARCH),
        jump_eq(AUDIT_ARCH_NATIVE, 1, 0),
        ret(RET_KILL_PROCESS),
        load(OFFSET_NR),
    ];
    #[cfg(target_arch = "x86_64")]
    program.extend([
        jump(libc::BPF_JGE, X32_SYSCALL_BIT, 0, 1),
        ret(errno(libc::ENOSYS)),
    ]);
    for nr in DENIED {
        program.extend([jump_eq(nr as u32, 0, 1), ret(errno(libc::EPERM))]);
    }
    if !network {
        program.extend([
            jump_eq(libc::SYS_socket as u32, 0, 3),
            load(OFFSET_ARG0_LOW),
            jump_eq(libc::AF_UNIX as u32, 1, 0),
            ret(errno(libc::EAFNOSUPPORT)),
        ]);
    }
    program.push(ret(RET_ALLOW));
    program
}

fn errno(code: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | (code as u32 & 0xffff)
}

fn load(offset: u32) -> sock_filter {
    statement((libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16, offset)
}

fn ret(value: u32) -> sock_filter {
    statement((libc::BPF_RET | libc::BPF_K) as u16, value)
}

fn jump_eq(value: u32, if_true: u8, if_false: u8) -> sock_filter {
    jump(libc::BPF_JEQ, value, if_true, if_false)
}

fn jump(op: u32, value: u32, if_true: u8, if_false: u8) -> sock_filter {
    sock_filter {
        code: (libc::BPF_JMP | op | libc::BPF_K) as u16,
        jt: if_true,
        jf: if_false,
        k: value,
    }
}

fn statement(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}
