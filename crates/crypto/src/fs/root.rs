//! Opening paths beneath a directory so that nothing outside it is ever opened, even while
//! someone swaps a component for a symbolic link.
//!
//! A path is walked one component at a time from an open handle on the directory: each
//! component is opened relative to the one before with `O_NOFOLLOW`, a symbolic link is read
//! (`readlinkat`) and its target walked the same way, and `..` never climbs above the root.
//! Nothing is looked up by its full name, so there is no window between a check and an open.
//! A file is opened non-blocking and checked through its handle (`fstat`): only a regular file
//! is returned.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// Symbolic links followed in one path before it is refused as a loop (Linux's own limit).
const MAX_LINKS: usize = 40;

/// What an absolute symbolic link inside the root means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbsoluteLinks {
    /// A place in this root, as the system whose root file system it is would see it
    /// (`/usr/lib/os-release` in an image's root file system is that image's file).
    InRoot,
    /// A place on this machine: followed only when it names somewhere under the root's own real
    /// path, refused otherwise. `..` above the root is refused too.
    Host,
}

/// Why a path beneath a [`Root`] could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum RootError {
    /// Nothing exists there (or a symbolic link on the way dangles).
    #[error("no such file")]
    NotFound,
    /// A symbolic link (or `..`) on the way leads out of the directory.
    #[error("a symbolic link points outside the directory")]
    Escapes,
    /// More than 40 symbolic links on the way.
    #[error("too many levels of symbolic links")]
    Loop,
    /// A file was wanted and this is a directory.
    #[error("is a directory")]
    Directory,
    /// A directory was wanted on the way and this is a file.
    #[error("not a directory")]
    NotDirectory,
    /// A FIFO, device or socket.
    #[error("not a regular file (a device, socket or FIFO)")]
    NotRegular,
    /// The operating system refused.
    #[error("{0}")]
    Io(io::Error),
}

impl RootError {
    fn from_errno(e: Errno) -> Self {
        match e {
            Errno::NOENT => Self::NotFound,
            Errno::NOTDIR => Self::NotDirectory,
            Errno::LOOP => Self::Loop,
            e => Self::Io(e.into()),
        }
    }
}

/// The kind of a directory entry, as listed (a symbolic link is not followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A FIFO, device or socket.
    Other,
}

/// A directory's entries.
#[derive(Debug)]
pub struct Listing {
    /// Each name with its kind, sorted by name; `.`, `..` and names that are not UTF-8 are
    /// left out.
    pub entries: Vec<(String, EntryKind)>,
    /// The `statfs` type of the file system the directory is on (callers skip pseudo file
    /// systems such as `proc` with it).
    pub fs_type: i64,
}

/// A directory that paths are opened beneath.
///
/// ```
/// use sigil_crypto::fs::{AbsoluteLinks, Root, RootError};
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("a"), b"x").unwrap();
/// std::os::unix::fs::symlink("/etc/passwd", dir.path().join("out")).unwrap();
/// let root = Root::open(dir.path(), AbsoluteLinks::Host).unwrap();
/// let (_file, len) = root.open_file("a").unwrap();
/// assert_eq!(len, 1);
/// assert!(matches!(root.open_file("out"), Err(RootError::Escapes)));
/// assert!(matches!(root.open_file("../etc/passwd"), Err(RootError::Escapes)));
/// ```
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    /// The root's real path (symbolic links resolved), for absolute links under [`AbsoluteLinks::Host`].
    real: PathBuf,
    absolute: AbsoluteLinks,
}

/// Where a walk ends: a handle on the last directory and the final component.
enum Want {
    File,
    Dir,
}

impl Root {
    /// Opens the directory `path` (which may itself be reached through symbolic links).
    pub fn open(path: &Path, absolute: AbsoluteLinks) -> io::Result<Self> {
        let real = path.canonicalize()?;
        let fd = rustix::fs::open(
            &real,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self { fd, real, absolute })
    }

    /// The root's real path.
    pub fn path(&self) -> &Path {
        &self.real
    }

    /// Opens the regular file at `rel` beneath the root, without blocking on a FIFO or a
    /// device, and returns it with its length (from the handle).
    pub fn open_file(&self, rel: &str) -> Result<(File, u64), RootError> {
        let fd = self.walk(rel, Want::File)?;
        let st = rustix::fs::fstat(&fd).map_err(RootError::from_errno)?;
        match rustix::fs::FileType::from_raw_mode(st.st_mode) {
            rustix::fs::FileType::RegularFile => Ok((File::from(fd), st.st_size as u64)),
            rustix::fs::FileType::Directory => Err(RootError::Directory),
            _ => Err(RootError::NotRegular),
        }
    }

    /// Lists the directory at `rel` beneath the root (`""` is the root itself).
    pub fn list_dir(&self, rel: &str) -> Result<Listing, RootError> {
        let fd = self.walk(rel, Want::Dir)?;
        let st = rustix::fs::fstatfs(&fd).map_err(RootError::from_errno)?;
        #[allow(clippy::unnecessary_cast)]
        let fs_type = st.f_type as i64;
        Ok(Listing {
            entries: self.list_fd(&fd)?,
            fs_type,
        })
    }

    fn list_fd(&self, fd: &OwnedFd) -> Result<Vec<(String, EntryKind)>, RootError> {
        let dir = rustix::fs::Dir::read_from(fd).map_err(RootError::from_errno)?;
        let mut out = Vec::new();
        for entry in dir {
            let entry = entry.map_err(RootError::from_errno)?;
            let Ok(name) = entry.file_name().to_str() else {
                continue;
            };
            if name == "." || name == ".." {
                continue;
            }
            let ft = match entry.file_type() {
                rustix::fs::FileType::Unknown => {
                    match rustix::fs::statat(fd, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(st) => rustix::fs::FileType::from_raw_mode(st.st_mode),
                        Err(_) => continue,
                    }
                }
                t => t,
            };
            let kind = match ft {
                rustix::fs::FileType::RegularFile => EntryKind::File,
                rustix::fs::FileType::Directory => EntryKind::Dir,
                rustix::fs::FileType::Symlink => EntryKind::Symlink,
                _ => EntryKind::Other,
            };
            out.push((name.to_owned(), kind));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Walks `rel` from the root, component by component.
    fn walk(&self, rel: &str, want: Want) -> Result<OwnedFd, RootError> {
        let mut pending: VecDeque<Vec<u8>> = components(rel.as_bytes()).collect();
        // The directories walked into below the root; the last is where we are.
        let mut stack: Vec<OwnedFd> = Vec::new();
        let mut links = 0usize;
        while let Some(c) = pending.pop_front() {
            if c == b".." {
                if stack.pop().is_none() && self.absolute == AbsoluteLinks::Host {
                    return Err(RootError::Escapes);
                }
                continue;
            }
            let last = pending.is_empty();
            let here = stack.last().map_or(self.fd.as_fd(), |f| f.as_fd());
            let flags = match (&want, last) {
                (Want::File, true) => OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY,
                _ => OFlags::RDONLY | OFlags::DIRECTORY,
            } | OFlags::NOFOLLOW
                | OFlags::CLOEXEC;
            match rustix::fs::openat(here, c.as_slice(), flags, Mode::empty()) {
                Ok(fd) if last => return Ok(fd),
                Ok(fd) => stack.push(fd),
                Err(e @ (Errno::LOOP | Errno::NOTDIR)) => {
                    // A symbolic link (O_NOFOLLOW refuses it), or on the way a non-directory.
                    let target = match rustix::fs::readlinkat(here, c.as_slice(), Vec::new()) {
                        Ok(t) => t.into_bytes(),
                        // Not a link: the open's own error stands.
                        Err(Errno::INVAL) => return Err(RootError::from_errno(e)),
                        Err(e) => return Err(RootError::from_errno(e)),
                    };
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(RootError::Loop);
                    }
                    let target = if target.starts_with(b"/") {
                        stack.clear();
                        match self.absolute {
                            AbsoluteLinks::InRoot => target,
                            AbsoluteLinks::Host => {
                                let t = Path::new(std::ffi::OsStr::from_bytes(&target));
                                match t.strip_prefix(&self.real) {
                                    Ok(inside) => inside.as_os_str().as_bytes().to_vec(),
                                    Err(_) => return Err(RootError::Escapes),
                                }
                            }
                        }
                    } else {
                        target
                    };
                    for t in components(&target).collect::<Vec<_>>().into_iter().rev() {
                        pending.push_front(t);
                    }
                }
                Err(e) => return Err(RootError::from_errno(e)),
            }
        }
        // The path named the root itself (or climbed back to it).
        match want {
            Want::Dir => rustix::fs::openat(
                stack.last().map_or(self.fd.as_fd(), |f| f.as_fd()),
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(RootError::from_errno),
            Want::File => Err(RootError::Directory),
        }
    }
}

/// The components of a path, without empty ones and `.`.
fn components(p: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    p.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir_all(p.join("root/a/b")).unwrap();
        std::fs::write(p.join("root/a/b/f"), b"inside").unwrap();
        std::fs::write(p.join("secret"), b"outside").unwrap();
        symlink("b/f", p.join("root/a/rel")).unwrap();
        symlink("../../secret", p.join("root/a/up")).unwrap();
        symlink(p.join("root/a/b/f"), p.join("root/a/abs-in")).unwrap();
        symlink(p.join("secret"), p.join("root/a/abs-out")).unwrap();
        symlink("/a/b/f", p.join("root/a/chroot")).unwrap();
        symlink("loop2", p.join("root/loop1")).unwrap();
        symlink("loop1", p.join("root/loop2")).unwrap();
        symlink("a", p.join("root/dirlink")).unwrap();
        symlink("nowhere", p.join("root/dangling")).unwrap();
        d
    }

    fn read(root: &Root, rel: &str) -> Result<String, String> {
        use std::io::Read;
        let (mut f, _) = root.open_file(rel).map_err(|e| e.to_string())?;
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        Ok(s)
    }

    #[test]
    fn links_inside_are_followed_and_links_out_refused() {
        let d = tree();
        let root = Root::open(&d.path().join("root"), AbsoluteLinks::Host).unwrap();
        assert_eq!(read(&root, "a/b/f").unwrap(), "inside");
        assert_eq!(read(&root, "a/rel").unwrap(), "inside");
        assert_eq!(read(&root, "dirlink/b/../rel").unwrap(), "inside");
        assert_eq!(read(&root, "a/abs-in").unwrap(), "inside");
        let out = "a symbolic link points outside the directory";
        assert_eq!(read(&root, "a/up").unwrap_err(), out);
        assert_eq!(read(&root, "a/abs-out").unwrap_err(), out);
        assert_eq!(read(&root, "../secret").unwrap_err(), out);
        // Under Host, /a/b/f is this machine's /a/b/f: outside.
        assert_eq!(read(&root, "a/chroot").unwrap_err(), out);
        assert_eq!(
            read(&root, "loop1").unwrap_err(),
            "too many levels of symbolic links"
        );
        assert_eq!(read(&root, "dangling").unwrap_err(), "no such file");
        assert_eq!(read(&root, "a").unwrap_err(), "is a directory");
        assert_eq!(read(&root, "a/b/f/x").unwrap_err(), "not a directory");
        assert_eq!(
            root.list_dir("dirlink").unwrap().entries,
            [
                ("abs-in".to_owned(), EntryKind::Symlink),
                ("abs-out".to_owned(), EntryKind::Symlink),
                ("b".to_owned(), EntryKind::Dir),
                ("chroot".to_owned(), EntryKind::Symlink),
                ("rel".to_owned(), EntryKind::Symlink),
                ("up".to_owned(), EntryKind::Symlink),
            ]
        );
        assert!(matches!(root.list_dir("a/up"), Err(RootError::Escapes)));
    }

    #[test]
    fn in_root_absolute_links_and_dot_dot_stay_in_the_root() {
        let d = tree();
        let root = Root::open(&d.path().join("root"), AbsoluteLinks::InRoot).unwrap();
        assert_eq!(read(&root, "a/chroot").unwrap(), "inside");
        // `..` at the root stays at the root, as in a chroot: ../../secret is root/secret.
        assert_eq!(read(&root, "a/up").unwrap_err(), "no such file");
        assert_eq!(read(&root, "../../a/b/f").unwrap(), "inside");
        // The host path of a file inside, read as a path in the root, is not there.
        assert_eq!(read(&root, "a/abs-in").unwrap_err(), "no such file");
    }

    #[test]
    fn fifos_do_not_block_and_are_refused() {
        let d = tree();
        let fifo = d.path().join("root/fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let root = Root::open(&d.path().join("root"), AbsoluteLinks::Host).unwrap();
        assert!(matches!(root.open_file("fifo"), Err(RootError::NotRegular)));
        assert_eq!(
            root.list_dir("")
                .unwrap()
                .entries
                .iter()
                .find(|(n, _)| n == "fifo"),
            Some(&("fifo".to_owned(), EntryKind::Other))
        );
    }

    /// A component swapped for a symbolic link while walks run: no walk ever opens the file
    /// outside, whichever moment the swap lands in.
    #[test]
    fn a_component_swapped_for_a_link_during_walks_never_escapes() {
        let d = tree();
        let p = d.path().to_owned();
        std::fs::create_dir_all(p.join("root/x")).unwrap();
        std::fs::write(p.join("root/x/f"), b"inside").unwrap();
        std::fs::create_dir_all(p.join("out")).unwrap();
        std::fs::write(p.join("out/f"), b"outside").unwrap();
        let root = Root::open(&p.join("root"), AbsoluteLinks::Host).unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // x is a directory, then a link to ../out, then a directory again.
                    let _ = std::fs::rename(p.join("root/x"), p.join("root/x.real"));
                    let _ = symlink(p.join("out"), p.join("root/x"));
                    let _ = std::fs::remove_file(p.join("root/x"));
                    let _ = std::fs::rename(p.join("root/x.real"), p.join("root/x"));
                    n += 1;
                }
                assert!(n > 0);
            });
            for _ in 0..5000 {
                if let Ok(s) = read(&root, "x/f") {
                    assert_eq!(s, "inside");
                }
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
    }
}
