//! The files a checksum file lists, checked beneath its directory.
//!
//! Every listed path is checked before anything is read (relative, no `..`, no NUL) and opened
//! beneath the directory one component at a time with no symbolic link followed out of it, so
//! a directory swapped for a link while the check runs cannot lead outside; devices, sockets
//! and FIFOs are refused rather than read. Files are hashed on several threads.

use std::io;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use sigil_crypto::fs::{AbsoluteLinks, Root, RootError};
use sigil_crypto::hash::hash_reader;
use sigil_crypto::{Digest, HashAlgorithm};
use sigil_formats::checksums::{ChecksumLine as Line, check_relative_path};

/// Why a listed file is not `OK`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
pub enum FileProblem {
    /// The file's digest is another.
    #[error("{algorithm} is {actual}, the checksum file says {listed}")]
    DigestMismatch {
        /// The algorithm (`sha256`, ...).
        algorithm: String,
        /// The file's digest (hex).
        actual: String,
        /// The listed digest (hex).
        listed: String,
    },
    /// The path names a directory.
    #[error("{0}")]
    Directory(String),
    /// It could not be opened or read.
    #[error("{0}")]
    Unreadable(String),
    /// The path is absolute, climbs out with `..`, or contains what a path may not.
    #[error("{0}")]
    BadPath(String),
    /// It leads out of the directory (a symbolic link), or is not a regular file.
    #[error("{0}")]
    Escapes(String),
}

/// What a listed file came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "problem")]
pub enum Status {
    /// Its digest is the listed one.
    #[serde(rename = "OK")]
    Ok,
    /// It exists and does not match, or cannot be read.
    #[serde(rename = "FAILED")]
    Failed(FileProblem),
    /// It does not exist (a dangling link included).
    #[serde(rename = "MISSING")]
    Missing,
    /// It was not read: its path leads outside the directory or is not a regular file.
    #[serde(rename = "REFUSED")]
    Refused(FileProblem),
}

impl Status {
    /// `OK`, `FAILED`, `MISSING` or `REFUSED`.
    pub fn word(&self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Failed(_) => "FAILED",
            Self::Missing => "MISSING",
            Self::Refused(_) => "REFUSED",
        }
    }

    /// Why, for `FAILED` and `REFUSED`.
    pub fn problem(&self) -> Option<&FileProblem> {
        match self {
            Self::Failed(p) | Self::Refused(p) => Some(p),
            _ => None,
        }
    }
}

/// The directory could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open directory {dir}: {source}")]
pub struct DirError {
    /// The directory.
    pub dir: String,
    /// Why.
    pub source: std::io::Error,
}

/// Checks a listed path inside `root` and returns its length; `Err` is the status to report
/// instead of hashing.
fn resolve(root: &Root, listed: &str) -> Result<u64, Status> {
    check_relative_path(listed)
        .map_err(|e| Status::Refused(FileProblem::BadPath(e.to_string())))?;
    match root.open_file(listed) {
        Ok((_, len)) => Ok(len),
        // A dangling symlink is missing; nothing is read either way.
        Err(RootError::NotFound) => Err(Status::Missing),
        Err(e @ (RootError::Escapes | RootError::NotRegular)) => {
            Err(Status::Refused(FileProblem::Escapes(e.to_string())))
        }
        Err(e @ RootError::Directory) => Err(Status::Failed(FileProblem::Directory(e.to_string()))),
        Err(e) => Err(Status::Failed(FileProblem::Unreadable(format!(
            "cannot open: {e}"
        )))),
    }
}

/// Hashes `files` (paths beneath `root`) on `threads` threads, `progress` told of every chunk
/// read; results in input order.
pub fn hash_files(
    root: &Root,
    files: &[(String, HashAlgorithm)],
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<io::Result<Digest>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<io::Result<Digest>>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, files.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((path, alg)) = files.get(i) else {
                        break;
                    };
                    let r = root
                        .open_file(path)
                        .map_err(|e| io::Error::other(e.to_string()))
                        .and_then(|(f, _)| hash_reader(*alg, f, progress));
                    if let Ok(mut all) = results.lock() {
                        all[i] = Some(r);
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(io::Error::other("not hashed"))))
        .collect()
}

/// The bytes [`check_files`] will read for `lines` beneath `dir` (for a progress bar).
pub fn total_len(dir: &Path, lines: &[Line]) -> u64 {
    let Ok(root) = Root::open(dir, AbsoluteLinks::Host) else {
        return 0;
    };
    lines
        .iter()
        .filter_map(|l| resolve(&root, &l.path).ok())
        .sum()
}

/// Checks every listed file beneath `dir` on `threads` threads; a status per line, in order.
pub fn check_files(
    dir: &Path,
    lines: &[Line],
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<Status>, DirError> {
    let root = Root::open(dir, AbsoluteLinks::Host).map_err(|source| DirError {
        dir: dir.display().to_string(),
        source,
    })?;
    let mut statuses: Vec<Option<Status>> = Vec::with_capacity(lines.len());
    let mut work = Vec::new();
    let mut work_index = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match resolve(&root, &line.path) {
            Ok(_) => {
                work.push((line.path.clone(), line.algorithm));
                work_index.push(i);
                statuses.push(None);
            }
            Err(status) => statuses.push(Some(status)),
        }
    }
    let digests = hash_files(&root, &work, threads, progress);
    for (i, d) in work_index.into_iter().zip(digests) {
        statuses[i] = Some(match d {
            Ok(d) if d.as_bytes() == lines[i].digest.as_slice() => Status::Ok,
            Ok(d) => Status::Failed(FileProblem::DigestMismatch {
                algorithm: d.algorithm().to_string(),
                actual: d.to_hex(),
                listed: sigil_crypto::hash::hex_lower(&lines[i].digest),
            }),
            Err(e) => Status::Failed(FileProblem::Unreadable(format!("cannot read: {e}"))),
        });
    }
    Ok(statuses
        .into_iter()
        .map(|s| {
            s.unwrap_or(Status::Failed(FileProblem::Unreadable(
                "not checked".into(),
            )))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_serialises() {
        let problems = [
            FileProblem::DigestMismatch {
                algorithm: "sha256".into(),
                actual: "ab".into(),
                listed: "cd".into(),
            },
            FileProblem::Directory("a directory".into()),
            FileProblem::Unreadable("cannot read".into()),
            FileProblem::BadPath("absolute".into()),
            FileProblem::Escapes("leads outside".into()),
        ];
        for p in problems {
            for s in [Status::Failed(p.clone()), Status::Refused(p.clone())] {
                let v = serde_json::to_value(&s).unwrap();
                assert_eq!(v["status"], s.word());
                assert!(!v["problem"]["detail"].is_null(), "{v}");
            }
        }
        assert_eq!(
            serde_json::to_value(Status::Missing).unwrap()["status"],
            "MISSING"
        );
    }

    #[test]
    fn a_link_out_of_the_directory_is_refused_and_never_read() {
        let d = tempfile::tempdir().unwrap();
        let inside = d.path().join("in");
        std::fs::create_dir_all(inside.join("real")).unwrap();
        std::fs::write(d.path().join("secret"), b"outside").unwrap();
        std::os::unix::fs::symlink(d.path().join("secret"), inside.join("link")).unwrap();
        std::fs::write(inside.join("real/f"), b"x").unwrap();
        let hex = Digest::of(HashAlgorithm::Sha256, b"outside").to_hex();
        let sums = format!("{hex}  link\n{hex}  real\n{hex}  real/f\n");
        let lines = sigil_formats::checksums::parse(sums.as_bytes()).unwrap();
        let s = check_files(&inside, &lines, 2, &|_| {}).unwrap();
        assert!(
            matches!(s[0], Status::Refused(FileProblem::Escapes(_))),
            "{s:?}"
        );
        assert!(
            matches!(s[1], Status::Failed(FileProblem::Directory(_))),
            "{s:?}"
        );
        assert!(
            matches!(s[2], Status::Failed(FileProblem::DigestMismatch { .. })),
            "{s:?}"
        );
        assert!(matches!(
            check_files(&d.path().join("none"), &lines, 1, &|_| {}),
            Err(DirError { .. })
        ));
    }
}
