//! `agentls sandbox [--network] -- CMD…`: runs one command exactly as a task's `shell`
//! call would — in a throwaway view of the current directory, under the configured
//! sandbox — so users can see what the sandbox allows. Output goes straight to the
//! terminal; the files the command changed are listed, then discarded with the view.

use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use crate::config::{self, ConfigSources};
use crate::engine::{EngineSettings, home_dir, views_dir};
use crate::sandbox::run::{self, Output};
use crate::sandbox::{HelperSpec, Policy};
use crate::workspace::materialize::ViewDir;

pub async fn run(settings: EngineSettings, network: bool, command: Vec<String>) -> ExitCode {
    match try_run(settings, network, command).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("agentls sandbox: {message}");
            ExitCode::from(2)
        }
    }
}

async fn try_run(
    settings: EngineSettings,
    network: bool,
    command: Vec<String>,
) -> Result<ExitCode, String> {
    let root = std::env::current_dir()
        .and_then(|dir| dir.canonicalize())
        .map_err(|e| format!("cannot find the current directory: {e}"))?;
    let sources = ConfigSources {
        home: &settings.home,
        workspace_root: Some(&root),
        cli_overrides: &settings.cli_overrides,
        init_options: None,
        profile: None,
        model: None,
    };
    let (config, warnings) = config::load(&sources).map_err(|e| e.to_string())?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let policy = Policy::from_config(&config, home_dir().as_deref());
    let views = views_dir(&settings.home);
    let id = format!("sandbox-{}", crate::owner::process_tag());
    let mut view = {
        let (dir, root) = (views.clone(), root.clone());
        tokio::task::spawn_blocking(move || ViewDir::create(&dir, &id, &root, &Default::default()))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot create a view under {}: {e}", views.display()))?
    };
    let tree = view.tree();
    let confine = policy.confinement(&tree, &view.tmp(), &view.extra_readable(), network);
    eprintln!(
        "agentls sandbox: {:?} view at {}; {}",
        view.strategy(),
        tree.display(),
        match &confine {
            None => "no sandbox (sandbox_mode = \"danger-full-access\")".to_string(),
            Some(c) => format!("network {}", if c.network { "allowed" } else { "denied" }),
        }
    );
    let spec = HelperSpec {
        overlay: view.overlay(),
        tmp: view.tmp(),
        cwd: tree,
        confine,
        command,
    };
    let env = policy.command_env(&view.tmp());
    let finished = run::run(
        &spec,
        &env,
        Output::Inherit,
        None,
        &CancellationToken::new(),
    )
    .await
    .map_err(|e| format!("cannot start the helper: {e}"))?;
    let changed: Vec<String> = view
        .collect(&[])
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    if !changed.is_empty() {
        eprintln!(
            "agentls sandbox: the command changed {} (discarded with the view)",
            changed.join(", ")
        );
    }
    Ok(ExitCode::from(
        finished
            .exit_code
            .map_or(1, |code| code.clamp(0, 255) as u8),
    ))
}
