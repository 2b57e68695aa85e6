//! The `agentls` command: an LSP server on stdio by default, or one of the headless tools.

// stdout is the protocol channel; the CLI tools that print say so where they do.
#![deny(clippy::print_stdout, clippy::dbg_macro)]

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use agentls::engine::EngineSettings;
use agentls::plugins::Extensions;

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
    /// Speak the Agent Client Protocol on stdin/stdout: agentls as the agent of an editor
    /// that hosts agents (Zed, JetBrains, codecompanion, avante, agent-shell).
    Acp,
    /// Run one task headless in the current directory and print its proposal as a diff
    /// (stdout: the diff alone; stderr: what happens). Nothing is written to the working
    /// tree. `exec resume` continues a recorded task.
    Exec(Box<agentls::exec::ExecArgs>),
    /// The task history of the current directory's workspace: list, show, rm.
    Tasks(agentls::tasks_command::TasksArgs),
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
    /// The MCP servers in config.toml: list them (with status and tools), add, remove.
    Mcp {
        #[command(subcommand)]
        action: McpAction,
    },
    /// Plugins (skills, MCP servers and command tools, packaged): add, list, remove.
    Plugin {
        #[command(subcommand)]
        action: PluginAction,
    },
    /// The skills a task started in the current directory gets.
    Skills {
        #[command(subcommand)]
        action: SkillsAction,
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

#[derive(Subcommand)]
enum McpAction {
    /// Each configured server, its status and its tools (servers are started to find out).
    List,
    /// Add a server to $AGENTLS_HOME/config.toml: `add NAME -- COMMAND ARGS…` for a stdio
    /// server, `add NAME --url URL` for streamable HTTP.
    Add {
        name: String,
        /// A streamable HTTP server's endpoint.
        #[arg(long, conflicts_with = "command")]
        url: Option<String>,
        /// An environment variable for a stdio server, `KEY=VALUE` (repeatable).
        #[arg(long = "env", value_name = "KEY=VALUE")]
        env: Vec<String>,
        /// The server's command and its arguments (after `--`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Remove a server's table from $AGENTLS_HOME/config.toml.
    Remove { name: String },
}

#[derive(Subcommand)]
enum PluginAction {
    /// Install a plugin from a directory into $AGENTLS_HOME/plugins and enable it in
    /// config.toml (a newer version replaces the installed one).
    Add { path: PathBuf },
    /// Installed plugins (enabled or not) and the current project's own, with their
    /// skills, MCP servers and tools.
    List,
    /// Disable and delete an installed plugin (its data directory is kept).
    Remove { name: String },
}

#[derive(Subcommand)]
enum SkillsAction {
    /// Each skill's name, description and file, and the ones a closer skill shadows.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The helper must stay single-threaded and quick: nothing else is set up for it.
    if let Some(Command::SandboxHelper { spec }) = &cli.command {
        return agentls::sandbox::helper::main(spec);
    }
    // exec and tasks report on stderr themselves; their logs are for what goes wrong.
    let quiet = matches!(cli.command, Some(Command::Exec(_) | Command::Tasks(_)));
    init_logging(if quiet {
        "agentls=warn"
    } else {
        "agentls=info"
    });
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
        Command::Acp => {
            let runtime = runtime();
            let status = runtime.block_on(agentls::acp_agent::serve(settings));
            journal.flush();
            // As for `serve`: the stdin reader may sit in a read that never returns.
            runtime.shutdown_background();
            status
        }
        Command::Exec(args) => {
            let code = runtime().block_on(agentls::exec::run(settings, *args));
            journal.flush();
            code
        }
        Command::Tasks(args) => {
            let code = runtime().block_on(agentls::tasks_command::run(settings, args));
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
        Command::Mcp { action } => mcp_command(&settings, action),
        Command::Plugin { action } => plugin_command(&settings, action),
        Command::Skills { action } => skills_command(&settings, action),
        Command::SandboxHelper { .. } => unreachable!("dispatched before logging is set up"),
    }
}

/// The configuration sources of a command run in `cwd` (its workspace).
fn cli_sources<'a>(
    settings: &'a EngineSettings,
    cwd: &'a std::path::Path,
) -> agentls::config::ConfigSources<'a> {
    agentls::config::ConfigSources {
        home: &settings.home,
        workspace_root: Some(cwd),
        cli_overrides: &settings.cli_overrides,
        init_options: None,
        profile: None,
        model: None,
    }
}

fn current_dir() -> Result<PathBuf, String> {
    std::env::current_dir().map_err(|e| format!("cannot find the current directory: {e}"))
}

/// A subcommand's report on stdout, or its error on stderr (exit 1).
#[allow(
    clippy::print_stdout,
    reason = "agentls mcp, plugin and skills print their report on stdout"
)]
fn report(command: &str, result: Result<String, String>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}"); // stdout-ok: CLI output
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("agentls {command}: {message}");
            ExitCode::from(1)
        }
    }
}

fn plugin_command(settings: &EngineSettings, action: PluginAction) -> ExitCode {
    use agentls::plugins::cli;
    let result = match action {
        PluginAction::Add { path } => cli::add(&settings.home, &path),
        PluginAction::List => {
            current_dir().and_then(|cwd| cli::list(&cli_sources(settings, &cwd), &cwd))
        }
        PluginAction::Remove { name } => cli::remove(&settings.home, &name),
    };
    report("plugin", result)
}

fn skills_command(settings: &EngineSettings, action: SkillsAction) -> ExitCode {
    let SkillsAction::List = action;
    let user_home = std::env::var_os("HOME").map(PathBuf::from);
    let result = current_dir().and_then(|cwd| {
        let (mut config, _) =
            agentls::config::load(&cli_sources(settings, &cwd)).map_err(|e| e.to_string())?;
        let home = &settings.home;
        let extensions = Extensions::load(&mut config, home, user_home.as_deref(), &cwd, &cwd);
        let warnings = config.withheld.iter().chain(&extensions.warnings);
        Ok(agentls::skills::cli::render(
            &extensions.skills,
            warnings,
            home,
        ))
    });
    report("skills", result)
}

fn mcp_command(settings: &EngineSettings, action: McpAction) -> ExitCode {
    use agentls::mcp::cli::{self, NewServer};
    let result = (|| match action {
        McpAction::List => {
            let cwd = current_dir()?;
            runtime().block_on(cli::list(&cli_sources(settings, &cwd), &cwd))
        }
        McpAction::Add {
            name,
            url,
            env,
            command,
        } => {
            let server = match url {
                Some(url) => NewServer::Http { url },
                None => {
                    let env = env
                        .iter()
                        .map(|pair| {
                            pair.split_once('=')
                                .map(|(k, v)| (k.to_string(), v.to_string()))
                                .ok_or_else(|| format!("--env {pair}: write KEY=VALUE"))
                        })
                        .collect::<Result<_, _>>()?;
                    NewServer::Stdio { command, env }
                }
            };
            cli::add(&settings.home, &name, &server)
        }
        McpAction::Remove { name } => cli::remove(&settings.home, &name),
    })();
    report("mcp", result)
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
    let source = patch::DirSource::keeping_reads(root)?;
    let changes = patch::apply_patch(&parsed, &source)?;
    let summary = patch::summarize(&changes, &source);
    source.commit(&changes, patch::Durability::Synced)?;
    Ok(summary)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the async runtime")
}

/// Logs go to stderr (stdout is the protocol channel); `AGENTLS_LOG` filters them,
/// e.g. `AGENTLS_LOG=agentls=debug`, else `default`.
fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AGENTLS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}
