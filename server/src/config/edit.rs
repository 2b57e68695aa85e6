//! Editing `$AGENTLS_HOME/config.toml` from the command line (`agentls mcp add|remove`,
//! `agentls plugin add|remove`) as text, so the user's comments and layout survive:
//! a table is appended at the end, or cut out with its subtables. Each edit is checked by
//! parsing both versions: the new file must mean exactly the old one plus (or minus) that
//! entry, or nothing is written. An entry written inline (`mcp_servers = { … }`, dotted
//! keys) is refused with a message, rather than pulling in a format-preserving TOML editor
//! for that rare case.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

/// The user's config file, as text and as what it means.
pub struct ConfigFile {
    path: PathBuf,
    text: String,
    table: Table,
}

impl ConfigFile {
    /// `config.toml` under `home`; a missing file is an empty one.
    pub fn open(home: &Path) -> Result<ConfigFile, String> {
        let path = home.join("config.toml");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
        };
        let table = parse(&text, &path)?;
        Ok(ConfigFile { path, text, table })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The value at `keys` (`["mcp_servers", "docs"]`), if the file sets it.
    pub fn get(&self, keys: &[&str]) -> Option<&Value> {
        let (last, parents) = keys.split_last()?;
        let mut table = &self.table;
        for key in parents {
            table = table.get(*key)?.as_table()?;
        }
        table.get(*last)
    }

    /// Appends `text`, the table at `keys` (its header included, subtables after it).
    pub fn append(&mut self, keys: &[&str], text: &str) -> Result<(), String> {
        let mut after = self.text.clone();
        if !after.is_empty() && !after.ends_with('\n') {
            after.push('\n');
        }
        if !after.is_empty() {
            after.push('\n');
        }
        after.push_str(text);
        let new = parse(&after, &self.path)?;
        if without(new, keys) != self.table {
            return Err(format!(
                "cannot add `{}` to {} without changing other settings (is `{}` written inline there?); add it by hand:\n{text}",
                dotted(keys),
                self.path.display(),
                keys[0]
            ));
        }
        self.replace(after)
    }

    /// Cuts the table at `keys` and its subtables; comments and blank lines at its end stay
    /// (they belong to what follows).
    pub fn cut(&mut self, keys: &[&str]) -> Result<(), String> {
        let mut kept = String::with_capacity(self.text.len());
        let mut inside = false;
        let mut trailing = String::new();
        for line in self.text.split_inclusive('\n') {
            if let Some(header) = table_header(line) {
                let was_inside = inside;
                inside = header.len() >= keys.len() && header.iter().zip(keys).all(|(h, k)| h == k);
                if was_inside && !inside {
                    kept.push_str(&trailing);
                }
                trailing.clear();
            }
            if !inside {
                kept.push_str(line);
            } else if line.trim().is_empty() || line.trim_start().starts_with('#') {
                trailing.push_str(line);
            } else {
                trailing.clear();
            }
        }
        let new = parse(&kept, &self.path)?;
        if new != without(self.table.clone(), keys) {
            return Err(format!(
                "`{}` is not written as a [{}] table in {}; remove it by hand",
                keys.last().copied().unwrap_or_default(),
                dotted(keys),
                self.path.display()
            ));
        }
        self.replace(kept)
    }

    fn replace(&mut self, text: String) -> Result<(), String> {
        self.table = parse(&text, &self.path)?;
        self.text = text;
        Ok(())
    }

    /// Temp file and rename: the user's config is never half-written.
    pub fn save(&self) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("cannot write {}: {e}", self.path.display());
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let temp = self.path.with_extension("toml.agentls-tmp");
        std::fs::write(&temp, &self.text).map_err(fail)?;
        std::fs::rename(&temp, &self.path).map_err(fail)
    }
}

/// A bare key when TOML allows one, else a quoted one.
pub fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_string()
    } else {
        Value::from(name).to_string()
    }
}

/// `a.b."c d"`: how a table header names `keys`.
pub fn dotted(keys: &[&str]) -> String {
    keys.iter().map(|k| key(k)).collect::<Vec<_>>().join(".")
}

/// `table` without the entry at `keys`, and without tables left empty by that.
fn without(mut table: Table, keys: &[&str]) -> Table {
    fn remove(table: &mut Table, keys: &[&str]) {
        match keys {
            [] => {}
            [last] => {
                table.remove(*last);
            }
            [first, rest @ ..] => {
                if let Some(Value::Table(inner)) = table.get_mut(*first) {
                    remove(inner, rest);
                    if inner.is_empty() {
                        table.remove(*first);
                    }
                }
            }
        }
    }
    remove(&mut table, keys);
    table
}

/// The dotted key of a `[table]` or `[[array]]` header line, parsed by TOML itself.
fn table_header(line: &str) -> Option<Vec<String>> {
    let trimmed = line.trim();
    if !trimmed.starts_with('[') {
        return None;
    }
    let body = trimmed.trim_start_matches('[');
    let end = body.rfind(']')?;
    let dotted = body[..end].trim_end_matches(']');
    // `a."b.c" = 0` parses to nested tables whose keys are the header's parts.
    let table: Table = format!("{dotted} = 0").parse().ok()?;
    let mut parts = Vec::new();
    let mut current = &table;
    loop {
        let (key, value) = current.iter().next()?;
        parts.push(key.clone());
        match value {
            Value::Table(inner) => current = inner,
            _ => return Some(parts),
        }
    }
}

fn parse(text: &str, path: &Path) -> Result<Table, String> {
    text.parse::<Table>().map_err(|e| {
        format!(
            "{} is not valid TOML ({}); fix it first",
            path.display(),
            e.message()
        )
    })
}
