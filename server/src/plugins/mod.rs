//! Plugins: packaged skills, MCP servers and command tools, in the layouts Codex 0.171
//! reads (Agent Plugins 1.0, `.codex-plugin/`, `.claude-plugin/`) plus manifests of
//! packaged command tools (`manifest.rs` reads one directory).
//!
//! Where a workspace's plugins come from:
//! - installed ones, `$AGENTLS_HOME/plugins/<name>/<version>/` (`agentls plugin add` puts
//!   them there), each given to tasks while `[plugins.<name>]` in config.toml enables it;
//! - the repository's own, `.agentls/plugins/<dir>/`, only when the user trusts the project
//!   (`[projects."<root>"] trust_level = "trusted"`); otherwise each is a warning saying how.
//!
//! A plugin's MCP servers join the task's `[mcp_servers]` (a server the user configured
//! under the same name wins), its skills join the skill roots (as `<plugin>:<skill>`), and
//! its command tools become model tools (`agent/plugin_tools.rs`). Each plugin keeps state
//! in `${PLUGIN_DATA}`, `$AGENTLS_HOME/plugin-data/<name>/`, which outlives its versions.
//!
//! - `cli`: `agentls plugin add|list|remove`.

pub mod cli;
pub mod manifest;

use std::path::{Path, PathBuf};

pub use manifest::{CommandTool, Layout, Plugin, ToolCommand};

use crate::config::{Config, trust_hint};
use crate::skills::{self, Catalog, subdirectories};

/// `$AGENTLS_HOME/plugins/<name>`: an installed plugin's versions.
pub fn installed_dir(home: &Path, name: &str) -> PathBuf {
    home.join("plugins").join(name)
}

/// `${PLUGIN_DATA}` of plugin `name`.
pub fn data_dir(home: &Path, name: &str) -> PathBuf {
    home.join("plugin-data").join(name)
}

/// `.agentls/plugins` of the workspace.
pub fn project_dir(workspace_root: &Path) -> PathBuf {
    workspace_root.join(".agentls").join("plugins")
}

/// The installed version of plugin `name`: the directory under [`installed_dir`] (there
/// is one; with several, the last by name). `None`: not installed.
pub fn installed_version(home: &Path, name: &str) -> Option<PathBuf> {
    let mut versions = subdirectories(&installed_dir(home, name));
    versions.sort();
    versions.pop()
}

/// The plugins a workspace's tasks get, and what kept others out.
#[derive(Debug, Default)]
pub struct Loaded {
    pub plugins: Vec<Plugin>,
    pub warnings: Vec<String>,
}

/// The enabled installed plugins and, when the project is trusted, the project's own.
pub fn load(config: &Config, home: &Path, workspace_root: &Path) -> Loaded {
    let mut loaded = Loaded::default();
    let data = |name: &str| data_dir(home, name);
    for name in config
        .plugins
        .iter()
        .filter(|(_, p)| p.enabled)
        .map(|(n, _)| n)
    {
        let Some(dir) = installed_version(home, name) else {
            loaded.warnings.push(format!(
                "plugin `{name}` is enabled in config.toml but not installed in {}; install it with `agentls plugin add <path>`, or remove its [plugins.{name}] table",
                installed_dir(home, name).display()
            ));
            continue;
        };
        loaded.add(manifest::read(&dir, &data), &dir);
    }
    let project = project_dir(workspace_root);
    for dir in subdirectories(&project) {
        if !config.project_trusted {
            loaded.warnings.push(format!(
                "plugin {} is not loaded: this project is not trusted. {}",
                dir.display(),
                trust_hint(workspace_root, home)
            ));
            continue;
        }
        let read = manifest::read(&dir, &data);
        if let Ok(plugin) = &read
            && config.plugins.get(&plugin.name).is_some_and(|p| !p.enabled)
        {
            continue;
        }
        loaded.add(read, &dir);
    }
    loaded
}

impl Loaded {
    fn add(&mut self, read: Result<Plugin, String>, dir: &Path) {
        let plugin = match read {
            Ok(plugin) => plugin,
            Err(error) => {
                self.warnings
                    .push(format!("plugin {} is not loaded: {error}", dir.display()));
                return;
            }
        };
        if let Some(first) = self.plugins.iter().find(|p| p.name == plugin.name) {
            self.warnings.push(format!(
                "plugin {} is not loaded: a plugin named `{}` is already loaded from {}",
                plugin.root.display(),
                plugin.name,
                first.root.display()
            ));
            return;
        }
        let needs_data = !plugin.mcp_servers.is_empty() || !plugin.tools.is_empty();
        if needs_data && let Err(error) = std::fs::create_dir_all(&plugin.data) {
            self.warnings.push(format!(
                "plugin `{}`: cannot create its data directory {}: {error}",
                plugin.name,
                plugin.data.display()
            ));
        }
        self.warnings.extend(
            plugin
                .problems
                .iter()
                .map(|p| format!("plugin `{}`: {p}", plugin.name)),
        );
        self.plugins.push(plugin);
    }

    /// Adds the plugins' MCP servers to `config`'s; a name already taken (by the user's
    /// own table or an earlier plugin) keeps its first owner, with a warning.
    pub fn add_mcp_servers(&self, config: &mut Config) -> Vec<String> {
        let mut warnings = Vec::new();
        for plugin in &self.plugins {
            for (name, server) in &plugin.mcp_servers {
                if config.mcp_servers.contains_key(name) {
                    warnings.push(format!(
                        "plugin `{}`: its MCP server `{name}` is not started, the name is already taken (by [mcp_servers.{name}] or another plugin)",
                        plugin.name
                    ));
                    continue;
                }
                config.mcp_servers.insert(name.clone(), server.clone());
            }
        }
        warnings
    }

    /// Each plugin's name and skills folder.
    pub fn skill_dirs(&self) -> Vec<(String, PathBuf)> {
        self.plugins
            .iter()
            .filter_map(|p| Some((p.name.clone(), p.skills.clone()?)))
            .collect()
    }
}

/// What a task gets from plugins and skills, and what it should be warned about.
#[derive(Debug, Default)]
pub struct Extensions {
    pub plugins: Vec<Plugin>,
    pub skills: Catalog,
    /// Plugins and skills that could not be used, each a `warning` task update (as is
    /// what an untrusted project did not get: `Config::withheld`).
    pub warnings: Vec<String>,
}

impl Extensions {
    /// For a task in `cwd` of the workspace at `workspace_root`: loads the plugins, adds
    /// their MCP servers to `config`'s, and finds the skills. `user_home` holds
    /// `~/.agents/skills`.
    pub fn load(
        config: &mut Config,
        home: &Path,
        user_home: Option<&Path>,
        workspace_root: &Path,
        cwd: &Path,
    ) -> Extensions {
        let loaded = load(config, home, workspace_root);
        let mut warnings = loaded.warnings.clone();
        warnings.extend(loaded.add_mcp_servers(config));
        let roots = skills::roots(home, user_home, cwd, &loaded.skill_dirs());
        let skills = Catalog::discover(&roots);
        warnings.extend(skills.problems.iter().cloned());
        Extensions {
            plugins: loaded.plugins,
            skills,
            warnings,
        }
    }

    /// What a task may read outside the workspace, never change: its skills' folders and
    /// its plugins (whose skills and commands use the plugin's other files).
    pub fn read_only_dirs(&self) -> Vec<PathBuf> {
        self.skills
            .skills
            .iter()
            .map(|s| s.dir().to_path_buf())
            .chain(self.plugins.iter().map(|p| p.root.clone()))
            .collect()
    }
}
