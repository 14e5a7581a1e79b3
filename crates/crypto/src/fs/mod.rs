//! Opening an input file so that a FIFO, a device or a socket given by mistake (or by an
//! attacker) cannot hang the process: the file is opened non-blocking, checked through the
//! handle (`fstat`, never a second look-up by name), and only a regular file is returned.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("a"), b"x").unwrap();
//! let (_file, len) = sigil_crypto::fs::open_regular(&dir.path().join("a")).unwrap();
//! assert_eq!(len, 1);
//! assert!(sigil_crypto::fs::open_regular(dir.path()).is_err());
//! ```

use std::fs::File;
use std::io;
use std::path::Path;

#[cfg(unix)]
mod root;
#[cfg(unix)]
pub use root::{AbsoluteLinks, EntryKind, Listing, Root, RootError};

/// Why an input could not be opened as a regular file.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The operating system refused.
    #[error("{0}")]
    Io(io::Error),
    /// A directory.
    #[error("it is a directory, not a file")]
    Directory,
    /// A FIFO, device or socket.
    #[error("it is not a regular file (a device, socket or FIFO)")]
    NotRegular,
}

/// Opens `path` for reading without blocking on a FIFO or a device, then checks the opened
/// handle: a regular file and its length, or the reason it is not one.
pub fn open_regular(path: &Path) -> Result<(File, u64), OpenError> {
    let file = open_nonblocking(path).map_err(OpenError::Io)?;
    let meta = file.metadata().map_err(OpenError::Io)?;
    if meta.is_dir() {
        return Err(OpenError::Directory);
    }
    if !meta.is_file() {
        return Err(OpenError::NotRegular);
    }
    // O_NONBLOCK has no effect on reads of a regular file.
    Ok((file, meta.len()))
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}
