//! The Landlock half of the sandbox: which paths a command may read and write, and that
//! it may not bind or connect TCP sockets, signal processes outside its sandbox or reach
//! abstract UNIX sockets. Applied by the helper to the command's process only.

use std::path::PathBuf;

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, path_beneath_rules,
};

/// The filesystem rights a command gets; everything else is denied.
#[derive(Debug, Clone, Default)]
pub struct PathRules {
    pub readable: Vec<PathBuf>,
    pub writable: Vec<PathBuf>,
}

/// The ABI whose rights we ask for: v5 covers every filesystem right we rely on
/// (including truncate and device ioctls), v4 the TCP rules, v6 the scopes.
const FS_ABI: ABI = ABI::V5;
const SCOPE_ABI: ABI = ABI::V6;

#[derive(Debug, thiserror::Error)]
pub enum LandlockError {
    #[error(
        "this kernel does not enforce Landlock, so commands cannot be sandboxed; use a kernel \
         with Landlock enabled (5.13+, `lsm=landlock,...`), or set sandbox_mode = \
         \"danger-full-access\" to run commands without a sandbox"
    )]
    Unsupported,
    #[error("cannot set up the Landlock rules: {0}")]
    Setup(#[from] landlock::RulesetError),
}

/// Restricts the calling thread (and what it execs). Fails when the kernel enforces
/// nothing; a partially enforcing kernel (an older ABI) is accepted, since seccomp still
/// closes the network and the filesystem rules are the part every ABI has.
pub fn restrict_self(rules: &PathRules, network: bool) -> Result<(), LandlockError> {
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(FS_ABI))?
        .scope(Scope::from_all(SCOPE_ABI))?;
    if !network {
        ruleset = ruleset.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)?;
    }
    let status = ruleset
        .create()?
        .add_rules(path_beneath_rules(
            &rules.readable,
            AccessFs::from_read(FS_ABI),
        ))?
        .add_rules(path_beneath_rules(
            &rules.writable,
            AccessFs::from_all(FS_ABI),
        ))?
        .restrict_self()?;
    if status.ruleset == RulesetStatus::NotEnforced {
        return Err(LandlockError::Unsupported);
    }
    Ok(())
}
