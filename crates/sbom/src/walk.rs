//! Directory sources: one walk that keeps only the files a cataloger wants (by name), and reads
//! confined to the root.
//!
//! Every open goes through [`sigil_crypto::fs::Root`]: each path is walked from a handle on the
//! source directory one component at a time, so a component swapped for a symbolic link between
//! the walk and the read cannot lead outside. A `dir:` source follows absolute links only when
//! they point back inside it; a `rootfs:` source reads them as that root file system's own
//! paths. Pseudo file systems (`/proc`, `/sys`, cgroups, …) are not walked.

use std::io::Read;
use std::path::Path;

use sigil_crypto::fs::{AbsoluteLinks, EntryKind, Root, RootError};

use crate::catalog::{self, Kind, Tree};
use crate::{SbomError, Warning};

/// `statfs` types of file systems that hold no packages, only kernel state, and can be endless
/// or slow to read (`proc`, `sysfs`, `cgroup`, `cgroup2`, `debugfs`, `tracefs`, `securityfs`,
/// `bpf`, `pstore`, `configfs`, `devpts`, `mqueue`, `fusectl`, `binfmt_misc`, `selinuxfs`,
/// `efivarfs`, `nsfs`, `hugetlbfs`, `autofs`).
const PSEUDO_FS: [i64; 19] = [
    0x9fa0,
    0x6265_6572,
    0x0027_e0eb,
    0x6367_7270,
    0x6462_6720,
    0x7472_6163,
    0x7363_6673,
    0xcafe_4a11,
    0x6165_676c,
    0x6265_6570,
    0x1cd1,
    0x1980_0202,
    0x6573_5543,
    0x4249_4e4d,
    0xf97c_ff8c,
    0xde5e_81e4,
    0x6e73_6673,
    0x9584_58f6,
    0x0187,
];

/// Top-level directories of a root file system that are mount points for the kernel's own
/// file systems (`/dev` is a `devtmpfs`, which `statfs` cannot tell from a `tmpfs`).
const ROOTFS_SKIP: [&str; 3] = ["proc", "sys", "dev"];

/// A directory being scanned.
pub(crate) struct DirTree {
    root: Root,
    max_file_size: u64,
    entries: Vec<(String, Kind)>,
    warnings: Vec<Warning>,
}

impl DirTree {
    /// Walks `root` once. Directory symlinks are not descended (so a symlink loop cannot make
    /// the walk endless); a symlink to a wanted file is followed when it stays inside the root.
    /// `rootfs`: the directory is a root file system (absolute links are its own paths, and
    /// `/proc`, `/sys`, `/dev` are skipped).
    pub(crate) fn open(path: &Path, max_file_size: u64, rootfs: bool) -> Result<Self, SbomError> {
        let io = |e: std::io::Error| SbomError::Io {
            path: path.display().to_string(),
            error: e,
        };
        let absolute = if rootfs {
            AbsoluteLinks::InRoot
        } else {
            AbsoluteLinks::Host
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.is_file() {
            // A single file: catalogue it as if its directory were the source.
            let real = path.canonicalize().map_err(io)?;
            let name = real
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let parent = real.parent().unwrap_or(Path::new("/"));
            let kind = catalog::classify(&name).ok_or_else(|| {
                SbomError::Source(format!("{name}: not a file any cataloger reads"))
            })?;
            return Ok(Self {
                root: Root::open(parent, absolute).map_err(io)?,
                max_file_size,
                entries: vec![(name, kind)],
                warnings: Vec::new(),
            });
        }
        let mut tree = Self {
            root: Root::open(path, absolute).map_err(io)?,
            max_file_size,
            entries: Vec::new(),
            warnings: Vec::new(),
        };
        let mut stack = vec![String::new()];
        while let Some(rel) = stack.pop() {
            let listing = match tree.root.list_dir(&rel) {
                Ok(l) => l,
                Err(e) => {
                    tree.warn(&rel, format!("cannot list directory: {e}"));
                    continue;
                }
            };
            if !rel.is_empty() && PSEUDO_FS.contains(&listing.fs_type) {
                continue;
            }
            for (name, kind) in listing.entries {
                let path = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                match kind {
                    EntryKind::Dir => {
                        let skipped = name == ".git"
                            || (rootfs && rel.is_empty() && ROOTFS_SKIP.contains(&name.as_str()));
                        if !skipped {
                            stack.push(path);
                        }
                    }
                    EntryKind::File | EntryKind::Symlink => {
                        let Some(k) = catalog::classify(&path) else {
                            continue;
                        };
                        if kind == EntryKind::File {
                            tree.entries.push((path, k));
                            continue;
                        }
                        match tree.root.open_file(&path) {
                            Ok(_) => tree.entries.push((path, k)),
                            Err(RootError::NotFound | RootError::Directory) => {}
                            Err(e) => {
                                let m = skipped(&e);
                                tree.warn(&path, m);
                            }
                        }
                    }
                    EntryKind::Other => {}
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
}

/// The warning for a wanted file that cannot be read.
fn skipped(e: &RootError) -> String {
    match e {
        RootError::Escapes => "skipped: a symlink out of the source".to_owned(),
        RootError::Loop => "skipped: a symlink loop".to_owned(),
        e => format!("skipped: {e}"),
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
        let (file, size) = match self.root.open_file(rel) {
            Ok(f) => f,
            Err(RootError::NotFound) => return Ok(None),
            Err(e) => return Err(skipped(&e)),
        };
        if size > self.max_file_size {
            return Err(format!(
                "skipped: {size} bytes, over the {}-byte limit",
                self.max_file_size
            ));
        }
        // Read through the limit too: the file may grow after the size was taken.
        let mut data = Vec::with_capacity(size as usize);
        file.take(self.max_file_size + 1)
            .read_to_end(&mut data)
            .map_err(|e| e.to_string())?;
        if data.len() as u64 > self.max_file_size {
            return Err(format!(
                "skipped: over the {}-byte limit",
                self.max_file_size
            ));
        }
        Ok(Some(data))
    }

    fn list(&self, rel_dir: &str) -> Vec<String> {
        self.root
            .list_dir(rel_dir)
            .map(|l| l.entries.into_iter().map(|(n, _)| n).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_file_systems_are_known_pseudo_file_systems() {
        for dir in ["/proc", "/sys"] {
            let Ok(root) = Root::open(Path::new(dir), AbsoluteLinks::InRoot) else {
                continue;
            };
            let fs = root.list_dir("").unwrap().fs_type;
            assert!(PSEUDO_FS.contains(&fs), "{dir}: {fs:#x}");
        }
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::open(tmp.path(), AbsoluteLinks::Host).unwrap();
        assert!(!PSEUDO_FS.contains(&root.list_dir("").unwrap().fs_type));
    }

    #[test]
    fn a_rootfs_skips_proc_sys_and_dev_and_reads_its_own_absolute_links() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        for d in ["proc/1", "sys/x", "dev/y", "app", "usr/lib"] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        for f in [
            "proc/1/Cargo.lock",
            "sys/x/Cargo.lock",
            "dev/y/Cargo.lock",
            "app/Cargo.lock",
        ] {
            std::fs::write(r.join(f), b"version = 3\n").unwrap();
        }
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(r.join("usr/lib/os-release"), b"ID=debian\n").unwrap();
        // Debian's own link is relative; an absolute one means the root file system's file.
        std::os::unix::fs::symlink("/usr/lib/os-release", r.join("etc/os-release")).unwrap();
        let names = |t: &DirTree| t.entries.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
        let t = DirTree::open(r, 1 << 20, true).unwrap();
        assert_eq!(
            names(&t),
            ["app/Cargo.lock", "etc/os-release", "usr/lib/os-release"]
        );
        assert_eq!(t.read("etc/os-release").unwrap().unwrap(), b"ID=debian\n");
        // A directory source is walked whole, and /usr/lib/os-release is the host's.
        let t = DirTree::open(r, 1 << 20, false).unwrap();
        assert_eq!(names(&t).len(), 5, "{:?}", names(&t));
        assert!(
            t.warnings.iter().any(|w| w.path == "etc/os-release"
                && w.message == "skipped: a symlink out of the source")
        );
    }

    #[test]
    fn a_file_swapped_for_a_link_out_after_the_walk_is_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path().join("src");
        std::fs::create_dir_all(r.join("app")).unwrap();
        std::fs::write(r.join("app/Cargo.lock"), b"version = 3\n").unwrap();
        std::fs::write(tmp.path().join("secret"), b"outside").unwrap();
        let t = DirTree::open(&r, 1 << 20, false).unwrap();
        std::fs::remove_file(r.join("app/Cargo.lock")).unwrap();
        std::os::unix::fs::symlink("../../secret", r.join("app/Cargo.lock")).unwrap();
        assert_eq!(
            t.read("app/Cargo.lock").unwrap_err(),
            "skipped: a symlink out of the source"
        );
        // The directory itself swapped for a link out.
        std::fs::rename(r.join("app"), tmp.path().join("app")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("app"), r.join("app")).unwrap();
        assert_eq!(
            t.read("app/Cargo.lock").unwrap_err(),
            "skipped: a symlink out of the source"
        );
    }
}
