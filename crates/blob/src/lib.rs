//! Verification of blobs and of the files a signed checksum file lists, for `sigil verify-blob`,
//! `sigil checksums verify` and the services that check release files.
//!
//! - [`signature`]: a key signature over a blob (a detached `.sig`, or a bundle without log
//!   evidence), verified by the same engine as bundles (`sigil-verify`); and a detached
//!   signature whose log entry must be found in the log (as cosign does online).
//! - [`checksums`]: a checksum file's listed files, each opened beneath the directory one
//!   component at a time (never by its full name), hashed in parallel, and reported as
//!   `OK`, `FAILED`, `MISSING` or `REFUSED` with a typed reason.
//!
//! # Example: check the files a checksum file lists
//!
//! ```
//! use sigil_blob::checksums::{Status, check_files};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("a.txt"), b"hello\n")?;
//! let sums = b"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  a.txt\n\
//!              0000000000000000000000000000000000000000000000000000000000000000  gone.txt\n\
//!              0000000000000000000000000000000000000000000000000000000000000000  ../etc/passwd\n";
//! let lines = sigil_formats::checksums::parse(sums)?;
//! let checked = check_files(dir.path(), &lines, 2, &|_| {})?;
//! let words: Vec<_> = checked.iter().map(|s| s.word()).collect();
//! assert_eq!(words, ["OK", "MISSING", "REFUSED"]);
//! assert!(matches!(checked[2], Status::Refused(_)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod checksums;
pub mod evidence;
pub mod signature;
