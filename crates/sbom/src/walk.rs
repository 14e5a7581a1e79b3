//! Directory sources: one walk that keeps only the files a cataloger wants (by name), and reads
//! confined to the root.

use std::path::{Path, PathBuf};

use crate::catalog::{self, Kind, Tree};
use crate::{SbomError, Warning};

/// A directory being scanned.
pub(crate) struct DirTree {
    root: PathBuf,
    max_file_size: u64,
    entries: Vec<(String, Kind)>,
    warnings: Vec<Warning>,
}

impl DirTree {
    /// Walks `root` once. Directory symlinks are not descended (so a symlink loop cannot make
    /// the walk endless); a symlink to a wanted file is followed when it stays inside the root.
    pub(crate) fn open(root: &Path, max_file_size: u64) -> Result<Self, SbomError> {
        let io = |e: std::io::Error| SbomError::Io {
            path: root.display().to_string(),
            error: e,
        };
        let meta = std::fs::metadata(root).map_err(io)?;
        let root = root.canonicalize().map_err(io)?;
        let mut tree = Self {
            root,
            max_file_size,
            entries: Vec::new(),
            warnings: Vec::new(),
        };
        if meta.is_file() {
            // A single file: catalogue it as if its directory were the source.
            let name = tree
                .root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(parent) = tree.root.parent() {
                tree.root = parent.to_path_buf();
            }
            match catalog::classify(&name) {
                Some(k) => tree.entries.push((name, k)),
                None => {
                    return Err(SbomError::Source(format!(
                        "{name}: not a file any cataloger reads"
                    )));
                }
            }
            return Ok(tree);
        }
        let mut stack = vec![String::new()];
        while let Some(rel) = stack.pop() {
            let dir = tree.root.join(&rel);
            let rd = match std::fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) => {
                    tree.warn(&rel, format!("cannot list directory: {e}"));
                    continue;
                }
            };
            for entry in rd {
                let Ok(entry) = entry else { continue };
                let Ok(ft) = entry.file_type() else { continue };
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                let path = if rel.is_empty() {
                    name.to_owned()
                } else {
                    format!("{rel}/{name}")
                };
                if ft.is_dir() {
                    if name != ".git" {
                        stack.push(path);
                    }
                } else if let Some(kind) = catalog::classify(&path) {
                    if ft.is_symlink() {
                        match tree.resolve(&path) {
                            Ok(Some(_)) => tree.entries.push((path, kind)),
                            Ok(None) => {}
                            Err(e) => tree.warn(&path, e),
                        }
                    } else if ft.is_file() {
                        tree.entries.push((path, kind));
                    }
                }
            }
        }
        tree.entries.sort();
        Ok(tree)
    }

    fn warn(&mut self, path: &str, message: String) {
        self.warnings.push(Warning {
            path: path.to_owned(),
            line: None,
            message,
        });
    }

    /// The real file behind `rel`, confined to the root: `Ok(None)` when it does not exist.
    fn resolve(&self, rel: &str) -> Result<Option<PathBuf>, String> {
        let full = self.root.join(rel);
        match full.canonicalize() {
            Ok(real) => {
                if !real.starts_with(&self.root) {
                    return Err(format!(
                        "skipped: a symlink out of the source ({})",
                        real.display()
                    ));
                }
                Ok(real.is_file().then_some(real))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.raw_os_error() == Some(40) => Err("skipped: a symlink loop".to_owned()),
            Err(e) => Err(format!("skipped: {e}")),
        }
    }
}

impl Tree for DirTree {
    fn entries(&self) -> &[(String, Kind)] {
        &self.entries
    }

    fn walk_warnings(&self) -> &[Warning] {
        &self.warnings
    }

    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, String> {
        let Some(real) = self.resolve(rel)? else {
            return Ok(None);
        };
        let size = std::fs::metadata(&real).map_err(|e| e.to_string())?.len();
        if size > self.max_file_size {
            return Err(format!(
                "skipped: {size} bytes, over the {}-byte limit",
                self.max_file_size
            ));
        }
        std::fs::read(&real).map(Some).map_err(|e| e.to_string())
    }

    fn list(&self, rel_dir: &str) -> Vec<String> {
        let Ok(Some(_)) = self.resolve_dir(rel_dir) else {
            return Vec::new();
        };
        let mut out: Vec<String> = std::fs::read_dir(self.root.join(rel_dir))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }
}

impl DirTree {
    fn resolve_dir(&self, rel: &str) -> Result<Option<PathBuf>, String> {
        match self.root.join(rel).canonicalize() {
            Ok(real) if real.starts_with(&self.root) && real.is_dir() => Ok(Some(real)),
            Ok(_) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}
