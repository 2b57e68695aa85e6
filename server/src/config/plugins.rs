//! `[plugins.<name>]`: which installed plugins a task gets. Typed here so a bad value is
//! reported with file:line like any other key; what a plugin is belongs to the `plugins`
//! module.

use serde::Deserialize;

/// Keys a `[plugins.<name>]` table may hold.
pub(super) const PLUGIN_KEYS: &[&str] = &["enabled"];

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PluginConfig {
    /// `false` keeps the plugin installed but gives tasks none of it.
    pub enabled: bool,
}

impl Default for PluginConfig {
    fn default() -> Self {
        PluginConfig { enabled: true }
    }
}
