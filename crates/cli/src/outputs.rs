//! Output files written together, safely:
//!
//! - a regular file (or a new one) is written to a temporary file beside it and renamed into
//!   place only when every output of the command was written; an original it replaces is kept
//!   (hard-linked aside) until every new file is in place, and put back if one fails; the
//!   directories are synced after the renames;
//! - a symbolic link is resolved, and its target written as above (a dangling link is refused);
//! - a character device, a FIFO, `/dev/stdout` and the other `/dev/` and `/proc/` paths are
//!   written directly, never replaced by a regular file (`-o spdx-json=/dev/null` as root leaves
//!   the device alone); directories, sockets and block devices are refused;
//! - temporary files are removed when the command is interrupted (SIGINT, SIGTERM, SIGHUP), and
//!   ones an earlier killed run left behind (over an hour old) are removed by the next write.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};

/// Name prefix of Sigil's temporary files.
const TMP_PREFIX: &str = ".sigil-tmp-";
/// Name prefix of an original kept aside while its replacement is put in place.
const OLD_PREFIX: &str = ".sigil-old-";

/// Temporary files of this process, removed if it is interrupted.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Set by a server, whose own shutdown handles the signals (the temporary files are still
/// removed).
static SERVING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Says that this process is a server with its own graceful shutdown.
pub fn serving() {
    SERVING.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Removes this process's temporary files on SIGINT, SIGTERM or SIGHUP, then exits with
/// 128 + the signal number, as a shell reports it. Installed with the first temporary file, so
/// commands that write none start no thread.
fn clean_up_on_signals() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        std::thread::spawn(move || {
            for sig in signals.forever() {
                for p in live().drain(..) {
                    let _ = std::fs::remove_file(p);
                }
                if !SERVING.load(std::sync::atomic::Ordering::Relaxed) {
                    std::process::exit(128 + sig);
                }
            }
        });
    });
}

enum Target {
    /// Staged in a temporary file, renamed over `path`.
    Staged(tempfile::NamedTempFile, PathBuf),
    /// Written directly at commit (a device, a FIFO, `/dev/stdout`).
    Direct(PathBuf, Vec<u8>),
}

/// Output files written together; see the module documentation.
pub struct AtomicOutputs {
    pending: Vec<Target>,
    overwrite: bool,
}

impl AtomicOutputs {
    /// `overwrite`: replace existing files; otherwise an existing target is an error.
    pub fn new(overwrite: bool) -> Self {
        Self {
            pending: Vec::new(),
            overwrite,
        }
    }

    /// Stages `data` for `path` with Unix permissions `mode` (for new or replaced files).
    pub fn add(&mut self, path: &Path, data: &[u8], mode: u32) -> Result<()> {
        if path.starts_with("/dev") || path.starts_with("/proc") {
            self.pending
                .push(Target::Direct(path.to_owned(), data.to_vec()));
            return Ok(());
        }
        let target = match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path)
                .with_context(|| format!("{} is a symbolic link to nowhere", path.display()))?,
            _ => path.to_owned(),
        };
        match std::fs::metadata(&target) {
            Ok(m) if m.is_file() => {
                if !self.overwrite {
                    bail!(
                        "{} already exists; pass --force to overwrite it",
                        path.display()
                    );
                }
            }
            Ok(m) if m.is_dir() => bail!("{} is a directory", path.display()),
            Ok(m) => {
                use std::os::unix::fs::FileTypeExt;
                let t = m.file_type();
                if t.is_char_device() || t.is_fifo() {
                    self.pending.push(Target::Direct(target, data.to_vec()));
                    return Ok(());
                }
                bail!(
                    "{} is a socket or block device; Sigil writes files, character devices and FIFOs",
                    path.display()
                );
            }
            Err(_) => {}
        }
        let dir = parent(&target);
        remove_stale(dir);
        clean_up_on_signals();
        // NamedTempFile is created 0600, so secrets are never readable by others, even briefly.
        let mut tmp = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        live().push(tmp.path().to_owned());
        tmp.write_all(data)
            .and_then(|_| tmp.as_file().sync_all())
            .with_context(|| format!("cannot write {}", path.display()))?;
        set_mode(tmp.as_file(), mode)?;
        self.pending.push(Target::Staged(tmp, target));
        Ok(())
    }

    /// Puts every output in place. Originals are kept aside until all new files are in place;
    /// when one cannot be placed, every replaced original is put back and the new files removed.
    pub fn commit(self) -> Result<()> {
        let mut placed: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
        let mut dirs: Vec<PathBuf> = Vec::new();
        let mut direct = Vec::new();
        let mine: Vec<PathBuf> = self
            .pending
            .iter()
            .filter_map(|t| match t {
                Target::Staged(tmp, _) => Some(tmp.path().to_owned()),
                Target::Direct(..) => None,
            })
            .collect();
        let result = (|| -> Result<()> {
            for t in self.pending {
                match t {
                    Target::Direct(p, data) => direct.push((p, data)),
                    Target::Staged(tmp, path) => {
                        let backup = if path.exists() {
                            Some(aside(&path)?)
                        } else {
                            None
                        };
                        let temp_path = tmp.path().to_owned();
                        let res = if self.overwrite {
                            tmp.persist(&path).map(|_| ())
                        } else {
                            tmp.persist_noclobber(&path).map(|_| ())
                        };
                        live().retain(|p| *p != temp_path);
                        if let Err(e) = res {
                            if let Some(b) = backup {
                                let _ = std::fs::remove_file(b);
                            }
                            return Err(e.error)
                                .with_context(|| format!("cannot write {}", path.display()));
                        }
                        dirs.push(parent(&path).to_owned());
                        placed.push((path, backup));
                    }
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            for (path, backup) in placed.iter().rev() {
                match backup {
                    Some(b) => {
                        let _ = std::fs::rename(b, path);
                    }
                    None => {
                        let _ = std::fs::remove_file(path);
                    }
                }
            }
            forget(&mine, &placed);
            return Err(e);
        }
        for (_, backup) in &placed {
            if let Some(b) = backup {
                let _ = std::fs::remove_file(b);
            }
        }
        forget(&mine, &placed);
        dirs.sort();
        dirs.dedup();
        for d in dirs {
            if let Ok(f) = File::open(&d) {
                let _ = f.sync_all();
            }
        }
        for (p, data) in direct {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&p)
                .and_then(|mut f| f.write_all(&data))
                .with_context(|| format!("cannot write {}", p.display()))?;
        }
        Ok(())
    }
}

/// Drops a finished commit's temporary files and backups from the interrupt list.
fn forget(temps: &[PathBuf], placed: &[(PathBuf, Option<PathBuf>)]) {
    live().retain(|p| !temps.contains(p) && !placed.iter().any(|(_, b)| b.as_ref() == Some(p)));
}

/// Hard-links `path` to a temporary name beside it (the original survives the rename over it).
fn aside(path: &Path) -> Result<PathBuf> {
    let dir = parent(path);
    for i in 0..100u32 {
        let b = dir.join(format!(
            "{OLD_PREFIX}{}-{i}-{}",
            std::process::id(),
            path.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        ));
        match std::fs::hard_link(path, &b) {
            Ok(()) => {
                live().push(b.clone());
                return Ok(b);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("cannot keep the original of {} aside", path.display())
                });
            }
        }
    }
    bail!("cannot keep the original of {} aside", path.display())
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Removes Sigil temporary files over an hour old in `dir` (left by a killed run).
fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let hour = std::time::Duration::from_secs(3600);
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(TMP_PREFIX) || name.starts_with(OLD_PREFIX)) {
            continue;
        }
        let old = e
            .metadata()
            .ok()
            .filter(std::fs::Metadata::is_file)
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > hour);
        if old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(unix)]
fn set_mode(file: &File, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .context("cannot set file permissions")
}

#[cfg(not(unix))]
fn set_mode(_file: &File, _mode: u32) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The second of two outputs cannot be placed: the first output's original is put back.
    #[test]
    fn a_failed_output_puts_every_original_back() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("SUMS"), b"original sums").unwrap();
        std::fs::write(b.join("SUMS.sig"), b"original sig").unwrap();
        let mut o = AtomicOutputs::new(true);
        o.add(&a.join("SUMS"), b"new sums", 0o644).unwrap();
        o.add(&b.join("SUMS.sig"), b"new sig", 0o644).unwrap();
        std::fs::remove_dir_all(&b).unwrap();
        assert!(o.commit().is_err());
        assert_eq!(std::fs::read(a.join("SUMS")).unwrap(), b"original sums");
        let left: Vec<_> = std::fs::read_dir(&a)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("SUMS")], "{left:?}");
        assert!(
            live().iter().all(|p| !p.starts_with(dir.path())),
            "{:?}",
            live()
        );
    }

    #[test]
    fn symlinks_are_resolved_and_devices_written_in_place() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        std::fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut o = AtomicOutputs::new(true);
        o.add(&link, b"new", 0o644).unwrap();
        o.add(Path::new("/dev/null"), b"discarded", 0o644).unwrap();
        o.commit().unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        assert!(
            std::fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
        // A dangling link is refused.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        let err = AtomicOutputs::new(true)
            .add(&dangling, b"x", 0o644)
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("symbolic link to nowhere"),
            "{err}"
        );
    }

    #[test]
    fn stale_temporary_files_are_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(".sigil-tmp-left-by-a-killed-run");
        let fresh = dir.path().join(".sigil-tmp-someone-writing-now");
        std::fs::write(&stale, b"x").unwrap();
        std::fs::write(&fresh, b"x").unwrap();
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
        let mut o = AtomicOutputs::new(true);
        o.add(&dir.path().join("out"), b"x", 0o644).unwrap();
        o.commit().unwrap();
        assert!(!stale.exists());
        assert!(fresh.exists());
    }
}
