//! `file://` URIs ↔ workspace-relative paths.
//!
//! Clients name documents by URI; everything below the LSP layer names files by their
//! '/'-separated path relative to the workspace root. Only `file:` URIs map to files.

use std::path::{Component, Path, PathBuf};

/// The absolute path a `file://` URI names, percent-decoded. None for other schemes.
pub fn to_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    // `file://host/path` is not a local file; `file:///path` has an empty host.
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    if !path.starts_with('/') {
        return None;
    }
    Some(PathBuf::from(percent_decode(path)?))
}

/// The URI of an absolute path.
pub fn from_path(path: &Path) -> String {
    let mut uri = String::from("file://");
    for byte in path.to_string_lossy().bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&byte) {
            uri.push(byte as char);
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

/// The workspace-relative path of a URI, if it names a file under `root`.
pub fn to_relative(root: &Path, uri: &str) -> Option<String> {
    relative(root, &to_path(uri)?)
}

/// `path` relative to `root` with '/' separators, if it is under `root` (lexically).
pub fn relative(root: &Path, path: &Path) -> Option<String> {
    let rest = path.strip_prefix(root).ok()?;
    let mut parts = Vec::new();
    for component in rest.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?.to_string()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

/// The URI of a workspace-relative path.
pub fn from_relative(root: &Path, rel: &str) -> String {
    from_path(&root.join(rel))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_spaces_and_non_ascii() {
        let path = Path::new("/w/my dir/héllo #1.rs");
        let uri = from_path(path);
        assert_eq!(uri, "file:///w/my%20dir/h%C3%A9llo%20%231.rs");
        assert_eq!(to_path(&uri).as_deref(), Some(path));
    }

    #[test]
    fn relative_paths_stay_inside_the_root() {
        let root = Path::new("/w");
        assert_eq!(
            to_relative(root, "file:///w/src/a.rs").as_deref(),
            Some("src/a.rs")
        );
        assert_eq!(to_relative(root, "file:///other/a.rs"), None);
        assert_eq!(to_relative(root, "untitled:Untitled-1"), None);
        assert_eq!(to_relative(root, "file:///w/%ZZ"), None);
    }
}
