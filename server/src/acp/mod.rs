//! The Agent Client Protocol (ACP, version 1): its messages (`types`) and its transport,
//! JSON-RPC over newline-delimited stdio (`rpc`). Both directions use them: agentls as the
//! client of an agent it hosts (`agent::external`), and agentls as an agent for an editor.
//! This module knows nothing about tasks.

pub mod rpc;
pub mod types;
