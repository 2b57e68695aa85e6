//! The `agentls` command: an LSP server on stdio by default, or one of the headless tools.

// stdout is the protocol channel; the CLI tools that print say so where they do.
#![deny(clippy::print_stdout, clippy::dbg_macro)]

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use agentls::engine::EngineSettings;
use agentls::protocol::TaskMode;

#[derive(Parser)]
#[command(
    name = "agentls",
    version,
    about = "An editor-side backend for AI coding agents, spoken over LSP"
)]
struct Cli {
    /// Override a configuration key, e.g. `-c model=gpt-5` or `-c 'model_providers.local.base_url="http://127.0.0.1:8080/v1"'`.
    #[arg(short = 'c', long = "config", value_name = "KEY=VALUE", global = true)]
    overrides: Vec<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Speak LSP on stdin/stdout (the default; this is how editors start agentls).
    Serve,
    /// Run one task headless in the current directory and print its proposal as a diff.
    /// Nothing is written to the working tree.
    Exec {
        /// Print every task update and the final proposal as JSON lines.
        #[arg(long)]
        json: bool,
        /// Answer a question with read-only tools instead of changing code.
        #[arg(long)]
        ask: bool,
        /// Use this model instead of the configured one.
        #[arg(short, long)]
        model: Option<String>,
        /// Use a `[profiles.<name>]` from config.toml.
        #[arg(short, long)]
        profile: Option<String>,
        /// Allow every approval request (commands outside the sandbox, patches under
        /// `untrusted`); without it, every request is denied.
        #[arg(long)]
        approve: bool,
        /// What to do.
        prompt: String,
    },
    /// Apply a diff (git, `diff -u`, Codex patch or cloud task payload) to the files in
    /// the current directory: all files or none, unless --reject.
    Apply {
        /// Report what would happen; write nothing. Exits 1 if anything would not apply.
        #[arg(long)]
        check: bool,
        /// Merge against the base blob named by the diff's `index` lines when context
        /// does not match.
        #[arg(long = "3way")]
        three_way: bool,
        /// Write what applies; put each hunk that does not into `<file>.rej`.
        #[arg(long)]
        reject: bool,
        /// A file, `-` for standard input, an http(s) URL, or `git:REF` (a ref or range).
        source: String,
    },
    /// Re-run a recorded task offline: the model's answers come from its log, the tools
    /// run for real in a fresh view of the current directory. Prints the resulting
    /// proposal as a diff; exits 0 when every tool call and the proposal match the
    /// recording, 1 with the first difference named otherwise.
    Replay {
        /// JSON lines of every update, then one `{"type":"replay",…}` line.
        #[arg(long)]
        json: bool,
        /// The task's id (`agentls tasks list`, or `agent/listTasks`).
        task_id: String,
    },
    /// Run a command the way a task's `shell` tool does: in a throwaway view of the
    /// current directory, under the configured sandbox. For seeing what the sandbox allows.
    Sandbox {
        /// Allow network access for this command.
        #[arg(long)]
        network: bool,
        /// The command and its arguments (after `--`).
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// The sandbox helper the server re-executes for each command (internal).
    #[command(name = agentls::sandbox::HELPER_SUBCOMMAND, hide = true)]
    SandboxHelper { spec: String },
    /// Apply a Codex `*** Begin Patch` patch to the current directory, atomically.
    ApplyPatch {
        /// The patch file; standard input when absent.
        file: Option<PathBuf>,
    },
}

/// What a person who starts the server in a terminal is told (an editor never sees it:
/// its stdin is a pipe).
const WAITING_FOR_AN_EDITOR: &str = "agentls: this is a language server, waiting for an editor to speak LSP on stdin. \
Set up your editor to run `agentls` (see README, \"Use it\"), run one task here with \
`agentls exec \"<what to change>\"`, or see `agentls --help`. Ctrl-D quits.";

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The helper must stay single-threaded and quick: nothing else is set up for it.
    if let Some(Command::SandboxHelper { spec }) = &cli.command {
        return agentls::sandbox::helper::main(spec);
    }
    init_logging();
    if rustls::crypto::ring::default_provider()
        .install_default()
        .is_err()
    {
        tracing::debug!("a TLS crypto provider was already installed");
    }
    let home = match agentls::config::agentls_home(&agentls::config::process_env) {
        Ok(home) => home,
        Err(error) => {
            eprintln!("agentls: {error}");
            return ExitCode::from(2);
        }
    };
    // Before anything writes to a user's tree: clean up after writers that crashed.
    agentls::safe_write::start(&home);
    let settings = EngineSettings {
        journal: agentls::task::journal::Journal::open(&home),
        home,
        cli_overrides: cli.overrides,
        init_options: None,
    };
    let status = run(cli.command.unwrap_or(Command::Serve), settings);
    agentls::safe_write::finish();
    status
}

fn run(command: Command, settings: EngineSettings) -> ExitCode {
    let journal = settings.journal.clone();
    match command {
        Command::Serve => {
            if std::io::stdin().is_terminal() {
                eprintln!("{WAITING_FOR_AN_EDITOR}");
            }
            let runtime = runtime();
            let status = runtime.block_on(agentls::lsp::serve(settings));
            journal.flush();
            // The stdin reader may still sit in a blocking read the client will never
            // satisfy; do not wait for it.
            runtime.shutdown_background();
            status
        }
        Command::Exec {
            json,
            ask,
            model,
            profile,
            approve,
            prompt,
        } => {
            let mode = if ask { TaskMode::Ask } else { TaskMode::Code };
            let request = agentls::exec::Request {
                prompt,
                mode,
                model,
                profile,
                json,
                approve,
            };
            let code = runtime().block_on(agentls::exec::run(settings, request));
            journal.flush();
            code
        }
        Command::Apply {
            check,
            three_way,
            reject,
            source,
        } => {
            let options = agentls::import::cli::Options {
                check,
                three_way,
                reject,
            };
            apply_diff(&source, options)
        }
        Command::ApplyPatch { file } => apply_patch(file),
        Command::Replay { json, task_id } => runtime().block_on(agentls::replay::run(
            settings,
            agentls::replay::Request { task_id, json },
        )),
        Command::Sandbox { network, command } => {
            runtime().block_on(agentls::sandbox_command::run(settings, network, command))
        }
        Command::SandboxHelper { .. } => unreachable!("dispatched before logging is set up"),
    }
}

#[allow(
    clippy::print_stdout,
    reason = "apply-patch prints its summary on stdout"
)]
fn apply_patch(file: Option<PathBuf>) -> ExitCode {
    let text = match &file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display())),
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map(|_| text)
                .map_err(|e| format!("cannot read the patch from standard input: {e}"))
        }
    };
    let result = text.and_then(|text| {
        let cwd = std::env::current_dir()
            .map_err(|e| format!("cannot find the current directory: {e}"))?;
        apply_patch_in(&cwd, &text).map_err(|e| e.to_string())
    });
    match result {
        Ok(summary) => {
            println!("{summary}"); // stdout-ok: CLI output
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("agentls apply-patch: {message}");
            ExitCode::from(1)
        }
    }
}

#[allow(clippy::print_stdout, reason = "apply prints its report on stdout")]
fn apply_diff(source: &str, options: agentls::import::cli::Options) -> ExitCode {
    use agentls::import::source::{self, Source};
    let result = (|| {
        let cwd = std::env::current_dir()
            .map_err(|e| format!("cannot find the current directory: {e}"))?;
        let source = if source == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read the diff from standard input: {e}"))?;
            Source::Text(text)
        } else {
            Source::from_argument(source)
        };
        let diff = runtime().block_on(source::load(&source, &cwd))?;
        agentls::import::cli::apply(&cwd, &diff, options)
    })();
    match result {
        Ok(report) => {
            print!("{}", report.text); // stdout-ok: CLI output
            if report.clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(message) => {
            eprintln!("agentls apply: {message}");
            ExitCode::from(2)
        }
    }
}

/// Summarized against the old files, then committed all-or-nothing.
fn apply_patch_in(
    root: &std::path::Path,
    text: &str,
) -> Result<String, agentls::patch::PatchError> {
    use agentls::patch;
    let parsed = patch::parse_patch(text)?;
    let source = patch::DirSource::new(root)?;
    let changes = patch::apply_patch(&parsed, &source)?;
    let summary = patch::summarize(&changes, &source);
    patch::commit_to_dir(root, &changes)?;
    Ok(summary)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the async runtime")
}

/// Logs go to stderr (stdout is the protocol channel); `AGENTLS_LOG` filters them,
/// e.g. `AGENTLS_LOG=agentls=debug`.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AGENTLS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("agentls=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}
