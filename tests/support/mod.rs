//! Shared test support: a scripted model server and a scripted editor.
#![allow(dead_code)]

pub mod cli;
pub mod fixture;
pub mod lsp_client;
pub mod model_server;
