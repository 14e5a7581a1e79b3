//! A content-addressed cache of signature manifests and attachment blobs, shared by concurrent
//! processes.
//!
//! Entries are named by the SHA-256 of their bytes and checked against it on every read, so a
//! corrupted or planted file is a miss, never a verdict; nothing in the cache is trusted more
//! than the registry. Besides content, the cache remembers which digest an attachment tag last
//! pointed to (`refs/`), which tells Sigil that a `HEAD` is enough to revalidate it. Writes go
//! to a temporary file in the same directory, then `rename`, so readers never see half a file
//! and concurrent writers of the same entry agree (same bytes).
//!
//! Location: `$SIGIL_CACHE_DIR`, else `$XDG_CACHE_HOME/sigil`, else `~/.cache/sigil`;
//! `SIGIL_NO_CACHE=1` turns it off. Deleting the directory at any time is safe.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::manifest::{check_digest, sha256_digest};

/// Largest entry the cache keeps.
const MAX_ENTRY: u64 = 16 * 1024 * 1024;

/// The on-disk cache.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// A cache rooted at `dir` (created on first write).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The cache the environment names, or `None` when it is turned off or no home is known.
    pub fn from_env() -> Option<Self> {
        if std::env::var_os("SIGIL_NO_CACHE").is_some_and(|v| !v.is_empty() && v != "0") {
            return None;
        }
        let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        if let Some(d) = non_empty("SIGIL_CACHE_DIR") {
            return Some(Self::at(d));
        }
        if let Some(d) = non_empty("XDG_CACHE_HOME") {
            return Some(Self::at(PathBuf::from(d).join("sigil")));
        }
        non_empty("HOME").map(|h| Self::at(PathBuf::from(h).join(".cache").join("sigil")))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn blob_path(&self, digest: &str) -> Option<PathBuf> {
        check_digest(digest).ok()?;
        let hex = &digest["sha256:".len()..];
        Some(self.dir.join("blobs").join("sha256").join(hex))
    }

    fn ref_path(&self, key: &str) -> PathBuf {
        let name = sha256_digest(key.as_bytes());
        self.dir.join("refs").join(&name["sha256:".len()..])
    }

    /// The bytes stored under `digest`, if present and intact.
    pub fn get(&self, digest: &str) -> Option<Vec<u8>> {
        let path = self.blob_path(digest)?;
        let meta = fs::metadata(&path).ok()?;
        if !meta.is_file() || meta.len() > MAX_ENTRY {
            return None;
        }
        let bytes = fs::read(&path).ok()?;
        if sha256_digest(&bytes) != digest {
            // Corrupted or planted: drop it (best effort) and treat as a miss.
            let _ = fs::remove_file(&path);
            return None;
        }
        Some(bytes)
    }

    /// Stores `bytes` under their digest. Failures (read-only or full disk) are ignored: the
    /// cache only ever saves requests.
    pub fn put(&self, bytes: &[u8]) {
        if bytes.len() as u64 > MAX_ENTRY {
            return;
        }
        if let Some(path) = self.blob_path(&sha256_digest(bytes))
            && !path.exists()
        {
            let _ = write_atomic(&path, bytes);
        }
    }

    /// The digest `key` (an attachment location) pointed to when last seen.
    pub fn get_ref(&self, key: &str) -> Option<String> {
        let s = fs::read_to_string(self.ref_path(key)).ok()?;
        let s = s.trim();
        check_digest(s).ok()?;
        Some(s.to_owned())
    }

    /// Remembers where `key` points.
    pub fn put_ref(&self, key: &str, digest: &str) {
        if check_digest(digest).is_ok() {
            let _ = write_atomic(&self.ref_path(key), digest.as_bytes());
        }
    }

    /// A small remembered fact (for example a registry's token realm), by kind and key.
    pub fn get_note(&self, kind: &str, key: &str) -> Option<String> {
        let path = self.note_path(kind, key)?;
        let meta = fs::metadata(&path).ok()?;
        if meta.len() > 4096 {
            return None;
        }
        fs::read_to_string(path).ok()
    }

    /// Remembers a small fact.
    pub fn put_note(&self, kind: &str, key: &str, value: &str) {
        if let Some(path) = self.note_path(kind, key)
            && value.len() <= 4096
            && self.get_note(kind, key).as_deref() != Some(value)
        {
            let _ = write_atomic(&path, value.as_bytes());
        }
    }

    fn note_path(&self, kind: &str, key: &str) -> Option<PathBuf> {
        if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_lowercase()) {
            return None;
        }
        let name = sha256_digest(key.as_bytes());
        Some(self.dir.join(kind).join(&name["sha256:".len()..]))
    }

    /// Forgets `key` (its target was deleted).
    pub fn forget_ref(&self, key: &str) {
        let _ = fs::remove_file(self.ref_path(key));
    }
}

/// Writes through a temporary file and a rename, so a reader sees the whole entry or none.
/// Not synced: every entry is checked when read (a blob against its digest, a ref as a digest),
/// so one a crash left torn or empty is a miss, and a verification never waits on the disk.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent)?;
    let mut tmp = tempfile::NamedTempFile::new_in(parent)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_checked_on_read_and_refs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::at(dir.path());
        let d = sha256_digest(b"payload");
        assert_eq!(c.get(&d), None);
        c.put(b"payload");
        assert_eq!(c.get(&d).as_deref(), Some(&b"payload"[..]));
        // A planted file under the right name is refused and removed.
        let path = c.blob_path(&d).unwrap();
        fs::write(&path, b"forged").unwrap();
        assert_eq!(c.get(&d), None);
        assert!(!path.exists());
        // Names that are not digests never reach the file system.
        assert_eq!(c.get("sha256:../../etc/passwd"), None);
        c.put_ref("r/app:sha256-x.sig", &d);
        assert_eq!(c.get_ref("r/app:sha256-x.sig"), Some(d.clone()));
        c.forget_ref("r/app:sha256-x.sig");
        assert_eq!(c.get_ref("r/app:sha256-x.sig"), None);
    }

    #[test]
    fn a_read_only_cache_is_silently_unused() {
        let c = Cache::at("/proc/sigil-cache-cannot-exist");
        c.put(b"x");
        assert_eq!(c.get(&sha256_digest(b"x")), None);
    }
}
