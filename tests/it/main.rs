//! The integration tests, as one test binary (a test file that is not a module here does
//! not run). Most drive the real `agentls` binary over stdio against the scripted model
//! server in `tests/support`; the rest exercise the library's engines directly.

#[path = "../support/mod.rs"]
mod support;

mod acp_agent;
mod acp_host;
mod apply_cli;
mod attempts;
mod attempts_pushed;
mod cli;
mod codex_acp;
mod conformance_apply_patch;
mod crash_during_accept;
mod examples;
mod exec_cli;
mod generic_clients;
mod guard_fuzz;
mod hunk_rebase_props;
mod import_diff;
mod lifecycle;
mod local_model;
mod lsp_session;
mod mcp;
mod model_client;
mod plugins;
mod proposal_tasks_props;
mod real_history;
mod review_mode;
mod review_session;
mod sandbox_security;
mod shared_home;
mod shell_tool;
mod skills;
mod task_history;
mod tidy;
mod tools_read;
mod workspace;
