//! agentls: an editor-side backend for AI coding agents, spoken over LSP.
//!
//! docs/architecture.md is the map: which module owns what, the invariants each keeps, and
//! the modules each may use (its Dependencies list, which tests/it/tidy.rs enforces).
//! Nothing below `lsp` knows about tower-lsp.

// stdout is the LSP channel: only the few places that write protocol or CLI output may
// print, each with an `#[allow]` that says why (and a `// stdout-ok` marker, tests/it/tidy.rs).
#![deny(clippy::print_stdout, clippy::dbg_macro)]

pub mod acp;
pub mod acp_agent;
pub mod agent;
pub mod config;
pub mod documents;
pub mod engine;
pub mod exec;
pub mod import;
pub mod json_schema;
pub mod lsp;
pub mod mcp;
pub mod model;
pub mod owner;
pub mod patch;
pub mod plugins;
pub mod proposal;
pub mod protocol;
pub mod replay;
pub mod review;
pub mod safe_write;
pub mod sandbox;
pub mod sandbox_command;
pub mod skills;
pub mod task;
pub mod tasks_command;
pub mod tools;
pub mod uri;
pub mod workspace;
