//! Sigil's storage layer. Today: the transparency log's store behind one trait,
//! [`log::LogStore`], with two backends that pass the same contract tests — [`log::Embedded`]
//! (one redb file plus a key index of sorted, immutable run files, [`runs`]) and
//! [`postgres::Postgres`] (with libpq's `sslmode` semantics on rustls, [`pg_tls`]) — and
//! [`log::migrate`] between them. The Merkle math it stores lives in `sigil-tlog`, which links
//! no database; the log service (`sigil-server`) drives a store, and the later services
//! (evidence, release records, audit) keep their tables here too.
//!
//! # Example: append one batch to an embedded store and read it back
//!
//! ```
//! use sigil_store::log::{Batch, Embedded, Head, LogStore, NewEntry};
//! use sigil_tlog::merkle::leaf_hash;
//!
//! let dir = tempfile::tempdir()?;
//! let store = Embedded::open(dir.path())?;
//! let body = br#"{"kind":"hashedrekord"}"#.to_vec();
//! let leaf = leaf_hash(&body);
//! store.append(&Batch {
//!     first: 0,
//!     entries: vec![NewEntry { body, leaf, integrated_time: 1_700_000_000, keys: vec![] }],
//!     tiles: vec![(0, 0, vec![leaf])],
//!     // A one-leaf tree's root is its leaf; a real log stores its signed checkpoint here.
//!     head: Head { size: 1, root: leaf, checkpoint: "log.example.org\n1\n...\n".into() },
//! })?;
//! assert_eq!(store.head()?.map(|h| h.size), Some(1));
//! assert_eq!(store.find_leaf(&leaf)?, Some(0));
//! assert_eq!(store.entries(0, 1)?[0].integrated_time, 1_700_000_000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod log;
pub mod pg_tls;
pub mod postgres;
pub mod queue;
pub mod runs;
