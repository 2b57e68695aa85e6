//! What the model calls an MCP tool: `mcp__<server>__<tool>`, the name Codex gives it, made
//! safe for every provider (OpenAI allows `[a-zA-Z0-9_-]{1,64}` in a function name).
//!
//! A name that is too long, or that two different tools would share once sanitised, keeps
//! a readable prefix and gets a short hash of the real server and tool names, so it is the
//! same in every turn and every task (a conversation refers to tools by name).

use std::collections::HashSet;

pub const PREFIX: &str = "mcp__";
const SEPARATOR: &str = "__";
const MAX_LEN: usize = 64;
/// `_` and 8 hex digits.
const SUFFIX_LEN: usize = 9;

/// Names tools of one task, never handing out the same name twice.
#[derive(Debug, Default)]
pub struct ToolNamer {
    taken: HashSet<String>,
}

impl ToolNamer {
    /// Reserves a name the model already knows (a built-in tool), so no MCP tool takes it.
    pub fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_string());
    }

    /// The model's name for `tool` of `server`.
    pub fn name(&mut self, server: &str, tool: &str) -> String {
        let plain = format!("{PREFIX}{}{SEPARATOR}{}", sanitize(server), sanitize(tool));
        self.claim(&plain, server, tool)
    }

    /// `preferred` (already sanitised) if it is short enough and free, else its first
    /// bytes and a stable hash of `origin` and `tool`, the real names behind it.
    pub fn claim(&mut self, preferred: &str, origin: &str, tool: &str) -> String {
        let name = if preferred.len() <= MAX_LEN && !self.taken.contains(preferred) {
            preferred.to_string()
        } else {
            let cut = (MAX_LEN - SUFFIX_LEN).min(preferred.len());
            format!("{}_{:08x}", &preferred[..cut], hash(origin, tool) as u32)
        };
        self.taken.insert(name.clone());
        name
    }
}

/// Characters outside `[a-zA-Z0-9_-]` become `_` (so `get-tiny-image` stays as it is and
/// `files.read` becomes `files_read`). Sanitised text is ASCII, so byte cuts are safe.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// FNV-1a over the unsanitised names: stable across runs and releases (unlike std's
/// hasher, whose algorithm may change), which the names must be.
fn hash(server: &str, tool: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in server.bytes().chain([0]).chain(tool.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_codex_names_with_unsafe_characters_replaced() {
        let mut namer = ToolNamer::default();
        assert_eq!(
            namer.name("everything", "get-tiny-image"),
            "mcp__everything__get-tiny-image"
        );
        assert_eq!(
            namer.name("my server", "files.read"),
            "mcp__my_server__files_read"
        );
    }

    #[test]
    fn long_names_are_cut_to_64_bytes_with_a_stable_suffix() {
        let tool = "a_very_long_tool_name_that_goes_on_and_on_past_any_reasonable_length";
        let first = ToolNamer::default().name("srv", tool);
        let again = ToolNamer::default().name("srv", tool);
        assert_eq!(first.len(), 64);
        assert_eq!(first, again, "the same in every task");
        assert!(first.starts_with("mcp__srv__a_very_long"));
    }

    #[test]
    fn tools_that_sanitise_alike_get_different_names() {
        let mut namer = ToolNamer::default();
        let dotted = namer.name("s", "read.file");
        let underscored = namer.name("s", "read_file");
        assert_eq!(dotted, "mcp__s__read_file");
        assert_ne!(dotted, underscored);
        assert!(underscored.starts_with("mcp__s__read_file_"));
        assert!(underscored.len() <= 64);
    }

    #[test]
    fn a_reserved_name_is_never_handed_out() {
        let mut namer = ToolNamer::default();
        namer.reserve("mcp__s__t");
        assert_ne!(namer.name("s", "t"), "mcp__s__t");
    }
}
