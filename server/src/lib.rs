//! agentls: an editor-side backend for AI coding agents, spoken over LSP.
//!
//! docs/architecture.md is the map: which module owns what, and the invariants each keeps.
//! Dependencies point one way: `lsp` → `task` → `agent` → (`model`, `tools`) →
//! (`workspace`, `patch`); `proposal` builds on `documents`. Nothing below `lsp` knows
//! about tower-lsp.

pub mod agent;
pub mod config;
pub mod documents;
pub mod exec;
pub mod import;
pub mod lsp;
pub mod mcp;
pub mod model;
pub mod patch;
pub mod proposal;
pub mod protocol;
pub mod sandbox;
pub mod sandbox_command;
pub mod task;
pub mod tools;
pub mod uri;
pub mod workspace;
