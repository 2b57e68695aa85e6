//! Texts a task log refers to by hash, stored once under `$AGENTLS_HOME/blobs/`.
//!
//! A proposal checkpoint needs whole files (the task's base texts, the text its hunk
//! positions refer to), and the same file text recurs across checkpoints, follow-ups and
//! tasks. So the log names each text by its SHA-256 and the text itself is written once,
//! as `blobs/<first two hex digits>/<hash>`. A blob is written as `safe_write` writes
//! files (complete, then renamed into place; no temporary file survives a crash), so a
//! reader never sees half of one; two servers writing the same blob write the same bytes.
//!
//! A [`BlobText`] is how such a text travels: built from the text in memory (a rope is
//! cheap to clone, so a checkpoint taken under the proposal store's lock copies nothing),
//! hashed and stored by the log's writer thread, serialized as its hash, and read back
//! by hash when a log is loaded.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use ring::digest;
use ropey::Rope;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A blob younger than this is never collected: a server may be about to log a reference
/// to it (it found the blob present, so it did not write it again).
const COLLECT_GRACE: Duration = Duration::from_secs(3600);

/// A text as a task log holds it: the text itself until it is stored, its hash after.
#[derive(Clone)]
pub struct BlobText {
    hash: OnceLock<String>,
    text: Option<Content>,
}

#[derive(Clone)]
enum Content {
    Rope(Rope),
    Shared(Arc<str>),
}

impl BlobText {
    pub fn from_rope(rope: Rope) -> Self {
        BlobText {
            hash: OnceLock::new(),
            text: Some(Content::Rope(rope)),
        }
    }

    pub fn from_text(text: impl Into<Arc<str>>) -> Self {
        BlobText {
            hash: OnceLock::new(),
            text: Some(Content::Shared(text.into())),
        }
    }

    /// A reference read from a log: only the hash is known.
    pub fn from_hash(hash: String) -> Self {
        BlobText {
            hash: OnceLock::from(hash),
            text: None,
        }
    }

    /// The SHA-256 of the text, as lowercase hex.
    pub fn hash(&self) -> &str {
        self.hash.get_or_init(|| {
            let mut context = digest::Context::new(&digest::SHA256);
            self.for_each_chunk(|chunk| context.update(chunk.as_bytes()));
            hex(context.finish().as_ref())
        })
    }

    /// The text, when it is in memory (a reference read from a log is not).
    pub fn text(&self) -> Option<String> {
        let mut out = String::new();
        self.text.as_ref()?;
        self.for_each_chunk(|chunk| out.push_str(chunk));
        Some(out)
    }

    fn for_each_chunk(&self, mut each: impl FnMut(&str)) {
        match &self.text {
            Some(Content::Rope(rope)) => rope.chunks().for_each(each),
            Some(Content::Shared(text)) => each(text),
            None => {}
        }
    }
}

impl std::fmt::Debug for BlobText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlobText({})", self.hash())
    }
}

impl PartialEq for BlobText {
    fn eq(&self, other: &Self) -> bool {
        self.hash() == other.hash()
    }
}

impl Serialize for BlobText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.hash())
    }
}

impl<'de> Deserialize<'de> for BlobText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let hash = String::deserialize(deserializer)?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(serde::de::Error::custom(format!(
                "`{hash}` is not a blob hash (64 hex digits)"
            )));
        }
        Ok(BlobText::from_hash(hash))
    }
}

/// The blob directory.
#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
}

impl Blobs {
    pub fn new(home: &Path) -> Self {
        Blobs {
            dir: home.join("blobs"),
        }
    }

    fn path(&self, hash: &str) -> PathBuf {
        self.dir.join(&hash[..2]).join(hash)
    }

    /// Stores the text under its hash unless it is there already (then only refreshes
    /// its time, so a collection running meanwhile leaves it alone).
    pub fn store(&self, blob: &BlobText) -> io::Result<()> {
        let path = self.path(blob.hash());
        if path.exists() {
            let _ = fs::File::open(&path).and_then(|f| f.set_modified(SystemTime::now()));
            return Ok(());
        }
        if blob.text.is_none() {
            // A reference to a stored blob that has since gone: nothing to write.
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("blob {} is missing", blob.hash()),
            ));
        }
        fs::create_dir_all(path.parent().unwrap_or(&self.dir))?;
        let mut text = String::new();
        blob.for_each_chunk(|chunk| text.push_str(chunk));
        // Never half a blob under its name, and no temporary file left by a crash.
        crate::safe_write::replace(&path, text.as_bytes(), None, false)
    }

    /// The text stored under `blob`'s hash.
    pub fn read(&self, blob: &BlobText) -> io::Result<String> {
        if let Some(text) = blob.text() {
            return Ok(text);
        }
        fs::read_to_string(self.path(blob.hash())).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!(
                    "cannot read blob {} ({error}); the task's saved proposal is incomplete",
                    blob.hash()
                ),
            )
        })
    }

    /// Removes the blobs among `candidates` that `still_used` does not claim and that
    /// nobody stored in the last hour.
    pub fn collect(&self, candidates: &[String], still_used: impl Fn(&str) -> bool) {
        for hash in candidates {
            if still_used(hash) {
                continue;
            }
            let path = self.path(hash);
            let recent = fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|at| at.elapsed().ok())
                .is_none_or(|age| age < COLLECT_GRACE);
            if !recent {
                let _ = fs::remove_file(&path);
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[(byte >> 4) as usize] as char);
        out.push(DIGITS[(byte & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rope_and_a_string_of_the_same_text_share_one_blob() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path());
        let text = "line\n".repeat(10_000);
        let a = BlobText::from_rope(Rope::from_str(&text));
        let b = BlobText::from_text(text.clone());
        assert_eq!(a.hash(), b.hash());
        blobs.store(&a).unwrap();
        blobs.store(&b).unwrap();
        let stored = BlobText::from_hash(a.hash().to_string());
        assert_eq!(blobs.read(&stored).unwrap(), text);
        let files: Vec<_> = walk(&dir.path().join("blobs"));
        assert_eq!(files.len(), 1, "{files:?}");
    }

    #[test]
    fn the_hash_is_sha256_hex() {
        assert_eq!(
            BlobText::from_text("").hash(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            BlobText::from_text("abc").hash(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_hash_that_is_not_one_is_refused_when_read_from_a_log() {
        let error = serde_json::from_str::<BlobText>("\"../../etc/passwd\"").unwrap_err();
        assert!(error.to_string().contains("not a blob hash"), "{error}");
    }

    #[test]
    fn collection_keeps_what_is_used_or_recent() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path());
        let (old, used, fresh) = (
            BlobText::from_text("old"),
            BlobText::from_text("used"),
            BlobText::from_text("fresh"),
        );
        for blob in [&old, &used, &fresh] {
            blobs.store(blob).unwrap();
        }
        let long_ago = SystemTime::now() - Duration::from_secs(7200);
        for blob in [&old, &used] {
            fs::File::open(blobs.path(blob.hash()))
                .unwrap()
                .set_modified(long_ago)
                .unwrap();
        }
        let all: Vec<String> = [&old, &used, &fresh]
            .iter()
            .map(|b| b.hash().to_string())
            .collect();
        blobs.collect(&all, |hash| hash == used.hash());
        assert!(!blobs.path(old.hash()).exists());
        assert!(blobs.path(used.hash()).exists());
        assert!(blobs.path(fresh.hash()).exists());
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir).unwrap().flatten() {
            if entry.path().is_dir() {
                out.extend(walk(&entry.path()));
            } else {
                out.push(entry.path());
            }
        }
        out
    }
}
