//! `agentls plugin add|list|remove`: installing plugins from the command line.
//!
//! `add` reads the plugin first (so a broken one is refused before anything changes),
//! copies it to `$AGENTLS_HOME/plugins/<name>/<version>/` — staged under a hidden name,
//! then renamed into place, replacing the version installed before — and enables it with a
//! `[plugins.<name>]` table in config.toml (edited as text, `config::edit`). `remove` takes
//! the table out and deletes the installed copy; `${PLUGIN_DATA}` is kept.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{Plugin, data_dir, installed_dir, installed_version, manifest, project_dir};
use crate::config::edit::{ConfigFile, dotted};
use crate::config::{self, ConfigSources};
use crate::skills::{Catalog, Origin, Root, subdirectories};

/// The version directory of a plugin whose manifest names none (Codex's choice).
const DEFAULT_VERSION: &str = "local";

/// `agentls plugin add <path>`.
pub fn add(home: &Path, source: &Path) -> Result<String, String> {
    let plugin = manifest::read(source, &|name| data_dir(home, name))?;
    let plugins_dir = home.join("plugins");
    if let Ok(real) = plugins_dir.canonicalize()
        && plugin.root.starts_with(&real)
    {
        return Err(format!(
            "{} is already an installed copy; add the plugin from where you keep its source",
            plugin.root.display()
        ));
    }
    let version = plugin.version.as_deref().unwrap_or(DEFAULT_VERSION);
    // The config edit is made (and checked) before any file is copied.
    let mut file = ConfigFile::open(home)?;
    let keys = ["plugins", plugin.name.as_str()];
    if file.get(&keys).is_some() {
        file.cut(&keys)?;
    }
    file.append(&keys, &format!("[{}]\nenabled = true\n", dotted(&keys)))?;
    let installed = install(&plugin.root, &installed_dir(home, &plugin.name), version)?;
    file.save()?;
    let mut text = format!(
        "Installed plugin `{}` {version} ({}) in {}\n",
        plugin.name,
        plugin.layout.describe(),
        installed.display()
    );
    describe_contents(&mut text, &plugin);
    let _ = writeln!(text, "Enabled in {}.", file.path().display());
    Ok(text)
}

/// Copies `source` to `<dir>/<version>`, leaving no other version beside it.
fn install(source: &Path, dir: &Path, version: &str) -> Result<PathBuf, String> {
    let fail = |what: &str, path: &Path, e: std::io::Error| {
        format!("cannot {what} {}: {e}", path.display())
    };
    std::fs::create_dir_all(dir).map_err(|e| fail("create", dir, e))?;
    let staging = dir.join(format!(".new-{}-{version}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    if let Err(error) = copy_tree(source, &staging) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(error);
    }
    let target = dir.join(version);
    let old = dir.join(format!(".old-{}-{version}", std::process::id()));
    if target.exists() {
        std::fs::rename(&target, &old).map_err(|e| fail("move aside", &target, e))?;
    }
    if let Err(e) = std::fs::rename(&staging, &target) {
        let _ = std::fs::rename(&old, &target);
        let _ = std::fs::remove_dir_all(&staging);
        return Err(fail("install", &target, e));
    }
    let _ = std::fs::remove_dir_all(&old);
    for other in subdirectories(dir) {
        if other != target {
            let _ = std::fs::remove_dir_all(&other);
        }
    }
    Ok(target)
}

/// Files, directories (with their permissions) and symlinks, without `.git`.
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    let fail = |path: &Path, e: std::io::Error| format!("cannot copy {}: {e}", path.display());
    std::fs::create_dir_all(to).map_err(|e| fail(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| fail(from, e))? {
        let entry = entry.map_err(|e| fail(from, e))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(|e| fail(&source, e))?;
        if kind.is_dir() {
            if entry.file_name() == ".git" {
                continue;
            }
            copy_tree(&source, &target)?;
            let permissions = entry
                .metadata()
                .map_err(|e| fail(&source, e))?
                .permissions();
            std::fs::set_permissions(&target, permissions).map_err(|e| fail(&target, e))?;
        } else if kind.is_symlink() {
            let link = std::fs::read_link(&source).map_err(|e| fail(&source, e))?;
            std::os::unix::fs::symlink(link, &target).map_err(|e| fail(&source, e))?;
        } else {
            std::fs::copy(&source, &target).map_err(|e| fail(&source, e))?;
        }
    }
    Ok(())
}

/// `agentls plugin list`: installed plugins, enabled or not, and the project's own.
pub fn list(sources: &ConfigSources<'_>, workspace_root: &Path) -> Result<String, String> {
    let (config, _) = config::load(sources).map_err(|e| e.to_string())?;
    let home = sources.home;
    let mut text = String::new();
    let installed = subdirectories(&home.join("plugins"));
    let project = subdirectories(&project_dir(workspace_root));
    let untrusted_project = !project.is_empty() && !config.project_trusted;
    if installed.is_empty() && project.is_empty() {
        text.push_str("No plugins are installed; add one with `agentls plugin add <path>`.\n");
    }
    let data = |name: &str| data_dir(home, name);
    for dir in installed {
        let name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let state = match config.plugins.get(&name) {
            Some(settings) if settings.enabled => "enabled",
            Some(_) => "disabled (enabled = false)",
            None => "disabled (no [plugins] table in config.toml)",
        };
        let Some(version_dir) = installed_version(home, &name) else {
            let _ = writeln!(text, "{name}: no version installed in {}", dir.display());
            continue;
        };
        match manifest::read(&version_dir, &data) {
            Ok(plugin) => {
                let version = plugin.version.as_deref().unwrap_or(DEFAULT_VERSION);
                let _ = writeln!(text, "{name} {version}: {state}");
                describe_contents(&mut text, &plugin);
            }
            Err(error) => {
                let _ = writeln!(text, "{name}: {state}, but cannot be loaded: {error}");
            }
        }
    }
    for dir in project {
        let trust = if config.project_trusted {
            "from this project"
        } else {
            "from this project, not loaded: the project is not trusted"
        };
        match manifest::read(&dir, &data) {
            Ok(plugin) => {
                let _ = writeln!(text, "{} ({trust})", plugin.name);
                describe_contents(&mut text, &plugin);
            }
            Err(error) => {
                let _ = writeln!(text, "{} ({trust}): {error}", dir.display());
            }
        }
    }
    if untrusted_project {
        let _ = writeln!(text, "{}", config::trust_hint(workspace_root, home));
    }
    Ok(text)
}

/// Its description, skills, MCP servers, tools and problems, indented.
fn describe_contents(text: &mut String, plugin: &Plugin) {
    if let Some(description) = &plugin.description {
        let _ = writeln!(text, "  {description}");
    }
    let skills = match &plugin.skills {
        Some(dir) => Catalog::discover(&[Root {
            dir: dir.clone(),
            origin: Origin::Plugin(plugin.name.clone()),
        }]),
        None => Catalog::default(),
    };
    let lists = [
        (
            "skills",
            skills
                .skills
                .iter()
                .map(|s| s.name.clone())
                .collect::<Vec<_>>(),
        ),
        ("MCP servers", plugin.mcp_servers.keys().cloned().collect()),
        (
            "tools",
            plugin.tools.iter().map(|t| t.name.clone()).collect(),
        ),
    ];
    for (what, names) in lists {
        if !names.is_empty() {
            let _ = writeln!(text, "  {what}: {}", names.join(", "));
        }
    }
    for problem in plugin.problems.iter().chain(&skills.problems) {
        let _ = writeln!(text, "  problem: {problem}");
    }
}

/// `agentls plugin remove <name>`.
pub fn remove(home: &Path, name: &str) -> Result<String, String> {
    let mut file = ConfigFile::open(home)?;
    let keys = ["plugins", name];
    let configured = file.get(&keys).is_some();
    let dir = installed_dir(home, name);
    if !configured && !dir.exists() {
        return Err(format!(
            "no plugin named `{name}` is installed (in {}) or configured (in {}); `agentls plugin list` shows them",
            dir.display(),
            file.path().display()
        ));
    }
    if configured {
        file.cut(&keys)?;
        file.save()?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
    }
    let mut text = format!("Removed plugin `{name}`.\n");
    let data = data_dir(home, name);
    if data.exists() {
        let _ = writeln!(
            text,
            "Its data is kept in {}; delete it if you no longer need it.",
            data.display()
        );
    }
    Ok(text)
}
